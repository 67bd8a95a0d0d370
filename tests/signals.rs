//! Stop signals through the real binary: SIGTERM or SIGHUP sent to edgeprep (not to its
//! process group) while the last command runs lets that command finish, then rolls back
//! and exits 1. Commands run in their own process group, so a terminal's Ctrl-C reaches
//! edgeprep only.

mod common;

use common::{Device, template_text};
use predicates::prelude::*;

/// apply runs `systemctl restart docker`, then `iotedge config apply` (the last command).
const ANSWERS: &str = "hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n";

/// The 5th field of /proc/PID/stat, read with shell builtins only (PATH holds only fakes).
fn pgid_of(pid: &str) -> String {
    format!("read -r s < /proc/{pid}/stat; set -- $s; shift 4; echo $1")
}

#[test]
fn a_signal_during_the_last_command_lets_it_finish_then_rolls_back() {
    for signal in ["TERM", "HUP"] {
        let device = Device::new();
        device.write("/etc/aziot/config.toml.edge.template", template_text());
        device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
        device.write("/etc/docker/daemon.json", "{}\n");
        let before = device.device_snapshot();
        // A real sleep, so edgeprep gets the signal while the command is still running.
        let sleep =
            ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap();
        std::os::unix::fs::symlink(sleep, device.bin().join("sleep")).unwrap();
        let marker = device.dir.path().join("signalled");
        let log = device.calls_log();
        device.fake(
            "iotedge",
            &format!(
                "if [ ! -e '{m}' ]; then : > '{m}'; \
                 echo \"pgid $({mine}) parent $({parent})\" >> '{log}'; \
                 kill -{signal} $PPID; sleep 1; echo 'iotedge finished' >> '{log}'; fi",
                m = marker.display(),
                mine = pgid_of("$$"),
                parent = pgid_of("$PPID"),
                log = log.display(),
            ),
        );
        let answers = device.answers(ANSWERS);
        device
            .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("STOPPED at `iotedge config apply -c /etc/aziot/config.toml`"))
            .stdout(predicate::str::contains("Every file was restored"));
        assert_eq!(device.device_snapshot(), before, "SIG{signal}: files not restored");

        let calls = device.calls();
        let pgids = calls[2].split_whitespace().collect::<Vec<_>>();
        assert_eq!(pgids[0], "pgid");
        assert_ne!(pgids[1], pgids[3], "SIG{signal}: the command shares edgeprep's process group");
        let rest: Vec<&str> = calls.iter().map(String::as_str).filter(|c| !c.starts_with("pgid")).collect();
        assert_eq!(
            rest,
            [
                "systemctl restart docker",
                "iotedge config apply -c /etc/aziot/config.toml",
                "iotedge finished",
                // Run again on the restored files, the interrupted last command included.
                "systemctl restart docker",
                "iotedge config apply -c /etc/aziot/config.toml",
            ],
            "SIG{signal}"
        );
        let audit = device.read("/var/log/edgeprep.log");
        assert!(audit.contains("\"result\":\"rolled back\""), "{audit}");
    }
}

#[test]
fn a_signal_during_a_rollback_does_not_stop_it_halfway() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{}\n");
    let before = device.device_snapshot();
    let answers = device.answers(ANSWERS);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let applied = device.calls().len();
    // The technician presses Ctrl-C while the rollback restarts docker.
    device.fake("systemctl", "kill -INT $PPID");
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.device_snapshot(), before, "files restored");
    assert_eq!(
        &device.calls()[applied..],
        [
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ],
        "every command of the rollback ran"
    );
    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("interrupted").not());
}
