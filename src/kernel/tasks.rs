//! Every task of the kernel: thread-group leaders from `init_task.tasks`, each
//! group's threads (`signal->thread_head` or the older `thread_group` ring), and
//! the idle task of every online CPU (`rq->idle` of the per-CPU `runqueues`,
//! `init_task` on CPU 0). All walks are bounded and detect cycles.

use super::offsets::{Field, ThreadLink};
use super::{Kernel, KernelError, ReadContext};
use crate::memory::{c_string, Memory};
use std::collections::HashSet;

/// More tasks than `PID_MAX_LIMIT` (4M) means a corrupt list.
const MAX_TASKS: usize = 1 << 22;
/// `PF_KTHREAD` (include/linux/sched.h), stable since 2.6.
pub const PF_KTHREAD: u32 = 0x0020_0000;
/// `PF_WQ_WORKER`: the task is a workqueue worker.
pub const PF_WQ_WORKER: u32 = 0x0000_0020;
/// `TASK_REPORT` and `TASK_IDLE` (include/linux/sched.h), same in 5.10 and 6.1.
const TASK_REPORT: u64 = 0x7f;
const TASK_IDLE: u64 = 0x402;
const TASK_RTLOCK_WAIT: u64 = 0x1000;
const TASK_UNINTERRUPTIBLE: u64 = 0x2;

#[derive(Debug, Clone)]
pub struct Task {
    pub addr: u64,
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    /// `task->comm`.
    pub comm: String,
    /// The name /proc/PID/stat shows: `comm`, plus "-desc"/"+desc" for workqueue
    /// workers (`wq_worker_comm()`).
    pub proc_comm: String,
    /// Raw `__state` / `state` and `exit_state`.
    pub state: u64,
    pub exit_state: u64,
    pub flags: u32,
    /// `None` for kernel threads (and exited tasks).
    pub mm: Option<u64>,
    /// The CPU whose idle task this is.
    pub idle_cpu: Option<u32>,
}

impl Task {
    /// The letter /proc/PID/stat and ps show (`task_state_index()` in
    /// include/linux/sched.h, then `task_state_array`).
    pub fn state_char(&self) -> char {
        task_state_char(self.state, self.exit_state)
    }

    pub fn is_kthread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

pub fn task_state_char(state: u64, exit_state: u64) -> char {
    let mut s = (state | exit_state) & TASK_REPORT;
    if state & TASK_IDLE == TASK_IDLE {
        s = TASK_REPORT + 1; // TASK_REPORT_IDLE
    }
    if state & TASK_RTLOCK_WAIT != 0 {
        s = TASK_UNINTERRUPTIBLE;
    }
    // fls(): index of the highest set bit, 1-based; 0 for none.
    let idx = (64 - s.leading_zeros()) as usize;
    "RSDTtXZPI".chars().nth(idx).unwrap_or('?')
}

impl Kernel {
    /// Read one task_struct, field by field: a dump may leave out pages of the
    /// struct that we do not need (zero pages filtered by makedumpfile -d 1).
    pub fn read_task(&self, addr: u64) -> Result<Task, KernelError> {
        let t = &self.off()?.task;
        let field = |f: Field, name: &str| -> Result<u64, KernelError> {
            let mut b = [0u8; 8];
            let n = (f.size as usize).min(8);
            self.mem
                .read(addr.wrapping_add(f.offset), &mut b[..n])
                .ctx(|| format!("task_struct.{name} of task {addr:#x}"))?;
            Ok(u64::from_le_bytes(b))
        };
        let comm_bytes = self
            .mem
            .read_vec(addr.wrapping_add(t.comm.offset), t.comm.size as usize)
            .ctx(|| format!("task_struct.comm of task {addr:#x}"))?;
        let real_parent = field(t.real_parent, "real_parent")?;
        let ppid = if real_parent == 0 {
            0
        } else {
            self.mem
                .read_u32(real_parent.wrapping_add(t.tgid.offset))
                .ctx(|| format!("real_parent->tgid of task {addr:#x}"))? as i32
        };
        let mm = field(t.mm, "mm")?;
        let flags = field(t.flags, "flags")? as u32;
        let comm = c_string(&comm_bytes);
        // proc_task_name(): workers, then kthreads with a long name, then comm.
        let proc_comm = if flags & PF_WQ_WORKER != 0 {
            self.wq_worker_comm(addr, &comm)?
        } else if flags & PF_KTHREAD != 0 {
            self.kthread_full_name(addr)?
                .unwrap_or_else(|| comm.clone())
        } else {
            comm.clone()
        };
        Ok(Task {
            addr,
            proc_comm,
            pid: field(t.pid, "pid")? as u32 as i32,
            tgid: field(t.tgid, "tgid")? as u32 as i32,
            ppid,
            comm,
            state: field(t.state, t.state_name)?,
            exit_state: field(t.exit_state, "exit_state")? as u32 as u64,
            flags,
            mm: (mm != 0).then_some(mm),
            idle_cpu: None,
        })
    }

