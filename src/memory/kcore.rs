//! /proc/kcore: the running kernel as an ELF core whose PT_LOADs are keyed by
//! kernel virtual address (text, direct map, vmalloc, vmemmap). Live memory:
//! every read is a fresh `pread`, nothing is cached.

use super::dump::OpenError;
use super::elf::{parse_core_headers, ElfLoad, Note};
use super::{MemError, Memory, PhysMemory};
use std::fs::File;
use std::os::unix::fs::FileExt;
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
}

impl Kcore {
    pub fn open(path: &str) -> Result<Kcore, OpenError> {
        let file = File::open(path).map_err(|e| OpenError::Io { file: path.into(), source: e })?;
        let mut read_at = |off: u64, buf: &mut [u8]| -> Result<(), OpenError> {
            file.read_exact_at(buf, off).map_err(|e| OpenError::Io { file: path.into(), source: e })
        };
        let hdrs = parse_core_headers(path, &mut read_at)?;
        let mut loads = hdrs.loads;
        loads.sort_by_key(|l| l.vaddr);
        // p_paddr is 0 before 4.11 and -1 for segments without one. Only the direct
        // map (KCORE_RAM) is kept: the text segment overlaps it physically.
        let mut phys: Vec<ElfLoad> = loads
            .iter()
            .copied()
            .filter(|l| l.paddr != 0 && l.paddr != u64::MAX && l.vaddr < START_KERNEL_MAP && l.paddr.checked_add(l.memsz).is_some())
            .collect();
        phys.sort_by_key(|l| l.paddr);
        Ok(Kcore { path: path.into(), file, loads, phys, notes: hdrs.notes })
    }

    pub fn loads(&self) -> &[ElfLoad] {
        &self.loads
    }

    /// The KCORE_TEXT segment: the kernel image `_text.._end`.
    pub fn text_segment(&self) -> Option<&ElfLoad> {
        self.loads.iter().find(|l| (START_KERNEL_MAP..MODULES_VADDR_KASLR).contains(&l.vaddr))
    }

    /// `page_offset_base` from any KCORE_RAM segment (`p_vaddr - p_paddr`, 4.11+).
    pub fn page_offset_base(&self) -> Option<u64> {
        self.phys.iter().find(|l| l.vaddr < START_KERNEL_MAP).map(|l| l.vaddr.wrapping_sub(l.paddr))
    }

    /// `phys_base` from the text segment (`p_paddr - (p_vaddr - __START_KERNEL_map)`).
    pub fn phys_base(&self) -> Option<u64> {
        let t = self.text_segment()?;
        (t.paddr != 0 && t.paddr != u64::MAX).then(|| t.paddr.wrapping_sub(t.vaddr - START_KERNEL_MAP))
    }

    fn pread(&self, off: u64, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.file.read_exact_at(buf, off).map_err(|e| MemError::LiveRead {
            file: self.path.clone(),
            offset: off,
            addr,
            source: Arc::new(e),
        })
    }

    fn read_from(&self, segs: &[ElfLoad], key: fn(&ElfLoad) -> u64, addr: u64, buf: &mut [u8], phys: bool) -> Result<(), MemError> {
        let fault = |a: u64| if phys { MemError::PhysNotInDump { paddr: a } } else { MemError::NotMapped { addr: a } };
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.checked_add(done as u64).ok_or_else(|| fault(addr))?;
            let i = segs.partition_point(|l| key(l) <= a);
            let l = i.checked_sub(1).and_then(|j| segs.get(j)).filter(|l| a - key(l) < l.memsz).ok_or_else(|| fault(a))?;
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
