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
    /// Start of the vmalloc area (`vmalloc_base`). With CONFIG_RANDOMIZE_MEMORY it
    /// can lie within the direct map's maximum size, so it bounds the direct map.
    pub vmalloc_base: Option<u64>,
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
        let below_vmalloc = self.vmalloc_base.is_none_or(|v| va < v || v < pob);
        (va >= pob && va - pob < self.direct_map_size() && below_vmalloc).then(|| va - pob)
    }

    /// Canonical address check: bits above the top level must copy bit 47 (or 56).
    fn canonical(&self, va: u64) -> bool {
        let bits = if self.l5 { 57 } else { 48 };
        let top = (va as i64) >> (bits - 1);
        top == 0 || top == -1
    }
}

/// A page-table level, by the kernel's names (`pgd` is the top with 4 or 5 levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pgd,
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Pgd => "pgd",
            Level::P4d => "p4d",
            Level::Pud => "pud",
            Level::Pmd => "pmd",
            Level::Pte => "pte",
        }
    }
}

/// One level of a walk: the table read, the index into it and the entry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkStep {
    pub level: Level,
    /// Physical address of the table.
    pub table: u64,
    pub index: u64,
    pub entry: u64,
}

/// Why a walk did not reach a frame.
#[derive(Debug, Clone)]
pub enum WalkStop {
    /// Outside the 48- (or 57-) bit canonical address space.
    NotCanonical,
    /// The entry at this level is empty or not present.
    NotPresent { level: Level },
    /// A non-present leaf holding a swap entry (`pte_to_swp_entry()`).
    Swapped { swap_type: u64, offset: u64 },
    /// The table itself could not be read.
    Unreadable { level: Level, error: MemError },
}

/// Every step of a walk and where it ended.
#[derive(Debug, Clone)]
pub struct PageWalk {
    pub va: u64,
    pub steps: Vec<WalkStep>,
    pub result: Result<Translation, WalkStop>,
}

/// Bits of an entry, by the names of arch/x86/include/asm/pgtable_types.h.
const FLAG_NAMES: &[(u32, &str)] = &[
    (0, "present"),
    (1, "rw"),
    (2, "user"),
    (3, "pwt"),
    (4, "pcd"),
    (5, "accessed"),
    (6, "dirty"),
    (7, "huge"),
    (8, "global"),
    (63, "nx"),
];

/// The flag names set in `entry`; `huge` is PSE above the last level, PAT at it,
/// and a non-present leaf with bit 8 is `protnone` rather than global.
pub fn entry_flags(entry: u64, level: Level) -> Vec<&'static str> {
    let present = entry & _PAGE_PRESENT != 0;
    FLAG_NAMES
        .iter()
        .filter(|(bit, _)| entry >> bit & 1 == 1)
        .map(|&(bit, name)| match (bit, name) {
            (7, _) if level == Level::Pte => "pat",
            (8, _) if !present => "protnone",
            _ => name,
        })
        .collect()
}

/// x86_64 swap entries in a PTE (pgtable_64.h, with the L1TF inversion): the type
/// in the top 5 bits, the offset inverted from bit 14 up.
const SWP_TYPE_BITS: u32 = 5;
const SWP_OFFSET_SHIFT: u32 = 9 + SWP_TYPE_BITS;

fn swap_entry(pte: u64) -> WalkStop {
    WalkStop::Swapped {
        swap_type: pte >> (64 - SWP_TYPE_BITS),
        offset: (!pte) << SWP_TYPE_BITS >> SWP_OFFSET_SHIFT,
    }
}

/// Walk the page tables rooted at physical `pgd` for virtual address `va`.
pub fn walk(
    phys: &dyn PhysMemory,
    paging: &Paging,
    pgd: u64,
    va: u64,
) -> Result<Translation, MemError> {
    let w = walk_trace(phys, paging, pgd, va);
    w.result.map_err(|stop| match stop {
        WalkStop::Unreadable { error, .. } => error.at_virtual(va),
        _ => MemError::NotMapped { addr: va },
    })
}

/// [`walk`] step by step: each level's table, index and entry, and where it ended.
pub fn walk_trace(phys: &dyn PhysMemory, paging: &Paging, pgd: u64, va: u64) -> PageWalk {
    let mut w = PageWalk {
        va,
        steps: Vec::new(),
        result: Err(WalkStop::NotCanonical),
    };
    if !paging.canonical(va) {
        return w;
    }
    let levels: &[(Level, u32)] = if paging.l5 {
        &[
            (Level::Pgd, 48),
            (Level::P4d, 39),
            (Level::Pud, 30),
            (Level::Pmd, 21),
            (Level::Pte, 12),
        ]
    } else {
        &[
            (Level::Pgd, 39),
            (Level::Pud, 30),
            (Level::Pmd, 21),
            (Level::Pte, 12),
        ]
    };
    let frame_mask = PTE_PFN_MASK & !paging.sme_mask;
    let mut table = pgd & frame_mask;
    for &(level, shift) in levels {
        let index = (va >> shift) & 0x1ff;
        let entry = match phys.read_phys_u64(table + index * 8) {
            Ok(e) => e,
            Err(error) => {
                w.result = Err(WalkStop::Unreadable { level, error });
                return w;
            }
        };
        w.steps.push(WalkStep {
            level,
            table,
            index,
            entry,
        });
        match step(entry, level, va, paging, frame_mask) {
            Next::Table(t) => table = t,
            Next::Done(r) => {
                w.result = r;
                return w;
            }
        }
    }
    w
}

