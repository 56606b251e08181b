//! Tables for `vmscope check`: one per process (each check, pass/fail, counts),
//! the findings below it.

use crate::check::Report;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Table};

/// The per-process table: check, result, items checked, failures.
pub fn check_table(r: &Report) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["check", "result", "checked", "failed"]);
    for (name, tally) in r.checks.iter() {
        let result = if tally.failed == 0 { "pass" } else { "FAIL" };
        t.add_row(vec![
            Cell::new(name),
            Cell::new(result),
            Cell::new(tally.checked),
            Cell::new(tally.failed),
        ]);
    }
    t
}

/// Findings, one per line, each naming the node and field.
pub fn findings_text(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.findings {
        s.push_str(&format!(
            "  {} at {:#x} {}: expected {}, found {}\n",
            f.check, f.node, f.field, f.expected, f.actual
        ));
    }
    s
}
