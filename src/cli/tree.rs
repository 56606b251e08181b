//! `vmscope tree PID [--json]`: the VMA structure itself, node by node (maple tree
//! on 6.1+, rb-tree plus vm_next list before), with a summary, a diagram and a
//! lookup cost table.

use super::target::TargetArgs;
use super::warn;
use crate::check::Report;
use crate::kernel::snapshot::{read_stable, Attempt, HeldPages, SnapshotError, DEFAULT_READS};
use crate::kernel::tasks::Task;
use crate::kernel::vma::{VmaInfo, VmaReader, VmaTree};
use crate::kernel::vma_check::lookup_costs;
use crate::kernel::Kernel;
use crate::render::tree::{self as r, TreeJson, VmacacheRow};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct TreeArgs {
    /// Process (or thread) ID
    pub pid: i32,
    /// Print the snapshot, summary and costs as JSON
    #[arg(long)]
    pub json: bool,
    /// Longest ASCII diagram to print (lines)
    #[arg(long, default_value_t = 60)]
    pub diagram_lines: usize,
    /// Live: walks a stable read may take before giving up (exit 2)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_READS)]
    pub retries: u32,
    #[command(flatten)]
    pub picture: super::picture::PictureArgs,
}

pub fn run(a: &TreeArgs, t: &TargetArgs) -> Result<i32> {
    let (_types, k) = t.open_typed()?;
    let layout = k.vma_layout().context("probing VMA structures")?;
    let (task, mm) = k.mm_of_pid(a.pid)?;
    let Some(mm) = mm else {
        anyhow::bail!(
            "pid {} ({}) has no mm (kernel thread): no VMA tree",
            task.pid,
            task.comm
        );
    };
    let held = HeldPages::new(&k.mem);
    let mut reader = k.vma_reader()?;
    reader.window = k.read_window(a.retries)?;
    if k.is_live() {
        reader.hold(&held);
    }
    let Some(Checked {
        tree,
        map_count,
        reads,
        bad,
        bad_vmas,
        issues,
        vmas,
    }) = read_checked(&k, &mut reader, mm, a.pid, a.retries)?
    else {
        return Ok(2);
    };
    let vmacache = k.vmacaches(mm)?;
    let cost = lookup_costs(&tree, layout, map_count.max(0) as u64);

    let mut out = std::io::stdout().lock();
    if a.picture.wanted() {
        let title = super::picture::tree_title(&task, mm, &tree, map_count);
        super::picture::write(&a.picture, &tree, &vmas, &vmacache, &title)?;
    } else if a.json {
        let j = match &tree {
            VmaTree::Maple(s) => TreeJson {
                pid: a.pid,
                mm,
                map_count,
                kind: "maple",
                maple: Some(s),
                maple_summary: Some(s.summary()),
                rb: None,
                list: None,
                vmacache,
                cost,
                warnings: &bad.findings,
                reads,
            },
            VmaTree::Rb { tree, list } => TreeJson {
                pid: a.pid,
                mm,
                map_count,
                kind: "rbtree",
                maple: None,
                maple_summary: None,
                rb: Some(tree),
                list: Some(list),
                vmacache,
                cost,
                warnings: &bad.findings,
                reads,
            },
        };
        serde_json::to_writer(&mut out, &j)?;
        writeln!(out)?;
    } else {
        let paint = super::color::stdout();
        let mut s = String::new();
        r::header(task.pid, &task.comm, mm, map_count, &mut s);
        match &tree {
            VmaTree::Maple(m) => {
                r::maple_dump(m, paint, &mut s);
                r::maple_summary(m, &mut s);
                r::maple_diagram(m, a.diagram_lines, &mut s);
            }
            VmaTree::Rb { tree, list } => {
                r::rb_dump(tree, list, paint, &mut s);
                r::rb_summary(tree, list, layout.vma_size, &mut s);
                let rows: Vec<VmacacheRow<'_>> = vmacache
                    .iter()
                    .map(|v| VmacacheRow {
                        tid: v.tid,
                        seqnum: v.seqnum,
                        mm_seqnum: v.mm_seqnum,
                        valid: v.valid,
                        vmas: &v.vmas,
                    })
                    .collect();
                r::vmacache_table(&rows, &mut s);
            }
        }
        r::cost_table(&cost, &mut s);
        if !bad_vmas.is_empty() {
            use std::fmt::Write as _;
            let _ = writeln!(s, "\nbad VMAs");
            for (v, _) in &bad_vmas {
                let mut line = Vec::new();
                v.write_maps_line(&mut line);
                let line = String::from_utf8_lossy(&line);
                let _ = writeln!(
                    s,
                    "  {:#x} {}{}",
                    v.vma,
                    line.trim_end(),
                    crate::render::bad_mark(&warn::about(&bad, v.vma))
                );
            }
        }
        out.write_all(s.as_bytes())?;
    }
    if issues > 0 {
        eprintln!(
            "vmscope: pid {}: the walk met {issues} bad node(s); see ISSUE lines",
            a.pid
        );
        return Ok(2);
    }
    warn::print(&format!("pid {}", a.pid), &bad);
    Ok(warn::status(&bad))
}

/// One coherent read of the tree, with every VMA checked as read.
pub(super) struct Checked {
    pub tree: VmaTree,
    pub map_count: i32,
    pub reads: Option<u32>,
    pub bad: Report,
    pub bad_vmas: Vec<(VmaInfo, bool)>,
    pub issues: usize,
    /// Every VMA read (empty when the walk met bad nodes).
    pub vmas: Vec<VmaInfo>,
}

