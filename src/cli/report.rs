//! `vmscope report -o FILE.html [--pid N ...]`: one self-contained page for a dump or the
//! live system: `info`, the task list (`ps`), and per process its address-space strip
//! (`vmas --svg`), its tree picture (`tree --svg`) and summary, its `check` verdict and
//! its cost table and chart (`costs`). A process that cannot be read in full says why in
//! its section and on stderr, and the exit status says so (2).

use super::check::{self, Process};
use super::picture::{self, Draw};
use super::progress::Counter;
use super::target::TargetArgs;
use crate::check::Report;
use crate::kernel::live;
use crate::kernel::snapshot::{HeldPages, DEFAULT_READS};
use crate::kernel::vma::VmaTree;
use crate::kernel::vma_layout::VmaLayout;
use crate::render::check::{process_text, ProcessOut};
use crate::render::html::{self, Verdict};
use crate::render::style::Paint;
use crate::render::table::escape;
use crate::render::{svg, tree as r};
use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashSet;
use std::path::PathBuf;

/// Random lookup addresses per process, as `costs` takes by default.
const PROBES: usize = super::costs::DEFAULT_PROBES;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Write the HTML page to FILE
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Processes to show (repeatable; a thread shows its process); default: every process
    /// with an mm
    #[arg(long = "pid", value_name = "N")]
    pub pids: Vec<i32>,
    /// Directory laid out like /proc (DIR/PID/maps) the check compares with; live default: /proc
    #[arg(long, value_name = "DIR")]
    pub maps_dir: Option<PathBuf>,
    /// Live: walks a stable read of a process may take before giving up
    #[arg(long, value_name = "N", default_value_t = DEFAULT_READS)]
    pub retries: u32,
}

pub fn run(a: &ReportArgs, t: &TargetArgs) -> Result<i32> {
    if let Some(d) = &a.maps_dir {
        if !d.is_dir() {
            anyhow::bail!("--maps-dir {}: not a directory", d.display());
        }
    }
    let (types, k) = t.open_typed()?;
    let layout = k.vma_layout().context("probing VMA structures")?;
    let info = super::info::text(t, &k, super::info::panic_with(&k, Some(&types))?.as_ref())?;
    let (ps, bad) = super::ps::rows(&k)?;
    super::warn::print("task list", &bad);
    let tasks = k.tasks()?;
    let pids = (!a.pids.is_empty()).then_some(a.pids.as_slice());
    let todo = check::processes(&tasks, pids, |line| {
        eprintln!("vmscope: {line}: no section in the report")
    })?;
    let held = HeldPages::new(&k.mem);
    let ctx = check::context(&k, &held, a.maps_dir.clone(), a.retries)?;
    let me = i32::try_from(std::process::id()).unwrap_or(-1);

    let progress = Counter::new("reporting", todo.len());
    let mut sections = Vec::new();
    for (i, p) in todo.iter().enumerate() {
        progress.set(i);
        if k.is_live() && p.0 == me {
            progress.suspend(|| eprintln!("vmscope: skipping pid {me} (vmscope itself)"));
            continue;
        }
        let s = section(&ctx, layout, p, a.retries);
        // Live, a process may exit while it is read: as for `check`, it is left out.
        if k.is_live() && !s.errors.is_empty() && !live::process_exists(p.0) {
            progress.suspend(|| {
                eprintln!(
                    "vmscope: pid {} ({}) exited while being read",
                    p.0,
                    escape(&p.1)
                )
            });
            continue;
        }
        progress.suspend(|| {
            for e in &s.errors {
                eprintln!("vmscope: pid {}: {}", s.pid, e.replace('\n', " "));
            }
        });
        sections.push(s);
    }
    drop(progress);

    let shown: HashSet<i32> = sections.iter().map(|s| s.pid).collect();
    let tasks_table = html::table(&ps, |i| {
        let tgid = ps.get(i)?.tgid;
        shown.contains(&tgid).then(|| html::anchor(tgid))
    })?;
    let source = t.core.as_deref().unwrap_or("/proc/kcore");
    let title = format!("vmscope report: {} ({source})", k.release);
    let made_by = format!(
        "made by vmscope {} from {source}; types {}",
        super::VERSION,
        t.sources(&k).0
    );
    let page = html::page(&html::Page {
        title: &title,
        made_by: &made_by,
        info: &info,
        tasks: &tasks_table,
        processes: &sections,
    });
    std::fs::write(&a.output, page).with_context(|| format!("writing {}", a.output.display()))?;
    let failed = sections.iter().filter(|s| !s.errors.is_empty()).count();
    if failed > 0 {
        eprintln!(
            "{} {failed} of {} processes could not be read in full; their sections in {} say why",
            super::color::error_prefix(),
            sections.len(),
            a.output.display()
        );
        return Ok(2);
    }
    let violations = sections.iter().any(|s| s.verdict != Verdict::Ok);
    Ok(if violations || !bad.findings.is_empty() {
        1
    } else {
        0
    })
}

