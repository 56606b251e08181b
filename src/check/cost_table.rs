//! The whole `costs` table of one address space: lookups at every `vm_start` and full
//! iteration (`costs.rs`), lookups at seeded random addresses (`probes.rs`), insert,
//! erase and fork (`churn.rs`), row by row for the list, the rb-tree, both together
//! (before 6.1) and the maple tree.

use super::churn::{churn, fork_builds, ForkRow, STRUCTURES};
use super::costs::CostRow;
use super::maple::WalkedVma;
use super::probes::{self, ProbeRow};
use super::work::{Lines, OpRow};
use crate::trees::list::ListOffsets;
use crate::trees::maple::{MapleOffsets, MapleSnapshot};
use crate::trees::rbtree::{RbOffsets, RbSnapshot, RbVmaOffsets};
use serde::Serialize;

/// The structure this kernel keeps, as walked, with its layout.
pub enum KernelTree<'a> {
    Rb {
        snap: &'a RbSnapshot,
        rb: RbOffsets,
        vma: RbVmaOffsets,
        list: ListOffsets,
    },
    Maple {
        snap: &'a MapleSnapshot,
        offsets: MapleOffsets,
    },
}

/// What to measure besides the VMAs themselves.
pub struct TableInput<'a> {
    /// Address order, as a checked walk gives them.
    pub vmas: &'a [WalkedVma],
    pub tree: KernelTree<'a>,
    pub stack_guard_gap: u64,
    pub seed: u64,
    pub probes: usize,
}

/// Every section has one row per structure, in the order of `rows`, named by
/// [`STRUCTURES`] (the lookup rows keep `tree`'s names).
#[derive(Debug, Clone, Serialize)]
pub struct CostTable {
    /// Lookups at every `vm_start` and one full iteration (as `tree` prints them, plus
    /// the pairing).
    pub rows: Vec<CostRow>,
    /// Seed of the random addresses.
    pub seed: u64,
    pub probes: usize,
    pub random: Vec<ProbeRow>,
    pub insert: Vec<OpRow>,
    pub erase: Vec<OpRow>,
    pub fork: Vec<ForkRow>,
}

/// `rows`: the lookup rows list, rb-tree, pairing, maple tree.
pub fn cost_table(rows: Vec<CostRow>, t: &TableInput<'_>) -> CostTable {
    let vmas = t.vmas;
    let ends: Vec<u64> = vmas.iter().map(|v| v.end).collect();
    let addrs = probes::probe_addrs(t.seed, &ends, t.probes);
    let name = |i: usize| STRUCTURES[i];
    let guard = t.stack_guard_gap;
    let (lines, random) = match &t.tree {
        KernelTree::Rb {
            snap,
            rb,
            vma,
            list,
        } => {
            let rbp = probes::rb_probes(name(1), snap, vmas, rb, vma, &addrs);
            let lines = Lines {
                vmas: Some(vmas),
                rb: Some((rb.clone(), vma.clone())),
                list: Some(list.clone()),
                maple: None,
            };
            let random = vec![
                probes::list_probes(name(0), vmas, &addrs, "measured"),
                rbp.clone(),
                pairing(name(2), &rbp),
                probes::maple_model_probes(name(3), vmas, &addrs),
            ];
            (lines, random)
        }
        KernelTree::Maple { snap, offsets } => {
            let rbp = probes::rb_model_probes(name(1), vmas, guard, &addrs);
            let lines = Lines {
                maple: Some(offsets.clone()),
                ..Lines::default()
            };
            let random = vec![
                probes::list_probes(name(0), vmas, &addrs, "model"),
                rbp.clone(),
                pairing(name(2), &rbp),
                probes::maple_probes(name(3), snap, offsets, &addrs),
            ];
            (lines, random)
        }
    };
    let ch = churn(vmas, guard, &lines, STRUCTURES);
    let builds = fork_builds(vmas, guard, &lines);
    let fork = rows
        .iter()
        .zip(builds)
        .zip(STRUCTURES)
        .map(|((r, build), name)| ForkRow {
            structure: name.into(),
            basis: "model".into(),
            iterate_basis: r.basis.clone(),
            iterate_steps: r.iterate_steps,
            iterate_cache_lines: r.iterate_cache_lines,
            total_steps: r.iterate_steps + build.nodes,
            build,
        })
        .collect();
    CostTable {
        rows,
        seed: t.seed,
        probes: t.probes,
        random,
        insert: ch.insert,
        erase: ch.erase,
        fork,
    }
}

/// Before 6.1 `find_vma()` descends the rb-tree: the pairing's lookups are its.
fn pairing(name: &str, rb: &ProbeRow) -> ProbeRow {
    ProbeRow {
        structure: name.into(),
        ..rb.clone()
    }
}

/// The erase-and-insert replay alone, with its final structures (tests compare them
/// with the walk).
pub fn replay(vmas: &[WalkedVma], stack_guard_gap: u64) -> super::churn::Churned {
    churn(vmas, stack_guard_gap, &Lines::default(), STRUCTURES)
}
