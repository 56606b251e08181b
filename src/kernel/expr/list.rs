//! Walks for `vmscope list`: the entries of a `list_head` (circular, from its head),
//! an `hlist_head`, an `rb_root` (in order) or a maple tree, each entry turned into
//! the address of the object that holds it (`container_of`). Every walk is bounded by
//! a cap and stops at a node met twice, naming it.

use super::eval::{EvalError, Evaluator, Shape, Ty, Val};
use super::parse::TypeName;
use crate::kernel::offsets::TypeLookup;
use crate::kernel::vma_layout::{probe_maple, probe_rb};
use crate::kernel::KernelError;
use crate::memory::Memory;
use crate::trees::{maple, rbtree, WalkLimits};
use crate::types::model::TypeSource;
use std::collections::HashSet;

/// What the head expression is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    ListHead,
    Hlist,
    RbRoot,
    Maple,
}

impl ListKind {
    pub fn name(self) -> &'static str {
        match self {
            ListKind::ListHead => "list_head",
            ListKind::Hlist => "hlist_head",
            ListKind::RbRoot => "rb_root",
            ListKind::Maple => "maple_tree",
        }
    }
}

/// Why a walk ended before its natural end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStop {
    /// The cap on entries was reached.
    Capped(usize),
    /// A cycle, a NULL or unreadable link: the structure is not what it should be.
    Broken(String),
}

#[derive(Debug, Clone)]
pub struct ListWalk {
    pub kind: ListKind,
    /// Address of the head (`list_head`, `hlist_head`, `rb_root`, `maple_tree`).
    pub head: u64,
    pub entry_type: Ty,
    /// Addresses of the entries' containing objects, in list (or key) order.
    pub entries: Vec<u64>,
    pub stopped: Option<ListStop>,
}

