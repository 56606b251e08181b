//! Raw walkers over kernel memory: the maple tree (6.1+ `mm->mm_mt`), the red-black
//! tree (`mm->mm_rb` before 6.1) and the `vm_next`/`vm_prev` list.
//!
//! The walkers take plain offsets structs filled by the caller and a [`Memory`]
//! reader; they never import the kernel layer, so they serve any maple tree or
//! rb-tree in the kernel. Every walk is bounded ([`WalkLimits`]: node count, depth,
//! visited set) and reports a bad node by address as a [`WalkIssue`] instead of
//! panicking. Each walk returns a *snapshot* of every node it read, which is what
//! `vmscope tree` prints and what the `check` layer validates.
//!
//! [`Memory`]: crate::memory::Memory

pub mod list;
pub mod maple;
pub mod rbtree;
#[cfg(test)]
pub mod sparse;

use crate::memory::MemError;
use serde::Serialize;
use thiserror::Error;

/// Bounds applied to every walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Give up (with a [`IssueKind::TooManyNodes`] issue) after this many nodes.
    pub max_nodes: usize,
    /// Do not descend below this depth (root = depth 1).
    pub max_depth: u32,
}

impl Default for WalkLimits {
    fn default() -> Self {
        // 1M nodes is far above any real mm (max_map_count defaults to 65530);
        // 128 levels is above the rb-tree bound 2*log2(n+1) for any 64-bit n.
        WalkLimits {
            max_nodes: 1 << 20,
            max_depth: 128,
        }
    }
}

/// What went wrong at one node. The walk records it and does not descend there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IssueKind {
    /// Reading the node faulted.
    Fault { error: String },
    /// The node was already visited (a cycle or a shared subtree).
    Cycle,
    /// The node lies deeper than the depth limit.
    TooDeep { depth: u32 },
    /// The node limit was reached; the walk stopped here.
    TooManyNodes { limit: usize },
    /// A maple node type outside `enum maple_type`.
    BadType { node_type: u8 },
    /// A maple node whose parent points at itself (`ma_dead_node()`).
    DeadNode,
    /// A value where an encoded node pointer was expected.
    NotANode { raw: u64 },
    /// A list node that was reached but whose link is not 8-byte aligned.
    Misaligned { raw: u64 },
}

/// A problem found at one address during a walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalkIssue {
    /// Address of the node (or pointer value) concerned.
    #[serde(serialize_with = "ser_hex")]
    pub addr: u64,
    #[serde(flatten)]
    pub kind: IssueKind,
}

/// Why a walk must stop at `node`, reached from `from`: a misaligned pointer
/// (reported at `from`, which holds it) or a node already visited (a cycle).
pub(crate) fn entry_issue(
    node: u64,
    from: u64,
    visited: &mut std::collections::HashSet<u64>,
) -> Option<WalkIssue> {
    if node & 7 != 0 {
        return Some(WalkIssue {
            addr: from,
            kind: IssueKind::Misaligned { raw: node },
        });
    }
    if !visited.insert(node) {
        return Some(WalkIssue {
            addr: node,
            kind: IssueKind::Cycle,
        });
    }
    None
}

impl std::fmt::Display for WalkIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            IssueKind::Fault { error } => write!(f, "node {:#x}: read failed: {error}", self.addr),
            IssueKind::Cycle => write!(f, "node {:#x}: visited twice (cycle)", self.addr),
            IssueKind::TooDeep { depth } => {
                write!(f, "node {:#x}: depth {depth} exceeds the limit", self.addr)
            }
            IssueKind::TooManyNodes { limit } => {
                write!(
                    f,
                    "node {:#x}: node limit {limit} reached, walk stopped",
                    self.addr
                )
            }
            IssueKind::BadType { node_type } => {
                write!(
                    f,
                    "node {:#x}: invalid maple node type {node_type}",
                    self.addr
                )
            }
            IssueKind::DeadNode => write!(
                f,
                "node {:#x}: dead node (parent points to itself)",
                self.addr
            ),
            IssueKind::NotANode { raw } => {
                write!(
                    f,
                    "node {:#x}: {raw:#x} is not an encoded node pointer",
                    self.addr
                )
            }
            IssueKind::Misaligned { raw } => {
                write!(
                    f,
                    "node {:#x}: link {raw:#x} is not 8-byte aligned",
                    self.addr
                )
            }
        }
    }
}

/// Errors that prevent a walk from starting at all.
#[derive(Debug, Error, Clone)]
pub enum TreeError {
    /// Reading the tree head (e.g. `ma_root`, `rb_root`) failed.
    #[error("reading tree head at {addr:#x}: {source}")]
    Head {
        addr: u64,
        #[source]
        source: MemError,
    },
    /// The caller's offsets do not fit the structures they describe.
    #[error("bad offsets: {0}")]
    BadOffsets(String),
}

/// Serialize a `u64` as a `"0x..."` string (JSON consumers lose precision on u64).
pub fn ser_hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// Serialize a slice of `u64` as `"0x..."` strings.
pub fn ser_hex_vec<S: serde::Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&format!("{x:#x}"))?;
    }
    seq.end()
}
