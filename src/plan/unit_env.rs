//! The environment a systemd service really gets, evaluated from the files on the device: the
//! unit file, every drop-in in systemd's order, and the environment files they name.
//!
//! edgeprep's own proxy drop-in is only one of several places a proxy can come from. Microsoft's
//! docs have people write `docker.service.d/http-proxy.conf` and `aziot-*.service.d/override.conf`,
//! which sort after `edgeprep-proxy.conf` and so win; `EnvironmentFile=` settings override every
//! `Environment=`. The plan evaluates the result instead of trusting its own file, and this
//! module is that evaluation: pure, over any [`UnitFiles`] (the device state, or the device
//! state with the plan's writes laid over it).
//!
//! The rules followed (systemd.unit(5), systemd.exec(5)):
//! - the unit file is the first `UNIT.service` found in [`paths::UNIT_DIRS`];
//! - drop-ins are the `*.conf` files of `UNIT.service.d/` in all those directories, a name in a
//!   higher-priority directory masking the same name in a lower one, read in name order;
//! - a later `Environment=` assignment of a variable wins; an empty `Environment=` clears the
//!   list, an empty `EnvironmentFile=` clears the files;
//! - variables from `EnvironmentFile=` files (read in the order named, `-` meaning "may be
//!   missing") override every `Environment=` assignment.

use std::collections::BTreeMap;

use crate::device::DeviceState;
use crate::paths;

/// The variable names that carry a proxy, in both spellings: dockerd prefers the uppercase
/// ones, aziot-identityd reads `HTTPS_PROXY` before `https_proxy`, `iotedge check` sees only
/// the lowercase `https_proxy`.
pub const PROXY_VARS: [&str; 6] =
    ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"];

/// Read access to device files and directory listings.
pub trait UnitFiles {
    fn file(&self, path: &str) -> Option<&[u8]>;
    /// Regular file names in `dir`, sorted.
    fn entries(&self, dir: &str) -> Vec<String>;
}

impl UnitFiles for DeviceState {
    fn file(&self, path: &str) -> Option<&[u8]> {
        DeviceState::file(self, path)
    }

    fn entries(&self, dir: &str) -> Vec<String> {
        self.dir_entries(dir).to_vec()
    }
}

/// How a variable was assigned, which decides how the assignment can be taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assigned {
    /// The `word`-th (0-based) assignment of an `Environment=` line in a unit file or drop-in.
    Environment { word: usize },
    /// A `NAME=value` line of an environment file named by `EnvironmentFile=` in `by`.
    EnvironmentFile { by: String },
}

/// One variable assignment and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
    /// The file holding the assignment (unit file, drop-in, or environment file).
    pub path: String,
    /// First and last line (1-based) the assignment spans.
    pub lines: (usize, usize),
    pub assigned: Assigned,
    /// The assignment is simple enough to take out of its file without touching anything
    /// else: one physical line, quoting understood, no unresolved `%` specifier.
    pub editable: bool,
}

/// The evaluated environment of one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitEnv {
    /// The files read, in order: the unit file, then drop-ins.
    pub files: Vec<String>,
    /// Variable → the assignment that wins.
    pub vars: BTreeMap<String, Setting>,
    /// Environment files named without `-` that do not exist: systemd refuses to start the unit.
    pub missing_env_files: Vec<String>,
}

impl UnitEnv {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|s| s.value.as_str())
    }
}

/// The drop-in directories of `unit`, highest priority first.
pub fn dropin_dirs(unit: &str) -> Vec<String> {
    paths::UNIT_DIRS.iter().map(|dir| format!("{dir}/{unit}.service.d")).collect()
}

/// Where the unit file of `unit` may be, highest priority first.
pub fn unit_file_candidates(unit: &str) -> Vec<String> {
    paths::UNIT_DIRS.iter().map(|dir| format!("{dir}/{unit}.service")).collect()
}

