//! In-place edits of `/etc/aziot/config.toml` with toml_edit.
//!
//! Rules the editor enforces, because IoT Edge's parser would otherwise misread the file:
//! top-level keys go before the first table (a key after a `[table]` header belongs to that
//! table); new tables are standard `[a.b]` tables placed after their parent's family (or at the
//! end); a changed value keeps the inline comment and spacing of the line it replaces.
//!
//! The file's own form survives: the editor works on the file's LF form without its UTF-8 byte
//! order mark (toml_edit would drop the BOM, and the layout rules below look for `\n\n`), and
//! [`ConfigToml::render`] maps the result back: a line that is still there comes out byte for
//! byte as it was read (its own line ending), a changed line keeps its ending, a new line gets
//! the ending most of the file uses, and the BOM stays in front. IoT Edge's TOML parser accepts
//! both (it skips a BOM and folds `\r\n`), so neither is "fixed" behind the user's back.
//!
//! How toml_edit lays a document out, which the code below works with: the root table's
//! key-values come first, then every table with a header sorted by its "position", then the
//! document's trailing text. Comments and blank lines live in the decor prefix of the key or
//! table header that follows them, or in that trailing text when nothing follows. So an
//! all-comments file (IoT Edge's template) is nothing but trailing text, and anything appended
//! naively would be rendered *above* it; the editor moves that text into the prefix of what it
//! appends instead.

use anyhow::Result;
use toml_edit::{DocumentMut, InlineTable, Item, Key, Table, TableLike, Value};

use crate::error::{input_error, line_col};

/// What to tell a user whose config.toml does not parse.
const SYNTAX_FIX: &str = "fix the syntax at that line, or restore the file from a backup";

/// UTF-8's byte order mark, as Windows editors put it at the start of a text file.
const BOM: char = '\u{feff}';

/// A parsed config.toml that remembers its exact formatting.
#[derive(Debug, Clone)]
pub struct ConfigToml {
    doc: DocumentMut,
    /// The file as read, without its BOM: untouched lines are copied from here.
    original: String,
    /// What toml_edit renders for the parsed (LF) form before any edit: while the document
    /// still renders to this, `render` returns `original` itself.
    pristine: String,
    bom: bool,
}

/// One table with a header (or an implicit one) as toml_edit will render it.
#[derive(Debug)]
struct Slot {
    /// Index in the depth-first walk (see [`walk`]); identifies the table until the next
    /// structural change.
    dfs: usize,
    path: Vec<String>,
    /// Sort key toml_edit renders by (inherited from the previous table when unset).
    pos: isize,
    /// Whether toml_edit prints a header for it (empty implicit tables are hidden).
    visible: bool,
    /// The header's decor prefix; `None` means toml_edit's default.
    prefix: Option<String>,
}

impl ConfigToml {
    /// Parse `text`. A syntax error is an [`crate::error::InputError`] naming `path_for_errors`,
    /// the line and column, and what to fix.
    pub fn parse(text: &str, path_for_errors: &str) -> Result<Self> {
        // Without the BOM, error columns on the first line count what the user sees.
        let (bom, text) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // toml_edit keeps `\r\n` inside its decor, and the layout rules below look for blank
        // lines as `\n\n`: the editor works on the LF form, `render` puts the endings back.
        // A lone CR (which IoT Edge refuses) must not be turned into a line ending, so such a
        // file is parsed as it is.
        let lf_form;
        let parsed_text = if text.contains('\r') && !has_lone_cr(text) {
            lf_form = text.replace("\r\n", "\n");
            lf_form.as_str()
        } else {
            text
        };
        let doc = parsed_text.parse::<DocumentMut>().map_err(|err| {
            let at = |offset: usize| line_col(parsed_text, line_end(parsed_text, offset));
            let (line, column) = err.span().map_or((1, 1), |span| at(span.start));
            let what = err.message().split_whitespace().collect::<Vec<_>>().join(" ");
            input_error(format!(
                "{path_for_errors}: line {line}, column {column}: invalid TOML: {what}; \
                 {SYNTAX_FIX}"
            ))
        })?;
        let pristine = doc.to_string();
        let mut config = Self { doc, original: text.to_owned(), pristine, bom };
        // Explicit, spaced positions let new tables be slotted in between existing ones.
        config.renumber();
        Ok(config)
    }

    /// The document as text: byte-identical to the input when nothing was changed; after an
    /// edit, every line that was kept is byte-identical to the input's (line ending included).
    pub fn render(&self) -> String {
        let edited = self.doc.to_string();
        let body = if edited == self.pristine {
            self.original.clone()
        } else if self.original.contains('\r') {
            restore_line_endings(&self.original, &edited)
        } else {
            edited
        };
        if self.bom { format!("{BOM}{body}") } else { body }
    }

    /// The string at `table_path` / `key` (`table_path` empty = top level), if it is a string.
    pub fn get_str(&self, table_path: &[&str], key: &str) -> Option<String> {
        let item = self.item_at(table_path)?.as_table_like()?.get(key)?;
        item.as_str().map(str::to_owned)
    }

    /// The value at `table_path` / `key`, if any. Its surrounding whitespace and comment are
    /// dropped, so it can be set elsewhere without dragging them along.
    pub fn get(&self, table_path: &[&str], key: &str) -> Option<toml_edit::Value> {
        let item = self.item_at(table_path)?.as_table_like()?.get(key)?;
        let mut value = item.as_value()?.clone();
        value.decor_mut().clear();
        Some(value)
    }

    /// Whether a table exists at `table_path` (standard, implicit or inline).
    pub fn has_table(&self, table_path: &[&str]) -> bool {
        self.item_at(table_path).is_some_and(Item::is_table_like)
    }

