//! The man page, generated from the clap definition so it cannot drift from `--help`: one
//! page for `edgeprep` and one per subcommand, concatenated into `man/edgeprep.1`'s siblings.

use anyhow::Result;

use crate::cli::command;

/// (file name, roff text) of every man page: `edgeprep.1`, `edgeprep-plan.1`, ...
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let cmd = command();
    let mut pages = Vec::new();
    let mut main = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut main)?;
    pages.push(("edgeprep.1".to_string(), main));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("edgeprep-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        let mut text = Vec::new();
        clap_mangen::Man::new(sub).render(&mut text)?;
        pages.push((format!("{name}.1"), text));
    }
    Ok(pages)
}
