//! Synthetic maple trees encoded byte by byte the way lib/maple_tree.c lays them out
//! (offsets of the x86_64 6.1 build as test data; real offsets are probed at run time).

use super::*;
use crate::trees::sparse::SparseMemory;

fn offs() -> MapleOffsets {
    MapleOffsets::x86_64_6_1()
}

const TREE: u64 = 0xffff_8880_0100_0000;
const FLAGS_MM: u32 = 0x303; // ALLOC_RANGE | USE_RCU | LOCK_EXTERN

/// `mt_mk_node()`: node | type << 3 | MAPLE_ENODE_NULL.
fn mk(node: u64, t: u64) -> u64 {
    node | (t << 3) | 4
}

/// Leaf/range node from `(last, entry)` pairs; `max` is the node's upper bound.
fn write_range(m: &mut SparseMemory, node: u64, parent: u64, ranges: &[(u64, u64)]) {
    m.write(node, &[0u8; 256]);
    m.write_u64(node, parent);
    let n = ranges.len();
    for (i, &(last, entry)) in ranges.iter().enumerate() {
        if i < 15 {
            m.write_u64(node + 8 + 8 * i as u64, last);
        }
        m.write_u64(node + 128 + 8 * i as u64, entry);
    }
    if n < 16 && ranges.get(14).is_none() {
        m.write_u8(node + 248, (n - 1) as u8);
    }
}

/// arange node from `(last, child enode, gap)`.
fn write_arange(m: &mut SparseMemory, node: u64, parent: u64, kids: &[(u64, u64, u64)]) {
    m.write(node, &[0u8; 256]);
    m.write_u64(node, parent);
    let mut best = 0;
    for (i, &(last, enode, gap)) in kids.iter().enumerate() {
        if i < 9 {
            m.write_u64(node + 8 + 8 * i as u64, last);
        }
        m.write_u64(node + 80 + 8 * i as u64, enode);
        m.write_u64(node + 160 + 8 * i as u64, gap);
        if gap > kids[best].2 {
            best = i;
        }
    }
    m.write_u8(node + 240, (kids.len() - 1) as u8);
    m.write_u8(node + 241, best as u8);
}

fn head(m: &mut SparseMemory, root: u64, height: u32) {
    m.write_u64(TREE + 8, root);
    m.write(TREE + 16, &(FLAGS_MM | (height << 2)).to_le_bytes());
}

const LEAF_A: u64 = 0xffff_8880_0200_0000;
const LEAF_B: u64 = 0xffff_8880_0200_0100;
const ROOT: u64 = 0xffff_8880_0200_0200;

/// Height-1 tree: one leaf root with two VMAs and holes around them.
fn one_leaf() -> SparseMemory {
    let mut m = SparseMemory::new();
    write_range(
        &mut m,
        LEAF_A,
        TREE | MA_ROOT_PARENT,
        &[
            (0xfff, 0),
            (0x1fff, 0xaaa0),
            (0x4fff, 0),
            (0x5fff, 0xbbb0),
            (u64::MAX, 0),
        ],
    );
    head(&mut m, mk(LEAF_A, 1) | 2, 1);
    m
}

#[test]
fn single_leaf_root() {
    let m = one_leaf();
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(s.height, 1);
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    assert_eq!(s.nodes.len(), 1);
    let n = &s.nodes[0];
    assert_eq!(n.node_type, MapleType::Leaf64);
    assert_eq!(n.data_end, 4);
    assert!(n.end_from_meta);
    assert_eq!(n.parent, MapleParent::Root { tree: TREE });
    let got: Vec<_> = s
        .entries
        .iter()
        .map(|e| (e.first, e.last, e.entry))
        .collect();
    assert_eq!(
        got,
        vec![(0x1000, 0x1fff, 0xaaa0), (0x5000, 0x5fff, 0xbbb0)]
    );
    assert_eq!(n.slots[4].max, u64::MAX);
    assert_eq!(n.slots[2].min, 0x2000);
}

