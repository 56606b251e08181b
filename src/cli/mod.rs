//! Command-line interface. clap lives only here.
//! Exit status: 0 success, 1 a check found a violation, 2 an error.

mod bt;
mod check;
mod color;
mod completions;
mod costs;
mod graph;
mod info;
mod layout;
mod list;
mod log;
mod man;
mod modules;
mod picture;
mod print;
mod progress;
mod ps;
mod rd;
mod read;
mod report;
mod show;
mod sym;
mod target;
mod tree;
mod vmas;
mod vtop;
mod warn;

use clap::{CommandFactory, Parser, Subcommand};

/// `vmscope --version`: the crate's version and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VMSCOPE_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "vmscope",
    version = VERSION,
    about = "Look inside Linux memory management"
)]
pub struct Cli {
    #[command(flatten)]
    pub target: target::TargetArgs,
    /// Colour the output: auto colours a terminal unless NO_COLOR is set
    #[arg(long, value_name = "WHEN", value_enum, default_value_t, global = true)]
    pub color: color::ColorWhen,
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
    /// Evaluate a C expression against the kernel (gdb's `p`): globals, members, pointers, per_cpu
    Print(print::PrintArgs),
    /// Every task, threads and idle tasks included (like `ps -eL`)
    Ps(ps::PsArgs),
    /// Kernel memory (virtual or --phys) as a hexdump or words, symbolized with --symbols
    Rd(rd::RdArgs),
    /// Hexdump of a process's user memory, read through its page tables
    Read(read::ReadArgs),
    /// A struct's layout with the value of each member read from memory
    Show(show::ShowArgs),
    /// A symbol's address, or the symbol+offset covering an address
    Sym(sym::SymArgs),
    /// A process's VMAs from the kernel's own tree, byte for byte as /proc/PID/maps
    Vmas(vmas::VmasArgs),
    /// The VMA tree itself, node by node (maple tree or rb-tree + list), summary and costs
    Tree(tree::TreeArgs),
    /// The kernel log (printk ring buffer) as dmesg prints it
    Log(log::LogArgs),
    /// Kernel stacks (ORC unwinding): sleeping tasks, running CPUs, the panic
    Bt(bt::BtArgs),
    /// How a virtual address translates: each page-table level, the physical address
    Vtop(vtop::VtopArgs),
    /// Walk a list_head, hlist_head, rb_root or maple tree, printing chosen fields (crash's `list -s`)
    List(list::ListArgs),
    /// A shell completion script (bash, zsh or fish) on stdout
    Completions(completions::CompletionsArgs),
    /// Write the man pages, one per command, into a directory (scripts/man.sh)
    #[command(hide = true)]
    Man(man::ManArgs),
    /// Loaded modules: name, address, size, BTF, taints (like lsmod)
    Modules(modules::ModulesArgs),
    /// A process's task_struct -> mm_struct -> tree root -> VMAs -> files, and pgd, as a picture
    Graph(graph::GraphArgs),
    /// Lookup, iteration, insert, erase and fork costs of a list, an rb-tree, both, and a maple tree on a process's VMAs
    Costs(costs::CostsArgs),
    /// One self-contained HTML page: info, tasks, and per process its pictures, check and costs
    Report(report::ReportArgs),
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
    // serde_json wraps the io::Error of a writer it was given.
    e.chain().any(|c| {
        let kind = c
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| c.downcast_ref::<serde_json::Error>()?.io_error_kind());
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// A usage error in one line: clap's first line (its usage block and tips dropped),
/// pointing at the help of the command that was being parsed.
fn usage_line(e: &clap::Error, args: &[String]) -> String {
    use clap::error::ErrorKind;
    let cmd = Cli::command();
    let sub = args.iter().skip(1).find_map(|a| {
        cmd.get_subcommands()
            .find(|s| s.get_name() == a.as_str())
            .map(|s| s.get_name().to_string())
    });
    let what = match e.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            "a command is required".to_string()
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            first.trim_start_matches("error: ").trim().to_string()
        }
    };
    let help = match sub {
        Some(s) => format!("vmscope {s} --help"),
        None => "vmscope --help".to_string(),
    };
    format!("vmscope: error: {what} (see {help})")
}

/// Parse the command line; help and version go to stdout (exit 0), anything else
/// is one line on stderr (exit 2).
fn parse_args() -> Result<Cli, i32> {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Cli::try_parse_from(std::env::args_os()).map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            // Printing help into a closed pipe is not an error either.
            let _ = e.print();
            0
        } else {
            eprintln!("{}", usage_line(&e, &args));
            2
        }
    })
}

pub fn main() -> i32 {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    color::init(cli.color);
    let t = &cli.target;
    let result = match &cli.command {
        Command::Layout(a) => layout::run(a, t),
        Command::Check(a) => check::run(a, t),
        Command::Info(a) => info::run(a, t),
        Command::Print(a) => print::run(a, t),
        Command::Ps(a) => ps::run(a, t),
        Command::Rd(a) => rd::run(a, t),
        Command::Read(a) => read::run(a, t),
        Command::Show(a) => show::run(a, t),
        Command::Sym(a) => sym::run(a, t),
        Command::Modules(a) => modules::run(a, t),
        Command::Vmas(a) => vmas::run(a, t),
        Command::Tree(a) => tree::run(a, t),
        Command::Log(a) => log::run(a, t),
        Command::Bt(a) => bt::run(a, t),
        Command::Vtop(a) => vtop::run(a, t),
        Command::List(a) => list::run(a, t),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::Graph(a) => graph::run(a, t),
        Command::Costs(a) => costs::run(a, t),
        Command::Report(a) => report::run(a, t),
    };
    match result {
        Ok(code) => code,
        // `vmscope ... | head` closes the pipe early: that is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("{} {}", color::error_prefix(), error_line(&e));
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

    /// Issue 15 item 6: clap's usage errors were 2-4 lines.
    #[test]
    fn usage_errors_are_one_line_naming_the_command_help() {
        for (args, help) in [
            (&["ps", "--bogus"][..], "vmscope ps --help"),
            (&["read", "1", "2", "3", "4"], "vmscope read --help"),
            (&[], "vmscope --help"),
            (&["nosuchcommand"], "vmscope --help"),
            (&["check"], "vmscope check --help"),
            (&["tree", "notapid"], "vmscope tree --help"),
        ] {
            let argv: Vec<String> = std::iter::once("vmscope")
                .chain(args.iter().copied())
                .map(String::from)
                .collect();
            let e = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            let line = usage_line(&e, &argv);
            assert_eq!(line.lines().count(), 1, "{args:?}: {line}");
            assert!(line.starts_with("vmscope: error: "), "{line}");
            assert!(line.ends_with(&format!("(see {help})")), "{line}");
        }
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
