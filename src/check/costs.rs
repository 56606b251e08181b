//! Lookup costs of the VMA structures: for every VMA, the nodes `find_vma()` visits
//! and the cache lines it touches, measured on a walked snapshot or modelled for
//! the same VMA count when the kernel has another structure. Analysis only;
//! render/tree.rs formats the rows.

use crate::trees::maple::{MapleNodeSnap, MapleOffsets, MapleSlot, MapleSnapshot, MapleType};
use crate::trees::rbtree::{RbNodeSnap, RbSnapshot};
use serde::Serialize;
use std::collections::HashMap;

const CACHE_LINE: u64 = 64;

/// One row of the cost table.
#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    pub structure: String,
    /// "measured" (walked in this dump) or "model" (computed for the same VMA count).
    pub basis: String,
    pub avg_steps: f64,
    pub max_steps: u64,
    pub avg_cache_lines: f64,
    pub iterate_steps: u64,
    pub iterate_cache_lines: u64,
}

pub fn lines_of(addrs: impl IntoIterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = addrs.into_iter().map(|a| a / CACHE_LINE).collect();
    v.sort_unstable();
    v.dedup();
    v.len() as u64
}

/// Linked list model: finding VMA i walks i+1 entries, one cache line each
/// (vm_start, vm_end and vm_next sit in the first 64 bytes of the VMA).
pub fn list_cost(n: u64, basis: &str) -> CostRow {
    CostRow {
        structure: "linked list (vm_next)".into(),
        basis: basis.into(),
        avg_steps: (n as f64 + 1.0) / 2.0,
        max_steps: n,
        avg_cache_lines: (n as f64 + 1.0) / 2.0,
        iterate_steps: n,
        iterate_cache_lines: n,
    }
}

/// Balanced binary tree model: the depth of each node of a complete tree.
pub fn rb_model_cost(n: u64) -> CostRow {
    let mut total = 0u64;
    let mut max = 0u64;
    let mut level = 1u64;
    let mut left = n;
    let mut width = 1u64;
    while left > 0 {
        let k = width.min(left);
        total += k * level;
        max = level;
        left -= k;
        width = width.saturating_mul(2);
        level += 1;
    }
    let avg = if n > 0 { total as f64 / n as f64 } else { 0.0 };
    CostRow {
        structure: "rb-tree (balanced model)".into(),
        basis: "model".into(),
        avg_steps: avg,
        max_steps: max,
        avg_cache_lines: avg,
        iterate_steps: 2 * n,
        iterate_cache_lines: n,
    }
}

/// Measured rb-tree: steps = node depth (find_vma(vm_start) stops at the VMA's
/// node); lines = distinct cache lines of vm_start/vm_end and rb_left/rb_right
/// read at each node of the path.
pub fn rb_measured_cost(
    t: &RbSnapshot,
    vm_rb: u64,
    rb_left: u64,
    rb_right: u64,
    vm_start: u64,
    vm_end: u64,
) -> CostRow {
    let by_node: HashMap<u64, &RbNodeSnap> = t.nodes.iter().map(|n| (n.node, n)).collect();
    let node_lines = |node: u64| {
        let vma = node.wrapping_sub(vm_rb);
        lines_of([
            vma.wrapping_add(vm_start),
            vma.wrapping_add(vm_end),
            node.wrapping_add(rb_left),
            node.wrapping_add(rb_right),
        ])
    };
    let (mut steps, mut lines, mut max) = (0u64, 0u64, 0u64);
    for n in &t.nodes {
        steps += u64::from(n.depth);
        max = max.max(u64::from(n.depth));
        // Path: follow parents up to the root.
        let mut cur = n.node;
        let mut guard = 0;
        while cur != 0 && guard < 256 {
            lines += node_lines(cur);
            cur = by_node.get(&cur).map(|x| x.parent).unwrap_or(0);
            guard += 1;
        }
    }
    let cnt = t.nodes.len().max(1) as f64;
    let iter_lines: u64 = t.nodes.iter().map(|n| node_lines(n.node)).sum();
    CostRow {
        structure: "rb-tree (mm_rb)".into(),
        basis: "measured".into(),
        avg_steps: steps as f64 / cnt,
        max_steps: max,
        avg_cache_lines: lines as f64 / cnt,
        iterate_steps: 2 * t.nodes.len() as u64,
        iterate_cache_lines: iter_lines,
    }
}

