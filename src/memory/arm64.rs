//! arm64 address translation: the linear map (`PAGE_OFFSET` + `PHYS_OFFSET`), and
//! VMSAv8-64 page-table walks (arch/arm64/include/asm/pgtable-hwdef.h) from
//! `swapper_pg_dir` for the kernel image, vmalloc, modules and vmemmap, and from
//! `mm->pgd` for user space. 4, 16 and 64 KiB granules; 39 to 52 virtual address bits.

use super::space::Translation;
use super::{MemError, PhysMemory};

/// Descriptor bit 0: valid.
const PTE_VALID: u64 = 1 << 0;
/// Bit 1: a table (above the last level) or a page (at the last level); clear: a block.
const PTE_TABLE_OR_PAGE: u64 = 1 << 1;
/// Software bit of a PROT_NONE entry: valid is clear, the page is still mapped
/// (`pte_present()` checks both).
const PTE_PROT_NONE: u64 = 1 << 58;
/// Software bit of a huge entry made invalid while it is split (`pmd_mkinvalid()`).
const PMD_PRESENT_INVALID: u64 = 1 << 59;
/// Output address bits [47:12] of a descriptor.
const OA_MASK: u64 = 0x0000_ffff_ffff_f000;

/// What the translation needs to know about the dumped kernel, from VMCOREINFO.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// `NUMBER(VA_BITS)`: what the kernel was built for (decides `PAGE_OFFSET`).
    pub va_bits: u32,
    /// `64 - NUMBER(TCR_EL1_T1SZ)`: what the CPU runs (decides the walk).
    pub va_bits_actual: u32,
    /// log2 of `PAGESIZE`: 12, 14 or 16.
    pub page_shift: u32,
    /// `NUMBER(kimage_voffset)`: kernel image virtual minus physical.
    pub kimage_voffset: u64,
    /// `NUMBER(PHYS_OFFSET)`: physical address of the start of the linear map.
    pub phys_offset: u64,
    /// Physical address of `swapper_pg_dir`.
    pub kernel_pgd: u64,
}

impl Paging {
    /// `PAGE_OFFSET` (5.4+ layout): the linear map is the bottom half of the kernel range.
    pub fn page_offset(&self) -> u64 {
        0u64.wrapping_sub(1u64 << self.va_bits)
    }

    /// `PAGE_END`: the linear map ends where the 48-bit (`VA_BITS_MIN`) kernel range's
    /// upper half starts.
    fn page_end(&self) -> u64 {
        0u64.wrapping_sub(1u64 << (self.va_bits.min(48) - 1))
    }

    /// `__lm_to_phys()` for a linear-map address.
    pub fn linear_to_phys(&self, va: u64) -> Option<u64> {
        (va >= self.page_offset() && va < self.page_end())
            .then(|| (va - self.page_offset()).wrapping_add(self.phys_offset))
    }

    /// `__kimg_to_phys()`: the kernel image mapping, given the image's runtime extent.
    pub fn image_to_phys(&self, va: u64) -> u64 {
        va.wrapping_sub(self.kimage_voffset)
    }

    /// `TASK_SIZE_64`: user space spans the actual VA bits.
    pub fn task_size(&self) -> u64 {
        1u64 << self.va_bits_actual
    }

    /// Translation levels the CPU walks (`CONFIG_PGTABLE_LEVELS` for the running VA size).
    pub fn levels(&self) -> u32 {
        let per = self.page_shift - 3;
        (self.va_bits_actual - self.page_shift).div_ceil(per)
    }
}