#[test]
fn lookups_on_single_leaf() {
    let m = one_leaf();
    let l = mas_walk(&m, TREE, &offs(), 0x1800).unwrap();
    assert_eq!((l.entry, l.min, l.max), (0xaaa0, 0x1000, 0x1fff));
    assert_eq!(l.path.len(), 1);
    let hole = mas_walk(&m, TREE, &offs(), 0x3000).unwrap();
    assert_eq!((hole.entry, hole.min, hole.max), (0, 0x2000, 0x4fff));
    let (hit, touched, issue) = mt_find(&m, TREE, &offs(), 0x3000).unwrap();
    assert_eq!(hit, Some((0x5000, 0x5fff, 0xbbb0)));
    assert_eq!(touched, vec![LEAF_A]);
    assert!(issue.is_none());
    let (none, _, _) = mt_find(&m, TREE, &offs(), 0x6000).unwrap();
    assert_eq!(none, None);
}

/// Height-2 tree: arange root over a full leaf (16 slots, no metadata) and a leaf
/// whose last pivot equals its max (data end 14, from pivots).
fn two_level() -> (SparseMemory, Vec<(u64, u64, u64)>) {
    let mut m = SparseMemory::new();
    let mut a = Vec::new();
    let mut expect = Vec::new();
    // Leaf A covers [0, 0x1f_ffff]: 16 slots alternating hole / VMA.
    for i in 0..16u64 {
        let last = if i == 15 {
            0x1f_ffff
        } else {
            (i + 1) * 0x1000 - 1
        };
        let entry = if i % 2 == 0 { 0xa000 + i * 0x100 } else { 0 };
        if entry != 0 {
            expect.push((i * 0x1000, last, entry));
        }
        a.push((last, entry));
    }
    write_range(&mut m, LEAF_A, ROOT | 6, &a); // parent slot 0
                                               // Leaf B covers [0x20_0000, MAX]: 15 slots, last pivot == MAX.
    let mut b = Vec::new();
    for i in 0..15u64 {
        let first = 0x20_0000 + i * 0x1000;
        let last = if i == 14 { u64::MAX } else { first + 0xfff };
        let entry = if i % 2 == 0 && i != 14 {
            0xb000 + i * 0x100
        } else {
            0
        };
        if entry != 0 {
            expect.push((first, last, entry));
        }
        b.push((last, entry));
    }
    write_range(&mut m, LEAF_B, ROOT | (1 << 3) | 6, &b);
    write_arange(
        &mut m,
        ROOT,
        TREE | MA_ROOT_PARENT,
        &[
            (0x1f_ffff, mk(LEAF_A, 1), 0x1000),
            (u64::MAX, mk(LEAF_B, 1), u64::MAX - 0x20e000 + 1),
        ],
    );
    head(&mut m, mk(ROOT, 3) | 2, 2);
    (m, expect)
}

#[test]
fn two_levels_full_and_pivot_end() {
    let (m, expect) = two_level();
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    assert_eq!(s.nodes.len(), 3);
    assert_eq!(s.nodes[0].node_type, MapleType::Arange64);
    assert_eq!(s.nodes[0].data_end, 1);
    assert_eq!(s.nodes[0].meta_gap, 1);
    let a = &s.nodes[1];
    assert_eq!(
        (a.addr, a.depth, a.data_end, a.end_from_meta),
        (LEAF_A, 2, 15, false)
    );
    assert_eq!(
        a.parent,
        MapleParent::Node {
            node: ROOT,
            slot: 0,
            parent_type: Some(MapleType::Arange64)
        }
    );
    assert_eq!(a.came_from, Some((ROOT, 0)));
    assert_eq!(a.slots[15].min, 0xf000);
    assert_eq!(a.slots[15].max, 0x1f_ffff);
    let b = &s.nodes[2];
    assert_eq!(
        (b.data_end, b.end_from_meta, b.min, b.max),
        (14, false, 0x20_0000, u64::MAX)
    );
    assert_eq!(mte_parent_slot(b.parent_raw), 1);
    let got: Vec<_> = s
        .entries
        .iter()
        .map(|e| (e.first, e.last, e.entry))
        .collect();
    assert_eq!(got, expect);
    let sum = s.summary();
    assert_eq!(
        (
            sum.height_in_flags,
            sum.levels_walked,
            sum.nodes,
            sum.entries
        ),
        (2, 2, 3, expect.len())
    );
    assert_eq!(sum.node_bytes, 768);
    // Every entry is found again by the kernel's descent, through two nodes.
    for &(first, last, entry) in &expect {
        for idx in [first, last] {
            let l = mas_walk(&m, TREE, &offs(), idx).unwrap();
            assert_eq!((l.entry, l.min, l.max), (entry, first, last));
            assert_eq!(
                l.path.iter().map(|p| p.node).collect::<Vec<_>>(),
                vec![ROOT, if first < 0x20_0000 { LEAF_A } else { LEAF_B }]
            );
        }
    }
    // find_vma from the last hole of leaf A crosses into leaf B.
    let (hit, touched, _) = mt_find(&m, TREE, &offs(), 0x1f_f000).unwrap();
    assert_eq!(hit.map(|h| h.2), Some(0xb000));
    assert_eq!(touched, vec![ROOT, LEAF_A, LEAF_B]);
}

