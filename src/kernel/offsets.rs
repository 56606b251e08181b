//! Member offsets the kernel walkers need, resolved once from the type model.
//!
//! Fields are probed, never chosen by kernel version: `task_struct.__state`
//! (5.14, commit 2f064a59a11f) or `state`; `signal_struct.thread_head` +
//! `task_struct.thread_node` (3.14) or the older `thread_group` ring (gone in 6.7);
//! the VMA tree (`mm_struct.mm_mt` or `mm_rb`/`mmap`) is probed once, in `vma_layout.rs`.
//!
//! This is the one resolver of the kernel layer: the task/mm offsets here and the
//! VMA layout (`vma_layout.rs`) both ask [`TypeLookup`] and fail with [`OffsetError`].

use thiserror::Error;

/// The questions the kernel layer asks of a type model.
pub trait TypeLookup {
    /// Byte offset and byte size of a dotted member path (anonymous members are
    /// searched transparently), or None if the struct or member does not exist.
    fn member(&self, strukt: &str, path: &str) -> Option<(u64, u64)>;
    /// `sizeof(struct strukt)`.
    fn struct_size(&self, strukt: &str) -> Option<u64>;
    /// Byte offset of a member, None when absent.
    fn offset_of(&self, strukt: &str, path: &str) -> Option<u64> {
        self.member(strukt, path).map(|(o, _)| o)
    }
    /// Element count of an array member. The arrays probed (`pivot[]`, `slot[]`,
    /// `gap[]`, `vmas[]`) all have 8-byte elements: the count is the size / 8.
    fn array_len(&self, strukt: &str, path: &str) -> Option<u64> {
        self.member(strukt, path)
            .map(|(_, s)| s / 8)
            .filter(|&n| n > 0)
    }
}

/// A member or struct the walkers need is not in the type model.
#[derive(Debug, Error, Clone)]
pub enum OffsetError {
    #[error("the type model has no member {strukt}.{member}")]
    MissingMember { strukt: String, member: String },
    #[error("the type model has no size for struct {0}")]
    NoSize(String),
    #[error("the type model's mm_struct has neither mm_mt nor mm_rb/mmap")]
    NoVmaTree,
}

/// Offset of a member the walkers cannot do without.
pub(crate) fn need(t: &dyn TypeLookup, strukt: &str, path: &str) -> Result<u64, OffsetError> {
    field(t, strukt, path).map(|f| f.offset)
}

/// Element count of an array member the walkers cannot do without.
pub(crate) fn need_len(t: &dyn TypeLookup, strukt: &str, path: &str) -> Result<usize, OffsetError> {
    t.array_len(strukt, path)
        .map(|n| n as usize)
        .ok_or_else(|| OffsetError::MissingMember {
            strukt: strukt.into(),
            member: format!("{path}[] length"),
        })
}

/// `sizeof(struct strukt)`, required.
pub(crate) fn need_size(t: &dyn TypeLookup, strukt: &str) -> Result<u64, OffsetError> {
    t.struct_size(strukt)
        .ok_or_else(|| OffsetError::NoSize(strukt.into()))
}

impl<T: crate::types::model::TypeSource + ?Sized> TypeLookup for T {
    fn member(&self, strukt: &str, path: &str) -> Option<(u64, u64)> {
        use crate::types::model::TypeSourceExt;
        let (off, ty) = self.member_offset(strukt, path).ok()?;
        let size = self.size_of(ty).ok().flatten()?;
        Some((off, size))
    }

    fn struct_size(&self, strukt: &str) -> Option<u64> {
        use crate::types::model::TypeSourceExt;
        let id = self.find_struct(strukt).ok()??;
        self.size_of(id).ok().flatten()
    }
}

/// Offset and size of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u64,
    pub size: u64,
}