    /// `wq_worker_comm()`: a worker's comm plus the description of its last work
    /// ('+' while it runs one, '-' after).
    fn wq_worker_comm(&self, task: u64, comm: &str) -> Result<String, KernelError> {
        let Some(w) = self.off()?.worker else {
            return Ok(comm.to_string());
        };
        let rd = |a: u64, what: &str| {
            self.mem
                .read_u64(a)
                .ctx(|| format!("{what} of worker task {task:#x}"))
        };
        let kthread = rd(task.wrapping_add(w.task_kthread.offset), "kthread pointer")?;
        if kthread == 0 {
            return Ok(comm.to_string());
        }
        let worker = rd(kthread.wrapping_add(w.kthread_data.offset), "kthread->data")?;
        if worker == 0 || rd(worker.wrapping_add(w.worker_pool.offset), "worker->pool")? == 0 {
            return Ok(comm.to_string());
        }
        let desc = self
            .mem
            .read_vec(
                worker.wrapping_add(w.worker_desc.offset),
                w.worker_desc.size as usize,
            )
            .ctx(|| format!("worker->desc of task {task:#x}"))?;
        let desc = c_string(&desc);
        if desc.is_empty() {
            return Ok(comm.to_string());
        }
        let busy = rd(
            worker.wrapping_add(w.worker_current_work.offset),
            "worker->current_work",
        )? != 0;
        let mut name = format!("{comm}{}{desc}", if busy { '+' } else { '-' });
        // proc_task_name() formats into a 64-byte buffer.
        while name.len() > 63 {
            name.pop();
        }
        Ok(name)
    }

    /// `get_kthread_comm()`: `kthread->full_name` when the kernel keeps one.
    fn kthread_full_name(&self, task: u64) -> Result<Option<String>, KernelError> {
        let Some((task_kthread, full_name)) = self.off()?.kthread_full_name else {
            return Ok(None);
        };
        let kthread = self
            .mem
            .read_u64(task.wrapping_add(task_kthread.offset))
            .ctx(|| format!("kthread pointer of task {task:#x}"))?;
        if kthread == 0 {
            return Ok(None);
        }
        let name = self
            .mem
            .read_u64(kthread.wrapping_add(full_name.offset))
            .ctx(|| format!("kthread->full_name of task {task:#x}"))?;
        if name == 0 {
            return Ok(None);
        }
        let bytes = self
            .mem
            .read_vec(name, 63)
            .ctx(|| format!("kthread full name of task {task:#x}"))?;
        Ok(Some(c_string(&bytes)))
    }

    /// Follow a `list_head` ring from `head` (not itself an entry), giving the
    /// address of each `list_head` node. Bounded; a ring that never returns to
    /// `head` is an error naming the node where it looped.
    pub fn list_nodes(&self, head: u64, what: &str) -> Result<Vec<u64>, KernelError> {
        let mut nodes = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = self
            .mem
            .read_u64(head)
            .ctx(|| format!("{what} list head at {head:#x}"))?;
        while cur != head {
            if cur == 0 {
                return Err(KernelError::Walk {
                    what: what.into(),
                    addr: head,
                    why: "NULL next pointer".into(),
                });
            }
            if !seen.insert(cur) || nodes.len() >= MAX_TASKS {
                return Err(KernelError::Walk {
                    what: what.into(),
                    addr: cur,
                    why: "list loops without returning to its head".into(),
                });
            }
            nodes.push(cur);
            cur = self
                .mem
                .read_u64(cur)
                .ctx(|| format!("{what} list node at {cur:#x}"))?;
        }
        Ok(nodes)
    }

