//! Which part of a VMA tree a picture draws. Small trees are drawn whole; a big one
//! shows its top levels and the paths to the focus addresses, and every other
//! subtree as one folded box with its node and VMA counts. The SVG and DOT writers
//! both draw from this view, itself made from the walked snapshot.

use crate::trees::maple::{MapleSnapshot, SlotKind};
use crate::trees::rbtree::RbSnapshot;
use std::collections::HashMap;

/// Trees with at most this many VMAs are drawn whole without `--full`.
pub const WHOLE_UP_TO: usize = 400;

/// What to draw: everything, or the top `top_depth` levels plus the paths to `focus`.
#[derive(Clone, Debug)]
pub struct Policy {
    pub full: bool,
    /// Depth (root = 1) down to which every node is drawn.
    pub top_depth: u32,
    pub focus: Vec<u64>,
}

/// A subtree drawn as one box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Snapshot index of the folded subtree's root.
    pub root: usize,
    pub nodes: usize,
    pub vmas: usize,
    pub min: u64,
    pub max: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// A drawn node: its index in the snapshot's node list.
    Node(usize),
    Fold(Fold),
}

/// One drawn item; `kids` are indexes into `View::items`, each with the slot (maple)
/// or side (rb-tree: 0 left, 1 right) it hangs from.
#[derive(Clone, Debug)]
pub struct Item {
    pub what: What,
    pub depth: u32,
    pub kids: Vec<(u8, usize)>,
}

/// The drawn items, the root first, parents before their children.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub items: Vec<Item>,
}

impl View {
    /// Drawn nodes and folded boxes as (nodes, vmas) totals: the whole tree's counts
    /// when the view lost nothing.
    pub fn counts(&self, own_vmas: impl Fn(usize) -> usize) -> (usize, usize) {
        self.items.iter().fold((0, 0), |(n, v), it| match it.what {
            What::Node(i) => (n + 1, v + own_vmas(i)),
            What::Fold(f) => (n + f.nodes, v + f.vmas),
        })
    }
}

/// What the view needs of a tree: children, own VMAs and own range per node.
struct Shape {
    root: usize,
    kids: Vec<Vec<(u8, usize)>>,
    own_vmas: Vec<usize>,
    own_range: Vec<(u64, u64)>,
}

/// Subtree totals, each node counted once even if a corrupt snapshot links it twice.
fn subtree_stats(s: &Shape, root: usize) -> Vec<Option<Fold>> {
    let n = s.kids.len();
    let mut stats: Vec<Option<Fold>> = vec![None; n];
    let mut seen = vec![false; n];
    // Iterative post-order: (node, children done?).
    let mut stack = vec![(root, false)];
    while let Some((i, done)) = stack.pop() {
        if done {
            let (min, max) = s.own_range[i];
            let mut f = Fold {
                root: i,
                nodes: 1,
                vmas: s.own_vmas[i],
                min,
                max,
            };
            for &(_, k) in &s.kids[i] {
                if let Some(c) = stats[k].filter(|c| c.root == k) {
                    f.nodes += c.nodes;
                    f.vmas += c.vmas;
                    f.min = f.min.min(c.min);
                    f.max = f.max.max(c.max);
                }
            }
            stats[i] = Some(f);
            continue;
        }
        if seen[i] {
            continue;
        }
        seen[i] = true;
        stack.push((i, true));
        stack.extend(
            s.kids[i]
                .iter()
                .filter(|(_, k)| !seen[*k])
                .map(|&(_, k)| (k, false)),
        );
    }
    stats
}