/// The unit file and drop-ins of `unit` that exist, in the order systemd reads them.
pub fn unit_files(files: &dyn UnitFiles, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(main) = unit_file_candidates(unit).into_iter().find(|p| files.file(p).is_some()) {
        out.push(main);
    }
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for dir in dropin_dirs(unit) {
        for name in files.entries(&dir) {
            let path = format!("{dir}/{name}");
            if name.ends_with(".conf") && files.file(&path).is_some() {
                // Directories come highest priority first: the first one seen masks the rest.
                by_name.entry(name).or_insert(path);
            }
        }
    }
    out.extend(by_name.into_values());
    out
}

/// Absolute paths named by `EnvironmentFile=` in any unit file or drop-in of the proxy units,
/// so the device reader can read them too.
pub fn referenced_env_files(files: &dyn UnitFiles) -> Vec<String> {
    let mut out = Vec::new();
    for unit in paths::PROXY_UNITS {
        for path in unit_files(files, unit) {
            let text = String::from_utf8_lossy(files.file(&path).unwrap_or_default()).into_owned();
            for directive in service_directives(&text) {
                if directive.key == "EnvironmentFile"
                    && let Some((file, _)) = env_file_path(&directive.value)
                    && !out.contains(&file)
                {
                    out.push(file);
                }
            }
        }
    }
    out
}

/// Evaluate the environment of `unit`.
pub fn evaluate(files: &dyn UnitFiles, unit: &str) -> UnitEnv {
    let unit_paths = unit_files(files, unit);
    let mut environment: Vec<Setting> = Vec::new();
    let mut env_files: Vec<(String, bool, String)> = Vec::new();
    for path in &unit_paths {
        let text = String::from_utf8_lossy(files.file(path).unwrap_or_default()).into_owned();
        for directive in service_directives(&text) {
            match directive.key.as_str() {
                "Environment" if directive.value.trim().is_empty() => environment.clear(),
                "Environment" => {
                    let (words, complete) = split_words(&directive.value);
                    for (index, word) in words.iter().enumerate() {
                        let (value, resolved) = resolve_specifiers(&word.text);
                        let Some((name, value)) = value.split_once('=') else { continue };
                        if !valid_name(name) {
                            continue;
                        }
                        environment.push(Setting {
                            name: name.to_string(),
                            value: value.to_string(),
                            path: path.clone(),
                            lines: directive.lines,
                            assigned: Assigned::Environment { word: index },
                            editable: complete && resolved && directive.lines.0 == directive.lines.1,
                        });
                    }
                }
                "EnvironmentFile" if directive.value.trim().is_empty() => env_files.clear(),
                "EnvironmentFile" => {
                    if let Some((file, optional)) = env_file_path(&directive.value) {
                        env_files.push((file, optional, path.clone()));
                    }
                }
                _ => {}
            }
        }
    }
    let mut env = UnitEnv { files: unit_paths, ..UnitEnv::default() };
    for setting in environment {
        env.vars.insert(setting.name.clone(), setting);
    }
    for (file, optional, by) in env_files {
        match files.file(&file) {
            Some(bytes) => {
                for setting in parse_env_file(&String::from_utf8_lossy(bytes), &file, &by) {
                    env.vars.insert(setting.name.clone(), setting);
                }
            }
            None if !optional => env.missing_env_files.push(file),
            None => {}
        }
    }
    env
}

/// One `Key=value` of a `[Service]` section, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub key: String,
    pub value: String,
    pub lines: (usize, usize),
}

/// The directives of the `[Service]` sections of a unit file or drop-in.
pub(crate) fn service_directives(text: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending: Option<(String, usize)> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let (mut joined, first) = match pending.take() {
            Some((before, first)) => {
                // systemd ignores comment lines inside a continued line.
                let trimmed = line.trim_start();
                if trimmed.starts_with('#') || trimmed.starts_with(';') {
                    pending = Some((before, first));
                    continue;
                }
                (before, first)
            }
            None => (String::new(), number),
        };
        if let Some(body) = line.strip_suffix('\\') {
            joined.push_str(body);
            joined.push(' ');
            pending = Some((joined, first));
            continue;
        }
        joined.push_str(line);
        let trimmed = joined.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            section = trimmed.trim_start_matches('[').trim_end_matches(']').to_string();
            continue;
        }
        if section != "Service" {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=') {
            out.push(Directive {
                key: key.trim().to_string(),
                value: value.trim().to_string(),
                lines: (first, number),
            });
        }
    }
    out
}