    /// Set `key` in the table at `table_path` to `value`, creating missing tables. A top-level
    /// key (`table_path` empty) that does not exist yet is placed before the first table.
    /// Setting a value equal to the current one changes nothing (not even formatting).
    ///
    /// Anything in the way that is not a table (a string where `table_path` needs a table) is
    /// replaced, because the caller asked for that path to be a table.
    pub fn set(&mut self, table_path: &[&str], key: &str, value: impl Into<toml_edit::Value>) {
        let mut value = value.into();
        self.ensure_table(table_path);
        let existing = self
            .item_at_mut(table_path)
            .and_then(Item::as_table_like_mut)
            .and_then(|table| table.get_mut(key));
        match existing {
            Some(Item::Value(old)) => {
                if same_value(old, &value) {
                    return;
                }
                // `table[key] = value` would drop the inline comment and spacing.
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            Some(other) => *other = Item::Value(value),
            None => self.insert_new_key(table_path, key, value),
        }
    }

    /// Remove `key` from the table at `table_path`; nothing happens if it is absent.
    ///
    /// Only the key's line goes: comment lines above it stay where they were.
    pub fn remove(&mut self, table_path: &[&str], key: &str) {
        self.remove_key(table_path, key, false);
    }

    /// Remove `key` like [`Self::remove`], together with the comment lines right above it (up
    /// to the nearest blank line): those describe the key, and would mislead once it is gone.
    /// Comments separated from it by a blank line stay. A sub-table goes with the comments right
    /// above its header in the same way.
    pub fn remove_with_comments(&mut self, table_path: &[&str], key: &str) {
        self.remove_key(table_path, key, true);
    }

    /// The keys of the table at `table_path` (values and sub-tables), in the order they are
    /// stored; empty when there is no table there.
    pub fn keys(&self, table_path: &[&str]) -> Vec<String> {
        self.item_at(table_path)
            .and_then(Item::as_table_like)
            .map(|table| table.iter().map(|(key, _)| key.to_owned()).collect())
            .unwrap_or_default()
    }

    fn remove_key(&mut self, table_path: &[&str], key: &str, with_comments: bool) {
        let Some(item) = self.item_at(table_path).and_then(|t| t.as_table_like()?.get(key)) else {
            return;
        };
        if !item.is_value() {
            let path: Vec<&str> = table_path.iter().copied().chain([key]).collect();
            self.remove_family(&path, with_comments);
            return;
        }
        // Comments above the key move onto the line printed after it. A dotted key's lines
        // are printed inside the body of the nearest table with a header (or the root).
        let home = self.body_owner(table_path);
        let here: Vec<String> = table_path.iter().map(|s| (*s).to_owned()).collect();
        let next_line = self
            .body_lines(&table_path[..home])
            .into_iter()
            .skip_while(|(path, k)| !(*path == here && k == key))
            .nth(1);
        let Some(parent) = self.item_at_mut(table_path) else {
            return;
        };
        let Item::Table(table) = parent else {
            // An inline table: it cannot hold comments, so the key is all there is.
            if let Some(table) = parent.as_table_like_mut() {
                table.remove(key);
            }
            return;
        };
        let Some((removed, _)) = table.remove_entry(key) else {
            return;
        };
        let mut comments = whole_lines(prefix_text(removed.leaf_decor().prefix()));
        if with_comments {
            comments = unattached(comments);
            if !comments.contains('#') {
                // Only blank lines: what follows has its own spacing, a second blank line
                // would just pile up.
                return;
            }
        }
        if comments.is_empty() {
            return;
        }
        match next_line {
            Some((path, next_key)) => {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                let next = self.item_at_mut(&path).and_then(Item::as_table_like_mut);
                if let Some(mut next) = next.and_then(|t| t.key_mut(&next_key)) {
                    let old = prefix_text(next.leaf_decor().prefix()).to_owned();
                    next.leaf_decor_mut().set_prefix(format!("{comments}{old}"));
                }
            }
            None => self.prepend_to_following(&table_path[..home], comments),
        }
    }

    /// How much of `table_path` leads to the table whose body prints its keys: the nearest
    /// one with a header (or the root), not a dotted one.
    fn body_owner(&self, table_path: &[&str]) -> usize {
        (0..=table_path.len())
            .rev()
            .find(
                |&depth| matches!(self.item_at(&table_path[..depth]), Some(Item::Table(t)) if !t.is_dotted()),
            )
            .unwrap_or(0)
    }

    /// The key-value lines in the body of the table at `path`, in the order toml_edit prints
    /// them (dotted keys flattened where they stand): the path of the table holding each key,
    /// and the key.
    fn body_lines(&self, path: &[&str]) -> Vec<(Vec<String>, String)> {
        fn collect(table: &Table, here: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
            for (key, item) in table.iter() {
                match item {
                    Item::Value(_) => out.push((here.clone(), key.to_owned())),
                    Item::Table(t) if t.is_dotted() => {
                        here.push(key.to_owned());
                        collect(t, here, out);
                        here.pop();
                    }
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if let Some(Item::Table(table)) = self.item_at(path) {
            let mut here: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
            collect(table, &mut here, &mut out);
        }
        out
    }

    /// Remove the table at `table_path` and all its sub-tables, if present.
    ///
    /// The comments above the table's header stay (they often describe other, commented-out
    /// sections of IoT Edge's template); the comments inside it go with it.
    pub fn remove_table(&mut self, table_path: &[&str]) {
        self.remove_family(table_path, false);
    }

    /// [`Self::remove_table`] for the editors that also drop the comments attached to what they
    /// remove (see [`Self::remove_with_comments`]).
    fn remove_family(&mut self, table_path: &[&str], with_comments: bool) {
        let Some((last, parent_path)) = table_path.split_last() else {
            return;
        };
        let Some(item) = self.item_at(table_path) else {
            return;
        };
        if !matches!(item, Item::Table(t) if !t.is_dotted()) {
            if item.is_table_like() || item.is_array_of_tables() {
                self.remove_from_parent(parent_path, last);
            }
            return;
        }
        let header = self.header_of_family(table_path);
        self.remove_from_parent(parent_path, last);
        if let Some(header) = header {
            let mut comments = whole_lines(&header.prefix);
            if with_comments {
                comments = unattached(comments);
            }
            if comments.contains('#') {
                self.prepend_before_pos(header.pos, comments);
            }
        }
        self.renumber();
    }

    /// Replace the whole table at `table_path` (and its sub-tables) with `entries`, where each
    /// entry is (sub-table path relative to `table_path`, key, value). The header comment of the
    /// existing table is kept, nothing else of it: for a section edgeprep owns whole, or one
    /// that does not exist yet. Where the user's comments inside the table matter (provisioning),
    /// the plan prunes with [`Self::remove_with_comments`] and sets values instead.
    pub fn replace_table(&mut self, table_path: &[&str], entries: &[(&[&str], &str, toml_edit::Value)]) {
        let full_path =
            |sub: &[&str]| -> Vec<String> { table_path.iter().chain(sub).map(|s| (*s).to_owned()).collect() };
        let set_all = |config: &mut Self| {
            for (sub, key, value) in entries {
                let path = full_path(sub);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                config.set(&path, key, value.clone());
            }
        };
        let Some((last, parent_path)) = table_path.split_last() else {
            set_all(self);
            return;
        };
        let is_standard = matches!(self.item_at(table_path), Some(Item::Table(t)) if !t.is_dotted());
        let header = if is_standard { self.header_of_family(table_path) } else { None };
        if self.item_at(table_path).is_some() {
            self.remove_from_parent(parent_path, last);
        }
        let Some(header) = header else {
            set_all(self);
            return;
        };

        let has_own_keys = entries.iter().any(|(sub, _, _)| sub.is_empty());
        let mut table = Table::new();
        table.set_implicit(!has_own_keys);
        table.set_position(Some(header.pos));
        table.decor_mut().set_prefix(header.prefix.clone());
        if let Some(suffix) = &header.suffix {
            table.decor_mut().set_suffix(suffix.clone());
        }
        if let Some(parent) = self.item_at_mut(parent_path).and_then(Item::as_table_like_mut) {
            parent.insert(last, Item::Table(table));
        }
        set_all(self);

        if !has_own_keys {
            // No header of its own: its comments go above its first sub-table instead.
            let slots = self.layout();
            let first_child = slots
                .iter()
                .find(|s| s.visible && s.path.len() > table_path.len() && is_under(s, table_path));
            match first_child {
                Some(child) => {
                    let dfs = child.dfs;
                    self.with_table_mut(dfs, |t| t.decor_mut().set_prefix(header.prefix.clone()));
                }
                None => {
                    let comments = whole_lines(&header.prefix);
                    if comments.contains('#') {
                        self.prepend_before_pos(header.pos, comments);
                    }
                }
            }
        }
        self.renumber();
    }

    // ----------------------------------------------------------------------------------------
    // Navigation

    fn item_at(&self, path: &[&str]) -> Option<&Item> {
        path.iter().try_fold(self.doc.as_item(), |item, seg| item.as_table_like()?.get(seg))
    }

    fn item_at_mut(&mut self, path: &[&str]) -> Option<&mut Item> {
        let mut item = self.doc.as_item_mut();
        for seg in path {
            item = item.as_table_like_mut()?.get_mut(seg)?;
        }
        Some(item)
    }

    fn remove_from_parent(&mut self, parent_path: &[&str], key: &str) {
        if let Some(parent) = self.item_at_mut(parent_path).and_then(Item::as_table_like_mut) {
            parent.remove(key);
        }
    }

    fn trailing(&self) -> String {
        self.doc.trailing().as_str().unwrap_or("").to_owned()
    }

    fn root_has_values(&self) -> bool {
        !self.doc.as_table().get_values().is_empty()
    }

    // ----------------------------------------------------------------------------------------
    // Layout of tables

    /// Every table except the root, in the order toml_edit renders them.
    fn layout(&self) -> Vec<Slot> {
        let mut slots = Vec::new();
        let mut dfs = 0;
        let mut last_pos = 0;
        walk(self.doc.as_table(), &mut Vec::new(), &mut |table, path| {
            if let Some(pos) = table.position() {
                last_pos = pos;
            }
            if !path.is_empty() {
                slots.push(Slot {
                    dfs,
                    path: path.to_vec(),
                    pos: last_pos,
                    visible: !(table.is_implicit() && table.get_values().is_empty()),
                    prefix: table.decor().prefix().and_then(|p| p.as_str()).map(str::to_owned),
                });
            }
            dfs += 1;
        });
        // Stable, like toml_edit's own sort.
        slots.sort_by_key(|slot| slot.pos);
        slots
    }

    /// Give every table an explicit position, two apart, in the current rendering order. That
    /// leaves room to slot a new table in right before or after any existing one.
    fn renumber(&mut self) {
        let slots = self.layout();
        let mut new_pos = vec![None; slots.iter().map(|s| s.dfs + 1).max().unwrap_or(0)];
        for (order, slot) in slots.iter().enumerate() {
            new_pos[slot.dfs] = Some(2 * order as isize + 2);
        }
        let mut dfs = 0;
        walk_mut(self.doc.as_table_mut(), &mut |table| {
            if let Some(Some(pos)) = new_pos.get(dfs) {
                table.set_position(Some(*pos));
            }
            dfs += 1;
        });
    }

    fn with_table_mut(&mut self, target: usize, edit: impl FnOnce(&mut Table)) {
        let mut edit = Some(edit);
        let mut dfs = 0;
        walk_mut(self.doc.as_table_mut(), &mut |table| {
            if dfs == target
                && let Some(edit) = edit.take()
            {
                edit(table);
            }
            dfs += 1;
        });
    }

    /// The header prefix as it renders: an unset prefix is a blank line, except on the very
    /// first line of the file.
    fn shown_prefix(&self, slots: &[Slot], slot: &Slot) -> String {
        if let Some(prefix) = &slot.prefix {
            return prefix.clone();
        }
        let first =
            !self.root_has_values() && slots.iter().find(|s| s.visible).map(|s| s.dfs) == Some(slot.dfs);
        if first { String::new() } else { "\n".to_owned() }
    }

    /// Where the table at `table_path` (or its first visible sub-table, when it has no header
    /// itself) renders, and the decor of that header.
    fn header_of_family(&self, table_path: &[&str]) -> Option<Header> {
        let slots = self.layout();
        let first = slots.iter().find(|s| s.visible && is_under(s, table_path))?;
        let own = first.path.len() == table_path.len();
        let suffix = own
            .then(|| self.item_at(table_path)?.as_table()?.decor().suffix()?.as_str())
            .flatten()
            .map(str::to_owned);
        Some(Header { pos: first.pos, prefix: self.shown_prefix(&slots, first), suffix })
    }

    /// Put `text` right after the body of the table at `table_path`: above the next header, or
    /// at the end of the file.
    fn prepend_to_following(&mut self, table_path: &[&str], text: &str) {
        let slots = self.layout();
        let after = if table_path.is_empty() {
            None
        } else {
            match slots.iter().find(|s| s.path == table_path) {
                Some(slot) => Some(slot.pos),
                None => return,
            }
        };
        let next = slots.iter().find(|s| s.visible && after.is_none_or(|pos| s.pos > pos));
        self.prepend_to(&slots, next, text);
    }

    /// Put `text` above the first visible header at or after `pos`, or at the end of the file.
    fn prepend_before_pos(&mut self, pos: isize, text: &str) {
        let slots = self.layout();
        let next = slots.iter().find(|s| s.visible && s.pos >= pos);
        self.prepend_to(&slots, next, text);
    }

    fn prepend_to(&mut self, slots: &[Slot], next: Option<&Slot>, text: &str) {
        match next {
            Some(next) => {
                let prefix = format!("{text}{}", self.shown_prefix(slots, next));
                self.with_table_mut(next.dfs, |t| t.decor_mut().set_prefix(prefix));
            }
            None => {
                let trailing = format!("{text}{}", self.trailing());
                self.doc.set_trailing(trailing);
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Creating tables and keys

    /// Make `path` a table, creating what is missing: standard tables, the deepest one with a
    /// header and its missing parents implicit (headerless until they get keys of their own).
    fn ensure_table(&mut self, path: &[&str]) {
        // Rendering before anything is added tells whether an appended header needs a blank
        // line above it.
        let mut before: Option<String> = None;
        let mut appended_at_end = None;
        for depth in 1..=path.len() {
            let here = &path[..depth];
            if self.item_at(here).is_some_and(Item::is_table_like) {
                continue;
            }
            let before = before.get_or_insert_with(|| self.doc.to_string()).clone();
            let (seg, parent_path) = (path[depth - 1], &path[..depth - 1]);
            let Some(parent) = self.item_at_mut(parent_path) else {
                return;
            };
            if parent.is_inline_table() {
                // Under an inline table everything must stay inline.
                if let Some(parent) = parent.as_table_like_mut() {
                    parent.insert(seg, Item::Value(Value::InlineTable(InlineTable::new())));
                }
                continue;
            }
            let Some(parent) = parent.as_table_like_mut() else {
                return;
            };
            let deepest = depth == path.len();
            let mut table = Table::new();
            table.set_implicit(!deepest);
            parent.insert(seg, Item::Table(table));

            let at_end = self.place_new_table(here);
            let at_end = *appended_at_end.get_or_insert(at_end);
            let prefix = if !deepest {
                String::new()
            } else if at_end {
                let prefix = format!("{}{}", self.trailing(), blank_line_after(&before));
                self.doc.set_trailing("");
                prefix
            } else {
                "\n".to_owned()
            };
            if let Some(Item::Table(table)) = self.item_at_mut(here) {
                table.decor_mut().set_prefix(prefix);
            }
        }
    }

    /// Give the just-inserted table at `path` its position: right after the family of its
    /// nearest existing ancestor (`[agent.env]` after the last `[agent.*]`), else at the end.
    /// Returns whether it went to the end of the file.
    fn place_new_table(&mut self, path: &[&str]) -> bool {
        let slots = self.layout();
        let Some(me) = slots.iter().find(|s| s.path == path) else {
            return false;
        };
        let others: Vec<&Slot> = slots.iter().filter(|s| s.dfs != me.dfs).collect();
        let anchor = (1..path.len()).rev().find_map(|depth| {
            let family = others.iter().filter(|s| is_under(s, &path[..depth]));
            family.map(|s| s.pos).max()
        });
        let (pos, at_end) = match anchor {
            Some(anchor) => (anchor + 1, false),
            None => (others.iter().map(|s| s.pos).max().unwrap_or(0) + 1, true),
        };
        let dfs = me.dfs;
        self.with_table_mut(dfs, |t| t.set_position(Some(pos)));
        self.renumber();
        at_end
    }

    /// Add a key that does not exist yet to the (existing) table at `table_path`.
    fn insert_new_key(&mut self, table_path: &[&str], key: &str, value: Value) {
        let reveal = matches!(
            self.item_at(table_path),
            Some(Item::Table(t)) if t.is_implicit() && t.get_values().is_empty()
        );
        if reveal {
            self.reveal(table_path);
        }
        let key_prefix = if table_path.is_empty() && !self.root_has_values() {
            self.first_top_level_key_prefix()
        } else {
            None
        };
        let Some(table) = self.item_at_mut(table_path).and_then(Item::as_table_like_mut) else {
            return;
        };
        let mut new_key = key_like_neighbours(table, key);
        if let Some(prefix) = key_prefix {
            new_key.leaf_decor_mut().set_prefix(prefix);
        }
        table.entry_format(&new_key).or_insert(Item::Value(value));
    }

    /// Where the first top-level key goes, as the comment text to put above it. All of it
    /// renders before the first table, but the comments up there are not all the same:
    /// - no tables at all: the file is only comments (IoT Edge's template), so the key goes
    ///   below them rather than above the first line;
    /// - tables: the paragraph right above the first header describes that table and stays
    ///   with it; the key goes after the paragraphs before it (so the template with tables
    ///   appended ends up the same whichever was set first), or at the very top.
    fn first_top_level_key_prefix(&mut self) -> Option<String> {
        let slots = self.layout();
        let Some(first) = slots.iter().find(|s| s.visible) else {
            let prefix = format!("{}{}", self.trailing(), blank_line_after(&self.doc.to_string()));
            self.doc.set_trailing("");
            return Some(prefix);
        };
        let above = self.shown_prefix(&slots, first);
        let split = above.rfind("\n\n")?;
        let (head, tail) = above.split_at(split + 1);
        if head.trim().is_empty() {
            return None;
        }
        let prefix = format!("{head}{}", blank_line_after(head));
        let (dfs, tail) = (first.dfs, tail.to_owned());
        self.with_table_mut(dfs, |t| t.decor_mut().set_prefix(tail));
        Some(prefix)
    }

    /// An implicit (headerless) table is about to get its first key, so its header appears:
    /// put it right above its first sub-table and hand it that sub-table's leading comments.
    fn reveal(&mut self, table_path: &[&str]) {
        let before = self.doc.to_string();
        if let Some(Item::Table(table)) = self.item_at_mut(table_path) {
            table.set_implicit(false);
        }
        let slots = self.layout();
        let Some(me) = slots.iter().find(|s| s.path == table_path) else {
            return;
        };
        let child = slots.iter().find(|s| s.visible && s.dfs != me.dfs && is_under(s, table_path));
        let Some(child) = child else {
            // Nothing under it is shown: place it like a brand-new table.
            let at_end = self.place_new_table(table_path);
            let prefix = if at_end {
                let prefix = format!("{}{}", self.trailing(), blank_line_after(&before));
                self.doc.set_trailing("");
                prefix
            } else {
                "\n".to_owned()
            };
            if let Some(Item::Table(table)) = self.item_at_mut(table_path) {
                table.decor_mut().set_prefix(prefix);
            }
            return;
        };
        let (me_dfs, child_dfs, pos) = (me.dfs, child.dfs, child.pos - 1);
        let prefix = self.shown_prefix(&slots, child);
        self.with_table_mut(me_dfs, |t| {
            t.set_position(Some(pos));
            t.decor_mut().set_prefix(prefix);
        });
        self.with_table_mut(child_dfs, |t| t.decor_mut().set_prefix("\n"));
        self.renumber();
    }
}

/// `edited` (toml_edit's rendering, all `\n`) with the line endings of `original` put back.
///
/// A line diff (ignoring line endings) pairs each kept line with its original, which is copied
/// verbatim, and a changed line with the one it replaces, whose line ending it keeps; inserted
/// lines end like most of the file does. Where the two disagree on whether
/// the last line is terminated, `edited` wins, so a file without a final newline keeps lacking one.
fn restore_line_endings(original: &str, edited: &str) -> String {
    let old: Vec<(&str, &str)> = original.split_inclusive('\n').map(split_eol).collect();
    let new: Vec<(&str, &str)> = edited.split_inclusive('\n').map(split_eol).collect();
    let crlf = old.iter().filter(|(_, eol)| *eol == "\r\n").count();
    let lf = old.iter().filter(|(_, eol)| *eol == "\n").count();
    let file_eol = if crlf > lf { "\r\n" } else { "\n" };
    let old_keys: Vec<&str> = old.iter().map(|(content, _)| *content).collect();
    let new_keys: Vec<&str> = new.iter().map(|(content, _)| *content).collect();
    // For each line of `edited`: the line of `original` it is (kept), or replaces (changed).
    let mut from_old: Vec<Option<(usize, bool)>> = vec![None; new.len()];
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old_keys, &new_keys) {
        match op {
            similar::DiffOp::Equal { old_index, new_index, len } => {
                for i in 0..len {
                    from_old[new_index + i] = Some((old_index + i, true));
                }
            }
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                for i in 0..old_len.min(new_len) {
                    from_old[new_index + i] = Some((old_index + i, false));
                }
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(edited.len() + crlf * 2);
    for (&(content, eol), source) in new.iter().zip(from_old) {
        let terminated = !eol.is_empty();
        let (text, own_eol) = match source {
            Some((i, kept)) => (if kept { old[i].0 } else { content }, old[i].1),
            None => (content, ""),
        };
        out.push_str(text);
        if terminated {
            out.push_str(if own_eol.is_empty() { file_eol } else { own_eol });
        }
    }
    out
}

/// A line (from `split_inclusive('\n')`) as its content and its line ending (`\r\n`, `\n` or
/// none, on the last line).
fn split_eol(line: &str) -> (&str, &str) {
    if let Some(content) = line.strip_suffix("\r\n") {
        (content, "\r\n")
    } else if let Some(content) = line.strip_suffix('\n') {
        (content, "\n")
    } else {
        (line, "")
    }
}

/// Where a table's header renders and its decor, kept across removing it.
struct Header {
    pos: isize,
    prefix: String,
    suffix: Option<String>,
}

/// Whether `slot` is the table at `path` or below it.
fn is_under(slot: &Slot, path: &[&str]) -> bool {
    slot.path.len() >= path.len() && slot.path.iter().zip(path).all(|(a, b)| a == b)
}

/// Visit every table toml_edit positions (all but dotted ones), depth first, in the same order
/// toml_edit's renderer walks them.
fn walk<'t>(table: &'t Table, path: &mut Vec<String>, visit: &mut dyn FnMut(&'t Table, &[String])) {
    if !table.is_dotted() {
        visit(table, path);
    }
    for (key, item) in table.iter() {
        let children: Vec<&Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter().collect(),
            _ => continue,
        };
        for child in children {
            path.push(key.to_owned());
            walk(child, path, visit);
            path.pop();
        }
    }
}

/// [`walk`], mutably, in the same order.
fn walk_mut(table: &mut Table, visit: &mut dyn FnMut(&mut Table)) {
    if !table.is_dotted() {
        visit(table);
    }
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => walk_mut(t, visit),
            Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| walk_mut(t, visit)),
            _ => {}
        }
    }
}

/// Same type and same meaning, whatever the spelling (`'a'` and `"a"`, `0x10` and `16`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => {
            x.value() == y.value() || (x.value().is_nan() && y.value().is_nan())
        }
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Datetime(x), Value::Datetime(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same_value(a, b))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => false,
    }
}

/// A key for `table`: quoted (`"UpstreamProtocol"`) when the keys already there are all quoted,
/// as IoT Edge's template writes `[agent.env]`; otherwise bare where TOML allows it.
fn key_like_neighbours(table: &dyn TableLike, key: &str) -> Key {
    let mut neighbours =
        table.iter().filter(|(_, item)| item.is_value()).filter_map(|(k, _)| table.key(k)).peekable();
    let quoted = neighbours.peek().is_some()
        && neighbours
            .all(|k| k.as_repr().and_then(|r| r.as_raw().as_str()).is_some_and(|raw| raw.starts_with('"')));
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if quoted
        && bare
        && let Ok(mut parsed) = format!("\"{key}\"").parse::<Key>()
    {
        parsed.leaf_decor_mut().clear();
        return parsed;
    }
    Key::new(key)
}

/// The text of a decor prefix; an unset one renders as nothing for keys.
fn prefix_text(prefix: Option<&toml_edit::RawString>) -> &str {
    prefix.and_then(|p| p.as_str()).unwrap_or("")
}

/// The complete lines of a prefix: what is above a key or header, without its indentation.
fn whole_lines(prefix: &str) -> &str {
    prefix.rfind('\n').map_or("", |end| &prefix[..=end])
}

/// Whether `text` has a CR that does not start a `\r\n`.
fn has_lone_cr(text: &str) -> bool {
    text.match_indices('\r').any(|(at, _)| !text[at + 1..].starts_with('\n'))
}

/// `offset`, moved off the line feed of a `\r\n`: the `\r` is the line's end as the user sees
/// it, not a column of its own.
fn line_end(text: &str, offset: usize) -> usize {
    if text.get(..offset).is_some_and(|before| before.ends_with('\r')) { offset - 1 } else { offset }
}

/// The lines of `lines` up to and including the last blank one: what is not attached to the key
/// or header below.
fn unattached(lines: &str) -> &str {
    let mut end = 0;
    let mut at = 0;
    for line in lines.split_inclusive('\n') {
        at += line.len();
        if line.trim().is_empty() {
            end = at;
        }
    }
    &lines[..end]
}

/// What to put after `text` so that what follows starts after a blank line.
fn blank_line_after(text: &str) -> &'static str {
    if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATH: &str = "/etc/aziot/config.toml";

