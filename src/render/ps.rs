//! `vmscope ps`: one row per thread, as JSON objects or a table.

use super::table::{self, Align};
use serde::Serialize;

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

/// The text table: idle tasks marked with their CPU, kernel threads in brackets.
pub fn table(rows: &[PsRow]) -> String {
    use Align::{Left, Right};
    let mut t = table::new(&[
        ("PID", Right),
        ("TGID", Right),
        ("PPID", Right),
        ("S", Left),
        ("TASK", Right),
        ("MM", Right),
        ("VMAS", Right),
        ("COMM", Left),
    ]);
    for r in rows {
        let name = table::escape(&r.comm);
        let comm = match (r.cpu, r.kthread) {
            (Some(cpu), _) => format!("{name} [idle, cpu {cpu}]"),
            (None, true) => format!("[{name}]"),
            (None, false) => name.into_owned(),
        };
        t.add_row(vec![
            r.pid.to_string(),
            r.tgid.to_string(),
            r.ppid.to_string(),
            r.state.clone(),
            r.task.clone(),
            r.mm.clone().unwrap_or_else(|| "-".into()),
            r.map_count.map_or_else(|| "-".into(), |n| n.to_string()),
            comm,
        ]);
    }
    format!("{t}\n")
}
