//! Kernel and user virtual memory of a dump, translated by the dumped machine's own
//! architecture ([`Paging`]): the layers above read virtual addresses and ask the
//! architecture's facts (user address limit, linear map base) here, never of the host.

use super::arch::Arch;
use super::{arm64, x86_64, MemError, Memory, PhysMemory};
use std::sync::Arc;

/// Reads are split at this size: the smallest page of every supported architecture.
const CHUNK: u64 = 4096;

/// One step of a page-table walk, for `info`-style explanations and tests.
#[derive(Debug, Clone, Copy)]
pub struct Translation {
    pub paddr: u64,
    /// Size of the page or block that maps the address.
    pub page_size: u64,
}

/// The translation parameters of the dumped kernel, per architecture.
#[derive(Debug, Clone, Copy)]
pub enum Paging {
    X86_64(x86_64::Paging),
    Arm64(arm64::Paging),
}

impl Paging {
    pub fn arch(&self) -> Arch {
        match self {
            Paging::X86_64(_) => Arch::X86_64,
            Paging::Arm64(_) => Arch::Arm64,
        }
    }

    /// The x86-64 parameters, if this is an x86-64 kernel.
    pub fn x86_64(&self) -> Option<&x86_64::Paging> {
        match self {
            Paging::X86_64(p) => Some(p),
            Paging::Arm64(_) => None,
        }
    }

    /// Highest user address + 1 (`TASK_SIZE_MAX` on x86-64, `TASK_SIZE_64` on arm64).
    pub fn task_size(&self) -> u64 {
        match self {
            // arch/x86/include/asm/page_64_types.h: 47- or 56-bit user space, less a guard page.
            Paging::X86_64(p) => (1u64 << if p.l5 { 56 } else { 47 }) - 4096,
            Paging::Arm64(p) => p.task_size(),
        }
    }

    /// Start of the kernel's map of all RAM (`page_offset_base`, `PAGE_OFFSET`), where
    /// slab objects such as tasks live; None when not yet known.
    pub fn linear_base(&self) -> Option<u64> {
        match self {
            Paging::X86_64(p) => p.page_offset_base,
            Paging::Arm64(p) => Some(p.page_offset()),
        }
    }

    /// Walk the tables rooted at physical `pgd` for `va`.
    pub fn walk(&self, phys: &dyn PhysMemory, pgd: u64, va: u64) -> Result<Translation, MemError> {
        match self {
            Paging::X86_64(p) => x86_64::walk(phys, p, pgd, va),
            Paging::Arm64(p) => arm64::walk(phys, p, pgd, va),
        }
    }

    fn kernel_pgd(&self) -> u64 {
        match self {
            Paging::X86_64(p) => p.kernel_pgd,
            Paging::Arm64(p) => p.kernel_pgd,
        }
    }
}

/// Kernel virtual memory of a dump (translated) or of /proc/kcore (read directly).
pub struct KernelSpace {
    phys: Arc<dyn PhysMemory>,
    /// /proc/kcore's virtual segments, when live.
    virt: Option<Arc<dyn Memory>>,
    pub paging: Paging,
}

impl KernelSpace {
    pub fn new(
        phys: Arc<dyn PhysMemory>,
        virt: Option<Arc<dyn Memory>>,
        paging: Paging,
    ) -> KernelSpace {
        KernelSpace { phys, virt, paging }
    }

    pub fn phys(&self) -> &Arc<dyn PhysMemory> {
        &self.phys
    }

    /// Kernel virtual → physical: the architecture's fixed formulas (x86-64 image and
    /// direct map, arm64 linear map), else a walk of the kernel's page tables.
    pub fn to_phys(&self, va: u64) -> Result<u64, MemError> {
        let fixed = match &self.paging {
            Paging::X86_64(p) => p.image_to_phys(va).or_else(|| p.direct_to_phys(va)),
            Paging::Arm64(p) => p.linear_to_phys(va),
        };
        match fixed {
            Some(pa) => Ok(pa),
            None => self.walk_kernel(va),
        }
    }

    fn walk_kernel(&self, va: u64) -> Result<u64, MemError> {
        Ok(self
            .paging
            .walk(&*self.phys, self.paging.kernel_pgd(), va)?
            .paddr)
    }

    /// Physical address of a top-level table given its kernel virtual address
    /// (`mm->pgd` is a direct-map pointer).
    pub fn pgd_phys(&self, pgd_va: u64) -> Result<u64, MemError> {
        self.to_phys(pgd_va)
    }

    /// The user address space whose top-level table is at kernel virtual `pgd_va`.
    pub fn user(&self, pgd_va: u64) -> Result<UserSpace<'_>, MemError> {
        Ok(UserSpace {
            kernel: self,
            pgd: self.pgd_phys(pgd_va)?,
        })
    }
}

impl Memory for KernelSpace {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if let Some(v) = &self.virt {
            return v.read(addr, buf);
        }
        read_paged(&*self.phys, addr, buf, |va| self.to_phys(va))
    }
}

/// Read `buf` from virtual `addr` a page at a time, each page translated by
/// `to_phys`; an error names the virtual address.
fn read_paged(
    phys: &dyn PhysMemory,
    addr: u64,
    buf: &mut [u8],
    to_phys: impl Fn(u64) -> Result<u64, MemError>,
) -> Result<(), MemError> {
    let mut done = 0usize;
    while done < buf.len() {
        let va = addr
            .checked_add(done as u64)
            .ok_or(MemError::NotMapped { addr })?;
        let n = ((CHUNK - va % CHUNK) as usize).min(buf.len() - done);
        let pa = to_phys(va)?;
        phys.read_phys(pa, &mut buf[done..done + n])
            .map_err(|e| e.at_virtual(va))?;
        done += n;
    }
    Ok(())
}

/// One process's user memory, translated through its own page tables.
pub struct UserSpace<'a> {
    kernel: &'a KernelSpace,
    pgd: u64,
}

impl UserSpace<'_> {
    pub fn translate(&self, va: u64) -> Result<Translation, MemError> {
        self.kernel.paging.walk(&*self.kernel.phys, self.pgd, va)
    }
}

impl Memory for UserSpace<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        read_paged(&*self.kernel.phys, addr, buf, |va| {
            Ok(self.translate(va)?.paddr)
        })
    }
}