/// One word of an `Environment=` value: its text as written and unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub raw: String,
    pub text: String,
}

/// Split an `Environment=` value into words the way systemd does (quotes group, backslash
/// escapes). The flag is false when a quote is left open.
pub(crate) fn split_words(value: &str) -> (Vec<Word>, bool) {
    let mut words = Vec::new();
    let mut chars = value.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else { break };
        let mut text = String::new();
        let mut end = value.len();
        let mut quote: Option<char> = None;
        while let Some((at, c)) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => {
                    end = at;
                    break;
                }
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, escaped)) => text.push(escaped),
                    None => text.push('\\'),
                },
                (_, c) => text.push(c),
            }
        }
        words.push(Word { raw: value[start..end].to_string(), text });
        if quote.is_some() {
            return (words, false);
        }
    }
    (words, true)
}

/// systemd expands `%` specifiers in `Environment=`: `%%` is a percent sign; any other
/// specifier depends on the machine, so the value is flagged as not resolved.
fn resolve_specifiers(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut resolved = true;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(other) => {
                resolved = false;
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    (out, resolved)
}

/// The path of an `EnvironmentFile=` value and whether a leading `-` makes it optional.
/// Relative paths and paths with specifiers other than `%%` are not followed.
fn env_file_path(value: &str) -> Option<(String, bool)> {
    let value = value.trim();
    let (value, optional) = match value.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (value, false),
    };
    let (path, resolved) = resolve_specifiers(value);
    (resolved && path.starts_with('/')).then_some((path, optional))
}

