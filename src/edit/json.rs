//! In-place edits of `/etc/docker/daemon.json` with jsonc-parser's CST: indentation, key order
//! and untouched keys are kept. dockerd rejects comments, trailing commas and duplicate keys, so
//! those are errors (naming the line) rather than something to carry along. So is a UTF-8 byte
//! order mark (see [`DaemonJson::parse`]); `\r\n` line endings are kept, and lines edgeprep adds
//! use them too.

use std::collections::HashMap;

use anyhow::Result;
use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstObjectProp, CstRootNode};
use jsonc_parser::errors::{ParseError, ParseErrorKind};
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};
use serde_json::Value;

use crate::error::{input_error, line_col};

/// What an empty (or all-whitespace) file is edited as: the CST then picks its default two-space
/// indentation for whatever is added.
const EMPTY_DOCUMENT: &str = "{}\n";

/// A parsed daemon.json that remembers its exact formatting.
///
/// Only the text is stored: jsonc-parser's CST is `!Send` and cheap to rebuild, so each edit
/// re-parses, changes the tree and keeps the printed result. The text is valid strict JSON at all
/// times, which is what makes that re-parse infallible in practice.
pub struct DaemonJson {
    text: String,
}

impl DaemonJson {
    /// Parse `text` strictly. Invalid JSON, comments, trailing commas, duplicate keys or a
    /// top level that is not an object: an [`crate::error::InputError`] naming
    /// `path_for_errors`, line and column, and the fix. An empty (or all-whitespace) file is an
    /// empty object.
    pub fn parse(text: &str, path_for_errors: &str) -> Result<Self> {
        if text.starts_with('\u{feff}') {
            // Recent dockerd skips a BOM, but the moby-engine 20.10 that many IoT Edge 1.4 devices
            // run hands the bytes straight to Go's encoding/json, which refuses them. Keeping the
            // BOM would leave such a dockerd unable to start; removing it silently would change
            // a byte the user did not ask edgeprep to change.
            return Err(input_error(format!(
                "{path_for_errors}: line 1, column 1: the file starts with a UTF-8 byte order mark \
                 (BOM), which older dockerd releases refuse; save it as UTF-8 without a BOM, e.g. \
                 sed -i '1s/^\\xEF\\xBB\\xBF//' {path_for_errors}"
            )));
        }
        if is_blank(text) {
            // dockerd treats an empty file as "no settings"; keep its bytes until something is set
            return Ok(Self { text: text.to_string() });
        }
        let collect = CollectOptions { comments: CommentCollectionStrategy::Off, tokens: false };
        let parsed = jsonc_parser::parse_to_ast(text, &collect, &strict_options())
            .map_err(|err| syntax_error(text, path_for_errors, &err))?;
        // jsonc-parser's strict mode is close to, but not exactly, RFC 8259 (e.g. control
        // characters inside strings); serde_json is the final word on "valid JSON".
        if let Err(err) = serde_json::from_str::<Value>(text) {
            // serde_json's message ends in its own " at line L column C"; ours says that up front
            let full = err.to_string();
            let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(what, _)| what);
            let (line, column) = line_col(text, serde_json_offset(text, err.line(), err.column()));
            return Err(input_error(format!(
                "{path_for_errors}: line {line}, column {column}: invalid JSON ({what}); fix the \
                 syntax: dockerd does not start with an invalid daemon.json"
            )));
        }
        match &parsed.value {
            Some(ast::Value::Object(object)) => check_duplicate_keys(object, text, path_for_errors)?,
            Some(other) => {
                let (line, column) = line_col(text, other.start());
                return Err(input_error(format!(
                    "{path_for_errors}: line {line}, column {column}: the top level is {}, not an \
                     object; daemon.json must be a single {{ ... }} object of settings",
                    describe(other)
                )));
            }
            // only trivia, which strict mode already refused unless it was whitespace
            None => {}
        }
        Ok(Self { text: text.to_string() })
    }

    /// A new file (`{}` followed by a newline, two-space indentation for what is added).
    pub fn empty() -> Self {
        Self { text: EMPTY_DOCUMENT.to_string() }
    }

    /// The document as text: byte-identical to the input when nothing was changed.
    pub fn render(&self) -> String {
        self.text.clone()
    }

    /// The value at `path` (`["log-opts", "max-size"]`), as serde_json sees it.
    ///
    /// An empty path is the whole document.
    pub fn get(&self, path: &[&str]) -> Option<Value> {
        let mut current = if is_blank(&self.text) {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str::<Value>(&self.text).ok()?
        };
        for key in path {
            current = match current {
                Value::Object(mut map) => map.remove(*key)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Set the value at `path`, creating intermediate objects. Setting an equal value changes
    /// nothing. New keys are appended after the existing ones with the file's indentation.
    ///
    /// An intermediate value that is not an object is replaced by one (the caller asked for a
    /// key inside it). An empty path is ignored: daemon.json must stay an object, and replacing
    /// all of it is not an edit.
    pub fn set(&mut self, path: &[&str], value: Value) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if self.get(path).as_ref() == Some(&value) {
            return;
        }
        let adding = self.get(path).is_none();
        let input = to_input(value);
        self.edit(|root| set_in(root, first, rest, input, adding));
    }

    /// Remove the value at `path` if present.
    ///
    /// The property goes together with its separating comma and its line, so neither a dangling
    /// comma nor an empty line is left behind. An empty path is ignored.
    pub fn remove(&mut self, path: &[&str]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        if self.get(path).is_none() {
            return;
        }
        self.edit(|root| {
            let mut object = root.clone();
            for key in parents {
                match object.object_value(key) {
                    Some(inner) => object = inner,
                    None => return,
                }
            }
            if let Some(prop) = object.get(last) {
                remove_property(prop);
            }
        });
    }

    /// Re-parse the text into a CST, let `change` edit its top-level object and keep the result.
    fn edit(&mut self, change: impl FnOnce(&CstObject)) {
        let base = if is_blank(&self.text) { EMPTY_DOCUMENT } else { self.text.as_str() };
        // The text was validated by `parse` (or produced by an earlier edit), so neither of these
        // can fail; an edit that cannot be made leaves the document as it was.
        let Ok(root) = CstRootNode::parse(base, &strict_options()) else {
            debug_assert!(false, "daemon.json text stopped parsing: {base:?}");
            return;
        };
        let Some(object) = root.object_value() else {
            debug_assert!(false, "daemon.json top level is not an object: {base:?}");
            return;
        };
        change(&object);
        let edited = root.to_string();
        debug_assert!(
            serde_json::from_str::<Value>(&edited).is_ok(),
            "edit produced invalid JSON:\n{edited}"
        );
        self.text = edited;
    }
}

/// Everything dockerd's Go JSON decoder would refuse is refused here too.
fn strict_options() -> ParseOptions {
    ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Walk down `first`/`rest` from `object`, replacing the final value, descending into existing
/// objects and appending whatever is missing as one nested value (so a new `log-opts` comes out
/// as a properly indented multi-line object rather than `{}` grown key by key).
///
/// When a key is being added, every object on the way down is made multi-line first. jsonc-parser
/// always makes the object it appends to multi-line; doing the same for its ancestors keeps a
/// one-line file from ending up half one-line and half indented (`{"log-opts": {\n    ...\n  }}`).
fn set_in(object: &CstObject, first: &str, rest: &[&str], input: CstInputValue, adding: bool) {
    if adding {
        object.ensure_multiline();
    }
    let Some(prop) = object.get(first) else {
        object.append(first, nest(rest, input));
        return;
    };
    match rest.split_first() {
        None => prop.set_value(input),
        Some((next, deeper)) => match prop.object_value() {
            Some(inner) => set_in(&inner, next, deeper, input, adding),
            None => prop.set_value(nest(rest, input)),
        },
    }
}

/// Remove `prop` with its comma and line (jsonc-parser does that), then drop the space a one-line
/// object is left with when its first property goes: `{"a": 1, "b": 2}` becomes `{"b": 2}`,
/// not `{ "b": 2}`.
fn remove_property(prop: CstObjectProp) {
    let follows_open_brace = prop.previous_sibling().is_some_and(|node| node.token_char() == Some('{'));
    let parent = prop.parent();
    prop.remove();
    if !follows_open_brace {
        return;
    }
    if let Some(space) = parent.and_then(|object| object.child_at_index(1)).filter(CstNode::is_whitespace) {
        space.remove();
    }
}

/// `input` wrapped in one single-key object per element of `keys`, outermost first.
fn nest(keys: &[&str], input: CstInputValue) -> CstInputValue {
    keys.iter().rev().fold(input, |inner, key| CstInputValue::Object(vec![((*key).to_string(), inner)]))
}

fn to_input(value: Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s),
        Value::Array(items) => CstInputValue::Array(items.into_iter().map(to_input).collect()),
        Value::Object(map) => CstInputValue::Object(map.into_iter().map(|(k, v)| (k, to_input(v))).collect()),
    }
}

