//! `pingpong completions SHELL`: a tab-completion script for the shell,
//! generated from the command-line definitions (clap_complete).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;

#[derive(Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in. Install the script where the shell looks:
    /// bash: /usr/share/bash-completion/completions/pingpong (or
    /// ~/.local/share/bash-completion/completions/pingpong); zsh: a file
    /// `_pingpong` in a folder of $fpath; fish:
    /// ~/.config/fish/completions/pingpong.fish.
    #[arg(value_enum)]
    shell: Shell,
}

/// Runs `pingpong completions`: prints the script to stdout.
pub(crate) fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "pingpong", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