/// Walk the page tables rooted at physical `pgd` for virtual address `va`: TTBR1's
/// (kernel) or TTBR0's (user) half, chosen by the caller through `pgd`.
pub fn walk(
    phys: &dyn PhysMemory,
    paging: &Paging,
    pgd: u64,
    va: u64,
) -> Result<Translation, MemError> {
    let bits = paging.va_bits_actual;
    let top = va >> bits;
    // Addresses outside both halves translate nowhere (top bits neither all 0 nor all 1).
    if !(top == 0 || top == u64::MAX >> bits) || !(12..=16).contains(&paging.page_shift) {
        return Err(MemError::NotMapped { addr: va });
    }
    let ps = paging.page_shift;
    let per = ps - 3;
    let levels = paging.levels();
    let granule = 1u64 << ps;
    // Bits 15:12 of a 64 KiB descriptor hold output address bits 51:48 (LPA).
    let oa = |e: u64, size: u64| {
        let mut a = e & OA_MASK & !(size - 1);
        if ps == 16 {
            a |= ((e >> 12) & 0xf) << 48;
        }
        a
    };
    let mut table = oa(pgd, granule);
    for depth in 0..levels {
        let shift = ps + per * (levels - 1 - depth);
        let idx_bits = if depth == 0 { bits - shift } else { per };
        let idx = (va >> shift) & ((1u64 << idx_bits) - 1);
        let entry = phys
            .read_phys_u64(table + idx * 8)
            .map_err(|e| e.at_virtual(va))?;
        let last = depth + 1 == levels;
        let size = 1u64 << shift;
        let valid = entry & PTE_VALID != 0;
        if last {
            if !valid && entry & PTE_PROT_NONE == 0 {
                return Err(MemError::NotMapped { addr: va });
            }
            return Ok(Translation {
                paddr: oa(entry, granule) | (va & (granule - 1)),
                page_size: granule,
            });
        }
        if valid && entry & PTE_TABLE_OR_PAGE != 0 {
            table = oa(entry, granule);
            continue;
        }
        // A block (huge page), valid or made PROT_NONE / invalid for a split; never at level 0.
        let block = if valid {
            entry & PTE_TABLE_OR_PAGE == 0
        } else {
            entry & (PTE_PROT_NONE | PMD_PRESENT_INVALID) != 0
        };
        if !block || depth == 0 {
            return Err(MemError::NotMapped { addr: va });
        }
        return Ok(Translation {
            paddr: oa(entry, size) | (va & (size - 1)),
            page_size: size,
        });
    }
    Err(MemError::NotMapped { addr: va })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Words(HashMap<u64, u64>);
    impl PhysMemory for Words {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            let w = self
                .0
                .get(&(paddr & !7))
                .ok_or(MemError::PhysNotInDump { paddr })?;
            buf.copy_from_slice(&w.to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    fn paging(va_bits: u32, page_shift: u32) -> Paging {
        Paging {
            va_bits,
            va_bits_actual: va_bits,
            page_shift,
            kimage_voffset: 0xffff_d1bd_1980_0000,
            phys_offset: 0x4000_0000,
            kernel_pgd: 0x1000,
        }
    }

    // Expected values follow the VMSAv8-64 descriptor formats of the Arm ARM (D8.3),
    // independent of the walker: table 0b11, block 0b01, page 0b11, AF bit 10.
    #[test]
    fn four_k_48_bit_page_and_blocks() {
        let va: u64 = 0xffff_a2be_d123;
        let idx = |s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        m.insert(0x1000 + idx(39) * 8, 0x2000 | 3);
        m.insert(0x2000 + idx(30) * 8, 0x3000 | 3);
        m.insert(0x3000 + idx(21) * 8, 0x4000 | 3);
        // page: AF, user, read-only, PXN and UXN set; none of them stop a read.
        m.insert(
            0x4000 + idx(12) * 8,
            0x4567_8000 | 3 | 1 << 10 | 1 << 6 | 1 << 7 | 3 << 53,
        );
        let p = paging(48, 12);
        assert_eq!(p.levels(), 4);
        let t = walk(&Words(m.clone()), &p, 0x1000, va).unwrap();
        assert_eq!((t.paddr, t.page_size), (0x4567_8123, 4096));
        // 2 MiB block at level 2.
        m.insert(0x3000 + idx(21) * 8, 0x8020_0000 | 1 | 1 << 10);
        let t = walk(&Words(m.clone()), &p, 0x1000, va).unwrap();
        assert_eq!(
            (t.paddr, t.page_size),
            (0x8020_0000 | (va & 0x1f_ffff), 2 << 20)
        );
        // 1 GiB block at level 1.
        m.insert(0x2000 + idx(30) * 8, 0x1_4000_0000 | 1 | 1 << 10);
        let t = walk(&Words(m.clone()), &p, 0x1000, va).unwrap();
        assert_eq!(
            (t.paddr, t.page_size),
            (0x1_4000_0000 | (va & 0x3fff_ffff), 1 << 30)
        );
        // A block descriptor at level 0 is not one.
        m.insert(0x1000 + idx(39) * 8, 0x40_0000_0000 | 1);
        assert!(walk(&Words(m), &p, 0x1000, va).is_err());
    }

    #[test]
    fn prot_none_invalid_and_non_canonical() {
        let va: u64 = 0x1000_0000_0000 >> 4; // 0x100_0000_0000
        let idx = |s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        m.insert(0x1000 + idx(39) * 8, 0x2000 | 3);
        m.insert(0x2000 + idx(30) * 8, 0x3000 | 3);
        m.insert(0x3000 + idx(21) * 8, 0x4000 | 3);
        m.insert(0x4000 + idx(12) * 8, 0x9000 | PTE_PROT_NONE | 1 << 10 | 2);
        let p = paging(48, 12);
        assert_eq!(
            walk(&Words(m.clone()), &p, 0x1000, va).unwrap().paddr,
            0x9000
        );
        m.insert(0x4000 + idx(12) * 8, 0x9000 | 1 << 10 | 2);
        assert!(matches!(
            walk(&Words(m), &p, 0x1000, va),
            Err(MemError::NotMapped { .. })
        ));
        let w = Words(HashMap::new());
        assert!(matches!(
            walk(&w, &p, 0x1000, 0x0001_0000_0000_0000),
            Err(MemError::NotMapped { .. })
        ));
    }

    #[test]
    fn sixty_four_k_three_levels_and_linear_map() {
        let p = paging(48, 16);
        assert_eq!(p.levels(), 3);
        let va: u64 = 0xffff_8000_1234_5678;
        let (i2, i1, i0) = ((va >> 42) & 63, (va >> 29) & 8191, (va >> 16) & 8191);
        let mut m = HashMap::new();
        m.insert(0x10000 + i2 * 8, 0x20000 | 3);
        m.insert(0x20000 + i1 * 8, 0x30000 | 3);
        m.insert(0x30000 + i0 * 8, 0x7_0000 | 1 << 12 | 3); // OA bits 51:48 = 1
        let t = walk(&Words(m), &p, 0x10000, va).unwrap();
        assert_eq!((t.paddr, t.page_size), (1 << 48 | 0x7_0000 | 0x5678, 65536));
        let p = paging(48, 12);
        assert_eq!(p.page_offset(), 0xffff_0000_0000_0000);
        assert_eq!(p.linear_to_phys(0xffff_0000_0123_4000), Some(0x4123_4000));
        assert_eq!(p.linear_to_phys(0xffff_8000_0000_0000), None);
        assert_eq!(p.task_size(), 1 << 48);
        assert_eq!(paging(39, 12).levels(), 3);
        assert_eq!(paging(47, 14).levels(), 3);
    }
}
