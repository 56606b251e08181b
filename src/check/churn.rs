//! Insert, erase and fork on a process's real VMAs, counted: each VMA in turn is erased
//! from the full structure and inserted back (in the reimplemented rb-tree and maple
//! tree and in a doubly linked list model), and fork's copy is built from scratch as
//! `dup_mmap()` builds it. The trees are handed back so their final state can be
//! compared with the walk they started from.

use super::maple::WalkedVma;
use super::work::{maple_work, rb_work, Lines, OpRow, Work};
use super::VM_GROWSDOWN;
use crate::reimpl::rbtree::Interval;
use crate::reimpl::{MapleTree, RbTree};
use serde::Serialize;

/// `vm_next` / `vm_prev` over the VMAs in address order, by index; `None` ends. Which
/// entries are linked is also kept in a Fenwick tree, so that the walk from the head
/// to an entry is counted by its rank instead of stepping 30,000 times.
struct ListModel {
    starts: Vec<u64>,
    next: Vec<Option<usize>>,
    prev: Vec<Option<usize>>,
    tail: Option<usize>,
    /// Fenwick tree over linked flags (1-based).
    linked: Vec<u64>,
}

/// A list operation: nodes compared, distinct VMAs read or written, pointers written,
/// and the VMAs the link or unlink wrote (the pairing's share).
struct ListOp {
    steps: u64,
    nodes: u64,
    links: u64,
    touched: Vec<u64>,
}

impl ListModel {
    fn new(starts: Vec<u64>) -> ListModel {
        let n = starts.len();
        ListModel {
            starts,
            next: vec![None; n],
            prev: vec![None; n],
            tail: None,
            linked: vec![0; n + 1],
        }
    }

    fn mark(&mut self, i: usize, on: bool) {
        let mut k = i + 1;
        while k < self.linked.len() {
            self.linked[k] = if on {
                self.linked[k] + 1
            } else {
                self.linked[k].saturating_sub(1)
            };
            k += k & k.wrapping_neg();
        }
    }

    /// Linked entries at indices `0..=i`: the nodes a walk from the head reads to reach `i`.
    fn rank(&self, i: usize) -> u64 {
        let (mut k, mut sum) = (i + 1, 0);
        while k > 0 {
            sum += self.linked[k];
            k &= k - 1;
        }
        sum
    }

    fn set(&mut self, at: Option<usize>, next: bool, to: Option<usize>, op: &mut ListOp) {
        let Some(a) = at else {
            if !next {
                self.tail = to;
            }
            return;
        };
        if next {
            self.next[a] = to;
        } else {
            self.prev[a] = to;
        }
        op.links += 1;
        op.touched.push(self.starts[a]);
    }

    /// `__vma_link_list()`: link `i` between `prev` and `next`.
    fn link(&mut self, i: usize, prev: Option<usize>, next: Option<usize>, op: &mut ListOp) {
        self.set(Some(i), true, next, op);
        self.set(Some(i), false, prev, op);
        self.set(prev, true, Some(i), op);
        self.set(next, false, Some(i), op);
        self.mark(i, true);
    }

    fn op(steps: u64) -> ListOp {
        ListOp {
            steps,
            nodes: 0,
            links: 0,
            touched: Vec::new(),
        }
    }

    /// The walk from the head reads every linked entry up to `i`; `__vma_unlink_list()`
    /// then writes its neighbours.
    fn erase(&mut self, i: usize) -> ListOp {
        let (p, n) = (self.prev[i], self.next[i]);
        let mut op = Self::op(self.rank(i));
        self.set(p, true, n, &mut op);
        self.set(n, false, p, &mut op);
        self.mark(i, false);
        op.nodes = op.steps + u64::from(n.is_some());
        op
    }

    /// The walk reads every linked entry up to the first one above `i` (all of them
    /// when none is), then `i` is linked before it.
    fn insert(&mut self, i: usize, next: Option<usize>) -> ListOp {
        let steps = match next {
            Some(n) => self.rank(n),
            None => self.rank(self.starts.len().saturating_sub(1)),
        };
        let prev = match next {
            Some(n) => self.prev[n],
            None => self.tail,
        };
        let mut op = Self::op(steps);
        self.link(i, prev, next, &mut op);
        op.nodes = steps + 1;
        op
    }

    /// Linking after the tail, which fork holds: no search.
    fn append(&mut self, i: usize) -> ListOp {
        let mut op = Self::op(0);
        self.link(i, self.tail, None, &mut op);
        op.nodes = 1 + u64::from(self.prev[i].is_some());
        op
    }

    /// `vm_start` of `i` and its neighbours: what linking or unlinking `i` writes.
    fn around(&self, i: usize) -> Vec<u64> {
        [self.prev[i], Some(i), self.next[i]]
            .into_iter()
            .flatten()
            .map(|k| self.starts[k])
            .collect()
    }

    fn order(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.starts.len());
        let mut cur = self.tail;
        while let Some(c) = cur.filter(|_| out.len() < self.starts.len()) {
            out.push(self.starts[c]);
            cur = self.prev[c];
        }
        out.reverse();
        out
    }
}

/// A list operation's work. Its cache lines are not counted: the walk reads half the
/// VMAs (the lookup row's model gives one line each).
fn list_work(op: &ListOp) -> Work {
    Work {
        search_steps: op.steps,
        nodes: op.nodes,
        links: op.links,
        ..Work::default()
    }
}

