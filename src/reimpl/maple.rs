//! A maple tree model for an allocation-range tree (`MT_FLAGS_ALLOC_RANGE`),
//! as `mm->mm_mt` is from 6.1: leaves shaped like `maple_range_64` (16 slots,
//! 15 pivots) and internal nodes like `maple_arange_64` (10 slots, 9 pivots,
//! one gap per slot). Ranges cover `[0, u64::MAX]`; a NULL slot is a hole.
//!
//! It answers the queries the kernel's tree answers (`mas_walk`, `find_vma`,
//! `mas_empty_area`, `mas_empty_area_rev`) with its own splitting and merging,
//! not the kernel's exact node shapes. Like the kernel it never leaves two
//! adjacent NULL ranges, not even across leaves (`mt_validate_nulls`).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Debug};

type NodeId = usize;

/// `mt_slots[maple_range_64]` / `mt_slots[maple_leaf_64]`.
pub const MAPLE_RANGE64_SLOTS: usize = 16;
/// `mt_slots[maple_arange_64]`.
pub const MAPLE_ARANGE64_SLOTS: usize = 10;
/// `mt_min_slots[]` for leaf_64 / range_64.
pub const MAPLE_RANGE64_MIN_SLOTS: usize = 6;
/// `mt_min_slots[]` for arange_64.
pub const MAPLE_ARANGE64_MIN_SLOTS: usize = 4;

#[derive(Clone, Debug)]
enum Kind<E> {
    Leaf {
        slots: Vec<Option<E>>,
    },
    Internal {
        children: Vec<NodeId>,
        gaps: Vec<u64>,
        meta_gap: usize,
    },
}

#[derive(Clone, Debug)]
struct MNode<E> {
    /// One upper bound per slot; the last equals the node's max, as the kernel
    /// stores it whenever the node is not full.
    pivots: Vec<u64>,
    kind: Kind<E>,
    /// Parent node and slot number (`mte_parent`, `mte_parent_slot`).
    parent: Option<(NodeId, usize)>,
    live: bool,
}

impl<E> MNode<E> {
    fn len(&self) -> usize {
        self.pivots.len()
    }
    fn is_leaf(&self) -> bool {
        matches!(self.kind, Kind::Leaf { .. })
    }
    fn capacity(&self) -> usize {
        if self.is_leaf() {
            MAPLE_RANGE64_SLOTS
        } else {
            MAPLE_ARANGE64_SLOTS
        }
    }
    fn min_slots(&self) -> usize {
        if self.is_leaf() {
            MAPLE_RANGE64_MIN_SLOTS
        } else {
            MAPLE_ARANGE64_MIN_SLOTS
        }
    }
}

/// Why a store was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapleInsertError {
    /// `first > last`.
    BadRange { first: u64, last: u64 },
    /// Part of the range holds an entry (`mas_insert` returns -EEXIST).
    Occupied {
        first: u64,
        last: u64,
        existing_first: u64,
        existing_last: u64,
    },
}

impl fmt::Display for MapleInsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapleInsertError::BadRange { first, last } => write!(f, "bad range [{first:#x}, {last:#x}]"),
            MapleInsertError::Occupied { first, last, existing_first, existing_last } => write!(
                f,
                "[{first:#x}, {last:#x}] overlaps the entry at [{existing_first:#x}, {existing_last:#x}]"
            ),
        }
    }
}

impl std::error::Error for MapleInsertError {}

/// A violated invariant found by [`MapleTree::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapleInvariantError(pub String);

impl fmt::Display for MapleInvariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "maple tree invariant: {}", self.0)
    }
}

impl std::error::Error for MapleInvariantError {}

/// A slot's range and entry (`mas.index`, `mas.last`, the entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range<E> {
    pub first: u64,
    pub last: u64,
    pub entry: Option<E>,
}

/// What an operation did to one node, for counting the cache lines it touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// A descent read the pivots up to `slot` and took that slot.
    Read { slot: usize },
    /// The gap of `slot` (and the node's metadata) rewritten in place.
    Gap { slot: usize },
    /// The parent pointer rewritten (a child adopted by another node).
    Parent,
    /// Slots or pivots changed: the kernel writes a new copy of the node.
    Write,
}

/// One node touched: the arena id (stable while the node lives), whether it is a
/// leaf (`maple_range_64`) or internal (`maple_arange_64`), and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeTouch {
    pub node: usize,
    pub leaf: bool,
    pub how: Touch,
}

/// The work of the mutating operations, counted as it happens while counting is on
/// ([`MapleTree::count_work`]); `costs` reads it per operation with
/// [`MapleTree::take_work`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapleWork {
    /// Nodes descended through to find the range (every descent of the operation).
    pub search_steps: u64,
    /// Full nodes split in two.
    pub splits: u64,
    /// Under-full nodes merged into a sibling.
    pub merges: u64,
    /// Under-full nodes refilled from a sibling.
    pub redistributions: u64,
    pub new_nodes: u64,
    pub freed_nodes: u64,
    /// Gap slots rewritten in a parent.
    pub gap_updates: u64,
    pub touched: Vec<NodeTouch>,
}

