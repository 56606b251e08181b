//! Cross-check of the walked tree against our reimplementation: the walked VMAs
//! are inserted into `reimpl::MapleTree` and `reimpl::RbTree`, then both answer
//! the same questions as the raw structure: the ordered set, `find_vma()` at
//! every boundary, in every gap and at random addresses, and the unmapped-area
//! searches (lowest and highest fit below a limit) guided by the kernel's stored
//! gaps.

use super::maple::{self as mcheck, MapleIndex, WalkedVma};
use super::rbtree::{self as rcheck, RbIndex};
use super::{hex, MmFacts, RawLookup, Report, VM_GROWSDOWN};
use crate::reimpl::rbtree::Interval;
use crate::reimpl::{MapleTree, RbTree};
use crate::rng::XorShift;
use crate::trees::maple::MapleSnapshot;
use crate::trees::rbtree::RbSnapshot;

/// The raw structure the VMAs were walked from.
pub enum Walked<'a> {
    Maple(&'a MapleSnapshot),
    Rb(&'a RbSnapshot),
}

/// How many lookups to make.
#[derive(Debug, Clone, Copy)]
pub struct CrossLimits {
    /// Random `find_vma()` addresses per process.
    pub random_lookups: usize,
    /// Lookups also answered by re-reading memory (the walker's own descent);
    /// the rest are answered by the same descent over the nodes read once.
    pub memory_lookups: usize,
}

impl Default for CrossLimits {
    fn default() -> Self {
        CrossLimits {
            random_lookups: 256,
            memory_lookups: 64,
        }
    }
}

type Answer = Option<(u64, u64, u64)>;

fn show(a: &Answer) -> String {
    match a {
        Some((s, e, v)) => format!("vma {} [{}, {})", hex(*v), hex(*s), hex(*e)),
        None => "none".into(),
    }
}

/// What every part of the cross-check reads: the walk, the mm's facts and the
/// two reimplementations built from the walked VMAs.
struct Cross<'a> {
    walked: &'a [WalkedVma],
    tree: Walked<'a>,
    facts: &'a MmFacts,
    tree_addr: u64,
    /// `TASK_SIZE`, at least 1: the top of the searched address range.
    top: u64,
    mt: MapleTree<u64>,
    rb: RbTree,
}

pub fn cross_check(
    walked: &[WalkedVma],
    tree: Walked<'_>,
    facts: &MmFacts,
    raw: Option<&dyn RawLookup>,
    limits: CrossLimits,
    r: &mut Report,
) {
    let tree_addr = match tree {
        Walked::Maple(s) => s.tree,
        Walked::Rb(s) => s.root_addr,
    };
    let (mt, rb) = build_reimpls(walked, facts.stack_guard_gap, r);
    let c = Cross {
        walked,
        tree,
        facts,
        tree_addr,
        top: facts.task_size.max(1),
        mt,
        rb,
    };
    c.check_set(r);
    let mut rng = XorShift::new(facts.mm | 1);
    let addrs = c.lookup_addrs(&mut rng, limits.random_lookups);
    c.check_find_vma(&addrs, raw, limits.memory_lookups, r);
    c.check_gap_searches(&mut rng, r);
}

/// Both reimplementations built from the walked VMAs; an insert they refuse or
/// an invariant they break is a finding.
fn build_reimpls(walked: &[WalkedVma], guard: u64, r: &mut Report) -> (MapleTree<u64>, RbTree) {
    let mut mt: MapleTree<u64> = MapleTree::new();
    let mut rb = RbTree::new(guard);
    for w in walked {
        let iv = Interval {
            start: w.start,
            end: w.end,
            grows_down: w.flags & VM_GROWSDOWN != 0,
        };
        let a = mt
            .insert(w.start, w.end.wrapping_sub(1), w.vma)
            .map_err(|e| e.to_string());
        let b = rb.insert(iv).map_err(|e| e.to_string());
        let ok = a.is_ok() && b.is_ok();
        expect!(
            r,
            "cross.insert",
            ok,
            w.vma,
            "vm_start/vm_end",
            || "an interval overlapping no other VMA".into(),
            || { a.err().or(b.err()).unwrap_or_default() }
        );
    }
    for (name, res) in [
        ("maple", mt.validate().map_err(|e| e.to_string())),
        ("rb", rb.validate().map_err(|e| e.to_string())),
    ] {
        expect!(
            r,
            "cross.reimpl",
            res.is_ok(),
            0,
            name,
            || "reimplementation invariants hold".into(),
            || { res.err().unwrap_or_default() }
        );
    }
    (mt, rb)
}

