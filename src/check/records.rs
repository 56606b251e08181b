//! Checks of single records as they are read, shared by every command that prints
//! them: each VMA of a process in tree order, and each task. `check` reports a
//! failure as a finding; `vmas`, `tree` and `ps` print the record marked, one
//! warning per finding, and exit 1.

use super::{hex, Report};

/// Page size of every supported configuration (x86_64).
const PAGE: u64 = 4096;
/// `PID_MAX_LIMIT` on 64-bit (include/linux/threads.h): 4M pids.
pub const PID_MAX_LIMIT: i32 = 1 << 22;
/// task_structs come from a cache aligned to `L1_CACHE_BYTES`; `init_task` is
/// declared with the same alignment.
const TASK_ALIGN: u64 = 64;

/// One VMA as read: its address, range, and the range of the tree slot that
/// points at it (maple trees; `None` for the rb-tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmaRecord {
    pub vma: u64,
    pub start: u64,
    pub end: u64,
    /// `[first, last]` of the maple slot.
    pub slot: Option<(u64, u64)>,
}

/// Check each VMA of one address space, in tree order: a non-empty range, page
/// aligned, below the user address limit `task_size`, after the previous VMA
/// without overlap, and matching its slot's range. Returns, per record, whether
/// it passed.
pub fn vmas(list: &[VmaRecord], task_size: u64, r: &mut Report) -> Vec<bool> {
    let mut prev_end = 0u64;
    list.iter()
        .map(|v| {
            let before = r.findings.len();
            let range = || format!("{:#x}-{:#x}", v.start, v.end);
            expect!(
                r,
                "vma.range",
                v.start < v.end,
                v.vma,
                "vm_end",
                || format!("above vm_start {:#x}", v.start),
                || hex(v.end)
            );
            let aligned = v.start % PAGE == 0 && v.end % PAGE == 0;
            expect!(
                r,
                "vma.aligned",
                aligned,
                v.vma,
                "vm_start/vm_end",
                || "page aligned".into(),
                range
            );
            expect!(
                r,
                "vma.user",
                v.end <= task_size,
                v.vma,
                "vm_end",
                || format!("at most {task_size:#x} (user address limit)"),
                || hex(v.end)
            );
            expect!(
                r,
                "vma.order",
                v.start >= prev_end,
                v.vma,
                "vm_start",
                || format!("at or above the previous vm_end {prev_end:#x}"),
                || hex(v.start)
            );
            if let Some((first, last)) = v.slot {
                let ok = first == v.start && last.wrapping_add(1) == v.end;
                expect!(
                    r,
                    "vma.slot",
                    ok,
                    v.vma,
                    "slot range",
                    || format!("{first:#x}-{:#x}", last.wrapping_add(1)),
                    range
                );
            }
            prev_end = prev_end.max(v.end);
            r.findings.len() == before
        })
        .collect()
}

/// One task as read.
#[derive(Debug, Clone, Copy)]
pub struct TaskRecord<'a> {
    pub addr: u64,
    pub pid: i32,
    pub tgid: i32,
    /// `task->comm` up to its NUL.
    pub comm: &'a str,
    /// An idle task (pid 0 is only theirs).
    pub idle: bool,
}

/// Check one task: `task_struct` alignment, an address in the kernel's direct
/// map or image (at or above `kernel_min`, `page_offset_base`), a printable
/// comm, pids within `PID_MAX_LIMIT` (0 only for idle tasks). Returns whether it
/// passed.
pub fn task(t: &TaskRecord<'_>, kernel_min: u64, r: &mut Report) -> bool {
    let before = r.findings.len();
    expect!(
        r,
        "task.aligned",
        t.addr.is_multiple_of(TASK_ALIGN),
        t.addr,
        "address",
        || format!("a multiple of {TASK_ALIGN}"),
        || hex(t.addr)
    );
    expect!(
        r,
        "task.address",
        t.addr >= kernel_min,
        t.addr,
        "address",
        || format!("at or above page_offset_base {kernel_min:#x}"),
        || hex(t.addr)
    );
    let printable = t.comm.chars().all(|c| !c.is_control());
    expect!(
        r,
        "task.comm",
        printable,
        t.addr,
        "comm",
        || "printable characters".into(),
        || format!("{:?}", t.comm)
    );
    let min = if t.idle { 0 } else { 1 };
    let plausible = |p: i32| (min..=PID_MAX_LIMIT).contains(&p);
    expect!(
        r,
        "task.pid",
        plausible(t.pid) && plausible(t.tgid),
        t.addr,
        "pid/tgid",
        || format!("{min}..={PID_MAX_LIMIT}"),
        || format!("{}/{}", t.pid, t.tgid)
    );
    r.findings.len() == before
}

/// Cross-check the task list with the pid IDR, each as `(pid, task address)`
/// (idle tasks left out: their pid 0 is in no IDR). A task on one and not the
/// other is a finding.
pub fn task_sources(listed: &[(i32, u64)], idr: &[(i32, u64)], r: &mut Report) {
    use std::collections::HashSet;
    let in_idr: HashSet<u64> = idr.iter().map(|&(_, a)| a).collect();
    let in_list: HashSet<u64> = listed.iter().map(|&(_, a)| a).collect();
    for &(pid, addr) in listed {
        expect!(
            r,
            "tasks.idr",
            in_idr.contains(&addr),
            addr,
            format!("pid {pid}"),
            || "in the pid IDR of init_pid_ns".into(),
            || "only on the task list".into()
        );
    }
    for &(pid, addr) in idr {
        expect!(
            r,
            "tasks.list",
            in_list.contains(&addr),
            addr,
            format!("pid {pid}"),
            || "on the task list".into(),
            || "only in the pid IDR of init_pid_ns".into()
        );
    }
}

/// Each `(node, next, next->prev)` of a `list_head` ring: `next->prev` must
/// lead back to `node`.
pub fn ring_links(links: &[(u64, u64, u64)], r: &mut Report) {
    for &(node, next, prev) in links {
        expect!(
            r,
            "tasks.prev",
            prev == node,
            next,
            "prev",
            || hex(node),
            || hex(prev)
        );
    }
}
