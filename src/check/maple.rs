//! Maple tree invariants on a raw snapshot, mirroring what `mt_validate()` tests
//! in lib/maple_tree.c (mas_validate_parent_slot, mas_validate_child_slot,
//! mas_validate_limits, mas_validate_gaps, mt_validate_nulls) plus the VMA-level
//! checks of `validate_mm()` (6.1).

use std::collections::HashMap;

use super::{hex, MmFacts, Report, VmaSource};
use crate::trees::maple::{
    mte_to_node, xa_is_node, MapleNodeSnap, MapleParent, MapleSnapshot, MapleType, SlotKind,
    MAPLE_PARENT_RANGE64, MA_ROOT_PARENT, MT_FLAGS_ALLOC_RANGE,
};
use crate::trees::IssueKind;

/// A VMA as the tree holds it, in address order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkedVma {
    pub vma: u64,
    pub start: u64,
    /// Exclusive end.
    pub end: u64,
    pub flags: u64,
}

/// Index of the snapshot: node address -> position, and each node's children
/// as the walker reached them (`came_from` == (parent, slot)).
pub struct MapleIndex<'a> {
    pub snap: &'a MapleSnapshot,
    by_addr: HashMap<u64, usize>,
    /// Per node, per slot: the position of the child the walk reached from
    /// that slot (`NO_CHILD` otherwise), so descents do no hashing.
    kids: Vec<Vec<u32>>,
}

const NO_CHILD: u32 = u32::MAX;

impl<'a> MapleIndex<'a> {
    pub fn new(snap: &'a MapleSnapshot) -> Self {
        let mut by_addr = HashMap::with_capacity(snap.nodes.len());
        for (i, n) in snap.nodes.iter().enumerate() {
            by_addr.entry(n.addr).or_insert(i);
        }
        let kids = snap
            .nodes
            .iter()
            .map(|p| {
                if p.node_type.is_leaf() {
                    return Vec::new();
                }
                p.slots
                    .iter()
                    .map(|s| {
                        let c = (s.kind == SlotKind::Child)
                            .then(|| by_addr.get(&mte_to_node(s.raw)).copied())
                            .flatten()
                            .filter(|&c| {
                                snap.nodes.get(c).is_some_and(|c| {
                                    c.came_from == Some((p.addr, s.index)) && !c.dead
                                })
                            });
                        c.and_then(|c| u32::try_from(c).ok()).unwrap_or(NO_CHILD)
                    })
                    .collect()
            })
            .collect();
        MapleIndex {
            snap,
            by_addr,
            kids,
        }
    }

    pub fn node(&self, addr: u64) -> Option<&'a MapleNodeSnap> {
        self.by_addr
            .get(&addr)
            .and_then(|&i| self.snap.nodes.get(i))
    }

    /// Position of a node of this snapshot (from its address in the vector).
    fn index_of(&self, n: &MapleNodeSnap) -> Option<usize> {
        let base = self.snap.nodes.as_ptr() as usize;
        let off = (n as *const MapleNodeSnap as usize).checked_sub(base)?;
        let i = off / std::mem::size_of::<MapleNodeSnap>().max(1);
        self.snap
            .nodes
            .get(i)
            .filter(|m| std::ptr::eq(*m, n))
            .map(|_| i)
    }

    /// The child in `parent`'s slot `slot`, only if the walk reached it from there.
    pub fn child(&self, parent: &MapleNodeSnap, slot: u8) -> Option<&'a MapleNodeSnap> {
        let i = self.index_of(parent)?;
        let c = *self.kids.get(i)?.get(usize::from(slot))?;
        if c == NO_CHILD {
            return None;
        }
        self.snap.nodes.get(c as usize)
    }

    pub fn root(&self) -> Option<&'a MapleNodeSnap> {
        self.snap
            .nodes
            .first()
            .filter(|n| n.came_from.is_none() && !n.dead)
    }

    /// Largest run of NULL slots in every complete subtree, as
    /// `mas_validate_gaps()` counts it (consecutive NULL slots add up); `None`
    /// where part of the subtree could not be walked.
    pub fn true_gaps(&self) -> HashMap<u64, Option<u64>> {
        let mut out: HashMap<u64, Option<u64>> = HashMap::with_capacity(self.snap.nodes.len());
        // Pre-order reversed visits children before parents.
        for n in self.snap.nodes.iter().rev() {
            if n.dead {
                out.insert(n.addr, None);
                continue;
            }
            let g = if n.node_type.is_leaf() {
                let mut best = 0u64;
                let mut run = 0u64;
                for s in &n.slots {
                    if s.kind == SlotKind::Null {
                        run = run.saturating_add(s.max.wrapping_sub(s.min).saturating_add(1));
                        best = best.max(run);
                    } else {
                        run = 0;
                    }
                }
                Some(best)
            } else {
                let mut best = Some(0u64);
                for s in &n.slots {
                    let child = self
                        .child(n, s.index)
                        .and_then(|c| out.get(&c.addr).copied().flatten());
                    best = match (best, child) {
                        (Some(b), Some(c)) => Some(b.max(c)),
                        _ => None,
                    };
                }
                best
            };
            out.insert(n.addr, g);
        }
        out
    }
}

