//! `vmscope costs`: the sections of the cost table beyond `tree`'s lookup rows
//! (random lookups, insert, erase, fork) as text tables. The numbers come from
//! check/cost_table.rs.

use super::table::{self, Align};
use crate::check::churn::ForkRow;
use crate::check::cost_table::CostTable;
use crate::check::probes::ProbeRow;
use crate::check::work::OpRow;
use std::fmt::Write as _;

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), f2)
}

fn random_table(rows: &[ProbeRow], out: &mut String) {
    use Align::{Left, Right};
    let mut t = table::new(&[
        ("structure", Left),
        ("basis", Left),
        ("avg steps", Right),
        ("max", Right),
        ("avg lines", Right),
    ]);
    for r in rows {
        t.add_row(vec![
            r.structure.clone(),
            r.basis.clone(),
            f2(r.avg_steps),
            r.max_steps.to_string(),
            opt(r.avg_cache_lines),
        ]);
    }
    let _ = writeln!(out, "{t}");
}

fn op_table(rows: &[OpRow], out: &mut String) {
    use Align::{Left, Right};
    let mut t = table::new(&[
        ("structure", Left),
        ("basis", Left),
        ("ops", Right),
        ("avg steps", Right),
        ("max", Right),
        ("avg nodes", Right),
        ("max", Right),
        ("avg lines", Right),
        ("avg rebal", Right),
        ("max", Right),
    ]);
    for r in rows {
        t.add_row(vec![
            r.structure.clone(),
            r.basis.clone(),
            r.ops.to_string(),
            f2(r.avg_steps),
            r.max_steps.to_string(),
            f2(r.avg_nodes),
            r.max_nodes.to_string(),
            opt(r.avg_cache_lines),
            f2(r.avg_rebalance),
            r.max_rebalance.to_string(),
        ]);
    }
    let _ = writeln!(out, "{t}");
}

fn fork_table(rows: &[ForkRow], out: &mut String) {
    use Align::{Left, Right};
    let mut t = table::new(&[
        ("structure", Left),
        ("iterate", Left),
        ("copy", Left),
        ("iter steps", Right),
        ("copy steps", Right),
        ("copy nodes", Right),
        ("copy lines", Right),
        ("copy rebal", Right),
        ("total", Right),
    ]);
    for r in rows {
        t.add_row(vec![
            r.structure.clone(),
            r.iterate_basis.clone(),
            r.basis.clone(),
            r.iterate_steps.to_string(),
            r.build.search_steps.to_string(),
            r.build.nodes.to_string(),
            r.build
                .cache_lines
                .map_or_else(|| "-".into(), |l| l.to_string()),
            r.build.rebalance().to_string(),
            r.total_steps.to_string(),
        ]);
    }
    let _ = writeln!(out, "{t}");
}

/// The sections after the lookup rows.
pub fn sections(c: &CostTable, out: &mut String) {
    let _ = writeln!(
        out,
        "\ncost per lookup at {} random addresses (seed {:#x}; each in a random VMA or the hole below it)",
        c.probes, c.seed
    );
    random_table(&c.random, out);
    let _ = writeln!(
        out,
        "\ninsert: each VMA put back into the structure without it (search, nodes touched, rebalancing)"
    );
    op_table(&c.insert, out);
    let _ = writeln!(out, "\nerase: each VMA taken out of the full structure");
    op_table(&c.erase, out);
    let _ = writeln!(
        out,
        "\nfork (dup_mmap): iterate the structure, build the copy VMA by VMA"
    );
    fork_table(&c.fork, out);
}