#[test]
fn zero_entry_is_reserved_not_a_vma() {
    let mut m = one_leaf();
    m.write_u64(LEAF_A + 128 + 2 * 8, XA_ZERO_ENTRY);
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(s.entries.len(), 3);
    assert_eq!(s.user_entries().count(), 2);
    assert!(s.entries[1].reserved);
    assert_eq!(s.summary().reserved_entries, 1);
}

#[test]
fn dead_node_reported() {
    let (mut m, _) = two_level();
    m.write_u64(LEAF_B, LEAF_B | 6);
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(
        s.issues,
        vec![WalkIssue {
            addr: LEAF_B,
            kind: IssueKind::DeadNode
        }]
    );
    assert!(s.nodes[2].dead);
    assert!(s.entries.iter().all(|e| e.node != LEAF_B));
    let l = mas_walk(&m, TREE, &offs(), 0x20_0000).unwrap();
    assert_eq!(l.issue.map(|i| i.kind), Some(IssueKind::DeadNode));
}

#[test]
fn cycle_to_ancestor_is_bounded() {
    let (mut m, _) = two_level();
    // Turn leaf B's pointer into an arange pointer back at the root.
    m.write_u64(ROOT + 80 + 8, mk(ROOT, 3));
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(
        s.issues,
        vec![WalkIssue {
            addr: ROOT,
            kind: IssueKind::Cycle
        }]
    );
}

#[test]
fn fault_and_bad_type_reported_by_address() {
    let (mut m, _) = two_level();
    let far = 0xffff_8880_7777_0000;
    m.write_u64(ROOT + 80, mk(far, 1));
    m.write_u64(ROOT + 80 + 8, LEAF_B | (9 << 3) | 4);
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(s.issues.len(), 2);
    assert_eq!(s.issues[0].addr, far);
    assert!(matches!(s.issues[0].kind, IssueKind::Fault { .. }));
    assert_eq!(
        s.issues[1],
        WalkIssue {
            addr: LEAF_B,
            kind: IssueKind::BadType { node_type: 9 }
        }
    );
}

#[test]
fn node_limit_stops_walk() {
    let (m, _) = two_level();
    let s = walk(
        &m,
        TREE,
        &offs(),
        WalkLimits {
            max_nodes: 2,
            max_depth: 40,
        },
    )
    .unwrap();
    assert_eq!(s.nodes.len(), 2);
    assert!(matches!(
        s.issues[0].kind,
        IssueKind::TooManyNodes { limit: 2 }
    ));
}

#[test]
fn garbage_metadata_does_not_panic() {
    let mut m = one_leaf();
    m.write_u8(LEAF_A + 248, 200);
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(s.nodes[0].data_end, 200);
    assert_eq!(s.nodes[0].slots.len(), 16);
    let _ = mas_walk(&m, TREE, &offs(), u64::MAX).unwrap();
}

#[test]
fn empty_and_single_entry_roots() {
    let mut m = SparseMemory::new();
    head(&mut m, 0, 0);
    assert!(walk(&m, TREE, &offs(), WalkLimits::default())
        .unwrap()
        .entries
        .is_empty());
    head(&mut m, 0xdead_0000, 0);
    let s = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(s.entries[0].entry, 0xdead_0000);
}

