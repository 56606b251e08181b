//! Text rendering of VMA tree snapshots for `vmscope tree`: node-by-node dumps,
//! a summary, an ASCII diagram and a lookup cost table.

use crate::trees::list::ListSnapshot;
use crate::trees::maple::{MapleNodeSnap, MapleSnapshot, MapleType, SlotKind};
use crate::trees::rbtree::{color_name, RbSnapshot};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;

const CACHE_LINE: u64 = 64;

fn flags_text(f: u32) -> String {
    let mut parts = Vec::new();
    if f & 0x01 != 0 {
        parts.push("ALLOC_RANGE");
    }
    if f & 0x02 != 0 {
        parts.push("USE_RCU");
    }
    match f & 0x300 {
        0x100 => parts.push("LOCK_IRQ"),
        0x200 => parts.push("LOCK_BH"),
        0x300 => parts.push("LOCK_EXTERN"),
        _ => {}
    }
    parts.join("|")
}

fn short_type(t: MapleType) -> &'static str {
    match t {
        MapleType::Dense => "dense",
        MapleType::Leaf64 => "leaf_64",
        MapleType::Range64 => "range_64",
        MapleType::Arange64 => "arange_64",
    }
}

/// Node-by-node dump of a maple tree.
pub fn maple_dump(s: &MapleSnapshot, out: &mut String) {
    let _ = writeln!(
        out,
        "maple tree at {:#x}: ma_root {:#x}, ma_flags {:#x} ({}), height {}",
        s.tree,
        s.ma_root,
        s.ma_flags,
        flags_text(s.ma_flags),
        s.height
    );
    for n in &s.nodes {
        maple_node(n, out);
    }
    for i in &s.issues {
        let _ = writeln!(out, "ISSUE: {i}");
    }
}

fn maple_node(n: &MapleNodeSnap, out: &mut String) {
    let parent = match n.parent {
        crate::trees::maple::MapleParent::Root { tree } => format!("root of tree {tree:#x}"),
        crate::trees::maple::MapleParent::Node { node, slot, .. } => {
            format!("{node:#x} slot {slot}")
        }
    };
    let _ = writeln!(
        out,
        "\nnode {:#x} {} depth {} [{:#x}, {:#x}] parent {} (raw {:#x}){}",
        n.addr,
        short_type(n.node_type),
        n.depth,
        n.min,
        n.max,
        parent,
        n.parent_raw,
        if n.dead { " DEAD" } else { "" }
    );
    let end_src = if n.end_from_meta {
        "metadata"
    } else {
        "pivots"
    };
    let _ = write!(out, "  data end {} (from {end_src})", n.data_end);
    if n.node_type == MapleType::Arange64 {
        let _ = write!(out, ", meta.gap {}", n.meta_gap);
    }
    let _ = writeln!(out);
    for sl in &n.slots {
        let what = match sl.kind {
            SlotKind::Child => format!("child {:#x}", sl.raw),
            SlotKind::Entry => format!("vma {:#x}", sl.raw),
            SlotKind::Reserved => format!("reserved {:#x}", sl.raw),
            SlotKind::Null => "NULL".to_string(),
        };
        let gap = n
            .gaps
            .get(sl.index as usize)
            .map(|g| format!("  gap {g:#x}"))
            .unwrap_or_default();
        let piv = n
            .pivots
            .get(sl.index as usize)
            .map(|p| format!("pivot {p:#x}"))
            .unwrap_or_else(|| "pivot -".to_string());
        let _ = writeln!(
            out,
            "  slot {:2} [{:#x}, {:#x}] {piv}  {what}{gap}",
            sl.index, sl.min, sl.max
        );
    }
}

/// The summary block for a maple tree.
pub fn maple_summary(s: &MapleSnapshot, out: &mut String) {
    let sum = s.summary();
    let _ = writeln!(out, "\nsummary");
    let _ = writeln!(out, "  height (ma_flags)   {}", sum.height_in_flags);
    let _ = writeln!(out, "  levels walked       {}", sum.levels_walked);
    let _ = writeln!(out, "  nodes               {}", sum.nodes);
    let _ = writeln!(out, "  entries             {}", sum.entries);
    if sum.reserved_entries > 0 {
        let _ = writeln!(out, "  reserved entries    {}", sum.reserved_entries);
    }
    for t in &sum.per_type {
        let fill = if t.capacity > 0 {
            100.0 * t.used_slots as f64 / t.capacity as f64
        } else {
            0.0
        };
        let per = if t.nodes > 0 {
            t.used_slots as f64 / t.nodes as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {:<10} nodes {:>6}  slots used {:>7}/{:<7} ({fill:.1}% fill, {per:.2} per node, {} NULL)",
            short_type(t.node_type),
            t.nodes,
            t.used_slots,
            t.capacity,
            t.null_slots
        );
    }
    let _ = writeln!(
        out,
        "  node memory         {} bytes ({} x 256)",
        sum.node_bytes, sum.nodes
    );
}

