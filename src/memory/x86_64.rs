//! x86_64 address translation: kernel image (`__START_KERNEL_map` + `phys_base`),
//! direct map (`page_offset_base`), and 4- or 5-level page-table walks
//! (arch/x86/include/asm/pgtable_types.h) for everything else and for user space.

use super::space::Translation;
use super::{MemError, PhysMemory};

/// Link address of the kernel image mapping (`__START_KERNEL_map`).
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// `KERNEL_IMAGE_SIZE` without KASLR; KASLR kernels publish 1 GiB in VMCOREINFO.
pub const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 512 << 20;
const PAGE_SIZE: u64 = 4096;
const _PAGE_PRESENT: u64 = 1 << 0;
const _PAGE_PSE: u64 = 1 << 7;
/// `_PAGE_PROTNONE` (= `_PAGE_GLOBAL`, bit 8): a PROT_NONE user page is still
/// mapped, with the present bit cleared (`pte_present()` checks both).
const _PAGE_PROTNONE: u64 = 1 << 8;
/// `PTE_PFN_MASK` for 52-bit physical addresses.
const PTE_PFN_MASK: u64 = 0x000f_ffff_ffff_f000;
const PUD_HUGE_MASK: u64 = 0x000f_ffff_c000_0000;
const PMD_HUGE_MASK: u64 = 0x000f_ffff_ffe0_0000;

/// What the translation needs to know about the dumped kernel.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Physical load offset of the image relative to its link address.
    pub phys_base: u64,
    /// Runtime start of the direct map; None until read from the kernel.
    pub page_offset_base: Option<u64>,
    /// 5-level paging (LA57).
    pub l5: bool,
    /// Physical address of the kernel's top-level table (`init_top_pgt`).
    pub kernel_pgd: u64,
    /// AMD SME encryption bit to clear from entries (`NUMBER(sme_mask)`).
    pub sme_mask: u64,
    pub kernel_image_size: u64,
}

impl Paging {
    /// Size of the direct map region: 64 TiB with 4 levels, 32 PiB with 5.
    fn direct_map_size(&self) -> u64 {
        if self.l5 {
            1 << 55
        } else {
            1 << 46
        }
    }

    /// The image formula of `__phys_addr()` for the kernel text/data mapping.
    pub fn image_to_phys(&self, va: u64) -> Option<u64> {
        (va >= START_KERNEL_MAP && va - START_KERNEL_MAP < self.kernel_image_size)
            .then(|| (va - START_KERNEL_MAP).wrapping_add(self.phys_base))
    }

    pub fn direct_to_phys(&self, va: u64) -> Option<u64> {
        let pob = self.page_offset_base?;
        (va >= pob && va - pob < self.direct_map_size()).then(|| va - pob)
    }

    /// Canonical address check: bits above the top level must copy bit 47 (or 56).
    fn canonical(&self, va: u64) -> bool {
        let bits = if self.l5 { 57 } else { 48 };
        let top = (va as i64) >> (bits - 1);
        top == 0 || top == -1
    }
}

