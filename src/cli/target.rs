//! `--core FILE --vmlinux FILE`: which kernel the memory commands look at.
//! Without `--core`, the running kernel through /proc/kcore. Live, when no vmlinux
//! is given and the distribution's debug vmlinux is not installed, types come from
//! the kernel's own BTF (/sys/kernel/btf/vmlinux) and symbols from /proc/kallsyms.

use crate::debuginfo::btf::BtfDb;
use crate::debuginfo::dwarf::TypeDb;
use crate::kernel::live::{check_kcore, KCORE};
use crate::kernel::offsets::TypeLookup;
use crate::kernel::symbols::Symbols;
use crate::kernel::{Kernel, KernelError};
use crate::memory::dump;
use crate::types::model::{NameKind, Type, TypeError, TypeId, TypeSource};
use std::path::Path;

/// The running kernel's BTF and symbol table (live mode without a vmlinux).
pub const SYS_BTF: &str = "/sys/kernel/btf/vmlinux";
pub const KALLSYMS: &str = "/proc/kallsyms";
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Dump file to read (ELF vmcore or kdump-compressed); default: the live kernel via /proc/kcore
    #[arg(long, value_name = "FILE")]
    pub core: Option<String>,
    /// vmlinux with symbols and DWARF; default: /usr/lib/debug/boot/vmlinux-$(uname -r),
    /// and live without it: /sys/kernel/btf/vmlinux + /proc/kallsyms
    #[arg(long, value_name = "FILE")]
    pub vmlinux: Option<String>,
}

/// Types of the kernel looked at: DWARF from a vmlinux or the running kernel's BTF.
pub enum KernelTypes {
    Dwarf(Box<TypeDb>),
    Btf(Box<BtfDb>),
}

impl TypeSource for KernelTypes {
    fn get(&self, id: TypeId) -> Result<&Type, TypeError> {
        match self {
            KernelTypes::Dwarf(t) => t.get(id),
            KernelTypes::Btf(t) => t.get(id),
        }
    }
    fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeId>, TypeError> {
        match self {
            KernelTypes::Dwarf(t) => t.find(name, kind),
            KernelTypes::Btf(t) => t.find(name, kind),
        }
    }
    fn pointer_size(&self) -> u64 {
        match self {
            KernelTypes::Dwarf(t) => t.pointer_size(),
            KernelTypes::Btf(t) => t.pointer_size(),
        }
    }
    fn has_alignment_info(&self) -> bool {
        match self {
            KernelTypes::Dwarf(t) => t.has_alignment_info(),
            KernelTypes::Btf(t) => t.has_alignment_info(),
        }
    }
    fn composite_names(&self) -> Result<Vec<String>, TypeError> {
        match self {
            KernelTypes::Dwarf(t) => t.composite_names(),
            KernelTypes::Btf(t) => t.composite_names(),
        }
    }
    fn all_type_names(&self) -> Result<Vec<String>, TypeError> {
        match self {
            KernelTypes::Dwarf(t) => t.all_type_names(),
            KernelTypes::Btf(t) => t.all_type_names(),
        }
    }
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

    /// Live, no --vmlinux, no installed debug vmlinux: use BTF + kallsyms.
    fn use_running_kernel_btf(&self) -> bool {
        self.core.is_none() && self.vmlinux.is_none() && !Path::new(&self.vmlinux_path()).exists()
    }

    /// Where types come from, for messages: the vmlinux or /sys/kernel/btf/vmlinux.
    pub fn types_path(&self) -> String {
        if self.use_running_kernel_btf() {
            SYS_BTF.into()
        } else {
            self.vmlinux_path()
        }
    }

    /// The type model: DWARF of the vmlinux, or live without one the kernel's BTF.
    pub fn load_types(&self) -> Result<KernelTypes> {
        if self.use_running_kernel_btf() {
            if !Path::new(SYS_BTF).exists() {
                anyhow::bail!(
                    "{}: no such file, and no {SYS_BTF} (kernel without CONFIG_DEBUG_INFO_BTF); pass --vmlinux FILE (the running kernel's DWARF vmlinux)",
                    self.vmlinux_path()
                );
            }
            let db = BtfDb::open(Path::new(SYS_BTF), 0)?;
            return Ok(KernelTypes::Btf(Box::new(db)));
        }
        Ok(KernelTypes::Dwarf(Box::new(load_types(
            &self.vmlinux_path(),
        )?)))
    }

    /// Open the dump (or /proc/kcore) and the vmlinux (or kallsyms); with `types`, resolve offsets too.
    pub fn open(&self, types: Option<&dyn TypeLookup>) -> Result<Kernel> {
        let btf_mode = self.use_running_kernel_btf();
        let vmlinux = self.vmlinux_path();
        if !btf_mode && !Path::new(&vmlinux).exists() {
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
        let syms = if btf_mode {
            Symbols::open_kallsyms(KALLSYMS)?
        } else {
            Symbols::open(&vmlinux)?
        };
        match Kernel::open_with(d, syms, types) {
            Err(KernelError::NoVmcoreinfo { dump }) if live => {
                anyhow::bail!(
                    "{dump}: no VMCOREINFO and no kernel text segment, KASLR offset unknown; {}",
                    crate::kernel::live::kptr_restrict_hint()
                )
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
pub fn load_types(vmlinux: &str) -> Result<TypeDb> {
    let opts = super::progress::dwarf_options();
    Ok(TypeDb::open_with(std::path::Path::new(vmlinux), opts)?)
}
