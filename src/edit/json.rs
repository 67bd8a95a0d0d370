//! In-place edits of `/etc/docker/daemon.json` with jsonc-parser's CST: indentation, key order
//! and untouched keys are kept. dockerd rejects comments, trailing commas and duplicate keys, so
//! those are errors (naming the line) rather than something to carry along.

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
        if is_blank(text) {
            // dockerd treats an empty file as "no settings"; keep its bytes until something is set
            return Ok(Self {
                text: text.to_string(),
            });
        }
        let collect = CollectOptions {
            comments: CommentCollectionStrategy::Off,
            tokens: false,
        };
        let parsed = jsonc_parser::parse_to_ast(text, &collect, &strict_options())
            .map_err(|err| syntax_error(text, path_for_errors, &err))?;
        // jsonc-parser's strict mode is close to, but not exactly, RFC 8259 (e.g. control
        // characters inside strings); serde_json is the final word on "valid JSON".
        if let Err(err) = serde_json::from_str::<Value>(text) {
            // serde_json's message ends in its own " at line L column C"; ours says that up front
            let full = err.to_string();
            let what = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(what, _)| what);
            return Err(input_error(format!(
                "{path_for_errors}: line {}, column {}: invalid JSON ({what}); fix the syntax: \
                 dockerd does not start with an invalid daemon.json",
                err.line(),
                err.column()
            )));
        }
        match &parsed.value {
            Some(ast::Value::Object(object)) => {
                check_duplicate_keys(object, text, path_for_errors)?
            }
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
        Ok(Self {
            text: text.to_string(),
        })
    }

    /// A new file (`{}` followed by a newline, two-space indentation for what is added).
    pub fn empty() -> Self {
        Self {
            text: EMPTY_DOCUMENT.to_string(),
        }
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
        let base = if is_blank(&self.text) {
            EMPTY_DOCUMENT
        } else {
            self.text.as_str()
        };
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
    let follows_open_brace = prop
        .previous_sibling()
        .is_some_and(|node| node.token_char() == Some('{'));
    let parent = prop.parent();
    prop.remove();
    if !follows_open_brace {
        return;
    }
    if let Some(space) = parent
        .and_then(|object| object.child_at_index(1))
        .filter(CstNode::is_whitespace)
    {
        space.remove();
    }
}

/// `input` wrapped in one single-key object per element of `keys`, outermost first.
fn nest(keys: &[&str], input: CstInputValue) -> CstInputValue {
    keys.iter().rev().fold(input, |inner, key| {
        CstInputValue::Object(vec![((*key).to_string(), inner)])
    })
}

fn to_input(value: Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s),
        Value::Array(items) => CstInputValue::Array(items.into_iter().map(to_input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.into_iter().map(|(k, v)| (k, to_input(v))).collect())
        }
    }
}

/// Turn jsonc-parser's error into a message that says where, what and how to fix it.
fn syntax_error(text: &str, path: &str, err: &ParseError) -> anyhow::Error {
    let (line, column) = line_col(text, err.range().start);
    let (what, fix) = match err.kind() {
        ParseErrorKind::CommentsNotAllowed | ParseErrorKind::UnterminatedCommentBlock => (
            "a comment".to_string(),
            "remove the comment: dockerd does not accept comments in daemon.json",
        ),
        ParseErrorKind::TrailingCommasNotAllowed => (
            "a trailing comma".to_string(),
            "remove the comma after the last entry: dockerd does not accept trailing commas",
        ),
        ParseErrorKind::ExpectedStringObjectProperty => (
            "a key that is not a double-quoted string".to_string(),
            "put the key in double quotes",
        ),
        ParseErrorKind::SingleQuotedStringsNotAllowed => (
            "a single-quoted string".to_string(),
            "use double quotes: JSON has no single-quoted strings",
        ),
        ParseErrorKind::HexadecimalNumbersNotAllowed
        | ParseErrorKind::UnaryPlusNumbersNotAllowed
        | ParseErrorKind::BareDecimalPointNumbersNotAllowed
        | ParseErrorKind::NonFiniteNumbersNotAllowed => (
            format!("a number JSON does not allow ({})", err.kind()),
            "write it as a plain decimal number",
        ),
        ParseErrorKind::ExpectedComma => (
            "a missing comma".to_string(),
            "add a comma between the entries",
        ),
        ParseErrorKind::MultipleRootJsonValues => (
            "more than one top-level value".to_string(),
            "keep a single { ... } object holding all settings",
        ),
        other => (
            format!("invalid JSON ({other})"),
            "fix the syntax: dockerd does not start with an invalid daemon.json",
        ),
    };
    input_error(format!(
        "{path}: line {line}, column {column}: {what}; {fix}"
    ))
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
        ast::Value::Array(array) => array
            .elements
            .iter()
            .try_for_each(|element| check_nested_duplicates(element, text, path)),
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
