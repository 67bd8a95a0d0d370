//! Which commands follow from which changes, in a safe order.

use crate::paths;
use crate::runner::PlannedCommand;

/// What the plan changes, as far as commands care.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub config_toml: bool,
    pub agent: bool,
    pub daemon_json: bool,
    /// docker's unit file or a drop-in of it changed (systemd must reload).
    pub docker_dropin: bool,
    /// An environment file docker reads changed (no reload needed, a restart is).
    pub docker_env: bool,
    pub aziot_dropins: bool,
    /// An environment file of aziot-edged or aziot-identityd changed.
    pub aziot_env: bool,
    /// The Edge CA files changed: modules need server certificates from the new CA.
    pub edge_ca: bool,
    /// The trust bundle's copy in the OS trust store changed.
    pub os_trust_store: bool,
}

impl Changes {
    /// docker must restart to read daemon.json or its proxy drop-in or environment files.
    pub fn restarts_docker(&self) -> bool {
        self.daemon_json || self.docker_dropin || self.docker_env
    }

    /// The changes a set of restored device files amounts to (for rollback). The agent is
    /// recreated whenever config.toml changes, since what changed in it is not known.
    pub fn from_paths(paths: &[String]) -> Self {
        let has = |p: &str| paths.iter().any(|q| q == p);
        // Any unit file or drop-in of a unit (edgeprep's own, or one it took a setting out of).
        let unit_file = |unit: &str| {
            let dir = format!("/{unit}.service.d/");
            let main = format!("/{unit}.service");
            paths.iter().any(|p| p.contains(&dir) || p.ends_with(&main))
        };
        let config_toml = has(paths::CONFIG_TOML);
        Changes {
            config_toml,
            agent: config_toml,
            daemon_json: has(paths::DAEMON_JSON),
            docker_dropin: unit_file(paths::DOCKER_UNIT),
            docker_env: has(&paths::proxy_env_file(paths::DOCKER_UNIT)) || has(paths::DEFAULT_DOCKER),
            aziot_dropins: unit_file(paths::EDGED_UNIT) || unit_file(paths::IDENTITYD_UNIT),
            aziot_env: has(&paths::proxy_env_file(paths::EDGED_UNIT))
                || has(&paths::proxy_env_file(paths::IDENTITYD_UNIT)),
            edge_ca: has(paths::EDGE_CA_CERT) || has(paths::EDGE_CA_KEY) || has(paths::TRUST_BUNDLE),
            os_trust_store: has(paths::OS_TRUST_STORE_CERT),
        }
    }
}

/// Commands for `changes`: reload systemd, restart docker (before, never during, `config
/// apply`, which talks to docker), apply IoT Edge's config, then recreate edgeAgent.
pub fn commands_for(changes: &Changes) -> Vec<PlannedCommand> {
    let mut commands = Vec::new();
    if changes.os_trust_store {
        commands.push(PlannedCommand::new(
            "update-ca-certificates",
            &[],
            "Host programs (docker pulling images) trust the new CA only once the store is rebuilt.",
        ));
    }
    if changes.docker_dropin || changes.aziot_dropins {
        commands.push(PlannedCommand::new(
            "systemctl",
            &["daemon-reload"],
            "systemd must re-read the changed drop-ins.",
        ));
    }
    if changes.restarts_docker() {
        commands.push(PlannedCommand::new(
            "systemctl",
            &["restart", "docker"],
            "docker reads daemon.json and its proxy only at start; running modules restart.",
        ));
    }
    if changes.config_toml {
        commands.push(PlannedCommand::new(
            "iotedge",
            &["config", "apply", "-c", paths::CONFIG_TOML],
            "IoT Edge's services read config.toml only through `config apply`, which also restarts them.",
        ));
    }
    if changes.edge_ca {
        commands.push(PlannedCommand::new(
            "iotedge",
            &["system", "restart"],
            "Modules get server certificates from the new Edge CA when IoT Edge restarts.",
        ));
    } else if (changes.aziot_dropins || changes.aziot_env) && !changes.config_toml {
        commands.push(PlannedCommand::new(
            "iotedge",
            &["system", "restart"],
            "aziot-edged and aziot-identityd read their proxy only at start.",
        ));
    }
    if changes.agent {
        commands.push(
            PlannedCommand::new(
                "docker",
                &["rm", "-f", "edgeAgent"],
                "`config apply` does not recreate a running edgeAgent; IoT Edge recreates it within a minute with the new settings.",
            )
            .harmless_when("No such container"),
        );
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(changes: Changes) -> Vec<String> {
        commands_for(&changes).iter().map(PlannedCommand::display).collect()
    }

    #[test]
    fn nothing_changed_runs_nothing() {
        assert!(commands_for(&Changes::default()).is_empty());
    }

    #[test]
    fn docker_restarts_before_config_apply_and_agent_goes_last() {
        let all = Changes {
            config_toml: true,
            agent: true,
            daemon_json: true,
            docker_dropin: true,
            aziot_dropins: true,
            ..Changes::default()
        };
        assert_eq!(
            lines(all),
            [
                "systemctl daemon-reload",
                "systemctl restart docker",
                "iotedge config apply -c /etc/aziot/config.toml",
                "docker rm -f edgeAgent"
            ]
        );
    }

    #[test]
    fn proxy_drop_ins_alone_restart_iot_edge() {
        let changes = Changes { aziot_dropins: true, ..Changes::default() };
        assert_eq!(lines(changes), ["systemctl daemon-reload", "iotedge system restart"]);
    }

    #[test]
    fn environment_files_restart_without_a_daemon_reload() {
        let docker = Changes { docker_env: true, ..Changes::default() };
        assert_eq!(lines(docker), ["systemctl restart docker"]);
        let aziot = Changes { aziot_env: true, ..Changes::default() };
        assert_eq!(lines(aziot), ["iotedge system restart"]);
    }

    #[test]
    fn restored_files_of_any_drop_in_or_env_file_give_their_commands() {
        let paths: Vec<String> = [
            "/etc/systemd/system/docker.service.d/http-proxy.conf",
            "/etc/edgeprep/aziot-identityd-proxy.env",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        let changes = Changes::from_paths(&paths);
        assert!(changes.docker_dropin && changes.aziot_env && !changes.aziot_dropins && !changes.docker_env);
        assert_eq!(
            lines(changes),
            ["systemctl daemon-reload", "systemctl restart docker", "iotedge system restart"]
        );
        let default_docker = Changes::from_paths(&["/etc/default/docker".to_string()]);
        assert_eq!(lines(default_docker), ["systemctl restart docker"]);
    }

    #[test]
    fn missing_edge_agent_is_not_a_failure() {
        let changes = Changes { agent: true, ..Changes::default() };
        let rm = &commands_for(&changes)[0];
        let output = crate::runner::CommandOutput {
            code: Some(1),
            stdout: String::new(),
            stderr: "Error response from daemon: No such container: edgeAgent".into(),
        };
        assert!(rm.succeeded(&output));
        let other = crate::runner::CommandOutput { stderr: "permission denied".into(), ..output };
        assert!(!rm.succeeded(&other));
    }
}
