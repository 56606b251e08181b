//! /proc/kcore: the running kernel as an ELF core whose PT_LOADs are keyed by
//! kernel virtual address (text, direct map, vmalloc, vmemmap). Live memory:
//! every read is a fresh `pread`, nothing is cached.

use super::arch::Arch;
use super::elf::{parse_core_headers, ElfLoad, Note};
use super::{MemError, Memory, OpenError, PhysMemory};
use crate::input::open_regular;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Start of the kernel image mapping (`__START_KERNEL_map`).
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Start of the module area with a 1 GiB KASLR image (`MODULES_VADDR`).
const MODULES_VADDR_KASLR: u64 = 0xffff_ffff_c000_0000;

pub struct Kcore {
    path: String,
    file: File,
    /// PT_LOADs sorted by `vaddr`.
    loads: Vec<ElfLoad>,
    /// PT_LOADs with a physical address (RAM and text, 4.11+), sorted by `paddr`.
    phys: Vec<ElfLoad>,
    pub notes: Vec<Note>,
    /// The running machine, from `e_machine`.
    pub arch: Arch,
}

impl Kcore {
    pub fn open(path: &str) -> Result<Kcore, OpenError> {
        let file = open_regular(Path::new(path)).map_err(|e| OpenError::Io {
            file: path.into(),
            source: e,
        })?;
        // /proc/kcore's size is that of the address space it covers (0, should a procfs
        // core not report one: then reads alone bound the headers).
        let len = file
            .metadata()
            .map(|m| m.len())
            .ok()
            .filter(|&l| l > 0)
            .unwrap_or(u64::MAX);
        let mut read_at = |off: u64, buf: &mut [u8]| -> Result<(), OpenError> {
            file.read_exact_at(buf, off).map_err(|e| OpenError::Io {
                file: path.into(),
                source: e,
            })
        };
        let hdrs = parse_core_headers(path, len, &mut read_at)?;
        let mut loads = hdrs.loads;
        loads.sort_by_key(|l| l.vaddr);
        // Segments are huge and sparse: the file size bounds nothing (reads are preads at
        // p_offset + delta; what the kernel does not back reads as zeros or fails with
        // EIO, reported as a fault at that address). Only a wrapping extent is refused.
        let fits = |l: &ElfLoad| {
            l.vaddr.checked_add(l.memsz).is_some() && l.offset.checked_add(l.filesz).is_some()
        };
        if let Some(l) = loads.iter().find(|l| !fits(l)) {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: l.offset,
                what: format!(
                    "PT_LOAD at virtual {:#x} of {:#x} bytes wraps the address space",
                    l.vaddr, l.memsz
                ),
            });
        }
        // p_paddr is 0 before 4.11 and -1 for segments without one. Only the direct
        // map (KCORE_RAM) is kept: the text segment overlaps it physically.
        let mut phys: Vec<ElfLoad> = loads
            .iter()
            .copied()
            .filter(|l| {
                l.paddr != 0
                    && l.paddr != u64::MAX
                    && l.vaddr < START_KERNEL_MAP
                    && l.paddr.checked_add(l.memsz).is_some()
            })
            .collect();
        phys.sort_by_key(|l| l.paddr);
        Ok(Kcore {
            path: path.into(),
            file,
            loads,
            phys,
            notes: hdrs.notes,
            arch: hdrs.arch.unwrap_or(Arch::X86_64),
        })
    }

    pub fn loads(&self) -> &[ElfLoad] {
        &self.loads
    }

    /// The KCORE_TEXT segment: the kernel image `_text.._end`.
    pub fn text_segment(&self) -> Option<&ElfLoad> {
        self.loads
            .iter()
            .find(|l| (START_KERNEL_MAP..MODULES_VADDR_KASLR).contains(&l.vaddr))
    }

    /// `page_offset_base` from any KCORE_RAM segment (`p_vaddr - p_paddr`, 4.11+).
    pub fn page_offset_base(&self) -> Option<u64> {
        self.phys
            .iter()
            .find(|l| l.vaddr < START_KERNEL_MAP)
            .map(|l| l.vaddr.wrapping_sub(l.paddr))
    }

    /// `phys_base` from the text segment (`p_paddr - (p_vaddr - __START_KERNEL_map)`).
    pub fn phys_base(&self) -> Option<u64> {
        let t = self.text_segment()?;
        (t.paddr != 0 && t.paddr != u64::MAX)
            .then(|| t.paddr.wrapping_sub(t.vaddr - START_KERNEL_MAP))
    }

    fn pread(&self, off: u64, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.file
            .read_exact_at(buf, off)
            .map_err(|e| MemError::LiveRead {
                file: self.path.clone(),
                offset: off,
                addr,
                source: Arc::new(e),
            })
    }

    fn read_from(
        &self,
        segs: &[ElfLoad],
        key: fn(&ElfLoad) -> u64,
        addr: u64,
        buf: &mut [u8],
        phys: bool,
    ) -> Result<(), MemError> {
        let fault = |a: u64| {
            if phys {
                MemError::PhysNotInDump { paddr: a }
            } else {
                MemError::NotMapped { addr: a }
            }
        };
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.checked_add(done as u64).ok_or_else(|| fault(addr))?;
            let i = segs.partition_point(|l| key(l) <= a);
            let l = i
                .checked_sub(1)
                .and_then(|j| segs.get(j))
                .filter(|l| a - key(l) < l.memsz)
                .ok_or_else(|| fault(a))?;
            let rel = a - key(l);
            let n = ((l.memsz - rel) as usize).min(buf.len() - done);
            let part = &mut buf[done..done + n];
            if rel >= l.filesz {
                part.fill(0);
            } else {
                let stored = ((l.filesz - rel) as usize).min(n);
                self.pread(l.offset + rel, a, &mut part[..stored])?;
                part[stored..].fill(0);
            }
            done += n;
        }
        Ok(())
    }
}

