//! What IoT Edge 1.4's config.toml may hold, as its own parser sees it (iotedge-1.4.md §1):
//! the keys of each table, the top-level keys that must come before the first table, and the
//! tables whose keys are the user's own names. IoT Edge silently ignores a key it does not know,
//! so both the plan (never write such a file) and `check` (name what a device has) ask here.

/// Top-level keys IoT Edge reads. Written after a table header by mistake, TOML puts them
/// inside that table, and IoT Edge ignores them without a word: the setting silently does
/// nothing. The docs ask for them before any table.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "hostname",
    "parent_hostname",
    "local_gateway_hostname",
    "trust_bundle_cert",
    "allow_elevated_docker_permissions",
    "auto_reprovisioning_mode",
    "prefer_module_identity_cache",
    "cloud_timeout_sec",
    "cloud_retries",
    "additional_info",
    "imported_master_encryption_key",
];

/// Tables whose keys are names the user chooses (environment variables, key and cert ids).
pub const FREE_FORM_TABLES: &[&[&str]] =
    &[&["agent", "env"], &["aziot_keys"], &["preloaded_keys"], &["preloaded_certs"]];

/// Keys IoT Edge accepts in a table of config.toml; `None` for maps whose keys are free
/// (`[agent.env]`, `[aziot_keys]`, createOptions, ...). From IoT Edge 1.4's super config
/// (iotedge-1.4.md §1).
pub fn known_keys(path: &[&str]) -> Option<&'static [&'static str]> {
    Some(match path {
        [] => &[
            "hostname",
            "parent_hostname",
            "local_gateway_hostname",
            "trust_bundle_cert",
            "allow_elevated_docker_permissions",
            "auto_reprovisioning_mode",
            "prefer_module_identity_cache",
            "cloud_timeout_sec",
            "cloud_retries",
            "aziot_max_requests",
            "iotedge_max_requests",
            "additional_info",
            "imported_master_encryption_key",
            "localid",
            "provisioning",
            "agent",
            "connect",
            "listen",
            "watchdog",
            "edge_ca",
            "cert_issuance",
            "aziot_keys",
            "preloaded_keys",
            "preloaded_certs",
            "tpm",
            "image_garbage_collection",
            "moby_runtime",
        ],
        ["provisioning"] => &[
            "source",
            "connection_string",
            "iothub_hostname",
            "device_id",
            "authentication",
            "global_endpoint",
            "id_scope",
            "payload",
            "attestation",
        ],
        ["provisioning", "authentication"] => &["method", "device_id_pk", "identity_cert", "identity_pk"],
        ["provisioning", "attestation"] => {
            &["method", "registration_id", "symmetric_key", "identity_cert", "identity_pk"]
        }
        ["agent"] => &["name", "type", "imagePullPolicy", "config", "env"],
        ["agent", "config"] => &["image", "createOptions", "digest", "auth"],
        ["agent", "config", "auth"] => {
            &["serveraddress", "username", "password", "email", "auth", "identitytoken", "registrytoken"]
        }
        ["connect"] => &["workload_uri", "management_uri"],
        ["listen"] => &["workload_uri", "management_uri", "min_tls_version"],
        ["watchdog"] => &["max_retries"],
        ["edge_ca"] => &[
            "cert",
            "pk",
            "method",
            "common_name",
            "subject",
            "expiry_days",
            "auto_renew",
            "url",
            "username",
            "password",
            "identity_cert",
            "identity_pk",
            "bootstrap_identity_cert",
            "bootstrap_identity_pk",
            "auto_generated_edge_ca_expiry_days",
        ],
        ["edge_ca", "auto_renew"] | ["cert_issuance", "est", "identity_auto_renew"] => {
            &["rotate_key", "threshold", "retry"]
        }
        ["cert_issuance"] => &["est", "local_ca"],
        ["cert_issuance", "est"] => &["trusted_certs", "auth", "identity_auto_renew", "urls"],
        ["cert_issuance", "est", "auth"] => &[
            "username",
            "password",
            "identity_cert",
            "identity_pk",
            "bootstrap_identity_cert",
            "bootstrap_identity_pk",
        ],
        ["cert_issuance", "local_ca"] => &["cert", "pk"],
        ["tpm"] => &["tcti", "auth_key_index", "hierarchy_authorization"],
        ["tpm", "hierarchy_authorization"] => &["endorsement", "owner"],
        ["image_garbage_collection"] => {
            &["enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"]
        }
        ["moby_runtime"] => &["uri", "network", "content_trust"],
        ["moby_runtime", "network"] => &["name", "ipv6", "ipam"],
        ["aziot_max_requests"] => &["keyd", "certd", "tpmd", "identityd"],
        ["iotedge_max_requests"] => &["management", "workload"],
        _ => return None,
    })
}
