//! Loaded modules, as `lsmod` and /proc/modules show them: the `modules` list of
//! `struct module`, each with its name, where its core is mapped and how big it is,
//! its taint flags, and whether its BTF is registered (the `btf_modules` list of
//! kernel/bpf/btf.c: `module.btf_data` itself is cleared once the module is initialised).
//! Layouts are probed: `core_layout` (before 6.4) or the `mem[]` regions (6.4+).
//! Both walks are bounded and detect cycles.

use super::offsets::{field, need, probe, Field, TypeLookup};
use super::{Kernel, KernelError, ReadContext};
use crate::memory::Memory;

/// A module's BTF is a few hundred KB at most; a larger size is a corrupt `struct btf`.
const MAX_MODULE_BTF: u64 = 64 << 20;

/// One loaded module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Address of `struct module`.
    pub addr: u64,
    /// Start of the core (text) mapping, as /proc/modules shows it.
    pub base: u64,
    /// Bytes mapped for the module, as /proc/modules counts them.
    pub size: u64,
    /// Taint letters (`module.taints`), in bit order.
    pub taints: String,
    /// The module's registered BTF: address and size of its data, if any.
    pub btf: Option<(u64, u64)>,
}

/// Where a module's memory is described.
#[derive(Debug, Clone, Copy)]
enum Regions {
    /// `core_layout.{base,size}` plus `init_layout.size` (before 6.4).
    Layouts {
        base: u64,
        size: Field,
        init_size: Option<Field>,
    },
    /// `mem[]` of `struct module_memory {base, size, ...}` (6.4+): the text region's base,
    /// and the sizes summed.
    Mem {
        at: u64,
        count: u64,
        stride: u64,
        base: u64,
        size: Field,
    },
}

/// Offsets of the `btf_modules` walk.
#[derive(Debug, Clone, Copy)]
struct BtfModules {
    list: u64,
    module: u64,
    btf: u64,
    data: u64,
    data_size: Field,
}

/// Member offsets the module walk needs, probed from the types.
#[derive(Debug, Clone, Copy)]
pub struct ModuleOffsets {
    list: u64,
    name: Field,
    taints: Option<Field>,
    regions: Regions,
    btf: Option<BtfModules>,
}

impl ModuleOffsets {
    pub fn probe(t: &dyn TypeLookup) -> Result<ModuleOffsets, KernelError> {
        let regions = match probe(t, "module", "core_layout.base") {
            Some(base) => Regions::Layouts {
                base: base.offset,
                size: field(t, "module", "core_layout.size")?,
                init_size: probe(t, "module", "init_layout.size"),
            },
            None => {
                let mem = field(t, "module", "mem")?;
                let stride = super::offsets::need_size(t, "module_memory")?.max(1);
                Regions::Mem {
                    at: mem.offset,
                    count: mem.size / stride,
                    stride,
                    base: need(t, "module_memory", "base")?,
                    size: field(t, "module_memory", "size")?,
                }
            }
        };
        let btf = (|| {
            Some(BtfModules {
                list: probe(t, "btf_module", "list")?.offset,
                module: probe(t, "btf_module", "module")?.offset,
                btf: probe(t, "btf_module", "btf")?.offset,
                data: probe(t, "btf", "data")?.offset,
                data_size: probe(t, "btf", "data_size")?,
            })
        })();
        Ok(ModuleOffsets {
            list: need(t, "module", "list")?,
            name: field(t, "module", "name")?,
            taints: probe(t, "module", "taints"),
            regions,
            btf,
        })
    }
}

/// Taint letters by bit, as the kernel's `taint_flags` table names them.
const TAINT_LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTN";

fn taint_letters(bits: u64) -> String {
    TAINT_LETTERS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, &c)| c as char)
        .collect()
}

impl Kernel {
    /// Every module on the `modules` list, in list order (newest first, as lsmod).
    pub fn modules(&self, o: &ModuleOffsets) -> Result<Vec<Module>, KernelError> {
        let head = self.syms.require("modules")?;
        let btf = self.module_btfs(o)?;
        let mut out = Vec::new();
        for node in self.list_nodes(head, "modules")? {
            out.push(self.module_at(node.wrapping_sub(o.list), o, &btf)?);
        }
        Ok(out)
    }

