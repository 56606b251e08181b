//! Both trees against a `BTreeMap` model over random insert/erase sequences.
//! Invariants are checked after every operation; queries are compared with
//! answers computed by brute force on the model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::maple::MapleTree;
use super::rbtree::{fit_high, fit_low, vm_end_gap, vm_start_gap, Interval, RbTree};
use crate::rng::XorShift;

const PAGE: u64 = 4096;
/// Address space of the random tests, in pages: small enough for collisions
/// and touching intervals, big enough for maple trees of height 3.
const PAGES: u64 = 3000;
const GUARD: u64 = 3 * PAGE;

#[derive(Clone, Debug)]
enum Op {
    Insert {
        page: u64,
        pages: u64,
        grows_down: bool,
    },
    EraseNth(usize),
    EraseAt(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PAGES, 1..8u64, prop::bool::weighted(0.1))
            .prop_map(|(page, pages, grows_down)| Op::Insert { page, pages, grows_down }),
        2 => any::<usize>().prop_map(Op::EraseNth),
        1 => (0..PAGES).prop_map(Op::EraseAt),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Query {
    addr: u64,
    len: u64,
    low: u64,
    high: u64,
}

fn query() -> impl Strategy<Value = Query> {
    (0..PAGES + 2, 1..40u64, 0..PAGES + 2, 0..PAGES + 10).prop_map(|(a, l, lo, hi)| Query {
        addr: a * PAGE + (a % 7) * 13,
        len: l * PAGE,
        low: lo * PAGE,
        high: hi * PAGE,
    })
}

/// The model: start -> interval.
type Model = BTreeMap<u64, Interval>;

fn model_find_vma(m: &Model, addr: u64) -> Option<Interval> {
    m.values().find(|iv| iv.end > addr).copied()
}

/// All gaps `[start, end)` of the model, guard-adjusted, the last up to u64::MAX.
fn model_gaps(m: &Model, guard: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut prev_end = 0;
    for iv in m.values() {
        out.push((prev_end, vm_start_gap(iv, guard)));
        prev_end = vm_end_gap(iv);
    }
    out.push((prev_end, u64::MAX));
    out
}

fn model_lowest(m: &Model, guard: u64, q: &Query) -> Option<u64> {
    if q.high < q.len || q.low > q.high - q.len {
        return None;
    }
    model_gaps(m, guard)
        .into_iter()
        .find_map(|(gs, ge)| fit_low(gs, ge, q.len, q.low, q.high))
}

fn model_highest(m: &Model, guard: u64, q: &Query) -> Option<u64> {
    if q.high < q.len || q.low > q.high - q.len {
        return None;
    }
    model_gaps(m, guard)
        .into_iter()
        .rev()
        .find_map(|(gs, ge)| fit_high(gs, ge, q.len, q.low, q.high))
}

/// Holes as the maple tree sees them: inclusive NULL ranges.
fn model_holes(m: &Model) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut next = 0u64;
    for iv in m.values() {
        if iv.start > next {
            out.push((next, iv.start - 1));
        }
        next = iv.end;
    }
    out.push((next, u64::MAX));
    out
}

fn model_empty_area(m: &Model, min: u64, max: u64, size: u64) -> Option<u64> {
    if size == 0 || min > max || max - min < size - 1 {
        return None;
    }
    model_holes(m).into_iter().find_map(|(lo, hi)| {
        let s = lo.max(min);
        let e = s.checked_add(size - 1)?;
        (e <= hi.min(max)).then_some(s)
    })
}

fn model_empty_area_rev(m: &Model, min: u64, max: u64, size: u64) -> Option<u64> {
    if size == 0 || min > max || max - min < size - 1 {
        return None;
    }
    model_holes(m).into_iter().rev().find_map(|(lo, hi)| {
        let e = hi.min(max);
        let s = lo.max(min);
        if e < s {
            return None;
        }
        (e - s).checked_sub(size - 1).map(|d| s + d)
    })
}

/// The three structures kept in step.
struct Trees {
    model: Model,
    rb: RbTree,
    rb0: RbTree,
    mt: MapleTree<u64>,
}

impl Trees {
    fn new() -> Self {
        Trees {
            model: Model::new(),
            rb: RbTree::new(GUARD),
            rb0: RbTree::new(0),
            mt: MapleTree::new(),
        }
    }

    fn insert(&mut self, iv: Interval) {
        let free = model_find_vma(&self.model, iv.start).is_none_or(|e| e.start >= iv.end);
        let r = self.rb.insert(iv);
        let r0 = self.rb0.insert(iv);
        let rm = self.mt.insert(iv.start, iv.end - 1, iv.start);
        assert_eq!(r.is_ok(), free, "rb insert {iv:?}: {r:?}");
        assert_eq!(r0.is_ok(), free, "rb0 insert {iv:?}: {r0:?}");
        assert_eq!(rm.is_ok(), free, "maple insert {iv:?}: {rm:?}");
        if free {
            self.model.insert(iv.start, iv);
        }
    }

