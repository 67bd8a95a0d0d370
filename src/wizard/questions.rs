//! The one table both front-ends ask from: every answers section as a wizard step, with its
//! fields, why they matter, what we recommend and how each maps to an answers key.
//!
//! A field's `key` is its dotted path in the answers file (`image_garbage_collection.cleanup_time`),
//! so the mapping into and out of [`Answers`](crate::answers::Answers) is the answers file's own
//! serde mapping (see [`super::draft`]) and a validation finding lands under the field it names.
//! Adding an answers section means adding one [`Section`] here; a test fails until you do.
//! A key inside a section may be a step of its own when it is a separate decision with its
//! own safe default (`agent.host_storage`): its section key is then that dotted key, and the
//! step of the enclosing section does not ask it.

/// How a field is edited and how its text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text, stored as a string.
    Text,
    /// Free text that never echoes (passwords, keys, connection strings).
    Secret,
    /// One of these spellings (the answers file's own), stored as a string.
    Choice(&'static [&'static str]),
    /// `true`, `false`, or empty for "not set".
    Bool,
    /// A whole number.
    Number,
    /// Comma-separated strings, stored as an array.
    List,
    /// Whether the sub-table at `key` exists: `[absent, present, ...]` labels. Labels after
    /// the second also leave it absent: choices the wizard carries out itself (a CSR).
    Presence(&'static [&'static str]),
}

impl Kind {
    /// The values a choice-like field cycles through; `None` for typed fields.
    pub fn options(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::Choice(options) => Some(options),
            Kind::Bool => Some(&["", "true", "false"]),
            Kind::Presence(labels) => Some(labels),
            _ => None,
        }
    }
}

/// One field of a step.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Dotted answers key.
    pub key: &'static str,
    pub label: &'static str,
    /// One line under the field: what to type.
    pub hint: &'static str,
    pub kind: Kind,
    /// What Enter takes without an answers file; `None` when only the site can say.
    pub recommended: Option<&'static str>,
    /// The answers file cannot do without it when the section is set.
    pub required: bool,
    /// Shown (and written) only when the field `when.0` holds one of `when.1`.
    pub when: Option<(&'static str, &'static [&'static str])>,
}

/// One answers section: one wizard step.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Top-level answers key (`upstream`, `hostname`, ...).
    pub key: &'static str,
    /// The step's name in the rail.
    pub title: &'static str,
    /// One or two sentences: why this matters on a production device.
    pub why: &'static str,
    pub fields: &'static [Field],
    /// Only on the first-boot path.
    pub first_boot_only: bool,
    /// Without an answers file the step starts as "set to the recommendation" (otherwise it
    /// starts as "keep what the device has": the value is the site's to give).
    pub recommend_change: bool,
}

const fn field(key: &'static str, label: &'static str, hint: &'static str, kind: Kind) -> Field {
    Field { key, label, hint, kind, recommended: None, required: false, when: None }
}

