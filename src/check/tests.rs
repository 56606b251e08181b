//! Checks on synthetic kernel-layout images: trees built by the reimplementation,
//! encoded byte by byte as lib/maple_tree.c and lib/rbtree.c lay them out (x86_64
//! offsets of the 6.1 and 5.10 builds as test data), walked by `crate::trees`.
//! A clean image must pass every check; each corruption must be reported at the
//! node and field that was damaged.

use std::collections::HashMap;

use super::cross::{cross_check, CrossLimits, Walked};
use super::*;
use crate::memory::Memory;
use crate::reimpl::rbtree::{Color, Interval};
use crate::reimpl::{MapleTree, RbTree};
use crate::trees::list::{self, ListOffsets, ListSnapshot};
use crate::trees::maple::{self as tmaple, MapleOffsets, MapleSnapshot};
use crate::trees::rbtree::{self as trb, RbOffsets, RbSnapshot, RbVmaOffsets};
use crate::trees::sparse::SparseMemory;
use crate::trees::WalkLimits;

const MM: u64 = 0xffff_8880_0100_0000;
const MM_MT: u64 = MM + 0x40;
const MM_RB: u64 = MM + 8;
const NODES: u64 = 0xffff_8880_0200_0000;
const VMAS: u64 = 0xffff_8880_0800_0000;
const TASK_SIZE: u64 = 0x7fff_ffff_f000;
const GUARD: u64 = 256 * 4096;
// vm_area_struct offsets of the 5.10 build (test data).
const VM_START: u64 = 0;
const VM_END: u64 = 8;
const VM_NEXT: u64 = 16;
const VM_PREV: u64 = 24;
const VM_RB: u64 = 32;
const VM_GAP: u64 = 56;
const VM_MM: u64 = 64;
const VM_FLAGS: u64 = 80;

fn moffs() -> MapleOffsets {
    MapleOffsets::x86_64_6_1()
}

fn rbo() -> RbOffsets {
    RbOffsets::x86_64()
}

fn vmo() -> RbVmaOffsets {
    RbVmaOffsets {
        vm_rb: VM_RB,
        vm_start: VM_START,
        vm_end: VM_END,
        rb_subtree_gap: Some(VM_GAP),
    }
}

struct MemVmas<'a>(&'a SparseMemory);

impl VmaSource for MemVmas<'_> {
    fn vma(&self, a: u64) -> Result<VmaFields, String> {
        let r = |off: u64| self.0.read_u64(a + off).map_err(|e| e.to_string());
        Ok(VmaFields {
            vm_start: r(VM_START)?,
            vm_end: r(VM_END)?,
            vm_mm: r(VM_MM)?,
            vm_flags: r(VM_FLAGS)?,
        })
    }
}

struct MapleMem<'a>(&'a SparseMemory);

impl RawLookup for MapleMem<'_> {
    fn find_vma(&self, addr: u64) -> Result<Option<(u64, u64, u64)>, String> {
        let (hit, _, issue) =
            tmaple::mt_find(self.0, MM_MT, &moffs(), addr).map_err(|e| e.to_string())?;
        match issue {
            Some(i) => Err(i.to_string()),
            None => Ok(hit.map(|(f, l, e)| (f, l.wrapping_add(1), e))),
        }
    }
}

struct RbMem<'a>(&'a SparseMemory);

