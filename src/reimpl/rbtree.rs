//! A red-black tree of `[start, end)` intervals carrying the kernel's augmented
//! `rb_subtree_gap`, as the VMA tree of kernels before 6.1 does (mm/mmap.c:
//! `vma_compute_gap`, `vma_compute_subtree_gap`, `unmapped_area`,
//! `unmapped_area_topdown`).
//!
//! Nodes live in an arena and link by index, so there is no `unsafe`. Every
//! node stores its own gap (the hole below it, measured with the stack guard
//! like `vm_start_gap`) and the maximum of that over its subtree.

use std::cell::RefCell;
use std::fmt;

type NodeId = usize;

/// `VM_GROWSDOWN` intervals reserve the stack guard gap below them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: u64,
    pub end: u64,
    pub grows_down: bool,
}

impl Interval {
    pub fn new(start: u64, end: u64) -> Self {
        Interval {
            start,
            end,
            grows_down: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Red,
    Black,
}

#[derive(Clone, Debug)]
struct Node {
    iv: Interval,
    color: Color,
    parent: Option<NodeId>,
    left: Option<NodeId>,
    right: Option<NodeId>,
    /// `vma_compute_gap()`: the hole between the previous interval and this one.
    gap: u64,
    /// `rb_subtree_gap`: max of `gap` over this node and its subtrees.
    subtree_gap: u64,
}

/// Why an insert was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RbInsertError {
    /// `start >= end`.
    Empty { start: u64, end: u64 },
    /// The interval intersects an existing one.
    Overlap {
        start: u64,
        end: u64,
        existing_start: u64,
        existing_end: u64,
    },
}

impl fmt::Display for RbInsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RbInsertError::Empty { start, end } => {
                write!(f, "empty interval [{start:#x}, {end:#x})")
            }
            RbInsertError::Overlap {
                start,
                end,
                existing_start,
                existing_end,
            } => write!(
                f,
                "[{start:#x}, {end:#x}) overlaps [{existing_start:#x}, {existing_end:#x})"
            ),
        }
    }
}

impl std::error::Error for RbInsertError {}

/// A violated invariant found by [`RbTree::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RbInvariantError(pub String);

impl fmt::Display for RbInvariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rb-tree invariant: {}", self.0)
    }
}

impl std::error::Error for RbInvariantError {}

/// `vm_start_gap()`: the start lowered by the stack guard for grows-down mappings.
pub fn vm_start_gap(iv: &Interval, stack_guard_gap: u64) -> u64 {
    if iv.grows_down {
        iv.start.saturating_sub(stack_guard_gap)
    } else {
        iv.start
    }
}

/// `vm_end_gap()`: x86 has no `VM_GROWSUP`, so this is the end itself.
pub fn vm_end_gap(iv: &Interval) -> u64 {
    iv.end
}

/// `vma_compute_gap()`: the hole below `iv`, given the interval before it.
pub fn vma_compute_gap(iv: &Interval, prev: Option<&Interval>, stack_guard_gap: u64) -> u64 {
    let gap = vm_start_gap(iv, stack_guard_gap);
    match prev {
        Some(p) => gap.saturating_sub(vm_end_gap(p)),
        None => gap,
    }
}

/// The work of the mutating operations, counted as it happens while counting is on
/// ([`RbTree::count_work`]); `costs` reads it per operation with [`RbTree::take_work`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RbWork {
    /// Nodes compared to find the position (insert) or the node (erase).
    pub search_steps: u64,
    pub rotations: u64,
    /// Colour changes (a write that keeps the colour is not one).
    pub recolours: u64,
    /// Own-gap and `rb_subtree_gap` recomputations (the augment callbacks).
    pub gap_updates: u64,
    /// The `start` of every node read or written, repeats kept: the kernel's node is
    /// the VMA that starts there.
    pub touched: Vec<u64>,
}

#[derive(Clone, Debug)]
pub struct RbTree {
    nodes: Vec<Node>,
    free: Vec<NodeId>,
    root: Option<NodeId>,
    len: usize,
    stack_guard_gap: u64,
    /// `Some` while counting: interior so that the read-only walks count too.
    work: RefCell<Option<RbWork>>,
}

