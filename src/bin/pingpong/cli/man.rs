//! `pingpong man DIR`: the manual pages, one for `pingpong` and one per
//! command (`pingpong-server.1`, `pingpong-certs-init.1`, ...), generated from
//! the command-line definitions (clap_mangen).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::output::say;

#[derive(Args)]
pub(crate) struct ManArgs {
    /// Folder to write the pages to (created if missing). Read one with
    /// `man -l DIR/pingpong-server.1`, or install them under
    /// /usr/local/share/man/man1.
    dir: PathBuf,
}

/// Runs `pingpong man`: writes every page and names the folder.
/// Writes the pages of `command` (the whole command line's definition, given
/// by the caller: this file is part of it).
pub(crate) fn run(args: ManArgs, command: clap::Command) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    clap_mangen::generate_to(command.clone(), &args.dir)
        .with_context(|| format!("cannot write the manual pages to {}", args.dir.display()))?;
    say!("{} manual pages in {}", pages(&command), args.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The pages clap_mangen writes for `command`: its own and one per visible
/// subcommand, at every level.
fn pages(command: &clap::Command) -> usize {
    1 + command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(pages)
        .sum::<usize>()
}