fn field(t: &dyn TypeLookup, strukt: &str, path: &str) -> Result<Field, OffsetError> {
    t.member(strukt, path)
        .map(|(offset, size)| Field { offset, size })
        .ok_or_else(|| OffsetError::MissingMember {
            strukt: strukt.into(),
            member: path.into(),
        })
}

fn probe(t: &dyn TypeLookup, strukt: &str, path: &str) -> Option<Field> {
    t.member(strukt, path)
        .map(|(offset, size)| Field { offset, size })
}

/// How the threads of a thread group are linked.
#[derive(Debug, Clone, Copy)]
pub enum ThreadLink {
    /// `signal->thread_head` lists every thread's `thread_node` (3.14+).
    SignalThreadHead {
        thread_head: Field,
        thread_node: Field,
    },
    /// `thread_group`: a ring through the threads, no separate head (before 6.7).
    ThreadGroup(Field),
}

#[derive(Debug, Clone, Copy)]
pub struct TaskOffsets {
    pub size: u64,
    pub tasks: Field,
    pub pid: Field,
    pub tgid: Field,
    pub comm: Field,
    pub mm: Field,
    pub active_mm: Field,
    pub flags: Field,
    /// `__state` (unsigned int, 5.14+) or `state` (volatile long).
    pub state: Field,
    pub state_name: &'static str,
    pub exit_state: Field,
    pub real_parent: Field,
    pub group_leader: Field,
    pub signal: Field,
    pub threads: ThreadLink,
}

#[derive(Debug, Clone, Copy)]
pub struct MmOffsets {
    pub size: u64,
    pub pgd: Field,
    pub map_count: Field,
    pub mmap_base: Field,
    pub start_brk: Field,
    pub brk: Field,
    pub start_stack: Field,
}

/// What `wq_worker_comm()` (kernel/workqueue.c) reads to name a workqueue worker
/// in /proc ("kworker/0:1-events").
#[derive(Debug, Clone, Copy)]
pub struct WorkerOffsets {
    /// Where a kthread keeps its `struct kthread *`: `task_struct.worker_private`
    /// (6.0+) or, before, `set_child_tid`.
    pub task_kthread: Field,
    pub kthread_data: Field,
    pub worker_pool: Field,
    pub worker_desc: Field,
    pub worker_current_work: Field,
}

#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    pub task: TaskOffsets,
    pub mm: MmOffsets,
    /// `rq.idle`, for the idle task of each CPU.
    pub rq_idle: Option<Field>,
    pub worker: Option<WorkerOffsets>,
    /// (`task_struct` → `struct kthread *` field, `kthread.full_name`): the
    /// untruncated kthread name /proc shows (5.17, commit d6986ce24fc0).
    pub kthread_full_name: Option<(Field, Field)>,
}