fn interval(w: &WalkedVma) -> Interval {
    Interval {
        start: w.start,
        end: w.end,
        grows_down: w.flags & VM_GROWSDOWN != 0,
    }
}

/// The structures of the sections after the lookup rows, in the order of those rows.
pub const STRUCTURES: [&str; 4] = [
    "linked list",
    "rb-tree",
    "rb-tree + list (before 6.1)",
    "maple tree",
];

/// Erase and re-insert of every VMA, and the structures as they are afterwards.
pub struct Churned {
    pub insert: Vec<OpRow>,
    pub erase: Vec<OpRow>,
    pub rb: RbTree,
    pub maple: MapleTree<u64>,
    /// `vm_start` of each VMA, in list order.
    pub list: Vec<u64>,
}

/// Per structure, the work of each operation.
#[derive(Default)]
struct OpLog {
    list: Vec<Work>,
    rb: Vec<Work>,
    both: Vec<Work>,
    maple: Vec<Work>,
}

impl OpLog {
    fn rows(&self, names: [&str; 4]) -> Vec<OpRow> {
        [&self.list, &self.rb, &self.both, &self.maple]
            .iter()
            .zip(names)
            .map(|(ops, name)| OpRow::new(name, ops))
            .collect()
    }
}

/// `vmas` in address order, non-overlapping (a checked walk). Every VMA is erased from
/// the full structures and inserted back; the counters of each step are kept.
pub fn churn(vmas: &[WalkedVma], guard: u64, lines: &Lines<'_>, names: [&str; 4]) -> Churned {
    let starts: Vec<u64> = vmas.iter().map(|w| w.start).collect();
    let mut rb = RbTree::new(guard);
    let mut mt: MapleTree<u64> = MapleTree::new();
    let mut list = ListModel::new(starts);
    for (i, w) in vmas.iter().enumerate() {
        // Refusals cannot happen on a checked walk; the final comparison would show them.
        let _ = rb.append(interval(w));
        let _ = mt.insert(w.start, w.end.wrapping_sub(1), w.vma);
        list.append(i);
    }
    rb.count_work(true);
    mt.count_work(true);
    let (mut ins, mut era) = (OpLog::default(), OpLog::default());
    for (i, w) in vmas.iter().enumerate() {
        // Erase: the list's unlink (not its search) is the pairing's list share.
        let unlink = list.around(i);
        let next = list.next[i];
        let lop = list.erase(i);
        rb.erase(w.start);
        let rw = rb.take_work();
        era.list.push(list_work(&lop));
        era.rb.push(rb_work(&rw, &[], 0, lines));
        era.both.push(rb_work(&rw, &unlink, lop.links, lines));
        mt.erase(w.start);
        era.maple.push(maple_work(&mt.take_work(), lines));

        // Insert: the pairing finds prev/next with the rb-tree, then links the list.
        let lop = list.insert(i, next);
        let link = list.around(i);
        let _ = rb.insert(interval(w));
        let rw = rb.take_work();
        ins.list.push(list_work(&lop));
        ins.rb.push(rb_work(&rw, &[], 0, lines));
        ins.both.push(rb_work(&rw, &link, lop.links, lines));
        let _ = mt.insert(w.start, w.end.wrapping_sub(1), w.vma);
        ins.maple.push(maple_work(&mt.take_work(), lines));
    }
    rb.count_work(false);
    mt.count_work(false);
    Churned {
        insert: ins.rows(names),
        erase: era.rows(names),
        rb,
        maple: mt,
        list: list.order(),
    }
}

/// Fork: the old structure iterated (the iteration columns of the lookup rows) and
/// the copy built, one VMA after another, as `dup_mmap()` does.
#[derive(Debug, Clone, Serialize)]
pub struct ForkRow {
    pub structure: String,
    /// Of the copy: "model" (counted in the reimplementation or the list model).
    pub basis: String,
    /// Of the iteration: as the lookup row's basis.
    pub iterate_basis: String,
    pub iterate_steps: u64,
    pub iterate_cache_lines: u64,
    /// Building the copy, all VMAs together.
    pub build: Work,
    /// `iterate_steps` plus the nodes the copy touched.
    pub total_steps: u64,
}

/// The copies' work: (list, rb-tree, both, maple tree). Before 6.1 each copy is linked
/// after the previous one (no search); from 6.1 each VMA is stored by its range.
pub fn fork_builds(vmas: &[WalkedVma], guard: u64, lines: &Lines<'_>) -> [Work; 4] {
    let mut rb = RbTree::new(guard);
    let mut mt: MapleTree<u64> = MapleTree::new();
    let mut list = ListModel::new(vmas.iter().map(|w| w.start).collect());
    rb.count_work(true);
    mt.count_work(true);
    let mut all = ListModel::op(0);
    for (i, w) in vmas.iter().enumerate() {
        let _ = rb.append(interval(w));
        let _ = mt.insert(w.start, w.end.wrapping_sub(1), w.vma);
        let op = list.append(i);
        all.links += op.links;
        all.touched.extend(op.touched);
    }
    all.nodes = vmas.len() as u64;
    let rw = rb.take_work();
    [
        list_work(&all),
        rb_work(&rw, &[], 0, lines),
        rb_work(&rw, &all.touched, all.links, lines),
        maple_work(&mt.take_work(), lines),
    ]
}
