//! The Debian package: `bash assets/debian/build.sh` builds it into a temporary target
//! directory, and its file list, control fields and glibc needs are checked with dpkg-deb and
//! objdump. It compiles the release binary (LTO, one codegen unit) in a target directory of
//! its own: this is the slowest test, and the only one that runs cargo-zigbuild and cargo-deb.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest glibc the binary may need: Ubuntu 20.04 and Debian 11, the oldest systems IoT
/// Edge 1.4 supports.
const MAX_GLIBC: (u32, u32) = (2, 31);

fn run(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Build the package into `target_dir` and return the .deb's path.
fn build(target_dir: &Path) -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = std::time::Instant::now();
    let stdout = run(Command::new("bash")
        .arg(manifest_dir.join("assets/debian/build.sh"))
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(manifest_dir));
    // Shown with --nocapture: how long CI spends here.
    eprintln!("build.sh took {:.0?}", started.elapsed());
    let deb = PathBuf::from(stdout.lines().last().expect("build.sh printed nothing").trim());
    assert!(deb.is_file(), "build.sh's last line is not the .deb: {stdout}");
    assert!(deb.starts_with(target_dir), "{} is not in the target dir", deb.display());
    deb
}

/// `GLIBC_2.x` versions the binary's dynamic symbols need.
fn glibc_versions(objdump_t: &str) -> Vec<(u32, u32)> {
    let mut versions: Vec<(u32, u32)> = objdump_t
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

#[test]
fn glibc_versions_are_read_from_objdump_output() {
    let sample = "0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) memcpy\n\
                  0000000000000000      DF *UND*  0000000000000000  GLIBC_2.28  fcntl64\n\
                  0000000000000000  w   D  *UND*  0000000000000000  GLIBC_PRIVATE __tls\n";
    assert_eq!(glibc_versions(sample), [(2, 2), (2, 28)]);
}

#[test]
#[cfg_attr(
    not(has_deb_tools),
    ignore = "needs cargo-deb, cargo-zigbuild and zig: cargo install cargo-deb --version 3.8.0 --locked && pip install cargo-zigbuild==0.24.0 ziglang==0.17.0 (then touch build.rs)"
)]
fn the_package_holds_the_binary_docs_completions_units_and_runs_on_glibc_2_31() {
    // Cargo's scratch directory for integration tests, not the main target/: a fresh clone
    // (CI) builds from scratch, a developer's second run only rebuilds what changed.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-deb");
    let deb = build(&target_dir);

    let contents = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: Vec<&str> = contents
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.'))
        .collect();
    let mut expected: Vec<String> = [
        "/usr/bin/edgeprep",
        "/usr/share/bash-completion/completions/edgeprep",
        "/usr/share/zsh/vendor-completions/_edgeprep",
        "/usr/share/fish/vendor_completions.d/edgeprep.fish",
        "/usr/share/doc/edgeprep/copyright",
        "/etc/logrotate.d/edgeprep",
    ]
    .map(String::from)
    .into();
    for page in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("man")).unwrap() {
        let name = page.unwrap().file_name().to_string_lossy().into_owned();
        expected.push(format!("/usr/share/man/man1/{name}.gz"));
    }
    for unit in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/systemd")).unwrap() {
        let name = unit.unwrap().file_name().to_string_lossy().into_owned();
        expected.push(format!("/usr/lib/systemd/system/{name}"));
    }
    for path in &expected {
        assert!(files.contains(&path.as_str()), "{path} missing from the package:\n{contents}");
    }
    let binary_line = contents.lines().find(|l| l.ends_with(" ./usr/bin/edgeprep")).unwrap();
    assert!(binary_line.starts_with("-rwxr-xr-x 0/0 "), "not root's 0755: {binary_line}");

    let field = |name: &str| run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name)).trim().to_string();
    assert_eq!(field("Package"), "edgeprep");
    assert_eq!(field("Architecture"), "amd64");
    assert_eq!(field("Recommends"), "aziot-edge");
    assert_eq!(field("Depends"), "libc6 (>= 2.31)");

    // The logrotate rule names the audit log's real path and keeps it root-only.
    let extract = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(extract.path()));
    let logrotate = std::fs::read_to_string(extract.path().join("etc/logrotate.d/edgeprep")).unwrap();
    assert!(logrotate.contains(&format!("{} {{", edgeprep::paths::AUDIT_LOG)), "{logrotate}");
    assert!(logrotate.contains("create 0600 root root"), "{logrotate}");

    // Enabled on install by the maintainer scripts, not started.
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(control.path()));
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    for unit in
        ["edgeprep-firstboot.service", "edgeprep-cert-status.timer", "edgeprep-revert-unconfirmed.service"]
    {
        assert!(
            postinst.contains(&format!("deb-systemd-helper enable {unit}")),
            "{unit} not enabled:\n{postinst}"
        );
    }
    assert!(
        !postinst.contains("start edgeprep-firstboot"),
        "the first-boot unit is started on install:\n{postinst}"
    );

    let binary = extract.path().join("usr/bin/edgeprep");
    let versions = glibc_versions(&run(Command::new("objdump").arg("-T").arg(&binary)));
    assert!(!versions.is_empty(), "no GLIBC symbol versions found: is it dynamically linked?");
    let newest = versions.iter().max().unwrap();
    assert!(*newest <= MAX_GLIBC, "the binary needs GLIBC_{}.{} (> 2.31): {versions:?}", newest.0, newest.1);
    // And it runs (on this newer glibc) as the man page says.
    let version = run(Command::new(&binary).arg("--version"));
    assert!(version.starts_with(&format!("edgeprep {}", env!("CARGO_PKG_VERSION"))), "{version}");
}