/// The checked tree of `pid`'s address space for a command that draws or measures all of
/// it (`graph`, `costs`): a kernel thread is an error, and `None` (its one line printed,
/// exit 2) when a live mm never stood still or the walk met bad nodes, which only `tree`
/// shows.
pub(super) fn read_whole(
    k: &Kernel,
    pid: i32,
    retries: u32,
    purpose: &str,
) -> Result<Option<(Task, u64, Checked)>> {
    Ok(printed(read_whole_or(k, pid, retries, purpose)?))
}

/// `Some` of what was read, or `None` with the one line saying why printed on stderr.
fn printed<T>(r: Result<T, String>) -> Option<T> {
    r.map_err(|line| eprintln!("vmscope: {line}")).ok()
}

/// As [`read_whole`], with the one line (why there is no whole tree) handed back as
/// `Err` instead of printed (`report` writes it in the page too).
pub(super) fn read_whole_or(
    k: &Kernel,
    pid: i32,
    retries: u32,
    purpose: &str,
) -> Result<Result<(Task, u64, Checked), String>> {
    let (task, mm) = k.mm_of_pid(pid)?;
    let Some(mm) = mm else {
        anyhow::bail!(
            "pid {} ({}) has no mm (kernel thread): {purpose}",
            task.pid,
            task.comm
        );
    };
    let held = HeldPages::new(&k.mem);
    let mut reader = k.vma_reader()?;
    reader.window = k.read_window(retries)?;
    if k.is_live() {
        reader.hold(&held);
    }
    let c = match read_checked_or(k, &mut reader, mm, pid, retries)? {
        Ok(c) => c,
        Err(line) => return Ok(Err(line)),
    };
    if c.issues > 0 {
        return Ok(Err(format!(
            "pid {pid}: the walk met {} bad node(s); see `vmscope tree {pid}`",
            c.issues
        )));
    }
    Ok(Ok((task, mm, c)))
}

/// The tree of `mm` between stable reads, its VMAs checked; `None` when a live mm never
/// stood still (the one line is printed here: exit 2).
pub(super) fn read_checked(
    k: &Kernel,
    reader: &mut VmaReader<'_>,
    mm: u64,
    pid: i32,
    retries: u32,
) -> Result<Option<Checked>> {
    Ok(printed(read_checked_or(k, reader, mm, pid, retries)?))
}

/// As [`read_checked`], the line handed back as `Err` instead of printed.
fn read_checked_or(
    k: &Kernel,
    reader: &mut VmaReader<'_>,
    mm: u64,
    pid: i32,
    retries: u32,
) -> Result<Result<Checked, String>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        // map_count is read inside the window, so that it belongs to the tree printed.
        let read = read_stable(
            &k.mem,
            mm,
            reader.window,
            || reader.walk_tree(mm).map_err(anyhow::Error::new),
            |tree| {
                Ok(if k.is_live() && tree.raced() {
                    Attempt::Torn
                } else {
                    Attempt::Whole(k.read_mm(mm)?.map_count)
                })
            },
        );
        let (tree, map_count, reads) = match read {
            Ok(s) => (s.walk, s.value, s.reads),
            Err(SnapshotError::Unstable { reads }) => {
                return Ok(Err(format!(
                    "pid {pid} changed on every one of {reads} reads"
                )));
            }
            Err(e) => {
                return Err(anyhow::anyhow!("{e:#}"))
                    .with_context(|| format!("pid {}: walking the VMA tree of mm {mm:#x}", pid))
            }
        };
        let reads = k.is_live().then_some(reads);
        let issues = match &tree {
            VmaTree::Maple(s) => s.issues.len(),
            VmaTree::Rb { tree, list } => tree.issues.len() + list.issues.len(),
        };

        // Each VMA checked as read (a walk that met bad nodes has no VMA list).
        let mut bad = Report::default();
        let mut bad_vmas = Vec::new();
        let mut all = Vec::new();
        if issues == 0 {
            let read = reader.vma_addresses(mm, &tree).and_then(|addrs| {
                addrs
                    .iter()
                    .map(|&v| reader.read_vma(v))
                    .collect::<Result<Vec<_>, _>>()
            });
            let vmas = match read {
                Ok(v) => v,
                Err(_) if k.is_live() && attempts < retries.max(1) => continue,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("pid {}: reading the VMAs of mm {mm:#x}", pid))
                }
            };
            let ok = k.check_vma_records(&tree, &vmas, &mut bad);
            bad_vmas = vmas.iter().cloned().zip(ok).filter(|(_, ok)| !ok).collect();
            all = vmas;
        }

        // Live: a record that looks impossible right after a stable walk was most likely
        // freed and reused in between; only one that survives a fresh read is reported.
        if k.is_live() && !bad.findings.is_empty() {
            if attempts < retries.max(1) {
                continue;
            }
            // Never stable enough to tell a torn read from a bad record: say so, exit 2.
            return Ok(Err(format!(
                "pid {pid} changed on every one of {attempts} reads"
            )));
        }
        return Ok(Ok(Checked {
            tree,
            map_count,
            reads,
            bad,
            bad_vmas,
            issues,
            vmas: all,
        }));
    }
}
