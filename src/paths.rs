//! Device paths edgeprep knows about (absolute, as on the device; see [`crate::root`]).

pub const CONFIG_TOML: &str = "/etc/aziot/config.toml";
/// Installed by the aziot-edge package; a new config.toml starts from it when present.
pub const CONFIG_TEMPLATE: &str = "/etc/aziot/config.toml.edge.template";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const BACKUPS_DIR: &str = "/var/lib/edgeprep/backups";
pub const AUDIT_LOG: &str = "/var/log/edgeprep.log";
pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";
pub const HOSTNAME: &str = "/etc/hostname";
/// The parent of the certificate and key directories: must stay traversable (0755).
pub const AZIOT_DIR: &str = "/var/aziot";
/// Where installed Edge CA certificates go (dir 0755, files 0644, owner aziotcs).
pub const CERTS_DIR: &str = "/var/aziot/certs";
/// Where installed Edge CA private keys go (dir 0700, files 0600, owner aziotks).
pub const SECRETS_DIR: &str = "/var/aziot/secrets";
/// Certificates certd issued from the quickstart Edge CA (stale once a file-based CA is set).
pub const CERTD_CERTS_DIR: &str = "/var/lib/aziot/certd/certs";
pub const KEYD_KEYS_DIR: &str = "/var/lib/aziot/keyd/keys";
/// The file name edgeprep gives its proxy drop-ins.
pub const PROXY_DROPIN_NAME: &str = "edgeprep-proxy.conf";

/// systemd units whose environment carries the proxy.
pub const DOCKER_UNIT: &str = "docker";
pub const EDGED_UNIT: &str = "aziot-edged";
pub const IDENTITYD_UNIT: &str = "aziot-identityd";

/// The drop-in directory file edgeprep writes for `unit` (`docker`, `aziot-edged`, ...).
pub fn proxy_dropin(unit: &str) -> String {
    format!("/etc/systemd/system/{unit}.service.d/{PROXY_DROPIN_NAME}")
}

/// The root-only file that carries `unit`'s proxy variables when the proxy URL holds a
/// password: `Environment=` values are shown to every local user by `systemctl show`.
pub fn proxy_env_file(unit: &str) -> String {
    format!("/etc/edgeprep/{unit}-proxy.env")
}

/// Where systemd looks for system units and their drop-in directories, highest priority first
/// (a file in an earlier directory masks a same-named one in a later directory). `/lib` is
/// listed for distributions without a merged `/usr`.
pub const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// The units whose environment carries the proxy.
pub const PROXY_UNITS: [&str; 3] = [DOCKER_UNIT, EDGED_UNIT, IDENTITYD_UNIT];

/// The shell-style defaults file some distributions' docker service reads
/// (`EnvironmentFile=-/etc/default/docker`, or sourced by the sysvinit script).
pub const DEFAULT_DOCKER: &str = "/etc/default/docker";

/// Where an Edge CA installed by edgeprep lives on the device.
pub const EDGE_CA_CERT: &str = "/var/aziot/certs/edge-ca.pem";
pub const EDGE_CA_KEY: &str = "/var/aziot/secrets/edge-ca.key.pem";
pub const TRUST_BUNDLE: &str = "/var/aziot/certs/trust-bundle.pem";
/// The trust bundle's copy in the OS trust store (Debian/Ubuntu), for host components.
pub const OS_TRUST_STORE_CERT: &str = "/usr/local/share/ca-certificates/edgeprep-trust-bundle.crt";
/// Where the root key of a chain edgeprep generated on the device waits to be taken off it.
pub const GENERATED_ROOT_KEY: &str = "/var/lib/edgeprep/root-ca.key.pem";

/// Directories edgeprep manages: every device path it writes, and so every path a backup
/// manifest may name, is one of these or under one. Prefixes, so a new managed file under them
/// needs no change here.
pub const MANAGED_DIRS: &[&str] = &[
    "/etc/aziot",
    "/etc/docker",
    "/etc/systemd/system",
    "/etc/default",
    "/etc/edgeprep",
    "/var/aziot",
    "/var/lib/aziot",
    "/var/lib/edgeprep",
    "/usr/local/share/ca-certificates",
];

/// Whether `device_path` lies in one of [`MANAGED_DIRS`] (a lexical check on a normalized path).
pub fn is_managed(device_path: &str) -> bool {
    MANAGED_DIRS.iter().any(|dir| device_path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')))
}
