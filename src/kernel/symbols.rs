//! Kernel symbols: the vmlinux ELF symbol table, relocated by the KASLR text
//! offset, or (live, without a vmlinux) the running kernel's /proc/kallsyms, whose
//! addresses are already the runtime ones.
//!
//! Per-CPU symbols (`runqueues`, ...) are offsets into the per-CPU area, not
//! addresses, and are never relocated (kallsyms prints them as offsets too).

use super::KernelError;
use crate::memory::x86_64::START_KERNEL_MAP;
use memmap2::Mmap;
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::sync::OnceLock;

/// Where the symbol names live.
enum Names {
    /// The mapped vmlinux (names stay in the file).
    Vmlinux(Mmap),
    /// /proc/kallsyms read into memory; its addresses are runtime addresses.
    Kallsyms(Vec<u8>),
}

impl Names {
    fn bytes(&self) -> &[u8] {
        match self {
            Names::Vmlinux(m) => m,
            Names::Kallsyms(v) => v,
        }
    }
}

pub struct Symbols {
    path: String,
    names: Names,
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
        let f = crate::input::open_regular(std::path::Path::new(path)).map_err(|e| {
            KernelError::Vmlinux {
                file: path.into(),
                what: e.to_string(),
            }
        })?;
        // SAFETY: read-only mapping of the vmlinux; object bounds-checks every access.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| KernelError::Vmlinux {
            file: path.into(),
            what: e.to_string(),
        })?;
        let (syms, build_id) = {
            let obj = object::File::parse(&*map).map_err(|e| KernelError::Vmlinux {
                file: path.into(),
                what: format!("not an ELF file: {e}"),
            })?;
            let base = map.as_ptr() as u64;
            let mut syms = Vec::new();
            for s in obj.symbols() {
                let Ok(name) = s.name_bytes() else { continue };
                if name.is_empty()
                    || !matches!(
                        s.kind(),
                        SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown
                    )
                {
                    continue;
                }
                let name_off = (name.as_ptr() as u64).wrapping_sub(base);
                if name_off
                    .checked_add(name.len() as u64)
                    .is_none_or(|e| e > map.len() as u64)
                {
                    continue; // not inside the mapping (cannot happen for a plain ELF)
                }
                syms.push(Sym {
                    addr: s.address(),
                    size: s.size(),
                    name_off,
                    name_len: name.len() as u32,
                });
            }
            let build_id = obj
                .build_id()
                .ok()
                .flatten()
                .map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
            (syms, build_id)
        };
        if syms.is_empty() {
            return Err(KernelError::Vmlinux {
                file: path.into(),
                what: "no symbol table (stripped?)".into(),
            });
        }
        Ok(Symbols {
            path: path.into(),
            names: Names::Vmlinux(map),
            syms,
            by_addr: OnceLock::new(),
            kaslr_offset: 0,
            build_id,
        })
    }

    /// The running kernel's symbols from /proc/kallsyms (`ADDR TYPE NAME [MODULE]`);
    /// module symbols are skipped. All-zero addresses mean kptr_restrict hides them.
    pub fn open_kallsyms(path: &str) -> Result<Symbols, KernelError> {
        let text = std::fs::read(path).map_err(|e| KernelError::Vmlinux {
            file: path.into(),
            what: e.to_string(),
        })?;
        let syms = parse_kallsyms(&text);
        if syms.is_empty() {
            return Err(KernelError::Vmlinux {
                file: path.into(),
                what: "no kernel symbols".into(),
            });
        }
        if syms.iter().all(|s| s.addr == 0) {
            return Err(KernelError::Live(format!(
                "{path}: every address reads as 0: {}",
                super::live::kptr_restrict_hint()
            )));
        }
        Ok(Symbols {
            path: path.into(),
            names: Names::Kallsyms(text),
            syms,
            by_addr: OnceLock::new(),
            kaslr_offset: 0,
            build_id: None,
        })
    }

    /// True when the table holds runtime addresses (kallsyms), false for link addresses (vmlinux).
    pub fn is_runtime(&self) -> bool {
        matches!(self.names, Names::Kallsyms(_))
    }

    fn name(&self, s: &Sym) -> &[u8] {
        let start = s.name_off as usize;
        self.names
            .bytes()
            .get(start..start + s.name_len as usize)
            .unwrap_or_default()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The table's own address of `name`: link-time (vmlinux) or runtime (kallsyms).
    fn table_address(&self, name: &str) -> Option<u64> {
        // A linear scan: callers ask for a handful of names, building a map of
        // every symbol would cost more.
        let want = name.as_bytes();
        self.syms
            .iter()
            .find(|s| s.name_len as usize == want.len() && self.name(s) == want)
            .map(|s| s.addr)
    }

    /// Link-time address of `name`.
    pub fn link_address(&self, name: &str) -> Option<u64> {
        let a = self.table_address(name)?;
        Some(if self.is_runtime() && a >= START_KERNEL_MAP {
            a.wrapping_sub(self.kaslr_offset)
        } else {
            a
        })
    }

    /// Runtime address of `name` (per-CPU offsets are returned unchanged).
    pub fn address(&self, name: &str) -> Option<u64> {
        let a = self.table_address(name)?;
        Some(if self.is_runtime() {
            a
        } else {
            self.relocate(a)
        })
    }

    pub fn require(&self, name: &str) -> Result<u64, KernelError> {
        self.address(name)
            .ok_or_else(|| KernelError::MissingSymbol {
                file: self.path.clone(),
                name: name.into(),
            })
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
        // `link` is in the table's own terms (runtime addresses for kallsyms).
        let link = if self.is_runtime() {
            runtime
        } else {
            runtime.wrapping_sub(self.kaslr_offset)
        };
        if link < START_KERNEL_MAP {
            return None;
        }
        let by_addr = self.by_addr.get_or_init(|| {
            let mut v: Vec<u32> = (0..self.syms.len() as u32)
                .filter(|&i| self.syms[i as usize].addr >= START_KERNEL_MAP)
                .collect();
            v.sort_by(|&a, &b| {
                let (x, y) = (&self.syms[a as usize], &self.syms[b as usize]);
                x.addr.cmp(&y.addr).then(y.size.cmp(&x.size))
            });
            v
        });
        let i =
            by_addr.partition_point(|&j| self.syms.get(j as usize).is_some_and(|s| s.addr <= link));
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
        Some(if off == 0 {
            name.clone()
        } else {
            format!("{name}+{off:#x}")
        })
    }

    /// Bytes of initialised data at link address `link` in the vmlinux file itself.
    pub fn file_bytes(&self, link: u64, len: u64) -> Option<Vec<u8>> {
        let Names::Vmlinux(map) = &self.names else {
            return None;
        };
        let obj = object::File::parse(&**map).ok()?;
        obj.segments()
            .find_map(|s| s.data_range(link, len).ok().flatten())
            .map(<[u8]>::to_vec)
    }

    /// `linux_banner` as stored in the vmlinux ("Linux version RELEASE (...) ...").
    pub fn file_banner(&self) -> Option<String> {
        let bytes = self.file_bytes(self.link_address("linux_banner")?, 512)?;
        Some(crate::memory::c_string(&bytes).trim_end().to_string())
    }
}

