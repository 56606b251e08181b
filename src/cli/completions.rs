//! `vmscope completions SHELL`: a completion script generated from the clap definitions,
//! so it offers exactly the commands and options `--help` lists.

use super::Cli;
use anyhow::Result;
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::io::Write as _;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell the script is for
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The command tree without its hidden commands: clap_complete would offer `man` too.
fn visible_command() -> clap::Command {
    let full = Cli::command();
    clap::Command::new("vmscope")
        .version(super::VERSION)
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

pub fn run(a: &CompletionsArgs) -> Result<i32> {
    let shell = match a.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    // Generated in memory: clap_complete panics on a failed write, and a reader that
    // closes the pipe early (`| head`) must end the run quietly instead.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut visible_command(), "vmscope", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(0)
}
