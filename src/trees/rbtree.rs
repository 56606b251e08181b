//! Red-black tree walker over raw kernel memory (`lib/rbtree.c`,
//! `include/linux/rbtree_types.h`). Used for the VMA tree `mm->mm_rb` before 6.1,
//! but any `struct rb_root` can be walked: entries are found from nodes by the
//! caller-given offset of the `rb_node` inside the entry (`container_of`).
//!
//! `__rb_parent_color` keeps the parent address in the high bits and the colour in
//! bit 0 (`RB_RED` 0, `RB_BLACK` 1). A node whose parent word points at itself is
//! "empty" (`RB_EMPTY_NODE`, not in a tree).

use super::{ser_hex, IssueKind, TreeError, WalkIssue, WalkLimits};
use crate::memory::bytes::le_u64;
use crate::memory::Memory;
use serde::Serialize;
use std::collections::HashSet;

pub const RB_RED: u8 = 0;
pub const RB_BLACK: u8 = 1;

/// `struct rb_node` member offsets (probed by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbOffsets {
    pub rb_parent_color: u64,
    pub rb_right: u64,
    pub rb_left: u64,
}

impl RbOffsets {
    /// `struct rb_node` on x86_64 (pahole), as data for synthetic trees (tests,
    /// fuzzing); real offsets are probed from the type model.
    pub fn x86_64() -> Self {
        RbOffsets {
            rb_parent_color: 0,
            rb_right: 8,
            rb_left: 16,
        }
    }
}

/// Offsets that turn a node into a VMA-like entry with an address range: the
/// `rb_node`'s offset inside the entry (`vm_area_struct.vm_rb`), `vm_start`,
/// `vm_end` and the augmented `rb_subtree_gap` (if the structure has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbVmaOffsets {
    pub vm_rb: u64,
    pub vm_start: u64,
    pub vm_end: u64,
    pub rb_subtree_gap: Option<u64>,
}

/// `rb_parent()`.
pub fn rb_parent(parent_color: u64) -> u64 {
    parent_color & !3
}

/// `rb_color()`: bit 0.
pub fn rb_color(parent_color: u64) -> u8 {
    (parent_color & 1) as u8
}

/// `RB_EMPTY_NODE()`: the parent word points at the node itself.
pub fn rb_empty_node(node: u64, parent_color: u64) -> bool {
    parent_color == node
}

/// Colour as a word for output.
pub fn color_name(c: u8) -> &'static str {
    if c == RB_RED {
        "red"
    } else {
        "black"
    }
}

/// The VMA fields read beside a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RbVma {
    /// `container_of(node, struct vm_area_struct, vm_rb)`.
    #[serde(serialize_with = "ser_hex")]
    pub vma: u64,
    #[serde(serialize_with = "ser_hex")]
    pub vm_start: u64,
    #[serde(serialize_with = "ser_hex")]
    pub vm_end: u64,
    pub rb_subtree_gap: Option<u64>,
}

/// One `rb_node` as read from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RbNodeSnap {
    #[serde(serialize_with = "ser_hex")]
    pub node: u64,
    #[serde(serialize_with = "ser_hex")]
    pub parent_color: u64,
    /// `RB_RED` (0) or `RB_BLACK` (1).
    pub color: u8,
    /// `rb_parent()`.
    #[serde(serialize_with = "ser_hex")]
    pub parent: u64,
    #[serde(serialize_with = "ser_hex")]
    pub left: u64,
    #[serde(serialize_with = "ser_hex")]
    pub right: u64,
    /// Root = 1.
    pub depth: u32,
    /// The node the walker came from (0 for the root): compare with `parent`.
    #[serde(serialize_with = "ser_hex")]
    pub came_from: u64,
    pub vma: Option<RbVma>,
}

/// Every node of one rb-tree, in in-order (ascending key) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RbSnapshot {
    /// Address of the `struct rb_root`.
    #[serde(serialize_with = "ser_hex")]
    pub root_addr: u64,
    /// `rb_root.rb_node`.
    #[serde(serialize_with = "ser_hex")]
    pub root: u64,
    pub nodes: Vec<RbNodeSnap>,
    pub issues: Vec<WalkIssue>,
}

impl RbSnapshot {
    /// Tree height (deepest node depth).
    pub fn height(&self) -> u32 {
        self.nodes.iter().map(|n| n.depth).max().unwrap_or(0)
    }