/// Kernel (non-module) text and data symbols of a /proc/kallsyms text. Names are
/// offsets into `text`; malformed lines are skipped.
fn parse_kallsyms(text: &[u8]) -> Vec<Sym> {
    let mut syms = Vec::new();
    let mut line_start = 0usize;
    for line in text.split(|&b| b == b'\n') {
        let start = line_start;
        line_start += line.len() + 1;
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(addr), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if fields.next().is_some() || kind.len() != 1 {
            continue; // "[module]": module symbols are not part of the image
        }
        let Some(addr) = std::str::from_utf8(addr)
            .ok()
            .and_then(|a| u64::from_str_radix(a, 16).ok())
        else {
            continue;
        };
        let name_off = (name.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize) + start;
        syms.push(Sym {
            addr,
            size: 0,
            name_off: name_off as u64,
            name_len: name.len() as u32,
        });
    }
    syms
}

/// The release word of a `linux_banner` ("Linux version 6.1.0-47-cloud-amd64 (...)").
pub fn banner_release(banner: &str) -> Option<&str> {
    banner
        .strip_prefix("Linux version ")?
        .split_whitespace()
        .next()
}

#[cfg(test)]
mod tests {
    // kptr_restrict=2 (or 1 without CAP_SYSLOG): every address reads as 0.
    #[test]
    fn hidden_kallsyms_addresses_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kallsyms");
        std::fs::write(
            &p,
            "0000000000000000 T _text\n0000000000000000 D init_task\n",
        )
        .unwrap();
        let e = super::Symbols::open_kallsyms(p.to_str().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("every address reads as 0") && e.contains("kptr_restrict"),
            "{e}"
        );
    }

    #[test]
    fn kallsyms_lines() {
        let text = b"ffffffff9a000000 T _text\n0000000000032280 A runqueues\nffffffffc0100000 t mod_fn\t[qemu_fw_cfg]\nbad\nffffffff9b200040 D linux_banner\n";
        let syms = super::parse_kallsyms(text);
        let names: Vec<(&[u8], u64)> = syms
            .iter()
            .map(|s| (&text[s.name_off as usize..][..s.name_len as usize], s.addr))
            .collect();
        assert_eq!(
            names,
            vec![
                (&b"_text"[..], 0xffffffff9a000000),
                (&b"runqueues"[..], 0x32280),
                (&b"linux_banner"[..], 0xffffffff9b200040)
            ]
        );
    }

    #[test]
    fn banner_release_word() {
        let b = "Linux version 5.10.0-43-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1)";
        assert_eq!(super::banner_release(b), Some("5.10.0-43-cloud-amd64"));
        assert_eq!(super::banner_release("garbage"), None);
    }
}