/// ASCII diagram: the internal levels node by node, leaves collapsed when many.
pub fn maple_diagram(s: &MapleSnapshot, max_lines: usize, out: &mut String) {
    let _ = writeln!(out, "\ndiagram");
    let by_addr: HashMap<u64, &MapleNodeSnap> = s.nodes.iter().map(|n| (n.addr, n)).collect();
    let Some(root) = s.nodes.first() else {
        let _ = writeln!(out, "  (empty tree)");
        return;
    };
    let mut lines = 0usize;
    diagram_node(root, &by_addr, "", true, true, max_lines, &mut lines, out);
    if lines >= max_lines {
        let _ = writeln!(out, "  ... (diagram cut at {max_lines} lines)");
    }
}

#[allow(clippy::too_many_arguments)]
fn diagram_node(
    n: &MapleNodeSnap,
    by_addr: &HashMap<u64, &MapleNodeSnap>,
    prefix: &str,
    last: bool,
    is_root: bool,
    max_lines: usize,
    lines: &mut usize,
    out: &mut String,
) {
    if *lines >= max_lines {
        return;
    }
    let branch = if is_root {
        ""
    } else if last {
        "└─ "
    } else {
        "├─ "
    };
    let entries = n.slots.iter().filter(|s| s.kind == SlotKind::Entry).count();
    let nulls = n.slots.iter().filter(|s| s.kind == SlotKind::Null).count();
    let body = if n.node_type.is_leaf() {
        format!("{entries} vma, {nulls} gap")
    } else {
        format!(
            "{} children",
            n.slots.iter().filter(|s| s.kind == SlotKind::Child).count()
        )
    };
    let _ = writeln!(
        out,
        "  {prefix}{branch}{} {:#x} [{:#x}-{:#x}] {}/{} slots: {body}",
        short_type(n.node_type),
        n.addr,
        n.min,
        n.max,
        n.used(),
        n.raw_slots.len()
    );
    *lines += 1;
    let kids: Vec<&MapleNodeSnap> = n
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Child)
        .filter_map(|s| by_addr.get(&(s.raw & !0xff)).copied())
        .collect();
    let child_prefix = if is_root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "   " } else { "│  " })
    };
    // Leaves under one parent are summarised on one line when they are many.
    if kids.len() > 4 && kids.iter().all(|k| k.node_type.is_leaf()) {
        let used: usize = kids.iter().map(|k| k.used()).sum();
        let vmas: usize = kids
            .iter()
            .map(|k| k.slots.iter().filter(|s| s.kind == SlotKind::Entry).count())
            .sum();
        let _ = writeln!(
            out,
            "  {child_prefix}└─ {} leaves, {used} slots used ({:.1} per leaf), {vmas} vma",
            kids.len(),
            used as f64 / kids.len() as f64
        );
        *lines += 1;
        return;
    }
    for (i, k) in kids.iter().enumerate() {
        diagram_node(
            k,
            by_addr,
            &child_prefix,
            i + 1 == kids.len(),
            false,
            max_lines,
            lines,
            out,
        );
    }
}

/// Node-by-node dump of an rb-tree with the vm_next list order beside it.
pub fn rb_dump(t: &RbSnapshot, l: &ListSnapshot, out: &mut String) {
    let _ = writeln!(
        out,
        "rb-tree at {:#x}: root {:#x}; list from {:#x}",
        t.root_addr, t.root, l.first
    );
    let _ = writeln!(
        out,
        "{:<5} {:<18} {:<5} {:>5} {:<18} {:<18} {:<18} {:<33} {:<14} | {:<18} {:<18} {:<18}",
        "#",
        "node",
        "color",
        "depth",
        "parent",
        "left",
        "right",
        "range",
        "subtree_gap",
        "list vma",
        "prev",
        "next"
    );
    let n = t.nodes.len().max(l.entries.len());
    for i in 0..n {
        let left = match t.nodes.get(i) {
            Some(x) => {
                let (range, gap) = match x.vma {
                    Some(v) => (
                        format!("{:#x}-{:#x}", v.vm_start, v.vm_end),
                        v.rb_subtree_gap
                            .map(|g| format!("{g:#x}"))
                            .unwrap_or_default(),
                    ),
                    None => (String::new(), String::new()),
                };
                format!(
                    "{:<5} {:<#18x} {:<5} {:>5} {:<#18x} {:<#18x} {:<#18x} {:<33} {:<14}",
                    i,
                    x.node,
                    color_name(x.color),
                    x.depth,
                    x.parent,
                    x.left,
                    x.right,
                    range,
                    gap
                )
            }
            None => format!("{:<5} {:<150}", i, "(tree ended)"),
        };
        let right = match l.entries.get(i) {
            Some(e) => format!("{:<#18x} {:<#18x} {:<#18x}", e.addr, e.prev, e.next),
            None => "(list ended)".to_string(),
        };
        let _ = writeln!(out, "{left} | {right}");
    }
    for i in t.issues.iter().chain(l.issues.iter()) {
        let _ = writeln!(out, "ISSUE: {i}");
    }
}

