//! A real dockerd loads the daemon.json files edgeprep writes: for each logging/DNS scenario,
//! edgeprep applies answers on a temporary device root, then a private dockerd (Debian's
//! docker.io) starts with that daemon.json, runs a container from a one-file busybox image the
//! test builds itself, and `docker inspect` must show the configured log driver and options.
//!
//! The dockerd runs inside `unshare --pid --mount-proc --net` with its own data root, exec
//! root, pidfile and socket under a temp dir, tmpfs on /run and /etc/docker inside the
//! namespace, its own cgroup parent (removed afterwards), no bridge and no iptables: it never
//! touches this machine's docker, network, mounts or files, and everything it started dies
//! with its namespace.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Device;

const DAEMON: &str = "/etc/docker/daemon.json";
const IMAGE: &str = "edgeprep-test/busybox:probe";
const PROBE_LINE: &str = "edgeprep-log-probe";

/// One private dockerd at a time: two cores are shared with the rest of the suite.
static ONE_DOCKERD: Mutex<()> = Mutex::new(());

/// The daemon.json edgeprep writes for `answers` on a device whose daemon.json is `existing`.
fn daemon_json_from_edgeprep(existing: Option<&str>, answers: &str) -> String {
    let device = Device::new();
    if let Some(existing) = existing {
        device.write(DAEMON, existing);
    }
    let answers = device.answers(answers);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    assert!(device.calls().contains(&"systemctl restart docker".to_string()), "{:?}", device.calls());
    device.read(DAEMON)
}

/// A dockerd in its own PID, mount and network namespace. Dropping it stops dockerd (SIGTERM,
/// then SIGKILL of the whole namespace if it hangs) before the temp dir goes away.
struct PrivateDockerd {
    dir: tempfile::TempDir,
    child: Child,
    stop: Option<ChildStdin>,
    /// The cgroup containers go under (in every hierarchy), removed once dockerd is gone so
    /// the machine keeps no trace of the test.
    cgroup_parent: String,
}

impl PrivateDockerd {
    /// Start dockerd with `daemon_json`; Err(dockerd's log) if it refuses to start.
    fn start(daemon_json: &str) -> Result<Self, String> {
        let dir = tempfile::Builder::new().prefix("edgeprep-dockerd-").tempdir().unwrap();
        std::fs::write(dir.path().join("daemon.json"), daemon_json).unwrap();
        std::fs::create_dir_all(dir.path().join("client")).unwrap();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let cgroup_parent = dir.path().file_name().unwrap().to_string_lossy().into_owned();
        // PID 1 of the namespace is this shell: it stops dockerd when the test closes stdin
        // and exits with dockerd's status, so a dockerd that refuses its config is seen at once.
        // (sh gives background jobs /dev/null as stdin, hence the copy on fd 3.)
        // Tmpfs mounts, private to the namespace, take what dockerd and its shims write in
        // fixed places: /run/docker/plugins, /run/containerd/s and dockerd 20.10's trust key
        // /etc/docker/key.json (docker.io ships /etc/docker, so it is there to mount on).
        let script = r#"mount -t tmpfs -o mode=755 edgeprep-test-run /run || exit 125
mount -t tmpfs -o mode=755 edgeprep-test-etc /etc/docker || exit 125
exec 3<&0; dockerd "$@" 3<&- & pid=$!; (read _ <&3; kill -TERM $pid) & wait $pid"#;
        let mut child = Command::new("unshare")
            .args([
                "--fork",
                "--pid",
                "--mount-proc",
                "--net",
                "--kill-child",
                "--",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(format!("--config-file={}", dir.path().join("daemon.json").display()))
            .arg(format!("--data-root={}", dir.path().join("data").display()))
            .arg(format!("--exec-root={}", dir.path().join("exec").display()))
            .arg(format!("--pidfile={}", dir.path().join("dockerd.pid").display()))
            .arg(format!("--host=unix://{}", dir.path().join("docker.sock").display()))
            .arg(format!("--cgroup-parent=/{cgroup_parent}"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting unshare (util-linux)");
        let stop = child.stdin.take();
        let mut dockerd = PrivateDockerd { dir, child, stop, cgroup_parent };
        dockerd.wait_until_ready()?;
        Ok(dockerd)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.docker_output(&["version", "--format", "{{.Server.Version}}"]);
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("dockerd did not answer within 60 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(200));
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dockerd exited ({status}) instead of starting:\n{}", self.log()));
            }
        }
    }

    fn docker_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(docker_client())
            .arg(format!("--host=unix://{}", self.socket().display()))
            .args(args)
            // The client keeps no state in this machine's ~/.docker.
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .output()
            .expect("running the docker client")
    }

    /// `docker ARGS`, which must succeed; returns stdout.
    fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}\ndockerd log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Import a one-file image: a static busybox as /bin/busybox and /bin/sh.
    fn import_busybox(&self) {
        let rootfs = self.dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        let tar = self.dir.path().join("rootfs.tar");
        let status =
            Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().unwrap();
        assert!(status.success(), "tar failed");
        self.docker(&["import", tar.to_str().unwrap(), IMAGE]);
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        drop(self.stop.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            // SIGKILL to unshare: --kill-child kills the namespace's PID 1, and with it every
            // process in the namespace.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Empty by now (the containers were removed or died with the namespace).
        let cgroups = Path::new("/sys/fs/cgroup");
        let _ = std::fs::remove_dir(cgroups.join(&self.cgroup_parent));
        for hierarchy in std::fs::read_dir(cgroups).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(hierarchy.path().join(&self.cgroup_parent));
        }
    }
}

fn docker_client() -> &'static str {
    // docker.io's client, matching its dockerd.
    if Path::new("/usr/bin/docker").is_file() { "/usr/bin/docker" } else { "docker" }
}