    fn erase_start(&mut self, start: u64) {
        let want = self.model.remove(&start);
        assert_eq!(self.rb.erase(start), want);
        assert_eq!(self.rb0.erase(start), want);
        let got = self.mt.erase(start);
        assert_eq!(
            got.map(|r| (r.first, r.last, r.entry)),
            want.map(|iv| (iv.start, iv.end - 1, Some(iv.start)))
        );
    }

    fn erase_at(&mut self, addr: u64) {
        let want = self
            .model
            .values()
            .find(|iv| iv.start <= addr && addr < iv.end)
            .copied();
        let got = self.mt.erase(addr);
        assert_eq!(
            got.map(|r| r.first),
            want.map(|iv| iv.start),
            "maple erase at {addr:#x}"
        );
        if let Some(iv) = want {
            self.model.remove(&iv.start);
            assert_eq!(self.rb.erase(iv.start), Some(iv));
            assert_eq!(self.rb0.erase(iv.start), Some(iv));
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Insert {
                page,
                pages,
                grows_down,
            } => self.insert(Interval {
                start: page * PAGE,
                end: (page + pages) * PAGE,
                grows_down,
            }),
            Op::EraseNth(k) => {
                if !self.model.is_empty() {
                    let start = *self.model.keys().nth(k % self.model.len()).unwrap_or(&0);
                    self.erase_start(start);
                }
            }
            Op::EraseAt(page) => self.erase_at(page * PAGE + 5),
        }
    }

    fn validate(&self) {
        self.rb.validate().unwrap_or_else(|e| panic!("{e}"));
        self.rb0.validate().unwrap_or_else(|e| panic!("{e}"));
        self.mt.validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(self.rb.len(), self.model.len());
        assert_eq!(self.mt.len(), self.model.len());
    }

    fn compare_sets(&self) {
        let want: Vec<Interval> = self.model.values().copied().collect();
        let rb: Vec<Interval> = self.rb.iter().collect();
        assert_eq!(rb, want);
        let mt: Vec<(u64, u64)> = self
            .mt
            .entries()
            .iter()
            .map(|r| (r.first, r.last + 1))
            .collect();
        let w: Vec<(u64, u64)> = want.iter().map(|iv| (iv.start, iv.end)).collect();
        assert_eq!(mt, w);
        assert_eq!(self.rb.highest_vm_end(), want.last().map_or(0, |iv| iv.end));
    }

