//! Walker for a NULL-terminated doubly linked list of entries that hold their own
//! `next`/`prev` pointers, like the VMA list `mm->mmap` -> `vm_next`/`vm_prev`
//! (removed in 6.1 by commit 763ecb035029). Pointers are to entries, not to an
//! embedded `list_head`.

use super::{ser_hex, IssueKind, WalkIssue, WalkLimits};
use crate::memory::bytes::le_u64;
use crate::memory::Memory;
use serde::Serialize;
use std::collections::HashSet;

/// Offsets inside the entry (`vm_area_struct.vm_next`, `.vm_prev`) and optionally
/// the range fields (`vm_start`, `vm_end`) to read beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsets {
    pub next: u64,
    pub prev: u64,
    pub range: Option<(u64, u64)>,
}

/// One entry of the list as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListEntrySnap {
    #[serde(serialize_with = "ser_hex")]
    pub addr: u64,
    #[serde(serialize_with = "ser_hex")]
    pub next: u64,
    #[serde(serialize_with = "ser_hex")]
    pub prev: u64,
    /// `(vm_start, vm_end)` when requested.
    pub range: Option<(u64, u64)>,
}

/// The list in forward order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSnapshot {
    #[serde(serialize_with = "ser_hex")]
    pub first: u64,
    pub entries: Vec<ListEntrySnap>,
    pub issues: Vec<WalkIssue>,
}

impl ListSnapshot {
    /// Entries whose `prev` is not the entry read before them (the first: not NULL):
    /// corruption in frozen memory, a link being rewritten on a live kernel.
    pub fn moved_entries(&self) -> Vec<u64> {
        let mut before = 0;
        let mut out = Vec::new();
        for e in &self.entries {
            if e.prev != before {
                out.push(e.addr);
            }
            before = e.addr;
        }
        out
    }
}

/// Follow `next` from `first` until NULL, reading each entry once.
pub fn walk(mem: &dyn Memory, first: u64, o: &ListOffsets, limits: WalkLimits) -> ListSnapshot {
    let mut snap = ListSnapshot {
        first,
        entries: Vec::new(),
        issues: Vec::new(),
    };
    let mut offs = vec![o.next, o.prev];
    if let Some((s, e)) = o.range {
        offs.push(s);
        offs.push(e);
    }
    let lo = offs.iter().copied().min().unwrap_or(0);
    let hi = offs.iter().copied().max().unwrap_or(0).saturating_add(8);
    let len = usize::try_from(hi - lo).unwrap_or(usize::MAX);
    let mut visited = HashSet::new();
    let mut cur = first;
    let mut from = 0u64;
    while cur != 0 {
        if snap.entries.len() >= limits.max_nodes {
            snap.issues.push(WalkIssue {
                addr: cur,
                kind: IssueKind::TooManyNodes {
                    limit: limits.max_nodes,
                },
            });
            break;
        }
        if let Some(issue) = super::entry_issue(cur, from, &mut visited) {
            snap.issues.push(issue);
            break;
        }
        if len > 4096 {
            snap.issues.push(WalkIssue {
                addr: cur,
                kind: IssueKind::Fault {
                    error: format!("offset span of {len} bytes too large"),
                },
            });
            break;
        }
        let mut buf = vec![0u8; len];
        if let Err(e) = mem.read(cur.wrapping_add(lo), &mut buf) {
            snap.issues.push(WalkIssue {
                addr: cur,
                kind: IssueKind::Fault {
                    error: e.to_string(),
                },
            });
            break;
        }
        let at = |off: u64| {
            usize::try_from(off - lo)
                .ok()
                .and_then(|i| le_u64(&buf, i))
                .unwrap_or(0)
        };
        let next = at(o.next);
        snap.entries.push(ListEntrySnap {
            addr: cur,
            next,
            prev: at(o.prev),
            range: o.range.map(|(s, e)| (at(s), at(e))),
        });
        from = cur;
        cur = next;
    }
    snap
}
