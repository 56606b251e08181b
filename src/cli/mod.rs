//! Command-line interface. clap lives only here.
//! Exit status: 0 success, 1 a check found a violation, 2 an error.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "vmscope", version, about = "Look inside Linux memory management")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {}

pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {}
}
