//! `vmscope ps [--json]`: every task, one row per thread (like `ps -eL`),
//! idle tasks (pid 0, one per online CPU) included and marked.

use super::target::TargetArgs;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Print a JSON array of tasks
    #[arg(long)]
    pub json: bool,
}

/// One row; these key names are a stable interface for scripts.
#[derive(Serialize, Debug)]
pub struct PsRow {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    /// The name /proc/PID/stat shows (workqueue workers carry their work's name).
    pub comm: String,
    /// `task->comm` itself.
    pub task_comm: String,
    pub state: String,
    pub task: String,
    pub mm: Option<String>,
    pub map_count: Option<i32>,
    pub kthread: bool,
    pub idle: bool,
    pub cpu: Option<u32>,
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
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&rows)?
        )?;
        return Ok(0);
    }
    writeln!(
        std::io::stdout().lock(),
        "{:>7} {:>7} {:>7} S {:>18} {:>18} {:>6} COMM",
        "PID",
        "TGID",
        "PPID",
        "TASK",
        "MM",
        "VMAS"
    )?;
    for r in &rows {
        let mut comm = r.comm.clone();
        if let Some(cpu) = r.cpu {
            comm.push_str(&format!(" [idle, cpu {cpu}]"));
        } else if r.kthread {
            comm = format!("[{comm}]");
        }
        writeln!(
            std::io::stdout().lock(),
            "{:>7} {:>7} {:>7} {} {:>18} {:>18} {:>6} {}",
            r.pid,
            r.tgid,
            r.ppid,
            r.state,
            r.task,
            r.mm.as_deref().unwrap_or("-"),
            r.map_count
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            comm
        )?;
    }
    Ok(0)
}