fn build(s: &Shape, p: &Policy) -> View {
    let mut v = View::default();
    if s.kids.is_empty() {
        return v;
    }
    let stats = subtree_stats(s, s.root);
    let mut placed = vec![false; s.kids.len()];
    placed[s.root] = true;
    v.items.push(Item {
        what: What::Node(s.root),
        depth: 1,
        kids: Vec::new(),
    });
    let mut at = 0;
    while at < v.items.len() {
        let (What::Node(i), depth) = (v.items[at].what, v.items[at].depth) else {
            at += 1;
            continue;
        };
        for &(slot, k) in &s.kids[i] {
            if std::mem::replace(&mut placed[k], true) {
                continue;
            }
            let Some(f) = stats[k] else { continue };
            let on_path = p.focus.iter().any(|&a| f.min <= a && a <= f.max);
            let what = if p.full || depth < p.top_depth || on_path {
                What::Node(k)
            } else {
                What::Fold(f)
            };
            v.items.push(Item {
                what,
                depth: depth + 1,
                kids: Vec::new(),
            });
            let idx = v.items.len() - 1;
            v.items[at].kids.push((slot, idx));
        }
        at += 1;
    }
    v
}

/// The view of a maple tree: a node's range is its [min, max]; leaves own their entries.
pub fn maple(s: &MapleSnapshot, p: &Policy) -> View {
    let by_addr: HashMap<u64, usize> = s
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.addr, i))
        .collect();
    // The walk reads the root first.
    let shape = Shape {
        root: 0,
        kids: s
            .nodes
            .iter()
            .map(|n| {
                n.slots
                    .iter()
                    .filter(|sl| sl.kind == SlotKind::Child)
                    .filter_map(|sl| Some((sl.index, *by_addr.get(&(sl.raw & !0xff))?)))
                    .collect()
            })
            .collect(),
        own_vmas: s
            .nodes
            .iter()
            .map(|n| {
                n.slots
                    .iter()
                    .filter(|sl| sl.kind == SlotKind::Entry)
                    .count()
            })
            .collect(),
        own_range: s.nodes.iter().map(|n| (n.min, n.max)).collect(),
    };
    build(&shape, p)
}

/// The view of an rb-tree: a node's range is its VMA's [vm_start, vm_end - 1].
pub fn rb(t: &RbSnapshot, p: &Policy) -> View {
    let by_addr: HashMap<u64, usize> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.node, i))
        .collect();
    let Some(&root) = by_addr.get(&t.root) else {
        return View::default();
    };
    let shape = Shape {
        root,
        kids: t
            .nodes
            .iter()
            .map(|n| {
                [(0u8, n.left), (1, n.right)]
                    .into_iter()
                    .filter_map(|(side, a)| Some((side, *by_addr.get(&a)?)))
                    .collect()
            })
            .collect(),
        own_vmas: t
            .nodes
            .iter()
            .map(|n| usize::from(n.vma.is_some()))
            .collect(),
        own_range: t
            .nodes
            .iter()
            .map(|n| {
                n.vma
                    .map_or((u64::MAX, 0), |v| (v.vm_start, v.vm_end.saturating_sub(1)))
            })
            .collect(),
    };
    build(&shape, p)
}

/// What a picture writes about one VMA (from its record, as /proc/PID/maps shows it).
#[derive(Clone, Debug, Default)]
pub struct VmaLabel {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub path: String,
    /// Backed by a file (`vm_file` set).
    pub file: bool,
}

/// What a VMA is, for the colours of the address-space strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Data,
    Heap,
    Stack,
    Anon,
    File,
    Special,
}

impl VmaLabel {
    pub fn kind(&self) -> Kind {
        let p = &self.path;
        if self.file {
            if self.perms.contains('x') {
                Kind::Text
            } else if self.perms.contains('w') {
                Kind::Data
            } else {
                Kind::File
            }
        } else if p == "[heap]" {
            Kind::Heap
        } else if p.starts_with("[stack") {
            Kind::Stack
        } else if p.is_empty() || p.starts_with("[anon") {
            Kind::Anon
        } else {
            Kind::Special
        }
    }
}

/// Labels by `vm_area_struct` address.
pub type Labels = HashMap<u64, VmaLabel>;
