//! `vmscope costs PID [--json] [--svg FILE]`: the lookup and iteration cost table of
//! `tree` on its own, with the pre-6.1 pairing (rb-tree for lookups, list for fork
//! and exit) as a row, and a bar chart of the same numbers.

use super::target::TargetArgs;
use crate::check::costs::{rb_with_list, CostRow};
use crate::kernel::vma_check::lookup_costs;
use crate::render::tree as r;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CostsArgs {
    /// Process (or thread) ID
    pub pid: i32,
    /// Print the table as JSON
    #[arg(long)]
    pub json: bool,
    /// Write the table as an SVG bar chart to FILE (no text on stdout)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Live: walks a stable read may take before giving up (exit 2)
    #[arg(long, value_name = "N", default_value_t = crate::kernel::snapshot::DEFAULT_READS)]
    pub retries: u32,
}

#[derive(Serialize)]
struct CostsJson<'a> {
    pid: i32,
    #[serde(serialize_with = "crate::render::ser_hex")]
    mm: u64,
    map_count: i32,
    vmas: usize,
    rows: &'a [CostRow],
}

pub fn run(a: &CostsArgs, t: &TargetArgs) -> Result<i32> {
    let (_types, k) = t.open_typed()?;
    let layout = k.vma_layout().context("probing VMA structures")?;
    let Some((task, mm, c)) = super::tree::read_whole(&k, a.pid, a.retries, "no VMAs to measure")?
    else {
        return Ok(2);
    };
    let mut rows = lookup_costs(&c.tree, layout, c.map_count.max(0) as u64);
    // Rows: list, rb-tree, maple tree; the pairing goes after the rb-tree.
    if let [list, rb, ..] = rows.as_slice() {
        let both = rb_with_list(rb, list);
        rows.insert(2, both);
    }
    let title = format!(
        "pid {} ({}): {} VMAs, cost per find_vma and per full iteration",
        task.pid,
        task.comm,
        c.vmas.len()
    );
    let mut out = std::io::stdout().lock();
    if let Some(path) = &a.svg {
        std::fs::write(path, crate::render::svg::bars::picture(&rows, &title))
            .with_context(|| format!("writing {}", path.display()))?;
    } else if a.json {
        let j = CostsJson {
            pid: a.pid,
            mm,
            map_count: c.map_count,
            vmas: c.vmas.len(),
            rows: &rows,
        };
        serde_json::to_writer(&mut out, &j)?;
        writeln!(out)?;
    } else {
        let mut s = format!("{title}\n");
        r::cost_table(&rows, &mut s);
        out.write_all(s.as_bytes())?;
    }
    Ok(0)
}
