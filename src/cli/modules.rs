//! `vmscope modules [--json]`: the loaded modules of a dump or the running kernel:
//! name, address, size, whether their BTF is registered, taints.

use super::target::TargetArgs;
use crate::debuginfo::btf::{Btf, BtfDb};
use crate::debuginfo::KernelTypes;
use crate::kernel::module_syms::ModuleSymbols;
use crate::kernel::modules::ModuleOffsets;
use crate::kernel::Kernel;
use crate::render::modules::{table, ModuleRow};
use anyhow::{anyhow, Context, Result};
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct ModulesArgs {
    /// One JSON array of {name, module, address, size, btf_size, taints}
    #[arg(long)]
    pub json: bool,
    /// Also write each module's registered BTF, as the kernel holds it, to DIR/NAME.btf
    /// (raw split BTF: `layout --btf DIR/NAME.btf --btf-base KERNEL_BTF` reads it)
    #[arg(long, value_name = "DIR")]
    pub save_btf: Option<std::path::PathBuf>,
}

pub fn run(a: &ModulesArgs, t: &TargetArgs) -> Result<i32> {
    let (types, k) = t.open_typed()?;
    let offsets = ModuleOffsets::probe(&types)?;
    let modules = k.modules(&offsets)?;
    if let Some(dir) = &a.save_btf {
        for m in &modules {
            if let Some(bytes) = k.module_btf_bytes(m)? {
                // A module name is a file name: the kernel refuses '/' in it; check anyway.
                let name = m.name.replace('/', "_");
                let path = dir.join(format!("{name}.btf"));
                std::fs::write(&path, bytes).with_context(|| path.display().to_string())?;
            }
        }
    }
    let rows: Vec<ModuleRow> = modules.iter().map(ModuleRow::from).collect();
    if a.json {
        crate::render::print_json(&rows)?;
    } else {
        std::io::stdout()
            .lock()
            .write_all(table(&rows).as_bytes())?;
    }
    Ok(0)
}

/// The types of loaded module `name`: its registered BTF, split on the kernel's BTF (the
/// dump's own, or the `.BTF` of the vmlinux whose DWARF `types` came from).
pub fn module_types(k: &Kernel, types: &KernelTypes, t: &TargetArgs, name: &str) -> Result<BtfDb> {
    let offsets = ModuleOffsets::probe(types)?;
    let modules = k.modules(&offsets)?;
    let m = modules
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| anyhow!("no loaded module named '{name}'"))?;
    let split = k
        .module_btf_bytes(m)?
        .ok_or_else(|| anyhow!("module {name} has no registered BTF"))?;
    let from_file;
    let base = match types {
        KernelTypes::Btf(db) => db.btf().bytes(),
        KernelTypes::Dwarf(_) => {
            from_file = Btf::open(std::path::Path::new(&t.types_path()))?;
            from_file.bytes()
        }
    };
    let btf = Btf::from_split_bytes(base, &split, "the kernel's BTF")
        .with_context(|| format!("module {name}'s BTF at {:#x}", m.btf.map_or(0, |b| b.0)))?;
    Ok(BtfDb::new(btf, crate::debuginfo::btf::DEFAULT_CACHELINE))
}

/// The loaded modules' symbols; a module whose table cannot be read is named in a warning.
pub fn module_symbols(k: &Kernel, types: &KernelTypes) -> Result<ModuleSymbols> {
    let (syms, warnings) = k.module_symbols(types)?;
    for w in warnings {
        eprintln!("vmscope: warning: module symbols: {w}");
    }
    Ok(syms)
}

/// As [`module_symbols`], for a command that opened the kernel without types (rd, sym):
/// they are loaded only when a name or an address is not the kernel image's. None
/// when they cannot be read: the caller's own "no such symbol" says more.
pub fn loaded_module_symbols(t: &TargetArgs) -> Option<ModuleSymbols> {
    let (types, k) = t.open_typed().ok()?;
    module_symbols(&k, &types).ok()
}

/// The address of symbol `name`: with `module`, that module's symbol first, else the
/// kernel's first; then any loaded module's. `loaded` is used when given, else read.
pub fn symbol_address(
    k: &Kernel,
    types: &KernelTypes,
    loaded: Option<&ModuleSymbols>,
    name: &str,
    module: Option<&str>,
) -> Result<u64> {
    if module.is_none() {
        if let Some(a) = k.syms.address(name) {
            return Ok(a);
        }
    }
    let read;
    let mods = match loaded {
        Some(m) => m,
        None => {
            read = module_symbols(k, types)?;
            &read
        }
    };
    mods.lookup(name, module)
        .map(|(a, _)| a)
        .or_else(|| k.syms.address(name))
        .ok_or_else(|| match module {
            Some(m) => anyhow!("'{name}' is neither a symbol of module {m} nor of the kernel"),
            None => anyhow!("'{name}' is neither an address nor a kernel or module symbol"),
        })
}
