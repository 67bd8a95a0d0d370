//! Shared test harness: a temporary device root and fake `iotedge`, `systemctl` and `docker`
//! on PATH that record their calls (and can be told to fail), so no test touches this
//! machine's real /etc, /var or services. The default fake `iotedge` checks the config.toml
//! that `config apply` names like IoT Edge would (see fake_iotedge.py).
//!
//! Tests that read IoT Edge's own files from ../shared carry
//! `#[cfg_attr(not(shared_fixtures), ignore = "...")]` (the cfg comes from build.rs); each has a
//! twin on our own fixtures in tests/fixtures/ so a bare clone still covers the behaviour.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

/// A file of IoT Edge's own (template, test configs), from the shared fixtures beside the
/// checkout. Only tests ignored without `shared_fixtures` may call this.
pub fn upstream_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/iotedge-1.4.43").join(name)
}

/// IoT Edge's real config.toml template (needs `shared_fixtures`).
pub fn upstream_template_text() -> String {
    let path = upstream_fixture("edgelet__contrib__config__linux__template.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The smallest `[provisioning]` IoT Edge accepts: device configs in tests need one, or the
/// fake `iotedge config apply` rejects them as IoT Edge would.
pub const PROVISIONING: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=YWJj\"\n";

/// A config.toml IoT Edge accepts, with `hostname` as its first line.
pub fn provisioned_config(hostname: &str) -> String {
    format!("hostname = \"{hostname}\"\n\n{PROVISIONING}")
}

/// Our own template in the real one's shape (everything commented out), always present.
pub fn template_text() -> String {
    fixture("config-template.toml")
}

/// A file of tests/fixtures/.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The Python (3.11+, for tomllib) that runs the fake `iotedge`, by absolute path since the
/// fakes run with only their own directory on PATH.
fn python_with_tomllib() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let output = std::process::Command::new("python3")
            .args(["-c", "import sys, tomllib; print(sys.executable)"])
            .output();
        match output {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
            _ => panic!(
                "the fake iotedge needs python3 >= 3.11 (tomllib) on PATH; install python3 (.ci/run does)"
            ),
        }
    })
}

/// Every external command edgeprep may run; each gets a fake.
pub const FAKED: &[&str] = &["iotedge", "systemctl", "docker", "update-ca-certificates"];

/// A device root in a temp dir plus a bin dir of fake commands.
pub struct Device {
    pub dir: tempfile::TempDir,
}

impl Device {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let device = Device { dir };
        std::fs::create_dir_all(device.root()).unwrap();
        std::fs::create_dir_all(device.bin()).unwrap();
        for program in FAKED {
            device.fake(program, "");
        }
        device.strict_iotedge();
        device.write("/etc/hostname", "edge-01\n");
        device
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The file every fake command appends its command line to.
    pub fn calls_log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// Command lines the fakes were called with, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.calls_log())
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Install a fake `program` that logs its arguments and then runs `then` (shell).
    pub fn fake(&self, program: &str, then: &str) {
        let script =
            format!("#!/bin/sh\necho \"{program} $*\" >> '{}'\n{then}\nexit 0\n", self.calls_log().display());
        self.install_executable(program, &script);
    }

    /// Install the default fake `iotedge`, whose `config apply` fails (exit 1, IoT Edge's
    /// message) on a config.toml IoT Edge would reject.
    pub fn strict_iotedge(&self) {
        let script =
            include_str!("fake_iotedge.py").replace("@CALLS_LOG@", &self.calls_log().display().to_string());
        self.install_executable("iotedge", &format!("#!{}\n{script}", python_with_tomllib()));
    }

    /// Put an executable script into the fakes' bin directory without this process ever holding
    /// it open for writing. Tests run in threads of one process: a thread that forks (to start
    /// edgeprep or a fake) while another has a script open for writing hands that descriptor to
    /// its child until the child execs, and executing the script then fails with ETXTBSY ("Text
    /// file busy"). So the text goes to a side file and `cp`, a process of its own that has exited
    /// before we return, makes the executable.
    fn install_executable(&self, name: &str, text: &str) {
        let staged = self.dir.path().join(format!(".{name}.staged"));
        std::fs::write(&staged, text).unwrap();
        let path = self.bin().join(name);
        let tmp = self.bin().join(format!(".{name}.new"));
        let status = std::process::Command::new("/bin/cp").arg(&staged).arg(&tmp).status().unwrap();
        assert!(status.success(), "cp {} failed", staged.display());
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// Run the default fake `iotedge` on its own, as edgeprep would, and return (exit code, stderr).
    pub fn iotedge(&self, args: &[&str]) -> (i32, String) {
        let output = std::process::Command::new(self.bin().join("iotedge"))
            .args(args)
            .env("EDGEPREP_TEST_ROOT", self.root())
            .output()
            .unwrap();
        (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    pub fn path(&self, device_path: &str) -> PathBuf {
        self.root().join(device_path.trim_start_matches('/'))
    }

    pub fn write(&self, device_path: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(device_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, device_path: &str) -> String {
        std::fs::read_to_string(self.path(device_path))
            .unwrap_or_else(|e| panic!("reading {device_path}: {e}"))
    }

    pub fn exists(&self, device_path: &str) -> bool {
        self.path(device_path).exists()
    }

    /// Write an answers file next to the root and return its path.
    pub fn answers(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("answers.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `edgeprep --root <root> --run-commands ARGS` with only the fakes on PATH, so a command
    /// without a fake fails to start instead of reaching this machine.
    pub fn edgeprep(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("edgeprep").unwrap();
        cmd.env("PATH", self.bin())
            .env_remove("SUDO_USER")
            .env("USER", "tester")
            .env("EDGEPREP_TEST_ROOT", self.root());
        cmd.arg("--root").arg(self.root()).arg("--run-commands").args(args);
        cmd
    }

    /// [`Device::snapshot`] without edgeprep's own state (backups, audit log, lock) and the
    /// bare directories that hold it: what the user's device looks like.
    pub fn device_snapshot(&self) -> Vec<(String, Vec<u8>, u32, u32, u32)> {
        const OWN: &[&str] = &["var/lib/edgeprep", "var/log/edgeprep.log", "run/"];
        const HOLDERS: &[&str] = &["var/", "var/lib/", "var/log/"];
        self.snapshot()
            .into_iter()
            .filter(|(p, ..)| !OWN.iter().any(|own| p.starts_with(own)) && !HOLDERS.contains(&p.as_str()))
            .collect()
    }

    /// Every file under the root with its bytes, mode, uid and gid: compare before/after to
    /// prove nothing changed.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>, u32, u32, u32)> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        let mut stack = vec![self.root()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                let rel = entry.path().strip_prefix(self.root()).unwrap().display().to_string();
                if meta.is_dir() {
                    out.push((rel + "/", Vec::new(), meta.mode(), meta.uid(), meta.gid()));
                    stack.push(entry.path());
                } else {
                    out.push((
                        rel,
                        std::fs::read(entry.path()).unwrap(),
                        meta.mode(),
                        meta.uid(),
                        meta.gid(),
                    ));
                }
            }
        }
        out.sort();
        out
    }
}
