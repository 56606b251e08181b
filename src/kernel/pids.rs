//! The task list's second witness: the pid IDR of the initial pid namespace
//! (`init_pid_ns.idr`, an xarray of `struct pid`), each pid leading through its
//! `tasks[PIDTYPE_PID]` hlist to its task; and the `prev` links of the task ring.
//! Both walks are bounded and detect cycles.

use super::tasks::Task;
use super::{Kernel, KernelError, ReadContext};
use crate::check::{records, Report};
use crate::memory::Memory;
use std::collections::HashSet;

/// More pids than `PID_MAX_LIMIT` means a corrupt tree.
const MAX_PIDS: usize = 1 << 22;
/// Enough xa_nodes for `MAX_PIDS` leaves at 64 slots each, plus the levels above.
const MAX_NODES: usize = (MAX_PIDS / 64) * 2;
/// An xarray of 64-slot nodes indexing 64-bit keys is at most 11 levels deep.
const MAX_DEPTH: usize = 11;

/// An xarray entry that points at an `xa_node` (`xa_is_node()`): internal
/// (low bits 10) and above the small internal values.
fn xa_node(entry: u64) -> Option<u64> {
    (entry & 3 == 2 && entry > 4096).then(|| entry - 2)
}

/// A plain pointer entry (not internal, not a value, not NULL).
fn xa_pointer(entry: u64) -> bool {
    entry != 0 && entry & 3 == 0
}

impl Kernel {
    /// `(pid number, task_struct address)` of every pid in the initial pid
    /// namespace's IDR that has a task (`None` when the types lack the members).
    pub fn pid_idr_tasks(&self) -> Result<Option<Vec<(i32, u64)>>, KernelError> {
        let Some(o) = self.off()?.pid_idr else {
            return Ok(None);
        };
        let ns = self.syms.require("init_pid_ns")?;
        let head = self
            .mem
            .read_u64(ns.wrapping_add(o.xa_head))
            .ctx(|| "init_pid_ns.idr xa_head".into())?;
        let mut pids = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(head, 0usize)];
        while let Some((entry, depth)) = stack.pop() {
            if let Some(node) = xa_node(entry) {
                if depth >= MAX_DEPTH || seen.len() >= MAX_NODES || !seen.insert(node) {
                    return Err(KernelError::Walk {
                        what: "pid IDR xa_node".into(),
                        addr: node,
                        why: "repeats, or the tree is deeper or larger than any kernel's".into(),
                    });
                }
                let slots = self
                    .mem
                    .read_vec(node.wrapping_add(o.node_slots), o.node_slot_count * 8)
                    .ctx(|| format!("pid IDR xa_node {node:#x} slots"))?;
                for s in slots.chunks_exact(8).rev() {
                    let e = crate::memory::bytes::le_u64(s, 0).unwrap_or(0);
                    if e != 0 {
                        stack.push((e, depth + 1));
                    }
                }
            } else if xa_pointer(entry) {
                if pids.len() >= MAX_PIDS {
                    return Err(KernelError::Walk {
                        what: "pid IDR entry".into(),
                        addr: entry,
                        why: "more pids than PID_MAX_LIMIT".into(),
                    });
                }
                pids.push(entry);
            }
        }
        let mut out = Vec::with_capacity(pids.len());
        for pid in pids {
            let nr = self
                .mem
                .read_u32(pid.wrapping_add(o.pid_nr))
                .ctx(|| format!("struct pid {pid:#x} numbers[0].nr"))? as i32;
            let first = self
                .mem
                .read_u64(pid.wrapping_add(o.pid_tasks))
                .ctx(|| format!("struct pid {pid:#x} tasks[PIDTYPE_PID]"))?;
            if first != 0 {
                out.push((nr, first.wrapping_sub(o.task_pid_links)));
            }
        }
        Ok(Some(out))
    }

    /// Each `(node, node->next, node->next->prev)` of the `init_task.tasks` ring,
    /// in ring order; bounded like the forward walk.
    pub fn task_ring_links(&self) -> Result<Vec<(u64, u64, u64)>, KernelError> {
        let init_task = self.syms.require("init_task")?;
        let head = init_task.wrapping_add(self.off()?.task.tasks.offset);
        let mut nodes = vec![head];
        nodes.extend(self.list_nodes(head, "init_task.tasks")?);
        let mut out = Vec::with_capacity(nodes.len());
        for &node in &nodes {
            let next = self
                .mem
                .read_u64(node)
                .ctx(|| format!("tasks.next at {node:#x}"))?;
            let prev = self
                .mem
                .read_u64(next.wrapping_add(8))
                .ctx(|| format!("tasks.prev at {:#x}", next.wrapping_add(8)))?;
            out.push((node, next, prev));
        }
        Ok(out)
    }
}

impl Kernel {
    /// Cross-check `tasks` (as `Kernel::tasks` gives them) with the pid IDR and
    /// the ring's `prev` links, adding findings to `r`. A live kernel changes
    /// between the reads, so there it is not done (returns false).
    pub fn check_task_sources(&self, tasks: &[Task], r: &mut Report) -> Result<bool, KernelError> {
        if self.is_live() {
            return Ok(false);
        }
        let Some(idr) = self.pid_idr_tasks()? else {
            return Ok(false);
        };
        let listed: Vec<(i32, u64)> = tasks
            .iter()
            .filter(|t| t.idle_cpu.is_none())
            .map(|t| (t.pid, t.addr))
            .collect();
        records::task_sources(&listed, &idr, r);
        records::ring_links(&self.task_ring_links()?, r);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::{xa_node, xa_pointer};

    #[test]
    fn entry_kinds() {
        assert_eq!(xa_node(0xffff_8880_0123_4002), Some(0xffff_8880_0123_4000));
        assert_eq!(
            xa_node(0x406),
            None,
            "XA_ZERO_ENTRY is internal, not a node"
        );
        assert!(xa_pointer(0xffff_8880_0123_4000));
        assert!(!xa_pointer(0) && !xa_pointer(0x407) && !xa_pointer(0xffff_8880_0123_4002));
    }
}