/// A valid environment variable name for systemd: not empty, no `=`, no whitespace or
/// control characters (so `export http_proxy` in an environment file is no assignment).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The assignments of an environment file, by systemd's rules: `#`/`;` comments, `NAME=value`,
/// single quotes literal, double quotes with backslash escapes, backslash-newline continues,
/// unquoted trailing whitespace dropped.
pub(crate) fn parse_env_file(text: &str, path: &str, by: &str) -> Vec<Setting> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        PreKey,
        Key,
        PreValue,
        Value,
        Single,
        Double,
        Comment,
    }
    let mut out = Vec::new();
    let mut state = State::PreKey;
    let (mut key, mut value) = (String::new(), String::new());
    let mut line = 1;
    let mut first_line = 1;
    let mut trailing_ws = 0usize;
    let mut chars = text.chars().peekable();
    let finish = |key: &mut String, value: &mut String, first: usize, last: usize, out: &mut Vec<Setting>| {
        let name = key.trim_end().to_string();
        if valid_name(&name) {
            out.push(Setting {
                name,
                value: std::mem::take(value),
                path: path.to_string(),
                lines: (first, last),
                assigned: Assigned::EnvironmentFile { by: by.to_string() },
                editable: true,
            });
        }
        key.clear();
        value.clear();
    };
    while let Some(c) = chars.next() {
        match state {
            State::PreKey => match c {
                '#' | ';' => state = State::Comment,
                '\n' => line += 1,
                c if c.is_whitespace() => {}
                c => {
                    state = State::Key;
                    first_line = line;
                    key.push(c);
                }
            },
            State::Key => match c {
                '\n' => {
                    key.clear();
                    state = State::PreKey;
                    line += 1;
                }
                '=' => state = State::PreValue,
                c => key.push(c),
            },
            State::PreValue | State::Value => match c {
                '\n' => {
                    if state == State::Value {
                        value.truncate(value.len() - trailing_ws);
                    }
                    finish(&mut key, &mut value, first_line, line, &mut out);
                    state = State::PreKey;
                    line += 1;
                }
                '\'' if state == State::PreValue => state = State::Single,
                '"' if state == State::PreValue => state = State::Double,
                '\\' => match chars.next() {
                    Some('\n') => line += 1,
                    Some(escaped) => {
                        state = State::Value;
                        trailing_ws = 0;
                        value.push(escaped);
                    }
                    None => {}
                },
                c if c.is_whitespace() && state == State::PreValue => {}
                c => {
                    state = State::Value;
                    if c.is_whitespace() {
                        trailing_ws += c.len_utf8();
                    } else {
                        trailing_ws = 0;
                    }
                    value.push(c);
                }
            },
            State::Single => match c {
                '\'' => state = State::PreValue,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    value.push(c);
                }
            },
            State::Double => match c {
                '"' => state = State::PreValue,
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '`' | '$')) => value.push(e),
                    Some('\n') => line += 1,
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => {}
                },
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    value.push(c);
                }
            },
            State::Comment => {
                if c == '\n' {
                    state = State::PreKey;
                    line += 1;
                }
            }
        }
    }
    match state {
        State::Value => {
            value.truncate(value.len() - trailing_ws);
            finish(&mut key, &mut value, first_line, line, &mut out);
        }
        State::PreValue | State::Single | State::Double => {
            finish(&mut key, &mut value, first_line, line, &mut out);
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_DIR: &str = "/etc/systemd/system/docker.service.d";

    fn state(files: &[(&str, &str)]) -> DeviceState {
        let mut state = DeviceState::default();
        let mut dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, text) in files {
            state = state.with_file(path, *text);
            let (dir, name) = path.rsplit_once('/').unwrap();
            dirs.entry(dir.to_string()).or_default().push(name.to_string());
        }
        for (dir, mut names) in dirs {
            names.sort();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            state = state.with_dir(&dir, &names);
        }
        state
    }

    #[test]
    fn a_later_drop_in_wins_over_an_earlier_one() {
        let s = state(&[
            (
                "/etc/systemd/system/docker.service.d/edgeprep-proxy.conf",
                "[Service]\nEnvironment=\"https_proxy=http://new:3128\"\n",
            ),
            (
                "/etc/systemd/system/docker.service.d/http-proxy.conf",
                "[Service]\nEnvironment=https_proxy=http://old:1\n",
            ),
        ]);
        let env = evaluate(&s, "docker");
        assert_eq!(env.get("https_proxy"), Some("http://old:1"));
        assert_eq!(env.vars["https_proxy"].path, format!("{DOCKER_DIR}/http-proxy.conf"));
        assert_eq!(env.vars["https_proxy"].lines, (2, 2));
    }

    #[test]
    fn drop_ins_sort_by_name_across_directories_and_etc_masks_lib() {
        let s = state(&[
            ("/usr/lib/systemd/system/docker.service", "[Service]\nEnvironment=A=unit\n"),
            (
                "/usr/lib/systemd/system/docker.service.d/10-x.conf",
                "[Service]\nEnvironment=A=lib10 B=lib10\n",
            ),
            ("/run/systemd/system/docker.service.d/20-y.conf", "[Service]\nEnvironment=B=run20\n"),
            ("/etc/systemd/system/docker.service.d/10-x.conf", "[Service]\nEnvironment=C=etc10\n"),
            ("/lib/systemd/system/docker.service.d/30-z.conf", "[Service]\nEnvironment=C=lib30\n"),
            ("/lib/systemd/system/docker.service.d/30-z.txt", "[Service]\nEnvironment=C=ignored\n"),
        ]);
        let env = evaluate(&s, "docker");
        // /etc's 10-x.conf masks /usr/lib's, so A stays from the unit file.
        assert_eq!(env.get("A"), Some("unit"));
        assert_eq!(env.get("B"), Some("run20"));
        assert_eq!(env.get("C"), Some("lib30"));
        assert_eq!(
            env.files,
            [
                "/usr/lib/systemd/system/docker.service",
                "/etc/systemd/system/docker.service.d/10-x.conf",
                "/run/systemd/system/docker.service.d/20-y.conf",
                "/lib/systemd/system/docker.service.d/30-z.conf",
            ]
        );
    }

    #[test]
    fn environment_files_override_environment_assignments_whatever_the_order() {
        let s = state(&[
            (
                "/etc/systemd/system/docker.service.d/a.conf",
                "[Service]\nEnvironmentFile=-/etc/default/docker\n",
            ),
            (
                "/etc/systemd/system/docker.service.d/z.conf",
                "[Service]\nEnvironment=HTTP_PROXY=http://env:1\n",
            ),
            (
                "/etc/default/docker",
                "# comment\nexport http_proxy=http://ignored:1\nHTTP_PROXY=\"http://file:2\"\n",
            ),
        ]);
        let env = evaluate(&s, "docker");
        assert_eq!(env.get("HTTP_PROXY"), Some("http://file:2"));
        assert_eq!(env.get("http_proxy"), None, "systemd ignores `export` lines");
        let setting = &env.vars["HTTP_PROXY"];
        assert_eq!(setting.path, "/etc/default/docker");
        assert_eq!(setting.lines, (3, 3));
        assert_eq!(referenced_env_files(&s), ["/etc/default/docker"]);
    }

    #[test]
    fn empty_assignments_reset_the_lists() {
        let s = state(&[
            (
                "/etc/systemd/system/aziot-edged.service.d/a.conf",
                "[Service]\nEnvironment=X=1\nEnvironmentFile=/e\n",
            ),
            (
                "/etc/systemd/system/aziot-edged.service.d/b.conf",
                "[Service]\nEnvironment=\nEnvironmentFile=\n",
            ),
        ]);
        let env = evaluate(&s, "aziot-edged");
        assert!(env.vars.is_empty());
        assert!(env.missing_env_files.is_empty());
    }

    #[test]
    fn quoted_words_escapes_and_percent_specifiers() {
        let s = state(&[(
            "/etc/systemd/system/aziot-identityd.service.d/x.conf",
            "[Unit]\nEnvironment=IGNORED=1\n[Service]\nEnvironment=\"https_proxy=http://u:p%%40w@h:1\" 'NO_PROXY=a b' Z=%H\n",
        )]);
        let env = evaluate(&s, "aziot-identityd");
        assert_eq!(env.get("https_proxy"), Some("http://u:p%40w@h:1"));
        assert_eq!(env.get("NO_PROXY"), Some("a b"));
        assert_eq!(env.get("IGNORED"), None);
        assert!(env.vars["https_proxy"].editable);
        assert!(!env.vars["Z"].editable, "an unresolved specifier is not edited");
        assert_eq!(env.vars["NO_PROXY"].assigned, Assigned::Environment { word: 1 });
    }

    #[test]
    fn continued_lines_are_joined_but_not_editable() {
        let s = state(&[(
            "/etc/systemd/system/docker.service.d/x.conf",
            "[Service]\nEnvironment=A=1 \\\n  HTTPS_PROXY=http://old:1\n",
        )]);
        let env = evaluate(&s, "docker");
        assert_eq!(env.get("HTTPS_PROXY"), Some("http://old:1"));
        assert_eq!(env.vars["HTTPS_PROXY"].lines, (2, 3));
        assert!(!env.vars["HTTPS_PROXY"].editable);
    }

    #[test]
    fn a_required_environment_file_that_is_missing_is_reported() {
        let s = state(&[(
            "/etc/systemd/system/docker.service.d/x.conf",
            "[Service]\nEnvironmentFile=/etc/nope\n",
        )]);
        assert_eq!(evaluate(&s, "docker").missing_env_files, ["/etc/nope"]);
    }

    #[test]
    fn env_file_quoting_follows_systemd() {
        let settings = parse_env_file(
            "A=plain value   \nB='single $x'\nC=\"dq \\\"q\\\" \\n\"\n  ; comment\nD=con\\\ntinued\nE\n",
            "/f",
            "/u",
        );
        let got: Vec<(&str, &str, (usize, usize))> =
            settings.iter().map(|s| (s.name.as_str(), s.value.as_str(), s.lines)).collect();
        assert_eq!(
            got,
            [
                ("A", "plain value", (1, 1)),
                ("B", "single $x", (2, 2)),
                ("C", "dq \"q\" \\n", (3, 3)),
                ("D", "continued", (5, 6)),
            ]
        );
    }

    #[test]
    fn split_words_keeps_the_raw_text_of_each_word() {
        let (words, complete) = split_words("\"A=1 2\"  B=3 'C=4'");
        assert!(complete);
        let raw: Vec<&str> = words.iter().map(|w| w.raw.as_str()).collect();
        assert_eq!(raw, ["\"A=1 2\"", "B=3", "'C=4'"]);
        let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(text, ["A=1 2", "B=3", "C=4"]);
        assert!(!split_words("\"A=1").1);
    }
}