impl Evaluator<'_> {
    /// Walk the structure `head` (named `what`) whose entries are `entry_type`
    /// objects linked through `member`, reading at most `max` entries.
    pub fn walk_list(
        &self,
        head: &Val,
        what: &str,
        entry_type: &str,
        member: Option<&str>,
        max: usize,
    ) -> Result<ListWalk, EvalError> {
        let (kind, addr) = self.list_head(head, what)?;
        let ty = self.entry_type(entry_type)?;
        let off = match (member, kind) {
            (Some(m), _) => self.offset_of(ty, m)?,
            (None, ListKind::Maple) => 0,
            (None, _) => {
                return Err(EvalError::Invalid {
                    what: what.into(),
                    why: format!(
                        "a {} links its entries through a member: give --member",
                        kind.name()
                    ),
                })
            }
        };
        let mut w = ListWalk {
            kind,
            head: addr,
            entry_type: ty,
            entries: Vec::new(),
            stopped: None,
        };
        let nodes = match kind {
            ListKind::ListHead | ListKind::Hlist => self.linked(&mut w, what, max)?,
            ListKind::RbRoot => self.rb_nodes(&mut w, max)?,
            ListKind::Maple => self.maple_entries(&mut w, max)?,
        };
        w.entries = nodes.into_iter().map(|n| n.wrapping_sub(off)).collect();
        Ok(w)
    }

    /// The head's kind and address (a pointer to a head is followed).
    fn list_head(&self, head: &Val, what: &str) -> Result<(ListKind, u64), EvalError> {
        let (ty, addr) = match head {
            Val::Obj { ty, addr, bits: None } => match self.shape(*ty)? {
                Shape::Pointer(_) => match self.rvalue(head, what)? {
                    Val::Ptr { to, addr } => (to, addr),
                    _ => unreachable_value(what)?,
                },
                _ => (*ty, *addr),
            },
            Val::Ptr { to, addr } => (*to, *addr),
            Val::Untyped { name, .. } => {
                return Err(EvalError::Invalid {
                    what: name.clone(),
                    why: format!(
                        "the debug information gives it no type; cast it, e.g. *(struct list_head *)&{name}"
                    ),
                })
            }
            _ => unreachable_value(what)?,
        };
        if addr == 0 {
            return Err(EvalError::Null {
                what: what.into(),
                next: "the list head".into(),
            });
        }
        let Shape::Composite(id) = self.shape(ty)? else {
            return Err(not_a_head(what, &self.type_name(ty)));
        };
        let name = self.type_name(Ty {
            id: Some(id),
            ptrs: 0,
        });
        Ok(match name.as_str() {
            "struct list_head" => (ListKind::ListHead, addr),
            "struct hlist_head" => (ListKind::Hlist, addr),
            "struct rb_root" => (ListKind::RbRoot, addr),
            "struct rb_root_cached" => (
                ListKind::RbRoot,
                addr.wrapping_add(self.offset_of(
                    Ty {
                        id: Some(id),
                        ptrs: 0,
                    },
                    "rb_root",
                )?),
            ),
            "struct maple_tree" => (ListKind::Maple, addr),
            _ => return Err(not_a_head(what, &name)),
        })
    }

    /// `task_struct` or `struct task_struct` (or a typedef name).
    fn entry_type(&self, name: &str) -> Result<Ty, EvalError> {
        let as_given = TypeName {
            base: name.trim().to_string(),
            pointers: 0,
        };
        match self.resolve_type(&as_given) {
            Err(EvalError::NoType(_)) if !name.trim().contains(' ') => {
                self.resolve_type(&TypeName {
                    base: format!("struct {}", name.trim()),
                    pointers: 0,
                })
            }
            r => r,
        }
    }

    fn struct_offset(&self, ty: &str, member: &str) -> Result<u64, EvalError> {
        let t = self.resolve_type(&TypeName {
            base: ty.into(),
            pointers: 0,
        })?;
        self.offset_of(t, member)
    }

    /// The nodes of a circular `list_head` or a NULL-terminated `hlist`.
    fn linked(&self, w: &mut ListWalk, what: &str, max: usize) -> Result<Vec<u64>, EvalError> {
        let circular = w.kind == ListKind::ListHead;
        let (first_off, next_off) = if circular {
            let n = self.struct_offset("struct list_head", "next")?;
            (n, n)
        } else {
            (
                self.struct_offset("struct hlist_head", "first")?,
                self.struct_offset("struct hlist_node", "next")?,
            )
        };
        let end = if circular { w.head } else { 0 };
        let read_ptr = |at: u64, what: &str| -> Result<u64, EvalError> {
            let mut b = [0u8; 8];
            self.read(at, &mut b, what)?;
            Ok(u64::from_le_bytes(b))
        };
        let mut cur = read_ptr(w.head.wrapping_add(first_off), what)?;
        let (mut nodes, mut seen, mut prev) = (Vec::new(), HashSet::new(), w.head);
        while cur != end {
            let stop = if nodes.len() >= max {
                Some(ListStop::Capped(max))
            } else if cur == 0 {
                Some(ListStop::Broken(format!(
                    "node {prev:#x} links to NULL before the list returns to its head {:#x}",
                    w.head
                )))
            } else if !seen.insert(cur) {
                Some(ListStop::Broken(format!(
                    "node {cur:#x} met again (linked from {prev:#x}): the list loops"
                )))
            } else {
                None
            };
            if let Some(s) = stop {
                w.stopped = Some(s);
                break;
            }
            nodes.push(cur);
            match self.kernel.mem.read_u64(cur.wrapping_add(next_off)) {
                Ok(next) => (prev, cur) = (cur, next),
                Err(e) => {
                    w.stopped = Some(ListStop::Broken(format!(
                        "reading the next link of node {cur:#x}: {e}"
                    )));
                    break;
                }
            }
        }
        Ok(nodes)
    }

    fn rb_nodes(&self, w: &mut ListWalk, max: usize) -> Result<Vec<u64>, EvalError> {
        let o = probe_rb(&Lookup(self.types)).map_err(KernelError::from)?;
        let limits = WalkLimits {
            max_nodes: max,
            ..WalkLimits::default()
        };
        let snap = rbtree::walk(&self.kernel.mem, w.head, &o, None, limits).map_err(|e| {
            EvalError::Invalid {
                what: format!("rb_root at {:#x}", w.head),
                why: e.to_string(),
            }
        })?;
        w.stopped = snap.issues.first().map(|i| match i.kind {
            crate::trees::IssueKind::TooManyNodes { limit } => ListStop::Capped(limit),
            _ => ListStop::Broken(i.to_string()),
        });
        Ok(snap.nodes.iter().map(|n| n.node).collect())
    }

    fn maple_entries(&self, w: &mut ListWalk, max: usize) -> Result<Vec<u64>, EvalError> {
        let o = probe_maple(&Lookup(self.types)).map_err(KernelError::from)?;
        let snap =
            maple::walk(&self.kernel.mem, w.head, &o, WalkLimits::default()).map_err(|e| {
                EvalError::Invalid {
                    what: format!("maple_tree at {:#x}", w.head),
                    why: e.to_string(),
                }
            })?;
        let mut entries: Vec<u64> = snap
            .entries
            .iter()
            .filter(|e| !e.reserved)
            .map(|e| e.entry)
            .collect();
        w.stopped = snap.issues.first().map(|i| ListStop::Broken(i.to_string()));
        if entries.len() > max {
            entries.truncate(max);
            w.stopped = Some(ListStop::Capped(max));
        }
        Ok(entries)
    }
}

/// The evaluator's type model as the offset probes take it.
struct Lookup<'a>(&'a dyn TypeSource);

impl TypeLookup for Lookup<'_> {
    fn member(&self, strukt: &str, path: &str) -> Option<(u64, u64)> {
        TypeLookup::member(self.0, strukt, path)
    }
    fn struct_size(&self, strukt: &str) -> Option<u64> {
        TypeLookup::struct_size(self.0, strukt)
    }
}

fn not_a_head(what: &str, ty: &str) -> EvalError {
    EvalError::Invalid {
        what: what.into(),
        why: format!(
            "{ty} is not a list head: list walks a struct list_head, hlist_head, rb_root, rb_root_cached or maple_tree"
        ),
    }
}

fn unreachable_value<T>(what: &str) -> Result<T, EvalError> {
    Err(EvalError::Invalid {
        what: what.into(),
        why: "a number, not a list head".into(),
    })
}
