//! `find_vma()` at seeded random addresses: measured on the kernel's own structure
//! (replayed on the walked snapshot, no memory reads) or counted in a model (the list
//! by position, the reimplemented trees by their own descent).

use super::costs::{lines_of, maple_by_addr, maple_walk};
use super::maple::WalkedVma;
use super::VM_GROWSDOWN;
use crate::reimpl::rbtree::Interval;
use crate::reimpl::{MapleTree, RbTree};
use crate::rng::XorShift;
use crate::trees::maple::{MapleOffsets, MapleSnapshot, SlotKind};
use crate::trees::rbtree::{RbOffsets, RbSnapshot, RbVmaOffsets};
use serde::Serialize;
use std::collections::HashMap;

/// One structure's lookups at the random addresses.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRow {
    pub structure: String,
    /// "measured" on the kernel's structure, or "model".
    pub basis: String,
    pub avg_steps: f64,
    pub max_steps: u64,
    /// `None` where this kernel has no layout for the structure.
    pub avg_cache_lines: Option<f64>,
}

impl ProbeRow {
    fn new(structure: &str, basis: &str, per: &[(u64, Option<u64>)]) -> ProbeRow {
        let n = per.len().max(1) as f64;
        let lines: Option<u64> = per.iter().map(|p| p.1).sum();
        ProbeRow {
            structure: structure.into(),
            basis: basis.into(),
            avg_steps: per.iter().map(|p| p.0).sum::<u64>() as f64 / n,
            max_steps: per.iter().map(|p| p.0).max().unwrap_or(0),
            avg_cache_lines: lines.map(|l| l as f64 / n),
        }
    }
}

/// `count` addresses from xorshift64* seeded with `seed` (the same seed gives the
/// same addresses): each picks one of the `ends` (the VMAs' `vm_end`, ascending)
/// uniformly, then an address uniformly in `[previous vm_end, vm_end)`, the hole below
/// the VMA and the VMA itself; so every VMA is the answer equally often, and the
/// holes are probed as well as the mappings.
pub fn probe_addrs(seed: u64, ends: &[u64], count: usize) -> Vec<u64> {
    let mut rng = XorShift::new(seed);
    if ends.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            let i = rng.below(ends.len() as u64) as usize;
            let lo = if i == 0 { 0 } else { ends[i - 1] };
            lo + rng.below(ends[i] - lo)
        })
        .collect()
}

/// The list: `find_vma()` walks from the first VMA to the first one ending above the
/// address (all of them when none does); one line per VMA, as the lookup model.
pub fn list_probes(name: &str, vmas: &[WalkedVma], addrs: &[u64], basis: &str) -> ProbeRow {
    let n = vmas.len() as u64;
    let per: Vec<(u64, Option<u64>)> = addrs
        .iter()
        .map(|&a| {
            let pos = vmas.partition_point(|v| v.end <= a) as u64;
            let steps = (pos + 1).min(n);
            (steps, Some(steps))
        })
        .collect();
    ProbeRow::new(name, basis, &per)
}

/// The kernel's rb-tree: its descent replayed on the snapshot; lines as the lookup
/// row counts them (vm_start, vm_end, rb_left, rb_right of each node visited).
pub fn rb_probes(
    name: &str,
    t: &RbSnapshot,
    vmas: &[WalkedVma],
    rb: &RbOffsets,
    v: &RbVmaOffsets,
    addrs: &[u64],
) -> ProbeRow {
    let range: HashMap<u64, (u64, u64)> = vmas
        .iter()
        .map(|w| (w.vma.wrapping_add(v.vm_rb), (w.start, w.end)))
        .collect();
    let kids: HashMap<u64, (u64, u64)> = t
        .nodes
        .iter()
        .map(|n| (n.node, (n.left, n.right)))
        .collect();
    let per: Vec<(u64, Option<u64>)> = addrs
        .iter()
        .map(|&a| {
            let (mut steps, mut lines, mut cur) = (0u64, 0u64, t.root);
            while let (Some(&(s, e)), Some(&(l, r))) = (range.get(&cur), kids.get(&cur)) {
                steps += 1;
                let vma = cur.wrapping_sub(v.vm_rb);
                lines += lines_of([
                    vma.wrapping_add(v.vm_start),
                    vma.wrapping_add(v.vm_end),
                    cur.wrapping_add(rb.rb_left),
                    cur.wrapping_add(rb.rb_right),
                ]);
                if steps > 256 || (e > a && s <= a) {
                    break;
                }
                cur = if e > a { l } else { r };
            }
            (steps, Some(lines))
        })
        .collect();
    ProbeRow::new(name, "measured", &per)
}

/// The kernel's maple tree: `mas_walk()` replayed on the snapshot; a hole that ends
/// its leaf sends `find_vma()` on to the next leaf, walked again.
pub fn maple_probes(name: &str, s: &MapleSnapshot, o: &MapleOffsets, addrs: &[u64]) -> ProbeRow {
    let by_addr = maple_by_addr(s);
    let per: Vec<(u64, Option<u64>)> = addrs
        .iter()
        .map(|&a| {
            let Some(w) = maple_walk(s, &by_addr, o, a) else {
                return (0, Some(0));
            };
            let (mut steps, mut lines) = (w.steps, w.lines);
            if let Some(sl) = w.slot.filter(|sl| sl.kind != SlotKind::Entry) {
                if w.last_in_leaf && sl.max < u64::MAX {
                    if let Some(x) = maple_walk(s, &by_addr, o, sl.max + 1) {
                        steps += x.steps;
                        lines += x.lines;
                    }
                }
            }
            (steps, Some(lines))
        })
        .collect();
    ProbeRow::new(name, "measured", &per)
}

/// The reimplemented rb-tree, built from the VMAs, counting its own descent.
pub fn rb_model_probes(name: &str, vmas: &[WalkedVma], guard: u64, addrs: &[u64]) -> ProbeRow {
    let mut t = RbTree::new(guard);
    for w in vmas {
        let _ = t.append(Interval {
            start: w.start,
            end: w.end,
            grows_down: w.flags & VM_GROWSDOWN != 0,
        });
    }
    t.count_work(true);
    model_row(name, addrs, |a| {
        t.find_vma(a);
        t.take_work().search_steps
    })
}

/// The reimplemented maple tree, built from the VMAs, counting its own descents.
pub fn maple_model_probes(name: &str, vmas: &[WalkedVma], addrs: &[u64]) -> ProbeRow {
    let mut t: MapleTree<u64> = MapleTree::new();
    for w in vmas {
        let _ = t.insert(w.start, w.end.wrapping_sub(1), w.vma);
    }
    t.count_work(true);
    model_row(name, addrs, |a| {
        t.find_vma(a);
        t.take_work().search_steps
    })
}

/// A model's row: the search steps its own descent counted for each address (no cache
/// lines: the model has no addresses of the kernel's).
fn model_row(name: &str, addrs: &[u64], mut steps: impl FnMut(u64) -> u64) -> ProbeRow {
    let per: Vec<(u64, Option<u64>)> = addrs.iter().map(|&a| (steps(a), None)).collect();
    ProbeRow::new(name, "model", &per)
}
