//! `vmscope check (PID... | --all) [--maps-dir DIR] [--json] [--verbose]`: validate each
//! process's VMA tree, cross-check it with the reimplementation and with
//! /proc/PID/maps. Exit 0 all agree, 1 a violation or mismatch, 2 an error.

use super::progress::Counter;
use super::target::TargetArgs;
use crate::check::{maps, Report};
use crate::kernel::live;
use crate::kernel::snapshot::{
    read_stable, Attempt, HeldPages, SnapshotError, Window, DEFAULT_READS,
};
use crate::kernel::tasks::Task;
use crate::kernel::vma::VmaTree;
use crate::kernel::vma_check::VmaChecker;
use crate::kernel::Kernel;
use crate::render::check::{self as out, ProcessOut, Totals};
use crate::render::table::escape;
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Processes to check (thread IDs resolve to their process)
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub pids: Vec<i32>,
    /// Check every process that has an mm
    #[arg(long)]
    pub all: bool,
    /// Directory laid out like /proc (DIR/PID/maps) to compare with; live default: /proc
    #[arg(long, value_name = "DIR")]
    pub maps_dir: Option<PathBuf>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// Live: walks a stable read of a process may take before giving up (exit 2)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_READS)]
    pub retries: u32,
    /// Print each process's per-check table and maps source, not one line
    #[arg(long, short)]
    pub verbose: bool,
}

pub(super) struct Ctx<'a> {
    pub k: &'a Kernel,
    checker: VmaChecker<'a>,
    maps_dir: Option<PathBuf>,
    window: Window,
    /// Live: the pages one attempt holds (released by every walk).
    held: Option<&'a HeldPages<'a>>,
}

/// What must not move while one process is checked: its tree and, live, its maps.
#[derive(PartialEq)]
struct Walk {
    tree: VmaTree,
    maps: Option<Vec<u8>>,
}

/// Where /proc/PID/maps comes from: a file read once (a copy of /proc), the live
/// file read with every walk, or why there is nothing to compare.
enum MapsSource {
    Copy(PathBuf),
    Live(PathBuf),
    None(String),
}

fn maps_source(c: &Ctx<'_>, pid: i32) -> MapsSource {
    match &c.maps_dir {
        Some(d) => {
            let p = d.join(pid.to_string()).join("maps");
            if p.exists() {
                MapsSource::Copy(p)
            } else {
                MapsSource::None(format!("not compared ({} does not exist)", p.display()))
            }
        }
        None if c.k.is_live() => MapsSource::Live(live::maps_path(pid)),
        None => MapsSource::None("not compared (offline: pass --maps-dir DIR)".into()),
    }
}

/// What checking reads through: the kernel, its checker (holding `held` live), the
/// maps to compare with and the read window.
pub(super) fn context<'a>(
    k: &'a Kernel,
    held: &'a HeldPages<'a>,
    maps_dir: Option<PathBuf>,
    retries: u32,
) -> Result<Ctx<'a>> {
    let mut checker = k.vma_checker()?;
    if k.is_live() {
        checker.hold(held);
    }
    Ok(Ctx {
        k,
        checker,
        maps_dir,
        window: k.read_window(retries)?,
        held: k.is_live().then_some(held),
    })
}

/// One process to look at: its thread-group leader (pid, comm, task address) and mm.
pub(super) type Process = (i32, String, u64, u64);

/// The processes of `pids` (threads resolve to their process), or with `None` every
/// process that has an mm; a kernel thread asked for is told to `skipped` and left out.
pub(super) fn processes(
    tasks: &[Task],
    pids: Option<&[i32]>,
    mut skipped: impl FnMut(String),
) -> Result<Vec<Process>> {
    let mut todo = Vec::new();
    let Some(pids) = pids else {
        for t in tasks {
            if let (Some(mm), true, None) = (t.mm, t.pid == t.tgid, t.idle_cpu) {
                todo.push((t.pid, t.comm.clone(), t.addr, mm));
            }
        }
        return Ok(todo);
    };
    for &pid in pids {
        let Some(t) = tasks.iter().find(|t| t.pid == pid && t.idle_cpu.is_none()) else {
            anyhow::bail!("pid {pid}: no such task in this kernel");
        };
        let leader = tasks
            .iter()
            .find(|x| x.pid == t.tgid && x.idle_cpu.is_none())
            .unwrap_or(t);
        match t.mm {
            Some(mm) => todo.push((leader.pid, leader.comm.clone(), leader.addr, mm)),
            None => skipped(format!(
                "pid {pid} ({}) has no mm (kernel thread)",
                escape(&t.comm)
            )),
        }
    }
    Ok(todo)
}

