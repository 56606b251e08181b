//! `vmscope check (PID... | --all) [--maps-dir DIR] [--json]`: validate each
//! process's VMA tree, cross-check it with the reimplementation and with
//! /proc/PID/maps. Exit 0 all agree, 1 a violation or mismatch, 2 an error.

use super::target::TargetArgs;
use crate::check::cross::{cross_check, CrossLimits, Walked};
use crate::check::{maps, MmFacts, RawLookup, Report, ThreadVmacache, VmaFields, VmaSource};
use crate::kernel::proc_maps;
use crate::kernel::type_lookup::ProbeVia;
use crate::kernel::vma::{maps_text, VmaTree};
use crate::kernel::vma_layout::{TypeProbe, VmaLayout, VmaTreeLayout};
use crate::kernel::Kernel;
use crate::memory::Memory;
use crate::trees::{maple as tmaple, rbtree as trb, WalkLimits};
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Processes to check (thread IDs resolve to their process)
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub pids: Vec<i32>,
    /// Check every process that has an mm
    #[arg(long)]
    pub all: bool,
    /// Directory laid out like /proc (DIR/PID/maps) to compare with; live default: /proc
    #[arg(long, value_name = "DIR")]
    pub maps_dir: Option<PathBuf>,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

/// Live re-checks of a process that changed while it was read.
const LIVE_RETRIES: usize = 2;

/// `TASK_SIZE_MAX` (arch/x86/include/asm/page_64_types.h): 47- or 56-bit user space.
fn task_size(l5: bool) -> u64 {
    (1u64 << if l5 { 56 } else { 47 }) - 4096
}

/// VMA fields read in one piece from memory.
struct MemVmas<'a> {
    mem: &'a dyn Memory,
    l: &'a VmaLayout,
}

impl VmaSource for MemVmas<'_> {
    fn vma(&self, a: u64) -> Result<VmaFields, String> {
        let offs = [
            self.l.vm_start,
            self.l.vm_end,
            self.l.vm_mm,
            self.l.vm_flags,
        ];
        let lo = offs.iter().copied().min().unwrap_or(0);
        let hi = offs.iter().copied().max().unwrap_or(0) + 8;
        let mut buf = vec![0u8; usize::try_from(hi - lo).unwrap_or(0).min(4096)];
        self.mem
            .read(a.wrapping_add(lo), &mut buf)
            .map_err(|e| e.to_string())?;
        let at = |o: u64| {
            let i = usize::try_from(o - lo).unwrap_or(usize::MAX);
            buf.get(i..i.saturating_add(8))
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0)
        };
        Ok(VmaFields {
            vm_start: at(self.l.vm_start),
            vm_end: at(self.l.vm_end),
            vm_mm: at(self.l.vm_mm),
            vm_flags: at(self.l.vm_flags),
        })
    }
}

/// `find_vma()` by the walkers' own descent, re-reading memory.
struct MemLookup<'a> {
    mem: &'a dyn Memory,
    l: &'a VmaLayout,
    mm: u64,
}

impl RawLookup for MemLookup<'_> {
    fn find_vma(&self, addr: u64) -> Result<Option<(u64, u64, u64)>, String> {
        match &self.l.tree {
            VmaTreeLayout::Maple { mm_mt, maple } => {
                let (hit, _, issue) =
                    tmaple::mt_find(self.mem, self.mm.wrapping_add(*mm_mt), maple, addr)
                        .map_err(|e| e.to_string())?;
                if let Some(i) = issue {
                    return Err(i.to_string());
                }
                Ok(hit.map(|(f, l, e)| (f, l.wrapping_add(1), e)))
            }
            VmaTreeLayout::RbTree { mm_rb, rb, vma, .. } => {
                let (hit, _, issue) = trb::find_vma(
                    self.mem,
                    self.mm.wrapping_add(*mm_rb),
                    rb,
                    vma,
                    addr,
                    WalkLimits::default(),
                )
                .map_err(|e| e.to_string())?;
                if let Some(i) = issue {
                    return Err(i.to_string());
                }
                match hit {
                    None => Ok(None),
                    Some(v) => {
                        let f = MemVmas {
                            mem: self.mem,
                            l: self.l,
                        }
                        .vma(v)?;
                        Ok(Some((f.vm_start, f.vm_end, v)))
                    }
                }
            }
        }
    }
}

