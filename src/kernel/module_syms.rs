//! Symbols of loaded modules, from the ELF symbol table each module keeps in memory for
//! kallsyms: `struct module` on the `modules` list, its `kallsyms` (`struct
//! mod_kallsyms`: `symtab`, `num_symtab`, `strtab`). Before 4.5 (commit 8244062ef1e5,
//! "modules: fix longstanding /proc/kallsyms vs module insertion race.") the three
//! members sat in `struct module` itself; both layouts are probed from the types.

use super::offsets::{field, probe, Field, TypeLookup};
use super::{Kernel, KernelError, ReadContext};
use crate::memory::Memory;

/// `Elf64_Sym`: st_name (u32), st_info, st_other, st_shndx (u16), st_value, st_size.
const ELF64_SYM_SIZE: usize = 24;
/// Bounds: modules on the list, symbols per module, bytes of one name.
const MAX_MODULES: usize = 4096;
const MAX_SYMS: u64 = 1 << 20;
const MAX_NAME: usize = 512;

/// One symbol of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSymbol {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    /// Index into [`ModuleSymbols::modules`].
    pub module: usize,
}

/// Every loaded module's symbols, sorted by address.
#[derive(Debug, Clone, Default)]
pub struct ModuleSymbols {
    pub modules: Vec<String>,
    /// In each module's symbol table order, modules in list order.
    pub symbols: Vec<ModuleSymbol>,
    by_addr: Vec<usize>,
}

impl ModuleSymbols {
    /// The symbol covering `addr`: (name, offset, size, module).
    pub fn symbolize(&self, addr: u64) -> Option<(&str, u64, u64, &str)> {
        let i = self
            .by_addr
            .partition_point(|&i| self.symbols[i].addr <= addr);
        // Nested or zero-sized symbols: the nearest start whose extent covers addr.
        let s = self.by_addr[..i]
            .iter()
            .rev()
            .take(16)
            .map(|&i| &self.symbols[i])
            .find(|s| addr < s.addr.saturating_add(s.size))?;
        let module = self.modules.get(s.module)?;
        Some((&s.name, addr - s.addr, s.size, module))
    }

    /// `name+0xoff [module]` for an address inside a module's symbol, as bt prints frames.
    pub fn describe(&self, addr: u64) -> Option<String> {
        let (name, off, _, module) = self.symbolize(addr)?;
        Some(if off == 0 {
            format!("{name} [{module}]")
        } else {
            format!("{name}+{off:#x} [{module}]")
        })
    }

    /// Symbol `name`: (address, module), taken from module `module` when one is named,
    /// else from the first module defining it (statics of two modules may share a name).
    pub fn lookup(&self, name: &str, module: Option<&str>) -> Option<(u64, &str)> {
        self.symbols.iter().find_map(|s| {
            let m = self.modules.get(s.module)?;
            (s.name == name && module.is_none_or(|want| want == m)).then_some((s.addr, m.as_str()))
        })
    }
}

/// Member offsets of the module list and the symbol tables.
struct ModuleLayout {
    list: Field,
    name: Field,
    /// `module.kallsyms` (a pointer) when present; else the members are in the module.
    kallsyms: Option<Field>,
    symtab: Field,
    num_symtab: Field,
    strtab: Field,
}

impl ModuleLayout {
    fn probe(t: &dyn TypeLookup) -> Result<ModuleLayout, KernelError> {
        let kallsyms = probe(t, "module", "kallsyms");
        let holder = if kallsyms.is_some() {
            "mod_kallsyms"
        } else {
            "module"
        };
        Ok(ModuleLayout {
            list: field(t, "module", "list")?,
            name: field(t, "module", "name")?,
            kallsyms,
            symtab: field(t, holder, "symtab")?,
            num_symtab: field(t, holder, "num_symtab")?,
            strtab: field(t, holder, "strtab")?,
        })
    }
}

