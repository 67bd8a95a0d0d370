#!/usr/bin/env bash
# Build the edgeprep .deb: bash assets/debian/build.sh [--target TRIPLE]
#
# 1. the release binary, with cargo-zigbuild against glibc 2.31 (`<TRIPLE>.2.31`), so it runs
#    on the oldest systems IoT Edge 1.4 supports (Ubuntu 20.04, Debian 11) whatever glibc the
#    build machine has;
# 2. the man pages (man/*.1, gzipped) and the bash, zsh and fish completions (from the
#    `edgeprep completions` command) staged in the target directory;
# 3. `cargo deb --no-build`, which reads [package.metadata.deb] in Cargo.toml.
#
# TRIPLE defaults to x86_64-unknown-linux-gnu; for ARM devices aarch64-unknown-linux-gnu or
# armv7-unknown-linux-gnueabihf, whose Rust standard library must be installed first
# (`rustup target add TRIPLE`, which needs the network). CARGO_TARGET_DIR is honoured. Prints
# the path of the .deb on the last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-unknown-linux-gnu
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target="${2:?--target needs a triple}"; shift 2 ;;
        --target=*) target="${1#--target=}"; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (usage: build.sh [--target TRIPLE])" >&2; exit 2 ;;
    esac
done

# The versions .ci/run installs.
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
    pip install --quiet cargo-zigbuild==0.24.0 ziglang==0.17.0
fi
if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "build.sh: cargo-deb is missing: cargo install cargo-deb --version 3.8.0 --locked" >&2
    exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "build.sh: the Rust target $target is not installed: rustup target add $target (needs the network)" >&2
    exit 1
fi

target_dir="${CARGO_TARGET_DIR:-target}"
cargo zigbuild --release --locked --target "$target.2.31"

release="$target_dir/$target/release"
stage="$release/deb-assets"
rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions"
for page in man/*.1; do
    gzip -9 -n -c "$page" > "$stage/man/$(basename "$page").gz"
done

# The completions come from the CLI definition; the binary just built runs here only when it
# is for this machine's architecture, else a host build of the same source makes them.
if [ "$target" = "$(rustc -vV | sed -n 's/^host: //p')" ]; then
    edgeprep=("$release/edgeprep")
else
    edgeprep=(cargo run --quiet --locked --bin edgeprep --)
fi
"${edgeprep[@]}" completions bash > "$stage/completions/edgeprep.bash"
"${edgeprep[@]}" completions zsh > "$stage/completions/_edgeprep"
"${edgeprep[@]}" completions fish > "$stage/completions/edgeprep.fish"

rm -rf "$target_dir/debian"
cargo deb --no-build --locked --target "$target" --no-strip --output "$target_dir/debian/"
ls -t "$target_dir"/debian/edgeprep_*.deb | head -n 1
