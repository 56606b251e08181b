//! `mm_struct` basics: the numbers /proc/PID/stat and /proc/PID/maps rely on.

use super::{Kernel, KernelError, ReadContext};
use crate::memory::{MemError, Memory};
use thiserror::Error;

/// Why a process's user memory could not be read.
#[derive(Debug, Error)]
pub enum UserReadError {
    #[error("mm->pgd {pgd:#x}: {source}")]
    Pgd { pgd: u64, source: MemError },
    #[error("reading {len} bytes at {addr:#x}: {source}")]
    Read {
        addr: u64,
        len: usize,
        source: MemError,
    },
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct MmInfo {
    pub addr: u64,
    pub pgd: u64,
    pub map_count: i32,
    pub mmap_base: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
}

impl Kernel {
    pub fn read_mm(&self, addr: u64) -> Result<MmInfo, KernelError> {
        let m = &self.off()?.mm;
        let rd = |f: super::offsets::Field, name: &str| {
            self.mem
                .read_u64(addr.wrapping_add(f.offset))
                .ctx(|| format!("mm_struct.{name} at {addr:#x}"))
        };
        Ok(MmInfo {
            addr,
            pgd: rd(m.pgd, "pgd")?,
            map_count: self
                .mem
                .read_u32(addr.wrapping_add(m.map_count.offset))
                .ctx(|| format!("mm_struct.map_count at {addr:#x}"))? as i32,
            mmap_base: rd(m.mmap_base, "mmap_base")?,
            start_brk: rd(m.start_brk, "start_brk")?,
            brk: rd(m.brk, "brk")?,
            start_stack: rd(m.start_stack, "start_stack")?,
        })
    }
}

impl Kernel {
    /// Fill `buf` from user address `addr` of the address space rooted at `pgd`
    /// (`mm->pgd`), through that process's own page tables.
    pub fn read_user(&self, pgd: u64, addr: u64, buf: &mut [u8]) -> Result<(), UserReadError> {
        let user = self
            .mem
            .user(pgd)
            .map_err(|source| UserReadError::Pgd { pgd, source })?;
        user.read(addr, buf).map_err(|source| UserReadError::Read {
            addr,
            len: buf.len(),
            source,
        })
    }
}