/// Walk the page tables rooted at physical `pgd` for virtual address `va`.
pub fn walk(
    phys: &dyn PhysMemory,
    paging: &Paging,
    pgd: u64,
    va: u64,
) -> Result<Translation, MemError> {
    if !paging.canonical(va) {
        return Err(MemError::NotMapped { addr: va });
    }
    let levels: &[u32] = if paging.l5 {
        &[48, 39, 30, 21, 12]
    } else {
        &[39, 30, 21, 12]
    };
    let frame_mask = PTE_PFN_MASK & !paging.sme_mask;
    let mut table = pgd & frame_mask;
    for (depth, &shift) in levels.iter().enumerate() {
        let idx = (va >> shift) & 0x1ff;
        let entry = phys
            .read_phys_u64(table + idx * 8)
            .map_err(|e| e.at_virtual(va))?;
        let remaining = levels.len() - depth;
        let leaf = remaining == 1 || (entry & _PAGE_PSE != 0 && (remaining == 2 || remaining == 3));
        if entry & _PAGE_PRESENT == 0 && !(leaf && entry & _PAGE_PROTNONE != 0) {
            return Err(MemError::NotMapped { addr: va });
        }
        // L1TF mitigation (4.19, arch/x86/include/asm/pgtable-invert.h): a
        // non-present entry stores its frame number inverted.
        let entry = if entry & _PAGE_PRESENT == 0 {
            (!entry & PTE_PFN_MASK) | (entry & !PTE_PFN_MASK)
        } else {
            entry
        };
        // PSE in a PUD maps 1 GiB, in a PMD 2 MiB (remaining levels 3 and 2).
        if entry & _PAGE_PSE != 0 && remaining == 3 {
            let pa = (entry & PUD_HUGE_MASK & !paging.sme_mask) | (va & 0x3fff_ffff);
            return Ok(Translation {
                paddr: pa,
                page_size: 1 << 30,
            });
        }
        if entry & _PAGE_PSE != 0 && remaining == 2 {
            let pa = (entry & PMD_HUGE_MASK & !paging.sme_mask) | (va & 0x1f_ffff);
            return Ok(Translation {
                paddr: pa,
                page_size: 1 << 21,
            });
        }
        if remaining == 1 {
            return Ok(Translation {
                paddr: (entry & frame_mask) | (va & 0xfff),
                page_size: PAGE_SIZE,
            });
        }
        table = entry & frame_mask;
    }
    Err(MemError::NotMapped { addr: va })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse physical memory made of 8-byte words, for hand-built page tables.
    struct Words(HashMap<u64, u64>);
    impl PhysMemory for Words {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            let w = self
                .0
                .get(&(paddr & !7))
                .ok_or(MemError::PhysNotInDump { paddr })?;
            let b = w.to_le_bytes();
            let o = (paddr & 7) as usize;
            buf.copy_from_slice(
                b.get(o..o + buf.len())
                    .ok_or(MemError::PhysNotInDump { paddr })?,
            );
            Ok(())
        }
    }

    fn paging(l5: bool) -> Paging {
        Paging {
            phys_base: 0,
            page_offset_base: None,
            l5,
            kernel_pgd: 0x1000,
            sme_mask: 0,
            kernel_image_size: 1 << 30,
        }
    }

    // The expected values follow the x86_64 entry format of the Intel SDM
    // (vol. 3, 4.5), independent of the walker.
    #[test]
    fn four_level_4k_2m_1g() {
        let va: u64 = 0x7f12_3456_7abc;
        let (i4, i3, i2, i1) = (
            (va >> 39) & 511,
            (va >> 30) & 511,
            (va >> 21) & 511,
            (va >> 12) & 511,
        );
        let mut m = HashMap::new();
        m.insert(0x1000 + i4 * 8, 0x2000 | 0x67);
        m.insert(0x2000 + i3 * 8, 0x3000 | 0x67);
        m.insert(0x3000 + i2 * 8, 0x4000 | 0x67);
        m.insert(0x4000 + i1 * 8, 0x8000_0000_0abc_d000 | 0x67); // NX bit set
        let w = Words(m);
        let t = walk(&w, &paging(false), 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0xabc_d000 | (va & 0xfff));
        assert_eq!(t.page_size, 4096);

        let mut m = w.0.clone();
        m.insert(0x3000 + i2 * 8, 0x4060_0000 | 0x80 | 0x63);
        let t = walk(&Words(m.clone()), &paging(false), 0x1000, va).unwrap();
        assert_eq!(t.paddr, 0x4060_0000 | (va & 0x1f_ffff));
        m.insert(0x2000 + i3 * 8, 0x1_c000_0000 | 0x80 | 0x63);
        let t = walk(&Words(m), &paging(false), 0x1000, va).unwrap();
        assert_eq!(
            (t.paddr, t.page_size),
            (0x1_c000_0000 | (va & 0x3fff_ffff), 1 << 30)
        );
    }

    #[test]
    fn five_level_and_faults() {
        let va: u64 = 0x00ab_cdef_1234_5678; // needs LA57
        let idx = |s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        m.insert(0x1000 + idx(48) * 8, 0x2000 | 1);
        m.insert(0x2000 + idx(39) * 8, 0x3000 | 1);
        m.insert(0x3000 + idx(30) * 8, 0x4000 | 1);
        m.insert(0x4000 + idx(21) * 8, 0x5000 | 1);
        m.insert(0x5000 + idx(12) * 8, 0x9000 | 1);
        let w = Words(m);
        assert_eq!(
            walk(&w, &paging(true), 0x1000, va).unwrap().paddr,
            0x9000 | 0x678
        );
        // Not canonical with 4 levels.
        assert!(matches!(
            walk(&w, &paging(false), 0x1000, va),
            Err(MemError::NotMapped { .. })
        ));
        // Not present.
        assert!(matches!(
            walk(&w, &paging(true), 0x1000, va + 0x1000),
            Err(MemError::NotInDump { .. }) | Err(MemError::NotMapped { .. })
        ));
        // PROT_NONE leaf: present bit clear, _PAGE_PROTNONE set, still mapped.
        let mut m = w.0.clone();
        // (its frame is stored inverted, see pgtable-invert.h)
        m.insert(0x5000 + idx(12) * 8, (!0x9000u64 & PTE_PFN_MASK) | 0x100);
        assert_eq!(
            walk(&Words(m.clone()), &paging(true), 0x1000, va)
                .unwrap()
                .paddr,
            0x9000 | 0x678
        );
        // ... but not as a table pointer.
        m.insert(0x4000 + idx(21) * 8, 0x5000 | 0x100);
        assert!(walk(&Words(m), &paging(true), 0x1000, va).is_err());
    }

    #[test]
    fn image_and_direct_map_formulas() {
        let mut p = paging(false);
        p.phys_base = 0xc000_0000;
        p.page_offset_base = Some(0xffff_9b00_0000_0000);
        assert_eq!(
            p.image_to_phys(0xffff_ffff_8100_0000),
            Some(0x1000000 + 0xc000_0000)
        );
        assert_eq!(p.direct_to_phys(0xffff_9b00_1234_5000), Some(0x1234_5000));
        assert_eq!(p.image_to_phys(0xffff_ffff_c000_0000), None);
    }
}
