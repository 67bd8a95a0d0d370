//! The rules an answers file must pass, mirroring what IoT Edge 1.4 itself accepts, so that a
//! file that passes here is not refused later by `iotedge config apply` or flagged by
//! `iotedge check`.
//!
//! [`validate`] is a pure function: it looks only at the [`Answers`] value (no files, no
//! network), and reports every problem it finds rather than stopping at the first, because a
//! technician fixing a file on a bench wants one list, not one round trip per mistake.
//!
//! Messages name the key as `[section] key` (or just `key` at the top level), say what is wrong
//! and what a valid value looks like. They never contain a secret value: connection strings,
//! symmetric keys, registry passwords and proxy passwords are described, never echoed.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{
    Agent, Answers, Attestation, Dns, EdgeCa, ImageGarbageCollection, LogDriver, Logging, Provisioning,
    ProvisioningSource, Proxy, RegistryAuth,
};
use crate::secrets::MASK;

/// One problem or note about one answers key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted path of the key the finding is about, e.g. `image_garbage_collection.cleanup_time`
    /// (or a table such as `edge_ca`). Lets the parser point at the line in the file.
    pub key: String,
    /// The full message, starting with the key as `[section] key`; safe to print.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Everything [`validate`] found. Errors make the answers unusable; warnings are notes the
/// caller shows but that do not stop anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Findings {
    /// True when there is nothing that stops the answers from being used.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, key: &str, detail: impl AsRef<str>) {
        self.errors.push(finding(key, detail.as_ref()));
    }

    fn warning(&mut self, key: &str, detail: impl AsRef<str>) {
        self.warnings.push(finding(key, detail.as_ref()));
    }
}

/// `detail` continues the key label: it starts with ` = "value": ...` or `: ...`.
fn finding(key: &str, detail: &str) -> Finding {
    Finding { key: key.to_string(), message: format!("{}{detail}", key_label(key)) }
}

/// How a dotted key path is shown to people: `hostname`, `[agent.auth] server`, `[edge_ca]`.
pub fn key_label(path: &str) -> String {
    match path.rsplit_once('.') {
        Some((table, key)) => format!("[{table}] {key}"),
        None if TABLES.contains(&path) => format!("[{path}]"),
        None => path.to_string(),
    }
}

/// Top-level keys that are tables, so a finding about the whole table reads `[edge_ca]`.
const TABLES: &[&str] =
    &["provisioning", "upstream", "proxy", "agent", "image_garbage_collection", "logging", "dns", "edge_ca"];

/// A value quoted the way it was written in the TOML file (control characters escaped).
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.escape_debug())
}

/// Check every rule on `answers`. Pure: the same answers always give the same findings.
pub fn validate(answers: &Answers) -> Findings {
    let mut f = Findings::default();
    if let Some(hostname) = &answers.hostname {
        check_hostname(&mut f, hostname);
    }
    if let Some(p) = &answers.provisioning {
        check_provisioning(&mut f, p);
    }
    if let Some(proxy) = &answers.proxy {
        check_proxy(&mut f, proxy);
    }
    if let Some(agent) = &answers.agent {
        check_agent(&mut f, agent);
    }
    if let Some(gc) = &answers.image_garbage_collection {
        check_image_gc(&mut f, gc);
    }
    if let Some(logging) = &answers.logging {
        check_logging(&mut f, logging);
    }
    if let Some(dns) = &answers.dns {
        check_dns(&mut f, dns);
    }
    if let Some(ca) = &answers.edge_ca {
        check_edge_ca(&mut f, ca);
    }
    f
}

// ---------------------------------------------------------------------------------------------
// hostname

