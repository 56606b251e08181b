//! Command-line interface. clap lives only here.
//! Exit status: 0 success, 1 a check found a violation, 2 an error.

mod info;
mod layout;
mod ps;
mod read;
mod target;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "vmscope", version, about = "Look inside Linux memory management")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Struct layouts exactly as pahole prints them (DWARF or BTF)
    Layout(layout::LayoutArgs),
    /// Kernel release, KASLR offset, page_offset_base, paging levels, dump format, CPUs
    Info(info::InfoArgs),
    /// Every task, threads and idle tasks included (like `ps -eL`)
    Ps(ps::PsArgs),
    /// Hexdump of a process's user memory, read through its page tables
    Read(read::ReadArgs),
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

pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Layout(a) => layout::run(a),
        Command::Info(a) => info::run(a),
        Command::Ps(a) => ps::run(a),
        Command::Read(a) => read::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmscope: error: {}", error_line(&e));
            2
        }
    }
}