impl Field {
    const fn recommend(mut self, value: &'static str) -> Self {
        self.recommended = Some(value);
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn when(mut self, key: &'static str, values: &'static [&'static str]) -> Self {
        self.when = Some((key, values));
        self
    }
}

/// Labels of the Edge CA's "where it comes from" field. The third is not an answers value:
/// the wizard writes a key and CSR on the device and leaves config.toml's Edge CA as it is.
pub const EDGE_CA_SOURCES: [&str; 3] = ["import files", "generate here", EDGE_CA_CSR];
/// The Edge CA source that makes a key and certificate signing request and stops there.
pub const EDGE_CA_CSR: &str = "create a CSR";
/// Labels of the registry credentials field.
pub const AUTH_CHOICES: [&str; 2] = ["none", "user and password"];

/// Every step, in the order the wizard walks them.
pub const SECTIONS: &[Section] = &[
    Section {
        key: "edge_ca",
        title: "Edge CA",
        why: "The Edge CA signs the certificates modules and downstream devices trust. The quickstart CA \
              IoT Edge makes itself expires in 90 days and is not for production.",
        fields: &[
            field(
                "edge_ca.generate",
                "Source",
                "import your PKI's files, generate a chain here, or create a CSR for your CA",
                Kind::Presence(&EDGE_CA_SOURCES),
            )
            .recommend("generate here"),
            field(
                "edge_ca.cert",
                "Certificate",
                "full chain PEM, Edge CA first (path on this machine)",
                Kind::Text,
            )
            .when("edge_ca.generate", &["import files"]),
            field("edge_ca.key", "Private key", "PEM private key of the Edge CA (path)", Kind::Text)
                .when("edge_ca.generate", &["import files"]),
            field(
                "edge_ca.trust_bundle",
                "Trust bundle",
                "root CA PEM that modules should trust (path, optional)",
                Kind::Text,
            )
            .when("edge_ca.generate", &["import files"]),
            field(
                "edge_ca.generate.common_name",
                "Common name",
                "must differ from the hostname and device id",
                Kind::Text,
            )
            .recommend("edgeprep Edge CA")
            .when("edge_ca.generate", &["generate here"]),
            // A fixed name is never the hostname or device id, which IoT Edge refuses as the
            // Edge CA's common name; the CA may rename it when it signs.
            field(
                "edge_ca.csr.common_name",
                "Common name",
                "the CSR's subject; must differ from the hostname and device id",
                Kind::Text,
            )
            .recommend("edgeprep Edge CA")
            .when("edge_ca.generate", &[EDGE_CA_CSR]),
            field("edge_ca.generate.days", "Days valid", "whole days, e.g. 365", Kind::Number)
                .recommend("365")
                .when("edge_ca.generate", &["generate here"]),
            field(
                "edge_ca.os_trust_store",
                "OS trust store",
                "also trust the root on the host (docker pulls)",
                Kind::Bool,
            )
            .when("edge_ca.generate", &["import files", "generate here"]),
        ],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "upstream",
        title: "Upstream protocol",
        why: "How edgeAgent and edgeHub reach IoT Hub. Where only port 443 is open, AMQP or MQTT over \
              WebSockets is the one that gets through.",
        fields: &[field(
            "upstream.protocol",
            "Protocol",
            "Amqp, AmqpWs, Mqtt or MqttWs",
            Kind::Choice(&["Amqp", "AmqpWs", "Mqtt", "MqttWs"]),
        )
        .recommend("AmqpWs")
        .required()],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "proxy",
        title: "Proxy",
        why: "Behind a proxy, IoT Edge needs it in four places (edgeAgent, docker, aziot-edged, \
              aziot-identityd); missing one is the classic half-working device.",
        fields: &[
            field("proxy.url", "Proxy URL", "http://[user:pass@]host:port", Kind::Secret).required(),
            field(
                "proxy.no_proxy",
                "No proxy for",
                "hosts docker reaches directly, e.g. localhost,127.0.0.1",
                Kind::Text,
            )
            .recommend("localhost,127.0.0.1"),
        ],
        first_boot_only: false,
        recommend_change: false,
    },
    Section {
        key: "agent",
        title: "Runtime image",
        why: "The bootstrap edgeAgent image. Pin an exact version so every device runs the same \
              runtime; a private registry also needs its credentials here.",
        fields: &[
            field(
                "agent.image",
                "Agent image",
                "registry/repository:tag, e.g. mcr.microsoft.com/azureiotedge-agent:1.4.43",
                Kind::Text,
            )
            .recommend("mcr.microsoft.com/azureiotedge-agent:1.4.43"),
            field(
                "agent.auth",
                "Credentials",
                "a private registry needs a user and password",
                Kind::Presence(&AUTH_CHOICES),
            ),
            field("agent.auth.server", "Registry", "e.g. contoso.azurecr.io", Kind::Text)
                .required()
                .when("agent.auth", &["user and password"]),
            field("agent.auth.username", "User", "the registry user", Kind::Text)
                .required()
                .when("agent.auth", &["user and password"]),
            field("agent.auth.password", "Password", "never shown, never logged", Kind::Secret)
                .when("agent.auth", &["user and password"]),
        ],
        first_boot_only: false,
        recommend_change: false,
    },
    Section {
        key: "agent.host_storage",
        title: "Agent storage",
        why: "edgeAgent keeps its state in a host directory, so a recreated container does not start \
              from nothing.",
        fields: &[field(
            "agent.host_storage",
            "Host directory",
            "absolute path on the device, e.g. /var/lib/edgeprep/edge-agent",
            Kind::Text,
        )
        .recommend(crate::answers::validate::DEFAULT_HOST_STORAGE)
        .required()],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "allow_elevated_docker_permissions",
        title: "Privileges",
        why: "With false, no deployment can start privileged modules or add Docker capabilities; keep \
              true only if a module needs them.",
        fields: &[field(
            "allow_elevated_docker_permissions",
            "Allow elevated",
            "false: no privileged modules, no added capabilities",
            Kind::Bool,
        )
        .recommend("false")
        .required()],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "image_garbage_collection",
        title: "Image cleanup",
        why: "Old module images fill the disk of a device nobody visits. IoT Edge can remove images \
              unused for a while, daily at a quiet hour.",
        fields: &[
            field("image_garbage_collection.enabled", "Enabled", "true or false", Kind::Bool)
                .recommend("true"),
            field("image_garbage_collection.cleanup_recurrence", "Every", "whole days, e.g. 1d", Kind::Text)
                .recommend("1d"),
            field(
                "image_garbage_collection.image_age_cleanup_threshold",
                "Unused for",
                "e.g. 7d",
                Kind::Text,
            )
            .recommend("7d"),
            field("image_garbage_collection.cleanup_time", "At", "HH:MM, device local time", Kind::Text)
                .recommend("03:00"),
        ],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "logging",
        title: "Container logs",
        why: "Docker's default json-file driver never rotates: module logs grow until the disk is \
              full. The local driver with limits keeps them bounded.",
        fields: &[
            field(
                "logging.driver",
                "Driver",
                "local, json-file or journald",
                Kind::Choice(&["local", "json-file", "journald"]),
            )
            .recommend("local")
            .required(),
            field("logging.max_size", "Max size", "per file, e.g. 10m", Kind::Text)
                .recommend("10m")
                .when("logging.driver", &["local", "json-file"]),
            field("logging.max_files", "Max files", "files kept per container, e.g. 3", Kind::Number)
                .recommend("3")
                .when("logging.driver", &["local", "json-file"]),
        ],
        first_boot_only: false,
        recommend_change: true,
    },
    Section {
        key: "dns",
        title: "DNS",
        why: "Containers get their DNS servers from docker; on sites where the host's resolver is \
              local-only (127.0.0.53), modules cannot resolve IoT Hub without these.",
        fields: &[field(
            "dns.servers",
            "Servers",
            "IP addresses, comma-separated, e.g. 10.0.0.2, 1.1.1.1",
            Kind::List,
        )
        .required()],
        first_boot_only: false,
        recommend_change: false,
    },
    Section {
        key: "provisioning",
        title: "Provisioning",
        why: "How the device gets its identity in IoT Hub: a connection string for one device, or \
              DPS for a fleet.",
        fields: &[
            field(
                "provisioning.source",
                "Source",
                "manual (connection string) or dps",
                Kind::Choice(&["manual", "dps"]),
            )
            .recommend("manual")
            .required(),
            field(
                "provisioning.connection_string",
                "Connection string",
                "HostName=...;DeviceId=...;SharedAccessKey=...",
                Kind::Secret,
            )
            .when("provisioning.source", &["manual"]),
            field(
                "provisioning.global_endpoint",
                "Endpoint",
                "e.g. https://global.azure-devices-provisioning.net",
                Kind::Text,
            )
            .recommend("https://global.azure-devices-provisioning.net")
            .when("provisioning.source", &["dps"]),
            field("provisioning.id_scope", "ID scope", "e.g. 0ne00000000", Kind::Text)
                .when("provisioning.source", &["dps"]),
            field(
                "provisioning.attestation",
                "Attestation",
                "symmetric_key, x509 or tpm",
                Kind::Choice(&["symmetric_key", "x509", "tpm"]),
            )
            .recommend("symmetric_key")
            .when("provisioning.source", &["dps"]),
            field(
                "provisioning.registration_id",
                "Registration id",
                "the device's DPS registration id",
                Kind::Text,
            )
            .when("provisioning.source", &["dps"]),
            field("provisioning.symmetric_key", "Symmetric key", "base64, never shown", Kind::Secret)
                .when("provisioning.attestation", &["symmetric_key"]),
            field(
                "provisioning.identity_cert",
                "Identity cert",
                "device certificate path on the device",
                Kind::Text,
            )
            .when("provisioning.attestation", &["x509"]),
            field(
                "provisioning.identity_pk",
                "Identity key",
                "device private key path on the device",
                Kind::Text,
            )
            .when("provisioning.attestation", &["x509"]),
        ],
        first_boot_only: true,
        recommend_change: true,
    },
    Section {
        key: "hostname",
        title: "Hostname",
        why: "Modules and downstream devices reach the device by this name, and edgeHub's \
              certificate carries it: it must match the OS hostname.",
        fields: &[field(
            "hostname",
            "Hostname",
            "e.g. edge-gw-01 or edge-gw-01.plant.example.com",
            Kind::Text,
        )
        .required()],
        first_boot_only: true,
        recommend_change: true,
    },
];

/// The section with this top-level key.
pub fn section(key: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.key == key)
}

/// The field with this dotted key, in any section.
pub fn find_field(key: &str) -> Option<&'static Field> {
    SECTIONS.iter().flat_map(|s| s.fields.iter()).find(|f| f.key == key)
}