impl Cross<'_> {
    /// The ordered set of VMAs each reimplementation holds.
    fn check_set(&self, r: &mut Report) {
        let want: Vec<(u64, u64, u64)> = self
            .walked
            .iter()
            .map(|w| (w.start, w.end, w.vma))
            .collect();
        let got_mt: Vec<(u64, u64, u64)> = self
            .mt
            .entries()
            .iter()
            .map(|e| (e.first, e.last.wrapping_add(1), e.entry.unwrap_or(0)))
            .collect();
        let got_rb: Vec<(u64, u64)> = self.rb.iter().map(|iv| (iv.start, iv.end)).collect();
        let want_rb: Vec<(u64, u64)> = want.iter().map(|w| (w.0, w.1)).collect();
        for (name, same, pos) in [
            (
                "maple",
                got_mt == want,
                got_mt.iter().zip(&want).position(|(a, b)| a != b),
            ),
            (
                "rb",
                got_rb == want_rb,
                got_rb.iter().zip(&want_rb).position(|(a, b)| a != b),
            ),
        ] {
            expect!(
                r,
                "cross.set",
                same,
                self.tree_addr,
                format!("{name} reimplementation"),
                || { format!("{} VMAs as walked", want.len()) },
                || format!(
                    "differs at position {}",
                    pos.unwrap_or(want.len().min(got_mt.len()))
                )
            );
        }
    }

    /// `find_vma()` addresses: 0, every boundary, the middle of every gap,
    /// `random` addresses below `TASK_SIZE` and its last byte.
    fn lookup_addrs(&self, rng: &mut XorShift, random: usize) -> Vec<u64> {
        let mut addrs: Vec<u64> = vec![0];
        let mut prev_end = 0u64;
        for w in self.walked {
            addrs.extend([w.start, w.end.wrapping_sub(1), w.end]);
            if w.start > prev_end {
                addrs.push(prev_end + (w.start - prev_end) / 2);
            }
            prev_end = w.end;
        }
        for _ in 0..random {
            addrs.push(rng.next_u64() % self.top);
        }
        addrs.push(self.top - 1);
        addrs
    }

    /// `find_vma()` answered by the kernel's descent over the walked nodes, both
    /// reimplementations and, for every `stride`-th address, memory re-read.
    fn check_find_vma(
        &self,
        addrs: &[u64],
        raw: Option<&dyn RawLookup>,
        memory_lookups: usize,
        r: &mut Report,
    ) {
        let tree_addr = self.tree_addr;
        let mi;
        let ri;
        let snapshot_answer: Box<dyn Fn(u64) -> Answer + '_> = match self.tree {
            Walked::Maple(s) => {
                mi = MapleIndex::new(s);
                Box::new(move |a| mcheck::snapshot_find_vma(&mi, a))
            }
            Walked::Rb(s) => {
                ri = RbIndex::new(s);
                Box::new(move |a| rcheck::snapshot_find_vma(&ri, a))
            }
        };
        let stride = (addrs.len() / memory_lookups.max(1)).max(1);
        let mut find_ok = 0u64;
        for (k, &a) in addrs.iter().enumerate() {
            let from_mt: Answer = self
                .mt
                .find_vma(a)
                .map(|e| (e.first, e.last.wrapping_add(1), e.entry.unwrap_or(0)));
            let from_rb = self.rb.find_vma(a).map(|iv| (iv.start, iv.end));
            let raw_ans = snapshot_answer(a);
            r.lookups += 1;
            // Counted in bulk below: this loop runs hundreds of thousands of times.
            if raw_ans == from_mt {
                find_ok += 1;
            } else {
                r.fail(
                    "cross.find_vma",
                    raw_ans.map_or(tree_addr, |x| x.2),
                    format!("find_vma({})", hex(a)),
                    format!("{} (reimplementation)", show(&from_mt)),
                    format!("{} (kernel descent over the walked nodes)", show(&raw_ans)),
                );
            }
            if from_rb == from_mt.map(|x| (x.0, x.1)) {
                find_ok += 1;
            } else {
                r.fail(
                    "cross.find_vma",
                    tree_addr,
                    format!("rb reimpl find_vma({})", hex(a)),
                    show(&from_mt),
                    format!("{from_rb:x?}"),
                );
            }
            if let Some(raw) = raw.filter(|_| k % stride == 0) {
                r.lookups += 1;
                self.memory_find_vma(raw, a, &from_mt, r);
            }
        }
        r.checked("cross.find_vma", find_ok);
    }

    /// One `find_vma()` re-read from memory against the reimplementation's answer.
    fn memory_find_vma(&self, raw: &dyn RawLookup, a: u64, from_mt: &Answer, r: &mut Report) {
        let tree_addr = self.tree_addr;
        match raw.find_vma(a) {
            Ok(mem_ans) => expect!(
                r,
                "cross.find_vma",
                mem_ans == *from_mt,
                mem_ans.map_or(tree_addr, |x| x.2),
                format!("find_vma({}) from memory", hex(a)),
                || { format!("{} (reimplementation)", show(from_mt)) },
                || format!("{} (walker descent in memory)", show(&mem_ans))
            ),
            Err(e) => r.fail(
                "cross.find_vma",
                tree_addr,
                format!("find_vma({}) from memory", hex(a)),
                "an answer",
                e,
            ),
        }
    }

    /// Unmapped-area searches guided by the stored gaps, for several lengths in
    /// several windows, against the reimplementation.
    fn check_gap_searches(&self, rng: &mut XorShift, r: &mut Report) {
        let (walked, top) = (self.walked, self.top);
        let prev_end = walked.last().map_or(0, |w| w.end);
        let mut largest = 0u64;
        let mut pe = 0u64;
        for w in walked {
            largest = largest.max(w.start.saturating_sub(pe));
            pe = w.end;
        }
        let mut lengths = vec![
            4096u64,
            16 * 4096,
            1 << 21,
            1 << 30,
            largest,
            largest.saturating_add(4096),
        ];
        lengths.retain(|&l| l > 0);
        let mut windows = vec![
            (0u64, top),
            (0, prev_end.max(4096)),
            (walked.first().map_or(0, |w| w.end), top),
        ];
        for _ in 0..8 {
            let a = rng.next_u64() % top;
            let b = rng.next_u64() % top;
            windows.push((a.min(b) & !0xfff, a.max(b) & !0xfff));
        }
        match self.tree {
            Walked::Maple(s) => {
                let idx = MapleIndex::new(s);
                for &len in &lengths {
                    for &(low, high) in &windows {
                        r.lookups += 2;
                        if high != 0 {
                            self.maple_gap_search(&idx, len, low, high - 1, r);
                        }
                    }
                }
            }
            Walked::Rb(s) => {
                let idx = RbIndex::new(s);
                let hve = self.facts.highest_vm_end.unwrap_or(prev_end);
                for &len in &lengths {
                    for &(low, high) in &windows {
                        r.lookups += 2;
                        for topdown in [false, true] {
                            let q = rcheck::GapQuery {
                                length: len,
                                low,
                                high,
                                topdown,
                            };
                            self.rb_gap_search(&idx, hve, q, r);
                        }
                    }
                }
            }
        }
    }

    /// `mas_empty_area()` and `mas_empty_area_rev()` over `[min, max]`.
    fn maple_gap_search(&self, idx: &MapleIndex<'_>, len: u64, min: u64, max: u64, r: &mut Report) {
        let (a, b) = (
            mcheck::stored_empty_area(idx, min, max, len),
            self.mt.empty_area(min, max, len),
        );
        let field = format!("mas_empty_area([{}, {}], {})", hex(min), hex(max), hex(len));
        expect!(
            r,
            "cross.unmapped_area",
            a == b,
            self.tree_addr,
            field,
            || format!("{b:x?} (reimplementation)"),
            || { format!("{a:x?} (stored gaps)") }
        );
        let (a, b) = (
            mcheck::stored_empty_area_rev(idx, min, max, len),
            self.mt.empty_area_rev(min, max, len),
        );
        let field = format!(
            "mas_empty_area_rev([{}, {}], {})",
            hex(min),
            hex(max),
            hex(len)
        );
        expect!(
            r,
            "cross.unmapped_area_topdown",
            a == b,
            self.tree_addr,
            field,
            || { format!("{b:x?} (reimplementation)") },
            || format!("{a:x?} (stored gaps)")
        );
    }

    /// `unmapped_area()` or `unmapped_area_topdown()` guided by `rb_subtree_gap`.
    fn rb_gap_search(&self, idx: &RbIndex<'_>, hve: u64, q: rcheck::GapQuery, r: &mut Report) {
        let (len, low, high, topdown) = (q.length, q.low, q.high, q.topdown);
        let a = rcheck::stored_unmapped_area(idx, self.walked, self.facts.stack_guard_gap, hve, q);
        let b = if topdown {
            self.rb.unmapped_area_topdown(len, low, high)
        } else {
            self.rb.unmapped_area(len, low, high)
        };
        let (check, name) = if topdown {
            ("cross.unmapped_area_topdown", "unmapped_area_topdown")
        } else {
            ("cross.unmapped_area", "unmapped_area")
        };
        let field = format!("{name}(len {}, [{}, {}))", hex(len), hex(low), hex(high));
        expect!(
            r,
            check,
            a == b,
            self.tree_addr,
            field,
            || format!("{b:x?} (reimplementation)"),
            || { format!("{a:x?} (stored rb_subtree_gap)") }
        );
    }
}
