//! `vmscope check (PID... | --all) [--maps-dir DIR] [--json]`: validate each
//! process's VMA tree, cross-check it with the reimplementation and with
//! /proc/PID/maps. Exit 0 all agree, 1 a violation or mismatch, 2 an error.

use super::target::TargetArgs;
use crate::check::{maps, Report};
use crate::kernel::live;
use crate::kernel::vma_check::VmaChecker;
use crate::kernel::Kernel;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
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
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

/// Live re-checks of a process that changed while it was read.
const LIVE_RETRIES: usize = 2;

#[derive(Serialize)]
struct ProcessOut {
    pid: i32,
    comm: String,
    #[serde(serialize_with = "crate::render::ser_hex")]
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
    checker: VmaChecker<'a>,
    maps_dir: Option<PathBuf>,
}

/// Check one process; `Err` when something prevented checking.
fn check_process(c: &Ctx<'_>, pid: i32, leader: u64, mm: u64, r: &mut Report) -> Result<String> {
    let facts = c.checker.facts(leader, mm)?;
    let mut reader = c.k.vma_reader()?;
    let tree = reader
        .walk_tree(mm)
        .with_context(|| format!("pid {pid}: walking the VMA tree of mm {mm:#x}"))?;
    let walked = c.checker.validate(&tree, &facts, r);

    // /proc/PID/maps against the VMAs rendered from the walked tree.
    let (path, live) = match &c.maps_dir {
        Some(d) => (d.join(pid.to_string()).join("maps"), false),
        None if c.k.is_live() => (live::maps_path(pid), true),
        None => return Ok("not compared (offline: pass --maps-dir DIR)".into()),
    };
    let expected = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !live => {
            return Ok(format!("not compared ({} does not exist)", path.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let rendered = c.checker.maps_text(&mut reader, &walked, mm, r)?;
    maps::compare(&expected, &rendered, &path.display().to_string(), r);
    Ok(path.display().to_string())
}

pub fn run(a: &CheckArgs, t: &TargetArgs) -> Result<i32> {
    let types = t.load_types()?;
    let k = t.open(Some(&types))?;
    k.vma_layout().context("probing VMA structures")?;
    let ctx = Ctx {
        k: &k,
        checker: k.vma_checker()?,
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

    let live = k.is_live();
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
        if live && res.is_err() && !live::process_exists(pid) {
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
