//! `vmscope read --pid N ADDR LEN`: hexdump of a process's user memory,
//! translated through that process's own page tables (`mm->pgd`).

use super::target::{parse_u64, TargetArgs};
use crate::memory::Memory;
use anyhow::{bail, Result};
use clap::Args;
use std::io::Write;

/// Upper bound on one read, to keep a typo from dumping gigabytes.
const MAX_LEN: u64 = 64 << 20;

#[derive(Args, Debug)]
pub struct ReadArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Process (thread) id whose address space is read
    #[arg(long)]
    pub pid: i32,
    /// User virtual address (hex with 0x, or decimal)
    #[arg(value_parser = parse_u64)]
    pub addr: u64,
    /// Number of bytes
    #[arg(value_parser = parse_u64)]
    pub len: u64,
}

/// `hexdump -C` style lines, addresses absolute.
pub fn hexdump(out: &mut dyn Write, addr: u64, bytes: &[u8]) -> std::io::Result<()> {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let mut hex = String::new();
        for (j, b) in chunk.iter().enumerate() {
            if j == 8 {
                hex.push(' ');
            }
            hex.push_str(&format!("{b:02x} "));
        }
        let text: String = chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        writeln!(out, "{:016x}  {hex:<49} |{text}|", addr + (i as u64) * 16)?;
    }
    Ok(())
}

pub fn run(a: &ReadArgs) -> Result<i32> {
    if a.len > MAX_LEN {
        bail!("length {} is over the limit of {MAX_LEN} bytes", a.len);
    }
    let types = a.target.load_types()?;
    let k = a.target.open(Some(&types))?;
    let task = k.task_by_pid(a.pid)?;
    let Some(mm) = task.mm else {
        bail!("pid {} ({}) is a kernel thread: it has no user address space", a.pid, task.comm);
    };
    let info = k.read_mm(mm)?;
    let user = k.mem.user(info.pgd).map_err(|e| anyhow::anyhow!("pid {}: mm->pgd {:#x}: {e}", a.pid, info.pgd))?;
    let mut buf = vec![0u8; a.len as usize];
    user.read(a.addr, &mut buf).map_err(|e| anyhow::anyhow!("pid {}: reading {} bytes at {:#x}: {e}", a.pid, a.len, a.addr))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    hexdump(&mut out, a.addr, &buf)?;
    Ok(0)
}
