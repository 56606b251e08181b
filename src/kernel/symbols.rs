//! Kernel symbols: the vmlinux ELF symbol table, relocated by the KASLR text
//! offset, or (live, without a vmlinux) the running kernel's /proc/kallsyms, whose
//! addresses are already the runtime ones.
//!
//! Per-CPU symbols (`runqueues`, ...) are offsets into the per-CPU area, not
//! addresses, and are never relocated (kallsyms prints them as offsets too).

use super::KernelError;
use crate::memory::arch::Arch;
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

/// Where a symbol table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A vmlinux's ELF symbol table (link addresses).
    Vmlinux,
    /// The running kernel's /proc/kallsyms.
    Live,
    /// Decoded from the dump's own kallsyms tables.
    DumpMemory,
    /// A copy of /proc/kallsyms or a System.map given with `--kallsyms`.
    File,
}

pub struct Symbols {
    path: String,
    names: Names,
    origin: Origin,
    /// Every named text/data symbol, in symbol-table order. Names stay in the
    /// mapped file: no per-symbol allocation (the table has ~130k entries).
    syms: Vec<Sym>,
    /// Indices into `syms` of image symbols sorted by address (reverse lookups), built on first use.
    by_addr: OnceLock<Vec<u32>>,
    /// Runtime - link address of the kernel image (`KERNELOFFSET`).
    pub kaslr_offset: u64,
    pub build_id: Option<String>,
    /// The architecture the addresses belong to (the vmlinux's own `e_machine`; a
    /// kallsyms table takes the dump's).
    arch: Arch,
}

/// Lowest link address of an arm64 kernel image: the image sits above the linear map,
/// from `_PAGE_END(VA_BITS_MIN)` up, on every VA size; absolute symbols are far below.
const ARM64_IMAGE_MIN: u64 = 0xffff_8000_0000_0000;