enum Next {
    Table(u64),
    Done(Result<Translation, WalkStop>),
}

/// What one entry says: the next table, the frame, or why the walk stops.
fn step(entry: u64, level: Level, va: u64, paging: &Paging, frame_mask: u64) -> Next {
    // PSE in a PUD maps 1 GiB, in a PMD 2 MiB.
    let huge = entry & _PAGE_PSE != 0 && matches!(level, Level::Pud | Level::Pmd);
    let leaf = level == Level::Pte || huge;
    if entry & _PAGE_PRESENT == 0 && !(leaf && entry & _PAGE_PROTNONE != 0) {
        return Next::Done(Err(if level == Level::Pte && entry != 0 {
            swap_entry(entry)
        } else {
            WalkStop::NotPresent { level }
        }));
    }
    // L1TF mitigation (4.19, arch/x86/include/asm/pgtable-invert.h): a
    // non-present entry stores its frame number inverted.
    let entry = if entry & _PAGE_PRESENT == 0 {
        (!entry & PTE_PFN_MASK) | (entry & !PTE_PFN_MASK)
    } else {
        entry
    };
    let (mask, size) = match (huge, level) {
        (true, Level::Pud) => (PUD_HUGE_MASK, 1 << 30),
        (true, _) => (PMD_HUGE_MASK, 1 << 21),
        (false, Level::Pte) => (PTE_PFN_MASK, PAGE_SIZE),
        _ => return Next::Table(entry & frame_mask),
    };
    Next::Done(Ok(Translation {
        paddr: (entry & mask & !paging.sme_mask) | (va & (size - 1)),
        page_size: size,
    }))
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
            vmalloc_base: None,
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
        // A randomized vmalloc area 33 TiB above the direct map (the 5.10 fixture):
        // its addresses are not direct-map addresses.
        p.vmalloc_base = Some(0xffff_9b00_0000_0000 + (33 << 40));
        assert_eq!(p.direct_to_phys(0xffff_9b00_1234_5000), Some(0x1234_5000));
        assert_eq!(
            p.direct_to_phys(0xffff_9b00_0000_0000 + (33 << 40) + 0x5000),
            None
        );
    }

    // Entry formats from the Intel SDM (vol. 3, 4.5) and the kernel's swap layout
    // (arch/x86/include/asm/pgtable_64.h), independent of the walker.
    #[test]
    fn trace_names_each_level_and_the_stop() {
        let va: u64 = 0x7f12_3456_7abc;
        let idx = |s: u32| (va >> s) & 511;
        let mut m = HashMap::new();
        m.insert(0x1000 + idx(39) * 8, 0x2000 | 0x67);
        m.insert(0x2000 + idx(30) * 8, 0x3000 | 0x67);
        m.insert(0x3000 + idx(21) * 8, 0x4000 | 0x67);
        m.insert(0x4000 + idx(12) * 8, 0x8000_0000_0abc_d000 | 0x67);
        let w = walk_trace(&Words(m.clone()), &paging(false), 0x1000, va);
        let levels: Vec<_> = w.steps.iter().map(|s| s.level.name()).collect();
        assert_eq!(levels, ["pgd", "pud", "pmd", "pte"]);
        assert_eq!((w.steps[2].table, w.steps[2].index), (0x3000, idx(21)));
        assert_eq!(
            entry_flags(w.steps[3].entry, Level::Pte),
            ["present", "rw", "user", "accessed", "dirty", "nx"]
        );
        assert_eq!(w.result.unwrap().paddr, 0xabc_d000 | 0xabc);
        // Swap type 3, offset 0x1234, as __swp_entry() stores it (offset inverted).
        let swp = (3u64 << 59) | ((!0x1234u64 << 14) >> 5);
        m.insert(0x4000 + idx(12) * 8, swp);
        let w = walk_trace(&Words(m.clone()), &paging(false), 0x1000, va);
        assert!(
            matches!(
                w.result,
                Err(WalkStop::Swapped {
                    swap_type: 3,
                    offset: 0x1234
                })
            ),
            "{:?}",
            w.result
        );
        m.insert(0x3000 + idx(21) * 8, 0);
        let w = walk_trace(&Words(m), &paging(false), 0x1000, va);
        assert_eq!(w.steps.len(), 3);
        assert!(matches!(
            w.result,
            Err(WalkStop::NotPresent { level: Level::Pmd })
        ));
    }
}