/// The byte offset serde_json's error position points at. serde_json counts columns in bytes
/// and reports a line break it has just read as column 0 of the next line; edgeprep's messages
/// count characters, and put a line break at the end of its own line, like an editor shows it.
fn serde_json_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = match line.checked_sub(2) {
        None => 0,
        Some(breaks) => text.match_indices('\n').nth(breaks).map_or(text.len(), |(at, _)| at + 1),
    };
    let offset = match column.checked_sub(1) {
        Some(column) => line_start + column,
        None => line_start.saturating_sub(1),
    };
    line_end(text, offset.min(text.len()))
}

/// `offset`, moved off the line feed of a `\r\n`: the `\r` is the line's end as the user sees
/// it, not a column of its own.
fn line_end(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    if offset > 0 && bytes.get(offset) == Some(&b'\n') && bytes[offset - 1] == b'\r' {
        offset - 1
    } else {
        offset
    }
}

/// Turn jsonc-parser's error into a message that says where, what and how to fix it.
fn syntax_error(text: &str, path: &str, err: &ParseError) -> anyhow::Error {
    let (line, column) = line_col(text, line_end(text, err.range().start));
    let (what, fix) = match err.kind() {
        ParseErrorKind::CommentsNotAllowed | ParseErrorKind::UnterminatedCommentBlock => {
            ("a comment".to_string(), "remove the comment: dockerd does not accept comments in daemon.json")
        }
        ParseErrorKind::TrailingCommasNotAllowed => (
            "a trailing comma".to_string(),
            "remove the comma after the last entry: dockerd does not accept trailing commas",
        ),
        ParseErrorKind::ExpectedStringObjectProperty => {
            ("a key that is not a double-quoted string".to_string(), "put the key in double quotes")
        }
        ParseErrorKind::SingleQuotedStringsNotAllowed => {
            ("a single-quoted string".to_string(), "use double quotes: JSON has no single-quoted strings")
        }
        ParseErrorKind::HexadecimalNumbersNotAllowed
        | ParseErrorKind::UnaryPlusNumbersNotAllowed
        | ParseErrorKind::BareDecimalPointNumbersNotAllowed
        | ParseErrorKind::NonFiniteNumbersNotAllowed => {
            (format!("a number JSON does not allow ({})", err.kind()), "write it as a plain decimal number")
        }
        ParseErrorKind::ExpectedComma => ("a missing comma".to_string(), "add a comma between the entries"),
        ParseErrorKind::MultipleRootJsonValues => {
            ("more than one top-level value".to_string(), "keep a single { ... } object holding all settings")
        }
        other => (
            format!("invalid JSON ({other})"),
            "fix the syntax: dockerd does not start with an invalid daemon.json",
        ),
    };
    input_error(format!("{path}: line {line}, column {column}: {what}; {fix}"))
}

