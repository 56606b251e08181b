//! Kernel memory sources: ELF vmcores, kdump-compressed dumps, /proc/kcore.
//!
//! Two layers:
//! * [`PhysMemory`]: physical reads, one implementation per file format
//!   ([`elf::ElfCore`], [`kdump::KdumpFile`], [`kcore::Kcore`]).
//! * [`Memory`]: kernel virtual reads. [`space::KernelSpace`] translates through
//!   the dumped machine's page tables ([`x86_64`] or [`arm64`], chosen from the dump by
//!   [`arch::Arch`]; or reads /proc/kcore's virtual segments directly) and
//!   [`space::UserSpace`] reads one process's user memory through its `mm->pgd`.
//!
//! Everything above this layer reads kernel virtual addresses through [`Memory`]
//! and never learns where the bytes came from. [`dump::open`] picks the format.

pub mod arch;
pub mod arm64;
pub mod bytes;
mod contained;
pub mod dump;
pub mod elf;
pub mod held;
pub mod kcore;
pub mod kdump;
mod page_cache;
pub mod space;
pub mod vmcoreinfo;
pub mod x86_64;

use thiserror::Error;

/// A fault while reading kernel memory. Always names the address.
#[derive(Debug, Error, Clone)]
pub enum MemError {
    #[error("address {addr:#x}: not mapped by the page tables")]
    NotMapped { addr: u64 },
    #[error("physical address {paddr:#x} (virtual {addr:#x}): not in the dump")]
    NotInDump { addr: u64, paddr: u64 },
    /// A physical address that no segment / bitmap of the dump covers.
    #[error("physical address {paddr:#x}: not in the dump")]
    PhysNotInDump { paddr: u64 },
    /// The page exists in the dumped system, but the dump's filter left it out.
    #[error("physical address {paddr:#x}: not in dump (page excluded by the dump's filter)")]
    Excluded { paddr: u64 },
    #[error("{file}: offset {offset:#x}: {what}")]
    Corrupt {
        file: String,
        offset: u64,
        what: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    #[error("{file}: read at offset {offset:#x} (address {addr:#x}): {source}")]
    LiveRead {
        file: String,
        offset: u64,
        addr: u64,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
}

/// A dump or core that cannot be opened: always names the file, and the offset where the
/// content is at fault.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a vmcore ({what}); expected an ELF core, a kdump-compressed file or /proc/kcore")]
    NotADump { file: String, what: String },
    #[error("{file}: offset {offset:#x}: {what}")]
    Corrupt {
        file: String,
        offset: u64,
        what: String,
    },
    #[error("{file}: unsupported: {what}")]
    Unsupported { file: String, what: String },
    #[error("{file}: {source}")]
    Vmcoreinfo {
        file: String,
        #[source]
        source: vmcoreinfo::VmcoreInfoError,
    },
    #[error(transparent)]
    Mem(#[from] MemError),
}

impl MemError {
    /// Attach the virtual address to a physical-only fault.
    pub fn at_virtual(self, addr: u64) -> MemError {
        match self {
            MemError::PhysNotInDump { paddr } => MemError::NotInDump { addr, paddr },
            other => other,
        }
    }
}

/// Reads kernel virtual memory. Implemented by every dump format and by /proc/kcore.
pub trait Memory: Send + Sync {
    /// Fill `buf` with the bytes at kernel virtual address `addr`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;

    fn read_u64(&self, addr: u64) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, addr: u64) -> Result<u32, MemError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_u16(&self, addr: u64) -> Result<u16, MemError> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn read_u8(&self, addr: u64) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// `len` bytes at `addr` as a new vector.
    fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>, MemError> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }
}

/// Reads physical memory of the dumped (or running) machine.
pub trait PhysMemory: Send + Sync {
    /// Fill `buf` with the bytes at physical address `paddr`.
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError>;

    fn read_phys_u64(&self, paddr: u64) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read_phys(paddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// Bytes up to the first NUL, lossily as UTF-8 (comm, release strings).
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}