impl RawLookup for RbMem<'_> {
    fn find_vma(&self, addr: u64) -> Result<Option<(u64, u64, u64)>, String> {
        let (hit, _, issue) =
            trb::find_vma(self.0, MM_RB, &rbo(), &vmo(), addr, WalkLimits::default())
                .map_err(|e| e.to_string())?;
        if let Some(i) = issue {
            return Err(i.to_string());
        }
        match hit {
            None => Ok(None),
            Some(v) => {
                let f = MemVmas(self.0).vma(v)?;
                Ok(Some((f.vm_start, f.vm_end, v)))
            }
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Random non-overlapping VMAs: (start, end, grows_down).
fn random_vmas(n: usize, seed: u64) -> Vec<(u64, u64, bool)> {
    let mut rng = Rng(seed);
    let mut rb = RbTree::new(0);
    while rb.len() < n {
        let page = 16 + rng.next() % 400_000;
        let pages = 1 + rng.next() % 16;
        let _ = rb.insert(Interval::new(page * 4096, (page + pages) * 4096));
    }
    rb.iter()
        .map(|iv| (iv.start, iv.end, rng.next().is_multiple_of(50)))
        .collect()
}

fn write_vma(m: &mut SparseMemory, vma: u64, start: u64, end: u64, grows_down: bool) {
    m.write(vma, &[0u8; 200]);
    m.write_u64(vma + VM_START, start);
    m.write_u64(vma + VM_END, end);
    m.write_u64(vma + VM_MM, MM);
    m.write_u64(
        vma + VM_FLAGS,
        0x73 | if grows_down { VM_GROWSDOWN } else { 0 },
    );
}

fn maple_addr(id: usize) -> u64 {
    NODES + id as u64 * 256
}

/// Encode the reimplementation's maple tree in the 6.1 node layout.
fn maple_image(n: usize) -> (SparseMemory, MmFacts) {
    let vmas = random_vmas(n, 7);
    let mut mt: MapleTree<u64> = MapleTree::new();
    let mut m = SparseMemory::new();
    for (i, &(s, e, g)) in vmas.iter().enumerate() {
        let vma = VMAS + i as u64 * 0x100;
        write_vma(&mut m, vma, s, e, g);
        mt.insert(s, e - 1, vma).unwrap_or_else(|e| panic!("{e}"));
    }
    let (root, nodes) = mt.export();
    let leaf_ids: std::collections::HashSet<usize> = nodes
        .iter()
        .filter(|x| x.children.is_empty())
        .map(|x| x.id)
        .collect();
    let enode = |id: usize| maple_addr(id) | (if leaf_ids.contains(&id) { 1 } else { 3 } << 3) | 4;
    for x in &nodes {
        let a = maple_addr(x.id);
        m.write(a, &[0u8; 256]);
        let parent = match x.parent {
            None => MM_MT | 1,
            Some((p, s)) => maple_addr(p) | ((s as u64) << 3) | 6,
        };
        m.write_u64(a, parent);
        let len = x.pivots.len();
        if x.children.is_empty() {
            for i in 0..len {
                if i < 15 {
                    m.write_u64(a + 8 + 8 * i as u64, x.pivots[i]);
                }
                m.write_u64(a + 128 + 8 * i as u64, x.entries[i].unwrap_or(0));
            }
            if len < 16 {
                m.write_u8(a + 248, (len - 1) as u8);
            }
        } else {
            for i in 0..len {
                if i < 9 {
                    m.write_u64(a + 8 + 8 * i as u64, x.pivots[i]);
                }
                m.write_u64(a + 80 + 8 * i as u64, enode(x.children[i]));
                m.write_u64(a + 160 + 8 * i as u64, x.gaps[i]);
            }
            m.write_u8(a + 240, (len - 1) as u8);
            m.write_u8(a + 241, x.meta_gap as u8);
        }
    }
    let root = root.unwrap_or_else(|| panic!("empty tree"));
    m.write_u64(MM_MT + 8, enode(root) | 2);
    m.write(
        MM_MT + 16,
        &(0x303u32 | ((mt.height() as u32) << 2)).to_le_bytes(),
    );
    let facts = MmFacts {
        mm: MM,
        map_count: n as u64,
        stack_guard_gap: GUARD,
        task_size: TASK_SIZE,
        ..MmFacts::default()
    };
    (m, facts)
}

fn check_maple(m: &SparseMemory, facts: &MmFacts) -> (Report, MapleSnapshot) {
    let snap =
        tmaple::walk(m, MM_MT, &moffs(), WalkLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut r = Report::default();
    let walked = super::maple::validate(&snap, facts, &MemVmas(m), &mut r);
    cross_check(
        &walked,
        Walked::Maple(&snap),
        facts,
        Some(&MapleMem(m)),
        CrossLimits::default(),
        &mut r,
    );
    (r, snap)
}

fn assert_finding(r: &Report, check: &str, node: u64, field: &str) {
    assert!(
        r.findings
            .iter()
            .any(|f| f.check == check && f.node == node && f.field.starts_with(field)),
        "no {check} finding at {node:#x} {field}; findings:\n{}",
        r.findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn maple_clean_image_passes_every_check() {
    let (m, facts) = maple_image(600);
    let (r, snap) = check_maple(&m, &facts);
    assert!(snap.height >= 3, "height {}", snap.height);
    assert!(r.ok(), "{:#?}", r.findings);
    assert_eq!(r.vmas, 600);
    assert!(r.lookups > 4 * 600);
    for c in [
        "maple.parent",
        "maple.pivots",
        "maple.gaps",
        "maple.meta_gap",
        "maple.nulls",
        "maple.entries",
        "cross.find_vma",
        "cross.unmapped_area",
    ] {
        assert!(
            r.checks
                .get(c)
                .is_some_and(|t| t.checked > 0 && t.failed == 0),
            "{c}: {:?}",
            r.checks.get(c)
        );
    }
}

/// First non-root leaf with at least `k` slots, and its snapshot.
fn pick_leaf(snap: &MapleSnapshot, k: usize) -> &tmaple::MapleNodeSnap {
    snap.nodes
        .iter()
        .find(|n| {
            n.node_type == tmaple::MapleType::Leaf64 && n.came_from.is_some() && n.slots.len() >= k
        })
        .unwrap_or_else(|| panic!("no leaf"))
}

#[test]
fn maple_pivot_out_of_order_is_reported() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    let leaf = pick_leaf(&snap, 4);
    m.write_u64(leaf.addr + 8, leaf.pivots[1]);
    m.write_u64(leaf.addr + 16, leaf.pivots[0]);
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.pivots", leaf.addr, "pivot[1]");
}

#[test]
fn maple_wrong_gap_is_reported() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    let root = &snap.nodes[0];
    m.write_u64(root.addr + 160 + 8, root.gaps[1] + 0x5000);
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.gaps", root.addr, "gap[1]");
    assert!(!r.ok());
}

#[test]
fn maple_too_small_gap_misleads_the_stored_gap_search() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    // Zero every gap of the root: the stored-gap search finds nothing.
    let root = &snap.nodes[0];
    for i in 0..root.gaps.len() as u64 {
        m.write_u64(root.addr + 160 + 8 * i, 0);
    }
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.gaps", root.addr, "gap[0]");
    assert!(r
        .checks
        .get("cross.unmapped_area")
        .is_some_and(|t| t.failed > 0));
}

#[test]
fn maple_broken_parent_pointer_is_reported() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    let leaf = pick_leaf(&snap, 2);
    let Some((p, s)) = leaf.came_from else {
        panic!("root")
    };
    m.write_u64(leaf.addr, p | (u64::from((s + 1) % 10) << 3) | 6);
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.parent", leaf.addr, "parent");
}

#[test]
fn maple_dead_node_is_reported() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    let leaf = pick_leaf(&snap, 2);
    m.write_u64(leaf.addr, leaf.addr);
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.dead", leaf.addr, "parent");
    assert_finding(&r, "maple.map_count", MM, "map_count");
}