fn read_maps(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Check one process against a stable read of it (kernel/snapshot.rs): the report,
/// and where its maps came from; `Err` when something prevented checking.
pub(super) fn check_process(
    c: &Ctx<'_>,
    pid: i32,
    leader: u64,
    mm: u64,
) -> Result<(Report, String)> {
    let source = maps_source(c, pid);
    let reader = std::cell::RefCell::new(c.k.vma_reader()?);
    reader.borrow_mut().window = c.window;
    if let Some(h) = c.held {
        reader.borrow_mut().hold(h);
    }
    let walk = || -> Result<Walk> {
        let tree = reader
            .borrow()
            .walk_tree(mm)
            .with_context(|| format!("pid {pid}: walking the VMA tree of mm {mm:#x}"))?;
        let maps = match &source {
            MapsSource::Live(p) => Some(read_maps(p)?),
            _ => None,
        };
        Ok(Walk { tree, maps })
    };
    let inside = |w: &Walk| -> Result<Attempt<(Report, String)>> {
        if c.k.is_live() && w.tree.raced() {
            return Ok(Attempt::Torn);
        }
        let mut r = Report::default();
        let facts = c.checker.facts(leader, mm)?;
        let walked = c.checker.validate(&w.tree, &facts, &mut r);
        let (expected, path) = match (&source, &w.maps) {
            (MapsSource::Live(p), Some(m)) => (m.clone(), p),
            (MapsSource::Copy(p), _) => (read_maps(p)?, p),
            (MapsSource::Live(p), None) => (read_maps(p)?, p),
            (MapsSource::None(why), _) => return Ok(Attempt::Whole((r, why.clone()))),
        };
        let rendered = c
            .checker
            .maps_text(&mut reader.borrow_mut(), &walked, mm, &mut r)?;
        maps::compare(&expected, &rendered, &path.display().to_string(), &mut r);
        Ok(Attempt::Whole((r, path.display().to_string())))
    };
    match read_stable(&c.k.mem, mm, c.window, walk, inside) {
        Ok(s) => Ok(s.value),
        Err(SnapshotError::Unstable { reads }) => {
            anyhow::bail!("pid {pid} changed on every one of {reads} reads")
        }
        Err(SnapshotError::Read(e)) => Err(e),
        Err(e) => Err(anyhow::anyhow!("pid {pid}: {e}")),
    }
}

pub fn run(a: &CheckArgs, t: &TargetArgs) -> Result<i32> {
    if let Some(d) = &a.maps_dir {
        // Refused before any process is read: otherwise every process fails alike.
        if !d.is_dir() {
            anyhow::bail!("--maps-dir {}: not a directory", d.display());
        }
    }
    let (_types, k) = t.open_typed()?;
    k.vma_layout().context("probing VMA structures")?;
    let held = HeldPages::new(&k.mem);
    let ctx = context(&k, &held, a.maps_dir.clone(), a.retries)?;

    // Processes: one per mm, the thread-group leader.
    let tasks = k.tasks()?;
    let pids = (!a.all).then_some(a.pids.as_slice());
    let todo = processes(&tasks, pids, |line| {
        eprintln!("vmscope: {line}: nothing to check")
    })?;

    // The task list's second witness (--all only: it is about every task).
    let mut sources = Report::default();
    if a.all {
        k.check_task_sources(&tasks, &mut sources)?;
        super::warn::print("task list", &sources);
    }

    let live = k.is_live();
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let mut done = Vec::new();
    // Written with `?`: a reader that closes the pipe early ends the run quietly.
    let mut stdout = std::io::stdout().lock();
    let mut totals = Totals::default();
    let paint = super::color::stdout();
    let progress = Counter::new("checking", todo.len());
    for (i, (pid, comm, leader, mm)) in todo.into_iter().enumerate() {
        progress.set(i);
        if live && pid == me {
            progress.suspend(|| eprintln!("vmscope: skipping pid {pid} (vmscope itself: its address space changes while it reads it)"));
            continue;
        }
        let (r, res) = match check_process(&ctx, pid, leader, mm) {
            Ok((r, maps)) => (r, Ok(maps)),
            Err(e) => (Report::default(), Err(e)),
        };
        if live && res.is_err() && !live::process_exists(pid) {
            progress.suspend(|| {
                eprintln!(
                    "vmscope: pid {pid} ({}) exited while being checked",
                    escape(&comm)
                )
            });
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
            let text = out::process_text(&p, a.verbose, paint);
            progress.suspend(|| write!(stdout, "{text}"))?;
        }
        done.push(p);
    }
    drop(progress);
    totals.findings += sources.findings.len() as u64;
    if a.json {
        writeln!(stdout, "{}", out::json(&done, &totals, &sources.findings)?)?;
    } else {
        write!(stdout, "{}", out::totals_line(&totals))?;
    }
    if let Some(first) = done
        .iter()
        .find_map(|p| p.error.as_ref().map(|e| (p.pid, e)))
    {
        // Exit 2 says so on stderr, in one line; the report above has each error.
        eprintln!(
            "{} {} of {} processes could not be checked (first: pid {}: {})",
            super::color::error_prefix(),
            totals.errors,
            totals.processes,
            first.0,
            first.1.replace('\n', " ")
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