    /// Addresses of the threads of the group led by `leader` (leader included).
    pub fn thread_addrs(&self, leader: u64) -> Result<Vec<u64>, KernelError> {
        let t = &self.off()?.task;
        match t.threads {
            ThreadLink::SignalThreadHead {
                thread_head,
                thread_node,
            } => {
                let signal = self
                    .mem
                    .read_u64(leader.wrapping_add(t.signal.offset))
                    .ctx(|| format!("signal of task {leader:#x}"))?;
                if signal == 0 {
                    return Ok(vec![leader]);
                }
                let nodes = self.list_nodes(
                    signal.wrapping_add(thread_head.offset),
                    "signal->thread_head",
                )?;
                Ok(nodes
                    .into_iter()
                    .map(|n| n.wrapping_sub(thread_node.offset))
                    .collect())
            }
            ThreadLink::ThreadGroup(tg) => {
                // A ring without a separate head: the leader's own node is the start.
                let nodes = self.list_nodes(leader.wrapping_add(tg.offset), "thread_group")?;
                let mut v = vec![leader];
                v.extend(nodes.into_iter().map(|n| n.wrapping_sub(tg.offset)));
                Ok(v)
            }
        }
    }

    /// The idle task of each online CPU.
    pub fn idle_tasks(&self) -> Result<Vec<Task>, KernelError> {
        let init_task = self.syms.require("init_task")?;
        let mut out = Vec::new();
        for cpu in self.online_cpus()? {
            let addr = match (cpu, self.off()?.rq_idle) {
                (0, _) | (_, None) => init_task,
                (_, Some(idle)) => {
                    let rq = self.per_cpu("runqueues", cpu)?;
                    self.mem
                        .read_u64(rq.wrapping_add(idle.offset))
                        .ctx(|| format!("runqueues[{cpu}].idle"))?
                }
            };
            if addr == 0 || (cpu != 0 && addr == init_task) {
                continue;
            }
            let mut t = self.read_task(addr)?;
            t.idle_cpu = Some(cpu);
            // Idle tasks are no processes: like pid 1 and kthreadd, no parent to show
            // (their real_parent is whoever ran smp_init()).
            t.ppid = 0;
            out.push(t);
        }
        Ok(out)
    }

    /// Every task: idle tasks first (by CPU), then all threads sorted by (tgid, pid),
    /// like `ps -eL`.
    pub fn tasks(&self) -> Result<Vec<Task>, KernelError> {
        let init_task = self.syms.require("init_task")?;
        let toff = self.off()?.task.tasks.offset;
        let leaders = self.list_nodes(init_task.wrapping_add(toff), "init_task.tasks")?;
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        for node in leaders {
            let leader = node.wrapping_sub(toff);
            for addr in self.thread_addrs(leader)? {
                if seen.insert(addr) {
                    all.push(self.read_task(addr)?);
                }
            }
        }
        all.sort_by_key(|t| (t.tgid, t.pid));
        let mut out = self.idle_tasks()?;
        out.extend(all);
        Ok(out)
    }

    /// The task with this pid (thread id).
    pub fn task_by_pid(&self, pid: i32) -> Result<Task, KernelError> {
        self.tasks()?
            .into_iter()
            .find(|t| t.pid == pid && t.idle_cpu.is_none() || (pid == 0 && t.idle_cpu == Some(0)))
            .ok_or(KernelError::NoSuchPid(pid))
    }
}

#[cfg(test)]
mod tests {
    use super::task_state_char;

    // Expected letters: fs/proc/array.c task_state_array and the TASK_* bits.
    #[test]
    fn state_letters() {
        assert_eq!(task_state_char(0, 0), 'R');
        assert_eq!(task_state_char(0x1, 0), 'S');
        assert_eq!(task_state_char(0x2, 0), 'D');
        assert_eq!(task_state_char(0x402, 0), 'I');
        assert_eq!(task_state_char(0x4, 0), 'T');
        assert_eq!(task_state_char(0x8, 0), 't');
        assert_eq!(task_state_char(0x80, 0x20), 'Z'); // TASK_DEAD + EXIT_ZOMBIE
        assert_eq!(task_state_char(0x40, 0), 'P');
    }
}