/// IoT Edge uses the hostname as the Edge CA's issuer name and edgeHub's server certificate
/// name; `iotedge check` warns past 64 characters and for names that are not RFC 1035.
fn check_hostname(f: &mut Findings, hostname: &str) {
    const KEY: &str = "hostname";
    const EXAMPLE: &str = "e.g. \"edge-gw-01\" or \"edge-gw-01.plant.example.com\"";
    let shown = quoted(hostname);
    if hostname.is_empty() {
        f.error(KEY, format!(" = \"\": is empty; use the device's hostname, {EXAMPLE}, or remove the key"));
        return;
    }
    if hostname.parse::<IpAddr>().is_ok() {
        return;
    }
    let length = hostname.chars().count();
    if length > 64 {
        f.error(
            KEY,
            format!(
                " = {shown}: is {length} characters long; IoT Edge allows at most 64 because the hostname becomes a certificate name. Use a shorter name, {EXAMPLE}"
            ),
        );
        return;
    }
    let mut starts_with_digit = false;
    for label in hostname.split('.') {
        let problem = if label.is_empty() {
            Some("has an empty part (a leading or trailing dot, or two dots in a row)".to_string())
        } else if label.len() > 63 {
            Some(format!("has a part longer than 63 characters (\"{label}\")"))
        } else if let Some(bad) = label.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
            Some(format!(
                "contains {}; only letters, digits, hyphens and dots between parts are allowed",
                quoted(&bad.to_string())
            ))
        } else if label.starts_with('-') || label.ends_with('-') {
            Some(format!("has a part that starts or ends with a hyphen (\"{label}\")"))
        } else {
            starts_with_digit |= label.starts_with(|c: char| c.is_ascii_digit());
            None
        };
        if let Some(problem) = problem {
            f.error(KEY, format!(" = {shown}: {problem}; {EXAMPLE}"));
            return;
        }
    }
    if starts_with_digit {
        f.warning(
            KEY,
            format!(
                " = {shown}: a part starts with a digit, which `iotedge check` reports as not RFC 1035 compliant; prefer a name whose parts start with a letter"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// [provisioning]

/// Connection strings and DPS symmetric keys are base64; IoT Edge accepts them with or without
/// the trailing `=` padding, so we do too.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn is_base64(text: &str) -> bool {
    BASE64_ANY_PADDING.decode(text).is_ok_and(|bytes| !bytes.is_empty())
}

/// Keys that only mean something with `source = "dps"`.
fn dps_keys(p: &Provisioning) -> [(&'static str, bool); 7] {
    [
        ("global_endpoint", p.global_endpoint.is_some()),
        ("id_scope", p.id_scope.is_some()),
        ("attestation", p.attestation.is_some()),
        ("registration_id", p.registration_id.is_some()),
        ("symmetric_key", p.symmetric_key.is_some()),
        ("identity_cert", p.identity_cert.is_some()),
        ("identity_pk", p.identity_pk.is_some()),
    ]
}

fn check_provisioning(f: &mut Findings, p: &Provisioning) {
    match p.source {
        ProvisioningSource::Manual => {
            // Mixing manual and DPS keys is the most common provisioning mistake in the field;
            // IoT Edge reports it only as "data did not match any variant of untagged enum".
            for (name, present) in dps_keys(p) {
                if present {
                    f.error(
                        &format!("provisioning.{name}"),
                        ": only applies to source = \"dps\"; with source = \"manual\" remove it (IoT Edge would refuse the mix with \"data did not match any variant of untagged enum\")",
                    );
                }
            }
            match &p.connection_string {
                None => f.error(
                    "provisioning.connection_string",
                    ": is missing; source = \"manual\" needs the device's connection string from IoT Hub, like \"HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>\"",
                ),
                Some(cs) => check_connection_string(f, cs),
            }
        }
        ProvisioningSource::Dps => check_dps(f, p),
    }
}

/// Mirrors IoT Edge's parser: split on `;`, then on the first `=`; `HostName`, `DeviceId` and
/// `SharedAccessKey` are required, other parts are ignored. The value itself is never shown.
fn check_connection_string(f: &mut Findings, cs: &str) {
    const KEY: &str = "provisioning.connection_string";
    if cs.trim() != cs {
        f.error(
            KEY,
            ": has spaces or a line break at the start or end; remove them (the value is not shown because it holds the device key)",
        );
        return;
    }
    let mut host = None;
    let mut device = None;
    let mut key = None;
    for part in cs.split(';') {
        match part.split_once('=') {
            Some(("HostName", v)) => host = Some(v),
            Some(("DeviceId", v)) => device = Some(v),
            Some(("SharedAccessKey", v)) => key = Some(v),
            _ => {}
        }
    }
    let missing: Vec<&str> = [("HostName", host), ("DeviceId", device), ("SharedAccessKey", key)]
        .into_iter()
        .filter(|(_, v)| v.is_none_or(str::is_empty))
        .map(|(name, _)| name)
        .collect();
    if !missing.is_empty() {
        let hint = if cs.contains("SharedAccessSignature") {
            "; it looks like a SAS token, not a connection string"
        } else {
            ""
        };
        f.error(
            KEY,
            format!(
                ": {} missing; copy the device's primary connection string from IoT Hub, like \"HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>\"{hint}",
                join_names(&missing, "is", "are")
            ),
        );
    }
    if host.is_some_and(|h| h.contains("://")) {
        f.error(KEY, ": HostName must be the hub's host name only, like \"contoso-hub.azure-devices.net\", without https://");
    }
    if let Some(key) = key.filter(|k| !k.is_empty())
        && !is_base64(key)
    {
        f.error(
            KEY,
            ": SharedAccessKey is not valid base64; copy the connection string again from IoT Hub (a common cause is a truncated key or extra characters)",
        );
    }
}

/// `a`, `a and b`, `a, b and c`, followed by the verb in the right number.
fn join_names(names: &[&str], singular: &str, plural: &str) -> String {
    match names {
        [one] => format!("{one} {singular}"),
        [rest @ .., last] => format!("{} and {last} {plural}", rest.join(", ")),
        [] => String::new(),
    }
}

fn check_dps(f: &mut Findings, p: &Provisioning) {
    if p.connection_string.is_some() {
        f.error(
            "provisioning.connection_string",
            ": only applies to source = \"manual\"; with source = \"dps\" remove it (the device gets its identity from DPS)",
        );
    }
    match &p.global_endpoint {
        None => f.error(
            "provisioning.global_endpoint",
            ": is missing; source = \"dps\" needs it, usually \"https://global.azure-devices-provisioning.net\"",
        ),
        Some(endpoint) => check_global_endpoint(f, endpoint),
    }
    match p.id_scope.as_deref() {
        None => f.error(
            "provisioning.id_scope",
            ": is missing; copy the ID Scope from the DPS overview page, e.g. \"0ne00ABCDEF\"",
        ),
        Some(scope) if scope.is_empty() || scope.chars().any(|c| !c.is_ascii_alphanumeric()) => f.error(
            "provisioning.id_scope",
            format!(
                " = {}: is not an ID Scope; copy it from the DPS overview page, e.g. \"0ne00ABCDEF\" (letters and digits only)",
                quoted(scope)
            ),
        ),
        Some(_) => {}
    }
    let forbid = |f: &mut Findings, name: &str, present: bool, method: &str| {
        if present {
            f.error(
                &format!("provisioning.{name}"),
                format!(": does not apply to attestation = \"{method}\"; remove it"),
            );
        }
    };
    match p.attestation {
        None => f.error(
            "provisioning.attestation",
            ": is missing; source = \"dps\" needs attestation = \"symmetric_key\", \"x509\" or \"tpm\", matching the DPS enrollment",
        ),
        Some(Attestation::SymmetricKey) => {
            require_registration_id(f, p, "symmetric_key");
            match p.symmetric_key.as_deref() {
                None => f.error(
                    "provisioning.symmetric_key",
                    ": is missing; attestation = \"symmetric_key\" needs the enrollment's (or derived device) key in base64",
                ),
                Some(key) if !is_base64(key) => f.error(
                    "provisioning.symmetric_key",
                    ": is not valid base64; copy the key again from the DPS enrollment (the value is not shown because it is a secret)",
                ),
                Some(_) => {}
            }
            forbid(f, "identity_cert", p.identity_cert.is_some(), "symmetric_key");
            forbid(f, "identity_pk", p.identity_pk.is_some(), "symmetric_key");
        }
        Some(Attestation::X509) => {
            if let Some(id) = &p.registration_id {
                check_registration_id(f, id);
            }
            check_device_path(f, "provisioning.identity_cert", p.identity_cert.as_deref(), "/var/aziot/certs/device-id.pem");
            check_device_path(f, "provisioning.identity_pk", p.identity_pk.as_deref(), "/var/aziot/secrets/device-id.key.pem");
            forbid(f, "symmetric_key", p.symmetric_key.is_some(), "x509");
        }
        Some(Attestation::Tpm) => {
            require_registration_id(f, p, "tpm");
            forbid(f, "symmetric_key", p.symmetric_key.is_some(), "tpm");
            forbid(f, "identity_cert", p.identity_cert.is_some(), "tpm");
            forbid(f, "identity_pk", p.identity_pk.is_some(), "tpm");
        }
    }
}

fn check_global_endpoint(f: &mut Findings, endpoint: &str) {
    const KEY: &str = "provisioning.global_endpoint";
    const FIX: &str =
        "use \"https://global.azure-devices-provisioning.net\" unless your DPS uses another endpoint";
    match url::Url::parse(endpoint) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()) => {}
        Ok(u) if u.scheme() != "https" => {
            f.error(KEY, format!(" = {}: must be an https:// URL; {FIX}", quoted(endpoint)));
        }
        _ => f.error(KEY, format!(" = {}: is not a URL; {FIX}", quoted(endpoint))),
    }
}

fn require_registration_id(f: &mut Findings, p: &Provisioning, method: &str) {
    match &p.registration_id {
        None => f.error(
            "provisioning.registration_id",
            format!(
                ": is missing; attestation = \"{method}\" needs the enrollment's registration ID, e.g. \"edge-gw-01\""
            ),
        ),
        Some(id) => check_registration_id(f, id),
    }
}

/// DPS registration IDs: up to 128 characters, letters, digits and `-._:`.
fn check_registration_id(f: &mut Findings, id: &str) {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !valid {
        f.error(
            "provisioning.registration_id",
            format!(
                " = {}: DPS registration IDs are 1 to 128 letters, digits, '-', '.', '_' or ':', e.g. \"edge-gw-01\"",
                quoted(id)
            ),
        );
    }
}

/// Paths that IoT Edge reads on the device itself, written as plain absolute paths; edgeprep
/// turns them into the `file://` URIs config.toml needs.
fn check_device_path(f: &mut Findings, key: &str, value: Option<&str>, example: &str) {
    match value {
        None => f.error(
            key,
            format!(": is missing; attestation = \"x509\" needs it, as an absolute path on the device, e.g. \"{example}\""),
        ),
        Some(path) if path.starts_with("file://") => f.error(
            key,
            format!(
                " = {}: write the plain absolute path, e.g. \"{example}\"; edgeprep writes the file:// URI itself",
                quoted(path)
            ),
        ),
        Some(path) if !path.starts_with('/') => f.error(
            key,
            format!(" = {}: must be an absolute path on the device, e.g. \"{example}\"", quoted(path)),
        ),
        Some(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// [proxy]

/// The proxy URL with any password replaced by the mask, for messages.
fn mask_proxy_url(raw: &str) -> String {
    let (prefix, rest) = match raw.find("://") {
        Some(at) => raw.split_at(at + 3),
        None => ("", raw),
    };
    // The last `@` rather than the end of the authority: a password with an unescaped `/`, `?`
    // or `#` would otherwise end the authority early and be echoed whole.
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{prefix}{user}:{MASK}@{host}"),
            None => raw.to_string(),
        },
        None => raw.to_string(),
    }
}

/// True when the URL's authority ends in an explicit `:port`. `url` hides a port equal to the
/// scheme's default (`http://p:80` reports no port), so this looks at the text itself.
fn has_explicit_port(raw: &str) -> bool {
    let Some(at) = raw.find("://") else {
        return false;
    };
    let rest = &raw[at + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let port = if host_port.starts_with('[') {
        host_port.rsplit_once("]:").map(|(_, p)| p)
    } else {
        host_port.rsplit_once(':').map(|(_, p)| p)
    };
    port.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn check_proxy(f: &mut Findings, proxy: &Proxy) {
    const KEY: &str = "proxy.url";
    const EXAMPLE: &str =
        "e.g. \"http://proxy.example.com:3128\" or \"http://user:password@proxy.example.com:3128\"";
    let raw = proxy.url.as_str();
    let shown = quoted(&mask_proxy_url(raw));
    if !raw.contains("://") {
        f.error(KEY, format!(" = {shown}: must be a URL starting with http://, {EXAMPLE}"));
    } else {
        match url::Url::parse(raw) {
            Err(e) => f.error(KEY, format!(" = {shown}: is not a valid URL ({e}); {EXAMPLE}")),
            Ok(u) => {
                match u.scheme() {
                    "http" => {}
                    "https" => f.warning(
                        KEY,
                        format!(
                            " = {shown}: uses https://, but the IoT Edge daemon and runtime containers always talk plain HTTP to the proxy (the proxy still tunnels TLS to Azure); an https:// proxy URL usually fails (Azure/iotedge issue #7091). Use http://, e.g. \"http://proxy.example.com:3128\", unless you know your proxy needs otherwise"
                        ),
                    ),
                    other => f.error(
                        KEY,
                        format!(
                            " = {shown}: scheme \"{other}\" is not supported; IoT Edge only talks HTTP to a proxy, {EXAMPLE}"
                        ),
                    ),
                }
                if u.host_str().is_none_or(str::is_empty) {
                    f.error(KEY, format!(" = {shown}: has no proxy host name, {EXAMPLE}"));
                } else if !has_explicit_port(raw) {
                    f.error(
                        KEY,
                        format!(" = {shown}: has no port; the port must be written explicitly, {EXAMPLE}"),
                    );
                }
                if !matches!(u.path(), "" | "/") || u.query().is_some() || u.fragment().is_some() {
                    f.error(
                        KEY,
                        format!(" = {shown}: must end after host:port (no path, ? or #), {EXAMPLE}"),
                    );
                }
            }
        }
    }
    if let Some(no_proxy) = &proxy.no_proxy {
        check_no_proxy(f, no_proxy);
    }
}

fn check_no_proxy(f: &mut Findings, no_proxy: &str) {
    const KEY: &str = "proxy.no_proxy";
    const EXAMPLE: &str = "e.g. \"localhost,127.0.0.1,.corp.example.com\"";
    let shown = quoted(no_proxy);
    if no_proxy.trim().is_empty() {
        f.error(
            KEY,
            format!(" = {shown}: is empty; list hosts separated by commas, {EXAMPLE}, or remove the key"),
        );
        return;
    }
    let entries: Vec<&str> = no_proxy.split(',').collect();
    if entries.iter().any(|e| e.chars().any(char::is_whitespace)) {
        f.error(KEY, format!(" = {shown}: contains spaces; separate hosts with commas only, {EXAMPLE}"));
    }
    if entries.iter().any(|e| e.is_empty()) {
        f.error(
            KEY,
            format!(" = {shown}: has an empty entry (two commas in a row, or a comma at the start or end), {EXAMPLE}"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// [agent]

/// A container image reference split into its parts (`registry/repository:tag@digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry host (and port), when the reference names one; Docker Hub otherwise.
    pub registry: Option<&'a str>,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Split and check an image reference the way Docker would read it. The error says what is
/// wrong in a few words.
pub fn parse_image_ref(image: &str) -> Result<ImageRef<'_>, String> {
    if image.is_empty() {
        return Err("is empty".into());
    }
    if image.chars().any(char::is_whitespace) {
        return Err("contains spaces".into());
    }
    if image.contains("://") {
        return Err("must not start with a scheme such as https://; write registry/repository:tag".into());
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let valid = digest.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty()
                && algo.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !valid {
            return Err(format!(
                "has an invalid digest \"{digest}\"; a digest looks like sha256:<64 hex digits>"
            ));
        }
    }
    let last_slash = name.rfind('/');
    let (path, tag) = match name.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&name[..colon], Some(&name[colon + 1..]))
        }
        _ => (name, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(format!(
                "has an invalid tag \"{tag}\"; tags are letters, digits, '_', '.' and '-', e.g. 1.4.43"
            ));
        }
    }
    let (registry, repository) = match path.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (Some(first), rest),
        _ => (None, path),
    };
    if repository.is_empty() || repository.split('/').any(str::is_empty) {
        return Err("has an empty repository name".into());
    }
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("repository \"{repository}\" must be lowercase"));
    }
    if let Some(bad) = repository.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-/".contains(*c))) {
        return Err(format!("repository \"{repository}\" contains {}", quoted(&bad.to_string())));
    }
    Ok(ImageRef { registry, repository, tag, digest })
}

