//! `vmscope ps [--json]`: every task, one row per thread (like `ps -eL`),
//! idle tasks (pid 0, one per online CPU) included and marked.

use super::target::TargetArgs;
use super::warn;
use crate::check::Report;
use crate::kernel::Kernel;
use crate::render::{self, ps::PsRow};
use anyhow::Result;
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Print a JSON array of tasks
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &PsArgs, t: &TargetArgs) -> Result<i32> {
    let (types, k) = t.open_typed()?;
    let (rows, bad) = rows(&k)?;
    warn::print("ps", &bad);
    if a.json {
        crate::render::print_json(&rows)?;
    } else {
        write!(std::io::stdout().lock(), "{}", render::ps::table(&rows))?;
    }
    // The process ends here: its tables (symbols, BTF, the dump's mapping) go with it
    // instead of being freed and unmapped piece by piece (a tenth of a dump-only run).
    std::mem::forget((types, k));
    Ok(warn::status(&bad))
}

/// One row per task, and what is impossible about the tasks (`report` lists them too).
pub(super) fn rows(k: &Kernel) -> Result<(Vec<PsRow>, Report)> {
    let mut rows = Vec::new();
    let mut bad = Report::default();
    let tasks = k.tasks()?;
    k.check_task_sources(&tasks, &mut bad)?;
    for t in tasks {
        k.check_task_record(&t, &mut bad);
        let map_count = match t.mm {
            Some(mm) => Some(k.read_mm(mm)?.map_count),
            None => None,
        };
        rows.push(PsRow {
            pid: t.pid,
            tgid: t.tgid,
            ppid: t.ppid,
            comm: t.proc_comm.clone(),
            task_comm: t.comm.clone(),
            state: t.state_char().to_string(),
            task: format!("{:#x}", t.addr),
            mm: t.mm.map(|m| format!("{m:#x}")),
            map_count,
            kthread: t.is_kthread(),
            idle: t.idle_cpu.is_some(),
            cpu: t.idle_cpu,
            warnings: warn::about(&bad, t.addr),
        });
    }
    Ok((rows, bad))
}