    /// Entries (VMAs) in in-order.
    pub fn vmas(&self) -> impl Iterator<Item = &RbVma> {
        self.nodes.iter().filter_map(|n| n.vma.as_ref())
    }

    /// Nodes whose parent word does not lead back to the node the walk came from (or
    /// marks them out of any tree, `RB_EMPTY_NODE`). In memory nobody writes to that is
    /// corruption; on a live kernel it is what a rotation or an erase leaves under a
    /// reader that holds no lock, and the sign to read the tree again.
    pub fn moved_nodes(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.parent != n.came_from || rb_empty_node(n.node, n.parent_color))
            .map(|n| n.node)
            .collect()
    }
}

fn read_node(
    mem: &dyn Memory,
    node: u64,
    o: &RbOffsets,
    v: Option<&RbVmaOffsets>,
) -> Result<(u64, u64, u64, Option<RbVma>), String> {
    // One read covering the rb_node and, for VMAs, the entry fields around it;
    // entry offsets are taken relative to the node and may be negative.
    let base_entry = v.map(|v| node.wrapping_sub(v.vm_rb));
    let mut fields: Vec<i128> = vec![
        o.rb_parent_color as i128,
        o.rb_left as i128,
        o.rb_right as i128,
    ];
    if let Some(v) = v {
        for off in [Some(v.vm_start), Some(v.vm_end), v.rb_subtree_gap]
            .into_iter()
            .flatten()
        {
            fields.push(off as i128 - v.vm_rb as i128);
        }
    }
    let min = fields.iter().copied().min().unwrap_or(0);
    let max = fields.iter().copied().max().unwrap_or(0) + 8;
    let len = usize::try_from(max - min).map_err(|_| "offset span too large".to_string())?;
    if len > 4096 {
        return Err(format!("offset span of {len} bytes too large"));
    }
    let start = (node as i128 + min) as u64;
    let mut buf = vec![0u8; len];
    mem.read(start, &mut buf).map_err(|e| e.to_string())?;
    let at = |rel: i128| -> u64 {
        usize::try_from(rel - min)
            .ok()
            .and_then(|o| le_u64(&buf, o))
            .unwrap_or(0)
    };
    let pc = at(o.rb_parent_color as i128);
    let left = at(o.rb_left as i128);
    let right = at(o.rb_right as i128);
    let vma = match (v, base_entry) {
        (Some(v), Some(entry)) => Some(RbVma {
            vma: entry,
            vm_start: at(v.vm_start as i128 - v.vm_rb as i128),
            vm_end: at(v.vm_end as i128 - v.vm_rb as i128),
            rb_subtree_gap: v.rb_subtree_gap.map(|g| at(g as i128 - v.vm_rb as i128)),
        }),
        _ => None,
    };
    Ok((pc, left, right, vma))
}

/// Walk the rb-tree whose `struct rb_root` is at `root_addr`, in order, reading each
/// node once. `vma` (if given) reads the entry's range and gap beside each node.
pub fn walk(
    mem: &dyn Memory,
    root_addr: u64,
    o: &RbOffsets,
    vma: Option<&RbVmaOffsets>,
    limits: WalkLimits,
) -> Result<RbSnapshot, TreeError> {
    let root = mem.read_u64(root_addr).map_err(|source| TreeError::Head {
        addr: root_addr,
        source,
    })?;
    let mut snap = RbSnapshot {
        root_addr,
        root,
        nodes: Vec::new(),
        issues: Vec::new(),
    };
    if root == 0 {
        return Ok(snap);
    }
    // Iterative in-order traversal: a stack of nodes whose left subtree is pending.
    struct Frame {
        node: RbNodeSnap,
    }
    let mut visited: HashSet<u64> = HashSet::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut next: Option<(u64, u32, u64)> = Some((root, 1, 0));
    let mut stopped = false;
    loop {
        // Descend left as far as possible.
        while let Some((node, depth, came_from)) = next.take() {
            if node == 0 {
                break;
            }
            if visited.len() >= limits.max_nodes {
                snap.issues.push(WalkIssue {
                    addr: node,
                    kind: IssueKind::TooManyNodes {
                        limit: limits.max_nodes,
                    },
                });
                stopped = true;
                break;
            }
            if depth > limits.max_depth {
                snap.issues.push(WalkIssue {
                    addr: node,
                    kind: IssueKind::TooDeep { depth },
                });
                break;
            }
            if let Some(issue) = super::entry_issue(node, came_from, &mut visited) {
                snap.issues.push(issue);
                break;
            }
            match read_node(mem, node, o, vma) {
                Ok((pc, left, right, v)) => {
                    let n = RbNodeSnap {
                        node,
                        parent_color: pc,
                        color: rb_color(pc),
                        parent: rb_parent(pc),
                        left,
                        right,
                        depth,
                        came_from,
                        vma: v,
                    };
                    stack.push(Frame { node: n });
                    next = Some((left, depth + 1, node));
                }
                Err(error) => {
                    snap.issues.push(WalkIssue {
                        addr: node,
                        kind: IssueKind::Fault { error },
                    });
                    break;
                }
            }
        }
        if stopped {
            break;
        }
        let Some(f) = stack.pop() else { break };
        let (right, depth, node) = (f.node.right, f.node.depth + 1, f.node.node);
        snap.nodes.push(f.node);
        next = Some((right, depth, node));
    }
    Ok(snap)
}

