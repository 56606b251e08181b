//! Synthetic VMA rb-tree + list in the x86_64 5.10 layout (test data only).

use super::*;
use crate::trees::list::{self, ListOffsets};
use crate::trees::sparse::SparseMemory;

const VM_START: u64 = 0;
const VM_END: u64 = 8;
const VM_NEXT: u64 = 16;
const VM_PREV: u64 = 24;
const VM_RB: u64 = 32;
const GAP: u64 = 56;
const ROOT_ADDR: u64 = 0xffff_8880_0300_0008; // &mm->mm_rb

fn rbo() -> RbOffsets {
    RbOffsets::x86_64()
}
fn vmo() -> RbVmaOffsets {
    RbVmaOffsets {
        vm_rb: VM_RB,
        vm_start: VM_START,
        vm_end: VM_END,
        rb_subtree_gap: Some(GAP),
    }
}
fn lo() -> ListOffsets {
    ListOffsets {
        next: VM_NEXT,
        prev: VM_PREV,
        range: Some((VM_START, VM_END)),
    }
}

fn vma(i: u64) -> u64 {
    0xffff_8880_0400_0000 + i * 0x100
}
fn node(i: u64) -> u64 {
    vma(i) + VM_RB
}

/// `(index, parent index or none, colour, left, right)`.
type NodeShape = (u64, Option<u64>, u8, Option<u64>, Option<u64>);

/// VMA i spans [i * 0x10000, i * 0x10000 + 0x1000).
fn build() -> SparseMemory {
    let mut m = SparseMemory::new();
    let shape: [NodeShape; 5] = [
        (1, Some(3), RB_BLACK, None, Some(2)),
        (2, Some(1), RB_RED, None, None),
        (3, None, RB_BLACK, Some(1), Some(4)),
        (4, Some(3), RB_BLACK, None, Some(5)),
        (5, Some(4), RB_RED, None, None),
    ];
    for (i, parent, color, left, right) in shape {
        let v = vma(i);
        m.write(v, &[0u8; 200]);
        m.write_u64(v + VM_START, i * 0x10000);
        m.write_u64(v + VM_END, i * 0x10000 + 0x1000);
        m.write_u64(v + VM_NEXT, if i < 5 { vma(i + 1) } else { 0 });
        m.write_u64(v + VM_PREV, if i > 1 { vma(i - 1) } else { 0 });
        m.write_u64(v + GAP, 0xf000);
        m.write_u64(node(i), parent.map_or(0, node) | color as u64);
        m.write_u64(node(i) + 8, right.map_or(0, node));
        m.write_u64(node(i) + 16, left.map_or(0, node));
    }
    m.write_u64(ROOT_ADDR, node(3));
    m
}

#[test]
fn inorder_matches_list() {
    let m = build();
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    assert!(t.issues.is_empty(), "{:?}", t.issues);
    let order: Vec<u64> = t.vmas().map(|v| v.vma).collect();
    assert_eq!(order, (1..=5).map(vma).collect::<Vec<_>>());
    assert_eq!(t.height(), 3);
    let root = t.nodes.iter().find(|n| n.node == node(3)).unwrap();
    assert_eq!((root.color, root.parent, root.depth), (RB_BLACK, 0, 1));
    let n2 = t.nodes.iter().find(|n| n.node == node(2)).unwrap();
    assert_eq!(
        (n2.color, n2.parent, n2.came_from),
        (RB_RED, node(1), node(1))
    );
    assert_eq!(n2.vma.unwrap().vm_start, 0x20000);
    assert_eq!(n2.vma.unwrap().rb_subtree_gap, Some(0xf000));
    let l = list::walk(&m, vma(1), &lo(), WalkLimits::default());
    assert!(l.issues.is_empty());
    assert_eq!(l.entries.len(), 5);
    assert_eq!(l.entries[4].range, Some((0x50000, 0x51000)));
    assert_eq!(compare_with_list(&t, &l), None);
}