    /// `struct module` address -> (BTF data address, size), from `btf_modules`.
    fn module_btfs(&self, o: &ModuleOffsets) -> Result<Vec<(u64, u64, u64)>, KernelError> {
        let (Some(b), Some(head)) = (o.btf, self.syms.address("btf_modules")) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for node in self.list_nodes(head, "btf_modules")? {
            let entry = node.wrapping_sub(b.list);
            let read = |at: u64, what: &str| {
                self.mem
                    .read_u64(at)
                    .ctx(|| format!("btf_module {entry:#x} {what}"))
            };
            let module = read(entry.wrapping_add(b.module), "module")?;
            let btf = read(entry.wrapping_add(b.btf), "btf")?;
            let data = read(btf.wrapping_add(b.data), "btf data")?;
            let size = self.read_uint(btf.wrapping_add(b.data_size.offset), b.data_size.size)?;
            if size > MAX_MODULE_BTF {
                return Err(KernelError::Walk {
                    what: "struct btf".into(),
                    addr: btf,
                    why: format!("data_size {size} is larger than any module's BTF"),
                });
            }
            out.push((module, data, size));
        }
        Ok(out)
    }

    /// An unsigned little-endian integer member of up to 8 bytes.
    pub(super) fn read_uint(&self, addr: u64, size: u64) -> Result<u64, KernelError> {
        let bytes = self
            .mem
            .read_vec(addr, size.min(8) as usize)
            .ctx(|| format!("integer at {addr:#x}"))?;
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(&bytes);
        Ok(u64::from_le_bytes(b))
    }

    fn module_at(
        &self,
        m: u64,
        o: &ModuleOffsets,
        btfs: &[(u64, u64, u64)],
    ) -> Result<Module, KernelError> {
        let raw = self
            .mem
            .read_vec(m.wrapping_add(o.name.offset), o.name.size as usize)
            .ctx(|| format!("module {m:#x} name"))?;
        let name = String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap_or(&[])).into();
        let (base, size) = match o.regions {
            Regions::Layouts {
                base,
                size,
                init_size,
            } => {
                let b = self.read_uint(m.wrapping_add(base), 8)?;
                let mut s = self.read_uint(m.wrapping_add(size.offset), size.size)?;
                if let Some(i) = init_size {
                    s += self.read_uint(m.wrapping_add(i.offset), i.size)?;
                }
                (b, s)
            }
            Regions::Mem {
                at,
                count,
                stride,
                base,
                size,
            } => {
                let region = |i: u64| m.wrapping_add(at + i * stride);
                let b = self.read_uint(region(0).wrapping_add(base), 8)?;
                let mut s = 0u64;
                for i in 0..count {
                    s += self.read_uint(region(i).wrapping_add(size.offset), size.size)?;
                }
                (b, s)
            }
        };
        let taints = match o.taints {
            Some(t) => taint_letters(self.read_uint(m.wrapping_add(t.offset), t.size)?),
            None => String::new(),
        };
        let btf = btfs
            .iter()
            .find(|(module, _, _)| *module == m)
            .map(|&(_, data, size)| (data, size));
        Ok(Module {
            name,
            addr: m,
            base,
            size,
            taints,
            btf,
        })
    }

    /// The bytes of a module's registered BTF (split on the kernel's).
    pub fn module_btf_bytes(&self, m: &Module) -> Result<Option<Vec<u8>>, KernelError> {
        let Some((data, size)) = m.btf else {
            return Ok(None);
        };
        self.mem
            .read_vec(data, size as usize)
            .ctx(|| format!("module {} BTF [{data:#x}, +{size:#x})", m.name))
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn taint_letters_follow_the_kernel_table() {
        assert_eq!(super::taint_letters(0), "");
        // TAINT_OOT_MODULE (12) and TAINT_UNSIGNED_MODULE (13): lsmod's "(OE)".
        assert_eq!(super::taint_letters((1 << 12) | (1 << 13)), "OE");
        assert_eq!(super::taint_letters(1), "P");
    }
}