#[test]
fn parent_decoding() {
    assert_eq!(
        decode_parent(TREE | 1, FLAGS_MM),
        MapleParent::Root { tree: TREE }
    );
    assert_eq!(
        decode_parent(ROOT | (7 << 3) | 6, 0x300),
        MapleParent::Node {
            node: ROOT,
            slot: 7,
            parent_type: Some(MapleType::Range64)
        }
    );
    assert_eq!(
        decode_parent(ROOT | (3 << 2), FLAGS_MM),
        MapleParent::Node {
            node: ROOT,
            slot: 3,
            parent_type: None
        }
    );
    assert!(ma_dead_node(ROOT, ROOT | 0x1e));
    assert_eq!(mt_height(0x303 | (3 << 2)), 3);
    assert!(xa_is_node(mk(ROOT, 3) | 2));
    assert!(!xa_is_node(XA_ZERO_ENTRY) && mt_is_reserved(XA_ZERO_ENTRY));
}

#[test]
fn bad_offsets_rejected() {
    let mut o = offs();
    o.range64_slot = 200;
    let m = one_leaf();
    assert!(matches!(
        walk(&m, TREE, &o, WalkLimits::default()),
        Err(TreeError::BadOffsets(_))
    ));
}

// --- Live walks: a writer changes the tree while it is read. ---

use crate::trees::sparse::ChangingMemory;

const LEAF_C: u64 = 0xffff_8880_0200_0300;

/// The writer's step of a COW store in leaf B: a copy at LEAF_C with one more VMA is
/// published in the root's slot 1, then leaf B is marked dead.
fn leaf_b_replaced(mut m: SparseMemory, kill_b: bool) -> (SparseMemory, Vec<(u64, u64, u64)>) {
    let (_, mut expect) = two_level();
    let mut ranges = Vec::new();
    for i in 0..15u64 {
        let first = 0x20_0000 + i * 0x1000;
        let last = if i == 14 { u64::MAX } else { first + 0xfff };
        let entry = if (i % 2 == 0 && i != 14) || i == 1 {
            0xc000 + i * 0x100
        } else {
            0
        };
        ranges.push((last, entry));
    }
    write_range(&mut m, LEAF_C, ROOT | (1 << 3) | 6, &ranges);
    m.write_u64(ROOT + 80 + 8, mk(LEAF_C, 1));
    if kill_b {
        m.write_u64(LEAF_B, LEAF_B | 6);
    }
    expect.retain(|e| e.0 < 0x20_0000);
    for (i, &(last, entry)) in ranges.iter().enumerate() {
        if entry != 0 {
            expect.push((0x20_0000 + i as u64 * 0x1000, last, entry));
        }
    }
    (m, expect)
}

fn triples(s: &MapleSnapshot) -> Vec<(u64, u64, u64)> {
    s.entries
        .iter()
        .map(|e| (e.first, e.last, e.entry))
        .collect()
}

#[test]
fn live_walk_restarts_at_a_dead_node() {
    let (old, _) = two_level();
    let (new, expect) = leaf_b_replaced(old.clone(), true);
    let m = ChangingMemory::new(old).then(LEAF_B, new);
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks::default()).unwrap();
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    assert_eq!(r.rewalks, 1);
    assert_eq!(r.signs, vec![RaceSign::Dead { node: LEAF_B }]);
    assert!(!r.exhausted);
    assert_eq!(triples(&s), expect);
    // The same reads taken as frozen memory report the dead node, as for a dump.
    let (old, _) = two_level();
    let (new, _) = leaf_b_replaced(old.clone(), true);
    let m = ChangingMemory::new(old).then(LEAF_B, new);
    let f = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    assert_eq!(
        f.issues.iter().map(|i| &i.kind).collect::<Vec<_>>(),
        vec![&IssueKind::DeadNode]
    );
}

#[test]
fn live_walk_restarts_at_a_reused_node() {
    // Leaf B was freed without the dead mark and reused elsewhere (parent slot 7).
    let (old, _) = two_level();
    let (mut new, expect) = leaf_b_replaced(old.clone(), false);
    new.write_u64(LEAF_B, ROOT | (7 << 3) | 6);
    let m = ChangingMemory::new(old).then(LEAF_B, new);
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks::default()).unwrap();
    assert_eq!(
        r.signs,
        vec![RaceSign::Moved {
            node: LEAF_B,
            parent_raw: ROOT | (7 << 3) | 6
        }]
    );
    assert_eq!(triples(&s), expect);
    assert!(s.issues.is_empty());
}

