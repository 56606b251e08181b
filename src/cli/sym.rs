//! `vmscope sym (NAME | ADDR) [--json]`: a symbol's runtime address, or the
//! `symbol+offset` covering an address (vmlinux ELF symbols or kallsyms).

use super::target::{parse_u64, TargetArgs};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct SymArgs {
    /// A symbol name (e.g. init_task) or a kernel address (0x...)
    #[arg(value_name = "NAME | ADDR")]
    pub what: String,
    /// Print {"name","address","symbol"} as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &SymArgs, t: &TargetArgs) -> Result<i32> {
    let k = t.open(None)?;
    let (address, symbol) = if a.what.starts_with(|c: char| c.is_ascii_digit()) {
        let addr = parse_u64(&a.what).map_err(anyhow::Error::msg)?;
        match k.syms.describe(addr) {
            Some(s) => (addr, s),
            None => bail!("{addr:#x}: no kernel symbol covers this address"),
        }
    } else {
        match k.syms.address(&a.what) {
            Some(addr) => (addr, a.what.clone()),
            None => bail!("no symbol '{}' in {}", a.what, k.syms.path()),
        }
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let j = json!({ "query": a.what, "address": format!("{address:#x}"), "symbol": symbol });
        writeln!(out, "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        writeln!(out, "{address:#018x} {symbol}")?;
    }
    Ok(0)
}
