//! `pingpong completions SHELL`: a tab-completion script for the shell,
//! generated from the command-line definitions (clap_complete).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

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

/// Runs `pingpong completions`: prints the script for `args.shell` of
/// `command` (the whole command line's definition, given by the caller: this
/// file is part of it) to stdout.
pub(crate) fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<ExitCode> {
    clap_complete::generate(args.shell, &mut command, "pingpong", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