fn walk_issue_check(kind: &IssueKind) -> &'static str {
    match kind {
        IssueKind::Cycle => "maple.cycle",
        IssueKind::DeadNode => "maple.dead",
        _ => "maple.walk",
    }
}

/// Validate the whole snapshot; returns the VMAs in address order.
pub fn validate(
    snap: &MapleSnapshot,
    facts: &MmFacts,
    vmas: &dyn VmaSource,
    r: &mut Report,
) -> Vec<WalkedVma> {
    let idx = MapleIndex::new(snap);
    let alloc_range = snap.ma_flags & MT_FLAGS_ALLOC_RANGE != 0;
    expect!(
        r,
        "maple.flags",
        alloc_range,
        snap.tree,
        "ma_flags",
        || "MT_FLAGS_ALLOC_RANGE set".into(),
        || { format!("{:#x}", snap.ma_flags) }
    );

    // Root and height.
    if snap.ma_root == 0 {
        expect!(
            r,
            "maple.root",
            facts.map_count == 0,
            snap.tree,
            "ma_root",
            || { format!("a node (map_count {})", facts.map_count) },
            || "NULL".into()
        );
    } else {
        let is_node = xa_is_node(snap.ma_root);
        expect!(
            r,
            "maple.root",
            is_node,
            snap.tree,
            "ma_root",
            || "an encoded node pointer".into(),
            || { hex(snap.ma_root) }
        );
        expect!(
            r,
            "maple.flags",
            (1..=crate::trees::maple::MAPLE_HEIGHT_MAX).contains(&snap.height),
            snap.tree,
            "ma_flags height",
            || "1..=31".into(),
            || snap.height.to_string(),
        );
    }

    // Walk issues (dead nodes are reported from the node list below).
    for issue in &snap.issues {
        match issue.kind {
            IssueKind::DeadNode => {}
            IssueKind::Cycle => report_cycle(&idx, issue.addr, r),
            ref k => r.fail(
                walk_issue_check(k),
                issue.addr,
                "node",
                "a readable node",
                issue.to_string(),
            ),
        }
    }

    let gaps = idx.true_gaps();
    for n in &snap.nodes {
        validate_node(&idx, n, alloc_range, &gaps, r);
    }
    validate_nulls(snap, r);
    validate_entries(snap, facts, vmas, r)
}

/// A node reached twice: name the slot that points back at it.
fn report_cycle(idx: &MapleIndex<'_>, target: u64, r: &mut Report) {
    let first = idx.node(target).and_then(|n| n.came_from);
    let mut named = false;
    for n in &idx.snap.nodes {
        for s in &n.slots {
            if s.kind == SlotKind::Child
                && mte_to_node(s.raw) == target
                && first != Some((n.addr, s.index))
            {
                r.fail(
                    "maple.cycle",
                    n.addr,
                    format!("slot[{}]", s.index),
                    "a child not already in the tree",
                    format!("{} (node {} reached before)", hex(s.raw), hex(target)),
                );
                named = true;
            }
        }
    }
    if !named {
        r.fail(
            "maple.cycle",
            target,
            "node",
            "reached once",
            "reached twice",
        );
    }
}

