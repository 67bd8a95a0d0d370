//! The draft kept on the device while the wizard runs, so a dropped SSH link loses no work:
//! the path chosen, the steps accepted and every choice made, secrets left out. Root-only
//! (0600 in a 0700 directory under the device root), written atomically, saved when a step is
//! accepted, offered back at the next start, and removed after a successful apply or when the
//! technician declines it.

use std::path::Path as FsPath;

use anyhow::{Context as _, Result};

use super::draft::Draft;
use super::questions::{Kind, Path, SECTIONS, find_field};
use crate::apply::atomic;
use crate::input_file::MAX_ANSWERS_BYTES;
use crate::root::DeviceRoot;
use crate::secrets::mask_known_secrets;

/// Our own directory, so its mode can be 0700 whatever `/var/lib/edgeprep` has.
pub const DRAFT_DIR: &str = "/var/lib/edgeprep/wizard";
pub const DRAFT_FILE: &str = "/var/lib/edgeprep/wizard/draft.toml";

/// A draft read back: the choices, the path, and the steps already accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub path: Path,
    pub visited: Vec<&'static str>,
    pub draft: Draft,
}

/// The draft as TOML, secrets left out: a secret field, and any other value that carries a
/// secret (a password inside a URL), is not written at all; resuming asks for it again.
pub fn to_text(draft: &Draft, path: Path, visited: &[&'static str]) -> String {
    let mut root = toml::Table::new();
    let index = Path::ALL.iter().position(|p| *p == path).unwrap_or(0);
    root.insert("path".into(), toml::Value::Integer(i64::try_from(index).unwrap_or(0)));
    root.insert(
        "visited".into(),
        toml::Value::Array(visited.iter().map(|v| toml::Value::String((*v).to_string())).collect()),
    );
    let mut sections = toml::Table::new();
    for section in SECTIONS {
        let mut one = toml::Table::new();
        one.insert("set".into(), toml::Value::Boolean(draft.is_set(section.key)));
        let mut values = toml::Table::new();
        for field in section.fields {
            let text = draft.value(field.key);
            if field.kind == Kind::Secret || mask_known_secrets(text) != text {
                continue;
            }
            values.insert(field.key.to_string(), toml::Value::String(text.to_string()));
        }
        one.insert("values".into(), toml::Value::Table(values));
        sections.insert(section.key.to_string(), toml::Value::Table(one));
    }
    root.insert("sections".into(), toml::Value::Table(sections));
    toml::to_string(&root).unwrap_or_default()
}

/// A saved draft laid over `base` (the draft the wizard starts with), or `None` when the text
/// is not a draft this version wrote. Unknown sections and fields are ignored.
pub fn from_text(text: &str, base: &Draft) -> Option<Saved> {
    let root: toml::Table = text.parse().ok()?;
    let index = usize::try_from(root.get("path")?.as_integer()?).ok()?;
    let path = *Path::ALL.get(index)?;
    let visited = root
        .get("visited")
        .and_then(toml::Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(toml::Value::as_str)
                .filter_map(|key| SECTIONS.iter().find(|s| s.key == key).map(|s| s.key))
                .collect()
        })
        .unwrap_or_default();
    let mut draft = base.clone();
    for (key, one) in root.get("sections")?.as_table()? {
        if !SECTIONS.iter().any(|s| s.key == key.as_str()) {
            continue;
        }
        if let Some(set) = one.get("set").and_then(toml::Value::as_bool) {
            draft.set_section(key, set);
        }
        for (field, value) in one.get("values").and_then(toml::Value::as_table).into_iter().flatten() {
            let field = find_field(field).filter(|f| f.kind != Kind::Secret);
            if let (Some(f), Some(text)) = (field, value.as_str()) {
                draft.set_value(f.key, text);
            }
        }
    }
    Some(Saved { path, visited, draft })
}

/// Write the draft atomically (0600, in a 0700 directory owned by whoever runs the wizard).
pub fn save(root: &DeviceRoot, text: &str) -> Result<()> {
    let (dir, _) = atomic::create_dir_all_in_root(root, FsPath::new(DRAFT_DIR), 0o700)?;
    // The directory may predate us with a looser mode: the draft stays root-only regardless.
    rustix::fs::fchmod(&dir, rustix::fs::Mode::from_raw_mode(0o700))
        .with_context(|| format!("could not set the mode of {DRAFT_DIR}"))?;
    atomic::write_in_root(root, DRAFT_FILE, text.as_bytes(), 0o600, None)
}

/// The draft's text, if one is there (read through the bounded, regular-files-only reader).
pub fn load(root: &DeviceRoot) -> Option<String> {
    let (bytes, _) = root.read(DRAFT_FILE, MAX_ANSWERS_BYTES).ok()??;
    String::from_utf8(bytes).ok()
}

/// Remove the draft (nothing to do when there is none).
pub fn remove(root: &DeviceRoot) -> Result<()> {
    atomic::remove_in_root(root, DRAFT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> Draft {
        let mut draft = Draft::recommended();
        draft.set_section("proxy", true);
        draft.set_value("proxy.url", "http://tech:hunter2@proxy.site:3128");
        draft.set_section("agent", true);
        draft.set_value("agent.auth.password", "s3cr3t-pw");
        draft.set_section("provisioning", true);
        draft.set_value("provisioning.symmetric_key", "c2VjcmV0a2V5");
        draft.set_value("upstream.protocol", "MqttWs");
        draft.set_value("dns.servers", "10.0.0.53");
        draft
    }

    #[test]
    fn a_draft_never_holds_a_secret() {
        let text = to_text(&filled(), Path::FirstBoot, &["edge_ca", "proxy"]);
        for secret in ["hunter2", "s3cr3t-pw", "c2VjcmV0a2V5", "proxy.url", "agent.auth.password"] {
            assert!(!text.contains(secret), "{secret} in the draft:\n{text}");
        }
        assert!(text.contains("MqttWs") && text.contains("10.0.0.53"), "{text}");
    }

    #[test]
    fn resume_restores_the_choices_path_and_steps() {
        let text = to_text(&filled(), Path::FirstBoot, &["edge_ca", "proxy"]);
        let saved = from_text(&text, &Draft::recommended()).unwrap();
        assert_eq!(saved.path, Path::FirstBoot);
        assert_eq!(saved.visited, ["edge_ca", "proxy"]);
        assert_eq!(saved.draft.value("upstream.protocol"), "MqttWs");
        assert_eq!(saved.draft.value("dns.servers"), "10.0.0.53");
        assert!(saved.draft.is_set("proxy") && saved.draft.is_set("provisioning"));
        assert_eq!(saved.draft.value("proxy.url"), "", "secrets are asked again");
    }

    #[test]
    fn a_file_that_is_not_a_draft_is_not_offered() {
        assert_eq!(from_text("path = 7\n[sections]\n", &Draft::recommended()), None);
        assert_eq!(from_text("not toml", &Draft::recommended()), None);
    }

    #[test]
    fn saved_root_only_then_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        assert_eq!(load(&root), None);
        save(&root, "path = 0\n").unwrap();
        let file = dir.path().join(DRAFT_FILE.trim_start_matches('/'));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let parent = file.parent().unwrap();
        assert_eq!(std::fs::metadata(parent).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(load(&root).as_deref(), Some("path = 0\n"));
        remove(&root).unwrap();
        assert!(!file.exists());
        remove(&root).unwrap();
    }
}