    fn template() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/iotedge-1.4.43/edgelet__contrib__config__linux__template.toml"
        );
        std::fs::read_to_string(path).expect("IoT Edge template fixture")
    }

    fn parse(text: &str) -> ConfigToml {
        ConfigToml::parse(text, PATH).expect("fixture parses")
    }

    fn reparse(config: &ConfigToml) -> toml::Table {
        toml::from_str::<toml::Table>(&config.render()).expect("result is valid TOML")
    }

    /// Lines the edit removed or changed: a correct in-place edit only inserts.
    fn lost_lines(before: &str, after: &str) -> Vec<String> {
        similar::TextDiff::from_lines(before, after)
            .iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Delete)
            .map(|c| c.value().to_owned())
            .collect()
    }

    const EXISTING: &str = r#"# Managed by hand.
hostname = "old-host"   # the device's name

[provisioning]
source = "manual"
connection_string = "HostName=x;DeviceId=y;SharedAccessKey=z"

[agent]
name = "edgeAgent"
type = "docker"

[agent.config]
image = "mcr.microsoft.com/azureiotedge-agent:1.4"

[agent.env]
"UpstreamProtocol" = "Amqp"   # set by the installer

# Edge CA
[edge_ca]
# lifetime of the quickstart CA
auto_generated_edge_ca_expiry_days = 90