#[derive(Clone, Debug)]
pub struct MapleTree<E> {
    nodes: Vec<MNode<E>>,
    free: Vec<NodeId>,
    root: Option<NodeId>,
    height: usize,
    count: usize,
    /// `Some` while counting: interior so that the read-only descents count too.
    work: RefCell<Option<MapleWork>>,
}

impl<E: Copy + Eq + Debug> Default for MapleTree<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// Largest hole size of a NULL slot `[lo, hi]`; the full range saturates.
fn span(lo: u64, hi: u64) -> u64 {
    (hi - lo).saturating_add(1)
}

/// The kernel's `ma_data_end()` applied to a range_64/leaf_64 layout: the stored
/// 15 pivots, the metadata end byte, and the node's max.
pub fn ma_data_end_range64(pivots: &[u64; 15], meta_end: u8, max: u64) -> usize {
    match pivots[14] {
        0 => usize::from(meta_end),
        p if p == max => 14,
        _ => 15,
    }
}

impl<E: Copy + Eq + Debug> MapleTree<E> {
    pub fn new() -> Self {
        MapleTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: None,
            height: 0,
            count: 0,
            work: RefCell::new(None),
        }
    }

    /// Start (`true`, from zero) or stop counting the work of inserts and erases.
    pub fn count_work(&mut self, on: bool) {
        *self.work.get_mut() = on.then(MapleWork::default);
    }

    /// The work counted since the last call, counters reset (zero when not counting).
    pub fn take_work(&self) -> MapleWork {
        match self.work.borrow_mut().as_mut() {
            Some(w) => std::mem::take(w),
            None => MapleWork::default(),
        }
    }

    fn tally(&self, f: impl FnOnce(&mut MapleWork)) {
        if let Some(w) = self.work.borrow_mut().as_mut() {
            f(w);
        }
    }

    fn touch(&self, node: NodeId, how: Touch) {
        let leaf = self.nodes[node].is_leaf();
        self.tally(|w| w.touched.push(NodeTouch { node, leaf, how }));
    }

    /// Number of non-NULL entries.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The height `ma_flags` would record: 0 empty, 1 when the root is a leaf.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Number of live nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    fn alloc(&mut self, node: MNode<E>) -> NodeId {
        let id = if let Some(id) = self.free.pop() {
            self.nodes[id] = node;
            id
        } else {
            self.nodes.push(node);
            self.nodes.len() - 1
        };
        self.tally(|w| w.new_nodes += 1);
        self.touch(id, Touch::Write);
        id
    }

    fn release(&mut self, id: NodeId) {
        self.tally(|w| w.freed_nodes += 1);
        self.nodes[id].live = false;
        self.nodes[id].pivots.clear();
        self.nodes[id].kind = Kind::Leaf { slots: Vec::new() };
        self.free.push(id);
    }

    /// `mas_slot_range` lower bound: the node's min comes from its parent chain.
    fn node_min(&self, mut n: NodeId) -> u64 {
        while let Some((p, s)) = self.nodes[n].parent {
            if s > 0 {
                return self.nodes[p].pivots[s - 1] + 1;
            }
            n = p;
        }
        0
    }

    fn slot_lo(&self, n: NodeId, i: usize, node_min: u64) -> u64 {
        if i == 0 {
            node_min
        } else {
            self.nodes[n].pivots[i - 1] + 1
        }
    }

    /// Largest NULL span in a node's subtree (`mas_leaf_max_gap` / `ma_max_gap`).
    fn max_gap(&self, n: NodeId) -> u64 {
        match &self.nodes[n].kind {
            Kind::Internal { gaps, .. } => gaps.iter().copied().max().unwrap_or(0),
            Kind::Leaf { slots } => {
                let min = self.node_min(n);
                let mut best = 0;
                for (i, s) in slots.iter().enumerate() {
                    if s.is_none() {
                        best = best.max(span(self.slot_lo(n, i, min), self.nodes[n].pivots[i]));
                    }
                }
                best
            }
        }
    }

    /// `ma_max_gap`'s offset: the highest index holding the largest gap.
    fn compute_meta_gap(gaps: &[u64]) -> usize {
        let mut off = gaps.len().saturating_sub(1);
        let mut best = 0;
        for i in (0..gaps.len()).rev() {
            if gaps[i] > best {
                best = gaps[i];
                off = i;
            }
        }
        off
    }

    /// `mas_update_gap()` all the way up: recompute the gap of `n` in its
    /// parent, the parent's in the grandparent, and so on.
    fn fix_gaps_from(&mut self, mut n: NodeId) {
        if let Kind::Internal { gaps, meta_gap, .. } = &mut self.nodes[n].kind {
            *meta_gap = Self::compute_meta_gap(gaps);
        }
        while let Some((p, s)) = self.nodes[n].parent {
            let g = self.max_gap(n);
            let mut unchanged = false;
            if let Kind::Internal { gaps, meta_gap, .. } = &mut self.nodes[p].kind {
                if let Some(slot) = gaps.get_mut(s) {
                    unchanged = *slot == g;
                    *slot = g;
                }

                // Always: slots may have been inserted or removed in `p`.
                *meta_gap = Self::compute_meta_gap(gaps);
            }
            if !unchanged {
                self.tally(|w| w.gap_updates += 1);
                self.touch(p, Touch::Gap { slot: s });
            }
            // The parent's own maximum cannot have changed through this slot.
            if unchanged {
                break;
            }
            n = p;
        }
    }

    /// Reassign `parent` of every child of internal node `n` from slot `from` on.
    fn relink_children(&mut self, n: NodeId, from: usize) {
        let kids: Vec<NodeId> = match &self.nodes[n].kind {
            Kind::Internal { children, .. } => children.get(from..).unwrap_or(&[]).to_vec(),
            Kind::Leaf { .. } => return,
        };
        for (k, c) in kids.into_iter().enumerate() {
            if self.nodes[c].parent != Some((n, from + k)) {
                self.touch(c, Touch::Parent);
            }
            self.nodes[c].parent = Some((n, from + k));
        }
    }

    // ---- lookups -----------------------------------------------------------

    /// Descend to the leaf holding `index`: (leaf, slot, leaf min).
    fn descend(&self, index: u64) -> Option<(NodeId, usize, u64)> {
        let mut n = self.root?;
        let mut min = 0u64;
        loop {
            let node = &self.nodes[n];
            let i = node
                .pivots
                .iter()
                .position(|&p| p >= index)
                .unwrap_or(node.len().saturating_sub(1));
            self.tally(|w| w.search_steps += 1);
            self.touch(n, Touch::Read { slot: i });
            match &node.kind {
                Kind::Leaf { .. } => return Some((n, i, min)),
                Kind::Internal { children, .. } => {
                    if i > 0 {
                        min = node.pivots[i - 1] + 1;
                    }
                    n = *children.get(i)?;
                }
            }
        }
    }

    /// `mas_walk()`: the range containing `index` and its entry (None in a hole).
    pub fn walk(&self, index: u64) -> Range<E> {
        match self.descend(index) {
            None => Range {
                first: 0,
                last: u64::MAX,
                entry: None,
            },
            Some((leaf, i, min)) => {
                let lo = self.slot_lo(leaf, i, min);
                let hi = self.nodes[leaf].pivots[i];
                let entry = match &self.nodes[leaf].kind {
                    Kind::Leaf { slots } => slots.get(i).copied().flatten(),
                    Kind::Internal { .. } => None,
                };
                Range {
                    first: lo,
                    last: hi,
                    entry,
                }
            }
        }
    }

    /// `mtree_load()`.
    pub fn load(&self, index: u64) -> Option<E> {
        self.walk(index).entry
    }

    /// `find_vma()`: the first entry ending at or after `addr` (`last >= addr`).
    pub fn find_vma(&self, addr: u64) -> Option<Range<E>> {
        let mut r = self.walk(addr);
        // NULLs never sit side by side, so one step suffices; bound it anyway.
        for _ in 0..=self.count {
            if r.entry.is_some() {
                return Some(r);
            }
            if r.last == u64::MAX {
                return None;
            }
            r = self.walk(r.last + 1);
        }
        None
    }

    /// Every non-NULL entry in index order.
    pub fn entries(&self) -> Vec<Range<E>> {
        let mut out = Vec::with_capacity(self.count);
        self.for_each_range(|r| {
            if r.entry.is_some() {
                out.push(r);
            }
        });
        out
    }

    /// Every slot range, NULL ones included, in index order.
    pub fn for_each_range(&self, mut f: impl FnMut(Range<E>)) {
        let Some(root) = self.root else { return };
        let mut stack = vec![(root, 0u64)];
        while let Some((n, min)) = stack.pop() {
            let node = &self.nodes[n];
            match &node.kind {
                Kind::Leaf { slots } => {
                    for (i, s) in slots.iter().enumerate() {
                        f(Range {
                            first: self.slot_lo(n, i, min),
                            last: node.pivots[i],
                            entry: *s,
                        });
                    }
                }
                Kind::Internal { children, .. } => {
                    for i in (0..children.len()).rev() {
                        stack.push((children[i], self.slot_lo(n, i, min)));
                    }
                }
            }
        }
    }

    // ---- empty-area searches -------------------------------------------------

    /// `mas_empty_area()`: the lowest `index >= min` such that
    /// `[index, index + size - 1]` is empty and ends at or below `max`.
    pub fn empty_area(&self, min: u64, max: u64, size: u64) -> Option<u64> {
        if size == 0 || min > max || max - min < size - 1 {
            return None;
        }
        match self.root {
            None => Some(min),
            Some(r) => self.empty_low(r, 0, min, max, size),
        }
    }

    fn empty_low(&self, n: NodeId, nmin: u64, min: u64, max: u64, size: u64) -> Option<u64> {
        let node = &self.nodes[n];
        for i in 0..node.len() {
            let lo = self.slot_lo(n, i, nmin);
            let hi = node.pivots[i];
            if hi < min {
                continue;
            }
            if lo > max {
                break;
            }
            match &node.kind {
                Kind::Internal { children, gaps, .. } => {
                    if gaps[i] >= size {
                        if let Some(a) = self.empty_low(children[i], lo, min, max, size) {
                            return Some(a);
                        }
                    }
                }
                Kind::Leaf { slots } => {
                    if slots[i].is_none() {
                        let start = lo.max(min);
                        if let Some(end) = start.checked_add(size - 1) {
                            if end <= hi.min(max) {
                                return Some(start);
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// `mas_empty_area_rev()`: the highest empty `[index, index + size - 1]`
    /// inside `[min, max]`; returns `index`.
    pub fn empty_area_rev(&self, min: u64, max: u64, size: u64) -> Option<u64> {
        if size == 0 || min > max || max - min < size - 1 {
            return None;
        }
        match self.root {
            None => Some(max - (size - 1)),
            Some(r) => self.empty_high(r, 0, min, max, size),
        }
    }

    fn empty_high(&self, n: NodeId, nmin: u64, min: u64, max: u64, size: u64) -> Option<u64> {
        let node = &self.nodes[n];
        for i in (0..node.len()).rev() {
            let lo = self.slot_lo(n, i, nmin);
            let hi = node.pivots[i];
            if lo > max {
                continue;
            }
            if hi < min {
                break;
            }
            match &node.kind {
                Kind::Internal { children, gaps, .. } => {
                    if gaps[i] >= size {
                        if let Some(a) = self.empty_high(children[i], lo, min, max, size) {
                            return Some(a);
                        }
                    }
                }
                Kind::Leaf { slots } => {
                    if slots[i].is_none() {
                        let end = hi.min(max);
                        if let Some(start) = (end - lo.max(min)).checked_sub(size - 1) {
                            return Some(lo.max(min) + start);
                        }
                    }
                }
            }
        }
        None
    }

    // ---- store ---------------------------------------------------------------

    /// `mtree_insert_range()`: store `entry` at `[first, last]`, which must be empty.
    pub fn insert(&mut self, first: u64, last: u64, entry: E) -> Result<(), MapleInsertError> {
        if first > last {
            return Err(MapleInsertError::BadRange { first, last });
        }
        let Some((leaf, i, min)) = self.descend(first) else {
            let mut pivots = Vec::new();
            let mut slots = Vec::new();
            if first > 0 {
                pivots.push(first - 1);
                slots.push(None);
            }
            pivots.push(last);
            slots.push(Some(entry));
            if last < u64::MAX {
                pivots.push(u64::MAX);
                slots.push(None);
            }
            let id = self.alloc(MNode {
                pivots,
                kind: Kind::Leaf { slots },
                parent: None,
                live: true,
            });
            self.root = Some(id);
            self.height = 1;
            self.count = 1;
            return Ok(());
        };
        let lo = self.slot_lo(leaf, i, min);
        let hi = self.nodes[leaf].pivots[i];
        let here = self.slot_entry(leaf, i);
        if here.is_some() || last > hi {
            let r = if here.is_some() {
                Range {
                    first: lo,
                    last: hi,
                    entry: here,
                }
            } else {
                self.walk(hi + 1)
            };
            return Err(MapleInsertError::Occupied {
                first,
                last,
                existing_first: r.first,
                existing_last: r.last,
            });
        }
        let mut new_p = Vec::with_capacity(3);
        let mut new_s = Vec::with_capacity(3);
        if first > lo {
            new_p.push(first - 1);
            new_s.push(None);
        }
        new_p.push(last);
        new_s.push(Some(entry));
        if last < hi {
            new_p.push(hi);
            new_s.push(None);
        }
        let node = &mut self.nodes[leaf];
        node.pivots.splice(i..=i, new_p);
        if let Kind::Leaf { slots } = &mut node.kind {
            slots.splice(i..=i, new_s);
        }
        self.count += 1;
        self.touch(leaf, Touch::Write);
        self.fix_gaps_from(leaf);
        self.split_if_full(leaf);
        Ok(())
    }

    fn slot_entry(&self, n: NodeId, i: usize) -> Option<E> {
        match &self.nodes[n].kind {
            Kind::Leaf { slots } => slots.get(i).copied().flatten(),
            Kind::Internal { .. } => None,
        }
    }

    /// `mas_split()`, simplified: halve an over-full node, pushing the new
    /// right half into the parent, up to a new root.
    fn split_if_full(&mut self, mut n: NodeId) {
        while self.nodes[n].len() > self.nodes[n].capacity() {
            self.tally(|w| w.splits += 1);
            self.touch(n, Touch::Write);
            let len = self.nodes[n].len();
            let mid = len.div_ceil(2);
            let right_pivots = self.nodes[n].pivots.split_off(mid);
            let right_kind = match &mut self.nodes[n].kind {
                Kind::Leaf { slots } => Kind::Leaf {
                    slots: slots.split_off(mid),
                },
                Kind::Internal {
                    children,
                    gaps,
                    meta_gap,
                } => {
                    let k = Kind::Internal {
                        children: children.split_off(mid),
                        gaps: gaps.split_off(mid),
                        meta_gap: 0,
                    };
                    *meta_gap = Self::compute_meta_gap(gaps);
                    k
                }
            };
            let sep = self.nodes[n].pivots.last().copied().unwrap_or(0);
            let right_max = right_pivots.last().copied().unwrap_or(u64::MAX);
            let parent = self.nodes[n].parent;
            let right = self.alloc(MNode {
                pivots: right_pivots,
                kind: right_kind,
                parent: None,
                live: true,
            });
            self.relink_children(right, 0);
            match parent {
                None => {
                    let root = self.alloc(MNode {
                        pivots: vec![sep, right_max],
                        kind: Kind::Internal {
                            children: vec![n, right],
                            gaps: vec![0, 0],
                            meta_gap: 0,
                        },
                        parent: None,
                        live: true,
                    });
                    self.root = Some(root);
                    self.height += 1;
                    self.relink_children(root, 0);
                    self.fix_gaps_from(n);
                    self.fix_gaps_from(right);
                    return;
                }
                Some((p, s)) => {
                    self.touch(p, Touch::Write);
                    let pn = &mut self.nodes[p];
                    pn.pivots.insert(s, sep);
                    if let Kind::Internal { children, gaps, .. } = &mut pn.kind {
                        children.insert(s + 1, right);
                        gaps.insert(s + 1, 0);
                    }
                    self.relink_children(p, s + 1);
                    self.fix_gaps_from(n);
                    self.fix_gaps_from(right);
                    n = p;
                }
            }
        }
    }

    // ---- erase ---------------------------------------------------------------

    /// `mtree_erase()`: remove the entry containing `index`, returning its range.
    pub fn erase(&mut self, index: u64) -> Option<Range<E>> {
        let (leaf, mut i, min) = self.descend(index)?;
        let entry = self.slot_entry(leaf, i)?;
        let removed = Range {
            first: self.slot_lo(leaf, i, min),
            last: self.nodes[leaf].pivots[i],
            entry: Some(entry),
        };
        self.count -= 1;
        self.touch(leaf, Touch::Write);
        if let Kind::Leaf { slots } = &mut self.nodes[leaf].kind {
            slots[i] = None;
        }
        // Merge with NULL neighbours inside the leaf.
        if i + 1 < self.nodes[leaf].len() && self.slot_entry(leaf, i + 1).is_none() {
            self.remove_leaf_slot(leaf, i);
        }
        if i > 0 && self.slot_entry(leaf, i - 1).is_none() {
            self.remove_leaf_slot(leaf, i - 1);
            i -= 1;
        }
        let mut touched = vec![leaf];
        // Merge with a NULL at the end of the previous leaf (the kernel extends
        // a NULL store over its NULL neighbours, across nodes if need be).
        let lmin = self.node_min(leaf);
        if i == 0 && lmin > 0 {
            if let Some((prev, pi, _)) = self.descend(lmin - 1) {
                if prev != leaf && self.slot_entry(prev, pi).is_none() && self.nodes[prev].len() > 1
                {
                    self.remove_leaf_slot(prev, pi);
                    self.set_max_upward(prev);
                    touched.push(prev);
                }
            }
        }
        let last_i = self.nodes[leaf].len() - 1;
        let lmax = self.nodes[leaf].pivots[last_i];
        if i == last_i && lmax < u64::MAX {
            if let Some((next, 0, _)) = self.descend(lmax + 1) {
                if next != leaf && self.slot_entry(next, 0).is_none() && self.nodes[next].len() > 1
                {
                    let nhi = self.nodes[next].pivots[0];
                    self.remove_leaf_slot(next, 0);
                    self.nodes[leaf].pivots[last_i] = nhi;
                    self.set_max_upward(leaf);
                    touched.push(next);
                }
            }
        }
        for &n in &touched {
            self.fix_gaps_from(n);
        }
        for n in touched {
            if self.nodes[n].live {
                self.rebalance(n);
            }
        }
        Some(removed)
    }

    fn remove_leaf_slot(&mut self, n: NodeId, i: usize) {
        self.touch(n, Touch::Write);
        let node = &mut self.nodes[n];
        node.pivots.remove(i);
        if let Kind::Leaf { slots } = &mut node.kind {
            slots.remove(i);
        }
    }

    /// A node's max changed: copy it into the parent's pivot, and further up
    /// while the node is its parent's last slot.
    fn set_max_upward(&mut self, mut n: NodeId) {
        let Some(&max) = self.nodes[n].pivots.last() else {
            return;
        };
        while let Some((p, s)) = self.nodes[n].parent {
            self.touch(p, Touch::Write);
            self.nodes[p].pivots[s] = max;
            if s + 1 < self.nodes[p].len() {
                break;
            }
            n = p;
        }
    }

    /// `mas_rebalance()`, simplified: merge an under-full node with a sibling or
    /// share entries with it; collapse a root with one child.
    fn rebalance(&mut self, mut n: NodeId) {
        loop {
            let Some((p, s)) = self.nodes[n].parent else {
                self.shrink_root(n);
                return;
            };
            if self.nodes[n].len() >= self.nodes[n].min_slots() {
                return;
            }
            let plen = self.nodes[p].len();
            if plen < 2 {
                n = p;
                continue;
            }
            let sa = if s > 0 { s - 1 } else { s };
            let (a, b) = match &self.nodes[p].kind {
                Kind::Internal { children, .. } => (children[sa], children[sa + 1]),
                Kind::Leaf { .. } => return,
            };
            let total = self.nodes[a].len() + self.nodes[b].len();
            if total <= self.nodes[a].capacity() {
                self.merge_into_left(p, sa, a, b);
                self.fix_gaps_from(a);
                n = p;
            } else {
                self.redistribute(p, sa, a, b, total / 2);
                self.fix_gaps_from(a);
                self.fix_gaps_from(b);
                return;
            }
        }
    }

    fn shrink_root(&mut self, mut r: NodeId) {
        loop {
            let node = &self.nodes[r];
            match &node.kind {
                Kind::Internal { children, .. } if children.len() == 1 => {
                    let c = children[0];
                    self.release(r);
                    self.nodes[c].parent = None;
                    self.root = Some(c);
                    self.height -= 1;
                    r = c;
                }
                Kind::Leaf { slots } if slots.iter().all(Option::is_none) => {
                    self.release(r);
                    self.root = None;
                    self.height = 0;
                    return;
                }
                _ => return,
            }
        }
    }

    /// Append `b`'s slots to `a` (both children of `p` at `sa`, `sa + 1`).
    fn merge_into_left(&mut self, p: NodeId, sa: usize, a: NodeId, b: NodeId) {
        self.tally(|w| w.merges += 1);
        self.touch(a, Touch::Write);
        self.touch(b, Touch::Read { slot: 0 });
        self.touch(p, Touch::Write);
        let bp = std::mem::take(&mut self.nodes[b].pivots);
        let bk = std::mem::replace(&mut self.nodes[b].kind, Kind::Leaf { slots: Vec::new() });
        let a_len = self.nodes[a].len();
        self.nodes[a].pivots.extend(bp);
        match (&mut self.nodes[a].kind, bk) {
            (Kind::Leaf { slots }, Kind::Leaf { slots: bs }) => slots.extend(bs),
            (
                Kind::Internal { children, gaps, .. },
                Kind::Internal {
                    children: bc,
                    gaps: bg,
                    ..
                },
            ) => {
                children.extend(bc);
                gaps.extend(bg);
            }
            _ => {}
        }
        self.relink_children(a, a_len);
        self.release(b);
        let pn = &mut self.nodes[p];
        pn.pivots.remove(sa);
        if let Kind::Internal { children, gaps, .. } = &mut pn.kind {
            children.remove(sa + 1);
            gaps.remove(sa + 1);
        }
        self.relink_children(p, sa + 1);
    }

    /// Share the slots of siblings `a` and `b` so that `a` holds `keep`.
    fn redistribute(&mut self, p: NodeId, sa: usize, a: NodeId, b: NodeId, keep: usize) {
        self.tally(|w| w.redistributions += 1);
        for n in [a, b, p] {
            self.touch(n, Touch::Write);
        }
        let mut piv = std::mem::take(&mut self.nodes[a].pivots);
        piv.append(&mut self.nodes[b].pivots);
        let bp = piv.split_off(keep);
        let ak = std::mem::replace(&mut self.nodes[a].kind, Kind::Leaf { slots: Vec::new() });
        let bk = std::mem::replace(&mut self.nodes[b].kind, Kind::Leaf { slots: Vec::new() });
        let (nak, nbk) = match (ak, bk) {
            (Kind::Leaf { slots: mut s }, Kind::Leaf { slots: mut t }) => {
                s.append(&mut t);
                let t = s.split_off(keep);
                (Kind::Leaf { slots: s }, Kind::Leaf { slots: t })
            }
            (
                Kind::Internal {
                    children: mut c,
                    gaps: mut g,
                    ..
                },
                Kind::Internal {
                    children: mut d,
                    gaps: mut h,
                    ..
                },
            ) => {
                c.append(&mut d);
                g.append(&mut h);
                let d = c.split_off(keep);
                let h = g.split_off(keep);
                (
                    Kind::Internal {
                        children: c,
                        gaps: g,
                        meta_gap: 0,
                    },
                    Kind::Internal {
                        children: d,
                        gaps: h,
                        meta_gap: 0,
                    },
                )
            }
            (x, y) => (x, y),
        };
        let sep = piv.last().copied().unwrap_or(0);
        self.nodes[a].pivots = piv;
        self.nodes[b].pivots = bp;
        self.nodes[a].kind = nak;
        self.nodes[b].kind = nbk;
        self.relink_children(a, 0);
        self.relink_children(b, 0);
        self.nodes[p].pivots[sa] = sep;
    }

    // ---- invariant checker ---------------------------------------------------

    /// Checks what `mt_validate()` checks, on this model: parent links and slot
    /// numbers, pivots strictly increasing inside `[min, max]` with the last
    /// equal to `max`, all leaves at depth `height`, node occupancy, every gap
    /// and `meta.gap` recomputed, the data end as the kernel would decode it
    /// from a `maple_range_64` layout, no adjacent NULL ranges (across leaves
    /// too), ranges contiguous over `[0, u64::MAX]`, and the entry count.
    pub fn validate(&self) -> Result<(), MapleInvariantError> {
        let err = |s: String| Err(MapleInvariantError(s));
        let Some(root) = self.root else {
            if self.count != 0 || self.height != 0 {
                return err(format!(
                    "empty tree with count {} height {}",
                    self.count, self.height
                ));
            }
            return Ok(());
        };
        if self.nodes[root].parent.is_some() {
            return err("root has a parent".into());
        }
        let mut seen = HashSet::new();
        // (node, min, max, depth, expected parent)
        let mut stack = vec![(root, 0u64, u64::MAX, 1usize, None::<(NodeId, usize)>)];
        let mut leaf_ranges: Vec<Range<E>> = Vec::new();
        // Visit children left to right so leaves come out in order.
        while let Some((n, min, max, depth, want_parent)) = stack.pop() {
            if !seen.insert(n) {
                return err(format!("node {n} reached twice"));
            }
            let node = &self.nodes[n];
            if !node.live {
                return err(format!("dead node {n} reachable"));
            }
            if node.parent != want_parent {
                return err(format!(
                    "node {n}: parent {:?}, expected {:?}",
                    node.parent, want_parent
                ));
            }
            let len = node.len();
            if len == 0 || len > node.capacity() {
                return err(format!("node {n}: {len} slots"));
            }
            if want_parent.is_some() && len < node.min_slots() {
                return err(format!(
                    "node {n}: {len} slots, below minimum {}",
                    node.min_slots()
                ));
            }
            let mut lo = min;
            for (i, &p) in node.pivots.iter().enumerate() {
                if p < lo || p > max || (i > 0 && p <= node.pivots[i - 1]) {
                    return err(format!(
                        "node {n}: pivot[{i}] {p:#x} outside [{lo:#x}, {max:#x}]"
                    ));
                }
                lo = p.wrapping_add(1);
            }
            if node.pivots.last() != Some(&max) {
                return err(format!(
                    "node {n}: last pivot {:?} is not the node max {max:#x}",
                    node.pivots.last()
                ));
            }
            match &node.kind {
                Kind::Leaf { slots } => {
                    if depth != self.height {
                        return err(format!("leaf {n} at depth {depth}, height {}", self.height));
                    }
                    if slots.len() != len {
                        return err(format!("leaf {n}: {} slots, {len} pivots", slots.len()));
                    }
                    // Data end as ma_data_end() would decode the kernel layout.
                    let mut kp = [0u64; 15];
                    for (k, &p) in node.pivots.iter().take(15).enumerate() {
                        kp[k] = p;
                    }
                    let end = ma_data_end_range64(&kp, (len - 1) as u8, max);
                    if end != len - 1 {
                        return err(format!("leaf {n}: ma_data_end {end}, expected {}", len - 1));
                    }
                    for (i, s) in slots.iter().enumerate() {
                        leaf_ranges.push(Range {
                            first: self.slot_lo(n, i, min),
                            last: node.pivots[i],
                            entry: *s,
                        });
                    }
                }
                Kind::Internal {
                    children,
                    gaps,
                    meta_gap,
                } => {
                    if depth >= self.height {
                        return err(format!(
                            "internal node {n} at depth {depth}, height {}",
                            self.height
                        ));
                    }
                    if children.len() != len || gaps.len() != len {
                        return err(format!(
                            "node {n}: {} children, {} gaps, {len} pivots",
                            children.len(),
                            gaps.len()
                        ));
                    }
                    for (i, &c) in children.iter().enumerate() {
                        let want = self.subtree_max_gap(c, self.slot_lo(n, i, min), depth + 1)?;
                        if gaps[i] != want {
                            return err(format!(
                                "node {n}: gap[{i}] {:#x}, expected {want:#x}",
                                gaps[i]
                            ));
                        }
                    }
                    let top = gaps.iter().copied().max().unwrap_or(0);
                    if *meta_gap >= len || gaps[*meta_gap] != top {
                        return err(format!(
                            "node {n}: meta.gap {meta_gap} does not index the largest gap {top:#x}"
                        ));
                    }
                    for i in (0..len).rev() {
                        stack.push((
                            children[i],
                            self.slot_lo(n, i, min),
                            node.pivots[i],
                            depth + 1,
                            Some((n, i)),
                        ));
                    }
                }
            }
        }
        self.validate_ranges(&leaf_ranges)
    }

    /// The leaves' ranges: contiguous over `[0, u64::MAX]`, no two NULL ranges
    /// in a row, as many entries as `count`.
    fn validate_ranges(&self, leaf_ranges: &[Range<E>]) -> Result<(), MapleInvariantError> {
        let err = |s: String| Err(MapleInvariantError(s));
        let mut next = 0u64;
        let mut count = 0;
        let mut prev_null = false;
        for (k, r) in leaf_ranges.iter().enumerate() {
            if r.first != next || (k > 0 && next == 0) {
                return err(format!(
                    "range [{:#x}, {:#x}] does not follow {next:#x}",
                    r.first, r.last
                ));
            }
            if r.entry.is_none() && prev_null {
                return err(format!("adjacent NULL ranges end at {:#x}", r.last));
            }
            prev_null = r.entry.is_none();
            count += usize::from(r.entry.is_some());
            next = r.last.wrapping_add(1);
        }
        if next != 0 {
            return err(format!(
                "ranges end at {:#x}, not u64::MAX",
                next.wrapping_sub(1)
            ));
        }
        if count != self.count {
            return err(format!("{count} entries, count says {}", self.count));
        }
        Ok(())
    }

    /// Recompute a subtree's largest NULL span from its leaves.
    fn subtree_max_gap(
        &self,
        n: NodeId,
        min: u64,
        depth: usize,
    ) -> Result<u64, MapleInvariantError> {
        if depth > self.height + 1 {
            return Err(MapleInvariantError(format!(
                "node {n} deeper than height {}",
                self.height
            )));
        }
        let node = &self.nodes[n];
        let mut best = 0;
        for i in 0..node.len() {
            let lo = self.slot_lo(n, i, min);
            match &node.kind {
                Kind::Leaf { slots } => {
                    if slots.get(i).is_some_and(Option::is_none) {
                        best = best.max(span(lo, node.pivots[i]));
                    }
                }
                Kind::Internal { children, .. } => {
                    if let Some(&c) = children.get(i) {
                        best = best.max(self.subtree_max_gap(c, lo, depth + 1)?);
                    }
                }
            }
        }
        Ok(best)
    }
}

/// One live node as exported for encoders (tests building kernel-layout images).
#[derive(Clone, Debug)]
pub struct ExportNode<E> {
    pub id: usize,
    /// Parent id and slot.
    pub parent: Option<(usize, usize)>,
    /// One upper bound per slot, the last being the node's max.
    pub pivots: Vec<u64>,
    /// Leaf entries (empty for internal nodes).
    pub entries: Vec<Option<E>>,
    /// Child ids (empty for leaves).
    pub children: Vec<usize>,
    pub gaps: Vec<u64>,
    pub meta_gap: usize,
}

impl<E: Copy + Eq + Debug> MapleTree<E> {
    /// The root id and every live node, root first, depth-first.
    pub fn export(&self) -> (Option<usize>, Vec<ExportNode<E>>) {
        let mut out = Vec::new();
        let mut stack: Vec<NodeId> = self.root.into_iter().collect();
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n];
            let (entries, children, gaps, meta_gap) = match &node.kind {
                Kind::Leaf { slots } => (slots.clone(), Vec::new(), Vec::new(), 0),
                Kind::Internal {
                    children,
                    gaps,
                    meta_gap,
                } => (Vec::new(), children.clone(), gaps.clone(), *meta_gap),
            };
            stack.extend(children.iter().rev().copied());
            out.push(ExportNode {
                id: n,
                parent: node.parent,
                pivots: node.pivots.clone(),
                entries,
                children,
                gaps,
                meta_gap,
            });
        }
        (self.root, out)
    }
}