#[test]
fn list_skip_is_a_mismatch() {
    let mut m = build();
    m.write_u64(vma(2) + VM_NEXT, vma(4));
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    let l = list::walk(&m, vma(1), &lo(), WalkLimits::default());
    assert_eq!(
        compare_with_list(&t, &l),
        Some(OrderMismatch {
            position: 2,
            tree: vma(3),
            list: vma(4)
        })
    );
}

#[test]
fn find_vma_descent() {
    let m = build();
    // Inside VMA 4: root (3) -> right (4), stop.
    let (hit, path, issue) = find_vma(
        &m,
        ROOT_ADDR,
        &rbo(),
        &vmo(),
        0x40800,
        WalkLimits::default(),
    )
    .unwrap();
    assert_eq!(hit, Some(vma(4)));
    assert_eq!(
        path.iter().map(|s| s.node).collect::<Vec<_>>(),
        vec![node(3), node(4)]
    );
    assert!(issue.is_none());
    // In the hole before VMA 2: 3 -> 1 -> 2, answer 2.
    let (hit, path, _) = find_vma(
        &m,
        ROOT_ADDR,
        &rbo(),
        &vmo(),
        0x18000,
        WalkLimits::default(),
    )
    .unwrap();
    assert_eq!(hit, Some(vma(2)));
    assert_eq!(path.len(), 3);
    // Above everything.
    let (hit, _, _) = find_vma(
        &m,
        ROOT_ADDR,
        &rbo(),
        &vmo(),
        0x60000,
        WalkLimits::default(),
    )
    .unwrap();
    assert_eq!(hit, None);
}

#[test]
fn cycles_are_bounded() {
    let mut m = build();
    // Right child of 5 points back to the root.
    m.write_u64(node(5) + 8, node(3));
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    assert_eq!(
        t.issues,
        vec![WalkIssue {
            addr: node(3),
            kind: IssueKind::Cycle
        }]
    );
    assert_eq!(t.nodes.len(), 5);
    m.write_u64(vma(5) + VM_NEXT, vma(1));
    let l = list::walk(&m, vma(1), &lo(), WalkLimits::default());
    assert_eq!(
        l.issues,
        vec![WalkIssue {
            addr: vma(1),
            kind: IssueKind::Cycle
        }]
    );
}

#[test]
fn faults_and_misalignment_reported() {
    let mut m = build();
    m.write_u64(node(4) + 8, 0xffff_8880_7000_0000);
    m.write_u64(node(1) + 16, node(2) + 3);
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    assert_eq!(t.issues.len(), 2);
    assert_eq!(
        t.issues[0],
        WalkIssue {
            addr: node(1),
            kind: IssueKind::Misaligned { raw: node(2) + 3 }
        }
    );
    assert_eq!(t.issues[1].addr, 0xffff_8880_7000_0000);
    let deep = walk(
        &build(),
        ROOT_ADDR,
        &rbo(),
        None,
        WalkLimits {
            max_nodes: 100,
            max_depth: 2,
        },
    )
    .unwrap();
    assert!(deep
        .issues
        .iter()
        .any(|i| matches!(i.kind, IssueKind::TooDeep { depth: 3 })));
}

#[test]
fn helpers() {
    assert_eq!(rb_parent(node(3) | 1), node(3));
    assert_eq!(rb_color(node(3) | 1), RB_BLACK);
    assert!(rb_empty_node(node(2), node(2)));
}

#[test]
fn moved_nodes_and_entries_are_the_signs_of_a_writer() {
    let mut m = build();
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    let l = list::walk(&m, vma(1), &lo(), WalkLimits::default());
    assert!(t.moved_nodes().is_empty() && l.moved_entries().is_empty());
    // A rotation under the reader: node 2 already names node 3 as its parent, and
    // vma 4's prev link is being rewritten.
    m.write_u64(node(2), node(3) | RB_RED as u64);
    m.write_u64(vma(4) + VM_PREV, vma(2));
    let t = walk(&m, ROOT_ADDR, &rbo(), Some(&vmo()), WalkLimits::default()).unwrap();
    let l = list::walk(&m, vma(1), &lo(), WalkLimits::default());
    assert_eq!(t.moved_nodes(), vec![node(2)]);
    assert_eq!(l.moved_entries(), vec![vma(4)]);
}
