//! Open the kernel a command looks at: a dump or the running kernel's /proc/kcore,
//! with a vmlinux's symbols or (live, without one) /proc/kallsyms.

use super::live::{check_kcore, kptr_restrict_hint, KALLSYMS, KCORE};
use super::offsets::TypeLookup;
use super::symbols::Symbols;
use super::{Kernel, KernelError};
use crate::memory::dump;
use std::path::Path;

/// Where the symbols come from.
#[derive(Debug, Clone, Copy)]
pub enum SymbolFile<'a> {
    Vmlinux(&'a str),
    /// The running kernel's /proc/kallsyms.
    Kallsyms,
}

/// Open `core` (None: the running kernel) with `syms`; with `types`, resolve the
/// offsets too.
pub fn open_target(
    core: Option<&str>,
    syms: SymbolFile<'_>,
    types: Option<&dyn TypeLookup>,
) -> Result<Kernel, KernelError> {
    if let SymbolFile::Vmlinux(v) = syms {
        if !Path::new(v).exists() {
            return Err(KernelError::NoVmlinux(v.into()));
        }
    }
    let d = match core {
        Some(core) => dump::open(core)?,
        None => {
            check_kcore()?;
            dump::open_kcore(KCORE)?
        }
    };
    let syms = match syms {
        SymbolFile::Kallsyms => Symbols::open_kallsyms(KALLSYMS)?,
        SymbolFile::Vmlinux(v) => Symbols::open(v)?,
    };
    match Kernel::open_with(d, syms, types) {
        Err(KernelError::NoVmcoreinfo { dump }) if core.is_none() => {
            Err(KernelError::LiveNoKaslr {
                dump,
                hint: kptr_restrict_hint(),
            })
        }
        other => other,
    }
}
