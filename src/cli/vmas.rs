//! `vmscope vmas PID [--json]`: the process's VMAs rebuilt from the kernel's own
//! tree, printed byte for byte as /proc/PID/maps.

use super::target::TargetArgs;
use crate::kernel::proc_maps;
use crate::kernel::type_lookup::ProbeVia;
use crate::kernel::vma::{maps_text, VmaInfo};
use crate::kernel::vma_layout::VmaLayout;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::io::Write;

#[derive(Args, Debug)]
pub struct VmasArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Process (or thread) ID
    pub pid: i32,
    /// Print a JSON array of VMAs
    #[arg(long)]
    pub json: bool,
}

/// One VMA; these key names are a stable interface for scripts.
#[derive(Serialize, Debug)]
pub struct VmaRow {
    pub start: String,
    pub end: String,
    pub perms: String,
    pub offset: String,
    pub dev: String,
    pub inode: u64,
    pub path: Option<String>,
    /// vm_area_struct address.
    pub vma: String,
    pub flags: String,
}

impl From<&VmaInfo> for VmaRow {
    fn from(v: &VmaInfo) -> Self {
        VmaRow {
            start: format!("{:#x}", v.start),
            end: format!("{:#x}", v.end),
            perms: v.perms(),
            offset: format!("{:#x}", v.offset()),
            dev: format!("{:02x}:{:02x}", v.major(), v.minor()),
            inode: v.inode,
            path: v
                .name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned()),
            vma: format!("{:#x}", v.vma),
            flags: format!("{:#x}", v.flags),
        }
    }
}

pub fn run(a: &VmasArgs) -> Result<i32> {
    let types = a.target.load_types()?;
    let k = a.target.open(Some(&types))?;
    let layout = VmaLayout::probe(&ProbeVia(&types)).context("probing VMA structures")?;
    let (task, mm) = proc_maps::mm_of_pid(&k, a.pid)?;
    let Some(mm) = mm else {
        eprintln!(
            "vmscope: pid {} ({}) has no mm (kernel thread): no VMAs",
            task.pid, task.comm
        );
        if a.json {
            println!("[]");
        }
        return Ok(0);
    };
    let mut reader = proc_maps::reader(&k, &layout)?;
    if a.target.core.is_none() {
        // Live kernel: the tree can change under us.
        reader.retries = 10;
    }
    let (_tree, vmas) = reader
        .read_mm(mm)
        .with_context(|| format!("pid {}: reading VMAs of mm {mm:#x}", a.pid))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let rows: Vec<VmaRow> = vmas.iter().map(VmaRow::from).collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        out.write_all(&maps_text(&vmas))?;
    }
    Ok(0)
}