impl Memory for Kcore {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.read_from(&self.loads, |l| l.vaddr, addr, buf, false)
    }
}

impl PhysMemory for Kcore {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.read_from(&self.phys, |l| l.paddr, paddr, buf, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A kcore-shaped ELF core: `(vaddr, paddr, offset, size)` per PT_LOAD, then `data`.
    fn core_file(loads: &[(u64, u64, u64, u64)], data: &[u8]) -> tempfile::NamedTempFile {
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        b[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(loads.len() as u16).to_le_bytes());
        for &(vaddr, paddr, offset, size) in loads {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&1u32.to_le_bytes());
            for (at, v) in [
                (8, offset),
                (16, vaddr),
                (24, paddr),
                (32, size),
                (40, size),
            ] {
                ph[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            b.extend(ph);
        }
        b.extend(data);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&b).unwrap();
        f
    }

    // Like the real /proc/kcore: a vmalloc segment without a physical address
    // (p_paddr = -1) far larger than the file, next to a direct-map segment.
    #[test]
    fn sparse_segments_without_paddr_open_and_fault_by_address() {
        let hdr = 64 + 2 * 56;
        let data = b"direct map bytes";
        let vmalloc = 0xffff_c900_0000_0000u64;
        let f = core_file(
            &[
                (vmalloc, u64::MAX, 0x10_0000_0000, 32 << 40),
                (0xffff_8880_0000_1000, 0x1000, hdr, data.len() as u64),
            ],
            data,
        );
        let path = f.path().to_str().unwrap();
        let kc = Kcore::open(path).unwrap();
        let mut buf = [0u8; 16];
        kc.read(0xffff_8880_0000_1000, &mut buf).unwrap();
        assert_eq!(&buf, data);
        kc.read_phys(0x1000, &mut buf).unwrap();
        assert_eq!(&buf, data);
        assert_eq!(kc.page_offset_base(), Some(0xffff_8880_0000_0000));
        // Past what backs the segment: a fault naming the address, not a panic.
        match kc.read(vmalloc + 0x1234, &mut buf) {
            Err(MemError::LiveRead { addr, .. }) => assert_eq!(addr, vmalloc + 0x1234),
            other => panic!("expected a read fault, got {other:?}"),
        }
        assert!(matches!(
            kc.read(0xffff_f000_0000_0000, &mut buf),
            Err(MemError::NotMapped { .. })
        ));
    }

    #[test]
    fn wrapping_segment_is_refused() {
        let f = core_file(&[(u64::MAX - 0xfff, u64::MAX, 0, 0x2000)], &[]);
        assert!(matches!(
            Kcore::open(f.path().to_str().unwrap()),
            Err(OpenError::Corrupt { .. })
        ));
    }
}
