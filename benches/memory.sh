#!/usr/bin/env bash
# Peak memory (max RSS) of the release binary on the demo device: plan, apply, and generating
# an RSA-4096 chain. Run: bash benches/memory.sh   (needs /usr/bin/time from Debian's `time`)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/edgeprep
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() {
    local name=$1; shift
    local kb
    # A failing command would be measured silently: stop with its output instead.
    if ! /usr/bin/time -f '%M' -o "$out/rss" "$@" >"$out/output" 2>&1; then
        echo "$name failed: $*" >&2
        cat "$out/output" >&2
        exit 1
    fi
    kb=$(tail -n 1 "$out/rss")
    printf '%-40s max RSS %6s KiB\n' "$name" "$kb"
}
measure "plan (demo)" "$bin" --demo plan
measure "apply (demo)" "$bin" --demo apply --yes
measure "cert generate rsa-4096" "$bin" cert generate --out "$out/rsa" --key-type rsa-4096
measure "cert inspect (generated chain)" "$bin" cert inspect "$out/rsa/edge-ca.pem" --key "$out/rsa/edge-ca.key.pem"
