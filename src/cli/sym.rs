//! `vmscope sym (NAME | ADDR) [--json]`: a symbol's runtime address, or the
//! `symbol+offset` covering an address (vmlinux ELF symbols or kallsyms; then the loaded
//! modules' symbols, shown as `name [module]`).

use super::modules::loaded_module_symbols;
use super::target::{parse_u64, TargetArgs};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct SymArgs {
    /// A kernel or module symbol name (e.g. init_task) or a kernel address (0x...)
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
            None => match loaded_module_symbols(t).and_then(|m| m.describe(addr)) {
                Some(s) => (addr, s),
                None => bail!("{addr:#x}: no kernel or module symbol covers this address"),
            },
        }
    } else {
        match k.syms.address(&a.what) {
            Some(addr) => (addr, a.what.clone()),
            None => match loaded_module_symbols(t).and_then(|m| {
                m.lookup(&a.what, None)
                    .map(|(addr, name)| (addr, format!("{} [{name}]", a.what)))
            }) {
                Some(found) => found,
                None => bail!(
                    "no symbol '{}' in {} nor in a loaded module",
                    a.what,
                    k.syms.path()
                ),
            },
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
