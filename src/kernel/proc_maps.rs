//! Glue between a [`Kernel`] and the VMA reader: symbols, the reader's root, and
//! the task -> mm step that `/proc/PID/maps` takes.

use super::dpath::DnameSymbols;
use super::vma::{VmaError, VmaReader, VmaSymbols};
use super::vma_layout::VmaLayout;
use super::{Kernel, KernelError};
use crate::memory::Memory;

/// Runtime addresses the VMA renderer compares against (0 when absent).
pub fn vma_symbols(k: &Kernel) -> VmaSymbols {
    let a = |n: &str| k.syms.address(n).unwrap_or(0);
    VmaSymbols {
        special_mapping_name: a("special_mapping_name"),
        gate_vma_name: a("gate_vma_name"),
        gate_vma: a("gate_vma"),
        vsyscall_mode: a("vsyscall_mode"),
        // mm/madvise.c builds anon_vma_name_alloc() only with CONFIG_ANON_VMA_NAME.
        anon_vma_name_config: k.syms.address("anon_vma_name_alloc").is_some(),
        dname: DnameSymbols {
            pipefs_dname: a("pipefs_dname"),
            sockfs_dname: a("sockfs_dname"),
            anon_inodefs_dname: a("anon_inodefs_dname"),
            simple_dname: a("simple_dname"),
        },
    }
}

/// `init_task.fs->root`: the root paths are resolved against (a shell in the
/// initial namespace sees the same).
pub fn init_root(k: &Kernel, l: &VmaLayout) -> Result<(u64, u64), VmaError> {
    let init = k
        .syms
        .address("init_task")
        .ok_or_else(|| VmaError::Corrupt {
            addr: 0,
            what: "vmlinux has no init_task symbol".into(),
        })?;
    let rd = |addr: u64, what: &'static str| {
        k.mem
            .read_u64(addr)
            .map_err(|source| VmaError::Read { what, addr, source })
    };
    let fs = rd(init.wrapping_add(l.task_fs), "init_task.fs")?;
    Ok((
        rd(fs.wrapping_add(l.fs_root_mnt), "fs_struct.root.mnt")?,
        rd(fs.wrapping_add(l.fs_root_dentry), "fs_struct.root.dentry")?,
    ))
}

/// A VMA reader over the kernel's memory.
pub fn reader<'a>(k: &'a Kernel, l: &'a VmaLayout) -> Result<VmaReader<'a>, VmaError> {
    let root = init_root(k, l)?;
    Ok(VmaReader::new(&k.mem, l, vma_symbols(k), root))
}

/// The task behind `pid` (a thread resolves to its mm), or why it has none.
pub fn mm_of_pid(k: &Kernel, pid: i32) -> Result<(super::tasks::Task, Option<u64>), KernelError> {
    let t = k.task_by_pid(pid)?;
    let mm = t.mm;
    Ok((t, mm))
}

/// One thread's `task_struct.vmacache` (kernels before 6.1).
#[derive(Debug, Clone, serde::Serialize)]
pub struct VmacacheView {
    pub tid: i32,
    #[serde(serialize_with = "crate::trees::ser_hex")]
    pub task: u64,
    pub seqnum: u64,
    pub mm_seqnum: u64,
    /// `seqnum == mm->vmacache_seqnum`: only then are the entries meaningful.
    pub valid: bool,
    #[serde(serialize_with = "crate::trees::ser_hex_vec")]
    pub vmas: Vec<u64>,
}

/// The vmacache of every thread using `mm`; empty when the kernel has none.
pub fn vmacaches(k: &Kernel, l: &VmaLayout, mm: u64) -> Result<Vec<VmacacheView>, VmaError> {
    let Some(vc) = &l.vmacache else {
        return Ok(Vec::new());
    };
    let rd = |addr: u64, what: &'static str| {
        k.mem
            .read_u64(addr)
            .map_err(|source| VmaError::Read { what, addr, source })
    };
    let mm_seqnum = rd(mm.wrapping_add(vc.mm_seqnum), "mm_struct.vmacache_seqnum")?;
    let tasks = k.tasks().map_err(|e| VmaError::Corrupt {
        addr: mm,
        what: format!("listing tasks: {e}"),
    })?;
    let mut out = Vec::new();
    for t in tasks
        .iter()
        .filter(|t| t.mm == Some(mm) && t.idle_cpu.is_none())
    {
        let base = t.addr.wrapping_add(vc.task_vmacache);
        let seqnum = rd(base.wrapping_add(vc.seqnum), "vmacache.seqnum")?;
        let vmas = (0..vc.nvmas.min(64))
            .map(|i| {
                rd(
                    base.wrapping_add(vc.vmas).wrapping_add(8 * i),
                    "vmacache.vmas[]",
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(VmacacheView {
            tid: t.pid,
            task: t.addr,
            seqnum,
            mm_seqnum,
            valid: seqnum == mm_seqnum,
            vmas,
        });
    }
    Ok(out)
}
