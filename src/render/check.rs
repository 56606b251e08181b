//! `vmscope check` output: per process one line (verdict and counts) and the
//! findings, the per-check table with `--verbose`; the JSON document.

use super::style::{Paint, Role};
use super::table::{self, escape, Align};
use crate::check::Report;
use serde::Serialize;
use std::fmt::Write as _;

/// One checked process; these key names are a stable interface for scripts.
#[derive(Serialize)]
pub struct ProcessOut {
    pub pid: i32,
    pub comm: String,
    #[serde(serialize_with = "crate::trees::ser_hex")]
    pub mm: u64,
    /// Where /proc/PID/maps came from, or why it was not compared.
    pub maps: String,
    #[serde(flatten)]
    pub report: Report,
    pub error: Option<String>,
}

/// Sums over every process checked.
#[derive(Serialize, Default)]
pub struct Totals {
    pub processes: u64,
    pub vmas: u64,
    pub lookups: u64,
    pub findings: u64,
    pub errors: u64,
}

/// The JSON document `check --json` prints.
/// `warnings`: tasks the task list and the pid IDR disagree about (absent when none).
pub fn json(
    processes: &[ProcessOut],
    totals: &Totals,
    warnings: &[crate::check::Finding],
) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Doc<'a> {
        processes: &'a [ProcessOut],
        totals: &'a Totals,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        warnings: &'a [crate::check::Finding],
    }
    serde_json::to_string_pretty(&Doc {
        processes,
        totals,
        warnings,
    })
}

/// The per-process table: check, result, items checked, failures.
fn check_table(r: &Report, paint: Paint) -> String {
    let mut t = table::new(&[
        ("check", Align::Left),
        ("result", Align::Left),
        ("checked", Align::Right),
        ("failed", Align::Right),
    ]);
    table::styled(&mut t, paint);
    for (name, tally) in r.checks.iter() {
        let result = match tally.failed {
            0 => table::cell(paint, Role::Good, "pass".into()),
            _ => table::cell(paint, Role::Bad, "FAIL".into()),
        };
        t.add_row(vec![
            name.into(),
            result,
            tally.checked.to_string().into(),
            tally.failed.to_string().into(),
        ]);
    }
    t.to_string()
}

/// One process: a line with its verdict and counts, then its findings and
/// error; `verbose` adds the per-check table and where its maps came from.
pub fn process_text(p: &ProcessOut, verbose: bool, paint: Paint) -> String {
    let verdict = match (&p.error, p.report.ok()) {
        (Some(_), _) => paint.paint(Role::Error, "ERROR"),
        (None, true) => paint.paint(Role::Good, "ok"),
        (None, false) => paint.paint(Role::Bad, "VIOLATIONS"),
    };
    let r = &p.report;
    let mut s = String::new();
    let _ = write!(
        s,
        "pid {} ({}) mm {:#x}: {verdict}",
        p.pid,
        escape(&p.comm),
        p.mm
    );
    if verbose {
        s.push('\n');
        if !r.checks.is_empty() {
            let _ = writeln!(s, "{}", check_table(r, paint));
        }
        let maps = if p.maps.is_empty() { "-" } else { &p.maps };
        let _ = writeln!(s, "maps: {}", escape(maps));
    } else {
        let failed = r.checks.iter().filter(|(_, t)| t.failed > 0).count();
        let _ = writeln!(
            s,
            ", {} checks ({failed} failed), {} VMAs, {} lookups, {} findings",
            r.checks.iter().count(),
            r.vmas,
            r.lookups,
            r.findings.len()
        );
    }
    for f in &r.findings {
        let _ = writeln!(
            s,
            "  {} at {:#x} {}: expected {}, found {}",
            paint.paint(Role::Bad, f.check),
            f.node,
            escape(&f.field),
            escape(&f.expected),
            escape(&f.actual)
        );
    }
    if let Some(e) = &p.error {
        let _ = writeln!(s, "  {} {}", paint.paint(Role::Error, "error:"), escape(e));
    }
    if verbose {
        s.push('\n');
    }
    s
}

/// The last line: totals over every process.
pub fn totals_line(t: &Totals) -> String {
    format!(
        "checked {} processes, {} VMAs, {} lookups: {} findings, {} errors\n",
        t.processes, t.vmas, t.lookups, t.findings, t.errors
    )
}
