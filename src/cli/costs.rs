//! `vmscope costs PID [--json] [--svg FILE]`: the lookup and iteration cost table of
//! `tree` with the pre-6.1 pairing (rb-tree for lookups, list for fork and exit) as a
//! row, then lookups at seeded random addresses, insert, erase and fork, and a bar
//! chart of the same numbers.

use super::target::TargetArgs;
use crate::check::cost_table::CostTable;
use crate::render::tree as r;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;

/// Random lookup addresses measured when `--probes` is not given.
pub const DEFAULT_PROBES: usize = 10_000;

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
    /// Seed of the random lookup addresses (default: the mm's address)
    #[arg(long, value_name = "N", value_parser = super::target::parse_u64)]
    pub seed: Option<u64>,
    /// Number of random lookup addresses
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PROBES)]
    pub probes: usize,
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
    #[serde(flatten)]
    table: &'a CostTable,
}

pub fn run(a: &CostsArgs, t: &TargetArgs) -> Result<i32> {
    let (_types, k) = t.open_typed()?;
    k.vma_layout().context("probing VMA structures")?;
    let Some((task, mm, c)) = super::tree::read_whole(&k, a.pid, a.retries, "no VMAs to measure")?
    else {
        return Ok(2);
    };
    let seed = a.seed.unwrap_or(mm);
    let table = k
        .cost_table(&c.tree, &c.vmas, c.map_count.max(0) as u64, seed, a.probes)
        .context("measuring costs")?;
    let title = format!(
        "pid {} ({}): {} VMAs, cost per find_vma, per full iteration, per insert, erase and fork",
        task.pid,
        task.comm,
        c.vmas.len()
    );
    let mut out = std::io::stdout().lock();
    if let Some(path) = &a.svg {
        std::fs::write(
            path,
            crate::render::svg::bars::table_picture(&table, &title),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    } else if a.json {
        let j = CostsJson {
            pid: a.pid,
            mm,
            map_count: c.map_count,
            vmas: c.vmas.len(),
            table: &table,
        };
        serde_json::to_writer(&mut out, &j)?;
        writeln!(out)?;
    } else {
        let mut s = format!("{title}\n");
        r::cost_table(&table.rows, &mut s);
        crate::render::costs::sections(&table, &mut s);
        out.write_all(s.as_bytes())?;
    }
    Ok(0)
}
