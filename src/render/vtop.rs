//! `vmscope vtop` output: the page walk level by level (table, index, entry, flags),
//! then the physical address and page size or where and why the walk stopped.

use crate::kernel::vtop::Vtop;
use crate::memory::x86_64::{entry_flags, WalkStop};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;

fn size_name(size: u64) -> String {
    match size {
        s if s >= 1 << 30 => format!("{} GiB", s >> 30),
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s => format!("{} KiB", s >> 10),
    }
}

/// Why the walk stopped, in words.
pub fn stop_text(stop: &WalkStop) -> String {
    match stop {
        WalkStop::NotCanonical => "not a canonical address: no page table maps it".into(),
        WalkStop::NotPresent { level } => format!("not present at the {} level", level.name()),
        WalkStop::Swapped { swap_type, offset } => {
            format!("not present: swapped out (swap type {swap_type}, offset {offset:#x})")
        }
        WalkStop::Unreadable { level, error } => {
            format!("the {} table could not be read: {error}", level.name())
        }
    }
}

pub fn text(v: &Vtop) -> String {
    let w = &v.walk;
    let mut out = format!(
        "virtual {:#018x}  tables: {}, top at physical {:#x}\n",
        w.va, v.tables, v.pgd
    );
    let _ = writeln!(
        out,
        "{:<5} {:>18} {:>5} {:>18}  FLAGS",
        "LEVEL", "TABLE", "INDEX", "ENTRY"
    );
    for s in &w.steps {
        let _ = writeln!(
            out,
            "{:<5} {:>#18x} {:>5} {:>#18x}  {}",
            s.level.name(),
            s.table,
            s.index,
            s.entry,
            entry_flags(s.entry, s.level).join(" ")
        );
    }
    match &w.result {
        Ok(t) => {
            let _ = writeln!(
                out,
                "physical {:#x}  ({} page)",
                t.paddr,
                size_name(t.page_size)
            );
        }
        Err(stop) => {
            let _ = writeln!(out, "{}", stop_text(stop));
        }
    }
    out
}

pub fn json(v: &Vtop) -> Json {
    let w = &v.walk;
    let steps: Vec<Json> = w
        .steps
        .iter()
        .map(|s| {
            json!({
                "level": s.level.name(),
                "table": format!("{:#x}", s.table),
                "index": s.index,
                "entry": format!("{:#x}", s.entry),
                "flags": entry_flags(s.entry, s.level),
            })
        })
        .collect();
    let (physical, page_size, stop) = match &w.result {
        Ok(t) => (Some(format!("{:#x}", t.paddr)), Some(t.page_size), None),
        Err(s) => (None, None, Some(stop_text(s))),
    };
    let mut j = json!({
        "virtual": format!("{:#x}", w.va),
        "tables": v.tables,
        "pgd": format!("{:#x}", v.pgd),
        "steps": steps,
        "physical": physical,
        "page_size": page_size,
        "stop": stop,
    });
    if let Err(WalkStop::Swapped { swap_type, offset }) = &w.result {
        j["swap"] = json!({ "type": swap_type, "offset": format!("{offset:#x}") });
    }
    j
}
