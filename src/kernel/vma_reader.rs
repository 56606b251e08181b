//! Glue between a [`Kernel`] and the VMA reader: the symbols the renderer compares
//! with, the root paths resolve against, the task -> mm step `/proc/PID/maps`
//! takes, and the per-thread vmacache of kernels before 6.1 (the one reader of it).

use super::dpath::{DnameSymbols, ReadFault};
use super::tasks::Task;
use super::vma::{VmaError, VmaReader, VmaSymbols};
use super::vma_layout::VmacacheLayout;
use super::{Kernel, KernelError};
use crate::memory::Memory;

/// Entries read from one `vmacache.vmas[]` at most (the kernel has 4).
const MAX_VMACACHE: u64 = 64;

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

impl Kernel {
    /// Runtime addresses the VMA renderer compares against (0 when absent).
    pub fn vma_symbols(&self) -> VmaSymbols {
        let a = |n: &str| self.syms.address(n).unwrap_or(0);
        VmaSymbols {
            special_mapping_name: a("special_mapping_name"),
            gate_vma_name: a("gate_vma_name"),
            gate_vma: a("gate_vma"),
            vsyscall_mode: a("vsyscall_mode"),
            // mm/madvise.c builds anon_vma_name_alloc() only with CONFIG_ANON_VMA_NAME.
            anon_vma_name_config: self.syms.address("anon_vma_name_alloc").is_some(),
            dname: DnameSymbols {
                pipefs_dname: a("pipefs_dname"),
                sockfs_dname: a("sockfs_dname"),
                anon_inodefs_dname: a("anon_inodefs_dname"),
                simple_dname: a("simple_dname"),
            },
        }
    }

    fn rd_vma(&self, addr: u64, what: &'static str) -> Result<u64, VmaError> {
        self.mem
            .read_u64(addr)
            .map_err(|source| VmaError::from(ReadFault::Read { what, addr, source }))
    }

    /// `init_task.fs->root`: the root paths are resolved against (a shell in the
    /// initial namespace sees the same).
    pub fn init_root(&self) -> Result<(u64, u64), KernelError> {
        let l = self.vma_layout()?;
        let init = self.syms.address("init_task").ok_or_else(|| {
            VmaError::from(ReadFault::Corrupt {
                addr: 0,
                what: "vmlinux has no init_task symbol".into(),
            })
        })?;
        let fs = self.rd_vma(init.wrapping_add(l.task_fs), "init_task.fs")?;
        Ok((
            self.rd_vma(fs.wrapping_add(l.fs_root_mnt), "fs_struct.root.mnt")?,
            self.rd_vma(fs.wrapping_add(l.fs_root_dentry), "fs_struct.root.dentry")?,
        ))
    }

    /// A VMA reader over the kernel's memory.
    pub fn vma_reader(&self) -> Result<VmaReader<'_>, KernelError> {
        let root = self.init_root()?;
        Ok(VmaReader::new(
            &self.mem,
            self.vma_layout()?,
            self.vma_symbols(),
            root,
        ))
    }

    /// The task behind `pid` (a thread resolves to its mm), or why it has none.
    pub fn mm_of_pid(&self, pid: i32) -> Result<(Task, Option<u64>), KernelError> {
        let t = self.task_by_pid(pid)?;
        let mm = t.mm;
        Ok((t, mm))
    }

    /// `mm->vmacache_seqnum`.
    pub(crate) fn mm_vmacache_seqnum(&self, vc: &VmacacheLayout, mm: u64) -> Result<u64, VmaError> {
        self.rd_vma(mm.wrapping_add(vc.mm_seqnum), "mm_struct.vmacache_seqnum")
    }

    /// One thread's `vmacache`: its seqnum and its entries.
    pub(crate) fn task_vmacache(
        &self,
        vc: &VmacacheLayout,
        task: u64,
    ) -> Result<(u64, Vec<u64>), VmaError> {
        let base = task.wrapping_add(vc.task_vmacache);
        let seqnum = self.rd_vma(base.wrapping_add(vc.seqnum), "vmacache.seqnum")?;
        let vmas = (0..vc.nvmas.min(MAX_VMACACHE))
            .map(|i| {
                self.rd_vma(
                    base.wrapping_add(vc.vmas).wrapping_add(8 * i),
                    "vmacache.vmas[]",
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((seqnum, vmas))
    }

    /// The vmacache of every thread using `mm`; empty when the kernel has none.
    pub fn vmacaches(&self, mm: u64) -> Result<Vec<VmacacheView>, KernelError> {
        let Some(vc) = &self.vma_layout()?.vmacache else {
            return Ok(Vec::new());
        };
        let mm_seqnum = self.mm_vmacache_seqnum(vc, mm)?;
        let tasks = self.tasks().map_err(|e| {
            VmaError::from(ReadFault::Corrupt {
                addr: mm,
                what: format!("listing tasks: {e}"),
            })
        })?;
        let mut out = Vec::new();
        for t in tasks
            .iter()
            .filter(|t| t.mm == Some(mm) && t.idle_cpu.is_none())
        {
            let (seqnum, vmas) = self.task_vmacache(vc, t.addr)?;
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
}