# trailing comment
"#;

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn round_trips_the_template_byte_for_byte() {
        let text = template();
        assert_eq!(parse(&text).render(), text);
    }

    #[test]
    fn round_trips_odd_formatting_byte_for_byte() {
        let text = "a='x'\n  [ t . u ]  # c\n  k   =   0x10 # n\narr = [\n  1,\n  2, # two\n]\n[[aot]]\nx = 1\n[[aot]]\nx = 2\n\n\n# end";
        assert_eq!(parse(text).render(), text);
        assert_eq!(parse(EXISTING).render(), EXISTING);
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn round_trips_every_iotedge_fixture_byte_for_byte() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/iotedge-1.4.43");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("fixture");
                assert_eq!(parse(&text).render(), text, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 10);
    }

    #[test]
    fn syntax_error_names_file_line_column_and_fix() {
        let err = ConfigToml::parse("a = 1\n[agent\nname = 2\n", PATH).unwrap_err();
        let input = err.downcast_ref::<crate::error::InputError>().expect("an InputError");
        let msg = &input.0;
        assert!(msg.starts_with(PATH), "{msg}");
        assert!(msg.contains("line 2, column "), "{msg}");
        assert!(msg.contains("fix the syntax at that line"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn keeps_inline_comment_when_replacing_value() {
        let mut config = parse(EXISTING);
        config.set(&["agent", "env"], "UpstreamProtocol", "AmqpWs");
        assert!(config.render().contains("\"UpstreamProtocol\" = \"AmqpWs\"   # set by the installer\n"));
        config.set(&[], "hostname", "edge-01");
        assert!(config.render().contains("hostname = \"edge-01\"   # the device's name\n"));
    }

    #[test]
    fn setting_an_equal_value_changes_nothing() {
        let text = "a = 'x'  # c\nn = 0x10\nf = 1.50\nl = [ 1,2 ]\nt = {b=true ,  c='d'}\n";
        let mut config = parse(text);
        config.set(&[], "a", "x");
        config.set(&[], "n", 16);
        config.set(&[], "f", 1.5);
        config.set(&[], "l", Value::from_iter([1, 2]));
        let mut inline = InlineTable::new();
        inline.insert("c", "d".into());
        inline.insert("b", true.into());
        config.set(&[], "t", inline);
        assert_eq!(config.render(), text);
    }

    #[test]
    fn changing_the_type_counts_as_a_change() {
        let mut config = parse("n = 1\n");
        config.set(&[], "n", "1");
        assert_eq!(config.render(), "n = \"1\"\n");
    }

    #[test]
    fn new_top_level_key_goes_after_existing_top_level_keys_before_first_table() {
        let mut config = parse(EXISTING);
        config.set(&[], "parent_hostname", "gateway");
        let out = config.render();
        let expected = "hostname = \"old-host\"   # the device's name\n\
                        parent_hostname = \"gateway\"\n\n[provisioning]";
        assert!(out.contains(expected), "{out}");
        assert!(lost_lines(EXISTING, &out).is_empty());
    }

    #[test]
    fn new_top_level_key_goes_before_tables_when_there_are_no_top_level_keys() {
        let table = "# the CA\n[edge_ca]\ncert = \"file:///c.pem\"\n";
        let mut config = parse(table);
        config.set(&[], "hostname", "edge-01");
        assert_eq!(config.render(), format!("hostname = \"edge-01\"\n{table}"));
        assert_eq!(reparse(&config)["hostname"].as_str(), Some("edge-01"));

        let mut config = parse(&format!("# file header\n\n{table}"));
        config.set(&[], "hostname", "edge-01");
        let expected = format!("# file header\n\nhostname = \"edge-01\"\n\n{table}");
        assert_eq!(config.render(), expected);
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn template_edits_come_out_the_same_whichever_is_set_first() {
        let mut hostname_first = parse(&template());
        hostname_first.set(&[], "hostname", "edge-01");
        hostname_first.set(&["agent"], "name", "edgeAgent");
        let mut table_first = parse(&template());
        table_first.set(&["agent"], "name", "edgeAgent");
        table_first.set(&[], "hostname", "edge-01");
        assert_eq!(table_first.render(), hostname_first.render());
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn new_top_level_key_in_file_without_tables_goes_after_the_comments() {
        let text = template();
        let mut config = parse(&text);
        config.set(&[], "hostname", "edge-01");
        assert_eq!(config.render(), format!("{text}\nhostname = \"edge-01\"\n"));
    }

    #[test]
    fn appended_table_gets_a_blank_line_before_its_header() {
        let mut config = parse("a = 1\n# last words");
        config.set(&["moby_runtime"], "network", "azure-iot-edge");
        assert_eq!(config.render(), "a = 1\n# last words\n\n[moby_runtime]\nnetwork = \"azure-iot-edge\"\n");
        let mut config = parse("");
        config.set(&["watchdog"], "max_retries", 3);
        assert_eq!(config.render(), "[watchdog]\nmax_retries = 3\n");
    }

    #[test]
    fn new_sub_table_goes_right_after_its_family() {
        let text = "[agent]\nname = \"edgeAgent\"\n\n[agent.config]\nimage = \"i\"\n\n# CA\n[edge_ca]\ncert = \"c\"\n";
        let mut config = parse(text);
        config.set(&["agent", "env"], "https_proxy", "http://proxy:3128");
        config.set(&["agent", "config", "auth"], "serveraddress", "r.azurecr.io");
        assert_eq!(
            config.render(),
            "[agent]\nname = \"edgeAgent\"\n\n[agent.config]\nimage = \"i\"\n\n\
             [agent.config.auth]\nserveraddress = \"r.azurecr.io\"\n\n\
             [agent.env]\nhttps_proxy = \"http://proxy:3128\"\n\n# CA\n[edge_ca]\ncert = \"c\"\n"
        );
    }

    #[test]
    fn new_key_is_quoted_like_its_neighbours() {
        let mut config = parse(EXISTING);
        config.set(&["agent", "env"], "https_proxy", "http://proxy:3128");
        config.set(&["agent", "config"], "createOptions_note", "x");
        let out = config.render();
        assert!(out.contains("\"UpstreamProtocol\" = \"Amqp\"   # set by the installer\n\"https_proxy\" = \"http://proxy:3128\"\n"), "{out}");
        assert!(out.contains("\ncreateOptions_note = \"x\"\n"), "{out}");
        let parsed = reparse(&config);
        assert_eq!(parsed["agent"]["env"]["https_proxy"].as_str(), Some("http://proxy:3128"));
    }

    #[test]
    fn keys_that_need_quotes_get_them() {
        let mut config = parse("");
        config.set(&["t"], "a.b", 1);
        assert_eq!(config.render(), "[t]\n\"a.b\" = 1\n");
    }

    #[test]
    fn missing_parent_stays_headerless_until_it_gets_keys() {
        let mut config = parse("a = 1\n");
        config.set(&["agent", "config"], "image", "i");
        assert_eq!(config.render(), "a = 1\n\n[agent.config]\nimage = \"i\"\n");
        assert!(config.has_table(&["agent"]));
        config.set(&["agent"], "name", "edgeAgent");
        assert_eq!(
            config.render(),
            "a = 1\n\n[agent]\nname = \"edgeAgent\"\n\n[agent.config]\nimage = \"i\"\n"
        );
    }

    #[test]
    fn parent_revealed_later_takes_over_the_comments_above_its_first_sub_table() {
        let text = "x = 1\n\n# the agent\n[agent.config]\nimage = \"i\"\n\n[edge_ca]\ncert = \"c\"\n";
        let mut config = parse(text);
        config.set(&["agent"], "name", "edgeAgent");
        assert_eq!(
            config.render(),
            "x = 1\n\n# the agent\n[agent]\nname = \"edgeAgent\"\n\n[agent.config]\nimage = \"i\"\n\n[edge_ca]\ncert = \"c\"\n"
        );
    }

    #[test]
    fn reads_values_from_standard_inline_and_dotted_tables() {
        let text = "top = 'a'\ndot.ted = 2\n[agent.config]\ncreateOptions = { HostConfig = { Binds = [\"/x:/x\"] } }\n";
        let config = parse(text);
        assert_eq!(config.get_str(&[], "top").as_deref(), Some("a"));
        assert_eq!(config.get_str(&["dot"], "ted"), None);
        assert_eq!(config.get(&["dot"], "ted").and_then(|v| v.as_integer()), Some(2));
        let binds = config.get(&["agent", "config", "createOptions", "HostConfig"], "Binds");
        assert_eq!(binds.map(|v| v.to_string()).as_deref(), Some("[\"/x:/x\"]"));
        assert_eq!(config.get(&["agent"], "config").map(|v| v.to_string()), None);
        assert_eq!(config.get_str(&["nope"], "top"), None);
        for table in [&["dot"][..], &["agent"], &["agent", "config"], &["agent", "config", "createOptions"]] {
            assert!(config.has_table(table), "{table:?}");
        }
        assert!(!config.has_table(&["top"]));
        assert!(!config.has_table(&["edge_ca"]));
    }

    #[test]
    fn sets_keys_inside_inline_tables() {
        let mut config = parse("[agent.config]\ncreateOptions = { HostConfig = {} }\n");
        config.set(&["agent", "config", "createOptions", "HostConfig"], "Privileged", false);
        let parsed = reparse(&config);
        let host = &parsed["agent"]["config"]["createOptions"]["HostConfig"];
        assert_eq!(host["Privileged"].as_bool(), Some(false));
    }

    #[test]
    fn remove_drops_only_the_key_line_and_keeps_comments_above() {
        let mut config = parse(EXISTING);
        config.remove(&["edge_ca"], "auto_generated_edge_ca_expiry_days");
        let out = config.render();
        assert!(out.ends_with("[edge_ca]\n# lifetime of the quickstart CA\n\n# trailing comment\n"), "{out}");
        let text = "[t]\na = 1 # one\n# about b\nb = 2\nc = 3\n";
        let mut config = parse(text);
        config.remove(&["t"], "b");
        assert_eq!(config.render(), "[t]\na = 1 # one\n# about b\nc = 3\n");
    }

    #[test]
    fn removing_what_is_absent_changes_nothing() {
        let mut config = parse(EXISTING);
        config.remove(&["edge_ca"], "pk");
        config.remove(&["nope"], "pk");
        config.remove_table(&["nope"]);
        assert_eq!(config.render(), EXISTING);
    }

    #[test]
    fn remove_table_takes_sub_tables_and_keeps_the_comments_above_it() {
        let mut config = parse(EXISTING);
        config.remove_table(&["agent"]);
        let out = config.render();
        assert!(!out.contains("agent"), "{out}");
        assert!(out.contains("SharedAccessKey=z\"\n\n# Edge CA\n[edge_ca]"), "{out}");
        config.remove_table(&["edge_ca"]);
        assert!(config.render().ends_with("SharedAccessKey=z\"\n\n# Edge CA\n\n# trailing comment\n"));
        reparse(&config);
    }

    #[test]
    fn replace_table_switches_provisioning_to_dps() {
        let text = "hostname = \"h\"\n\n# How this device provisions\n[provisioning]  # by hand for now\nsource = \"manual\"\nconnection_string = \"HostName=x\"\n\n[provisioning.authentication]\nmethod = \"sas\"\n\n# Edge CA\n[edge_ca]\ncert = \"c\"\n";
        let mut config = parse(text);
        let mut key = InlineTable::new();
        key.insert("value", "c2VjcmV0".into());
        config.replace_table(
            &["provisioning"],
            &[
                (&[], "source", "dps".into()),
                (&[], "global_endpoint", "https://global.azure-devices-provisioning.net".into()),
                (&[], "id_scope", "0ab1234C5D6".into()),
                (&["attestation"], "method", "symmetric_key".into()),
                (&["attestation"], "registration_id", "edge-01".into()),
                (&["attestation"], "symmetric_key", key.into()),
            ],
        );
        let parsed = reparse(&config);
        assert_eq!(parsed["provisioning"]["attestation"]["method"].as_str(), Some("symmetric_key"));
        assert!(parsed["provisioning"].get("connection_string").is_none());
        // Snapshots never hold key material, not even made-up keys.
        insta::assert_snapshot!(crate::secrets::mask_known_secrets(&config.render()));
    }

    #[test]
    fn replace_table_without_own_keys_moves_its_comments_to_the_first_sub_table() {
        let text = "a = 1\n\n# Cert issuance\n[cert_issuance]\nx = 1\n";
        let mut config = parse(text);
        config.replace_table(&["cert_issuance"], &[(&["local_ca"], "cert", "file:///ca.pem".into())]);
        assert_eq!(
            config.render(),
            "a = 1\n\n# Cert issuance\n[cert_issuance.local_ca]\ncert = \"file:///ca.pem\"\n"
        );
    }

    /// The edits edgeprep's plan makes on a fresh device.
    fn production_edits(config: &mut ConfigToml) {
        config.set(&[], "hostname", "edge-01");
        config.replace_table(
            &["provisioning"],
            &[
                (&[], "source", "manual".into()),
                (
                    &[],
                    "connection_string",
                    "HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=a2V5".into(),
                ),
            ],
        );
        config.set(&["agent"], "name", "edgeAgent");
        config.set(&["agent"], "type", "docker");
        config.set(&["agent", "config"], "image", "mcr.microsoft.com/azureiotedge-agent:1.4");
        config.set(&["agent", "config", "auth"], "serveraddress", "example.azurecr.io");
        config.set(&["agent", "env"], "UpstreamProtocol", "AmqpWs");
        config.set(&["agent", "env"], "https_proxy", "http://proxy:3128");
        config.set(&["image_garbage_collection"], "cleanup_time", "00:00");
        config.set(&["edge_ca"], "cert", "file:///var/aziot/certs/edge-ca.pem");
        config.remove(&["edge_ca"], "auto_generated_edge_ca_expiry_days");
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn template_edits_only_insert_lines_and_parse_to_the_expected_values() {
        let text = template();
        let mut config = parse(&text);
        production_edits(&mut config);
        let out = config.render();
        assert_eq!(lost_lines(&text, &out), Vec::<String>::new());
        let parsed = reparse(&config);
        assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
        assert_eq!(parsed["provisioning"]["source"].as_str(), Some("manual"));
        assert_eq!(parsed["agent"]["type"].as_str(), Some("docker"));
        assert_eq!(parsed["agent"]["config"]["auth"]["serveraddress"].as_str(), Some("example.azurecr.io"));
        assert_eq!(parsed["agent"]["env"]["UpstreamProtocol"].as_str(), Some("AmqpWs"));
        assert_eq!(parsed["image_garbage_collection"]["cleanup_time"].as_str(), Some("00:00"));
        assert_eq!(parsed["edge_ca"]["cert"].as_str(), Some("file:///var/aziot/certs/edge-ca.pem"));
        // Running the same plan again changes nothing.
        production_edits(&mut config);
        assert_eq!(config.render(), out);
        insta::assert_snapshot!(crate::secrets::mask_known_secrets(&out[text.len()..]));
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn template_edits_put_agent_tables_in_order_after_the_existing_content() {
        let text = template();
        let mut config = parse(&text);
        production_edits(&mut config);
        let out = config.render();
        let headers: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
        assert_eq!(
            headers,
            [
                "[provisioning]",
                "[agent]",
                "[agent.config]",
                "[agent.config.auth]",
                "[agent.env]",
                "[image_garbage_collection]",
                "[edge_ca]"
            ]
        );
        let first_header = out.find("\n[").unwrap_or(out.len());
        assert!(out[..first_header].contains("\nhostname = \"edge-01\"\n"));
        assert!(out.starts_with(&text));
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn edits_to_a_full_config_land_in_its_existing_tables() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/iotedge-1.4.43/",
            "edgelet__iotedge__test-files__config__dps-x509__super-config.toml"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        let mut config = parse(&text);
        production_edits(&mut config);
        let out = config.render();
        let headers = |t: &str| -> Vec<String> {
            t.lines().filter(|l| l.starts_with('[')).map(str::to_owned).collect()
        };
        let mut expected = headers(&text);
        expected.retain(|h| h != "[provisioning.attestation]");
        expected.push("[image_garbage_collection]".to_owned());
        assert_eq!(headers(&out), expected);
        let parsed = reparse(&config);
        assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
        assert_eq!(parsed["agent"]["env"]["https_proxy"].as_str(), Some("http://proxy:3128"));
        assert!(parsed["edge_ca"].get("auto_generated_edge_ca_expiry_days").is_none());
        insta::assert_snapshot!(crate::secrets::mask_known_secrets(
            &similar::TextDiff::from_lines(&text, &out).unified_diff().to_string()
        ));
    }

    const COMMENTED: &str = "# top comment\nhostname = \"a\" # name\n\n# about agent\n[agent]\nname = \"edgeAgent\" # agent\n\n# env\n[agent.env]\n\"RuntimeLogLevel\" = \"info\"\n\n# end\n";

    fn op() -> impl Strategy<Value = (Vec<&'static str>, &'static str, String)> {
        let paths = prop::sample::select(vec![
            vec![],
            vec!["agent"],
            vec!["agent", "env"],
            vec!["agent", "config"],
            vec!["agent", "config", "auth"],
            vec!["edge_ca"],
            vec!["provisioning"],
        ]);
        let keys = prop::sample::select(vec!["hostname", "name", "type", "RuntimeLogLevel", "cert", "x-y"]);
        (paths, keys, "[ -~]{0,12}")
    }

    proptest! {
        #[test]
        fn random_sets_keep_every_comment_and_reparse(ops in prop::collection::vec(op(), 1..12)) {
            let mut config = parse(COMMENTED);
            for (path, key, value) in &ops {
                config.set(path, key, value.as_str());
            }
            let out = config.render();
            let mut rest = out.as_str();
            for comment in COMMENTED.lines().filter(|l| l.starts_with('#')) {
                let found = rest.find(comment);
                prop_assert!(found.is_some(), "lost {comment:?}:\n{out}");
                rest = &rest[found.unwrap_or(0) + comment.len()..];
            }
            let parsed = toml::from_str::<toml::Table>(&out);
            prop_assert!(parsed.is_ok(), "{parsed:?}\n{out}");
            let reparsed = parse(&out);
            let last: std::collections::HashMap<_, _> =
                ops.iter().map(|(path, key, value)| ((path, key), value)).collect();
            for ((path, key), value) in last {
                let got = reparsed.get_str(path, key);
                prop_assert_eq!(got.as_deref(), Some(value.as_str()), "{}", out);
            }
        }
    }
}
