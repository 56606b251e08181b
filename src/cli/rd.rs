//! `vmscope rd (ADDR | SYMBOL) [LEN] [--phys] [--size 1|2|4|8] [--symbols]`: kernel
//! memory as a hexdump, or as words (words pointing into the kernel symbolized).

use super::read::hexdump;
use super::target::{parse_u64, TargetArgs};
use anyhow::{anyhow, Result};
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct RdArgs {
    /// Kernel virtual address (0x...), physical with --phys, or a kernel or module symbol
    #[arg(value_name = "ADDR | SYMBOL")]
    pub at: String,
    /// Bytes to read (default: 64)
    #[arg(value_name = "LEN", default_value = "64")]
    pub len: String,
    /// ADDR is a physical address
    #[arg(long)]
    pub phys: bool,
    /// Print words of this many bytes instead of a hexdump
    #[arg(long, value_parser = ["1", "2", "4", "8"])]
    pub size: Option<String>,
    /// With words: name the kernel symbol each word points into (implies --size 8)
    #[arg(long)]
    pub symbols: bool,
}

pub fn run(a: &RdArgs, t: &TargetArgs) -> Result<i32> {
    let k = t.open(None)?;
    let addr = match parse_u64(&a.at) {
        Ok(x) => x,
        Err(_) if !a.phys => match k.syms.address(&a.at) {
            Some(x) => x,
            None => super::modules::loaded_module_symbols(t)
                .and_then(|m| m.lookup(&a.at, None).map(|(x, _)| x))
                .ok_or_else(|| {
                    anyhow!(
                        "'{}' is neither an address nor a kernel or module symbol",
                        a.at
                    )
                })?,
        },
        Err(e) => return Err(anyhow!(e)),
    };
    let len = parse_u64(&a.len).map_err(|e| anyhow!(e))?;
    let buf = k.read_raw(addr, len, a.phys)?;
    let mut out = std::io::stdout().lock();
    let size: usize = match (&a.size, a.symbols) {
        (Some(s), _) => s.parse()?,
        (None, true) => 8,
        (None, false) => {
            hexdump(&mut out, addr, &buf)?;
            return Ok(0);
        }
    };
    for (i, row) in buf.chunks(16).enumerate() {
        let mut line = format!("{:016x}:", addr.wrapping_add(16 * i as u64));
        for w in row.chunks(size) {
            let mut b = [0u8; 8];
            b[..w.len()].copy_from_slice(w);
            let v = u64::from_le_bytes(b);
            line.push_str(&format!(" {v:0width$x}", width = 2 * size));
            if a.symbols && size == 8 {
                if let Some(s) = k.syms.describe(v) {
                    line.push_str(&format!(" <{s}>"));
                }
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(0)
}
