//! In-place edits of `/etc/aziot/config.toml` with toml_edit.
//!
//! Rules the editor enforces, because IoT Edge's parser would otherwise misread the file:
//! top-level keys go before the first table (a key after a `[table]` header belongs to that
//! table); new tables are standard `[a.b]` tables placed after their parent's family (or at the
//! end); a changed value keeps the inline comment and spacing of the line it replaces.

use anyhow::Result;

/// A parsed config.toml that remembers its exact formatting.
#[derive(Debug, Clone)]
pub struct ConfigToml {
    doc: toml_edit::DocumentMut,
}

impl ConfigToml {
    /// Parse `text`. A syntax error is an [`crate::error::InputError`] naming `path_for_errors`,
    /// the line and column, and what to fix.
    pub fn parse(text: &str, path_for_errors: &str) -> Result<Self> {
        let _ = (text, path_for_errors);
        todo!()
    }

    /// The document as text: byte-identical to the input when nothing was changed.
    pub fn render(&self) -> String {
        self.doc.to_string()
    }

    /// The string at `table_path` / `key` (`table_path` empty = top level), if it is a string.
    pub fn get_str(&self, table_path: &[&str], key: &str) -> Option<String> {
        let _ = (table_path, key);
        todo!()
    }

    /// The value at `table_path` / `key`, if any.
    pub fn get(&self, table_path: &[&str], key: &str) -> Option<toml_edit::Value> {
        let _ = (table_path, key);
        todo!()
    }

    /// Whether a table exists at `table_path` (standard, implicit or inline).
    pub fn has_table(&self, table_path: &[&str]) -> bool {
        let _ = table_path;
        todo!()
    }

    /// Set `key` in the table at `table_path` to `value`, creating missing tables. A top-level
    /// key (`table_path` empty) that does not exist yet is placed before the first table.
    /// Setting a value equal to the current one changes nothing (not even formatting).
    pub fn set(&mut self, table_path: &[&str], key: &str, value: impl Into<toml_edit::Value>) {
        let _ = (table_path, key, value.into());
        todo!()
    }

    /// Remove `key` from the table at `table_path`; nothing happens if it is absent.
    pub fn remove(&mut self, table_path: &[&str], key: &str) {
        let _ = (table_path, key);
        todo!()
    }

    /// Remove the table at `table_path` and all its sub-tables, if present.
    pub fn remove_table(&mut self, table_path: &[&str]) {
        let _ = table_path;
        todo!()
    }

    /// Replace the whole table at `table_path` (and its sub-tables) with `entries`, where each
    /// entry is (sub-table path relative to `table_path`, key, value). The header comment of the
    /// existing table is kept. Used where mixing old and new keys would be a parse error in IoT
    /// Edge (e.g. switching provisioning from manual to DPS).
    pub fn replace_table(
        &mut self,
        table_path: &[&str],
        entries: &[(&[&str], &str, toml_edit::Value)],
    ) {
        let _ = (table_path, entries);
        todo!()
    }
}
