//! Red-black tree + VMA list invariants on raw snapshots (kernels before 6.1),
//! mirroring `validate_mm()` / `browse_rb()` / `vma_compute_subtree_gap()` under
//! CONFIG_DEBUG_VM_RB in mm/mmap.c, plus the per-thread vmacache.

use std::collections::{HashMap, HashSet};

use super::maple::WalkedVma;
use super::{hex, MmFacts, Report, VmaSource, VM_GROWSDOWN};
use crate::reimpl::rbtree::{vm_start_gap, Interval};
use crate::trees::list::ListSnapshot;
use crate::trees::rbtree::{color_name, RbNodeSnap, RbSnapshot, RB_BLACK, RB_RED};
use crate::trees::IssueKind;

/// `VMACACHE_SHIFT` is `PMD_SHIFT` on x86_64 (mm/vmacache.c, 5.10).
const VMACACHE_SHIFT: u32 = 21;
const VMACACHE_MASK: u64 = 3;

/// Node address -> snapshot position.
pub struct RbIndex<'a> {
    pub snap: &'a RbSnapshot,
    by_addr: HashMap<u64, usize>,
}

impl<'a> RbIndex<'a> {
    pub fn new(snap: &'a RbSnapshot) -> Self {
        let by_addr = snap
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.node, i))
            .collect();
        RbIndex { snap, by_addr }
    }

    pub fn pos(&self, node: u64) -> Option<usize> {
        self.by_addr.get(&node).copied()
    }

    pub fn node(&self, node: u64) -> Option<&'a RbNodeSnap> {
        self.pos(node).and_then(|i| self.snap.nodes.get(i))
    }

    /// The child at `addr` if the walk reached it from `parent`.
    pub fn child(&self, parent: u64, addr: u64) -> Option<&'a RbNodeSnap> {
        if addr == 0 {
            return None;
        }
        self.node(addr).filter(|c| c.came_from == parent)
    }
}

/// Validate tree, list and mm fields; returns the VMAs in tree order.
pub fn validate(
    tree: &RbSnapshot,
    list: &ListSnapshot,
    facts: &MmFacts,
    vmas: &dyn VmaSource,
    r: &mut Report,
) -> Vec<WalkedVma> {
    let idx = RbIndex::new(tree);
    report_walk_issues(&idx, list, r);
    validate_nodes(&idx, r);
    let (walked, own_gap) = validate_order(tree, facts, vmas, r);
    validate_heights_and_gaps(&idx, &own_gap, r);
    validate_list(tree, list, &walked, r);
    validate_counts(list, facts, &walked, r);
    validate_vmacache(facts, &walked, r);
    walked
}

/// What the tree and list walks met on the way (bad pointers, cycles).
fn report_walk_issues(idx: &RbIndex<'_>, list: &ListSnapshot, r: &mut Report) {
    for issue in &idx.snap.issues {
        match issue.kind {
            IssueKind::Cycle => report_cycle(idx, issue.addr, r),
            _ => r.fail(
                "rb.walk",
                issue.addr,
                "node",
                "a readable rb_node",
                issue.to_string(),
            ),
        }
    }
    for issue in &list.issues {
        let check = if issue.kind == IssueKind::Cycle {
            "rb.list"
        } else {
            "rb.walk"
        };
        r.fail(
            check,
            issue.addr,
            "vm_next",
            "a list ending in NULL",
            issue.to_string(),
        );
    }
}