/// What a container created under `daemon_json` shows: (log driver, its options, the
/// container's resolv.conf, its logs).
struct Probe {
    driver: String,
    options: serde_json::Map<String, serde_json::Value>,
    resolv_conf: String,
    logs: String,
}

fn probe(daemon_json: &str) -> Probe {
    let _one = ONE_DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let dockerd = PrivateDockerd::start(daemon_json).unwrap_or_else(|log| panic!("{log}\n{daemon_json}"));
    dockerd.import_busybox();
    let script = format!("echo {PROBE_LINE}; busybox cat /etc/resolv.conf");
    dockerd.docker(&["run", "--name", "probe", IMAGE, "/bin/sh", "-c", &script]);
    let inspect = dockerd.docker(&["inspect", "--format", "{{json .HostConfig.LogConfig}}", "probe"]);
    let config: serde_json::Value = serde_json::from_str(inspect.trim()).unwrap();
    let logs = dockerd.docker(&["logs", "probe"]);
    dockerd.docker(&["rm", "probe"]);
    Probe {
        driver: config["Type"].as_str().unwrap_or_default().to_string(),
        options: config["Config"].as_object().cloned().unwrap_or_default(),
        resolv_conf: logs.lines().skip(1).collect::<Vec<_>>().join("\n"),
        logs,
    }
}

fn options(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect()
}

#[test]
#[cfg_attr(
    not(all(running_as_root, has_dockerd, has_static_busybox)),
    ignore = "needs root, dockerd (docker.io) and a static busybox (busybox-static); .ci/run installs them"
)]
fn local_driver_with_rotation_and_dns_from_a_bench_daemon_json() {
    let daemon = daemon_json_from_edgeprep(
        Some(&common::fixture("bench-daemon.json")),
        "[logging]\ndriver = \"local\"\nmax_size = \"10m\"\nmax_files = 3\n\n[dns]\nservers = [\"10.0.0.2\"]\n",
    );
    let probe = probe(&daemon);
    assert_eq!(probe.driver, "local", "{daemon}");
    assert_eq!(probe.options, options(&[("max-size", "10m"), ("max-file", "3")]), "{daemon}");
    assert!(probe.logs.contains(PROBE_LINE), "docker logs: {}", probe.logs);
    assert!(probe.resolv_conf.contains("nameserver 10.0.0.2"), "{}", probe.resolv_conf);
}

#[test]
#[cfg_attr(
    not(all(running_as_root, has_dockerd, has_static_busybox)),
    ignore = "needs root, dockerd (docker.io) and a static busybox (busybox-static); .ci/run installs them"
)]
fn json_file_driver_with_rotation_on_a_device_without_daemon_json() {
    let daemon = daemon_json_from_edgeprep(
        None,
        "[logging]\ndriver = \"json-file\"\nmax_size = \"5m\"\nmax_files = 2\n",
    );
    let probe = probe(&daemon);
    assert_eq!(probe.driver, "json-file", "{daemon}");
    assert_eq!(probe.options, options(&[("max-size", "5m"), ("max-file", "2")]), "{daemon}");
    assert!(probe.logs.contains(PROBE_LINE), "docker logs: {}", probe.logs);
}

#[test]
#[cfg_attr(
    not(all(running_as_root, has_dockerd, has_static_busybox)),
    ignore = "needs root, dockerd (docker.io) and a static busybox (busybox-static); .ci/run installs them"
)]
fn dns_only_without_a_proxy_keeps_the_existing_log_settings() {
    let daemon = daemon_json_from_edgeprep(
        Some(&common::fixture("bench-daemon.json")),
        "[dns]\nservers = [\"10.0.0.2\", \"10.0.0.3\"]\n",
    );
    let probe = probe(&daemon);
    assert_eq!(probe.driver, "json-file", "{daemon}");
    assert_eq!(probe.options, options(&[("max-size", "50m")]), "{daemon}");
    assert!(probe.resolv_conf.contains("nameserver 10.0.0.3"), "{}", probe.resolv_conf);
}

#[test]
#[cfg_attr(
    not(all(running_as_root, has_dockerd, has_static_busybox, journald_running)),
    ignore = "needs a running journald (and root, dockerd, busybox-static): the journald log driver writes there"
)]
fn journald_driver() {
    let daemon = daemon_json_from_edgeprep(
        Some(&common::fixture("bench-daemon.json")),
        "[logging]\ndriver = \"journald\"\n",
    );
    let probe = probe(&daemon);
    assert_eq!(probe.driver, "journald", "{daemon}");
    assert!(probe.options.is_empty(), "{daemon}");
}

/// The harness can fail: a daemon.json dockerd refuses (a number where it wants a string, the
/// mistake edgeprep rewrites away) is reported as dockerd not starting.
#[test]
#[cfg_attr(
    not(all(running_as_root, has_dockerd)),
    ignore = "needs root and dockerd (docker.io); .ci/run installs it"
)]
fn dockerd_refusing_a_daemon_json_is_seen() {
    let _one = ONE_DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let refused = PrivateDockerd::start("{\"log-driver\": \"local\", \"log-opts\": {\"max-file\": 3}}\n");
    let log = refused.err().expect("dockerd started with a numeric max-file");
    assert!(log.contains("dockerd exited") && log.contains("log-opts"), "{log}");
}
