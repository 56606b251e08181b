//! `--core FILE --vmlinux FILE`: which kernel the commands look at, accepted before
//! or after the command name. Without `--core`, the running kernel through
//! /proc/kcore. Which debug information is read is decided in `debuginfo::select`.

use crate::debuginfo::find::Wanted;
use crate::debuginfo::select::{select, LoadOptions, Purpose, Request, TypeFile};
use crate::debuginfo::KernelTypes;
use crate::kernel::in_dump;
use crate::kernel::live::{os_release, running_build_id};
use crate::kernel::offsets::TypeLookup;
use crate::kernel::symbols::{Origin, Symbols};
use crate::kernel::target::{open_target, SymbolFile};
use crate::kernel::VmcoreInfo;
use crate::kernel::{dump, Dump};
use crate::kernel::{Kernel, KernelError};
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::{Path, PathBuf};

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
    /// Read types from this BTF (raw BTF such as /sys/kernel/btf/vmlinux, or an ELF's .BTF);
    /// `--vmlinux FILE` reads DWARF instead. With --core and neither, the dump's own BTF
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "vmlinux")]
    pub btf: Option<PathBuf>,
    /// With --core: symbols from this copy of /proc/kallsyms or System.map (checked
    /// against the dump) instead of the vmlinux or the dump's own kallsyms tables
    #[arg(long, value_name = "FILE", global = true)]
    pub kallsyms: Option<String>,
    /// With --core and no --vmlinux: also look for the dump's vmlinux under DIR (as under `/`:
    /// usr/lib/debug/boot/vmlinux-R, usr/lib/debug/.build-id/, ...); repeatable; more in
    /// VMSCOPE_DEBUG_DIRS (colon-separated)
    #[arg(long = "debug-dir", value_name = "DIR", global = true)]
    pub debug_dirs: Vec<PathBuf>,
}

impl TargetArgs {
    /// Debug roots: `/`, then `--debug-dir`s, then VMSCOPE_DEBUG_DIRS.
    pub fn debug_roots(&self) -> Vec<PathBuf> {
        let mut v = vec![PathBuf::from("/")];
        v.extend(self.debug_dirs.iter().cloned());
        if let Some(env) = std::env::var_os("VMSCOPE_DEBUG_DIRS") {
            v.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        }
        v
    }

    /// What the memory commands read their types from.
    pub fn type_file(&self) -> Result<TypeFile> {
        self.type_file_for(Purpose::Memory, None)
    }

    /// Where types come from for `purpose`; for a dump, `info` is its VMCOREINFO
    /// (release and build-id of the vmlinux searched for).
    pub fn type_file_for(&self, purpose: Purpose, info: Option<&VmcoreInfo>) -> Result<TypeFile> {
        let file = self.select_for(purpose, info)?;
        if let TypeFile::DumpMemory { searched } = &file {
            if searched.contains("; skipped ") && self.kallsyms.is_none() {
                eprintln!("vmscope: note: {searched}; using the dump's own BTF and kallsyms");
            }
        }
        if let TypeFile::RunningBtf { searched, .. } = &file {
            if searched.contains("; skipped ") {
                eprintln!(
                    "vmscope: note: {searched}; using the running kernel's BTF and /proc/kallsyms"
                );
            }
        }
        Ok(file)
    }