/// Root: no parent, black. Per node: parent link, empty marker, red-red.
fn validate_nodes(idx: &RbIndex<'_>, r: &mut Report) {
    let tree = idx.snap;
    if let Some(root) = idx.node(tree.root) {
        expect!(
            r,
            "rb.root",
            root.parent_color == u64::from(RB_BLACK),
            root.node,
            "__rb_parent_color",
            || { "0x1 (no parent, black)".into() },
            || hex(root.parent_color)
        );
    }

    for n in &tree.nodes {
        let empty = n.parent_color == n.node;
        expect!(
            r,
            "rb.parent",
            !empty,
            n.node,
            "__rb_parent_color",
            || "a node in the tree".into(),
            || { "points to itself (RB_EMPTY_NODE)".into() }
        );
        expect!(
            r,
            "rb.parent",
            n.parent == n.came_from,
            n.node,
            "__rb_parent_color",
            || { format!("parent {}", hex(n.came_from)) },
            || format!("parent {} ({})", hex(n.parent), hex(n.parent_color))
        );
        if n.color == RB_RED {
            for (field, c) in [("rb_left", n.left), ("rb_right", n.right)] {
                if let Some(child) = idx.child(n.node, c) {
                    expect!(
                        r,
                        "rb.color",
                        child.color != RB_RED,
                        n.node,
                        "__rb_parent_color",
                        || {
                            format!("no red node with a red child ({field} {})", hex(child.node))
                        },
                        || format!(
                            "red with {} {field} {}",
                            color_name(child.color),
                            hex(child.node)
                        )
                    );
                } else {
                    r.checked("rb.color", 1);
                }
            }
        }
    }
}

/// Order, VMA fields, own gaps, in-order predecessor: the VMAs in tree order and
/// each node's own gap.
fn validate_order(
    tree: &RbSnapshot,
    facts: &MmFacts,
    vmas: &dyn VmaSource,
    r: &mut Report,
) -> (Vec<WalkedVma>, HashMap<u64, u64>) {
    let guard = facts.stack_guard_gap;
    let mut walked = Vec::with_capacity(tree.nodes.len());
    let mut own_gap: HashMap<u64, u64> = HashMap::with_capacity(tree.nodes.len());
    let mut prev: Option<Interval> = None;
    for n in &tree.nodes {
        let Some(v) = n.vma else { continue };
        let fields = vmas.vma(v.vma);
        let (flags, mm) = match &fields {
            Ok(f) => (f.vm_flags, f.vm_mm),
            Err(e) => {
                r.fail(
                    "rb.vma",
                    v.vma,
                    "vm_area_struct",
                    "a readable vm_area_struct",
                    e.clone(),
                );
                (0, facts.mm)
            }
        };
        expect!(
            r,
            "rb.vm_mm",
            mm == facts.mm,
            v.vma,
            "vm_mm",
            || hex(facts.mm),
            || hex(mm)
        );
        let iv = Interval {
            start: v.vm_start,
            end: v.vm_end,
            grows_down: flags & VM_GROWSDOWN != 0,
        };
        let shape_ok = iv.start < iv.end
            && iv.start.is_multiple_of(4096)
            && iv.end.is_multiple_of(4096)
            && iv.end <= facts.task_size;
        expect!(
            r,
            "rb.order",
            shape_ok,
            v.vma,
            "vm_start/vm_end",
            || { format!("page-aligned, non-empty, below {}", hex(facts.task_size)) },
            || format!("[{}, {})", hex(iv.start), hex(iv.end))
        );
        if let Some(p) = prev {
            expect!(
                r,
                "rb.order",
                p.end <= iv.start,
                v.vma,
                "vm_start",
                || { format!(">= {} (end of the previous VMA in tree order)", hex(p.end)) },
                || hex(iv.start)
            );
        }
        let gap = crate::reimpl::rbtree::vma_compute_gap(&iv, prev.as_ref(), guard);
        own_gap.insert(n.node, gap);
        walked.push(WalkedVma {
            vma: v.vma,
            start: iv.start,
            end: iv.end,
            flags,
        });
        prev = Some(iv);
    }
    r.vmas += walked.len() as u64;
    (walked, own_gap)
}

