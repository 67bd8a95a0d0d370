//! The answers data model. Field names are the answers file's TOML keys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// The device's hostname as IoT Edge should use it (top-level `hostname` in config.toml).
    pub hostname: Option<String>,
    /// Top-level `allow_elevated_docker_permissions` in config.toml. `false` stops a deployment
    /// from starting privileged modules or adding capabilities; absent leaves the device's
    /// setting as it is.
    pub allow_elevated_docker_permissions: Option<bool>,
    pub provisioning: Option<Provisioning>,
    pub upstream: Option<Upstream>,
    pub proxy: Option<Proxy>,
    pub agent: Option<Agent>,
    pub image_garbage_collection: Option<ImageGarbageCollection>,
    pub logging: Option<Logging>,
    pub dns: Option<Dns>,
    pub edge_ca: Option<EdgeCa>,
}

impl Answers {
    /// Every secret the answers carry, as written: the connection string's SharedAccessKey, the
    /// DPS symmetric key, the registry password and the proxy password.
    pub fn secret_values(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        if let Some(p) = &self.provisioning {
            if let Some(cs) = &p.connection_string {
                secrets.extend(
                    cs.split(';')
                        .filter_map(|part| part.split_once('='))
                        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("SharedAccessKey"))
                        .map(|(_, v)| v.to_string()),
                );
            }
            secrets.extend(p.symmetric_key.clone());
        }
        if let Some(password) =
            self.agent.as_ref().and_then(|a| a.auth.as_ref()).and_then(|a| a.password.clone())
        {
            secrets.push(password);
        }
        if let Some(password) = self.proxy.as_ref().and_then(Proxy::password) {
            secrets.push(password.to_string());
        }
        secrets.retain(|s| !s.is_empty());
        secrets
    }

    /// [`Self::secret_values`] in every form they can be written in (raw, percent-decoded and
    /// -encoded, escaped for TOML, JSON and systemd): what a plan masks wherever it is shown.
    pub fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> =
            self.secret_values().iter().flat_map(|s| crate::secrets::forms(s)).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// How the device gets its identity: a manual connection string, or DPS.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    pub source: ProvisioningSource,
    /// `source = "manual"`: `HostName=...;DeviceId=...;SharedAccessKey=...`. Secret.
    pub connection_string: Option<String>,
    /// `source = "dps"`: e.g. `https://global.azure-devices-provisioning.net`.
    pub global_endpoint: Option<String>,
    pub id_scope: Option<String>,
    /// `source = "dps"`: symmetric_key | x509 | tpm.
    pub attestation: Option<Attestation>,
    pub registration_id: Option<String>,
    /// DPS symmetric key (base64). Secret.
    pub symmetric_key: Option<String>,
    /// DPS X.509: device identity certificate and key, as paths on the device.
    pub identity_cert: Option<String>,
    pub identity_pk: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningSource {
    Manual,
    Dps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attestation {
    SymmetricKey,
    X509,
    Tpm,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub protocol: UpstreamProtocol,
}

/// The protocol edgeAgent and edgeHub use to reach IoT Hub. Accepted in any case, always
/// written in this exact spelling because `iotedge check` compares it case-sensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UpstreamProtocol {
    Amqp,
    AmqpWs,
    Mqtt,
    MqttWs,
}

impl UpstreamProtocol {
    pub const ALL: [UpstreamProtocol; 4] = [Self::Amqp, Self::AmqpWs, Self::Mqtt, Self::MqttWs];

    /// The spelling IoT Edge's tools expect.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amqp => "Amqp",
            Self::AmqpWs => "AmqpWs",
            Self::Mqtt => "Mqtt",
            Self::MqttWs => "MqttWs",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl<'de> Deserialize<'de> for UpstreamProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown upstream protocol \"{text}\": use Amqp, AmqpWs, Mqtt or MqttWs (AmqpWs or MqttWs when only port 443 is open)"
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// `http://[user:pass@]host:port`. May hold a password: secret.
    pub url: String,
    /// Hosts that bypass the proxy (docker only), e.g. `localhost,127.0.0.1`.
    pub no_proxy: Option<String>,
}

impl Proxy {
    /// The password in the URL exactly as written (so still percent-encoded), found the way
    /// the validator and the maskers split the URL: at the last `@`, then the first `:`. Not
    /// through a URL parser, which re-encodes it and drops characters it does not like.
    pub fn password(&self) -> Option<&str> {
        let rest = self.url.find("://").map_or(self.url.as_str(), |at| &self.url[at + 3..]);
        let (userinfo, _) = rest.rsplit_once('@')?;
        userinfo.split_once(':').map(|(_, password)| password).filter(|p| !p.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The bootstrap edgeAgent image, e.g. `contoso.azurecr.io/azureiotedge-agent:1.4.43`.
    pub image: Option<String>,
    pub auth: Option<RegistryAuth>,
    /// Host directory bound into edgeAgent at `/iotedge/storage` (with `storageFolder` set to
    /// it), so the agent's state survives the container being recreated, e.g.
    /// `/var/lib/edgeprep/edge-agent`. Created root:root 0755 when missing.
    pub host_storage: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    pub server: String,
    pub username: String,
    /// Secret. Exactly one of `password` and `password_file`.
    pub password: Option<String>,
    /// A file (on the machine running edgeprep) holding the password on its first line.
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageGarbageCollection {
    pub enabled: Option<bool>,
    /// Whole days, e.g. `"1d"`.
    pub cleanup_recurrence: Option<String>,
    pub image_age_cleanup_threshold: Option<String>,
    /// `"HH:MM"`, device local time.
    pub cleanup_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    pub driver: LogDriver,
    /// e.g. `"10m"`.
    pub max_size: Option<String>,
    pub max_files: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    Local,
    JsonFile,
    Journald,
}

impl LogDriver {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::JsonFile => "json-file",
            Self::Journald => "journald",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub servers: Vec<String>,
}

/// The device's Edge CA: files to install, or a chain to generate on the device.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCa {
    /// Full chain PEM (Edge CA first), on the machine running edgeprep.
    pub cert: Option<String>,
    pub key: Option<String>,
    /// Root CA PEM for `trust_bundle_cert` (and the OS trust store).
    pub trust_bundle: Option<String>,
    /// Also install the trust bundle into the OS trust store, for host components such as
    /// docker pulling from a registry behind a TLS-inspecting proxy. Default true.
    pub os_trust_store: Option<bool>,
    pub generate: Option<GenerateEdgeCa>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateEdgeCa {
    pub common_name: Option<String>,
    pub days: Option<u32>,
}
