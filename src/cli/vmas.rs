//! `vmscope vmas PID [--json]`: the process's VMAs rebuilt from the kernel's own
//! tree, printed byte for byte as /proc/PID/maps.

use super::progress::Counter;
use super::target::TargetArgs;
use super::warn;
use crate::check::{Finding, Report};
use crate::kernel::live;
use crate::kernel::snapshot::{HeldPages, SnapshotError, DEFAULT_READS};
use crate::kernel::tasks::Task;
use crate::kernel::vma::{VmaInfo, VmaReader};
use crate::kernel::Kernel;
use crate::render::table::escape;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::io::Write;

#[derive(Args, Debug)]
pub struct VmasArgs {
    /// Process (or thread) ID
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub pid: Option<i32>,
    /// Every process with an mm (thread-group leaders), each under a
    /// `==> PID COMM <==` header (JSON: an array of {pid, comm, vmas})
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array of VMAs
    #[arg(long)]
    pub json: bool,
    /// Live: walks a stable read may take before giving up (exit 2)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_READS)]
    pub retries: u32,
    /// Write the address space as an SVG strip to FILE (no text on stdout)
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub svg: Option<std::path::PathBuf>,
    /// Write the address space as a Graphviz DOT graph to FILE (no text on stdout)
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub dot: Option<std::path::PathBuf>,
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
    /// What is impossible about this VMA (absent when nothing is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Finding>,
    /// Live only: walks the stable read of the process took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<u32>,
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
            warnings: Vec::new(),
            reads: None,
        }
    }
}

/// JSON rows, each carrying the findings about its VMA.
fn rows(vmas: &[VmaInfo], r: &Report) -> Vec<VmaRow> {
    vmas.iter()
        .map(|v| VmaRow {
            warnings: warn::about(r, v.vma),
            ..VmaRow::from(v)
        })
        .collect()
}

#[derive(Serialize)]
struct ProcessVmas {
    pid: i32,
    comm: String,
    mm: String,
    vmas: Vec<VmaRow>,
    /// Live only: walks the stable read took.
    #[serde(skip_serializing_if = "Option::is_none")]
    reads: Option<u32>,
}

/// `vmas --all`: one walk per mm, threads share their leader's.
fn run_all(
    a: &VmasArgs,
    k: &Kernel,
    reader: &mut VmaReader<'_>,
    out: &mut impl Write,
) -> Result<i32> {
    let mut seen = std::collections::HashSet::new();
    let tasks: Vec<(Task, u64)> = k
        .tasks()?
        .into_iter()
        .filter_map(|t| Some((t.mm?, t)))
        .filter(|(mm, t)| t.idle_cpu.is_none() && seen.insert(*mm))
        .map(|(mm, t)| (t, mm))
        .collect();
    let progress = Counter::new("reading VMAs", tasks.len());
    let mut all = Vec::new();
    let mut status = 0;
    for (i, (t, mm)) in tasks.into_iter().enumerate() {
        progress.set(i);
        let s = match reader.read_mm_stable(mm) {
            Err(SnapshotError::Unstable { reads }) => {
                anyhow::bail!("pid {} changed on every one of {reads} reads", t.pid)
            }
            r => r
                .map_err(anyhow::Error::new)
                .with_context(|| format!("pid {}: reading VMAs of mm {mm:#x}", t.pid))?,
        };
        let (tree, vmas) = (s.walk, s.value);
        let mut r = Report::default();
        let ok = k.check_vma_records(&tree, &vmas, &mut r);
        progress.suspend(|| warn::print(&format!("pid {}", t.pid), &r));
        status = status.max(warn::status(&r));
        if a.json {
            all.push(ProcessVmas {
                pid: t.pid,
                comm: t.comm,
                mm: format!("{mm:#x}"),
                vmas: rows(&vmas, &r),
                reads: k.is_live().then_some(s.reads),
            });
        } else {
            let text = warn::maps_text(&vmas, &ok, &r);
            progress.suspend(|| -> std::io::Result<()> {
                writeln!(out, "==> {} {} <==", t.pid, escape(&t.comm))?;
                out.write_all(&text)
            })?;
        }
    }
    drop(progress);
    if a.json {
        serde_json::to_writer(&mut *out, &all)?;
        writeln!(out)?;
    }
    Ok(status)
}

pub fn run(a: &VmasArgs, t: &TargetArgs) -> Result<i32> {
    let (_types, k) = t.open_typed()?;
    k.vma_layout().context("probing VMA structures")?;
    let held = HeldPages::new(&k.mem);
    let mut reader = k.vma_reader()?;
    reader.window = k.read_window(a.retries)?;
    let live = k.is_live();
    if live {
        reader.hold(&held);
    }
    let mut out = std::io::stdout().lock();
    let Some(pid) = a.pid else {
        return run_all(a, &k, &mut reader, &mut out);
    };
    let (task, mm) = k.mm_of_pid(pid)?;
    let Some(mm) = mm else {
        eprintln!(
            "vmscope: pid {} ({}) has no mm (kernel thread): no VMAs",
            task.pid,
            escape(&task.comm)
        );
        if a.json {
            println!("[]");
        }
        return Ok(0);
    };
    let started = std::time::Instant::now();
    let cpu_started = live::thread_cpu_ms();
    let s = match reader.read_mm_stable(mm) {
        Err(SnapshotError::Unstable { reads }) => {
            eprintln!("vmscope: pid {pid} changed on every one of {reads} reads");
            return Ok(2);
        }
        r => r
            .map_err(anyhow::Error::new)
            .with_context(|| format!("pid {pid}: reading VMAs of mm {mm:#x}"))?,
    };
    let (tree, vmas) = (s.walk, s.value);
    let mut r = Report::default();
    let ok = k.check_vma_records(&tree, &vmas, &mut r);
    warn::print(&format!("pid {pid}"), &r);
    if a.svg.is_some() || a.dot.is_some() {
        let title = super::picture::strip_title(&task, mm);
        super::picture::write_strip(a.svg.as_deref(), a.dot.as_deref(), &vmas, &title)?;
    } else if a.json {
        let reads = live.then_some(s.reads);
        let rows: Vec<VmaRow> = vmas
            .iter()
            .map(|v| VmaRow {
                reads,
                warnings: warn::about(&r, v.vma),
                ..VmaRow::from(v)
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        let text = warn::maps_text(&vmas, &ok, &r);
        // benches/vmas.sh times the walk apart from opening the dump.
        if std::env::var_os("VMSCOPE_TIMING").is_some() {
            eprintln!(
                "vmscope: {} VMAs, walk+render {:.1} ms wall, {:.1} ms cpu",
                vmas.len(),
                started.elapsed().as_secs_f64() * 1e3,
                live::thread_cpu_ms() - cpu_started
            );
        }
        out.write_all(&text)?;
    }
    Ok(warn::status(&r))
}