impl RbTree {
    /// `stack_guard_gap` is the kernel variable of that name (1 MiB by default).
    pub fn new(stack_guard_gap: u64) -> Self {
        RbTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: None,
            len: 0,
            stack_guard_gap,
            work: RefCell::new(None),
        }
    }

    /// Start (`true`, from zero) or stop counting the work of inserts and erases.
    pub fn count_work(&mut self, on: bool) {
        *self.work.get_mut() = on.then(RbWork::default);
    }

    /// The work counted since the last call, counters reset (zero when not counting).
    pub fn take_work(&self) -> RbWork {
        match self.work.borrow_mut().as_mut() {
            Some(w) => std::mem::take(w),
            None => RbWork::default(),
        }
    }

    fn tally(&self, f: impl FnOnce(&mut RbWork)) {
        if let Some(w) = self.work.borrow_mut().as_mut() {
            f(w);
        }
    }

    fn touch(&self, n: NodeId) {
        self.tally(|w| w.touched.push(self.nodes[n].iv.start));
    }

    fn set_color(&mut self, n: NodeId, c: Color) {
        if self.nodes[n].color != c {
            self.nodes[n].color = c;
            self.tally(|w| w.recolours += 1);
            self.touch(n);
        }
    }

    /// Colour test of a node the fixups read (the uncle, the sibling and its children).
    fn is_red_read(&self, n: Option<NodeId>) -> bool {
        if let Some(id) = n {
            self.touch(id);
        }
        self.is_red(n)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn stack_guard_gap(&self) -> u64 {
        self.stack_guard_gap
    }

    /// The root's `rb_subtree_gap` (0 for an empty tree).
    pub fn root_subtree_gap(&self) -> u64 {
        self.root.map_or(0, |r| self.nodes[r].subtree_gap)
    }

    /// `mm->highest_vm_end`: `vm_end_gap` of the last interval, 0 when empty.
    pub fn highest_vm_end(&self) -> u64 {
        self.root
            .map_or(0, |r| vm_end_gap(&self.nodes[self.last_in(r)].iv))
    }

    /// Tree height in nodes along the longest root-to-leaf path.
    pub fn height(&self) -> usize {
        fn h(t: &RbTree, n: Option<NodeId>) -> usize {
            n.map_or(0, |n| 1 + h(t, t.nodes[n].left).max(h(t, t.nodes[n].right)))
        }
        h(self, self.root)
    }

    // ---- small accessors -------------------------------------------------

    fn is_red(&self, n: Option<NodeId>) -> bool {
        n.is_some_and(|n| self.nodes[n].color == Color::Red)
    }

    fn first_in(&self, mut n: NodeId) -> NodeId {
        self.touch(n);
        while let Some(l) = self.nodes[n].left {
            n = l;
            self.touch(n);
        }
        n
    }

    fn last_in(&self, mut n: NodeId) -> NodeId {
        self.touch(n);
        while let Some(r) = self.nodes[n].right {
            n = r;
            self.touch(n);
        }
        n
    }

    /// `rb_next()`.
    fn next_node(&self, n: NodeId) -> Option<NodeId> {
        if let Some(r) = self.nodes[n].right {
            return Some(self.first_in(r));
        }
        let mut child = n;
        let mut p = self.nodes[n].parent;
        while let Some(pp) = p {
            self.touch(pp);
            if self.nodes[pp].left == Some(child) {
                return Some(pp);
            }
            child = pp;
            p = self.nodes[pp].parent;
        }
        None
    }

    /// `rb_prev()`.
    fn prev_node(&self, n: NodeId) -> Option<NodeId> {
        if let Some(l) = self.nodes[n].left {
            return Some(self.last_in(l));
        }
        let mut child = n;
        let mut p = self.nodes[n].parent;
        while let Some(pp) = p {
            self.touch(pp);
            if self.nodes[pp].right == Some(child) {
                return Some(pp);
            }
            child = pp;
            p = self.nodes[pp].parent;
        }
        None
    }

    fn alloc(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.free.pop() {
            self.nodes[id] = node;
            id
        } else {
            self.nodes.push(node);
            self.nodes.len() - 1
        }
    }

    // ---- augmentation ------------------------------------------------------

    /// `vma_compute_subtree_gap()` for one node from its children.
    fn recompute_subtree_gap(&mut self, n: NodeId) {
        self.tally(|w| w.gap_updates += 1);
        self.touch(n);
        let node = &self.nodes[n];
        for c in [node.left, node.right].into_iter().flatten() {
            self.touch(c);
        }
        let mut g = node.gap;
        if let Some(l) = node.left {
            g = g.max(self.nodes[l].subtree_gap);
        }
        if let Some(r) = node.right {
            g = g.max(self.nodes[r].subtree_gap);
        }
        self.nodes[n].subtree_gap = g;
    }

    /// Recompute the own gap of `n` from its in-order predecessor.
    fn update_own_gap(&mut self, n: NodeId) {
        self.tally(|w| w.gap_updates += 1);
        self.touch(n);
        let prev = self.prev_node(n).map(|p| self.nodes[p].iv);
        self.nodes[n].gap = vma_compute_gap(&self.nodes[n].iv, prev.as_ref(), self.stack_guard_gap);
    }

    /// `vma_gap_callbacks_propagate()`: recompute towards the root, stopping at
    /// the first node whose value did not change (its ancestors cannot change).
    fn propagate(&mut self, mut n: Option<NodeId>) {
        while let Some(id) = n {
            let old = self.nodes[id].subtree_gap;
            self.recompute_subtree_gap(id);
            if self.nodes[id].subtree_gap == old {
                break;
            }
            n = self.nodes[id].parent;
        }
    }

    // ---- rotations ---------------------------------------------------------

    fn replace_child(&mut self, parent: Option<NodeId>, old: NodeId, new: Option<NodeId>) {
        match parent {
            None => self.root = new,
            Some(p) => {
                self.touch(p);
                if self.nodes[p].left == Some(old) {
                    self.nodes[p].left = new;
                } else {
                    self.nodes[p].right = new;
                }
            }
        }
    }

    /// Rotations keep the set of nodes under the top unchanged, so only the two
    /// rotated nodes need their subtree gap recomputed (lower one first).
    fn rotate_left(&mut self, x: NodeId) {
        let Some(y) = self.nodes[x].right else { return };
        self.tally(|w| w.rotations += 1);
        let yl = self.nodes[y].left;
        self.nodes[x].right = yl;
        if let Some(c) = yl {
            self.nodes[c].parent = Some(x);
            self.touch(c);
        }
        let xp = self.nodes[x].parent;
        self.nodes[y].parent = xp;
        self.replace_child(xp, x, Some(y));
        self.nodes[y].left = Some(x);
        self.nodes[x].parent = Some(y);
        self.recompute_subtree_gap(x);
        self.recompute_subtree_gap(y);
    }

    fn rotate_right(&mut self, x: NodeId) {
        let Some(y) = self.nodes[x].left else { return };
        self.tally(|w| w.rotations += 1);
        let yr = self.nodes[y].right;
        self.nodes[x].left = yr;
        if let Some(c) = yr {
            self.nodes[c].parent = Some(x);
            self.touch(c);
        }
        let xp = self.nodes[x].parent;
        self.nodes[y].parent = xp;
        self.replace_child(xp, x, Some(y));
        self.nodes[y].right = Some(x);
        self.nodes[x].parent = Some(y);
        self.recompute_subtree_gap(x);
        self.recompute_subtree_gap(y);
    }

    // ---- queries -----------------------------------------------------------

    /// `find_vma()`: the first interval with `end > addr`, by the kernel's descent.
    pub fn find_vma(&self, addr: u64) -> Option<Interval> {
        let mut n = self.root;
        let mut found = None;
        while let Some(id) = n {
            self.tally(|w| w.search_steps += 1);
            self.touch(id);
            let node = &self.nodes[id];
            if node.iv.end > addr {
                found = Some(node.iv);
                if node.iv.start <= addr {
                    break;
                }
                n = node.left;
            } else {
                n = node.right;
            }
        }
        found
    }

    fn find_node_by_start(&self, start: u64) -> Option<NodeId> {
        let mut n = self.root;
        while let Some(id) = n {
            self.tally(|w| w.search_steps += 1);
            self.touch(id);
            let s = self.nodes[id].iv.start;
            if start == s {
                return Some(id);
            }
            n = if start < s {
                self.nodes[id].left
            } else {
                self.nodes[id].right
            };
        }
        None
    }

    /// All intervals in address order (in-order traversal).
    pub fn iter(&self) -> RbIter<'_> {
        RbIter {
            tree: self,
            next: self.root.map(|r| self.first_in(r)),
        }
    }

    // ---- insert ------------------------------------------------------------

    /// `vma_link()`: insert an interval that overlaps nothing.
    pub fn insert(&mut self, iv: Interval) -> Result<(), RbInsertError> {
        if iv.start >= iv.end {
            return Err(RbInsertError::Empty {
                start: iv.start,
                end: iv.end,
            });
        }
        // The kernel finds an overlap during its position search: this check is not counted.
        let counting = self.work.take();
        let overlap = self.find_vma(iv.start);
        *self.work.get_mut() = counting;
        if let Some(ex) = overlap {
            if ex.start < iv.end {
                return Err(RbInsertError::Overlap {
                    start: iv.start,
                    end: iv.end,
                    existing_start: ex.start,
                    existing_end: ex.end,
                });
            }
        }
        // find_vma_links(): descend by address to the leaf position.
        let mut parent = None;
        let mut go_left = false;
        let mut cur = self.root;
        while let Some(id) = cur {
            self.tally(|w| w.search_steps += 1);
            self.touch(id);
            parent = Some(id);
            go_left = iv.end <= self.nodes[id].iv.start;
            cur = if go_left {
                self.nodes[id].left
            } else {
                self.nodes[id].right
            };
        }
        let n = self.alloc(Node {
            iv,
            color: Color::Red,
            parent,
            left: None,
            right: None,
            gap: 0,
            subtree_gap: 0,
        });
        self.link_new(n, parent, go_left);
        Ok(())
    }

    /// Link the fresh red node `n` under `parent`, then fix gaps and colours.
    fn link_new(&mut self, n: NodeId, parent: Option<NodeId>, go_left: bool) {
        self.touch(n);
        match parent {
            None => self.root = Some(n),
            Some(p) if go_left => self.nodes[p].left = Some(n),
            Some(p) => self.nodes[p].right = Some(n),
        }
        self.len += 1;
        // The new node and its successor have new predecessors, so new gaps.
        self.update_own_gap(n);
        self.propagate(Some(n));
        if let Some(next) = self.next_node(n) {
            self.update_own_gap(next);
            self.propagate(Some(next));
        }
        self.insert_fixup(n);
    }

    /// `dup_mmap()`'s link before 6.1: the copy of each VMA goes to the right of the
    /// previous copy, which the caller holds, so there is no search. `iv` must start
    /// at or above the end of the last interval.
    pub fn append(&mut self, iv: Interval) -> Result<(), RbInsertError> {
        let last = self.root.map(|r| {
            // The caller's `prev`: found without counting.
            let mut n = r;
            while let Some(x) = self.nodes[n].right {
                n = x;
            }
            n
        });
        if let Some(l) = last {
            let ex = self.nodes[l].iv;
            if iv.start < ex.end {
                return Err(RbInsertError::Overlap {
                    start: iv.start,
                    end: iv.end,
                    existing_start: ex.start,
                    existing_end: ex.end,
                });
            }
        }
        if iv.start >= iv.end {
            return Err(RbInsertError::Empty {
                start: iv.start,
                end: iv.end,
            });
        }
        let n = self.alloc(Node {
            iv,
            color: Color::Red,
            parent: last,
            left: None,
            right: None,
            gap: 0,
            subtree_gap: 0,
        });
        self.link_new(n, last, false);
        Ok(())
    }

    fn insert_fixup(&mut self, mut z: NodeId) {
        while let Some(p) = self.nodes[z]
            .parent
            .filter(|&p| self.nodes[p].color == Color::Red)
        {
            // A red parent is never the root, so the grandparent exists.
            let Some(g) = self.nodes[p].parent else { break };
            if self.nodes[g].left == Some(p) {
                let uncle = self.nodes[g].right;
                if self.is_red_read(uncle) {
                    if let Some(u) = uncle {
                        self.set_color(u, Color::Black);
                    }
                    self.set_color(p, Color::Black);
                    self.set_color(g, Color::Red);
                    z = g;
                } else {
                    let mut p = p;
                    if self.nodes[p].right == Some(z) {
                        z = p;
                        self.rotate_left(z);
                        p = self.nodes[z].parent.unwrap_or(z);
                    }
                    self.set_color(p, Color::Black);
                    self.set_color(g, Color::Red);
                    self.rotate_right(g);
                }
            } else {
                let uncle = self.nodes[g].left;
                if self.is_red_read(uncle) {
                    if let Some(u) = uncle {
                        self.set_color(u, Color::Black);
                    }
                    self.set_color(p, Color::Black);
                    self.set_color(g, Color::Red);
                    z = g;
                } else {
                    let mut p = p;
                    if self.nodes[p].left == Some(z) {
                        z = p;
                        self.rotate_right(z);
                        p = self.nodes[z].parent.unwrap_or(z);
                    }
                    self.set_color(p, Color::Black);
                    self.set_color(g, Color::Red);
                    self.rotate_left(g);
                }
            }
        }
        if let Some(r) = self.root {
            self.set_color(r, Color::Black);
        }
    }

    // ---- erase -------------------------------------------------------------

    /// `vma_rb_erase()`: remove the interval starting at `start`.
    pub fn erase(&mut self, start: u64) -> Option<Interval> {
        let z = self.find_node_by_start(start)?;
        let removed = self.nodes[z].iv;
        // With two children the in-order successor's payload moves into `z`
        // and the successor's node (at most one child) is unlinked instead.
        let (d, succ) = match (self.nodes[z].left, self.nodes[z].right) {
            (Some(_), Some(r)) => {
                let y = self.first_in(r);
                self.touch(z);
                self.nodes[z].iv = self.nodes[y].iv;
                (y, Some(z))
            }
            _ => (z, self.next_node(z)),
        };
        let child = self.nodes[d].left.or(self.nodes[d].right);
        let parent = self.nodes[d].parent;
        self.replace_child(parent, d, child);
        if let Some(c) = child {
            self.nodes[c].parent = parent;
            self.touch(c);
        }
        let d_black = self.nodes[d].color == Color::Black;
        self.free.push(d);
        self.len -= 1;

        self.propagate(parent);
        if let Some(s) = succ {
            self.update_own_gap(s);
            self.propagate(Some(s));
        }
        if d_black {
            if self.is_red(child) {
                if let Some(c) = child {
                    self.set_color(c, Color::Black);
                }
            } else {
                self.erase_fixup(child, parent);
            }
        }
        Some(removed)
    }

    /// CLRS delete fixup for a "doubly black" position `x` under `parent`.
    fn erase_fixup(&mut self, mut x: Option<NodeId>, mut parent: Option<NodeId>) {
        while x != self.root && !self.is_red(x) {
            let Some(p) = parent else { break };
            if self.nodes[p].left == x {
                let Some(mut w) = self.nodes[p].right else {
                    break;
                };
                if self.nodes[w].color == Color::Red {
                    self.set_color(w, Color::Black);
                    self.set_color(p, Color::Red);
                    self.rotate_left(p);
                    let Some(nw) = self.nodes[p].right else { break };
                    w = nw;
                }
                self.touch(w);
                if !self.is_red_read(self.nodes[w].left) && !self.is_red_read(self.nodes[w].right) {
                    self.set_color(w, Color::Red);
                    x = Some(p);
                    parent = self.nodes[p].parent;
                } else {
                    if !self.is_red(self.nodes[w].right) {
                        if let Some(wl) = self.nodes[w].left {
                            self.set_color(wl, Color::Black);
                        }
                        self.set_color(w, Color::Red);
                        self.rotate_right(w);
                        let Some(nw) = self.nodes[p].right else { break };
                        w = nw;
                    }
                    self.set_color(w, self.nodes[p].color);
                    self.set_color(p, Color::Black);
                    if let Some(wr) = self.nodes[w].right {
                        self.set_color(wr, Color::Black);
                    }
                    self.rotate_left(p);
                    x = self.root;
                    parent = None;
                }
            } else {
                let Some(mut w) = self.nodes[p].left else {
                    break;
                };
                if self.nodes[w].color == Color::Red {
                    self.set_color(w, Color::Black);
                    self.set_color(p, Color::Red);
                    self.rotate_right(p);
                    let Some(nw) = self.nodes[p].left else { break };
                    w = nw;
                }
                self.touch(w);
                if !self.is_red_read(self.nodes[w].left) && !self.is_red_read(self.nodes[w].right) {
                    self.set_color(w, Color::Red);
                    x = Some(p);
                    parent = self.nodes[p].parent;
                } else {
                    if !self.is_red(self.nodes[w].left) {
                        if let Some(wr) = self.nodes[w].right {
                            self.set_color(wr, Color::Black);
                        }
                        self.set_color(w, Color::Red);
                        self.rotate_left(w);
                        let Some(nw) = self.nodes[p].left else { break };
                        w = nw;
                    }
                    self.set_color(w, self.nodes[p].color);
                    self.set_color(p, Color::Black);
                    if let Some(wl) = self.nodes[w].left {
                        self.set_color(wl, Color::Black);
                    }
                    self.rotate_right(p);
                    x = self.root;
                    parent = None;
                }
            }
        }
        if let Some(xn) = x {
            self.set_color(xn, Color::Black);
        }
    }

    // ---- unmapped-area searches -------------------------------------------

    /// `unmapped_area()` without alignment: the lowest `addr >= low` with
    /// `addr + length <= high` such that `[addr, addr + length)` lies in a gap
    /// (gaps measured with the stack guard, the last one ending at `u64::MAX`).
    /// Subtrees whose `rb_subtree_gap` is below `length` are skipped.
    pub fn unmapped_area(&self, length: u64, low: u64, high: u64) -> Option<u64> {
        if length == 0 || high < length || low > high - length {
            return None;
        }
        if let Some(a) = self.lowest_in(self.root, length, low, high) {
            return Some(a);
        }
        fit_low(self.highest_vm_end(), u64::MAX, length, low, high)
    }

    fn lowest_in(&self, n: Option<NodeId>, length: u64, low: u64, high: u64) -> Option<u64> {
        let id = n?;
        let node = &self.nodes[id];
        if node.subtree_gap < length {
            return None;
        }
        if let Some(a) = self.lowest_in(node.left, length, low, high) {
            return Some(a);
        }
        if node.gap >= length {
            let end = vm_start_gap(&node.iv, self.stack_guard_gap);
            if let Some(a) = fit_low(end - node.gap, end, length, low, high) {
                return Some(a);
            }
        }
        self.lowest_in(node.right, length, low, high)
    }

    /// `unmapped_area_topdown()` without alignment: the highest such `addr`.
    pub fn unmapped_area_topdown(&self, length: u64, low: u64, high: u64) -> Option<u64> {
        if length == 0 || high < length || low > high - length {
            return None;
        }
        if let Some(a) = fit_high(self.highest_vm_end(), u64::MAX, length, low, high) {
            return Some(a);
        }
        self.highest_in(self.root, length, low, high)
    }

    fn highest_in(&self, n: Option<NodeId>, length: u64, low: u64, high: u64) -> Option<u64> {
        let id = n?;
        let node = &self.nodes[id];
        if node.subtree_gap < length {
            return None;
        }
        if let Some(a) = self.highest_in(node.right, length, low, high) {
            return Some(a);
        }
        if node.gap >= length {
            let end = vm_start_gap(&node.iv, self.stack_guard_gap);
            if let Some(a) = fit_high(end - node.gap, end, length, low, high) {
                return Some(a);
            }
        }
        self.highest_in(node.left, length, low, high)
    }

    // ---- invariant checker -------------------------------------------------

    /// Checks BST order, no overlap, root black, no red-red edge, equal black
    /// height, parent links, the element count, and every own and subtree gap
    /// recomputed from scratch.
    pub fn validate(&self) -> Result<(), RbInvariantError> {
        let err = |s: String| Err(RbInvariantError(s));
        let Some(root) = self.root else {
            return if self.len == 0 {
                Ok(())
            } else {
                err(format!("empty root but len {}", self.len))
            };
        };
        if self.nodes[root].parent.is_some() {
            return err("root has a parent".into());
        }
        if self.nodes[root].color != Color::Black {
            return err("root is red".into());
        }
        // Iterative DFS computing black heights and subtree gaps bottom-up.
        let mut count = 0usize;
        let mut order: Vec<NodeId> = Vec::with_capacity(self.len);
        let mut stack: Vec<(NodeId, bool)> = vec![(root, false)];
        let mut black_h: Vec<usize> = vec![0; self.nodes.len()];
        let mut sub: Vec<u64> = vec![0; self.nodes.len()];
        // In-order walk first for order and own gaps.
        {
            let mut st = Vec::new();
            let mut cur = Some(root);
            while cur.is_some() || !st.is_empty() {
                while let Some(c) = cur {
                    if st.len() > 2 * 64 + 2 {
                        return err("tree deeper than any red-black tree of this size".into());
                    }
                    st.push(c);
                    cur = self.nodes[c].left;
                }
                let Some(c) = st.pop() else { break };
                order.push(c);
                if order.len() > self.len {
                    return err(format!("more nodes reachable than len {}", self.len));
                }
                cur = self.nodes[c].right;
            }
        }
        if order.len() != self.len {
            return err(format!("{} nodes reachable, len {}", order.len(), self.len));
        }
        let mut prev: Option<Interval> = None;
        for &n in &order {
            let iv = self.nodes[n].iv;
            if iv.start >= iv.end {
                return err(format!("empty interval [{:#x}, {:#x})", iv.start, iv.end));
            }
            if let Some(p) = prev {
                if p.end > iv.start {
                    return err(format!(
                        "[{:#x}, {:#x}) not before [{:#x}, {:#x})",
                        p.start, p.end, iv.start, iv.end
                    ));
                }
            }
            let want = vma_compute_gap(&iv, prev.as_ref(), self.stack_guard_gap);
            if self.nodes[n].gap != want {
                return err(format!(
                    "gap of {:#x}: stored {:#x}, expected {:#x}",
                    iv.start, self.nodes[n].gap, want
                ));
            }
            prev = Some(iv);
        }
        while let Some((n, visited)) = stack.pop() {
            let node = &self.nodes[n];
            if !visited {
                count += 1;
                if count > self.len {
                    return err("cycle".into());
                }
                stack.push((n, true));
                for c in [node.left, node.right].into_iter().flatten() {
                    if self.nodes[c].parent != Some(n) {
                        return err(format!(
                            "parent link of {:#x} wrong",
                            self.nodes[c].iv.start
                        ));
                    }
                    if node.color == Color::Red && self.nodes[c].color == Color::Red {
                        return err(format!("red {:#x} has red child", node.iv.start));
                    }
                    stack.push((c, false));
                }
            } else {
                let bh = |c: Option<NodeId>| c.map_or(0, |c| black_h[c]);
                let (lh, rh) = (bh(node.left), bh(node.right));
                if lh != rh {
                    return err(format!(
                        "black heights differ under {:#x}: {lh} vs {rh}",
                        node.iv.start
                    ));
                }
                black_h[n] = lh + usize::from(node.color == Color::Black);
                let sg = |c: Option<NodeId>| c.map_or(0, |c| sub[c]);
                sub[n] = node.gap.max(sg(node.left)).max(sg(node.right));
                if node.subtree_gap != sub[n] {
                    return err(format!(
                        "rb_subtree_gap of {:#x}: stored {:#x}, expected {:#x}",
                        node.iv.start, node.subtree_gap, sub[n]
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Lowest `addr` in gap `[gs, ge)` with `addr >= low`, `addr + len <= min(ge, high)`.
pub fn fit_low(gs: u64, ge: u64, len: u64, low: u64, high: u64) -> Option<u64> {
    let addr = gs.max(low);
    let end = addr.checked_add(len)?;
    (ge > gs && end <= ge.min(high)).then_some(addr)
}

/// Highest `addr` in gap `[gs, ge)` with `addr >= low`, `addr + len <= min(ge, high)`.
pub fn fit_high(gs: u64, ge: u64, len: u64, low: u64, high: u64) -> Option<u64> {
    let top = ge.min(high);
    let addr = top.checked_sub(len)?;
    (ge > gs && addr >= gs.max(low)).then_some(addr)
}

pub struct RbIter<'a> {
    tree: &'a RbTree,
    next: Option<NodeId>,
}

impl Iterator for RbIter<'_> {
    type Item = Interval;
    fn next(&mut self) -> Option<Interval> {
        let n = self.next?;
        self.next = self.tree.next_node(n);
        Some(self.tree.nodes[n].iv)
    }
}

/// One node as exported for encoders (tests building kernel-layout images).
#[derive(Clone, Copy, Debug)]
pub struct ExportRb {
    pub id: usize,
    pub iv: Interval,
    pub color: Color,
    pub parent: Option<usize>,
    pub left: Option<usize>,
    pub right: Option<usize>,
    pub subtree_gap: u64,
}

impl RbTree {
    /// The root id and every node in address order.
    pub fn export(&self) -> (Option<usize>, Vec<ExportRb>) {
        let mut out = Vec::with_capacity(self.len);
        let mut n = self.root.map(|r| self.first_in(r));
        while let Some(id) = n {
            let x = &self.nodes[id];
            out.push(ExportRb {
                id,
                iv: x.iv,
                color: x.color,
                parent: x.parent,
                left: x.left,
                right: x.right,
                subtree_gap: x.subtree_gap,
            });
            n = self.next_node(id);
        }
        (self.root, out)
    }
}