/// Black height and rb_subtree_gap, bottom-up over the tree shape.
fn validate_heights_and_gaps(idx: &RbIndex<'_>, own_gap: &HashMap<u64, u64>, r: &mut Report) {
    let order = postorder(idx);
    let mut bh: HashMap<u64, Option<u32>> = HashMap::with_capacity(order.len());
    let mut sub: HashMap<u64, Option<u64>> = HashMap::with_capacity(order.len());
    for &a in &order {
        let Some(n) = idx.node(a) else { continue };
        // A child that was not walked (fault, cycle) leaves this subtree unknown.
        let kid = |c: u64| -> Result<Option<u64>, ()> {
            if c == 0 {
                Ok(None)
            } else if idx.child(a, c).is_some() {
                Ok(Some(c))
            } else {
                Err(())
            }
        };
        let (l, rr) = (kid(n.left), kid(n.right));
        let known = l.is_ok() && rr.is_ok();
        let (l, rr) = (l.ok().flatten(), rr.ok().flatten());
        let h = |c: Option<u64>| c.map_or(Some(0), |c| bh.get(&c).copied().flatten());
        let (lh, rh) = (h(l), h(rr));
        let mine = match (known, lh, rh) {
            (true, Some(x), Some(y)) => {
                expect!(
                    r,
                    "rb.black_height",
                    x == y,
                    a,
                    "black height",
                    || { format!("equal on both sides (left {x})") },
                    || format!("right {y}")
                );
                Some(x + u32::from(n.color == RB_BLACK))
            }
            _ => None,
        };
        bh.insert(a, mine);

        let sg = |c: Option<u64>| c.map_or(Some(0), |c| sub.get(&c).copied().flatten());
        let g = match (known, own_gap.get(&a), sg(l), sg(rr)) {
            (true, Some(&own), Some(x), Some(y)) => Some(own.max(x).max(y)),
            _ => None,
        };
        if let (Some(want), Some(v)) = (g, n.vma) {
            if let Some(stored) = v.rb_subtree_gap {
                expect!(
                    r,
                    "rb.subtree_gap",
                    stored == want,
                    v.vma,
                    "rb_subtree_gap",
                    || hex(want),
                    || hex(stored)
                );
            }
        }
        sub.insert(a, g);
    }
}

/// map_count against the tree and the list; highest_vm_end against the last VMA.
fn validate_counts(list: &ListSnapshot, facts: &MmFacts, walked: &[WalkedVma], r: &mut Report) {
    let count = walked.len() as u64;
    expect!(
        r,
        "rb.map_count",
        count == facts.map_count,
        facts.mm,
        "map_count",
        || { format!("{count} (VMAs in the tree)") },
        || facts.map_count.to_string()
    );
    let lcount = list.entries.len() as u64;
    expect!(
        r,
        "rb.map_count",
        lcount == facts.map_count,
        facts.mm,
        "map_count",
        || { format!("{lcount} (VMAs on the list)") },
        || facts.map_count.to_string()
    );
    if let Some(h) = facts.highest_vm_end {
        let want = walked.last().map_or(0, |v| v.end);
        expect!(
            r,
            "rb.highest_vm_end",
            h == want,
            facts.mm,
            "highest_vm_end",
            || { format!("{} (vm_end of the last VMA)", hex(want)) },
            || hex(h)
        );
    }
}

/// Nodes in post-order (children before parents) following only the edges the
/// walk took, so a corrupt link cannot loop.
fn postorder(idx: &RbIndex<'_>) -> Vec<u64> {
    let mut out = Vec::with_capacity(idx.snap.nodes.len());
    let Some(root) = idx.node(idx.snap.root) else {
        return out;
    };
    let mut stack = vec![(root.node, false)];
    let mut seen = HashSet::new();
    while let Some((a, done)) = stack.pop() {
        if done {
            out.push(a);
            continue;
        }
        if !seen.insert(a) {
            continue;
        }
        stack.push((a, true));
        if let Some(n) = idx.node(a) {
            for c in [n.right, n.left] {
                if idx.child(a, c).is_some() {
                    stack.push((c, false));
                }
            }
        }
    }
    out
}