fn validate_node(
    idx: &MapleIndex<'_>,
    n: &MapleNodeSnap,
    alloc_range: bool,
    gaps: &HashMap<u64, Option<u64>>,
    r: &mut Report,
) {
    let a = n.addr;
    // Dead nodes: the walker did not descend; say so and stop here.
    expect!(
        r,
        "maple.dead",
        !n.dead,
        a,
        "parent",
        || "a live node".into(),
        || { format!("{} (points to itself: dead node)", hex(n.parent_raw)) }
    );
    if n.dead {
        return;
    }
    validate_parent(idx.snap, n, r);
    validate_depth(idx.snap, n, alloc_range, r);
    if !validate_pivots(n, r) {
        return;
    }
    validate_tail_slots(n, r);
    if n.node_type.is_leaf() {
        return;
    }
    // Internal: every slot holds a child whose range is the slot range.
    for s in &n.slots {
        expect!(
            r,
            "maple.children",
            s.kind == SlotKind::Child,
            a,
            format!("slot[{}]", s.index),
            || { "an encoded child node".into() },
            || hex(s.raw)
        );
    }

    if n.node_type == MapleType::Arange64 {
        validate_gaps(idx, n, gaps, r);
    }
}

/// Parent pointer and parent slot (mas_validate_parent_slot).
fn validate_parent(snap: &MapleSnapshot, n: &MapleNodeSnap, r: &mut Report) {
    let a = n.addr;
    match n.came_from {
        None => {
            let want = snap.tree | MA_ROOT_PARENT;
            expect!(
                r,
                "maple.parent",
                n.parent_raw == want,
                a,
                "parent",
                || hex(want),
                || hex(n.parent_raw)
            );
        }
        Some((p, s)) => {
            let ok =
                matches!(n.parent, MapleParent::Node { node, slot, .. } if node == p && slot == s);
            expect!(
                r,
                "maple.parent",
                ok,
                a,
                "parent",
                || format!("node {} slot {s}", hex(p)),
                || {
                    match n.parent {
                        MapleParent::Node { node, slot, .. } => {
                            format!("node {} slot {slot} ({})", hex(node), hex(n.parent_raw))
                        }
                        MapleParent::Root { .. } => format!("root marker ({})", hex(n.parent_raw)),
                    }
                }
            );
            let type_ok = n.parent_raw & 0x7 == MAPLE_PARENT_RANGE64;
            expect!(
                r,
                "maple.parent",
                type_ok,
                a,
                "parent type bits",
                || "0x6 (range_64 parent)".into(),
                || { hex(n.parent_raw & 0x7) }
            );
        }
    }
}

/// Depth and node type: leaves exactly at the height in ma_flags.
fn validate_depth(snap: &MapleSnapshot, n: &MapleNodeSnap, alloc_range: bool, r: &mut Report) {
    let a = n.addr;
    let height = snap.height;
    let want_type = if n.depth == height {
        Some(MapleType::Leaf64)
    } else if n.depth < height {
        Some(if alloc_range {
            MapleType::Arange64
        } else {
            MapleType::Range64
        })
    } else {
        None
    };
    expect!(
        r,
        "maple.depth",
        want_type == Some(n.node_type),
        a,
        "type/depth",
        || match want_type {
            Some(t) => format!("{} at depth {} of height {height}", t.name(), n.depth),
            None => format!("no node below the height {height}"),
        },
        || format!("{} at depth {}", n.node_type.name(), n.depth)
    );
}

