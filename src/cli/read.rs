//! `vmscope read (--pid N | --comm NAME) ADDR LEN`: hexdump of a process's user memory,
//! translated through that process's own page tables (`mm->pgd`).

use super::target::{parse_u64, TargetArgs};
use anyhow::{bail, Result};
use clap::Args;
use std::io::Write;

/// Upper bound on one read, to keep a typo from dumping gigabytes.
const MAX_LEN: u64 = 64 << 20;

#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Process (thread) id whose address space is read
    #[arg(long, required_unless_present = "comm", conflicts_with = "comm")]
    pub pid: Option<i32>,
    /// Or: the one process with this name (an error if several share it)
    #[arg(long)]
    pub comm: Option<String>,
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
        let text: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let at = addr.wrapping_add((i as u64).wrapping_mul(16));
        writeln!(out, "{at:016x}  {hex:<49} |{text}|")?;
    }
    Ok(())
}

pub fn run(a: &ReadArgs, t: &TargetArgs) -> Result<i32> {
    if a.len > MAX_LEN {
        bail!("length {} is over the limit of {MAX_LEN} bytes", a.len);
    }
    let types = t.load_types()?;
    let k = t.open(Some(&types))?;
    let task = match (a.pid, &a.comm) {
        (Some(pid), _) => k.task_by_pid(pid)?,
        (None, Some(name)) => {
            let mut found: Vec<_> = k
                .tasks()?
                .into_iter()
                .filter(|t| t.idle_cpu.is_none() && t.pid == t.tgid && &t.comm == name)
                .collect();
            match found.len() {
                1 => found.remove(0),
                0 => bail!("no process named '{name}'"),
                n => bail!(
                    "{n} processes are named '{name}' (pids {}): use --pid",
                    found
                        .iter()
                        .map(|t| t.pid.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        (None, None) => bail!("give --pid N or --comm NAME"),
    };
    let pid = task.pid;
    let Some(mm) = task.mm else {
        bail!(
            "pid {pid} ({}) is a kernel thread: it has no user address space",
            task.comm
        );
    };
    let info = k.read_mm(mm)?;
    let mut buf = vec![0u8; a.len as usize];
    k.read_user(info.pgd, a.addr, &mut buf)
        .map_err(|e| anyhow::anyhow!("pid {pid}: {e}"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    hexdump(&mut out, a.addr, &buf)?;
    Ok(0)
}
