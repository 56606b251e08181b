//! The vmlinux ELF symbol table, relocated by the KASLR text offset.
//!
//! Per-CPU symbols (`runqueues`, ...) are offsets into the per-CPU area, not
//! addresses, and are never relocated.

use super::KernelError;
use crate::memory::x86_64::START_KERNEL_MAP;
use memmap2::Mmap;
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::fs::File;
use std::sync::OnceLock;

pub struct Symbols {
    path: String,
    map: Mmap,
    /// Every named text/data symbol, in symbol-table order. Names stay in the
    /// mapped file: no per-symbol allocation (the table has ~130k entries).
    syms: Vec<Sym>,
    /// Indices into `syms` of image symbols sorted by address (reverse lookups), built on first use.
    by_addr: OnceLock<Vec<u32>>,
    /// Runtime - link address of the kernel image (`KERNELOFFSET`).
    pub kaslr_offset: u64,
    pub build_id: Option<String>,
}

#[derive(Clone, Copy)]
struct Sym {
    addr: u64,
    size: u64,
    /// Name as an offset/length into the mapped file.
    name_off: u64,
    name_len: u32,
}

impl Symbols {
    pub fn open(path: &str) -> Result<Symbols, KernelError> {
        let f = File::open(path).map_err(|e| KernelError::Vmlinux { file: path.into(), what: e.to_string() })?;
        // SAFETY: read-only mapping of the vmlinux; object bounds-checks every access.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| KernelError::Vmlinux { file: path.into(), what: e.to_string() })?;
        let (syms, build_id) = {
            let obj = object::File::parse(&*map)
                .map_err(|e| KernelError::Vmlinux { file: path.into(), what: format!("not an ELF file: {e}") })?;
            let base = map.as_ptr() as u64;
            let mut syms = Vec::new();
            for s in obj.symbols() {
                let Ok(name) = s.name_bytes() else { continue };
                if name.is_empty() || !matches!(s.kind(), SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown) {
                    continue;
                }
                let name_off = (name.as_ptr() as u64).wrapping_sub(base);
                if name_off.checked_add(name.len() as u64).is_none_or(|e| e > map.len() as u64) {
                    continue; // not inside the mapping (cannot happen for a plain ELF)
                }
                syms.push(Sym { addr: s.address(), size: s.size(), name_off, name_len: name.len() as u32 });
            }
            let build_id = obj.build_id().ok().flatten().map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
            (syms, build_id)
        };
        if syms.is_empty() {
            return Err(KernelError::Vmlinux { file: path.into(), what: "no symbol table (stripped?)".into() });
        }
        Ok(Symbols { path: path.into(), map, syms, by_addr: OnceLock::new(), kaslr_offset: 0, build_id })
    }

    fn name(&self, s: &Sym) -> &[u8] {
        let start = s.name_off as usize;
        self.map.get(start..start + s.name_len as usize).unwrap_or_default()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Link-time address of `name`.
    pub fn link_address(&self, name: &str) -> Option<u64> {
        // A linear scan: callers ask for a handful of names, building a map of
        // every symbol would cost more.
        let want = name.as_bytes();
        self.syms.iter().find(|s| s.name_len as usize == want.len() && self.name(s) == want).map(|s| s.addr)
    }

    /// Runtime address of `name` (per-CPU offsets are returned unchanged).
    pub fn address(&self, name: &str) -> Option<u64> {
        self.link_address(name).map(|a| self.relocate(a))
    }

    pub fn require(&self, name: &str) -> Result<u64, KernelError> {
        self.address(name).ok_or_else(|| KernelError::MissingSymbol { file: self.path.clone(), name: name.into() })
    }

    fn relocate(&self, link: u64) -> u64 {
        if link >= START_KERNEL_MAP {
            link.wrapping_add(self.kaslr_offset)
        } else {
            link
        }
    }

    /// `name+0xoff` for a runtime address inside the kernel image, if any symbol covers it.
    pub fn describe(&self, runtime: u64) -> Option<String> {
        let link = runtime.wrapping_sub(self.kaslr_offset);
        if link < START_KERNEL_MAP {
            return None;
        }
        let by_addr = self.by_addr.get_or_init(|| {
            let mut v: Vec<u32> = (0..self.syms.len() as u32).filter(|&i| self.syms[i as usize].addr >= START_KERNEL_MAP).collect();
            v.sort_by(|&a, &b| {
                let (x, y) = (&self.syms[a as usize], &self.syms[b as usize]);
                x.addr.cmp(&y.addr).then(y.size.cmp(&x.size))
            });
            v
        });
        let i = by_addr.partition_point(|&j| self.syms.get(j as usize).is_some_and(|s| s.addr <= link));
        let sym = self.syms.get(*by_addr.get(i.checked_sub(1)?)? as usize)?;
        let (a, size) = (&sym.addr, &sym.size);
        let name = String::from_utf8_lossy(self.name(sym)).into_owned();
        let off = link - a;
        // Past the symbol's end (when its size is known) means no symbol covers it.
        if *size != 0 && off >= *size {
            return None;
        }
        if off > 1 << 20 {
            return None;
        }
        Some(if off == 0 { name.clone() } else { format!("{name}+{off:#x}") })
    }

    /// Bytes of initialised data at link address `link` in the vmlinux file itself.
    pub fn file_bytes(&self, link: u64, len: u64) -> Option<Vec<u8>> {
        let obj = object::File::parse(&*self.map).ok()?;
        obj.segments().find_map(|s| s.data_range(link, len).ok().flatten()).map(<[u8]>::to_vec)
    }

    /// `linux_banner` as stored in the vmlinux ("Linux version RELEASE (...) ...").
    pub fn file_banner(&self) -> Option<String> {
        let bytes = self.file_bytes(self.link_address("linux_banner")?, 512)?;
        Some(crate::memory::c_string(&bytes).trim_end().to_string())
    }
}

/// The release word of a `linux_banner` ("Linux version 6.1.0-47-cloud-amd64 (...)").
pub fn banner_release(banner: &str) -> Option<&str> {
    banner.strip_prefix("Linux version ")?.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    #[test]
    fn banner_release_word() {
        let b = "Linux version 5.10.0-43-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1)";
        assert_eq!(super::banner_release(b), Some("5.10.0-43-cloud-amd64"));
        assert_eq!(super::banner_release("garbage"), None);
    }
}
