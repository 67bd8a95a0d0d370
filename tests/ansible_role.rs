//! The Ansible role in ansible/roles/edgeprep, run by a real ansible-playbook (ansible-core from
//! PyPI, connection local) against a temp `--root` with the fake iotedge/systemctl/docker of
//! tests/common on PATH: apply reports changed then not changed, check mode writes nothing and
//! its diff is masked, a bad answer fails with edgeprep's message, no secret reaches Ansible's
//! output, the answers file is always removed, and the rollback task restores the files.
//!
//! Ansible runs with its config, HOME and temp directories inside the test's temp dir, so it
//! neither reads the machine's ansible.cfg nor writes to ~/.ansible.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Device;
use serde_json::json;

const PASSWORD: &str = "Registry-Pa55word-from-vault";
const SAS_KEY: &str = "c2VjcmV0LXNhcy1rZXktZnJvbS12YXVsdA==";

/// Answers as inventory variables: the secrets come in through the role's own secret variables,
/// as they would from Ansible Vault.
fn answers() -> serde_json::Value {
    json!({
        "hostname": "edge-01",
        "provisioning": { "source": "manual" },
        "upstream": { "protocol": "AmqpWs" },
        "agent": {
            "image": "contoso.azurecr.io/azureiotedge-agent:1.4.43",
            "auth": { "server": "contoso.azurecr.io", "username": "edge-pull" }
        },
        "logging": { "driver": "local", "max_size": "10m", "max_files": 3 },
        "dns": { "servers": ["10.0.0.2"] }
    })
}

struct Fleet {
    device: Device,
    /// Ansible's HOME, config, temp dirs, and the playbooks.
    work: tempfile::TempDir,
}

/// What one ansible-playbook run printed, split by task.
struct Run {
    code: i32,
    text: String,
}

impl Run {
    /// The result line of the task named `name` ("ok", "changed", "fatal", "skipping"), from the
    /// default callback's `TASK [role : name]` section.
    fn status(&self, name: &str) -> String {
        let header = format!("TASK [edgeprep : {name}]");
        let section = self
            .text
            .split("\nTASK [")
            .map(|s| format!("TASK [{s}"))
            .find(|s| s.starts_with(&header))
            .unwrap_or_else(|| panic!("no task {name:?} in:\n{}", self.text));
        let status = section
            .lines()
            .find_map(|line| {
                ["ok", "changed", "fatal", "skipping"]
                    .into_iter()
                    .find(|s| line.starts_with(&format!("{s}: [localhost]")))
            })
            .unwrap_or_else(|| panic!("no result for task {name:?} in:\n{section}"));
        status.to_string()
    }

    /// The recap's `changed=N` and `failed=N` for localhost.
    fn recap(&self) -> (u32, u32) {
        let line = self
            .text
            .lines()
            .rev()
            .find(|l| l.starts_with("localhost") && l.contains("changed="))
            .unwrap_or_else(|| panic!("no recap in:\n{}", self.text));
        let count = |key: &str| -> u32 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {line}"))
        };
        (count("changed="), count("failed="))
    }

    fn assert_no_secret(&self) {
        assert!(
            !self.text.contains(PASSWORD),
            "the registry password reached Ansible's output:\n{}",
            self.text
        );
        assert!(!self.text.contains(SAS_KEY), "the SAS key reached Ansible's output:\n{}", self.text);
    }
}

impl Fleet {
    fn new() -> Self {
        let device = Device::new();
        device.write("/etc/aziot/config.toml.edge.template", common::template_text());
        // Already provisioned (by hand, on the bench): the role takes it to production.
        device.write("/etc/aziot/config.toml", common::provisioned_config("edge-01"));
        device.write("/etc/docker/daemon.json", "{\n    \"storage-driver\": \"overlay2\"\n}\n");
        let work = tempfile::tempdir().unwrap();
        for dir in ["home", "local-tmp", "remote-tmp", "answers-tmp", "bin"] {
            std::fs::create_dir_all(work.path().join(dir)).unwrap();
        }
        std::fs::write(work.path().join("ansible.cfg"), "").unwrap();
        Fleet { device, work }
    }

    fn answers_tmp(&self) -> PathBuf {
        self.work.path().join("answers-tmp")
    }

