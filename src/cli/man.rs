//! `vmscope man DIR` (hidden; run by scripts/man.sh): one man page per command, rendered
//! from the clap definitions so the pages say what `--help` says.

use super::Cli;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write vmscope.1 and vmscope-COMMAND.1 into (created if missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The page of `cmd` and of each visible subcommand under it, depth first; the paths written.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    let page = clap_mangen::Man::new(cmd.clone());
    let path = page.generate_to(dir).with_context(|| {
        format!(
            "writing the man page of {} into {}",
            cmd.get_name(),
            dir.display()
        )
    })?;
    written.push(path);
    Ok(())
}

pub fn run(a: &ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    // Built first: global options (--core, --color, ...) then appear on every command's page,
    // as they do in its --help, and subcommands are named `vmscope-CMD`.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, &a.dir, &mut written)?;
    let mut out = std::io::stdout().lock();
    for p in written {
        writeln!(out, "{}", p.display())?;
    }
    Ok(0)
}