#[derive(Serialize)]
struct ProcessOut {
    pid: i32,
    comm: String,
    #[serde(serialize_with = "crate::trees::ser_hex")]
    mm: u64,
    /// Where /proc/PID/maps came from, or why it was not compared.
    maps: String,
    #[serde(flatten)]
    report: Report,
    error: Option<String>,
}

#[derive(Serialize, Default)]
struct Totals {
    processes: u64,
    vmas: u64,
    lookups: u64,
    findings: u64,
    errors: u64,
}

struct Ctx<'a> {
    k: &'a Kernel,
    layout: &'a VmaLayout,
    highest_vm_end: Option<u64>,
    stack_guard_gap: u64,
    task_size: u64,
    maps_dir: Option<PathBuf>,
}

fn read_facts(c: &Ctx<'_>, leader: u64, mm: u64) -> Result<MmFacts> {
    let mem: &dyn Memory = &c.k.mem;
    let rd = |a: u64, what: &str| {
        mem.read_u64(a)
            .with_context(|| format!("reading {what} at {a:#x}"))
    };
    let map_count = c.k.read_mm(mm)?.map_count;
    let mut f = MmFacts {
        mm,
        map_count: u64::try_from(map_count).unwrap_or(u64::MAX),
        highest_vm_end: match c.highest_vm_end {
            Some(o) => Some(rd(mm + o, "mm_struct.highest_vm_end")?),
            None => None,
        },
        stack_guard_gap: c.stack_guard_gap,
        task_size: c.task_size,
        ..MmFacts::default()
    };
    if let Some(vc) = &c.layout.vmacache {
        f.vmacache_seqnum = Some(rd(mm + vc.mm_seqnum, "mm_struct.vmacache_seqnum")?);
        for t in c.k.thread_addrs(leader)? {
            let base = t + vc.task_vmacache;
            let seqnum = rd(base + vc.seqnum, "task_struct.vmacache.seqnum")?;
            let mut vmas = Vec::new();
            for i in 0..vc.nvmas {
                vmas.push(rd(base + vc.vmas + 8 * i, "task_struct.vmacache.vmas")?);
            }
            let tid = c.k.read_task(t).map(|x| i64::from(x.pid)).unwrap_or(-1);
            f.vmacaches.push(ThreadVmacache {
                tid,
                task: t,
                seqnum,
                vmas,
            });
        }
    }
    Ok(f)
}

