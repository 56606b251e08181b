//! `vmscope log [--json] [--level L,...] [--since SECONDS]`: the kernel log from the
//! printk ring buffer of a dump or the running kernel.

use super::target::TargetArgs;
use crate::kernel::printk::PrintkLayout;
use crate::render::log as render;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Print a JSON array of records (level, facility, caller, device info)
    #[arg(long)]
    pub json: bool,
    /// Only these levels (comma-separated names or numbers: emerg,alert,crit,err,warn,notice,info,debug)
    #[arg(long, value_name = "LEVEL", value_delimiter = ',', value_parser = render::parse_level)]
    pub level: Vec<u8>,
    /// Only records logged at or after this many seconds since boot
    #[arg(long, value_name = "SECONDS", value_parser = render::parse_seconds)]
    pub since: Option<u64>,
    /// Prefix each line with facility and level (like `dmesg -x`)
    #[arg(long, short = 'x')]
    pub decode: bool,
}

pub fn run(a: &LogArgs, t: &TargetArgs) -> Result<i32> {
    let (types, k) = t.open_typed()?;
    let layout = PrintkLayout::probe(&types)
        .context("this kernel has no lockless printk ring buffer (5.10 or later)")?;
    let log = k.printk_log(&layout)?;
    for w in &log.warnings {
        eprintln!("{} {w}", super::color::warning_prefix());
    }
    let records: Vec<_> = log
        .records
        .into_iter()
        .filter(|r| a.level.is_empty() || a.level.contains(&r.level))
        .filter(|r| a.since.is_none_or(|s| r.ts_nsec >= s))
        .collect();
    let out = if a.json {
        render::json(&records)? + "\n"
    } else {
        render::text(&records, a.decode)
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(0)
}