    /// As [`Self::type_file_for`], silently.
    fn select_for(&self, purpose: Purpose, info: Option<&VmcoreInfo>) -> Result<TypeFile> {
        let release = os_release();
        let build_id = self.core.is_none().then(running_build_id).flatten();
        let roots = self.debug_roots();
        Ok(select(&Request {
            purpose,
            vmlinux: self.vmlinux.as_deref().map(Path::new),
            btf: self.btf.as_deref(),
            dump: self.core.is_some(),
            running_release: release.as_deref(),
            running_build_id: build_id.as_deref(),
            dump_kernel: info.and_then(|i| {
                Some(Wanted {
                    release: i.osrelease()?,
                    build_id: i.build_id(),
                })
            }),
            debug_roots: &roots,
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

    /// Types and the kernel with its offsets resolved, for the commands that walk objects.
    pub fn open_typed(&self) -> Result<(KernelTypes, Kernel)> {
        let Some(core) = self.core.as_deref() else {
            let types = self.load_types()?;
            let k = self.open(Some(&types))?;
            return Ok((types, k));
        };
        let d = dump::open(core)?;
        let file = self.type_file_for(Purpose::Memory, d.vmcoreinfo.as_ref())?;
        let syms = self.dump_symbols(&d, &file)?;
        let types = self.dump_types(&d, &syms, &file, 0)?;
        let k = Kernel::open_with(d, syms, Some(&types))?;
        Ok((types, k))
    }

    /// Symbols for a dump: `--kallsyms FILE`, the vmlinux, or the dump's own tables.
    fn dump_symbols(&self, d: &Dump, file: &TypeFile) -> Result<Symbols> {
        Ok(match (&self.kallsyms, file) {
            (Some(f), _) => in_dump::kallsyms_file(f, d)?,
            (None, TypeFile::Dwarf(v)) => {
                if !v.exists() {
                    return Err(KernelError::NoVmlinux(v.display().to_string()).into());
                }
                Symbols::open(&v.display().to_string())?
            }
            (None, TypeFile::DumpMemory { searched }) => {
                in_dump::dump_kallsyms(d).map_err(|e| anyhow!("{e} ({searched})"))?
            }
            (None, _) => in_dump::dump_kallsyms(d)?,
        })
    }

    /// Types for a dump: the chosen file, or the BTF in the dump's memory.
    fn dump_types(
        &self,
        d: &Dump,
        syms: &Symbols,
        file: &TypeFile,
        cacheline_size: u32,
    ) -> Result<KernelTypes> {
        if let TypeFile::DumpMemory { searched } = file {
            let db = in_dump::dump_btf(d, syms, cacheline_size)
                .map_err(|e| anyhow!("{e} ({searched})"))?;
            return Ok(KernelTypes::Btf(Box::new(db)));
        }
        let opts = LoadOptions {
            cacheline_size,
            dwarf: super::progress::dwarf_options(),
            btf_base: None,
        };
        Ok(file.load(opts)?)
    }

    /// `layout --core DUMP`: the types of the dump (its vmlinux's, or its own BTF),
    /// with where they came from.
    pub fn dump_layout_types(&self, cacheline_size: u32) -> Result<(KernelTypes, TypeFile)> {
        let d = dump::open(self.core.as_deref().unwrap_or_default())?;
        let file = self.type_file_for(Purpose::Layouts, d.vmcoreinfo.as_ref())?;
        let syms = match &file {
            TypeFile::DumpMemory { .. } => self.dump_symbols(&d, &file)?,
            _ => Symbols::empty(&d.path),
        };
        let types = self.dump_types(&d, &syms, &file, cacheline_size)?;
        Ok((types, file))
    }

    /// Where the types and the symbols of `k` came from, for `info`.
    pub fn sources(&self, k: &Kernel) -> (String, String) {
        let syms = match k.syms.origin() {
            Origin::DumpMemory => format!("dump memory: {} symbols", k.syms.len()),
            Origin::File => format!("{} ({} symbols)", k.syms.path(), k.syms.len()),
            Origin::Vmlinux | Origin::Live => k.syms.path().to_string(),
        };
        let types = match self.select_for(Purpose::Memory, k.vmcoreinfo.as_ref()) {
            Ok(TypeFile::DumpMemory { .. }) => match in_dump::dump_btf_len(&k.syms) {
                Some(n) => format!("dump memory: BTF {n} bytes"),
                None => "dump memory: no BTF (__start_BTF/__stop_BTF unknown)".into(),
            },
            Ok(f) => f.path().display().to_string(),
            Err(e) => e.to_string(),
        };
        (types, syms)
    }

    /// Open the dump (or /proc/kcore) and the vmlinux (or kallsyms); with `types`, resolve offsets too.
    pub fn open(&self, types: Option<&dyn TypeLookup>) -> Result<Kernel> {
        if let Some(core) = self.core.as_deref() {
            let d = dump::open(core)?;
            let file = self.type_file_for(Purpose::Memory, d.vmcoreinfo.as_ref())?;
            let syms = self.dump_symbols(&d, &file)?;
            return Ok(Kernel::open_with(d, syms, types)?);
        }
        let file = self.type_file()?;
        let path = file.path().display().to_string();
        let syms = match &file {
            TypeFile::RunningBtf { .. } | TypeFile::DumpMemory { .. } => SymbolFile::Kallsyms,
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
