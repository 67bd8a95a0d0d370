//! `[agent] host_storage`: the host directory edgeAgent keeps its state in. One rule for a
//! path that can hold it, shared by the answers file, the plan and `edgeprep check`.

use super::{Findings, quoted};

/// Where the wizard and the docs suggest edgeAgent's state goes on the host.
pub const DEFAULT_HOST_STORAGE: &str = "/var/lib/edgeprep/edge-agent";

/// Host trees whose contents are not the host's own disk (kernel views, devices) or do not
/// survive a reboot: state bound there is lost.
const VOLATILE_TREES: &[&str] = &["/proc", "/sys", "/dev", "/run", "/tmp"];

/// Trees that belong to the OS, its packages or edgeprep's own backups: a module's state
/// does not go there, and a backup record of a directory there is never one apply made for
/// this answer (rollback relies on that, see `apply::backup`).
const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/sbin",
    "/usr",
    crate::paths::BACKUPS_DIR,
];

/// Why `path` cannot hold edgeAgent's state, in a few words with the fix; `None` when it can.
///
/// The path goes into a Docker bind (`host:container`), so it must be absolute and written
/// the one way Docker and `iotedge check` compare it (no `.`, `..`, doubled or trailing `/`),
/// and cannot hold `:`. Control characters are refused for every answer elsewhere.
pub fn host_storage_problem(path: &str) -> Option<String> {
    const EXAMPLE: &str = "e.g. \"/var/lib/edgeprep/edge-agent\"";
    if path.is_empty() {
        return Some(format!("is empty; write an absolute directory, {EXAMPLE}"));
    }
    if !path.starts_with('/') {
        return Some(format!("must be an absolute path (starting with /), {EXAMPLE}"));
    }
    if path == "/" {
        return Some(format!(
            "cannot be the root directory: edgeAgent needs a directory of its own, {EXAMPLE}"
        ));
    }
    if path.contains(':') {
        return Some(format!(
            "cannot contain \":\", which Docker reads as the end of the host path in a bind, {EXAMPLE}"
        ));
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        let normal = normalized(path);
        return Some(format!(
            "is not written in its plain form (no \".\", \"..\", doubled or trailing \"/\"); write {}",
            quoted(&normal)
        ));
    }
    let under = |tree: &&&str| path == **tree || path.starts_with(&format!("{tree}/"));
    if let Some(tree) = VOLATILE_TREES.iter().find(under) {
        let why = match *tree {
            "/run" | "/tmp" => "is emptied at every boot, so edgeAgent's state would be lost",
            _ => "is not a directory of the host's disk",
        };
        return Some(format!("lies under {tree}, which {why}; choose a directory under /var/lib, {EXAMPLE}"));
    }
    if let Some(tree) = SYSTEM_TREES.iter().find(under) {
        return Some(format!(
            "lies under {tree}, which belongs to the system (or to edgeprep's backups), not to a module's state; choose a directory under /var/lib, {EXAMPLE}"
        ));
    }
    None
}

/// `path` with `.`, `..` and empty components resolved lexically, for the fix a message names.
fn normalized(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Check `[agent] host_storage`; [`super::validate_agent`] calls this.
pub(super) fn check_host_storage(f: &mut Findings, path: &str) {
    if let Some(problem) = host_storage_problem(path) {
        f.error("agent.host_storage", Some(&quoted(path)), problem);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn with_host_storage(path: &str) -> Answers {
        Answers {
            agent: Some(Agent { image: None, auth: None, host_storage: Some(path.into()) }),
            ..Answers::default()
        }
    }

    #[test]
    fn plain_absolute_directories_outside_volatile_trees_are_accepted() {
        for path in [DEFAULT_HOST_STORAGE, "/data/iotedge", "/var/lib/tmp-store", "/srv/run", "/devices/x"] {
            assert_valid(&with_host_storage(path));
            assert!(warnings(&with_host_storage(path)).is_empty(), "{path}");
        }
    }

    #[test]
    fn relative_root_and_empty_paths_are_refused_with_an_example() {
        assert_one_error(
            &with_host_storage("var/lib/x"),
            &["[agent] host_storage = \"var/lib/x\"", "absolute"],
        );
        assert_one_error(&with_host_storage("/"), &["root directory"]);
        assert_one_error(&with_host_storage(""), &["is empty", DEFAULT_HOST_STORAGE]);
    }

    #[test]
    fn paths_not_in_plain_form_are_refused_naming_the_plain_form() {
        assert_one_error(&with_host_storage("/var/lib//x"), &["write \"/var/lib/x\""]);
        assert_one_error(&with_host_storage("/var/lib/x/"), &["write \"/var/lib/x\""]);
        assert_one_error(&with_host_storage("/var/lib/./x"), &["write \"/var/lib/x\""]);
        assert_one_error(&with_host_storage("/var/lib/../tmp/x"), &["write \"/var/tmp/x\""]);
    }

    #[test]
    fn volatile_and_kernel_trees_are_refused() {
        for (path, tree) in [
            ("/tmp", "/tmp"),
            ("/tmp/agent", "/tmp"),
            ("/run/iotedge", "/run"),
            ("/proc/1", "/proc"),
            ("/sys/x", "/sys"),
            ("/dev/shm/a", "/dev"),
        ] {
            assert_one_error(&with_host_storage(path), &[&format!("lies under {tree}"), "/var/lib"]);
        }
    }

    #[test]
    fn system_trees_and_edgeprep_backups_are_refused() {
        for (path, tree) in [
            ("/usr/bin", "/usr"),
            ("/etc/iotedge", "/etc"),
            ("/boot", "/boot"),
            ("/var/lib/edgeprep/backups/agent", "/var/lib/edgeprep/backups"),
        ] {
            assert_one_error(
                &with_host_storage(path),
                &[&format!("lies under {tree}"), "belongs to the system"],
            );
        }
        // Near misses are fine.
        assert_valid(&with_host_storage("/usrdata/agent"));
        assert_valid(&with_host_storage("/var/lib/edgeprep/backups-agent"));
    }

    #[test]
    fn a_colon_is_refused_because_docker_splits_binds_on_it() {
        assert_one_error(&with_host_storage("/data/a:b"), &["\":\"", "bind"]);
    }

    #[test]
    fn a_control_character_is_reported_once() {
        let e = errors(&with_host_storage("/var/lib/a\nb"));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with("[agent] host_storage = \"/var/lib/a\\nb\": contains a line break"),
            "{}",
            e[0]
        );
    }
}