#[test]
fn maple_node_pointing_at_its_ancestor_is_reported() {
    let (mut m, facts) = maple_image(600);
    let (_, snap) = check_maple(&m, &facts);
    let inner = snap
        .nodes
        .iter()
        .find(|n| n.node_type == tmaple::MapleType::Arange64 && n.came_from.is_some())
        .unwrap_or_else(|| panic!("height < 3"));
    m.write_u64(inner.addr + 80, snap.ma_root & !2);
    let (r, _) = check_maple(&m, &facts);
    assert_finding(&r, "maple.cycle", inner.addr, "slot[0]");
}

// ---- rb-tree -----------------------------------------------------------------

fn rb_vma(id: usize) -> u64 {
    VMAS + id as u64 * 0x100
}

fn rb_node(id: usize) -> u64 {
    rb_vma(id) + VM_RB
}

/// Encode the reimplementation's rb-tree and the VMA list in the 5.10 layout.
fn rb_image(n: usize) -> (SparseMemory, MmFacts, Vec<usize>) {
    let mut rb = RbTree::new(GUARD);
    for (s, e, g) in random_vmas(n, 11) {
        rb.insert(Interval {
            start: s,
            end: e,
            grows_down: g,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let (root, nodes) = rb.export();
    let mut m = SparseMemory::new();
    let order: Vec<usize> = nodes.iter().map(|x| x.id).collect();
    for (k, x) in nodes.iter().enumerate() {
        let v = rb_vma(x.id);
        write_vma(&mut m, v, x.iv.start, x.iv.end, x.iv.grows_down);
        m.write_u64(v + VM_NEXT, order.get(k + 1).map_or(0, |&i| rb_vma(i)));
        m.write_u64(v + VM_PREV, if k == 0 { 0 } else { rb_vma(order[k - 1]) });
        let black = u64::from(x.color == Color::Black);
        m.write_u64(rb_node(x.id), x.parent.map_or(0, rb_node) | black);
        m.write_u64(rb_node(x.id) + 8, x.right.map_or(0, rb_node));
        m.write_u64(rb_node(x.id) + 16, x.left.map_or(0, rb_node));
        m.write_u64(v + VM_GAP, x.subtree_gap);
    }
    m.write_u64(MM, order.first().map_or(0, |&i| rb_vma(i)));
    m.write_u64(MM_RB, root.map_or(0, rb_node));
    let facts = MmFacts {
        mm: MM,
        map_count: n as u64,
        highest_vm_end: Some(rb.highest_vm_end()),
        stack_guard_gap: GUARD,
        task_size: TASK_SIZE,
        ..MmFacts::default()
    };
    (m, facts, order)
}

fn check_rb(m: &SparseMemory, facts: &MmFacts) -> (Report, RbSnapshot, ListSnapshot) {
    let tree = trb::walk(m, MM_RB, &rbo(), Some(&vmo()), WalkLimits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let first = m.read_u64(MM).unwrap_or(0);
    let lo = ListOffsets {
        next: VM_NEXT,
        prev: VM_PREV,
        range: Some((VM_START, VM_END)),
    };
    let l = list::walk(m, first, &lo, WalkLimits::default());
    let mut r = Report::default();
    let walked = super::rbtree::validate(&tree, &l, facts, &MemVmas(m), &mut r);
    cross_check(
        &walked,
        Walked::Rb(&tree),
        facts,
        Some(&RbMem(m)),
        CrossLimits::default(),
        &mut r,
    );
    (r, tree, l)
}

#[test]
fn rb_clean_image_passes_every_check() {
    let (m, facts, _) = rb_image(400);
    let (r, _, _) = check_rb(&m, &facts);
    assert!(r.ok(), "{:#?}", r.findings);
    assert_eq!(r.vmas, 400);
    for c in [
        "rb.parent",
        "rb.color",
        "rb.black_height",
        "rb.subtree_gap",
        "rb.list",
        "rb.vm_prev",
        "cross.find_vma",
        "cross.unmapped_area_topdown",
    ] {
        assert!(
            r.checks
                .get(c)
                .is_some_and(|t| t.checked > 0 && t.failed == 0),
            "{c}: {:?}",
            r.checks.get(c)
        );
    }
}

#[test]
fn rb_red_red_edge_is_reported() {
    let (mut m, facts, _) = rb_image(400);
    let (_, tree, _) = check_rb(&m, &facts);
    let by: HashMap<u64, &trb::RbNodeSnap> = tree.nodes.iter().map(|n| (n.node, n)).collect();
    let red = |a: u64| by.get(&a).is_some_and(|n| n.color == trb::RB_RED);
    // A black node with a black parent and a red child: painting it red makes
    // exactly one red-red edge, below it.
    let x = tree
        .nodes
        .iter()
        .find(|n| {
            n.color == trb::RB_BLACK
                && n.parent != 0
                && !red(n.parent)
                && (red(n.left) || red(n.right))
        })
        .unwrap_or_else(|| panic!("no candidate"));
    m.write_u64(x.node, x.parent_color & !1);
    let (r, _, _) = check_rb(&m, &facts);
    assert_finding(&r, "rb.color", x.node, "__rb_parent_color");
}

#[test]
fn rb_wrong_subtree_gap_is_reported() {
    let (mut m, facts, order) = rb_image(400);
    let v = rb_vma(order[order.len() / 2]);
    let g = m.read_u64(v + VM_GAP).unwrap_or(0);
    m.write_u64(v + VM_GAP, g + 0x3000);
    let (r, _, _) = check_rb(&m, &facts);
    assert_finding(&r, "rb.subtree_gap", v, "rb_subtree_gap");
}

#[test]
fn rb_list_link_skipping_a_vma_is_reported() {
    let (mut m, facts, order) = rb_image(400);
    let k = order.len() / 3;
    m.write_u64(rb_vma(order[k]) + VM_NEXT, rb_vma(order[k + 2]));
    let (r, _, _) = check_rb(&m, &facts);
    assert_finding(&r, "rb.list", rb_vma(order[k]), "vm_next");
    assert_finding(&r, "rb.map_count", MM, "map_count");
}

#[test]
fn rb_broken_parent_pointer_is_reported() {
    let (mut m, facts, order) = rb_image(400);
    let (_, tree, _) = check_rb(&m, &facts);
    let x = tree
        .nodes
        .iter()
        .find(|n| n.parent != 0)
        .unwrap_or_else(|| panic!("single node"));
    let other = rb_node(order[0]);
    let bogus = if other == x.parent {
        rb_node(order[1])
    } else {
        other
    };
    m.write_u64(x.node, bogus | (x.parent_color & 1));
    let (r, _, _) = check_rb(&m, &facts);
    assert_finding(&r, "rb.parent", x.node, "__rb_parent_color");
}

#[test]
fn rb_node_pointing_at_its_ancestor_is_reported() {
    let (mut m, facts, _) = rb_image(400);
    let (_, tree, _) = check_rb(&m, &facts);
    let leaf = tree
        .nodes
        .iter()
        .find(|n| n.left == 0 && n.depth > 2)
        .unwrap_or_else(|| panic!("no leaf"));
    m.write_u64(leaf.node + 16, tree.root);
    let (r, _, _) = check_rb(&m, &facts);
    assert_finding(&r, "rb.cycle", leaf.node, "rb_left");
}

#[test]
fn maps_lines_are_compared() {
    let mut r = Report::default();
    maps::compare(
        b"1000-2000 r--p 00000000 00:00 0\n3000-4000 rw-p 00000000 00:00 0\n",
        b"1000-2000 r--p 00000000 00:00 0\n3000-5000 rw-p 00000000 00:00 0\n",
        "maps",
        &mut r,
    );
    assert_eq!(
        r.checks.get("maps").map(|t| (t.checked, t.failed)),
        Some((2, 1))
    );
    assert_finding(&r, "maps", 0x3000, "maps line 2");
}

mod records {
    use crate::check::records::{task, vmas, TaskRecord, VmaRecord};
    use crate::check::Report;

    const TASK_SIZE: u64 = (1 << 47) - 4096;

    fn vma(start: u64, end: u64) -> VmaRecord {
        VmaRecord {
            vma: 0xffff_8880_0000_0000 + start / 4096,
            start,
            end,
            slot: Some((start, end.wrapping_sub(1))),
        }
    }

    fn checks(r: &Report) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.check).collect()
    }

    #[test]
    fn sound_vmas_pass() {
        let mut r = Report::default();
        let list = [
            vma(0x40_0000, 0x40_1000),
            vma(0x40_1000, 0x50_0000),
            vma(0x7ffd_0000_0000, 0x7ffd_0002_1000),
        ];
        assert_eq!(vmas(&list, TASK_SIZE, &mut r), vec![true; 3]);
        assert!(r.ok(), "{:?}", r.findings);
        assert_eq!(r.checks.get("vma.order").map(|t| t.checked), Some(3));
    }

    /// Issue 15 item 7: the impossible VMAs `vmas` once printed with exit 0.
    #[test]
    fn each_impossible_vma_is_one_finding() {
        let cases: [(VmaRecord, &str); 4] = [
            (vma(0x2000_00b0_e000, 0x1000), "vma.range"),
            (vma(0x40_0000, 0x40_0717), "vma.aligned"),
            (vma(0x40_2000_0000_0000, 0x40_2000_0071_7000), "vma.user"),
            (vma(0x40_0000, 0x40_3000), "vma.order"),
        ];
        for (bad, check) in cases {
            let mut r = Report::default();
            let list = [vma(0x40_1000, 0x40_2000), bad];
            let ok = vmas(&list, TASK_SIZE, &mut r);
            assert_eq!(ok, vec![true, false], "{check}");
            assert!(checks(&r).contains(&check), "{check}: {:?}", r.findings);
        }
        let mut bad_slot = vma(0x40_0000, 0x40_1000);
        bad_slot.slot = Some((0x40_0000, 0x40_1fff));
        let mut r = Report::default();
        assert_eq!(vmas(&[bad_slot], TASK_SIZE, &mut r), vec![false]);
        assert_eq!(checks(&r), vec!["vma.slot"]);
    }

    #[test]
    fn tasks() {
        let pob = 0xffff_8880_0000_0000;
        let good = TaskRecord {
            addr: pob + 0x1_0000,
            pid: 42,
            tgid: 42,
            comm: "bash",
            idle: false,
        };
        let mut r = Report::default();
        assert!(task(&good, pob, &mut r));
        assert!(task(
            &TaskRecord {
                pid: 0,
                tgid: 0,
                idle: true,
                ..good
            },
            pob,
            &mut r
        ));
        assert!(r.ok());
        for (t, check) in [
            (
                TaskRecord {
                    addr: pob + 0x1_0004,
                    ..good
                },
                "task.aligned",
            ),
            (
                TaskRecord {
                    addr: 0x1_0000,
                    ..good
                },
                "task.address",
            ),
            (
                TaskRecord {
                    comm: "evil\nrow",
                    ..good
                },
                "task.comm",
            ),
            (TaskRecord { pid: 0, ..good }, "task.pid"),
            (TaskRecord { tgid: -5, ..good }, "task.pid"),
        ] {
            let mut r = Report::default();
            assert!(!task(&t, pob, &mut r), "{check}");
            assert_eq!(checks(&r), vec![check]);
        }
    }
}

/// Issue 15 item 8: a task hidden from the list, or forged into it, is a finding.
#[test]
fn task_sources_disagreeing() {
    use crate::check::records::{ring_links, task_sources};
    let list = [(1, 0x1000), (2, 0x2000), (3, 0x3000)];
    let mut r = Report::default();
    task_sources(&list, &list, &mut r);
    ring_links(&[(0x10, 0x20, 0x10), (0x20, 0x10, 0x20)], &mut r);
    assert!(r.ok(), "{:?}", r.findings);
    let mut r = Report::default();
    task_sources(&[(1, 0x1000), (0, 0x5008)], &list, &mut r);
    let got: Vec<(&str, u64)> = r.findings.iter().map(|f| (f.check, f.node)).collect();
    assert_eq!(
        got,
        vec![
            ("tasks.idr", 0x5008),
            ("tasks.list", 0x2000),
            ("tasks.list", 0x3000)
        ]
    );
    let mut r = Report::default();
    ring_links(&[(0x10, 0x20, 0x99)], &mut r);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(
        (r.findings[0].check, r.findings[0].node),
        ("tasks.prev", 0x20)
    );
}