/// Data end, metadata and pivots; false when the data end is out of range and
/// nothing after it can be read.
fn validate_pivots(n: &MapleNodeSnap, r: &mut Report) -> bool {
    let a = n.addr;
    let nslots = n.raw_slots.len();
    let npiv = n.pivots.len();
    let end = usize::from(n.data_end);

    // Data end and metadata.
    expect!(
        r,
        "maple.data_end",
        end < nslots,
        a,
        "meta.end",
        || format!("< {nslots}"),
        || end.to_string()
    );
    if end >= nslots {
        return false;
    }
    if n.end_from_meta && n.node_type != MapleType::Arange64 {
        // Metadata overlays slot[15]; a node using it has at most 15 slots.
        expect!(
            r,
            "maple.data_end",
            end < npiv,
            a,
            "meta.end",
            || format!("< {npiv}"),
            || end.to_string()
        );
    }

    // Pivots (mas_validate_limits): strictly increasing inside [min, max].
    let mut prev: Option<u64> = None;
    for i in 0..end.min(npiv) {
        let p = n.pivots[i];
        let lo = prev.map_or(n.min, |q| q.wrapping_add(1));
        let ok = p >= lo && p < n.max && !(prev.is_some() && p == 0);
        expect!(
            r,
            "maple.pivots",
            ok,
            a,
            format!("pivot[{i}]"),
            || {
                let after = if i == 0 {
                    "the node min".to_string()
                } else {
                    format!("pivot[{}]", i - 1)
                };
                format!("in [{}, {}), above {after}", hex(lo), hex(n.max))
            },
            || hex(p)
        );
        prev = Some(p);
    }
    if end < npiv {
        let p = n.pivots[end];
        // 6.1 may leave the last pivot implied (0); later kernels store max.
        expect!(
            r,
            "maple.pivots",
            p == n.max || p == 0,
            a,
            format!("pivot[{end}]"),
            || { format!("{} (the node max) or 0", hex(n.max)) },
            || hex(p)
        );
    }
    for i in end + 1..npiv {
        let p = n.pivots[i];
        expect!(
            r,
            "maple.pivots",
            p == 0,
            a,
            format!("pivot[{i}]"),
            || "0 (after the data end)".into(),
            || hex(p)
        );
    }
    true
}

/// Slots after the data end are NULL (range_64's slot[15] holds metadata).
fn validate_tail_slots(n: &MapleNodeSnap, r: &mut Report) {
    let a = n.addr;
    let nslots = n.raw_slots.len();
    let end = usize::from(n.data_end);
    for i in end + 1..nslots {
        let raw = n.raw_slots.get(i).copied().unwrap_or(0);
        // range_64's last slot overlays `struct maple_metadata` (end, gap bytes).
        let meta_slot = n.node_type != MapleType::Arange64 && i == nslots - 1 && raw & !0xffff == 0;
        if !meta_slot {
            expect!(
                r,
                "maple.slots",
                raw == 0,
                a,
                format!("slot[{i}]"),
                || "NULL (after the data end)".into(),
                || hex(raw)
            );
        }
    }
}

/// Gaps (mas_validate_gaps) and meta.gap of an arange_64 node.
fn validate_gaps(
    idx: &MapleIndex<'_>,
    n: &MapleNodeSnap,
    gaps: &HashMap<u64, Option<u64>>,
    r: &mut Report,
) {
    let a = n.addr;
    let end = usize::from(n.data_end);
    let mut top = 0u64;
    for (i, &g) in n.gaps.iter().enumerate() {
        if i > end {
            expect!(
                r,
                "maple.gaps",
                g == 0,
                a,
                format!("gap[{i}]"),
                || "0 (after the data end)".into(),
                || hex(g)
            );
            continue;
        }
        top = top.max(g);
        let want = n
            .slots
            .get(i)
            .and_then(|s| idx.child(n, s.index))
            .and_then(|c| gaps.get(&c.addr).copied().flatten());
        if let Some(w) = want {
            expect!(
                r,
                "maple.gaps",
                g == w,
                a,
                format!("gap[{i}]"),
                || { format!("{} (largest empty span below)", hex(w)) },
                || hex(g)
            );
        }
    }
    let mg = usize::from(n.meta_gap);
    // With every gap 0 the index means nothing: 6.1's mab_mas_cp() leaves its
    // initial offset 15 there, and ma_max_gap() copes.
    let ok = top == 0 || (mg <= end && n.gaps.get(mg).copied() == Some(top));
    expect!(
        r,
        "maple.meta_gap",
        ok,
        a,
        "meta.gap",
        || format!("index of the largest gap {}", hex(top)),
        || {
            format!(
                "{mg} (gap {})",
                n.gaps.get(mg).map_or("none".into(), |g| hex(*g))
            )
        }
    );
}