impl Offsets {
    pub fn resolve(t: &dyn TypeLookup) -> Result<Offsets, OffsetError> {
        let ts = "task_struct";
        let (state, state_name) = match probe(t, ts, "__state") {
            Some(f) => (f, "__state"),
            None => (field(t, ts, "state")?, "state"),
        };
        let threads = match (
            probe(t, "signal_struct", "thread_head"),
            probe(t, ts, "thread_node"),
        ) {
            (Some(thread_head), Some(thread_node)) => ThreadLink::SignalThreadHead {
                thread_head,
                thread_node,
            },
            _ => ThreadLink::ThreadGroup(field(t, ts, "thread_group")?),
        };
        let task = TaskOffsets {
            size: need_size(t, ts)?,
            tasks: field(t, ts, "tasks")?,
            pid: field(t, ts, "pid")?,
            tgid: field(t, ts, "tgid")?,
            comm: field(t, ts, "comm")?,
            mm: field(t, ts, "mm")?,
            active_mm: field(t, ts, "active_mm")?,
            flags: field(t, ts, "flags")?,
            state,
            state_name,
            exit_state: field(t, ts, "exit_state")?,
            real_parent: field(t, ts, "real_parent")?,
            group_leader: field(t, ts, "group_leader")?,
            signal: field(t, ts, "signal")?,
            threads,
        };
        let ms = "mm_struct";
        let mm = MmOffsets {
            size: need_size(t, ms)?,
            pgd: field(t, ms, "pgd")?,
            map_count: field(t, ms, "map_count")?,
            mmap_base: field(t, ms, "mmap_base")?,
            start_brk: field(t, ms, "start_brk")?,
            brk: field(t, ms, "brk")?,
            start_stack: field(t, ms, "start_stack")?,
        };
        let worker = (|| {
            Some(WorkerOffsets {
                task_kthread: probe(t, ts, "worker_private")
                    .or_else(|| probe(t, ts, "set_child_tid"))?,
                kthread_data: probe(t, "kthread", "data")?,
                worker_pool: probe(t, "worker", "pool")?,
                worker_desc: probe(t, "worker", "desc")?,
                worker_current_work: probe(t, "worker", "current_work")?,
            })
        })();
        let task_kthread = probe(t, ts, "worker_private").or_else(|| probe(t, ts, "set_child_tid"));
        let kthread_full_name = task_kthread.zip(probe(t, "kthread", "full_name"));
        Ok(Offsets {
            task,
            mm,
            rq_idle: probe(t, "rq", "idle"),
            worker,
            kthread_full_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A type model with only the listed members, to exercise the probing.
    struct Fake(HashMap<(&'static str, &'static str), (u64, u64)>);
    impl TypeLookup for Fake {
        fn member(&self, s: &str, p: &str) -> Option<(u64, u64)> {
            self.0
                .iter()
                .find(|((a, b), _)| *a == s && *b == p)
                .map(|(_, v)| *v)
        }
        fn struct_size(&self, _: &str) -> Option<u64> {
            Some(4096)
        }
    }

    fn base() -> HashMap<(&'static str, &'static str), (u64, u64)> {
        let mut m = HashMap::new();
        for (i, f) in [
            "tasks",
            "pid",
            "tgid",
            "comm",
            "mm",
            "active_mm",
            "flags",
            "exit_state",
            "real_parent",
            "group_leader",
            "signal",
        ]
        .iter()
        .enumerate()
        {
            m.insert(("task_struct", *f), (i as u64 * 8 + 64, 8));
        }
        for (i, f) in [
            "pgd",
            "map_count",
            "mmap_base",
            "start_brk",
            "brk",
            "start_stack",
        ]
        .iter()
        .enumerate()
        {
            m.insert(("mm_struct", *f), (i as u64 * 8 + 64, 8));
        }
        m
    }

    #[test]
    fn probes_new_fields_first() {
        let mut m = base();
        m.insert(("task_struct", "__state"), (24, 4));
        m.insert(("task_struct", "state"), (16, 8));
        m.insert(("task_struct", "thread_node"), (200, 16));
        m.insert(("signal_struct", "thread_head"), (16, 16));
        let o = Offsets::resolve(&Fake(m)).unwrap();
        assert_eq!((o.task.state.offset, o.task.state_name), (24, "__state"));
        assert!(matches!(
            o.task.threads,
            ThreadLink::SignalThreadHead { .. }
        ));
    }

    #[test]
    fn falls_back_to_old_fields_and_names_what_is_missing() {
        let mut m = base();
        m.insert(("task_struct", "state"), (16, 8));
        m.insert(("task_struct", "thread_group"), (300, 16));
        let o = Offsets::resolve(&Fake(m.clone())).unwrap();
        assert_eq!((o.task.state.size, o.task.state_name), (8, "state"));
        assert!(matches!(o.task.threads, ThreadLink::ThreadGroup(f) if f.offset == 300));
        m.remove(&("task_struct", "thread_group"));
        let e = Offsets::resolve(&Fake(m)).unwrap_err().to_string();
        assert!(e.contains("thread_group"), "{e}");
    }
}
