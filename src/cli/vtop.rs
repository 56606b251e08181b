//! `vmscope vtop ADDR [--pid N] [--json]`: how a virtual address translates, level
//! by level, as crash's `vtop` shows it.

use super::target::{parse_u64, TargetArgs};
use crate::render::vtop;
use anyhow::Result;
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct VtopArgs {
    /// Virtual address (hex with 0x, or decimal); a user address needs --pid
    #[arg(value_name = "ADDR", value_parser = parse_u64)]
    pub addr: u64,
    /// Translate through this process's page tables (mm->pgd)
    #[arg(long)]
    pub pid: Option<i32>,
    /// Print the walk as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &VtopArgs, t: &TargetArgs) -> Result<i32> {
    // Offsets (task_struct, mm_struct) are only needed to find a process.
    let k = match a.pid {
        Some(_) => t.open_typed()?.1,
        None => t.open(None)?,
    };
    let v = k.vtop(a.addr, a.pid)?;
    if a.json {
        crate::render::print_json(&vtop::json(&v))?;
    } else {
        write!(std::io::stdout().lock(), "{}", vtop::text(&v))?;
    }
    Ok(0)
}