/// `mt_validate_nulls()`: no two NULL slots in a row, across leaves too.
fn validate_nulls(snap: &MapleSnapshot, r: &mut Report) {
    let mut prev_null: Option<(u64, u8)> = None;
    let mut next_min: Option<u64> = None;
    for n in snap
        .nodes
        .iter()
        .filter(|n| n.node_type.is_leaf() && !n.dead)
    {
        for s in &n.slots {
            if s.kind == SlotKind::Null {
                expect!(
                    r,
                    "maple.nulls",
                    prev_null.is_none(),
                    n.addr,
                    format!("slot[{}]", s.index),
                    || { "a non-NULL entry after a NULL range".into() },
                    || {
                        let (pn, ps) = prev_null.unwrap_or((0, 0));
                        format!("NULL after NULL at node {} slot[{ps}]", hex(pn))
                    }
                );
                prev_null = Some((n.addr, s.index));
            } else {
                prev_null = None;
            }
            // Leaf ranges continue where the previous one ended.
            if let Some(m) = next_min {
                expect!(
                    r,
                    "maple.ranges",
                    s.min == m,
                    n.addr,
                    format!("slot[{}]", s.index),
                    || { format!("range starting at {}", hex(m)) },
                    || format!("range starting at {}", hex(s.min))
                );
            }
            next_min = Some(s.max.wrapping_add(1));
        }
    }
}

/// Each entry is a VMA of this mm whose range is its slot range; the count is map_count.
fn validate_entries(
    snap: &MapleSnapshot,
    facts: &MmFacts,
    vmas: &dyn VmaSource,
    r: &mut Report,
) -> Vec<WalkedVma> {
    let mut out = Vec::with_capacity(snap.entries.len());
    for e in snap.user_entries() {
        let field = || format!("slot[{}]", e.slot);
        if e.entry & 7 != 0 {
            r.fail(
                "maple.entries",
                e.node,
                field(),
                "an 8-aligned vm_area_struct pointer",
                hex(e.entry),
            );
            continue;
        }
        let v = match vmas.vma(e.entry) {
            Ok(v) => v,
            Err(err) => {
                r.fail(
                    "maple.entries",
                    e.node,
                    field(),
                    "a readable vm_area_struct",
                    format!("{}: {err}", hex(e.entry)),
                );
                continue;
            }
        };
        let range_ok = v.vm_start == e.first && v.vm_end == e.last.wrapping_add(1);
        expect!(
            r,
            "maple.entries",
            range_ok,
            e.node,
            field(),
            || {
                format!(
                    "vma {} covering [{}, {}]",
                    hex(e.entry),
                    hex(e.first),
                    hex(e.last)
                )
            },
            || format!("vm_start {} vm_end {}", hex(v.vm_start), hex(v.vm_end))
        );
        let shape_ok = v.vm_start < v.vm_end
            && v.vm_start.is_multiple_of(4096)
            && v.vm_end.is_multiple_of(4096)
            && v.vm_end <= facts.task_size;
        expect!(
            r,
            "maple.entries",
            shape_ok,
            e.entry,
            "vm_start/vm_end",
            || { format!("page-aligned, non-empty, below {}", hex(facts.task_size)) },
            || format!("[{}, {})", hex(v.vm_start), hex(v.vm_end))
        );
        expect!(
            r,
            "maple.vm_mm",
            v.vm_mm == facts.mm,
            e.entry,
            "vm_mm",
            || hex(facts.mm),
            || hex(v.vm_mm)
        );
        out.push(WalkedVma {
            vma: e.entry,
            start: v.vm_start,
            end: v.vm_end,
            flags: v.vm_flags,
        });
    }
    let count = snap.user_entries().count() as u64;
    expect!(
        r,
        "maple.map_count",
        count == facts.map_count,
        facts.mm,
        "map_count",
        || { format!("{count} (entries in the tree)") },
        || facts.map_count.to_string()
    );
    r.vmas += count;
    out
}

