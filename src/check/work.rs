//! The work of modifying operations (insert, erase, fork's copy) as `costs` reports it:
//! counters from the reimplementations (`crate::reimpl`) and the list model, the
//! distinct nodes they touched, and the cache lines those are, where this kernel's
//! layout of that structure is known.

use super::maple::WalkedVma;
use crate::reimpl::maple::{MapleWork, NodeTouch, Touch};
use crate::reimpl::rbtree::RbWork;
use crate::trees::list::ListOffsets;
use crate::trees::maple::{MapleOffsets, MAPLE_NODE_SIZE};
use crate::trees::rbtree::{RbOffsets, RbVmaOffsets};
use serde::Serialize;

const CACHE_LINE: u64 = 64;

/// The counters of one operation (or, summed or maxed, of many).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Work {
    /// Nodes compared while searching the position or the entry.
    pub search_steps: u64,
    /// Distinct nodes read or written.
    pub nodes: u64,
    pub rotations: u64,
    pub recolours: u64,
    /// Augmented gaps recomputed (rb: `rb_subtree_gap` and own gaps; maple: parent gap slots).
    pub gap_updates: u64,
    pub splits: u64,
    pub merges: u64,
    pub redistributions: u64,
    pub new_nodes: u64,
    pub freed_nodes: u64,
    /// Maple: distinct nodes rewritten (a new copy of each, in the kernel).
    pub rewrites: u64,
    /// List: `vm_next` / `vm_prev` pointers written.
    pub links: u64,
    /// Distinct cache lines touched; `None` without this kernel's layout of the structure.
    pub cache_lines: Option<u64>,
}

impl Work {
    /// Rebalancing: rotations and recolours (rb-tree), splits, merges and
    /// redistributions (maple tree); none for the list.
    pub fn rebalance(&self) -> u64 {
        self.rotations + self.recolours + self.splits + self.merges + self.redistributions
    }

    fn fields(&self) -> [u64; 12] {
        [
            self.search_steps,
            self.nodes,
            self.rotations,
            self.recolours,
            self.gap_updates,
            self.splits,
            self.merges,
            self.redistributions,
            self.new_nodes,
            self.freed_nodes,
            self.rewrites,
            self.links,
        ]
    }

    fn from_fields(f: [u64; 12], cache_lines: Option<u64>) -> Work {
        let [search_steps, nodes, rotations, recolours, gap_updates, splits, merges, redistributions, new_nodes, freed_nodes, rewrites, links] =
            f;
        Work {
            search_steps,
            nodes,
            rotations,
            recolours,
            gap_updates,
            splits,
            merges,
            redistributions,
            new_nodes,
            freed_nodes,
            rewrites,
            links,
            cache_lines,
        }
    }

    /// Field by field: the sum (`max == false`) or the maximum over `ops`.
    fn fold(ops: &[Work], max: bool) -> Work {
        let mut f = [0u64; 12];
        let mut lines: Option<u64> = None;
        for w in ops {
            for (a, b) in f.iter_mut().zip(w.fields()) {
                *a = if max { (*a).max(b) } else { *a + b };
            }
            if let Some(l) = w.cache_lines {
                let acc = lines.unwrap_or(0);
                lines = Some(if max { acc.max(l) } else { acc + l });
            }
        }
        Work::from_fields(f, lines)
    }
}

/// One structure's insert or erase over every VMA: means and worst cases per operation.
#[derive(Debug, Clone, Serialize)]
pub struct OpRow {
    pub structure: String,
    /// Always "model": counted in the reimplementation or the list model, not in memory.
    pub basis: String,
    pub ops: u64,
    pub avg_steps: f64,
    pub max_steps: u64,
    pub avg_nodes: f64,
    pub max_nodes: u64,
    pub avg_cache_lines: Option<f64>,
    /// Per operation: [`Work::rebalance`].
    pub avg_rebalance: f64,
    pub max_rebalance: u64,
    /// Every counter summed over the operations.
    pub total: Work,
    /// Every counter's worst operation.
    pub max: Work,
}

impl OpRow {
    pub fn new(structure: &str, ops: &[Work]) -> OpRow {
        let total = Work::fold(ops, false);
        let max = Work::fold(ops, true);
        let n = ops.len().max(1) as f64;
        OpRow {
            structure: structure.into(),
            basis: "model".into(),
            ops: ops.len() as u64,
            avg_steps: total.search_steps as f64 / n,
            max_steps: max.search_steps,
            avg_nodes: total.nodes as f64 / n,
            max_nodes: max.nodes,
            avg_cache_lines: total.cache_lines.map(|l| l as f64 / n),
            avg_rebalance: total.rebalance() as f64 / n,
            max_rebalance: ops.iter().map(Work::rebalance).max().unwrap_or(0),
            total,
            max,
        }
    }
}

