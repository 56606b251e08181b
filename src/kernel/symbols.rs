//! The vmlinux ELF symbol table, relocated by the KASLR text offset.
//!
//! Per-CPU symbols (`runqueues`, ...) are offsets into the per-CPU area, not
//! addresses, and are never relocated.

use super::KernelError;
use crate::memory::x86_64::START_KERNEL_MAP;
use memmap2::Mmap;
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::fs::File;

pub struct Symbols {
    path: String,
    map: Mmap,
    /// Link-time addresses by name.
    by_name: HashMap<String, u64>,
    /// (link address, size, name) sorted by address, for reverse lookups.
    by_addr: Vec<(u64, u64, String)>,
    /// Runtime - link address of the kernel image (`KERNELOFFSET`).
    pub kaslr_offset: u64,
    pub build_id: Option<String>,
}

impl Symbols {
    pub fn open(path: &str) -> Result<Symbols, KernelError> {
        let f = File::open(path).map_err(|e| KernelError::Vmlinux { file: path.into(), what: e.to_string() })?;
        // SAFETY: read-only mapping of the vmlinux; object bounds-checks every access.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| KernelError::Vmlinux { file: path.into(), what: e.to_string() })?;
        let (by_name, by_addr, build_id) = {
            let obj = object::File::parse(&*map)
                .map_err(|e| KernelError::Vmlinux { file: path.into(), what: format!("not an ELF file: {e}") })?;
            let mut by_name = HashMap::new();
            let mut by_addr = Vec::new();
            for s in obj.symbols() {
                let Ok(name) = s.name() else { continue };
                if name.is_empty() || !matches!(s.kind(), SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown) {
                    continue;
                }
                by_name.entry(name.to_string()).or_insert(s.address());
                if s.address() >= START_KERNEL_MAP {
                    by_addr.push((s.address(), s.size(), name.to_string()));
                }
            }
            by_addr.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let build_id = obj.build_id().ok().flatten().map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
            (by_name, by_addr, build_id)
        };
        if by_name.is_empty() {
            return Err(KernelError::Vmlinux { file: path.into(), what: "no symbol table (stripped?)".into() });
        }
        Ok(Symbols { path: path.into(), map, by_name, by_addr, kaslr_offset: 0, build_id })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Link-time address of `name`.
    pub fn link_address(&self, name: &str) -> Option<u64> {
        self.by_name.get(name).copied()
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
        let i = self.by_addr.partition_point(|(a, _, _)| *a <= link);
        let (a, size, name) = self.by_addr.get(i.checked_sub(1)?)?;
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
