//! `vmscope ps [--json]`: every task, one row per thread (like `ps -eL`),
//! idle tasks (pid 0, one per online CPU) included and marked.

use super::target::TargetArgs;
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
    let types = t.load_types()?;
    let k = t.open(Some(&types))?;
    let mut rows = Vec::new();
    for t in k.tasks()? {
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
        });
    }
    if a.json {
        crate::render::print_json(&rows)?;
        return Ok(0);
    }
    write!(std::io::stdout().lock(), "{}", render::ps::table(&rows))?;
    Ok(0)
}
