//! `--core FILE --vmlinux FILE`: which kernel the commands look at, accepted before
//! or after the command name. Without `--core`, the running kernel through
//! /proc/kcore. Which debug information is read is decided in `debuginfo::select`.

use crate::debuginfo::select::{select, LoadOptions, Purpose, Request, TypeFile};
use crate::debuginfo::KernelTypes;
use crate::kernel::live::os_release;
use crate::kernel::offsets::TypeLookup;
use crate::kernel::target::{open_target, SymbolFile};
use crate::kernel::Kernel;
use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Dump file to read (ELF vmcore or kdump-compressed); default: the live kernel via /proc/kcore
    #[arg(long, value_name = "FILE", global = true)]
    pub core: Option<String>,
    /// vmlinux with DWARF (and symbols, for the memory commands); default: `layout` the
    /// running kernel's BTF, the others /usr/lib/debug/boot/vmlinux-$(uname -r), and live
    /// without it /sys/kernel/btf/vmlinux + /proc/kallsyms
    #[arg(long, value_name = "FILE", global = true)]
    pub vmlinux: Option<String>,
}

impl TargetArgs {
    /// What the memory commands read their types from.
    pub fn type_file(&self) -> Result<TypeFile> {
        let release = os_release();
        Ok(select(&Request {
            purpose: Purpose::Memory,
            vmlinux: self.vmlinux.as_deref().map(Path::new),
            btf: None,
            dump: self.core.is_some(),
            running_release: release.as_deref(),
        })?)
    }

    /// Where types come from, for messages: the vmlinux or /sys/kernel/btf/vmlinux.
    pub fn types_path(&self) -> String {
        self.type_file()
            .map(|f| f.path().display().to_string())
            .unwrap_or_default()
    }

    /// The type model: DWARF of the vmlinux, or live without one the kernel's BTF.
    pub fn load_types(&self) -> Result<KernelTypes> {
        let opts = LoadOptions {
            dwarf: super::progress::dwarf_options(),
            ..LoadOptions::default()
        };
        Ok(self.type_file()?.load(opts)?)
    }

    /// Open the dump (or /proc/kcore) and the vmlinux (or kallsyms); with `types`, resolve offsets too.
    pub fn open(&self, types: Option<&dyn TypeLookup>) -> Result<Kernel> {
        let file = self.type_file()?;
        let path = file.path().display().to_string();
        let syms = match &file {
            TypeFile::RunningBtf { .. } => SymbolFile::Kallsyms,
            TypeFile::Dwarf(_) | TypeFile::Btf(_) => SymbolFile::Vmlinux(&path),
        };
        Ok(open_target(self.core.as_deref(), syms, types)?)
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
