//! The man pages, generated from the clap definition so they cannot drift from `--help`: one
//! for `edgeprep` and one for each subcommand at any depth (`edgeprep-cert-status.1`).

use anyhow::Result;

use crate::cli::command;

/// (file name, roff text) of every man page: `edgeprep.1`, `edgeprep-plan.1`, ...
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    render(command(), &mut pages)?;
    Ok(pages)
}

fn render(cmd: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let name = cmd.get_name().to_string();
    let mut text = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut text)?;
    pages.push((format!("{name}.1"), text));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        render(sub.clone().name(sub_name), pages)?;
    }
    Ok(())
}
