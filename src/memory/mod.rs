//! Kernel memory sources: ELF vmcores, kdump-compressed dumps, /proc/kcore.
//!
//! Everything above this layer reads kernel virtual addresses through [`Memory`]
//! and never learns where the bytes came from.

use thiserror::Error;

/// A fault while reading kernel memory. Always names the address.
#[derive(Debug, Error, Clone)]
pub enum MemError {
    #[error("address {addr:#x}: not mapped by the page tables")]
    NotMapped { addr: u64 },
    #[error("physical address {paddr:#x} (virtual {addr:#x}): not in the dump")]
    NotInDump { addr: u64, paddr: u64 },
    #[error("physical address {paddr:#x}: page excluded from the dump")]
    Excluded { paddr: u64 },
    #[error("{file}: offset {offset:#x}: {what}")]
    Corrupt { file: String, offset: u64, what: String },
    #[error("{file}: {source}")]
    Io { file: String, #[source] source: std::sync::Arc<std::io::Error> },
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
}