    fn compare_query(&self, q: &Query) {
        let want = model_find_vma(&self.model, q.addr);
        assert_eq!(self.rb.find_vma(q.addr), want, "rb find_vma({:#x})", q.addr);
        let mt = self.mt.find_vma(q.addr).map(|r| (r.first, r.last + 1));
        assert_eq!(
            mt,
            want.map(|iv| (iv.start, iv.end)),
            "maple find_vma({:#x})",
            q.addr
        );
        let walk = self.mt.walk(q.addr);
        assert!(walk.first <= q.addr && q.addr <= walk.last);
        assert_eq!(
            walk.entry.is_some(),
            want.is_some_and(|iv| iv.start <= q.addr)
        );

        assert_eq!(
            self.rb.unmapped_area(q.len, q.low, q.high),
            model_lowest(&self.model, GUARD, q),
            "{q:?}"
        );
        assert_eq!(
            self.rb.unmapped_area_topdown(q.len, q.low, q.high),
            model_highest(&self.model, GUARD, q),
            "{q:?}"
        );
        let lo0 = model_lowest(&self.model, 0, q);
        let hi0 = model_highest(&self.model, 0, q);
        assert_eq!(self.rb0.unmapped_area(q.len, q.low, q.high), lo0, "{q:?}");
        assert_eq!(
            self.rb0.unmapped_area_topdown(q.len, q.low, q.high),
            hi0,
            "{q:?}"
        );

        let (min, max) = (q.low, q.high.wrapping_sub(1));
        if q.high > 0 {
            let ea = self.mt.empty_area(min, max, q.len);
            let ear = self.mt.empty_area_rev(min, max, q.len);
            assert_eq!(
                ea,
                model_empty_area(&self.model, min, max, q.len),
                "empty_area {q:?}"
            );
            assert_eq!(
                ear,
                model_empty_area_rev(&self.model, min, max, q.len),
                "empty_area_rev {q:?}"
            );
            // With no guard, the kernel's two searches agree on the same holes.
            assert_eq!(ea, lo0, "maple vs rb lowest {q:?}");
            assert_eq!(ear, hi0, "maple vs rb highest {q:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Thousands of operations per run: 48 cases of up to 600 operations.
    #[test]
    fn random_insert_erase_against_model(
        ops in prop::collection::vec((op(), query()), 1..600),
    ) {
        let mut t = Trees::new();
        for (op, q) in &ops {
            t.apply(op);
            t.validate();
            t.compare_query(q);
        }
        t.compare_sets();
        // Every boundary of every interval and every gap.
        let ivs: Vec<Interval> = t.model.values().copied().collect();
        for iv in ivs {
            for addr in [iv.start, iv.end - 1, iv.end, iv.start.saturating_sub(1)] {
                t.compare_query(&Query { addr, len: PAGE, low: 0, high: u64::MAX });
            }
        }
    }
}

/// Grow to a few thousand intervals (maple height 4), then shrink back to an
/// empty tree, checking invariants after every operation.
#[test]
fn grow_and_shrink_deep_trees() {
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let mut t = Trees::new();
    let mut max_height = 0;
    for _ in 0..2500 {
        let page = rng.below(20_000);
        let pages = 1 + rng.below(4);
        t.apply(&Op::Insert {
            page,
            pages,
            grows_down: rng.below(16) == 0,
        });
        t.validate();
        max_height = max_height.max(t.mt.height());
        let q = Query {
            addr: rng.below(20_002) * PAGE,
            len: (1 + rng.below(6)) * PAGE,
            low: 0,
            high: u64::MAX,
        };
        t.compare_query(&q);
    }
    assert!(max_height >= 4, "maple height only {max_height}");
    t.compare_sets();
    while !t.model.is_empty() {
        let k = rng.below(t.model.len() as u64) as usize;
        t.apply(&Op::EraseNth(k));
        t.validate();
        let q = Query {
            addr: rng.below(20_002) * PAGE,
            len: (1 + rng.below(6)) * PAGE,
            low: 0,
            high: u64::MAX,
        };
        t.compare_query(&q);
    }
    assert_eq!(t.mt.height(), 0);
    assert_eq!(t.mt.node_count(), 0);
    assert!(t.rb.is_empty());
}

/// Adjacent intervals (no holes at all) exercise erase's merging of NULL
/// neighbours across leaves.
#[test]
fn dense_intervals_erase_merges_across_leaves() {
    let mut t = Trees::new();
    for i in 0..800u64 {
        t.apply(&Op::Insert {
            page: i,
            pages: 1,
            grows_down: false,
        });
    }
    t.validate();
    let mut rng = XorShift::new(42);
    for _ in 0..800 {
        let k = rng.below(t.model.len() as u64) as usize;
        t.apply(&Op::EraseNth(k));
        t.validate();
    }
    assert!(t.mt.is_empty());
}

/// Hand-made cases of the augmented gap with the stack guard.
#[test]
fn rb_subtree_gap_with_stack_guard() {
    let mut rb = RbTree::new(GUARD);
    rb.insert(Interval::new(10 * PAGE, 11 * PAGE))
        .unwrap_or_else(|e| panic!("{e}"));
    rb.insert(Interval {
        start: 12 * PAGE,
        end: 20 * PAGE,
        grows_down: true,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    rb.validate().unwrap_or_else(|e| panic!("{e}"));
    // The grows-down interval's gap is swallowed by the guard: 12 - 3 < 11.
    assert_eq!(rb.root_subtree_gap(), 10 * PAGE);
    assert_eq!(
        rb.unmapped_area(PAGE, 10 * PAGE, 30 * PAGE),
        Some(20 * PAGE)
    );
    assert_eq!(rb.unmapped_area_topdown(PAGE, 0, 12 * PAGE), Some(9 * PAGE));
    assert!(rb.insert(Interval::new(19 * PAGE, 21 * PAGE)).is_err());
}

/// Counting changes nothing the trees answer, and the rb-tree's counts keep the
/// red-black bounds (2 rotations per insert, 3 per erase; a search no deeper than
/// 2 log2(n + 1)); a search step is counted per node compared.
#[test]
fn counted_work_within_bounds_and_harmless() {
    let mut rng = XorShift::new(42);
    let (mut rb, mut plain) = (RbTree::new(GUARD), RbTree::new(GUARD));
    let mut mt: MapleTree<u64> = MapleTree::new();
    rb.count_work(true);
    mt.count_work(true);
    let mut starts = Vec::new();
    for _ in 0..4000 {
        let page = rng.below(PAGES * 10);
        let iv = Interval::new(page * PAGE, (page + 1) * PAGE);
        let a = rb.insert(iv);
        assert_eq!(a, plain.insert(iv));
        let w = rb.take_work();
        if a.is_ok() {
            starts.push(iv.start);
            let _ = mt.insert(iv.start, iv.end - 1, iv.start);
            let bound = (2.0 * ((rb.len() + 1) as f64).log2()).floor() as u64;
            assert!(w.rotations <= 2, "{w:?}");
            assert!(w.search_steps <= bound, "{} > {bound}", w.search_steps);
            assert_eq!(w.search_steps == 0, rb.len() == 1);
        }
    }
    assert!(mt.take_work().splits > 0, "4,000 entries split leaves");
    for (k, s) in starts.iter().enumerate() {
        if k % 2 == 0 {
            assert_eq!(rb.erase(*s), plain.erase(*s));
            assert!(rb.take_work().rotations <= 3);
            mt.erase(*s);
        }
    }
    let w = mt.take_work();
    assert!(w.search_steps >= (starts.len() / 2) as u64 && w.merges + w.redistributions > 0);
    rb.validate().unwrap();
    mt.validate().unwrap();
    assert!(rb.iter().eq(plain.iter()));
}