/// `find_vma()` over the snapshot, descending like `mas_walk()`: the nodes were
/// read once from memory, the descent uses their raw pivots and slots.
pub fn snapshot_find_vma(idx: &MapleIndex<'_>, addr: u64) -> Option<(u64, u64, u64)> {
    let mut index = addr;
    for _ in 0..=idx.snap.entries.len() {
        let (lo, hi, raw) = snapshot_walk(idx, index)?;
        if raw != 0 && !crate::trees::maple::mt_is_reserved(raw) {
            return Some((lo, hi.wrapping_add(1), raw));
        }
        if hi == u64::MAX {
            return None;
        }
        index = hi + 1;
        let _ = lo;
    }
    None
}

/// `mas_walk()` on the snapshot: the leaf slot range holding `index` and its raw value.
pub fn snapshot_walk(idx: &MapleIndex<'_>, index: u64) -> Option<(u64, u64, u64)> {
    let mut n = idx.root()?;
    for _ in 0..=crate::trees::maple::MAPLE_HEIGHT_MAX {
        let end = n.slots.len().checked_sub(1)?;
        let mut i = 0;
        while i < end && n.pivots.get(i).copied().unwrap_or(u64::MAX) < index {
            i += 1;
        }
        let s = n.slots.get(i)?;
        if n.node_type.is_leaf() {
            return Some((s.min, s.max, s.raw));
        }
        n = idx.child(n, s.index)?;
    }
    None
}

/// `mas_empty_area()` guided by the gaps stored in the arange nodes: the lowest
/// `index >= min` with `[index, index + size - 1]` empty and `<= max`.
pub fn stored_empty_area(idx: &MapleIndex<'_>, min: u64, max: u64, size: u64) -> Option<u64> {
    if size == 0 || min > max || max - min < size - 1 {
        return None;
    }
    match idx.root() {
        None => (idx.snap.ma_root == 0).then_some(min),
        Some(root) => empty_low(idx, root, min, max, size, 0),
    }
}

fn empty_low(
    idx: &MapleIndex<'_>,
    n: &MapleNodeSnap,
    min: u64,
    max: u64,
    size: u64,
    depth: u32,
) -> Option<u64> {
    if depth > crate::trees::maple::MAPLE_HEIGHT_MAX {
        return None;
    }
    for s in &n.slots {
        if s.max < min {
            continue;
        }
        if s.min > max {
            break;
        }
        if n.node_type.is_leaf() {
            if s.kind == SlotKind::Null {
                let start = s.min.max(min);
                if start
                    .checked_add(size - 1)
                    .is_some_and(|e| e <= s.max.min(max))
                {
                    return Some(start);
                }
            }
        } else if n.gaps.get(usize::from(s.index)).is_none_or(|&g| g >= size) {
            if let Some(c) = idx.child(n, s.index) {
                if let Some(a) = empty_low(idx, c, min, max, size, depth + 1) {
                    return Some(a);
                }
            }
        }
    }
    None
}

/// `mas_empty_area_rev()` guided by the stored gaps: the highest such range; returns its start.
pub fn stored_empty_area_rev(idx: &MapleIndex<'_>, min: u64, max: u64, size: u64) -> Option<u64> {
    if size == 0 || min > max || max - min < size - 1 {
        return None;
    }
    match idx.root() {
        None => (idx.snap.ma_root == 0).then_some(max - (size - 1)),
        Some(root) => empty_high(idx, root, min, max, size, 0),
    }
}

fn empty_high(
    idx: &MapleIndex<'_>,
    n: &MapleNodeSnap,
    min: u64,
    max: u64,
    size: u64,
    depth: u32,
) -> Option<u64> {
    if depth > crate::trees::maple::MAPLE_HEIGHT_MAX {
        return None;
    }
    for s in n.slots.iter().rev() {
        if s.min > max {
            continue;
        }
        if s.max < min {
            break;
        }
        if n.node_type.is_leaf() {
            if s.kind == SlotKind::Null {
                let lo = s.min.max(min);
                let hi = s.max.min(max);
                if hi >= lo {
                    if let Some(d) = (hi - lo).checked_sub(size - 1) {
                        return Some(lo + d);
                    }
                }
            }
        } else if n.gaps.get(usize::from(s.index)).is_none_or(|&g| g >= size) {
            if let Some(c) = idx.child(n, s.index) {
                if let Some(a) = empty_high(idx, c, min, max, size, depth + 1) {
                    return Some(a);
                }
            }
        }
    }
    None
}