/// Docker Hub goes by several names; compare registries with those folded together.
fn canonical_registry(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

/// Tags that move with every release (`1`, `1.4`): production needs a pinned version.
fn is_rolling_tag(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn check_agent(f: &mut Findings, agent: &Agent) {
    const KEY: &str = "agent.image";
    const EXAMPLE: &str = "e.g. \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"";
    let mut image_registry = None;
    if let Some(image) = &agent.image {
        let shown = quoted(image);
        match parse_image_ref(image) {
            Err(problem) => f.error(KEY, format!(" = {shown}: {problem}; {EXAMPLE}")),
            Ok(r) => {
                image_registry = Some(r.registry.unwrap_or("docker.io"));
                if r.digest.is_none() {
                    match r.tag {
                        None => f.warning(
                            KEY,
                            format!(
                                " = {shown}: has no tag, so Docker pulls :latest; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}"
                            ),
                        ),
                        Some("latest") => f.warning(
                            KEY,
                            format!(
                                " = {shown}: :latest changes under you; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}"
                            ),
                        ),
                        Some(tag) if is_rolling_tag(tag) => f.warning(
                            KEY,
                            format!(
                                " = {shown}: :{tag} is a rolling tag that moves with every release; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}"
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if let Some(auth) = &agent.auth {
        check_registry_auth(f, auth, image_registry);
    }
}

fn check_registry_auth(f: &mut Findings, auth: &RegistryAuth, image_registry: Option<&str>) {
    let server = auth.server.as_str();
    let shown = quoted(server);
    let mut server_ok = false;
    if server.is_empty() {
        f.error(
            "agent.auth.server",
            " = \"\": is empty; write the registry host, e.g. \"contoso.azurecr.io\"",
        );
    } else if server.contains("://") {
        f.error(
            "agent.auth.server",
            format!(
                " = {shown}: write the registry host only, without a scheme, e.g. \"contoso.azurecr.io\""
            ),
        );
    } else if server.contains('/') || server.chars().any(char::is_whitespace) {
        f.error(
            "agent.auth.server",
            format!(
                " = {shown}: must be a registry host (and optional :port) only, e.g. \"contoso.azurecr.io\""
            ),
        );
    } else {
        server_ok = true;
    }
    if auth.username.trim().is_empty() {
        f.error(
            "agent.auth.username",
            ": is empty; write the registry user name, e.g. the ACR name or a token name",
        );
    }
    match (&auth.password, &auth.password_file) {
        (Some(_), Some(_)) => f.error(
            "agent.auth.password",
            ": set either password or password_file, not both; password_file keeps the secret out of the answers file",
        ),
        (None, None) => f.error(
            "agent.auth.password",
            ": is missing; set password, or password_file = \"registry-password.txt\" (a file whose first line is the password)",
        ),
        (Some(p), None) if p.is_empty() => {
            f.error("agent.auth.password", ": is empty; write the registry password or use password_file")
        }
        (None, Some(p)) if p.is_empty() => f.error(
            "agent.auth.password_file",
            " = \"\": is empty; write the path of a file whose first line is the password, e.g. \"registry-password.txt\"",
        ),
        _ => {}
    }
    if let Some(image_registry) = image_registry
        && server_ok
        && canonical_registry(server) != canonical_registry(image_registry)
    {
        f.warning(
            "agent.auth.server",
            format!(
                " = {shown}: the agent image comes from \"{image_registry}\", so these credentials will not be used to pull it; set server = \"{image_registry}\" if that is the registry you meant"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// [image_garbage_collection]

const DAY: Duration = Duration::from_secs(86_400);

fn check_image_gc(f: &mut Findings, gc: &ImageGarbageCollection) {
    if let Some(recurrence) = &gc.cleanup_recurrence {
        const KEY: &str = "image_garbage_collection.cleanup_recurrence";
        const RULE: &str = "must be a whole number of days (1d or more), e.g. \"1d\"";
        let shown = quoted(recurrence);
        match humantime::parse_duration(recurrence) {
            Err(e) => f.error(KEY, format!(" = {shown}: is not a duration ({e}); {RULE}")),
            // IoT Edge checks the multiple of a day in nanoseconds; "0d" passes its check but
            // then breaks its scheduling arithmetic, so it is refused here.
            Ok(d) if d < DAY || d.as_nanos() % DAY.as_nanos() != 0 => {
                f.error(KEY, format!(" = {shown}: {RULE}"))
            }
            Ok(_) => {}
        }
    }
    if let Some(threshold) = &gc.image_age_cleanup_threshold
        && let Err(e) = humantime::parse_duration(threshold)
    {
        f.error(
            "image_garbage_collection.image_age_cleanup_threshold",
            format!(
                " = {}: is not a duration ({e}); write a number of days such as \"7d\" (\"0d\" removes unused images at every cleanup)",
                quoted(threshold)
            ),
        );
    }
    if let Some(time) = &gc.cleanup_time
        && !is_hh_mm(time)
    {
        f.error(
            "image_garbage_collection.cleanup_time",
            format!(
                " = {}: must be a 24-hour time \"HH:MM\" with two-digit hours 00-23 and minutes 00-59, in the device's local time, e.g. \"02:30\"",
                quoted(time)
            ),
        );
    }
}

/// `HH:MM`, both fields exactly two digits. IoT Edge's parser also takes `7:30`, but two digits
/// are unambiguous and accepted by every version.
fn is_hh_mm(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return false;
    }
    let hours = (b[0] - b'0') * 10 + (b[1] - b'0');
    let minutes = (b[3] - b'0') * 10 + (b[4] - b'0');
    hours <= 23 && minutes <= 59
}

// ---------------------------------------------------------------------------------------------
// [logging]

/// Docker log sizes: a whole number followed by k, m or g (any case), e.g. `10m`.
fn is_log_size(text: &str) -> bool {
    let Some(unit) = text.chars().last() else {
        return false;
    };
    let number = &text[..text.len() - unit.len_utf8()];
    matches!(unit.to_ascii_lowercase(), 'k' | 'm' | 'g')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && number.chars().any(|c| c != '0')
}

fn check_logging(f: &mut Findings, logging: &Logging) {
    if logging.driver == LogDriver::Journald {
        for (name, present) in
            [("max_size", logging.max_size.is_some()), ("max_files", logging.max_files.is_some())]
        {
            if present {
                f.error(
                    &format!("logging.{name}"),
                    ": does not apply to driver = \"journald\" (journald rotates logs itself, see journald.conf); remove it, or use driver = \"local\"",
                );
            }
        }
        return;
    }
    if let Some(size) = &logging.max_size
        && !is_log_size(size)
    {
        f.error(
            "logging.max_size",
            format!(" = {}: must be a whole number followed by k, m or g, e.g. \"10m\"", quoted(size)),
        );
    }
    if logging.max_files == Some(0) {
        f.error("logging.max_files", " = 0: must be 1 or more, e.g. 3");
    }
}

// ---------------------------------------------------------------------------------------------
// [dns]

fn check_dns(f: &mut Findings, dns: &Dns) {
    const KEY: &str = "dns.servers";
    if dns.servers.is_empty() {
        f.error(
            KEY,
            " = []: is empty; list at least one DNS server IP address, e.g. [\"10.0.0.2\", \"1.1.1.1\"], or remove [dns]",
        );
    }
    for server in &dns.servers {
        if server.parse::<IpAddr>().is_err() {
            f.error(
                KEY,
                format!(
                    ": {} is not an IP address; Docker needs DNS servers as IPv4 or IPv6 addresses, e.g. [\"10.0.0.2\", \"1.1.1.1\"]",
                    quoted(server)
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// [edge_ca]

/// Files edgeprep installs: plain paths on the machine running edgeprep (relative ones are
/// taken from the answers file's directory).
fn check_local_path(f: &mut Findings, key: &str, path: &str) {
    if path.is_empty() {
        f.error(
            key,
            " = \"\": is empty; write the path of the PEM file, e.g. \"certs/edge-ca-full-chain.pem\"",
        );
    } else if path.starts_with("file://") {
        f.error(
            key,
            format!(
                " = {}: write a plain path (relative to the answers file, or absolute); edgeprep installs the file and writes the file:// URI itself",
                quoted(path)
            ),
        );
    }
}

fn check_edge_ca(f: &mut Findings, ca: &EdgeCa) {
    let files = ca.cert.is_some() || ca.key.is_some();
    if ca.generate.is_none() && !files && ca.trust_bundle.is_none() {
        f.error(
            "edge_ca",
            ": is empty; set cert and key to install an Edge CA, add [edge_ca.generate] to create one, or remove [edge_ca] to keep the device's current Edge CA",
        );
    }
    if ca.generate.is_some() && files {
        f.error(
            "edge_ca",
            ": has both cert/key and [edge_ca.generate]; keep cert and key to install your own Edge CA, or [edge_ca.generate] to create one, not both",
        );
    }
    match (&ca.cert, &ca.key) {
        (Some(_), None) => f.error(
            "edge_ca.key",
            ": is missing; cert needs the matching private key, e.g. key = \"certs/edge-ca.key.pem\"",
        ),
        (None, Some(_)) => f.error(
            "edge_ca.cert",
            ": is missing; key needs the matching full-chain certificate, e.g. cert = \"certs/edge-ca-full-chain.pem\"",
        ),
        _ => {}
    }
    for (name, value) in [("cert", &ca.cert), ("key", &ca.key), ("trust_bundle", &ca.trust_bundle)] {
        if let Some(path) = value {
            check_local_path(f, &format!("edge_ca.{name}"), path);
        }
    }
    if let Some(generate) = &ca.generate {
        if let Some(days) = generate.days
            && !(1..=3650).contains(&days)
        {
            f.error(
                "edge_ca.generate.days",
                format!(" = {days}: must be between 1 and 3650 (ten years), e.g. 365"),
            );
        }
        if let Some(cn) = &generate.common_name {
            let length = cn.chars().count();
            if cn.trim().is_empty() {
                f.error(
                    "edge_ca.generate.common_name",
                    " = \"\": is empty; write a name for the CA, e.g. \"edge-gw-01 Edge CA\", or remove the key for the default",
                );
            } else if length > 64 {
                f.error(
                    "edge_ca.generate.common_name",
                    format!(
                        " = {}: is {length} characters long; certificate common names are at most 64",
                        quoted(cn)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{GenerateEdgeCa, Upstream, UpstreamProtocol};

    const SAS: &str = "c2VjcmV0LWRldmljZS1rZXktZm9yLXRlc3Rz";

    fn manual(cs: &str) -> Provisioning {
        Provisioning {
            source: ProvisioningSource::Manual,
            connection_string: Some(cs.to_string()),
            global_endpoint: None,
            id_scope: None,
            attestation: None,
            registration_id: None,
            symmetric_key: None,
            identity_cert: None,
            identity_pk: None,
        }
    }

    fn dps(attestation: Attestation) -> Provisioning {
        Provisioning {
            source: ProvisioningSource::Dps,
            connection_string: None,
            global_endpoint: Some("https://global.azure-devices-provisioning.net".into()),
            id_scope: Some("0ne00ABCDEF".into()),
            attestation: Some(attestation),
            registration_id: None,
            symmetric_key: None,
            identity_cert: None,
            identity_pk: None,
        }
    }

    fn good_cs() -> String {
        format!("HostName=hub.azure-devices.net;DeviceId=gw1;SharedAccessKey={SAS}")
    }

    fn with_hostname(h: &str) -> Answers {
        Answers { hostname: Some(h.into()), ..Answers::default() }
    }
    fn with_provisioning(p: Provisioning) -> Answers {
        Answers { provisioning: Some(p), ..Answers::default() }
    }
    fn with_proxy(url: &str, no_proxy: Option<&str>) -> Answers {
        Answers {
            proxy: Some(Proxy { url: url.into(), no_proxy: no_proxy.map(Into::into) }),
            ..Answers::default()
        }
    }
    fn with_image(image: &str) -> Answers {
        Answers { agent: Some(Agent { image: Some(image.into()), auth: None }), ..Answers::default() }
    }
    fn with_auth(image: Option<&str>, auth: RegistryAuth) -> Answers {
        Answers {
            agent: Some(Agent { image: image.map(Into::into), auth: Some(auth) }),
            ..Answers::default()
        }
    }
    fn auth(server: &str, password: Option<&str>, password_file: Option<&str>) -> RegistryAuth {
        RegistryAuth {
            server: server.into(),
            username: "puller".into(),
            password: password.map(Into::into),
            password_file: password_file.map(Into::into),
        }
    }
    fn gc(recurrence: Option<&str>, threshold: Option<&str>, time: Option<&str>) -> Answers {
        Answers {
            image_garbage_collection: Some(ImageGarbageCollection {
                enabled: Some(true),
                cleanup_recurrence: recurrence.map(Into::into),
                image_age_cleanup_threshold: threshold.map(Into::into),
                cleanup_time: time.map(Into::into),
            }),
            ..Answers::default()
        }
    }
    fn logging(driver: LogDriver, max_size: Option<&str>, max_files: Option<u32>) -> Answers {
        Answers {
            logging: Some(Logging { driver, max_size: max_size.map(Into::into), max_files }),
            ..Answers::default()
        }
    }
    fn dns(servers: &[&str]) -> Answers {
        Answers {
            dns: Some(Dns { servers: servers.iter().map(|s| s.to_string()).collect() }),
            ..Answers::default()
        }
    }
    fn edge_ca(cert: Option<&str>, key: Option<&str>, generate: Option<GenerateEdgeCa>) -> Answers {
        Answers {
            edge_ca: Some(EdgeCa {
                cert: cert.map(Into::into),
                key: key.map(Into::into),
                trust_bundle: None,
                os_trust_store: None,
                generate,
            }),
            ..Answers::default()
        }
    }

    fn errors(a: &Answers) -> Vec<String> {
        validate(a).errors.into_iter().map(|f| f.message).collect()
    }
    fn warnings(a: &Answers) -> Vec<String> {
        validate(a).warnings.into_iter().map(|f| f.message).collect()
    }
    #[track_caller]
    fn assert_valid(a: &Answers) {
        let e = errors(a);
        assert!(e.is_empty(), "unexpected errors: {e:#?}");
    }
    #[track_caller]
    fn assert_one_error(a: &Answers, expected: &[&str]) -> String {
        let e = errors(a);
        assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
        for part in expected {
            assert!(e[0].contains(part), "{:?} does not contain {part:?}", e[0]);
        }
        e[0].clone()
    }

    #[test]
    fn empty_answers_are_valid_and_mean_no_change() {
        assert_eq!(validate(&Answers::default()), Findings::default());
    }

    #[test]
    fn key_labels_name_the_table_and_key() {
        assert_eq!(key_label("hostname"), "hostname");
        assert_eq!(key_label("edge_ca"), "[edge_ca]");
        assert_eq!(key_label("agent.auth.server"), "[agent.auth] server");
    }

    // hostname

    #[test]
    fn hostnames_fqdns_and_ip_addresses_are_accepted() {
        for h in ["edge-gw-01", "edge-gw-01.plant.contoso.com", "EDGE1", "10.0.0.5", "fe80::1"] {
            assert_valid(&with_hostname(h));
            assert!(warnings(&with_hostname(h)).is_empty(), "{h}");
        }
    }

    #[test]
    fn hostname_over_64_characters_is_refused() {
        let long = format!("{}.example.com", "a".repeat(60));
        assert_one_error(&with_hostname(&long), &["hostname = ", "at most 64"]);
    }

    #[test]
    fn hostname_with_bad_characters_or_hyphens_or_empty_labels_is_refused() {
        assert_one_error(&with_hostname("edge_gw"), &["hostname = \"edge_gw\"", "\"_\""]);
        assert_one_error(&with_hostname("-edge"), &["hyphen"]);
        assert_one_error(&with_hostname("edge-"), &["hyphen"]);
        assert_one_error(&with_hostname("edge..plant"), &["empty part"]);
        assert_one_error(&with_hostname("edge."), &["empty part"]);
        assert_one_error(&with_hostname(""), &["is empty"]);
        assert_one_error(&with_hostname("edge gw"), &["\" \""]);
    }

    #[test]
    fn hostname_label_starting_with_a_digit_is_only_a_warning() {
        let a = with_hostname("1edge.plant");
        assert_valid(&a);
        assert!(warnings(&a)[0].contains("RFC 1035"));
    }

    // provisioning, manual

    #[test]
    fn manual_connection_string_with_all_parts_is_accepted() {
        assert_valid(&with_provisioning(manual(&good_cs())));
        // Extra parts are ignored, like IoT Edge does; key padding is optional.
        assert_valid(&with_provisioning(manual(
            "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJjZA;GatewayHostName=parent",
        )));
    }

    #[test]
    fn manual_without_connection_string_is_refused() {
        let mut p = manual("");
        p.connection_string = None;
        assert_one_error(
            &with_provisioning(p),
            &["[provisioning] connection_string: is missing", "HostName="],
        );
    }

    #[test]
    fn connection_string_missing_parts_are_all_named() {
        let msg = assert_one_error(
            &with_provisioning(manual("DeviceId=d")),
            &["HostName and SharedAccessKey are missing"],
        );
        assert!(msg.starts_with("[provisioning] connection_string:"));
        assert_one_error(
            &with_provisioning(manual(&format!("HostName=h;SharedAccessKey={SAS}"))),
            &["DeviceId is missing"],
        );
        assert_one_error(
            &with_provisioning(manual("HostName=h;DeviceId=;SharedAccessKey=YWJj")),
            &["DeviceId is missing"],
        );
    }

    #[test]
    fn connection_string_key_must_be_base64_and_is_never_shown() {
        let secret = "not base64 !!secret";
        let cs = format!("HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey={secret}");
        let msg = assert_one_error(&with_provisioning(manual(&cs)), &["SharedAccessKey is not valid base64"]);
        assert!(!msg.contains(secret));
    }

    #[test]
    fn connection_string_errors_never_contain_the_key() {
        for cs in [
            format!(" HostName=h;DeviceId=d;SharedAccessKey={SAS}"),
            format!("HostName=https://h;DeviceId=d;SharedAccessKey={SAS}"),
            format!("DeviceId=d;SharedAccessKey={SAS}"),
        ] {
            let e = errors(&with_provisioning(manual(&cs)));
            assert!(!e.is_empty(), "{cs}");
            assert!(e.iter().all(|m| !m.contains(SAS)), "{e:?}");
        }
    }

    #[test]
    fn manual_with_dps_keys_is_refused_for_each_key() {
        let mut p = manual(&good_cs());
        p.id_scope = Some("0ne".into());
        p.attestation = Some(Attestation::Tpm);
        let e = errors(&with_provisioning(p));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("[provisioning] id_scope: only applies to source = \"dps\""));
        assert!(e[1].starts_with("[provisioning] attestation:"));
        assert!(e[1].contains("untagged enum"));
    }

    // provisioning, DPS

    #[test]
    fn dps_symmetric_key_needs_registration_id_and_base64_key() {
        let mut p = dps(Attestation::SymmetricKey);
        p.registration_id = Some("edge-gw-01".into());
        p.symmetric_key = Some(SAS.into());
        assert_valid(&with_provisioning(p.clone()));

        let mut missing = p.clone();
        missing.registration_id = None;
        missing.symmetric_key = None;
        let e = errors(&with_provisioning(missing));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("[provisioning] registration_id: is missing"));
        assert!(e[1].starts_with("[provisioning] symmetric_key: is missing"));

        let mut bad = p;
        bad.symmetric_key = Some("%%secret%%".into());
        let msg =
            assert_one_error(&with_provisioning(bad), &["[provisioning] symmetric_key", "not valid base64"]);
        assert!(!msg.contains("%%secret%%"));
    }

    #[test]
    fn dps_needs_https_global_endpoint_id_scope_and_attestation() {
        let mut p = dps(Attestation::Tpm);
        p.registration_id = Some("gw".into());
        p.global_endpoint = None;
        p.id_scope = None;
        p.attestation = None;
        let e = errors(&with_provisioning(p.clone()));
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].contains("global_endpoint: is missing"));
        assert!(e[1].contains("id_scope: is missing"));
        assert!(e[2].contains("attestation: is missing"));

        p.attestation = Some(Attestation::Tpm);
        p.id_scope = Some("0ne00ABCDEF".into());
        p.global_endpoint = Some("http://global.azure-devices-provisioning.net".into());
        assert_one_error(&with_provisioning(p.clone()), &["must be an https:// URL"]);
        p.global_endpoint = Some("global.azure-devices-provisioning.net".into());
        assert_one_error(&with_provisioning(p.clone()), &["is not a URL"]);
        p.global_endpoint = Some("https://global.azure-devices-provisioning.net".into());
        p.id_scope = Some("0ne 00".into());
        assert_one_error(&with_provisioning(p), &["[provisioning] id_scope = \"0ne 00\""]);
    }

    #[test]
    fn dps_refuses_a_connection_string() {
        let mut p = dps(Attestation::Tpm);
        p.registration_id = Some("gw".into());
        p.connection_string = Some(good_cs());
        let msg = assert_one_error(
            &with_provisioning(p),
            &["[provisioning] connection_string: only applies to source = \"manual\""],
        );
        assert!(!msg.contains(SAS));
    }

    #[test]
    fn dps_x509_needs_absolute_identity_paths() {
        let mut p = dps(Attestation::X509);
        p.identity_cert = Some("/var/aziot/certs/device-id.pem".into());
        p.identity_pk = Some("/var/aziot/secrets/device-id.key.pem".into());
        assert_valid(&with_provisioning(p.clone()));

        p.identity_cert = Some("certs/device-id.pem".into());
        p.identity_pk = None;
        let e = errors(&with_provisioning(p.clone()));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("identity_cert = \"certs/device-id.pem\": must be an absolute path"));
        assert!(e[1].contains("identity_pk: is missing"));

        p.identity_cert = Some("file:///var/aziot/certs/device-id.pem".into());
        p.identity_pk = Some("/k.pem".into());
        p.symmetric_key = Some(SAS.into());
        let e = errors(&with_provisioning(p));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("plain absolute path"));
        assert!(e[1].contains("symmetric_key: does not apply to attestation = \"x509\""));
    }

    #[test]
    fn dps_tpm_needs_registration_id_and_no_key_material() {
        let mut p = dps(Attestation::Tpm);
        assert_one_error(&with_provisioning(p.clone()), &["registration_id: is missing"]);
        p.registration_id = Some("edge gw".into());
        assert_one_error(&with_provisioning(p.clone()), &["registration_id = \"edge gw\""]);
        p.registration_id = Some("edge-gw:01_a.b".into());
        assert_valid(&with_provisioning(p.clone()));
        p.identity_pk = Some("/k".into());
        assert_one_error(&with_provisioning(p), &["identity_pk: does not apply to attestation = \"tpm\""]);
    }

    // proxy

    #[test]
    fn http_proxy_with_explicit_port_is_accepted() {
        for url in [
            "http://proxy:3128",
            "http://proxy.example.com:80/",
            "http://u:p@proxy:8080",
            "http://[fd00::1]:3128",
        ] {
            let a = with_proxy(url, Some("localhost,127.0.0.1"));
            assert_valid(&a);
            assert!(warnings(&a).is_empty(), "{url}");
        }
    }

    #[test]
    fn https_proxy_scheme_is_a_warning_pointing_to_http() {
        let a = with_proxy("https://proxy:3129", None);
        assert_valid(&a);
        let w = warnings(&a);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("[proxy] url = \"https://proxy:3129\""));
        assert!(w[0].contains("http://proxy.example.com:3128") && w[0].contains("#7091"));
    }

    #[test]
    fn proxy_needs_http_scheme_host_and_explicit_port_and_no_path() {
        assert_one_error(&with_proxy("socks5://proxy:1080", None), &["scheme \"socks5\" is not supported"]);
        assert_one_error(&with_proxy("proxy:3128", None), &["must be a URL starting with http://"]);
        assert_one_error(&with_proxy("http://proxy", None), &["has no port", "explicit"]);
        assert_one_error(&with_proxy("http://proxy:3128/path", None), &["no path"]);
        assert_one_error(&with_proxy("http://proxy:3128?x=1", None), &["no path"]);
        assert_one_error(&with_proxy("http://:3128", None), &["[proxy] url", "not a valid URL"]);
    }

    #[test]
    fn proxy_password_is_masked_in_messages() {
        let e = errors(&with_proxy("http://bob:hunter2secret@proxy/x", None));
        assert_eq!(e.len(), 2, "{e:#?}");
        for m in &e {
            assert!(!m.contains("hunter2secret"), "{m}");
            assert!(m.contains(&format!("http://bob:{MASK}@proxy/x")), "{m}");
        }
        let w = warnings(&with_proxy("https://bob:hunter2secret@proxy:1", None));
        assert!(!w[0].contains("hunter2secret"));
        for url in ["bob:hunter2secret@proxy:3128", "http://bob:hunter2secret/x#y@proxy:3128"] {
            let e = errors(&with_proxy(url, None));
            assert!(!e.is_empty() && e.iter().all(|m| !m.contains("hunter2secret")), "{e:?}");
        }
    }

    #[test]
    fn no_proxy_must_be_comma_separated_without_spaces_or_empty_entries() {
        assert_one_error(
            &with_proxy("http://p:1", Some("localhost, 127.0.0.1")),
            &["[proxy] no_proxy", "contains spaces"],
        );
        assert_one_error(&with_proxy("http://p:1", Some("localhost,,x")), &["empty entry"]);
        assert_one_error(&with_proxy("http://p:1", Some("localhost,")), &["empty entry"]);
        assert_one_error(&with_proxy("http://p:1", Some("")), &["is empty"]);
    }

    // agent

    #[test]
    fn pinned_agent_images_are_accepted_without_warnings() {
        for image in [
            "mcr.microsoft.com/azureiotedge-agent:1.4.43",
            "contoso.azurecr.io/iot/azureiotedge-agent:1.4.43-linux-arm32v7",
            "localhost:5000/azureiotedge-agent:1.4.20",
            "mcr.microsoft.com/azureiotedge-agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let a = with_image(image);
            assert_valid(&a);
            assert!(warnings(&a).is_empty(), "{image}: {:?}", warnings(&a));
        }
    }

    #[test]
    fn unpinned_agent_images_get_a_warning() {
        for image in [
            "mcr.microsoft.com/azureiotedge-agent",
            "mcr.microsoft.com/azureiotedge-agent:latest",
            "mcr.microsoft.com/azureiotedge-agent:1.4",
            "azureiotedge-agent:1",
        ] {
            let a = with_image(image);
            assert_valid(&a);
            let w = warnings(&a);
            assert_eq!(w.len(), 1, "{image}");
            assert!(
                w[0].starts_with("[agent] image = ") && w[0].contains("pin a specific 1.4.x version"),
                "{w:?}"
            );
        }
    }

    #[test]
    fn implausible_agent_images_are_refused() {
        assert_one_error(&with_image(""), &["[agent] image = \"\": is empty"]);
        assert_one_error(&with_image("https://mcr.microsoft.com/azureiotedge-agent:1.4.43"), &["scheme"]);
        assert_one_error(&with_image("mcr.microsoft.com/AzureIoTEdge-Agent:1.4.43"), &["must be lowercase"]);
        assert_one_error(&with_image("mcr.microsoft.com/azureiotedge-agent :1.4.43"), &["contains spaces"]);
        assert_one_error(&with_image("mcr.microsoft.com/azureiotedge-agent:"), &["invalid tag"]);
        assert_one_error(&with_image("mcr.microsoft.com/azureiotedge-agent@sha256:xyz"), &["invalid digest"]);
    }

    #[test]
    fn image_references_split_into_registry_repository_and_tag() {
        let r = parse_image_ref("localhost:5000/iot/agent:1.4.43").unwrap();
        assert_eq!(
            (r.registry, r.repository, r.tag, r.digest),
            (Some("localhost:5000"), "iot/agent", Some("1.4.43"), None)
        );
        let r = parse_image_ref("library/agent").unwrap();
        assert_eq!((r.registry, r.repository, r.tag), (None, "library/agent", None));
    }

    #[test]
    fn registry_auth_needs_host_only_server_username_and_one_password() {
        let image = Some("contoso.azurecr.io/azureiotedge-agent:1.4.43");
        assert_valid(&with_auth(image, auth("contoso.azurecr.io", Some("pw"), None)));
        assert_valid(&with_auth(image, auth("contoso.azurecr.io", None, Some("pw.txt"))));
        assert_one_error(
            &with_auth(image, auth("https://contoso.azurecr.io", Some("pw"), None)),
            &["[agent.auth] server", "without a scheme"],
        );
        assert_one_error(
            &with_auth(image, auth("", Some("pw"), None)),
            &["[agent.auth] server = \"\": is empty"],
        );
        assert_one_error(
            &with_auth(image, auth("contoso.azurecr.io", Some("pw"), Some("f"))),
            &["[agent.auth] password", "not both"],
        );
        assert_one_error(
            &with_auth(image, auth("contoso.azurecr.io", None, None)),
            &["[agent.auth] password: is missing"],
        );
        assert_one_error(
            &with_auth(image, auth("contoso.azurecr.io", Some(""), None)),
            &["password: is empty"],
        );
        let mut no_user = auth("contoso.azurecr.io", Some("pw"), None);
        no_user.username = " ".into();
        assert_one_error(&with_auth(image, no_user), &["[agent.auth] username: is empty"]);
    }

    #[test]
    fn registry_auth_for_another_registry_than_the_image_is_a_warning() {
        let a = with_auth(
            Some("mcr.microsoft.com/azureiotedge-agent:1.4.43"),
            auth("contoso.azurecr.io", Some("pw"), None),
        );
        assert_valid(&a);
        let w = warnings(&a);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"mcr.microsoft.com\""));
        // Docker Hub's aliases are the same registry; registry names are case-insensitive.
        let a = with_auth(Some("contoso/agent:1.4.43"), auth("index.docker.io", Some("pw"), None));
        assert!(warnings(&a).is_empty());
        let a =
            with_auth(Some("contoso.azurecr.io/agent:1.4.43"), auth("Contoso.AzureCR.io", Some("pw"), None));
        assert!(warnings(&a).is_empty());
    }

    #[test]
    fn registry_password_never_appears_in_findings() {
        let a = with_auth(
            Some("mcr.microsoft.com/x:1.4.43"),
            auth("https://other", Some("s3cr3t-pw"), Some("f")),
        );
        let f = validate(&a);
        assert!(f.errors.iter().chain(&f.warnings).all(|m| !m.message.contains("s3cr3t-pw")));
    }

    // image garbage collection

    #[test]
    fn gc_whole_day_recurrences_and_any_threshold_are_accepted() {
        for r in ["1d", "7d", "1w", "2 days", "48h"] {
            assert_valid(&gc(Some(r), Some("0d"), Some("00:00")));
        }
        assert_valid(&gc(None, Some("36h"), Some("23:59")));
    }

    #[test]
    fn gc_recurrence_must_be_whole_days_of_at_least_one() {
        let msg = assert_one_error(&gc(Some("36h"), None, None), &[]);
        assert_eq!(
            msg,
            "[image_garbage_collection] cleanup_recurrence = \"36h\": must be a whole number of days (1d or more), e.g. \"1d\""
        );
        assert_one_error(&gc(Some("0d"), None, None), &["1d or more"]);
        assert_one_error(&gc(Some("1M"), None, None), &["whole number of days"]);
        assert_one_error(&gc(Some("1 dy"), None, None), &["is not a duration", "unknown time unit"]);
    }

    #[test]
    fn gc_threshold_must_be_a_duration() {
        assert_one_error(
            &gc(None, Some("seven days"), None),
            &["[image_garbage_collection] image_age_cleanup_threshold"],
        );
    }

    #[test]
    fn gc_cleanup_time_must_be_two_digit_hh_mm() {
        for t in ["24:00", "12:60", "7:30", "00:00:00", "0730", "ab:cd", ""] {
            assert_one_error(
                &gc(None, None, Some(t)),
                &["[image_garbage_collection] cleanup_time", "\"HH:MM\""],
            );
        }
    }

    // logging

    #[test]
    fn logging_sizes_and_file_counts() {
        for size in ["10m", "500k", "1g", "10M", "2G"] {
            assert_valid(&logging(LogDriver::Local, Some(size), Some(3)));
        }
        assert_valid(&logging(LogDriver::JsonFile, None, None));
        for size in ["10", "10mb", "m", "0m", "1.5m", "-1m"] {
            assert_one_error(
                &logging(LogDriver::Local, Some(size), None),
                &["[logging] max_size", "\"10m\""],
            );
        }
        assert_one_error(&logging(LogDriver::JsonFile, None, Some(0)), &["[logging] max_files = 0"]);
    }

    #[test]
    fn journald_refuses_size_and_file_limits() {
        assert_valid(&logging(LogDriver::Journald, None, None));
        let e = errors(&logging(LogDriver::Journald, Some("10m"), Some(3)));
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("[logging] max_size: does not apply to driver = \"journald\""));
        assert!(e[1].starts_with("[logging] max_files:"));
    }

    // dns

    #[test]
    fn dns_servers_must_be_ip_addresses() {
        assert_valid(&dns(&["1.1.1.1", "2606:4700:4700::1111"]));
        assert_one_error(&dns(&[]), &["[dns] servers = []"]);
        let e = errors(&dns(&["8.8.8", "dns.google", "8.8.8.8"]));
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("\"8.8.8\" is not an IP address"));
        assert!(e[1].contains("\"dns.google\""));
    }

    // edge_ca

    #[test]
    fn edge_ca_from_files_or_generated_is_accepted() {
        assert_valid(&edge_ca(Some("ca.pem"), Some("ca.key"), None));
        assert_valid(&edge_ca(
            None,
            None,
            Some(GenerateEdgeCa { common_name: Some("gw1 Edge CA".into()), days: Some(365) }),
        ));
        assert_valid(&edge_ca(None, None, Some(GenerateEdgeCa { common_name: None, days: None })));
    }

    #[test]
    fn edge_ca_must_choose_files_or_generate_and_files_come_in_pairs() {
        assert_one_error(&edge_ca(None, None, None), &["[edge_ca]: is empty"]);
        assert_one_error(
            &edge_ca(Some("c"), Some("k"), Some(GenerateEdgeCa { common_name: None, days: None })),
            &["[edge_ca]: has both"],
        );
        assert_one_error(&edge_ca(Some("c"), None, None), &["[edge_ca] key: is missing"]);
        assert_one_error(&edge_ca(None, Some("k"), None), &["[edge_ca] cert: is missing"]);
        assert_one_error(
            &edge_ca(Some("file:///c.pem"), Some("k"), None),
            &["[edge_ca] cert = \"file:///c.pem\"", "plain path"],
        );
    }

    #[test]
    fn generated_edge_ca_days_and_common_name_are_bounded() {
        let generated = |cn: Option<&str>, days| {
            edge_ca(None, None, Some(GenerateEdgeCa { common_name: cn.map(Into::into), days }))
        };
        assert_one_error(&generated(None, Some(0)), &["[edge_ca.generate] days = 0"]);
        assert_one_error(&generated(None, Some(3651)), &["between 1 and 3650"]);
        assert_valid(&generated(None, Some(3650)));
        assert_one_error(&generated(Some(""), None), &["[edge_ca.generate] common_name = \"\""]);
        assert_one_error(&generated(Some(&"x".repeat(65)), None), &["at most 64"]);
    }

    #[test]
    fn all_problems_are_reported_together() {
        let a = Answers {
            hostname: Some("bad_host".into()),
            upstream: Some(Upstream { protocol: UpstreamProtocol::MqttWs }),
            ..gc(Some("36h"), None, Some("25:00"))
        };
        let e = errors(&a);
        assert_eq!(e.len(), 3, "{e:#?}");
    }
}
