//! Raw reads of kernel memory for `vmscope rd`: virtual (through the kernel's page
//! tables) or physical, bounded.

use super::{Kernel, KernelError, ReadContext};
use crate::memory::Memory;

/// Largest read `rd` does in one command.
pub const MAX_RD: u64 = 1 << 24;

impl Kernel {
    /// `len` bytes at kernel virtual (or, with `phys`, physical) address `addr`.
    pub fn read_raw(&self, addr: u64, len: u64, phys: bool) -> Result<Vec<u8>, KernelError> {
        if len > MAX_RD {
            return Err(KernelError::Walk {
                what: format!("{len} bytes"),
                addr,
                why: format!("over the {MAX_RD}-byte limit of one read"),
            });
        }
        let mut buf = vec![0u8; len as usize];
        let kind = if phys { "physical" } else { "virtual" };
        if phys {
            self.mem.phys().read_phys(addr, &mut buf)
        } else {
            self.mem.read(addr, &mut buf)
        }
        .ctx(|| format!("{len} bytes of {kind} memory at {addr:#x}"))?;
        Ok(buf)
    }
}