/// One step of a descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RbStep {
    #[serde(serialize_with = "ser_hex")]
    pub node: u64,
    #[serde(serialize_with = "ser_hex")]
    pub vm_start: u64,
    #[serde(serialize_with = "ser_hex")]
    pub vm_end: u64,
}

/// What [`find_vma`] answers: the VMA (or `None`), the path, and the issue that
/// stopped the descent early (if any).
pub type RbFound = (Option<u64>, Vec<RbStep>, Option<WalkIssue>);

/// `find_vma()` (mm/mmap.c before 6.1): the first VMA with `vm_end > addr`, found by
/// descending from the root (left when `vm_end > addr`, stopping early when the VMA
/// contains `addr`). Returns the VMA address (or `None`) and the nodes touched.
pub fn find_vma(
    mem: &dyn Memory,
    root_addr: u64,
    o: &RbOffsets,
    v: &RbVmaOffsets,
    addr: u64,
    limits: WalkLimits,
) -> Result<RbFound, TreeError> {
    let mut node = mem.read_u64(root_addr).map_err(|source| TreeError::Head {
        addr: root_addr,
        source,
    })?;
    let mut found = None;
    let mut path = Vec::new();
    let mut depth = 0;
    while node != 0 {
        depth += 1;
        if depth > limits.max_depth {
            return Ok((
                found,
                path,
                Some(WalkIssue {
                    addr: node,
                    kind: IssueKind::TooDeep { depth },
                }),
            ));
        }
        let (_, left, right, vma) = match read_node(mem, node, o, Some(v)) {
            Ok(x) => x,
            Err(error) => {
                return Ok((
                    found,
                    path,
                    Some(WalkIssue {
                        addr: node,
                        kind: IssueKind::Fault { error },
                    }),
                ))
            }
        };
        let Some(vma) = vma else { break };
        path.push(RbStep {
            node,
            vm_start: vma.vm_start,
            vm_end: vma.vm_end,
        });
        if vma.vm_end > addr {
            found = Some(vma.vma);
            if vma.vm_start <= addr {
                break;
            }
            node = left;
        } else {
            node = right;
        }
    }
    Ok((found, path, None))
}

/// A place where the in-order tree and the list disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OrderMismatch {
    /// Position in the order (0-based).
    pub position: usize,
    /// VMA address the tree has there (0 if the tree ended).
    #[serde(serialize_with = "ser_hex")]
    pub tree: u64,
    /// VMA address the list has there (0 if the list ended).
    #[serde(serialize_with = "ser_hex")]
    pub list: u64,
}

/// Compare the tree's in-order VMAs with the list order; returns the first
/// mismatch, if any (both walks must yield the same VMAs in the same order).
pub fn compare_with_list(
    tree: &RbSnapshot,
    list: &super::list::ListSnapshot,
) -> Option<OrderMismatch> {
    let t: Vec<u64> = tree.vmas().map(|v| v.vma).collect();
    let l: Vec<u64> = list.entries.iter().map(|e| e.addr).collect();
    let n = t.len().max(l.len());
    (0..n).find_map(|i| {
        let (a, b) = (
            t.get(i).copied().unwrap_or(0),
            l.get(i).copied().unwrap_or(0),
        );
        (a != b).then_some(OrderMismatch {
            position: i,
            tree: a,
            list: b,
        })
    })
}

#[cfg(test)]
mod tests;
