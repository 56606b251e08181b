//! ELF core files: QEMU's `dump-guest-memory` ELF (PT_LOADs keyed by physical
//! address, `p_vaddr` 0) and kdump's /proc/vmcore style (`p_vaddr` set too).
//! Both are read by `p_paddr`; the page tables do the virtual side.
//! The header and note parsing here is shared with /proc/kcore.

use super::arch::{elf_machine_name, Arch};
use super::bytes::{align_up, le_u16, le_u32, le_u64, range};
use super::{MemError, OpenError, PhysMemory};
use crate::input::open_regular;
use memmap2::Mmap;
use std::path::Path;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_CORE: u16 = 4;
/// e_phnum value meaning "the count is in section header 0's sh_info".
const PN_XNUM: u16 = 0xffff;
/// Bound on note segment sizes we are willing to load.
const MAX_NOTES: u64 = 64 << 20;
/// Bound on program headers (QEMU writes one per RAM block, kcore one per range).
const MAX_PHDRS: u64 = 1 << 20;

#[derive(Debug, Clone, Copy)]
pub struct ElfLoad {
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// One ELF note (`namesz/descsz/type` + name + desc).
#[derive(Debug, Clone)]
pub struct Note {
    pub name: String,
    pub ntype: u32,
    pub desc: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct ElfHeaders {
    /// The machine `e_machine` names (None: a default, empty header set).
    pub arch: Option<Arch>,
    pub loads: Vec<ElfLoad>,
    pub notes: Vec<Note>,
}

/// Fills a buffer from a file offset (mmap copy or pread).
pub type ReadAt<'a> = dyn FnMut(u64, &mut [u8]) -> Result<(), OpenError> + 'a;

/// Parse the ELF header, program headers and notes of a core file of `file_len` bytes.
/// `read_at` fills a buffer from a file offset (mmap or pread). Every table and note area
/// is checked to lie inside the file before anything is allocated for it.
pub fn parse_core_headers(
    file: &str,
    file_len: u64,
    read_at: &mut ReadAt<'_>,
) -> Result<ElfHeaders, OpenError> {
    let mut eh = [0u8; 64];
    read_at(0, &mut eh)?;
    let bad = |offset: u64, what: &str| OpenError::Corrupt {
        file: file.to_string(),
        offset,
        what: what.to_string(),
    };
    if &eh[..4] != b"\x7fELF" {
        return Err(OpenError::NotADump {
            file: file.into(),
            what: "no ELF magic".into(),
        });
    }
    if eh[4] != 2 || eh[5] != 1 {
        return Err(OpenError::Unsupported {
            file: file.into(),
            what: "only 64-bit little-endian ELF cores are supported".into(),
        });
    }
    let e_type = le_u16(&eh, 16).unwrap_or(0);
    let e_machine = le_u16(&eh, 18).unwrap_or(0);
    if e_type != ET_CORE {
        return Err(OpenError::NotADump {
            file: file.into(),
            what: format!("ELF type {e_type} is not ET_CORE"),
        });
    }
    let Some(arch) = Arch::from_elf_machine(e_machine) else {
        return Err(OpenError::Unsupported {
            file: file.into(),
            what: format!(
                "{} dumps cannot be read (x86_64 and aarch64 can)",
                elf_machine_name(e_machine)
            ),
        });
    };
    let phoff = le_u64(&eh, 0x20).unwrap_or(0);
    let shoff = le_u64(&eh, 0x28).unwrap_or(0);
    let phentsize = u64::from(le_u16(&eh, 0x36).unwrap_or(0));
    let mut phnum = u64::from(le_u16(&eh, 0x38).unwrap_or(0));
    if phentsize < 56 {
        return Err(bad(0x36, &format!("program header size {phentsize} < 56")));
    }
    if phnum == u64::from(PN_XNUM) {
        // Section header 0 carries the real count in sh_info (offset 44).
        let mut sh = [0u8; 64];
        read_at(shoff, &mut sh)?;
        phnum = u64::from(le_u32(&sh, 44).unwrap_or(0));
    }
    if phnum == 0 || phnum > MAX_PHDRS {
        return Err(bad(
            0x38,
            &format!("implausible program header count {phnum}"),
        ));
    }
    // phnum <= 2^20 and phentsize < 2^16: the product cannot overflow.
    let table_len = phnum * phentsize;
    if phoff
        .checked_add(table_len)
        .is_none_or(|end| end > file_len)
    {
        return Err(bad(
            0x20,
            &format!(
                "program header table of {phnum} x {phentsize} bytes at offset {phoff:#x} \
                 does not fit the file ({file_len:#x} bytes)"
            ),
        ));
    }

    let mut out = ElfHeaders {
        arch: Some(arch),
        ..ElfHeaders::default()
    };
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let mut ph = [0u8; 56];
        read_at(at, &mut ph)?;
        let p_type = le_u32(&ph, 0).ok_or_else(|| bad(at, "short program header"))?;
        let field = |k: usize| le_u64(&ph, k).ok_or_else(|| bad(at, "short program header"));
        let (offset, vaddr, paddr, filesz, memsz) =
            (field(8)?, field(16)?, field(24)?, field(32)?, field(40)?);
        match p_type {
            PT_LOAD => {
                // p_paddr may be -1 (kcore segments without one): checked by the users.
                if offset.checked_add(filesz).is_none() {
                    return Err(bad(at, "PT_LOAD file extent overflows"));
                }
                out.loads.push(ElfLoad {
                    offset,
                    vaddr,
                    paddr,
                    filesz,
                    memsz,
                });
            }
            PT_NOTE => {
                if filesz > MAX_NOTES {
                    return Err(bad(
                        at,
                        &format!("PT_NOTE of {filesz} bytes is implausibly large"),
                    ));
                }
                if offset.checked_add(filesz).is_none_or(|end| end > file_len) {
                    return Err(bad(
                        at,
                        &format!(
                            "file truncated: PT_NOTE of {filesz:#x} bytes at offset {offset:#x}, file has {file_len:#x}"
                        ),
                    ));
                }
                let mut buf = vec![0u8; filesz as usize];
                read_at(offset, &mut buf)?;
                out.notes.extend(parse_notes(file, offset, &buf)?);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Split an ELF note area into notes. `base` is the area's file offset (for errors).
pub fn parse_notes(file: &str, base: u64, buf: &[u8]) -> Result<Vec<Note>, OpenError> {
    let mut notes = Vec::new();
    let mut off = 0usize;
    while off + 12 <= buf.len() {
        let at = base + off as u64;
        let bad = |what: &str| OpenError::Corrupt {
            file: file.into(),
            offset: at,
            what: what.into(),
        };
        let namesz = le_u32(buf, off).unwrap_or(0) as usize;
        let descsz = le_u32(buf, off + 4).unwrap_or(0) as usize;
        let ntype = le_u32(buf, off + 8).unwrap_or(0);
        if namesz == 0 && descsz == 0 && ntype == 0 {
            break; // zero padding at the end of the area
        }
        let name_start = off + 12;
        let name_end = name_start
            .checked_add(namesz)
            .ok_or_else(|| bad("note name overflows"))?;
        let desc_start = align_up(name_end, 4).ok_or_else(|| bad("note overflows"))?;
        let desc_end = desc_start
            .checked_add(descsz)
            .ok_or_else(|| bad("note desc overflows"))?;
        let name = buf
            .get(name_start..name_end)
            .ok_or_else(|| bad("note name past the end of PT_NOTE"))?;
        let desc = buf
            .get(desc_start..desc_end)
            .ok_or_else(|| bad("note desc past the end of PT_NOTE"))?;
        notes.push(Note {
            name: super::c_string(name),
            ntype,
            desc: desc.to_vec(),
        });
        off = align_up(desc_end, 4).ok_or_else(|| bad("note overflows"))?;
    }
    Ok(notes)
}

/// A memory-mapped ELF vmcore, read by physical address.
pub struct ElfCore {
    path: String,
    map: Mmap,
    /// PT_LOADs sorted by `paddr`.
    loads: Vec<ElfLoad>,
    pub notes: Vec<Note>,
    /// The dumped machine, from `e_machine`.
    pub arch: Arch,
    /// True when the PT_LOADs carry kernel virtual addresses (kdump style); QEMU
    /// writes 0 or the physical address there.
    pub has_vaddr: bool,
}

impl ElfCore {
    pub fn open(path: &str) -> Result<ElfCore, OpenError> {
        let f = open_regular(Path::new(path)).map_err(|e| OpenError::Io {
            file: path.into(),
            source: e,
        })?;
        // SAFETY: read-only private mapping of a dump file that nobody is expected to
        // modify while we run; every access is bounds-checked against `map.len()`.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| OpenError::Io {
            file: path.into(),
            source: e,
        })?;
        Self::from_map(path, map)
    }

    pub fn from_map(path: &str, map: Mmap) -> Result<ElfCore, OpenError> {
        let len = map.len() as u64;
        let hdrs = {
            let m: &[u8] = &map;
            let mut read_at = |off: u64, buf: &mut [u8]| -> Result<(), OpenError> {
                let src = range(off, buf.len() as u64)
                    .and_then(|r| m.get(r))
                    .ok_or_else(|| OpenError::Corrupt {
                        file: path.into(),
                        offset: off,
                        what: format!(
                            "file truncated: need {} bytes here, file has {len}",
                            buf.len()
                        ),
                    })?;
                buf.copy_from_slice(src);
                Ok(())
            };
            parse_core_headers(path, len, &mut read_at)?
        };
        let arch = hdrs.arch.unwrap_or(Arch::X86_64);
        let mut loads = hdrs.loads;
        if loads.iter().any(|l| l.paddr.checked_add(l.memsz).is_none()) {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: 0,
                what: "PT_LOAD physical extent overflows".into(),
            });
        }
        loads.sort_by_key(|l| l.paddr);
        if let Some(l) = loads
            .iter()
            .find(|l| l.offset.saturating_add(l.filesz) > len)
        {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: l.offset,
                what: format!(
                    "file truncated: PT_LOAD for physical {:#x} needs {:#x} bytes up to offset {:#x}, file has {len:#x}",
                    l.paddr,
                    l.filesz,
                    l.offset.saturating_add(l.filesz)
                ),
            });
        }
        let has_vaddr = loads.iter().any(|l| l.vaddr >= 0xffff_8000_0000_0000);
        Ok(ElfCore {
            path: path.into(),
            map,
            loads,
            notes: hdrs.notes,
            arch,
            has_vaddr,
        })
    }

    pub fn loads(&self) -> &[ElfLoad] {
        &self.loads
    }

    fn find(&self, paddr: u64) -> Option<&ElfLoad> {
        let i = self.loads.partition_point(|l| l.paddr <= paddr);
        let l = self.loads.get(i.checked_sub(1)?)?;
        (paddr - l.paddr < l.memsz).then_some(l)
    }
}

impl PhysMemory for ElfCore {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let pa = paddr
                .checked_add(done as u64)
                .ok_or(MemError::PhysNotInDump { paddr })?;
            let l = self.find(pa).ok_or(MemError::PhysNotInDump { paddr: pa })?;
            let rel = pa - l.paddr;
            if rel >= l.filesz {
                // In memsz but not stored: filtered out of the dump.
                return Err(MemError::Excluded { paddr: pa });
            }
            let n = ((l.filesz - rel) as usize).min(buf.len() - done);
            let off = l.offset + rel;
            let src = range(off, n as u64)
                .and_then(|r| self.map.get(r))
                .ok_or_else(|| MemError::Corrupt {
                    file: self.path.clone(),
                    offset: off,
                    what: "segment data past the end of the file".into(),
                })?;
            buf[done..done + n].copy_from_slice(src);
            done += n;
        }
        Ok(())
    }
}