/// A node reached twice: name the link that points back at it.
fn report_cycle(idx: &RbIndex<'_>, target: u64, r: &mut Report) {
    let first = idx.node(target).map(|n| n.came_from);
    let mut named = false;
    for n in &idx.snap.nodes {
        for (field, c) in [("rb_left", n.left), ("rb_right", n.right)] {
            if c == target && first != Some(n.node) {
                r.fail(
                    "rb.cycle",
                    n.node,
                    field,
                    "a child not already in the tree",
                    format!("{} (reached before)", hex(c)),
                );
                named = true;
            }
        }
    }
    if !named {
        r.fail("rb.cycle", target, "node", "reached once", "reached twice");
    }
}

/// The `mmap` list in `vm_next` order equals the tree order; `vm_prev` is its inverse.
fn validate_list(tree: &RbSnapshot, list: &ListSnapshot, walked: &[WalkedVma], r: &mut Report) {
    let order: Vec<u64> = tree.vmas().map(|v| v.vma).collect();
    let first = order.first().copied().unwrap_or(0);
    expect!(
        r,
        "rb.list",
        list.first == first,
        list.first,
        "mm->mmap",
        || hex(first),
        || hex(list.first)
    );
    for (i, e) in list.entries.iter().enumerate() {
        if order.get(i) != Some(&e.addr) {
            break;
        }
        let want_next = order.get(i + 1).copied().unwrap_or(0);
        expect!(
            r,
            "rb.list",
            e.next == want_next,
            e.addr,
            "vm_next",
            || { format!("{} (next VMA in tree order)", hex(want_next)) },
            || hex(e.next)
        );
        if e.next != want_next {
            break;
        }
    }
    for (i, e) in list.entries.iter().enumerate() {
        let want_prev = if i == 0 { 0 } else { list.entries[i - 1].addr };
        expect!(
            r,
            "rb.vm_prev",
            e.prev == want_prev,
            e.addr,
            "vm_prev",
            || hex(want_prev),
            || hex(e.prev)
        );
        if let (Some((s, en)), Some(w)) = (e.range, walked.get(i)) {
            if w.vma == e.addr {
                expect!(
                    r,
                    "rb.list",
                    s == w.start && en == w.end,
                    e.addr,
                    "vm_start/vm_end",
                    || { format!("[{}, {})", hex(w.start), hex(w.end)) },
                    || format!("[{}, {})", hex(s), hex(en))
                );
            }
        }
    }
}

/// 5.10 `vmacache`: with a current seqnum, each cached VMA is in the tree and sits
/// in a slot some address inside it hashes to.
fn validate_vmacache(facts: &MmFacts, walked: &[WalkedVma], r: &mut Report) {
    let Some(seq) = facts.vmacache_seqnum else {
        return;
    };
    // find_vma(addr) caches its answer under hash(addr), and addr may lie in the
    // gap below the VMA it returns: the slot must be reachable from
    // [previous vm_end, vm_end).
    let by_vma: HashMap<u64, (u64, &WalkedVma)> = walked
        .iter()
        .enumerate()
        .map(|(i, v)| (v.vma, (if i == 0 { 0 } else { walked[i - 1].end }, v)))
        .collect();
    for t in &facts.vmacaches {
        if t.seqnum != seq {
            r.checked("vmacache", 1);
            continue;
        }
        for (k, &v) in t.vmas.iter().enumerate() {
            if v == 0 {
                continue;
            }
            let field = format!("vmacache.vmas[{k}] (tid {})", t.tid);
            let Some(&(below, w)) = by_vma.get(&v) else {
                r.fail("vmacache", t.task, field, "a VMA of this mm's tree", hex(v));
                continue;
            };
            let lo = below >> VMACACHE_SHIFT;
            let hi = w.end.saturating_sub(1) >> VMACACHE_SHIFT;
            let ok = (lo..=hi.min(lo + 3)).any(|j| j & VMACACHE_MASK == k as u64);
            expect!(
                r,
                "vmacache",
                ok,
                t.task,
                field,
                || {
                    format!(
                        "slot hashed from an address in [{}, {})",
                        hex(below),
                        hex(w.end)
                    )
                },
                || format!("{} in slot {k}", hex(v))
            );
        }
    }
}