    /// The role's variables for this device; `extra` overrides or adds.
    fn vars(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut vars = json!({
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "edgeprep_install": "binary",
            "edgeprep_binary": env!("CARGO_BIN_EXE_edgeprep"),
            "edgeprep_bin_path": self.work.path().join("bin/edgeprep"),
            "edgeprep_root": self.device.root(),
            "edgeprep_extra_args": ["--run-commands"],
            // Only the fakes on PATH: a command without a fake fails instead of reaching this machine.
            "edgeprep_environment": {
                "PATH": self.device.bin(),
                "USER": "tester",
                "EDGEPREP_TEST_ROOT": self.device.root(),
            },
            "edgeprep_tmp_parent": self.answers_tmp(),
            "edgeprep_answers": answers(),
            "edgeprep_registry_password": PASSWORD,
            "edgeprep_connection_string":
                format!("HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey={SAS_KEY}"),
        });
        for (key, value) in extra.as_object().unwrap() {
            vars[key] = value.clone();
        }
        vars
    }

    /// Run `tasks` (YAML, indented for a play's task list) against localhost with `vars` as
    /// extra vars, and `args` added to the command line.
    fn play(&self, tasks: &str, vars: &serde_json::Value, args: &[&str]) -> Run {
        let playbook = self.work.path().join("playbook.yml");
        std::fs::write(&playbook, format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}"))
            .unwrap();
        let vars_file = self.work.path().join("vars.json");
        std::fs::write(&vars_file, serde_json::to_vec(vars).unwrap()).unwrap();
        let mut cmd = Command::new("ansible-playbook");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ANSIBLE_") {
                cmd.env_remove(key);
            }
        }
        let work = self.work.path();
        cmd.env("ANSIBLE_CONFIG", work.join("ansible.cfg"))
            .env("HOME", work.join("home"))
            .env("ANSIBLE_HOME", work.join("home/.ansible"))
            .env("ANSIBLE_LOCAL_TEMP", work.join("local-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", work.join("remote-tmp"))
            .env("ANSIBLE_ROLES_PATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/roles"))
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_LOCALHOST_WARNING", "0")
            .args(["-i", "localhost,", "-c", "local", "-e"])
            .arg(format!("@{}", vars_file.display()))
            .args(args)
            .arg(&playbook);
        let output = cmd.output().expect("starting ansible-playbook");
        let text =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Run { code: output.status.code().unwrap_or(-1), text }
    }

    fn apply(&self, vars: &serde_json::Value, args: &[&str]) -> Run {
        let tasks = "    - ansible.builtin.import_role: {name: edgeprep}\n    - ansible.builtin.debug: {msg: \"backup fact: {{ edgeprep_backup_id }}\"}\n";
        self.play(tasks, vars, args)
    }

    fn assert_answers_removed(&self) {
        let left: Vec<_> =
            std::fs::read_dir(self.answers_tmp()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "the answers file's directory was left behind: {left:?}");
    }

    /// No file Ansible left in its own directories holds a secret.
    fn assert_no_secret_in_ansible_dirs(&self) {
        let mut stack = vec![
            self.work.path().join("home"),
            self.work.path().join("local-tmp"),
            self.work.path().join("remote-tmp"),
        ];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                    assert!(
                        !text.contains(PASSWORD) && !text.contains(SAS_KEY),
                        "{} holds a secret",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn the_role_applies_once_then_reports_no_change_and_its_rollback_task_restores_the_files() {
    let fleet = Fleet::new();
    let before = fleet.device.device_snapshot();
    let vars = fleet.vars(json!({}));

    // Verbose, so every task's full result is printed, and with the diff: still no secret.
    let first = fleet.apply(&vars, &["-vvv", "--diff"]);
    assert_eq!(first.code, 0, "{}", first.text);
    assert_eq!(first.status("Install the edgeprep binary"), "changed", "{}", first.text);
    assert_eq!(first.status("Apply the answers with edgeprep"), "changed", "{}", first.text);
    first.assert_no_secret();
    assert!(
        first.text.contains("+password = \"********\""),
        "--diff shows what was applied, masked:\n{}",
        first.text
    );
    let config = fleet.device.read("/etc/aziot/config.toml");
    assert!(config.contains("UpstreamProtocol = \"AmqpWs\"") && config.contains(PASSWORD), "{config}");
    assert!(fleet.device.calls().contains(&"iotedge config apply -c /etc/aziot/config.toml".to_string()));
    fleet.assert_answers_removed();
    fleet.assert_no_secret_in_ansible_dirs();
    let backup_id = first
        .text
        .lines()
        .find_map(|l| l.split("backup fact: ").nth(1))
        .map(|rest| rest.trim_end_matches('"').to_string())
        .unwrap_or_else(|| panic!("no backup fact in:\n{}", first.text));
    assert!(
        fleet.device.path("/var/lib/edgeprep/backups").join(&backup_id).is_dir(),
        "the fact {backup_id:?} names no backup set"
    );

    let calls = fleet.device.calls().len();
    let second = fleet.apply(&vars, &[]);
    assert_eq!(second.code, 0, "{}", second.text);
    assert_eq!(second.recap(), (0, 0), "a second run must change nothing:\n{}", second.text);
    assert_eq!(fleet.device.calls().len(), calls, "a second run must restart nothing");
    fleet.assert_answers_removed();

    let rollback = json!({ "edgeprep_rollback_id": backup_id });
    let tasks = "    - ansible.builtin.import_role: {name: edgeprep, tasks_from: rollback}\n";
    let applied = fleet.device.snapshot();
    let checked = fleet.play(tasks, &fleet.vars(rollback.clone()), &["--check"]);
    assert_eq!(checked.status("Roll back with edgeprep"), "changed", "{}", checked.text);
    assert_eq!(fleet.device.snapshot(), applied, "a rollback in check mode must change nothing");
    let undone = fleet.play(tasks, &fleet.vars(rollback), &[]);
    assert_eq!(undone.code, 0, "{}", undone.text);
    assert_eq!(undone.status("Roll back with edgeprep"), "changed", "{}", undone.text);
    undone.assert_no_secret();
    assert_eq!(fleet.device.device_snapshot(), before, "the rollback task must restore every file");
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn check_mode_writes_nothing_and_its_diff_masks_the_password() {
    let fleet = Fleet::new();
    let before = fleet.device.snapshot();
    // The binary as built: check mode does not install.
    // Quotes, a backslash and non-ASCII in an answer survive the template's TOML escaping.
    let mut answers = answers();
    answers["agent"]["auth"]["username"] = json!("edge \"pull\" \\ é");
    let vars = fleet.vars(json!({
        "edgeprep_install": "none",
        "edgeprep_bin_path": env!("CARGO_BIN_EXE_edgeprep"),
        "edgeprep_answers": answers,
    }));
    let run = fleet.apply(&vars, &["--check", "--diff"]);
    assert_eq!(run.code, 0, "{}", run.text);
    assert_eq!(run.status("Apply the answers with edgeprep"), "changed", "{}", run.text);
    assert_eq!(fleet.device.snapshot(), before, "check mode must not write under the root");
    assert!(fleet.device.calls().is_empty(), "check mode must run nothing: {:?}", fleet.device.calls());
    assert!(run.text.contains("+++ /etc/aziot/config.toml"), "no diff of config.toml:\n{}", run.text);
    assert!(run.text.contains("\"backup fact: \""), "check mode backs nothing up:\n{}", run.text);
    assert!(
        run.text.contains("+password = \"********\""),
        "the diff must show the password masked:\n{}",
        run.text
    );
    assert!(run.text.contains("iotedge config apply -c /etc/aziot/config.toml"), "{}", run.text);
    assert!(run.text.contains("+username = 'edge \"pull\" \\ é'"), "{}", run.text);
    run.assert_no_secret();
    fleet.assert_answers_removed();
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn a_bad_answer_fails_the_task_with_edgepreps_message_and_the_answers_file_is_removed() {
    let fleet = Fleet::new();
    let before = fleet.device.snapshot();
    let mut answers = answers();
    answers["upstream"]["protocol"] = json!("CarrierPigeon");
    let run = fleet.apply(&fleet.vars(json!({ "edgeprep_answers": answers })), &[]);
    assert_eq!(run.code, 2, "ansible-playbook exits 2 when a task failed:\n{}", run.text);
    assert_eq!(run.status("Apply the answers with edgeprep"), "fatal", "{}", run.text);
    assert!(
        run.text
            .contains("unknown upstream protocol \\\"CarrierPigeon\\\": use Amqp, AmqpWs, Mqtt or MqttWs"),
        "the task must fail with edgeprep's message:\n{}",
        run.text
    );
    assert!(run.text.contains("bad answers or input; nothing was written (exit 2)"), "{}", run.text);
    assert_eq!(run.status("Remove the answers file"), "ok", "{}", run.text);
    fleet.assert_answers_removed();
    run.assert_no_secret();
    // The binary was installed outside the root; the device itself is untouched.
    assert_eq!(fleet.device.snapshot(), before);
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn a_failing_command_fails_the_task_saying_every_file_was_restored() {
    let fleet = Fleet::new();
    let before = fleet.device.device_snapshot();
    fleet.device.fake("docker", "echo 'Error: container edgeAgent is busy' >&2; exit 1");
    let run = fleet.apply(&fleet.vars(json!({})), &[]);
    assert_eq!(run.status("Apply the answers with edgeprep"), "fatal", "{}", run.text);
    assert!(run.text.contains("`docker rm -f edgeAgent` failed with exit code 1"), "{}", run.text);
    assert!(run.text.contains("container edgeAgent is busy"), "{}", run.text);
    assert!(run.text.contains("every file was restored (exit 1)"), "{}", run.text);
    run.assert_no_secret();
    fleet.assert_answers_removed();
    assert_eq!(fleet.device.device_snapshot(), before, "the failed apply must leave the files as they were");
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn the_example_playbooks_pass_ansibles_syntax_check() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/examples");
    let fleet = Fleet::new();
    for playbook in ["playbook.yml", "rollback.yml"] {
        let output = Command::new("ansible-playbook")
            .env("ANSIBLE_CONFIG", fleet.work.path().join("ansible.cfg"))
            .env("HOME", fleet.work.path().join("home"))
            .env("ANSIBLE_LOCAL_TEMP", fleet.work.path().join("local-tmp"))
            .env("ANSIBLE_ROLES_PATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/roles"))
            .arg("--syntax-check")
            .arg("-i")
            .arg(examples.join("inventory.yml"))
            .arg(examples.join(playbook))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{playbook}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn when_restoring_fails_too_the_task_says_exit_3_and_names_the_backup_set() {
    let fleet = Fleet::new();
    let device = &fleet.device;
    let mv = ["/bin/mv", "/usr/bin/mv"].into_iter().find(|p| Path::new(p).exists()).unwrap();
    std::os::unix::fs::symlink(mv, device.bin().join("mv")).unwrap();
    // The failing restart also leaves a file where /etc/docker was: nothing can go back there.
    let docker_dir = device.path("/etc/docker");
    device.fake(
        "systemctl",
        &format!(
            "mv '{0}' '{1}'; : > '{0}'; echo 'docker broke' >&2; exit 1",
            docker_dir.display(),
            device.dir.path().join("moved-away").display()
        ),
    );
    let run = fleet.apply(&fleet.vars(json!({})), &[]);
    assert_eq!(run.status("Apply the answers with edgeprep"), "fatal", "{}", run.text);
    assert!(
        run.text.contains("`systemctl restart docker` failed with exit code 1: docker broke"),
        "{}",
        run.text
    );
    assert!(run.text.contains("restoring the files failed too (exit 3)"), "{}", run.text);
    let log = device.read("/var/log/edgeprep.log");
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let id = entry["backup"].as_str().unwrap();
    assert!(run.text.contains(&format!("backup set {id}")), "the message must name {id}:\n{}", run.text);
    run.assert_no_secret();
    fleet.assert_answers_removed();
}

#[test]
#[cfg_attr(not(has_ansible), ignore = "ansible-playbook not found: pip install ansible-core")]
fn check_mode_before_the_first_install_reports_a_change_and_says_edgeprep_is_not_installed_yet() {
    let fleet = Fleet::new();
    let before = fleet.device.snapshot();
    let run = fleet.apply(&fleet.vars(json!({})), &["--check"]);
    assert_eq!(run.code, 0, "{}", run.text);
    assert_eq!(run.status("Install the edgeprep binary"), "changed", "{}", run.text);
    assert_eq!(run.status("Apply the answers with edgeprep"), "changed", "{}", run.text);
    assert!(run.text.contains("is not installed yet, so the plan cannot be shown"), "{}", run.text);
    assert!(!fleet.work.path().join("bin/edgeprep").exists(), "check mode must not install");
    assert_eq!(fleet.device.snapshot(), before);
    fleet.assert_answers_removed();
}
