//! The committed man pages must match the CLI definition. To refresh them after changing the
//! CLI: `EDGEPREP_UPDATE_MAN=1 cargo test --test manpage`.

use std::path::Path;

#[test]
fn man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("EDGEPREP_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, text) in edgeprep::manpage::pages().expect("rendering man pages") {
        let path = dir.join(&name);
        if update {
            std::fs::write(&path, &text).expect("writing man page");
        } else if std::fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run EDGEPREP_UPDATE_MAN=1 cargo test --test manpage"
    );
}

#[test]
fn man_page_documents_exit_codes() {
    let pages = edgeprep::manpage::pages().unwrap();
    let main = String::from_utf8_lossy(&pages[0].1).into_owned();
    assert!(main.contains("bad input or usage"), "exit codes missing from edgeprep.1");
}