/// Refuse a key that appears twice in one object, anywhere in the document; serde_json would
/// silently keep the last one, hiding which setting dockerd is actually given.
fn check_duplicate_keys(object: &ast::Object<'_>, text: &str, path: &str) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for prop in &object.properties {
        let name = prop.name.as_str();
        let start = prop.name.start();
        if let Some(first) = seen.insert(name, start) {
            let (first_line, _) = line_col(text, first);
            let (line, column) = line_col(text, start);
            return Err(input_error(format!(
                "{path}: line {line}, column {column}: duplicate key \"{name}\" (first on line \
                 {first_line}); keep only one of them: dockerd refuses duplicate keys"
            )));
        }
        check_nested_duplicates(&prop.value, text, path)?;
    }
    Ok(())
}

fn check_nested_duplicates(value: &ast::Value<'_>, text: &str, path: &str) -> Result<()> {
    match value {
        ast::Value::Object(object) => check_duplicate_keys(object, text, path),
        ast::Value::Array(array) => {
            array.elements.iter().try_for_each(|element| check_nested_duplicates(element, text, path))
        }
        _ => Ok(()),
    }
}

fn describe(value: &ast::Value<'_>) -> &'static str {
    match value {
        ast::Value::StringLit(_) => "a string",
        ast::Value::NumberLit(_) => "a number",
        ast::Value::BooleanLit(_) => "a boolean",
        ast::Value::Object(_) => "an object",
        ast::Value::Array(_) => "an array",
        ast::Value::NullKeyword(_) => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputError;
    use proptest::prelude::*;
    use serde_json::json;

    const PATH: &str = "/etc/docker/daemon.json";

    fn parse(text: &str) -> DaemonJson {
        DaemonJson::parse(text, PATH).unwrap()
    }

    /// The message of a parse failure, checked to be an InputError (exit code 2).
    fn parse_error(text: &str) -> String {
        let err = DaemonJson::parse(text, PATH).err().expect("parse should fail");
        assert!(err.is::<InputError>(), "not an InputError: {err:#}");
        err.to_string()
    }

    /// Everything edgeprep's plan may do to daemon.json.
    fn apply_plan(doc: &mut DaemonJson) {
        doc.set(&["log-driver"], json!("local"));
        doc.set(&["log-opts", "max-size"], json!("10m"));
        doc.set(&["log-opts", "max-file"], json!("3"));
        doc.set(&["dns"], json!(["10.0.0.2"]));
    }

    fn assert_valid(text: &str) {
        serde_json::from_str::<Value>(text).unwrap();
        DaemonJson::parse(text, PATH).unwrap();
    }

    #[test]
    fn round_trips_odd_formatting_byte_identical() {
        let inputs = [
            "{\n\t\"a\" :   1,\n    \"b\":[1,2 ,3],\n\n  \"c\"  : {\"d\":null}\n}",
            "{\r\n  \"a\": 1,\r\n  \"b\": \"x\"\r\n}\r\n",
            "  {  }  \n\n",
            "{\"a\":1}",
            "{\n  \"s\": \"\\u00e9\\n\\\"q\\\"\", \"n\": -1.5e3\n}\n",
        ];
        for input in inputs {
            assert_eq!(parse(input).render(), input);
        }
    }

    #[test]
    fn replaces_only_the_value_of_an_existing_key() {
        let mut doc = parse("{\n    \"log-driver\" :  \"json-file\",  \"debug\": true\n}\n");
        doc.set(&["log-driver"], json!("local"));
        assert_eq!(doc.render(), "{\n    \"log-driver\" :  \"local\",  \"debug\": true\n}\n");
    }

    #[test]
    fn replaces_numeric_max_file_with_string() {
        let mut doc =
            parse("{\n  \"log-opts\": {\n    \"max-file\": 3,\n    \"max-size\": \"10m\"\n  }\n}\n");
        doc.set(&["log-opts", "max-file"], json!("3"));
        assert_eq!(
            doc.render(),
            "{\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \"max-size\": \"10m\"\n  }\n}\n"
        );
    }

    #[test]
    fn adds_key_inside_existing_log_opts() {
        let mut doc = parse("{\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  },\n  \"debug\": false\n}\n");
        doc.set(&["log-opts", "max-file"], json!("3"));
        assert_eq!(
            doc.render(),
            "{\n  \"log-opts\": {\n    \"max-size\": \"10m\",\n    \"max-file\": \"3\"\n  },\n  \"debug\": false\n}\n"
        );
    }

    #[test]
    fn creates_nested_log_opts_object() {
        let mut doc = parse("{\n  \"debug\": false\n}\n");
        doc.set(&["log-opts", "max-size"], json!("10m"));
        assert_eq!(
            doc.render(),
            "{\n  \"debug\": false,\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  }\n}\n"
        );
    }

    #[test]
    fn creates_several_levels_of_intermediate_objects() {
        let mut doc = parse("{\n  \"debug\": false\n}\n");
        doc.set(&["a", "b", "c"], json!(true));
        assert_eq!(
            doc.render(),
            "{\n  \"debug\": false,\n  \"a\": {\n    \"b\": {\n      \"c\": true\n    }\n  }\n}\n"
        );
    }

    #[test]
    fn replaces_a_non_object_intermediate_with_an_object() {
        let mut doc = parse("{\n  \"log-opts\": \"oops\",\n  \"debug\": false\n}\n");
        doc.set(&["log-opts", "max-size"], json!("10m"));
        assert_eq!(
            doc.render(),
            "{\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  },\n  \"debug\": false\n}\n"
        );
    }

    #[test]
    fn appends_top_level_key_in_two_space_file() {
        let mut doc = parse("{\n  \"debug\": false\n}\n");
        doc.set(&["log-driver"], json!("local"));
        assert_eq!(doc.render(), "{\n  \"debug\": false,\n  \"log-driver\": \"local\"\n}\n");
    }

    #[test]
    fn appends_top_level_key_in_four_space_file() {
        let mut doc = parse("{\n    \"debug\": false\n}\n");
        doc.set(&["log-driver"], json!("local"));
        doc.set(&["log-opts", "max-size"], json!("10m"));
        assert_eq!(
            doc.render(),
            "{\n    \"debug\": false,\n    \"log-driver\": \"local\",\n    \"log-opts\": {\n        \"max-size\": \"10m\"\n    }\n}\n"
        );
    }

    #[test]
    fn keeps_tab_indentation_when_adding_log_opts() {
        let mut doc = parse("{\n\t\"debug\": false\n}\n");
        doc.set(&["log-opts", "max-size"], json!("10m"));
        doc.set(&["log-opts", "max-file"], json!("3"));
        assert_eq!(
            doc.render(),
            "{\n\t\"debug\": false,\n\t\"log-opts\": {\n\t\t\"max-size\": \"10m\",\n\t\t\"max-file\": \"3\"\n\t}\n}\n"
        );
    }

    #[test]
    fn keeps_crlf_line_endings_when_adding() {
        let mut doc = parse("{\r\n  \"debug\": false\r\n}\r\n");
        doc.set(&["log-driver"], json!("local"));
        assert_eq!(doc.render(), "{\r\n  \"debug\": false,\r\n  \"log-driver\": \"local\"\r\n}\r\n");
    }

    #[test]
    fn keeps_missing_final_newline() {
        let mut doc = parse("{\n  \"debug\": false\n}");
        doc.set(&["log-driver"], json!("local"));
        assert_eq!(doc.render(), "{\n  \"debug\": false,\n  \"log-driver\": \"local\"\n}");
    }

    #[test]
    fn one_line_file_becomes_multi_line_when_a_key_is_added() {
        let mut doc = parse("{\"a\":1}");
        doc.set(&["b"], json!(2));
        assert_eq!(doc.render(), "{\n  \"a\":1,\n  \"b\": 2\n}");
    }

    #[test]
    fn one_line_file_adding_nested_key_is_indented_throughout() {
        let mut doc = parse("{\"log-opts\": {\"max-file\": \"3\"}, \"debug\": true}\n");
        doc.set(&["log-opts", "max-size"], json!("10m"));
        assert_eq!(
            doc.render(),
            "{\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \"max-size\": \"10m\"\n  },\n  \"debug\": true\n}\n"
        );
    }

    #[test]
    fn one_line_file_stays_one_line_when_a_value_is_replaced() {
        let mut doc = parse("{\"a\":1,\"log-opts\":{\"max-file\":3}}");
        doc.set(&["log-opts", "max-file"], json!("3"));
        assert_eq!(doc.render(), "{\"a\":1,\"log-opts\":{\"max-file\":\"3\"}}");
    }

    #[test]
    fn empty_file_is_an_empty_object_and_renders_unchanged() {
        for text in ["", "  \n\t\n"] {
            let doc = parse(text);
            assert_eq!(doc.get(&[]), Some(json!({})));
            assert_eq!(doc.get(&["log-driver"]), None);
            assert_eq!(doc.render(), text);
        }
    }

    #[test]
    fn setting_on_empty_file_starts_a_two_space_object() {
        for text in ["", "  \n\t\n"] {
            let mut doc = parse(text);
            doc.set(&["log-driver"], json!("local"));
            assert_eq!(doc.render(), "{\n  \"log-driver\": \"local\"\n}\n");
        }
    }

    #[test]
    fn empty_is_braces_and_newline_with_two_space_additions() {
        let mut doc = DaemonJson::empty();
        assert_eq!(doc.render(), "{}\n");
        doc.set(&["log-driver"], json!("local"));
        assert_eq!(doc.render(), "{\n  \"log-driver\": \"local\"\n}\n");
    }

    #[test]
    fn setting_an_equal_value_changes_nothing() {
        let text = "{\n\t\"log-driver\":\"local\" ,\n\t\"log-opts\" : { \"max-file\": \"3\" },\n\t\"dns\": [ \"10.0.0.2\" ]\n}";
        let mut doc = parse(text);
        doc.set(&["log-driver"], json!("local"));
        doc.set(&["log-opts", "max-file"], json!("3"));
        doc.set(&["log-opts"], json!({"max-file": "3"}));
        doc.set(&["dns"], json!(["10.0.0.2"]));
        assert_eq!(doc.render(), text);
    }

    #[test]
    fn numbers_are_not_equal_to_strings() {
        let mut doc = parse("{\"max-file\": 3}");
        doc.set(&["max-file"], json!("3"));
        assert_eq!(doc.render(), "{\"max-file\": \"3\"}");
    }

    #[test]
    fn sets_each_kind_of_value() {
        let mut doc = DaemonJson::empty();
        let values = [
            ("s", json!("a \"quoted\" \\ value\twith\ncontrol")),
            ("dns", json!(["10.0.0.2", "10.0.0.3"])),
            ("debug", json!(true)),
            ("n", json!(3)),
            ("f", json!(-1.5)),
            ("null", json!(null)),
            ("o", json!({"k": "v", "nested": {"x": [1, 2]}})),
        ];
        for (key, value) in &values {
            doc.set(&[key], value.clone());
        }
        assert_valid(&doc.render());
        for (key, value) in &values {
            assert_eq!(doc.get(&[key]).as_ref(), Some(value), "{key}");
        }
        assert!(doc.render().contains("\"dns\": [\"10.0.0.2\", \"10.0.0.3\"]"));
    }

    #[test]
    fn get_reads_nested_values_and_misses() {
        let doc = parse("{\"log-opts\": {\"max-size\": \"10m\"}, \"dns\": [\"1.1.1.1\"]}");
        assert_eq!(doc.get(&["log-opts", "max-size"]), Some(json!("10m")));
        assert_eq!(doc.get(&["log-opts"]), Some(json!({"max-size": "10m"})));
        assert_eq!(doc.get(&["dns"]), Some(json!(["1.1.1.1"])));
        assert_eq!(doc.get(&["log-opts", "max-file"]), None);
        assert_eq!(doc.get(&["dns", "0"]), None);
        assert_eq!(doc.get(&["missing", "deeper"]), None);
    }

    #[test]
    fn removes_properties_without_dangling_commas() {
        let text = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n";
        let cases = [
            ("a", "{\n  \"b\": 2,\n  \"c\": 3\n}\n"),
            ("b", "{\n  \"a\": 1,\n  \"c\": 3\n}\n"),
            ("c", "{\n  \"a\": 1,\n  \"b\": 2\n}\n"),
        ];
        for (key, expected) in cases {
            let mut doc = parse(text);
            doc.remove(&[key]);
            assert_eq!(doc.render(), expected, "removing {key}");
        }
    }

    #[test]
    fn removes_the_only_property() {
        let mut doc = parse("{\n  \"a\": 1\n}\n");
        doc.remove(&["a"]);
        assert_eq!(doc.render(), "{}\n");
    }

    #[test]
    fn removes_a_nested_property() {
        let mut doc = parse("{\n  \"o\": {\n    \"x\": 1,\n    \"y\": 2\n  },\n  \"c\": 3\n}\n");
        doc.remove(&["o", "y"]);
        assert_eq!(doc.render(), "{\n  \"o\": {\n    \"x\": 1\n  },\n  \"c\": 3\n}\n");
    }

    #[test]
    fn removes_from_one_line_objects() {
        let cases =
            [("a", "{\"b\": 2, \"c\": 3}"), ("b", "{\"a\": 1, \"c\": 3}"), ("c", "{\"a\": 1, \"b\": 2}")];
        for (key, expected) in cases {
            let mut doc = parse("{\"a\": 1, \"b\": 2, \"c\": 3}");
            doc.remove(&[key]);
            assert_eq!(doc.render(), expected, "removing {key}");
        }
    }

    #[test]
    fn removing_a_missing_key_changes_nothing() {
        let text = "{ \"a\" : 1 }";
        let mut doc = parse(text);
        doc.remove(&["b"]);
        doc.remove(&["a", "b"]);
        doc.remove(&[]);
        assert_eq!(doc.render(), text);
        let mut empty = parse("");
        empty.remove(&["a"]);
        assert_eq!(empty.render(), "");
    }

    #[test]
    fn rejects_comment_naming_line() {
        let msg = parse_error("{\n  \"debug\": true, // verbose\n  \"a\": 1\n}\n");
        assert!(msg.starts_with("/etc/docker/daemon.json: line 2, column 18:"), "{msg}");
        assert!(msg.contains("remove the comment"), "{msg}");
    }

    #[test]
    fn rejects_block_comment_naming_line() {
        let msg = parse_error("{\n  \"a\": 1,\n  /* off */\n  \"b\": 2\n}\n");
        assert!(msg.contains("line 3, column 3:"), "{msg}");
        assert!(msg.contains("remove the comment"), "{msg}");
    }

    #[test]
    fn rejects_trailing_comma_naming_line() {
        let msg = parse_error("{\n  \"a\": 1,\n  \"b\": 2,\n}\n");
        assert!(msg.contains("line 3, column 9:"), "{msg}");
        assert!(msg.contains("remove the comma"), "{msg}");
    }

    #[test]
    fn rejects_trailing_comma_in_array_naming_line() {
        let msg = parse_error("{\n  \"dns\": [\n    \"10.0.0.2\",\n  ]\n}\n");
        assert!(msg.contains("line 3, column 15:"), "{msg}");
        assert!(msg.contains("trailing comma"), "{msg}");
    }

    #[test]
    fn rejects_duplicate_key_naming_second_occurrence() {
        let msg = parse_error("{\n  \"a\": 1,\n  \"b\": 2,\n  \"a\": 3\n}\n");
        assert!(msg.contains("line 4, column 3:"), "{msg}");
        assert!(msg.contains("duplicate key \"a\" (first on line 2)"), "{msg}");
    }

    #[test]
    fn rejects_duplicate_key_inside_nested_object() {
        let msg =
            parse_error("{\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \"max-file\": \"5\"\n  }\n}\n");
        assert!(msg.contains("line 4, column 5:"), "{msg}");
        assert!(msg.contains("\"max-file\""), "{msg}");
    }

    #[test]
    fn rejects_duplicate_key_written_with_escapes() {
        let msg = parse_error("{\n  \"ab\": 1,\n  \"a\\u0062\": 2\n}");
        assert!(msg.contains("line 3, column 3:"), "{msg}");
    }

    #[test]
    fn rejects_invalid_json_naming_line() {
        let msg = parse_error("{\n  \"a\": 1\n  \"b\": 2\n}\n");
        assert!(msg.contains("line 2, column 9:"), "{msg}");
        assert!(msg.contains("missing comma"), "{msg}");
        let msg = parse_error("{\n  \"a\": \n}\n");
        assert!(msg.contains("line 3, column 1:"), "{msg}");
        assert!(msg.contains("invalid JSON"), "{msg}");
    }

    #[test]
    fn rejects_what_only_serde_json_catches() {
        let msg = parse_error("{\n  \"a\": \"tab\there\"\n}\n");
        assert!(msg.contains("line 2, column 12:"), "{msg}");
        assert!(msg.contains("control character"), "{msg}");
        assert!(!msg.contains(" at line "), "position given twice: {msg}");
    }

    #[test]
    fn serde_json_positions_count_characters_and_end_lines_where_the_break_is() {
        // serde_json would say column 13 (bytes: `é` is two).
        let msg = parse_error("{\n  \"é\": \"tab\there\"\n}\n");
        assert!(msg.contains("line 2, column 12:"), "{msg}");
        // A line break inside a string: serde_json says "line 3, column 0".
        for text in ["{\n  \"a\": \"x\n\"\n}\n", "{\r\n  \"a\": \"x\r\n\"\r\n}\r\n"] {
            let msg = parse_error(text);
            assert!(msg.contains("line 2, column 10:"), "{text:?}: {msg}");
        }
    }

    #[test]
    fn rejects_unquoted_and_single_quoted_keys() {
        assert!(parse_error("{\n  debug: true\n}").contains("line 2, column 3:"));
        assert!(parse_error("{'debug': true}").contains("double quotes"));
    }

    #[test]
    fn rejects_top_level_array() {
        let msg = parse_error("\n[\"a\"]\n");
        assert!(msg.contains("line 2, column 1:"), "{msg}");
        assert!(msg.contains("top level is an array"), "{msg}");
    }

    #[test]
    fn rejects_top_level_scalars_and_extra_values() {
        assert!(parse_error("\"local\"").contains("top level is a string"));
        assert!(parse_error("null").contains("top level is null"));
        assert!(parse_error("{} {}").contains("more than one top-level value"));
    }

    #[test]
    fn snapshot_plan_on_typical_file() {
        let mut doc = parse(concat!(
            "{\n",
            "  \"data-root\": \"/var/lib/docker\",\n",
            "  \"log-driver\": \"json-file\",\n",
            "  \"log-opts\": {\n",
            "    \"max-file\": 3\n",
            "  },\n",
            "  \"insecure-registries\": []\n",
            "}\n"
        ));
        apply_plan(&mut doc);
        assert_valid(&doc.render());
        insta::assert_snapshot!(doc.render());
    }

    #[test]
    fn snapshot_plan_on_tab_indented_file_without_final_newline() {
        let mut doc = parse("{\n\t\"debug\": true,\n\t\"log-opts\": {\"max-size\": \"50m\"}\n}");
        apply_plan(&mut doc);
        assert_valid(&doc.render());
        insta::assert_snapshot!(doc.render());
    }

    #[test]
    fn snapshot_plan_on_empty_file() {
        let mut doc = parse("");
        apply_plan(&mut doc);
        assert_valid(&doc.render());
        insta::assert_snapshot!(doc.render());
    }

    /// A file with uneven formatting, so a property's text is distinctive enough that any change
    /// to it shows.
    const FIXTURE: &str = concat!(
        "{\n",
        "    \"data-root\"  :\"/var/lib/docker\",\n",
        "\t\"log-driver\": \"json-file\",\n",
        "  \"log-opts\": { \"max-file\": 3 },\n",
        "  \"registry-mirrors\": [ \"https://mirror.example\",\"https://b.example\" ],\n",
        "\n",
        "  \"debug\"   : false,\n",
        "  \"features\": {\n",
        "      \"buildkit\": true\n",
        "  }\n",
        "}"
    );

    /// Each top-level property's own text (name, colon, value), keyed by its name.
    fn top_level_texts(text: &str) -> Vec<(String, String)> {
        let root = CstRootNode::parse(text, &ParseOptions::default()).unwrap();
        root.object_value()
            .unwrap()
            .properties()
            .into_iter()
            .map(|prop| (prop.decoded_name().unwrap(), prop.to_string()))
            .collect()
    }

    fn path_strategy() -> impl Strategy<Value = Vec<&'static str>> {
        prop::sample::select(vec![
            vec!["log-driver"],
            vec!["log-opts", "max-file"],
            vec!["log-opts", "max-size"],
            vec!["dns"],
            vec!["debug"],
            vec!["features", "buildkit"],
            vec!["features", "containerd-snapshotter"],
            vec!["new", "deeply", "nested"],
            vec!["live-restore"],
        ])
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            "\\PC{0,12}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
        ];
        prop_oneof![
            3 => leaf.clone(),
            1 => prop::collection::vec("[0-9.]{1,15}", 0..3).prop_map(|v| json!(v)),
            1 => prop::collection::btree_map("[a-z-]{1,8}", leaf, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    }

    proptest! {
        #[test]
        fn random_sets_keep_untouched_properties_and_valid_json(
            ops in prop::collection::vec((path_strategy(), value_strategy()), 1..8)
        ) {
            let before = top_level_texts(FIXTURE);
            let mut doc = parse(FIXTURE);
            for (path, value) in &ops {
                doc.set(path, value.clone());
                let text = doc.render();
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "invalid JSON:\n{}", text);
                prop_assert!(DaemonJson::parse(&text, PATH).is_ok(), "not strict JSON:\n{}", text);
                let got = doc.get(path);
                prop_assert_eq!(got.as_ref(), Some(value));
            }
            let after = top_level_texts(&doc.render());
            for (name, text) in &before {
                if ops.iter().any(|(path, _)| path[0] == name) {
                    continue;
                }
                let kept = after.iter().find(|(n, _)| n == name).map(|(_, t)| t);
                prop_assert_eq!(kept, Some(text), "{} changed", name);
            }
            // existing keys keep their order, new ones come after them
            let names: Vec<&str> = after.iter().map(|(n, _)| n.as_str()).collect();
            let old: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
            prop_assert_eq!(&names[..old.len()], &old[..]);
        }
    }
}
