//! `--core FILE --vmlinux FILE`: which kernel the memory commands look at.
//! Without `--core`, the running kernel through /proc/kcore.

use crate::kernel::live::{check_kcore, KCORE};
use crate::kernel::offsets::TypeLookup;
use crate::kernel::{Kernel, KernelError};
use crate::memory::dump;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Dump file to read (ELF vmcore or kdump-compressed); default: the live kernel via /proc/kcore
    #[arg(long, value_name = "FILE")]
    pub core: Option<String>,
    /// vmlinux with symbols and DWARF; default: /usr/lib/debug/boot/vmlinux-$(uname -r)
    #[arg(long, value_name = "FILE")]
    pub vmlinux: Option<String>,
}

impl TargetArgs {
    pub fn vmlinux_path(&self) -> String {
        if let Some(v) = &self.vmlinux {
            return v.clone();
        }
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("/usr/lib/debug/boot/vmlinux-{release}")
    }

    /// Open the dump (or /proc/kcore) and the vmlinux; with `types`, resolve offsets too.
    pub fn open(&self, types: Option<&dyn TypeLookup>) -> Result<Kernel> {
        let vmlinux = self.vmlinux_path();
        if !std::path::Path::new(&vmlinux).exists() {
            anyhow::bail!("{vmlinux}: no such file; pass --vmlinux FILE (the DWARF vmlinux of the dumped kernel)");
        }
        let d = match &self.core {
            Some(core) => dump::open(core)?,
            None => {
                check_kcore()?;
                dump::open_kcore(KCORE)?
            }
        };
        let live = self.core.is_none();
        match Kernel::open(d, &vmlinux, types) {
            Err(KernelError::NoVmcoreinfo { dump }) if live => {
                anyhow::bail!("{dump}: no VMCOREINFO and no kernel text segment, KASLR offset unknown; {}", crate::kernel::live::kptr_restrict_hint())
            }
            other => Ok(other?),
        }
    }
}

/// Parse `0x...` hex or decimal.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("'{s}' is not a number: {e}"))
}

/// The type model of `vmlinux` (DWARF), for member offsets.
pub fn load_types(vmlinux: &str) -> Result<crate::debuginfo::dwarf::TypeDb> {
    Ok(crate::debuginfo::dwarf::open(std::path::Path::new(vmlinux))?)
}
