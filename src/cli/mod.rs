//! Command-line interface. clap lives only here.
//! Exit status: 0 success, 1 a check found a violation, 2 an error.

mod check;
mod info;
mod layout;
mod progress;
mod ps;
mod read;
mod show;
mod target;
mod tree;
mod vmas;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "vmscope",
    version,
    about = "Look inside Linux memory management"
)]
pub struct Cli {
    #[command(flatten)]
    pub target: target::TargetArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Struct layouts exactly as pahole prints them (DWARF or BTF)
    Layout(layout::LayoutArgs),
    /// Validate each process's VMA tree, cross-check it with an independent reimplementation and /proc/PID/maps
    Check(check::CheckArgs),
    /// Kernel release, KASLR offset, page_offset_base, paging levels, dump format, CPUs
    Info(info::InfoArgs),
    /// Every task, threads and idle tasks included (like `ps -eL`)
    Ps(ps::PsArgs),
    /// Hexdump of a process's user memory, read through its page tables
    Read(read::ReadArgs),
    /// A struct's layout with the value of each member read from memory
    Show(show::ShowArgs),
    /// A process's VMAs from the kernel's own tree, byte for byte as /proc/PID/maps
    Vmas(vmas::VmasArgs),
    /// The VMA tree itself, node by node (maple tree or rb-tree + list), summary and costs
    Tree(tree::TreeArgs),
}

/// One line: the error and the causes its message does not already contain.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line.push_str(": ");
            line.push_str(&c);
        }
    }
    line.replace('\n', " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let t = &cli.target;
    let result = match &cli.command {
        Command::Layout(a) => layout::run(a, t),
        Command::Check(a) => check::run(a, t),
        Command::Info(a) => info::run(a, t),
        Command::Ps(a) => ps::run(a, t),
        Command::Read(a) => read::run(a, t),
        Command::Show(a) => show::run(a, t),
        Command::Vmas(a) => vmas::run(a, t),
        Command::Tree(a) => tree::run(a, t),
    };
    match result {
        Ok(code) => code,
        // `vmscope ... | head` closes the pipe early: that is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("vmscope: error: {}", error_line(&e));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("vmscope").chain(args.iter().copied()))
    }

    #[test]
    fn core_and_vmlinux_before_or_after_the_command() {
        for args in [
            &["--core", "C", "--vmlinux", "V", "ps"][..],
            &["ps", "--core", "C", "--vmlinux", "V"],
            &["--core", "C", "ps", "--vmlinux", "V"],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.target.core.as_deref(), Some("C"), "{args:?}");
            assert_eq!(cli.target.vmlinux.as_deref(), Some("V"), "{args:?}");
            assert!(matches!(cli.command, Command::Ps(_)), "{args:?}");
        }
    }

    #[test]
    fn layout_shares_vmlinux_and_keeps_it_exclusive_with_btf() {
        for args in [
            &["--vmlinux", "V", "layout", "rb_node"][..],
            &["layout", "rb_node", "--vmlinux", "V"],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.target.vmlinux.as_deref(), Some("V"), "{args:?}");
        }
        // Given before the command, the conflict is caught by debuginfo::select.
        let args = ["layout", "--vmlinux", "V", "--btf", "B", "rb_node"];
        let e = parse(&args)
            .err()
            .unwrap_or_else(|| panic!("{args:?} parsed"));
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