/// Summary for an rb-tree.
pub fn rb_summary(t: &RbSnapshot, l: &ListSnapshot, vma_size: u64, out: &mut String) {
    let reds = t.nodes.iter().filter(|n| n.color == 0).count();
    let _ = writeln!(out, "\nsummary");
    let _ = writeln!(out, "  height              {}", t.height());
    let _ = writeln!(
        out,
        "  nodes               {} ({} red, {} black)",
        t.nodes.len(),
        reds,
        t.nodes.len() - reds
    );
    let _ = writeln!(out, "  list entries        {}", l.entries.len());
    let _ = writeln!(
        out,
        "  entries per node    1 (rb_node embedded in vm_area_struct)"
    );
    let _ = writeln!(
        out,
        "  node memory         {} bytes of rb_node inside {} bytes of vm_area_struct",
        t.nodes.len() * 24,
        t.nodes.len() as u64 * vma_size
    );
}

/// `vmscope tree --json`: the walked structure, its summary, the vmacache `C`
/// (kernels before 6.1) and the lookup costs.
#[derive(Serialize)]
pub struct TreeJson<'a, C: Serialize> {
    pub pid: i32,
    #[serde(serialize_with = "crate::trees::ser_hex")]
    pub mm: u64,
    pub map_count: i32,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maple: Option<&'a MapleSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maple_summary: Option<crate::trees::maple::MapleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rb: Option<&'a RbSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<&'a ListSnapshot>,
    pub vmacache: C,
    pub cost: Vec<CostRow>,
    /// Live only: walks the stable read took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<u32>,
}

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

fn lines_of(addrs: impl IntoIterator<Item = u64>) -> u64 {
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
    let by_node: HashMap<u64, &crate::trees::rbtree::RbNodeSnap> =
        t.nodes.iter().map(|n| (n.node, n)).collect();
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
pub fn maple_measured_cost(s: &MapleSnapshot, o: &crate::trees::maple::MapleOffsets) -> CostRow {
    let by_addr: HashMap<u64, &MapleNodeSnap> = s.nodes.iter().map(|n| (n.addr, n)).collect();
    let (mut steps, mut lines, mut max) = (0u64, 0u64, 0u64);
    let mut count = 0u64;
    for e in s.user_entries() {
        let Some(mut n) = s.nodes.first() else { break };
        let mut path = 0u64;
        for _ in 0..64 {
            path += 1;
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
                if n.pivots.get(i).copied().unwrap_or(u64::MAX) >= e.first {
                    break;
                }
                i += 1;
            }
            touched.push(n.addr + slot_off + 8 * i as u64);
            lines += lines_of(touched);
            let Some(sl) = n.slots.get(i) else { break };
            if n.node_type.is_leaf() {
                break;
            }
            match by_addr.get(&(sl.raw & !0xff)) {
                Some(k) => n = k,
                None => break,
            }
        }
        steps += path;
        max = max.max(path);
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

pub fn cost_table(rows: &[CostRow], out: &mut String) {
    let _ = writeln!(
        out,
        "\ncost per lookup (find_vma at every vm_start) and per full iteration"
    );
    let _ = writeln!(
        out,
        "  {:<26} {:<9} {:>10} {:>9} {:>12} {:>12} {:>14}",
        "structure", "basis", "avg steps", "max", "avg lines", "iter steps", "iter lines"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<26} {:<9} {:>10.2} {:>9} {:>12.2} {:>12} {:>14}",
            r.structure,
            r.basis,
            r.avg_steps,
            r.max_steps,
            r.avg_cache_lines,
            r.iterate_steps,
            r.iterate_cache_lines
        );
    }
}
