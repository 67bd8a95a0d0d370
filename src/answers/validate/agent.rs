//! `[agent]`: the bootstrap edgeAgent image reference, `[agent.auth]` registry credentials and
//! the host storage path (rule in `host_storage`).

use super::{Findings, quoted};
use crate::answers::{Agent, RegistryAuth};

/// Check `[agent]` and `[agent.auth]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_agent(agent: &Agent) -> Findings {
    let mut f = Findings::default();
    check_agent(&mut f, agent);
    f
}

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
            Err(problem) => f.error(KEY, Some(&shown), format!("{problem}; {EXAMPLE}")),
            Ok(r) => {
                image_registry = Some(r.registry.unwrap_or("docker.io"));
                if r.digest.is_none() {
                    match r.tag {
                        None => f.warning(
                            KEY,
                            Some(&shown),
                            format!(
                                "has no tag, so Docker pulls :latest; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}",
                            ),
                        ),
                        Some("latest") => f.warning(
                            KEY,
                            Some(&shown),
                            format!(
                                ":latest changes under you; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}",
                            ),
                        ),
                        Some(tag) if is_rolling_tag(tag) => f.warning(
                            KEY,
                            Some(&shown),
                            format!(
                                ":{tag} is a rolling tag that moves with every release; the production checklist says to pin a specific 1.4.x version, {EXAMPLE}",
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
    if let Some(path) = &agent.host_storage {
        super::host_storage::check_host_storage(f, path);
    }
}

fn check_registry_auth(f: &mut Findings, auth: &RegistryAuth, image_registry: Option<&str>) {
    let server = auth.server.as_str();
    let shown = quoted(server);
    let mut server_ok = false;
    if server.is_empty() {
        f.error(
            "agent.auth.server",
            Some("\"\""),
            "is empty; write the registry host, e.g. \"contoso.azurecr.io\"",
        );
    } else if server.contains("://") {
        f.error(
            "agent.auth.server",
            Some(&shown),
            "write the registry host only, without a scheme, e.g. \"contoso.azurecr.io\"",
        );
    } else if server.contains('/') || server.chars().any(char::is_whitespace) {
        f.error(
            "agent.auth.server",
            Some(&shown),
            "must be a registry host (and optional :port) only, e.g. \"contoso.azurecr.io\"",
        );
    } else {
        server_ok = true;
    }
    if auth.username.trim().is_empty() {
        f.error(
            "agent.auth.username",
            None,
            "is empty; write the registry user name, e.g. the ACR name or a token name",
        );
    }
    match (&auth.password, &auth.password_file) {
        (Some(_), Some(_)) => f.error(
            "agent.auth.password",
            None,
            "set either password or password_file, not both; password_file keeps the secret out of the answers file",
        ),
        (None, None) => f.error(
            "agent.auth.password",
            None,
            "is missing; set password, or password_file = \"registry-password.txt\" (a file whose first line is the password)",
        ),
        (Some(p), None) if p.is_empty() => {
            f.error("agent.auth.password", None, "is empty; write the registry password or use password_file")
        }
        (None, Some(p)) if p.is_empty() => f.error(
            "agent.auth.password_file",
            Some("\"\""),
            "is empty; write the path of a file whose first line is the password, e.g. \"registry-password.txt\"",
        ),
        _ => {}
    }
    if let Some(image_registry) = image_registry
        && server_ok
        && canonical_registry(server) != canonical_registry(image_registry)
    {
        f.warning(
            "agent.auth.server",
            Some(&shown),
            format!(
                "the agent image comes from \"{image_registry}\", so these credentials will not be used to pull it; set server = \"{image_registry}\" if that is the registry you meant",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