/// Check one process; `Err` when something prevented checking.
fn check_process(c: &Ctx<'_>, pid: i32, leader: u64, mm: u64, r: &mut Report) -> Result<String> {
    let facts = read_facts(c, leader, mm)?;
    let mem: &dyn Memory = &c.k.mem;
    let mut reader = proc_maps::reader(c.k, c.layout)?;
    let tree = reader
        .walk_tree(mm)
        .with_context(|| format!("pid {pid}: walking the VMA tree of mm {mm:#x}"))?;
    let src = MemVmas { mem, l: c.layout };
    let walked = match &tree {
        VmaTree::Maple(s) => crate::check::maple::validate(s, &facts, &src, r),
        VmaTree::Rb { tree, list } => crate::check::rbtree::validate(tree, list, &facts, &src, r),
    };
    let walked_ref = match &tree {
        VmaTree::Maple(s) => Walked::Maple(s),
        VmaTree::Rb { tree, .. } => Walked::Rb(tree),
    };
    let raw = MemLookup {
        mem,
        l: c.layout,
        mm,
    };
    cross_check(
        &walked,
        walked_ref,
        &facts,
        Some(&raw),
        CrossLimits::default(),
        r,
    );

    // /proc/PID/maps against the VMAs rendered from the walked tree.
    let (path, live) = match &c.maps_dir {
        Some(d) => (d.join(pid.to_string()).join("maps"), false),
        None if c.k.format == crate::memory::dump::Format::Kcore => {
            (PathBuf::from(format!("/proc/{pid}/maps")), true)
        }
        None => return Ok("not compared (offline: pass --maps-dir DIR)".into()),
    };
    let expected = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !live => {
            return Ok(format!("not compared ({} does not exist)", path.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut infos = Vec::with_capacity(walked.len() + 1);
    for w in &walked {
        match reader.read_vma(w.vma) {
            Ok(v) => infos.push(v),
            Err(e) => r.fail(
                "maps",
                w.vma,
                "rendering",
                "a renderable vm_area_struct",
                e.to_string(),
            ),
        }
    }
    if let Some(g) = reader.gate_vma(mm)? {
        infos.push(g);
    }
    let rendered = maps_text(&infos);
    maps::compare(&expected, &rendered, &path.display().to_string(), r);
    Ok(path.display().to_string())
}

pub fn run(a: &CheckArgs) -> Result<i32> {
    let types = a.target.load_types()?;
    let k = a.target.open(Some(&types))?;
    let probe = ProbeVia(&types);
    let layout = VmaLayout::probe(&probe).context("probing VMA structures")?;
    let stack_guard_gap = match k.syms.address("stack_guard_gap") {
        Some(s) => k
            .mem
            .read_u64(s)
            .with_context(|| format!("reading stack_guard_gap at {s:#x}"))?,
        None => 256 * 4096,
    };
    let ctx = Ctx {
        k: &k,
        layout: &layout,
        highest_vm_end: probe.offset_of("mm_struct", "highest_vm_end"),
        stack_guard_gap,
        task_size: task_size(k.mem.paging.l5),
        maps_dir: a.maps_dir.clone(),
    };

    // Processes: one per mm, the thread-group leader.
    let tasks = k.tasks()?;
    let mut todo: Vec<(i32, String, u64, u64)> = Vec::new();
    if a.all {
        for t in &tasks {
            if let (Some(mm), true, None) = (t.mm, t.pid == t.tgid, t.idle_cpu) {
                todo.push((t.pid, t.comm.clone(), t.addr, mm));
            }
        }
    } else {
        for &pid in &a.pids {
            let Some(t) = tasks.iter().find(|t| t.pid == pid && t.idle_cpu.is_none()) else {
                anyhow::bail!("pid {pid}: no such task in this kernel");
            };
            let leader = tasks
                .iter()
                .find(|x| x.pid == t.tgid && x.idle_cpu.is_none())
                .unwrap_or(t);
            match t.mm {
                Some(mm) => todo.push((leader.pid, leader.comm.clone(), leader.addr, mm)),
                None => eprintln!(
                    "vmscope: pid {pid} ({}) has no mm (kernel thread): nothing to check",
                    t.comm
                ),
            }
        }
    }

    let live = k.format == crate::memory::dump::Format::Kcore;
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let mut out = Vec::new();
    let mut totals = Totals::default();
    for (pid, comm, leader, mm) in todo {
        if live && pid == me {
            eprintln!("vmscope: skipping pid {pid} (vmscope itself: its address space changes while it reads it)");
            continue;
        }
        let mut r = Report::default();
        let mut res = check_process(&ctx, pid, leader, mm, &mut r);
        // Live, a process may change between reading its tree and its maps file:
        // re-check a few times before calling a difference a violation.
        for _ in 0..LIVE_RETRIES {
            if !live || (res.is_ok() && r.ok()) {
                break;
            }
            r = Report::default();
            res = check_process(&ctx, pid, leader, mm, &mut r);
        }
        if live && res.is_err() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("vmscope: pid {pid} ({comm}) exited while being checked");
            continue;
        }
        totals.processes += 1;
        totals.vmas += r.vmas;
        totals.lookups += r.lookups;
        totals.findings += r.findings.len() as u64;
        let (maps, error) = match res {
            Ok(m) => (m, None),
            Err(e) => {
                totals.errors += 1;
                (String::new(), Some(format!("{e:#}")))
            }
        };
        let p = ProcessOut {
            pid,
            comm,
            mm,
            maps,
            report: r,
            error,
        };
        if !a.json {
            print_process(&p);
        }
        out.push(p);
    }
    if a.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            processes: &'a [ProcessOut],
            totals: &'a Totals,
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Doc {
                processes: &out,
                totals: &totals
            })?
        );
    } else {
        println!(
            "checked {} processes, {} VMAs, {} lookups: {} findings, {} errors",
            totals.processes, totals.vmas, totals.lookups, totals.findings, totals.errors
        );
    }
    Ok(if totals.errors > 0 {
        2
    } else if totals.findings > 0 {
        1
    } else {
        0
    })
}

fn print_process(p: &ProcessOut) {
    let verdict = match (&p.error, p.report.ok()) {
        (Some(_), _) => "ERROR",
        (None, true) => "ok",
        (None, false) => "VIOLATIONS",
    };
    println!("pid {} ({}) mm {:#x}: {verdict}", p.pid, p.comm, p.mm);
    if !p.report.checks.is_empty() {
        println!("{}", crate::render::check::check_table(&p.report));
    }
    println!("maps: {}", if p.maps.is_empty() { "-" } else { &p.maps });
    print!("{}", crate::render::check::findings_text(&p.report));
    if let Some(e) = &p.error {
        println!("  error: {e}");
    }
    println!();
}