#[derive(Clone, Copy)]
struct Sym {
    addr: u64,
    size: u64,
    /// Name as an offset/length into the mapped file.
    name_off: u64,
    name_len: u32,
    /// 2 global, 1 weak, 0 local: among aliases, the global name is the one to show.
    binding: u8,
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
        let (syms, build_id, arch) = {
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
                    binding: if s.is_weak() {
                        1
                    } else if s.is_global() {
                        2
                    } else {
                        0
                    },
                });
            }
            let build_id = obj
                .build_id()
                .ok()
                .flatten()
                .map(|b| b.iter().map(|x| format!("{x:02x}")).collect());
            let arch = match obj.architecture() {
                object::Architecture::X86_64 => Arch::X86_64,
                object::Architecture::Aarch64 => Arch::Arm64,
                other => {
                    return Err(KernelError::Vmlinux {
                        file: path.into(),
                        what: format!("a vmlinux for {other:?}, which vmscope cannot read"),
                    })
                }
            };
            (syms, build_id, arch)
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
            origin: Origin::Vmlinux,
            syms,
            by_addr: OnceLock::new(),
            kaslr_offset: 0,
            build_id,
            arch,
        })
    }

    /// The running kernel's symbols from /proc/kallsyms (`ADDR TYPE NAME [MODULE]`);
    /// module symbols are skipped. All-zero addresses mean kptr_restrict hides them.
    pub fn open_kallsyms(path: &str) -> Result<Symbols, KernelError> {
        let text = std::fs::read(path).map_err(|e| KernelError::Vmlinux {
            file: path.into(),
            what: e.to_string(),
        })?;
        Symbols::from_kallsyms_text(path, text, Origin::Live)
    }

    /// Symbols from kallsyms-format text (`ADDR TYPE NAME` lines, a System.map too).
    pub fn from_kallsyms_text(
        path: &str,
        text: Vec<u8>,
        origin: Origin,
    ) -> Result<Symbols, KernelError> {
        let syms = parse_kallsyms(&text);
        Symbols::from_parts(path, text, syms, origin)
    }

    /// Symbols of a decoded kallsyms table (the dump's own), its names kept in the
    /// table's one buffer. A name that is not UTF-8 or holds a blank (never a kernel
    /// symbol's) is left out, as it would be from kallsyms text.
    pub fn from_decoded(
        path: &str,
        table: super::kallsyms::Decoded,
        origin: Origin,
    ) -> Result<Symbols, KernelError> {
        let syms = table
            .syms
            .iter()
            .filter_map(|&(addr, at, len)| {
                let kind = *table.text.get(at as usize)?;
                let name = table.text.get(at as usize + 1..(at + len) as usize)?;
                // Printable ASCII (every real name) needs no check; the rest is checked.
                let plain = table.plain
                    || std::str::from_utf8(name)
                        .is_ok_and(|n| !n.contains(|c: char| c.is_ascii_whitespace()));
                plain.then_some(Sym {
                    addr,
                    size: 0,
                    name_off: u64::from(at) + 1,
                    name_len: len - 1,
                    binding: if kind.is_ascii_uppercase() { 2 } else { 0 },
                })
            })
            .collect();
        Symbols::from_parts(path, table.text, syms, origin)
    }

    /// A kallsyms-style table (runtime addresses, names in `names`), refused when
    /// empty or when kptr_restrict zeroed every address.
    fn from_parts(
        path: &str,
        text: Vec<u8>,
        syms: Vec<Sym>,
        origin: Origin,
    ) -> Result<Symbols, KernelError> {
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
            origin,
            syms,
            by_addr: OnceLock::new(),
            kaslr_offset: 0,
            build_id: None,
            arch: Arch::X86_64,
        })
    }

    /// No symbols at all: only for reading the image before its symbols are known.
    pub(crate) fn empty(path: &str) -> Symbols {
        Symbols {
            path: path.into(),
            names: Names::Kallsyms(Vec::new()),
            origin: Origin::DumpMemory,
            syms: Vec::new(),
            by_addr: OnceLock::new(),
            kaslr_offset: 0,
            build_id: None,
            arch: Arch::X86_64,
        }
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// A table without an architecture of its own (kallsyms, a System.map) takes the dump's.
    pub(crate) fn set_arch(&mut self, arch: Arch) {
        self.arch = arch;
    }

    /// Link addresses at or above this are in the kernel image (and move with KASLR);
    /// below are absolute values and, on x86-64, zero-based per-CPU offsets.
    fn image_base(&self) -> u64 {
        match self.arch {
            Arch::X86_64 => START_KERNEL_MAP,
            Arch::Arm64 => ARM64_IMAGE_MIN,
        }
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Add `offset` to every image address (a System.map's link addresses made runtime ones).
    pub(crate) fn shift_image(&mut self, offset: u64) {
        let base = self.image_base();
        for s in &mut self.syms {
            if s.addr >= base {
                s.addr = s.addr.wrapping_add(offset);
            }
        }
    }

    /// The table's own (unrelocated) address of `name`.
    pub(crate) fn raw_address(&self, name: &str) -> Option<u64> {
        self.table_address(name)
    }

    /// [`Self::raw_address`] of each of `names` (first match each), in one pass over the table.
    pub(crate) fn raw_addresses(&self, names: &[&str]) -> Vec<Option<u64>> {
        let mut found = vec![None; names.len()];
        let mut left = names.len();
        // The wanted lengths as bits (all set for any length of 64 or more): most
        // symbols are passed over with one test.
        let lengths = names.iter().fold(0u64, |m, n| {
            m | 1u64.checked_shl(n.len() as u32).unwrap_or(u64::MAX)
        });
        for s in &self.syms {
            if left == 0 {
                break;
            }
            let len = s.name_len as usize;
            if lengths & 1u64.checked_shl(len as u32).unwrap_or(u64::MAX) == 0 {
                continue;
            }
            for (i, want) in names.iter().enumerate() {
                let same = want.len() == len && {
                    let name = self.name(s);
                    name.first() == want.as_bytes().first() && name == want.as_bytes()
                };
                if found[i].is_none() && same {
                    found[i] = Some(s.addr);
                    left -= 1;
                }
            }
        }
        found
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
        Some(if self.is_runtime() && a >= self.image_base() {
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
        if link >= self.image_base() {
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
        if link < self.image_base() {
            return None;
        }
        let by_addr = self.by_addr.get_or_init(|| {
            let mut v: Vec<u32> = (0..self.syms.len() as u32)
                .filter(|&i| self.syms[i as usize].addr >= self.image_base())
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

    /// The function or object covering runtime address `runtime`: (name, offset, size).
    /// A symbol whose extent holds the address wins over a nearer sizeless label
    /// (`entry_SYSCALL_64_after_hwframe` inside `entry_SYSCALL_64`); size is 0 when unknown.
    pub fn symbolize(&self, runtime: u64) -> Option<(String, u64, u64)> {
        let link = if self.is_runtime() {
            runtime
        } else {
            runtime.wrapping_sub(self.kaslr_offset)
        };
        if link < self.image_base() {
            return None;
        }
        let by_addr = self.by_addr.get_or_init(|| self.sorted_by_addr());
        let end =
            by_addr.partition_point(|&j| self.syms.get(j as usize).is_some_and(|s| s.addr <= link));
        let nearest = self.syms.get(*by_addr.get(end.checked_sub(1)?)? as usize)?;
        // Look back a few symbols for one that spans the address.
        let window = &by_addr[end.saturating_sub(64)..end];
        let spanning = window
            .iter()
            .rposition(|&j| {
                self.syms
                    .get(j as usize)
                    .is_some_and(|s| s.size != 0 && link - s.addr < s.size)
            })
            .map(|p| {
                // Aliases (`__do_sys_pause`, `__x64_sys_pause`, `__ia32_sys_pause`): the
                // strongest binding, then the first in the table.
                let pick = &self.syms[window[p] as usize];
                let mut best = pick;
                for &j in window[..p].iter().rev() {
                    let s = &self.syms[j as usize];
                    if s.addr != pick.addr || s.size != pick.size {
                        break;
                    }
                    if s.binding >= best.binding {
                        best = s;
                    }
                }
                best
            });
        let sym = match spanning {
            Some(s) => s,
            // Sizeless (kallsyms): the first alias in the table, as the kernel's own
            // lookup answers.
            None if nearest.size == 0 && link - nearest.addr <= 1 << 20 => window
                .iter()
                .map(|&j| &self.syms[j as usize])
                .find(|s| s.addr == nearest.addr && s.size == 0)
                .unwrap_or(nearest),
            None => return None,
        };
        let name = String::from_utf8_lossy(self.name(sym)).into_owned();
        // Sizeless: up to the next symbol, as kallsyms measures a symbol.
        let size = match sym.size {
            0 => by_addr[end..]
                .iter()
                .take(64)
                .map(|&j| self.syms[j as usize].addr)
                .find(|&a| a > sym.addr)
                .map_or(0, |a| a - sym.addr),
            n => n,
        };
        Some((name, link - sym.addr, size))
    }

    fn sorted_by_addr(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.syms.len() as u32)
            .filter(|&i| self.syms[i as usize].addr >= self.image_base())
            .collect();
        v.sort_by(|&a, &b| {
            let (x, y) = (&self.syms[a as usize], &self.syms[b as usize]);
            x.addr.cmp(&y.addr).then(y.size.cmp(&x.size))
        });
        v
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
            // kallsyms: an upper-case type letter is a global symbol.
            binding: if kind[0].is_ascii_uppercase() { 2 } else { 0 },
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