/// `find_vma()` over the snapshot with the kernel's descent (left when
/// `vm_end > addr`, stop when the VMA contains `addr`).
pub fn snapshot_find_vma(idx: &RbIndex<'_>, addr: u64) -> Option<(u64, u64, u64)> {
    let mut cur = idx.node(idx.snap.root)?;
    let mut found = None;
    for _ in 0..=idx.snap.nodes.len() {
        let v = cur.vma?;
        let next = if v.vm_end > addr {
            found = Some((v.vm_start, v.vm_end, v.vma));
            if v.vm_start <= addr {
                break;
            }
            cur.left
        } else {
            cur.right
        };
        match idx.child(cur.node, next) {
            Some(c) => cur = c,
            None => break,
        }
    }
    found
}

/// One unmapped-area question: `length` bytes inside `[low, high)`, lowest or highest fit.
#[derive(Debug, Clone, Copy)]
pub struct GapQuery {
    pub length: u64,
    pub low: u64,
    pub high: u64,
    pub topdown: bool,
}

/// `unmapped_area()` (lowest) or `unmapped_area_topdown()` guided by the stored `rb_subtree_gap` values; own
/// gaps come from the in-order predecessor as `vma_compute_gap()` computes them.
pub fn stored_unmapped_area(
    idx: &RbIndex<'_>,
    walked: &[WalkedVma],
    guard: u64,
    highest_vm_end: u64,
    q: GapQuery,
) -> Option<u64> {
    use crate::reimpl::rbtree::{fit_high, fit_low};
    let GapQuery {
        length,
        low,
        high,
        topdown,
    } = q;
    if length == 0 || high < length || low > high - length {
        return None;
    }
    // Own gap [start, end) per node from the walked order.
    let mut own: HashMap<u64, (u64, u64)> = HashMap::with_capacity(walked.len());
    let mut prev_end = 0;
    let nodes: Vec<&RbNodeSnap> = idx.snap.nodes.iter().filter(|n| n.vma.is_some()).collect();
    for (n, w) in nodes.iter().zip(walked) {
        let iv = Interval {
            start: w.start,
            end: w.end,
            grows_down: w.flags & VM_GROWSDOWN != 0,
        };
        own.insert(n.node, (prev_end, vm_start_gap(&iv, guard)));
        prev_end = w.end;
    }
    let fit = |gs: u64, ge: u64| {
        if topdown {
            fit_high(gs, ge, length, low, high)
        } else {
            fit_low(gs, ge, length, low, high)
        }
    };
    if topdown {
        if let Some(a) = fit(highest_vm_end, u64::MAX) {
            return Some(a);
        }
    }
    let found = idx
        .node(idx.snap.root)
        .and_then(|root| search(idx, root, &own, length, topdown, &fit, 0));
    if found.is_some() || topdown {
        return found;
    }
    fit(highest_vm_end, u64::MAX)
}

fn search(
    idx: &RbIndex<'_>,
    n: &RbNodeSnap,
    own: &HashMap<u64, (u64, u64)>,
    length: u64,
    topdown: bool,
    fit: &dyn Fn(u64, u64) -> Option<u64>,
    depth: u32,
) -> Option<u64> {
    if depth > 128
        || n.vma
            .and_then(|v| v.rb_subtree_gap)
            .is_some_and(|g| g < length)
    {
        return None;
    }
    let (first, second) = if topdown {
        (n.right, n.left)
    } else {
        (n.left, n.right)
    };
    if let Some(c) = idx.child(n.node, first) {
        if let Some(a) = search(idx, c, own, length, topdown, fit, depth + 1) {
            return Some(a);
        }
    }
    if let Some(&(gs, ge)) = own.get(&n.node) {
        if ge > gs && ge - gs >= length {
            if let Some(a) = fit(gs, ge) {
                return Some(a);
            }
        }
    }
    let c = idx.child(n.node, second)?;
    search(idx, c, own, length, topdown, fit, depth + 1)
}