impl Kernel {
    /// The symbols of every module on the `modules` list. A module whose table cannot be
    /// read is skipped and named in the returned warnings.
    pub fn module_symbols(
        &self,
        t: &dyn TypeLookup,
    ) -> Result<(ModuleSymbols, Vec<String>), KernelError> {
        let l = ModuleLayout::probe(t)?;
        let head = self.syms.require("modules")?;
        let mut out = ModuleSymbols::default();
        let mut warnings = Vec::new();
        let mut node = self.mem.read_u64(head).ctx(|| "modules.next".into())?;
        while node != head {
            if out.modules.len() >= MAX_MODULES {
                warnings.push(format!(
                    "more than {MAX_MODULES} modules, the rest left out"
                ));
                break;
            }
            let module = node.wrapping_sub(l.list.offset);
            let name = self.module_name(&l, module)?;
            let index = out.modules.len();
            match self.read_module_symbols(&l, module, index) {
                Ok(syms) => out.symbols.extend(syms),
                Err(e) => warnings.push(format!("module {name} ({module:#x}): {e}")),
            }
            out.modules.push(name);
            node = self
                .mem
                .read_u64(node)
                .ctx(|| format!("module {module:#x} list.next"))?;
        }
        let mut by_addr: Vec<usize> = (0..out.symbols.len()).collect();
        by_addr.sort_by_key(|&i| out.symbols[i].addr);
        out.by_addr = by_addr;
        Ok((out, warnings))
    }

    fn module_name(&self, l: &ModuleLayout, module: u64) -> Result<String, KernelError> {
        let at = module + l.name.offset;
        let b = self
            .mem
            .read_vec(at, l.name.size as usize)
            .ctx(|| format!("module {module:#x} name"))?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }

    fn read_module_symbols(
        &self,
        l: &ModuleLayout,
        module: u64,
        index: usize,
    ) -> Result<Vec<ModuleSymbol>, KernelError> {
        let holder = match l.kallsyms {
            Some(f) => self
                .mem
                .read_u64(module + f.offset)
                .ctx(|| "module.kallsyms".into())?,
            None => module,
        };
        let symtab = self
            .mem
            .read_u64(holder + l.symtab.offset)
            .ctx(|| "symtab".into())?;
        let strtab = self
            .mem
            .read_u64(holder + l.strtab.offset)
            .ctx(|| "strtab".into())?;
        let num = self.read_uint(holder + l.num_symtab.offset, l.num_symtab.size)?;
        if num > MAX_SYMS {
            return Err(KernelError::Walk {
                what: "module symbol table".into(),
                addr: symtab,
                why: format!("num_symtab {num}"),
            });
        }
        let table = self
            .mem
            .read_vec(symtab, num as usize * ELF64_SYM_SIZE)
            .ctx(|| format!("symtab at {symtab:#x}"))?;
        let mut out = Vec::new();
        for e in table.chunks_exact(ELF64_SYM_SIZE) {
            let u32_at = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
            let u64_at = |o: usize| u64::from(u32_at(o)) | u64::from(u32_at(o + 4)) << 32;
            let st_name = u32_at(0);
            if st_name == 0 {
                continue;
            }
            let at = strtab.wrapping_add(u64::from(st_name));
            let name = super::vma::read_cstr(&self.mem, at, MAX_NAME, "module symbol name")
                .map_err(|e| KernelError::Walk {
                    what: "module symbol name".into(),
                    addr: at,
                    why: e.to_string(),
                })?;
            out.push(ModuleSymbol {
                name: String::from_utf8_lossy(&name).into_owned(),
                addr: u64_at(8),
                size: u64_at(16),
                module: index,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str, addr: u64, size: u64) -> ModuleSymbol {
        ModuleSymbol {
            name: name.into(),
            addr,
            size,
            module: 0,
        }
    }

    #[test]
    fn symbolizes_within_a_symbols_extent_only() {
        let symbols = vec![
            sym("b", 0x2000, 0x10),
            sym("a", 0x1000, 0x20),
            sym("note", 0x1010, 0),
        ];
        let m = ModuleSymbols {
            modules: vec!["m".into()],
            by_addr: vec![1, 2, 0],
            symbols,
        };
        assert_eq!(m.symbolize(0x1018), Some(("a", 0x18, 0x20, "m")));
        assert_eq!(m.symbolize(0x2000), Some(("b", 0, 0x10, "m")));
        assert_eq!(m.symbolize(0x1020), None);
        assert_eq!(m.symbolize(0x0fff), None);
        assert_eq!(m.describe(0x1018).as_deref(), Some("a+0x18 [m]"));
        assert_eq!(m.describe(0x2000).as_deref(), Some("b [m]"));
        assert_eq!(m.lookup("b", Some("m")), Some((0x2000, "m")));
        assert_eq!(m.lookup("b", Some("other")), None);
        assert_eq!(m.lookup("note", None), Some((0x1010, "m")));
    }
}