#[test]
fn live_walk_takes_a_lasting_sign_as_the_state() {
    // Nothing changes: a dead node found again after the restart is the tree's state and
    // is reported exactly as the frozen walk reports it.
    let (mut m, _) = two_level();
    m.write_u64(LEAF_B, LEAF_B | 6);
    let frozen = walk(&m, TREE, &offs(), WalkLimits::default()).unwrap();
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks::default()).unwrap();
    assert_eq!(r.rewalks, 1);
    assert_eq!(s.issues, frozen.issues);
    assert_eq!(s.entries, frozen.entries);
    // A wrong parent slot that stays is not a race either.
    let (mut m, expect) = two_level();
    m.write_u64(LEAF_B, ROOT | (5 << 3) | 6);
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks::default()).unwrap();
    assert_eq!((r.rewalks, s.issues.len()), (1, 0));
    assert_eq!(triples(&s), expect);
}

#[test]
fn live_walk_restart_budget_is_bounded() {
    // Every read of leaf B shows another parent slot: the writer never stops.
    let (first, _) = two_level();
    let mut m = ChangingMemory::new(first.clone());
    for slot in 2..12u64 {
        let mut next = first.clone();
        next.write_u64(LEAF_B, ROOT | (slot << 3) | 6);
        m = m.then(LEAF_B, next);
    }
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks(3)).unwrap();
    assert_eq!((r.rewalks, r.exhausted), (3, true));
    assert_eq!(m.state(), 4);
    // Past the budget the walk ends as a frozen one would.
    assert!(s.nodes.iter().any(|n| n.addr == LEAF_B));
}

#[test]
fn live_walk_wrong_level_is_a_sign() {
    // The tree grew a level after the head was read: ma_flags says height 1.
    let (mut m, expect) = two_level();
    let mut grown = m.clone();
    head(&mut m, mk(ROOT, 3) | 2, 1);
    head(&mut grown, mk(ROOT, 3) | 2, 2);
    let m = ChangingMemory::new(m).then(ROOT, grown);
    let (s, r) = walk_live(&m, TREE, &offs(), WalkLimits::default(), Rewalks::default()).unwrap();
    assert_eq!(
        r.signs,
        vec![RaceSign::WrongLevel {
            node: ROOT,
            depth: 1,
            height: 1
        }]
    );
    assert_eq!((s.height, s.nodes.len()), (2, 3));
    assert_eq!(triples(&s), expect);
}

#[test]
fn live_entries_stay_sorted_when_a_range_grew_back() {
    // After a restart, an entry that now starts below the resume index replaces the
    // stale entries it overlaps.
    let mut l = Live {
        budget: Rewalks::default(),
        report: RaceReport::default(),
        next: Some(0x3000),
        last: None,
    };
    let e = |first, last, entry| MapleEntry {
        first,
        last,
        entry,
        node: 0,
        slot: 0,
        reserved: false,
    };
    let mut v = vec![e(0, 0xfff, 1), e(0x1000, 0x2fff, 2)];
    l.take(&mut v, e(0x1000, 0x1fff, 9)); // wholly below the resume index: already taken
    l.take(&mut v, e(0x2000, 0x4fff, 3));
    assert_eq!(v.iter().map(|x| x.entry).collect::<Vec<_>>(), vec![1, 3]);
}

#[test]
fn live_lookup_restarts_at_a_dead_node() {
    let (old, _) = two_level();
    let (new, _) = leaf_b_replaced(old.clone(), true);
    let m = ChangingMemory::new(old).then(LEAF_B, new);
    let (hit, touched, issue) =
        mt_find_live(&m, TREE, &offs(), 0x20_1000, Rewalks::default()).unwrap();
    assert_eq!(issue, None);
    assert_eq!(hit, Some((0x20_1000, 0x20_1fff, 0xc100)));
    assert_eq!(touched, vec![ROOT, LEAF_C]);
    // A dead node that stays dead ends the lookup as the frozen lookup does.
    let (mut m, _) = two_level();
    m.write_u64(LEAF_B, LEAF_B | 6);
    let (_, _, issue) = mt_find_live(&m, TREE, &offs(), 0x20_1000, Rewalks(2)).unwrap();
    assert_eq!(issue.map(|i| i.kind), Some(IssueKind::DeadNode));
}