/// Where the kernel keeps what the operations touch, when it has that structure.
#[derive(Default)]
pub struct Lines<'a> {
    /// Before 6.1: the VMAs (ascending `vm_start`), and the rb-tree and list members.
    pub vmas: Option<&'a [WalkedVma]>,
    pub rb: Option<(RbOffsets, RbVmaOffsets)>,
    pub list: Option<ListOffsets>,
    /// 6.1 and later: the node layout (reimplementation nodes laid out 256-aligned).
    pub maple: Option<MapleOffsets>,
}

fn distinct_lines(addrs: impl IntoIterator<Item = u64>) -> u64 {
    distinct(addrs.into_iter().map(|a| a / CACHE_LINE))
}

impl Lines<'_> {
    /// The members of the VMAs (by `vm_start`) the rb-tree and the list touch.
    fn vma_lines(&self, rb_starts: &[u64], list_starts: &[u64]) -> Option<u64> {
        let vmas = self.vmas?;
        let (rb, v) = self.rb.as_ref()?;
        let list = self.list.as_ref()?;
        let mut addrs = Vec::new();
        for (starts, is_rb) in [(rb_starts, true), (list_starts, false)] {
            let mut starts = starts.to_vec();
            starts.sort_unstable();
            starts.dedup();
            for s in starts {
                let i = vmas.binary_search_by_key(&s, |w| w.start).ok()?;
                let vma = vmas[i].vma;
                addrs.extend([vma + v.vm_start, vma + v.vm_end]);
                if is_rb {
                    let node = vma + v.vm_rb;
                    addrs.extend([node + rb.rb_parent_color, node + rb.rb_left]);
                    addrs.push(node + rb.rb_right);
                    addrs.extend(v.rb_subtree_gap.map(|g| vma + g));
                } else {
                    addrs.extend([vma + list.next, vma + list.prev]);
                }
            }
        }
        Some(distinct_lines(addrs))
    }

    fn maple_lines(&self, touched: &[NodeTouch]) -> Option<u64> {
        let o = self.maple.as_ref()?;
        let size = MAPLE_NODE_SIZE as u64;
        let mut addrs = Vec::new();
        for t in touched {
            let base = t.node as u64 * size;
            let (piv, slot, npiv) = if t.leaf {
                (o.range64_pivot, o.range64_slot, o.range64_pivots)
            } else {
                (o.arange64_pivot, o.arange64_slot, o.arange64_pivots)
            };
            match t.how {
                Touch::Read { slot: i } => {
                    addrs.push(base);
                    let last = i.min(npiv.saturating_sub(1));
                    addrs.extend((0..=last).map(|k| base + piv + 8 * k as u64));
                    addrs.push(base + slot + 8 * i as u64);
                    if !t.leaf {
                        addrs.push(base + o.arange64_meta);
                    }
                }
                Touch::Gap { slot: i } => {
                    addrs.extend([base + o.arange64_gap + 8 * i as u64, base + o.arange64_meta]);
                }
                Touch::Parent => addrs.push(base),
                Touch::Write => {
                    addrs.extend((0..size).step_by(CACHE_LINE as usize).map(|k| base + k))
                }
            }
        }
        Some(distinct_lines(addrs))
    }
}

/// Sorting beats hashing for the few dozen values of one operation.
fn distinct<T: Ord>(v: impl IntoIterator<Item = T>) -> u64 {
    let mut v: Vec<T> = v.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v.len() as u64
}

/// An rb-tree operation's work, with the list's share (before 6.1 both are updated:
/// `list` holds the VMAs whose `vm_next`/`vm_prev` the link wrote, `links` how many).
pub fn rb_work(w: &RbWork, list: &[u64], links: u64, lines: &Lines<'_>) -> Work {
    Work {
        search_steps: w.search_steps,
        nodes: distinct(w.touched.iter().chain(list).copied()),
        rotations: w.rotations,
        recolours: w.recolours,
        gap_updates: w.gap_updates,
        links,
        cache_lines: lines.vma_lines(&w.touched, list),
        ..Work::default()
    }
}

pub fn maple_work(w: &MapleWork, lines: &Lines<'_>) -> Work {
    let written = w
        .touched
        .iter()
        .filter(|t| t.how == Touch::Write)
        .map(|t| t.node);
    Work {
        search_steps: w.search_steps,
        nodes: distinct(w.touched.iter().map(|t| t.node)),
        gap_updates: w.gap_updates,
        splits: w.splits,
        merges: w.merges,
        redistributions: w.redistributions,
        new_nodes: w.new_nodes,
        freed_nodes: w.freed_nodes,
        rewrites: distinct(written),
        cache_lines: lines.maple_lines(&w.touched),
        ..Work::default()
    }
}