/// One process's section: its check, then its tree read whole for the pictures, summary
/// and costs; each part that fails leaves its line in `errors`.
fn section(
    ctx: &check::Ctx<'_>,
    layout: &VmaLayout,
    (pid, comm, leader, mm): &Process,
    retries: u32,
) -> html::Process {
    let k = ctx.k;
    let (report, res) = match check::check_process(ctx, *pid, *leader, *mm) {
        Ok((r, maps)) => (r, Ok(maps)),
        Err(e) => (Report::default(), Err(e)),
    };
    let errors = match &res {
        Err(e) => vec![format!("check: {e:#}")],
        Ok(_) => Vec::new(),
    };
    let out = ProcessOut {
        pid: *pid,
        comm: comm.clone(),
        mm: *mm,
        maps: res.as_ref().map(String::clone).unwrap_or_default(),
        report,
        error: res.as_ref().err().map(|e| format!("{e:#}")),
    };
    let verdict = match (&out.error, out.report.ok()) {
        (Some(_), _) => Verdict::Error,
        (None, true) => Verdict::Ok,
        (None, false) => Verdict::Violations,
    };
    let mut s = html::Process {
        pid: *pid,
        comm: comm.clone(),
        mm: *mm,
        vmas: None,
        errors,
        strip: None,
        tree: None,
        summary: None,
        verdict,
        check: process_text(&out, true, Paint::PLAIN),
        costs: None,
        chart: None,
    };
    match super::tree::read_whole_or(k, *pid, retries, "no VMA tree") {
        Err(e) => s.errors.push(format!("tree: {e:#}")),
        Ok(Err(line)) => s.errors.push(format!("tree: {line}")),
        Ok(Ok((task, mm, c))) => {
            s.vmas = Some(c.vmas.len());
            let strip = picture::strip_rows(&c.vmas);
            s.strip = Some(svg::strip::picture(
                &strip,
                &picture::strip_title(&task, mm),
            ));
            let cache = k.vmacaches(mm).unwrap_or_else(|e| {
                s.errors.push(format!("vmacache: {e}"));
                Vec::new()
            });
            let draw = Draw {
                svg: true,
                dot: false,
                focus: None,
                full: false,
            };
            let title = picture::tree_title(&task, mm, &c.tree, c.map_count);
            s.tree = picture::draw(&draw, &c.tree, &c.vmas, &cache, &title).0;
            s.summary = Some(summary(&task.comm, *pid, mm, c.map_count, &c.tree, layout));
            // The whole `costs` table, seeded by the mm's address as `costs` is by default.
            let map_count = c.map_count.max(0) as u64;
            match k.cost_table(&c.tree, &c.vmas, map_count, mm, PROBES) {
                Err(e) => s.errors.push(format!("costs: {e}")),
                Ok(table) => {
                    let mut more = String::new();
                    crate::render::costs::sections(&table, &mut more);
                    match html::table(&table.rows, |_| None) {
                        Ok(t) => {
                            s.costs = Some(format!("{t}<pre>{}</pre>\n", html::esc_pre(&more)))
                        }
                        Err(e) => s.errors.push(format!("costs: {e}")),
                    }
                    let title = format!("pid {pid} ({comm}): {} VMAs, costs", c.vmas.len());
                    s.chart = Some(svg::bars::table_picture(&table, &title));
                }
            }
        }
    }
    s
}

/// `tree`'s header line and summary.
fn summary(
    comm: &str,
    pid: i32,
    mm: u64,
    map_count: i32,
    tree: &VmaTree,
    layout: &VmaLayout,
) -> String {
    let mut s = String::new();
    r::header(pid, comm, mm, map_count, &mut s);
    match tree {
        VmaTree::Maple(m) => r::maple_summary(m, &mut s),
        VmaTree::Rb { tree, list } => r::rb_summary(tree, list, layout.vma_size, &mut s),
    }
    s
}