/// The three ways through the wizard the Overview offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Every step but provisioning and hostname.
    Production,
    /// Every step, provisioning and hostname included.
    FirstBoot,
    /// The Edge CA step only.
    RotateCa,
}

impl Path {
    pub const ALL: [Path; 3] = [Path::Production, Path::FirstBoot, Path::RotateCa];

    pub fn title(self) -> &'static str {
        match self {
            Path::Production => "Prepare for production",
            Path::FirstBoot => "First-boot setup",
            Path::RotateCa => "Rotate the Edge CA",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            Path::Production => {
                "every step: CA, protocol, proxy, image, storage, privileges, cleanup, logs, DNS"
            }
            Path::FirstBoot => "the same, plus provisioning and hostname",
            Path::RotateCa => "the certificate step, then review and apply",
        }
    }

    /// Whether this path walks the section.
    pub fn includes(self, section: &Section) -> bool {
        match self {
            Path::Production => !section.first_boot_only,
            Path::FirstBoot => true,
            Path::RotateCa => section.key == "edge_ca",
        }
    }

    /// The sections this path walks, in order.
    pub fn sections(self) -> impl Iterator<Item = &'static Section> {
        SECTIONS.iter().filter(move |s| self.includes(s))
    }

    /// The smallest path that walks every section in `keys` (the sections an answers file sets).
    pub fn covering<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<Path> {
        let keys: Vec<&str> = keys.into_iter().collect();
        [Path::RotateCa, Path::Production, Path::FirstBoot]
            .into_iter()
            .find(|path| keys.iter().all(|k| section(k).is_some_and(|s| path.includes(s))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::answers::Answers;

    #[test]
    fn every_answers_section_has_exactly_one_step() {
        // Serialising an Answers with every section set names every top-level key; a new section
        // in the model fails here until it gets a step.
        let toml = toml::Value::try_from(full_answers()).unwrap();
        let mut keys: Vec<&str> = toml.as_table().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut steps: Vec<&str> = SECTIONS.iter().map(|s| s.key).filter(|k| !k.contains('.')).collect();
        steps.sort_unstable();
        assert_eq!(keys, steps);
        // A step for a key inside a section names a key of the model, and is the only step
        // that asks it.
        for nested in SECTIONS.iter().filter(|s| s.key.contains('.')) {
            let found = nested.key.split('.').try_fold(&toml, |node, part| node.get(part));
            assert!(found.is_some(), "{} is not an answers key", nested.key);
            let askers: Vec<&str> = SECTIONS
                .iter()
                .filter(|s| {
                    s.fields
                        .iter()
                        .any(|f| f.key == nested.key || f.key.starts_with(&format!("{}.", nested.key)))
                })
                .map(|s| s.key)
                .collect();
            assert_eq!(askers, [nested.key]);
        }
    }

    #[test]
    fn every_field_key_lies_in_its_section_and_conditions_name_fields_of_it() {
        for section in SECTIONS {
            for field in section.fields {
                assert!(
                    field.key == section.key || field.key.starts_with(&format!("{}.", section.key)),
                    "{} outside {}",
                    field.key,
                    section.key
                );
                if let Some((other, values)) = field.when {
                    let other = find_field(other).unwrap_or_else(|| panic!("{other} is not a field"));
                    let options =
                        other.kind.options().unwrap_or_else(|| panic!("{} has no options", other.key));
                    assert!(values.iter().all(|v| options.contains(v)), "{}: {values:?}", field.key);
                }
                if let (Some(options), Some(rec)) = (field.kind.options(), field.recommended) {
                    assert!(options.contains(&rec), "{}: {rec}", field.key);
                }
            }
        }
    }

    #[test]
    fn the_preselected_path_covers_what_a_file_sets() {
        assert_eq!(Path::covering(["edge_ca"]), Some(Path::RotateCa));
        assert_eq!(Path::covering(["edge_ca", "dns"]), Some(Path::Production));
        assert_eq!(Path::covering(["hostname", "dns"]), Some(Path::FirstBoot));
        assert_eq!(Path::covering([]), Some(Path::RotateCa));
    }

    pub(crate) fn full_answers() -> Answers {
        use crate::answers::*;
        Answers {
            hostname: Some("edge-01".into()),
            allow_elevated_docker_permissions: Some(false),
            provisioning: Some(Provisioning {
                source: ProvisioningSource::Dps,
                connection_string: None,
                global_endpoint: Some("https://global.azure-devices-provisioning.net".into()),
                id_scope: Some("0ne0000ABCD".into()),
                attestation: Some(Attestation::SymmetricKey),
                registration_id: Some("edge-01".into()),
                symmetric_key: Some("c2VjcmV0LWtleS0wMTIzNDU2Nzg5".into()),
                identity_cert: None,
                identity_pk: None,
            }),
            upstream: Some(Upstream { protocol: UpstreamProtocol::MqttWs }),
            proxy: Some(Proxy { url: "http://u:p@proxy:3128".into(), no_proxy: Some("localhost".into()) }),
            agent: Some(Agent {
                image: Some("contoso.azurecr.io/azureiotedge-agent:1.4.43".into()),
                auth: Some(RegistryAuth {
                    server: "contoso.azurecr.io".into(),
                    username: "pull".into(),
                    password: Some("pw".into()),
                    password_file: None,
                }),
                host_storage: Some("/var/lib/edgeprep/edge-agent".into()),
            }),
            image_garbage_collection: Some(ImageGarbageCollection {
                enabled: Some(true),
                cleanup_recurrence: Some("2d".into()),
                image_age_cleanup_threshold: None,
                cleanup_time: Some("04:15".into()),
            }),
            logging: Some(Logging {
                driver: LogDriver::JsonFile,
                max_size: Some("5m".into()),
                max_files: Some(4),
            }),
            dns: Some(Dns { servers: vec!["10.0.0.2".into(), "1.1.1.1".into()] }),
            edge_ca: Some(EdgeCa {
                cert: None,
                key: None,
                trust_bundle: None,
                os_trust_store: Some(false),
                generate: Some(GenerateEdgeCa { common_name: Some("Plant CA".into()), days: None }),
            }),
        }
    }
}