/// Measured maple tree: replay `mas_walk(vm_start)` for every entry on the
/// snapshot (no memory reads) and count nodes and the cache lines the kernel's
/// `mtree_range_walk()` touches: parent word (dead check), the last pivot or the
/// metadata (data end), the pivots compared, and the slot taken.
pub fn maple_measured_cost(s: &MapleSnapshot, o: &MapleOffsets) -> CostRow {
    let by_addr = maple_by_addr(s);
    let (mut steps, mut lines, mut max) = (0u64, 0u64, 0u64);
    let mut count = 0u64;
    for e in s.user_entries() {
        let Some(w) = maple_walk(s, &by_addr, o, e.first) else {
            break;
        };
        steps += w.steps;
        lines += w.lines;
        max = max.max(w.steps);
        count += 1;
    }
    let cnt = count.max(1) as f64;
    CostRow {
        structure: "maple tree (mm_mt)".into(),
        basis: "measured".into(),
        avg_steps: steps as f64 / cnt,
        max_steps: max,
        avg_cache_lines: lines as f64 / cnt,
        iterate_steps: s.nodes.len() as u64,
        iterate_cache_lines: s.nodes.len() as u64 * 4,
    }
}

/// The snapshot's nodes by address.
pub fn maple_by_addr(s: &MapleSnapshot) -> HashMap<u64, &MapleNodeSnap> {
    s.nodes.iter().map(|n| (n.addr, n)).collect()
}

/// One `mas_walk()` replayed on a snapshot: nodes, cache lines, and the slot reached.
pub struct MapleWalk<'a> {
    pub steps: u64,
    pub lines: u64,
    pub slot: Option<&'a MapleSlot>,
    /// Whether the slot is the leaf's last.
    pub last_in_leaf: bool,
}

/// `mas_walk(index)` on the snapshot (no memory reads), counting the nodes and the
/// cache lines the kernel's `mtree_range_walk()` touches: parent word (dead check),
/// the last pivot or the metadata (data end), the pivots compared, and the slot taken.
/// `None` for an empty tree.
pub fn maple_walk<'a>(
    s: &'a MapleSnapshot,
    by_addr: &HashMap<u64, &'a MapleNodeSnap>,
    o: &MapleOffsets,
    index: u64,
) -> Option<MapleWalk<'a>> {
    let mut n = s.nodes.first()?;
    let mut w = MapleWalk {
        steps: 0,
        lines: 0,
        slot: None,
        last_in_leaf: false,
    };
    for _ in 0..64 {
        w.steps += 1;
        let (piv_off, slot_off, meta_off) = match n.node_type {
            MapleType::Arange64 => (o.arange64_pivot, o.arange64_slot, o.arange64_meta),
            _ => (o.range64_pivot, o.range64_slot, o.range64_meta),
        };
        let end = n.slots.len().saturating_sub(1);
        let mut i = 0;
        let mut touched = vec![n.addr];
        if n.node_type == MapleType::Arange64 || n.end_from_meta {
            touched.push(n.addr + meta_off);
        }
        if n.node_type != MapleType::Arange64 {
            touched.push(n.addr + piv_off + 8 * (n.pivots.len() as u64).saturating_sub(1));
        }
        while i < end {
            touched.push(n.addr + piv_off + 8 * i as u64);
            if n.pivots.get(i).copied().unwrap_or(u64::MAX) >= index {
                break;
            }
            i += 1;
        }
        touched.push(n.addr + slot_off + 8 * i as u64);
        w.lines += lines_of(touched);
        let Some(sl) = n.slots.get(i) else { break };
        if n.node_type.is_leaf() {
            w.slot = Some(sl);
            w.last_in_leaf = i == end;
            break;
        }
        match by_addr.get(&(sl.raw & !0xff)) {
            Some(k) => n = k,
            None => break,
        }
    }
    Some(w)
}

/// Maple model for `n` VMAs when the kernel has no maple tree: leaves hold about
/// 10 of 16 slots (VMAs plus gaps), internal arange nodes about 7 of 10.
pub fn maple_model_cost(n: u64) -> CostRow {
    let leaves = (n * 2).div_ceil(10).max(1);
    let mut height = 1u64;
    let mut level = leaves;
    let mut nodes = leaves;
    while level > 1 {
        level = level.div_ceil(7);
        nodes += level;
        height += 1;
    }
    CostRow {
        structure: "maple tree (model)".into(),
        basis: "model".into(),
        avg_steps: height as f64,
        max_steps: height,
        avg_cache_lines: height as f64 * 2.5,
        iterate_steps: nodes,
        iterate_cache_lines: nodes * 4,
    }
}

/// The pre-6.1 design, both structures together: `find_vma()` descends the rb-tree,
/// while fork (`dup_mmap`) and exit (`exit_mmap`) follow the `vm_next` list.
pub fn rb_with_list(rb: &CostRow, list: &CostRow) -> CostRow {
    let basis = if rb.basis == list.basis {
        rb.basis.clone()
    } else {
        format!("lookup {}, iteration {}", rb.basis, list.basis)
    };
    CostRow {
        structure: "rb-tree + list (before 6.1)".into(),
        basis,
        avg_steps: rb.avg_steps,
        max_steps: rb.max_steps,
        avg_cache_lines: rb.avg_cache_lines,
        iterate_steps: list.iterate_steps,
        iterate_cache_lines: list.iterate_cache_lines,
    }
}
