//! Kernel objects on top of the memory layer: the vmlinux's symbols (relocated),
//! member offsets and the VMA layout resolved once from the type model, tasks and mm basics.
//!
//! [`Kernel::open`] turns an opened [`Dump`] plus a vmlinux into a kernel view:
//! KASLR offset, `phys_base`, `page_offset_base`, paging levels, and a check
//! that the vmlinux is the one that ran.

pub mod bitfield;
pub mod dpath;
pub mod expr;
pub mod in_dump;
pub mod kallsyms;
pub mod live;
pub mod mm;
pub mod module_syms;
pub mod modules;
pub mod offsets;
pub mod orc;
pub mod panic;
pub mod pids;
pub mod printk;
pub mod rd;
pub mod snapshot;
pub mod stack;
pub mod symbols;
pub mod target;
pub mod tasks;
pub mod value;
pub mod vma;
pub mod vma_check;
pub mod vma_layout;
pub mod vma_reader;
pub mod vtop;

use crate::memory::dump::{Format, OpenError};
use crate::memory::space::KernelSpace;
// What the CLI names of the layer below: it reaches memory only through here.
pub use crate::memory::arch::Arch;
pub use crate::memory::dump::{self, Dump};
pub use crate::memory::space::Paging;
pub use crate::memory::vmcoreinfo::VmcoreInfo;
use crate::memory::x86_64::{self, DEFAULT_KERNEL_IMAGE_SIZE, START_KERNEL_MAP};
use crate::memory::{MemError, Memory};
use offsets::{OffsetError, Offsets, TypeLookup};
use symbols::{banner_release, Symbols};
use thiserror::Error;
use vma_layout::VmaLayout;

#[derive(Debug, Error)]
pub enum KernelError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("{file}: {what}")]
    Vmlinux { file: String, what: String },
    #[error("{0}: no such file; pass --vmlinux FILE (the DWARF vmlinux of the dumped kernel)")]
    NoVmlinux(String),
    #[error("{dump}: no VMCOREINFO and no kernel text segment, KASLR offset unknown; {hint}")]
    LiveNoKaslr { dump: String, hint: String },
    #[error("{file}: no symbol '{name}'")]
    MissingSymbol { file: String, name: String },
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    #[error(
        "{dump}: has no VMCOREINFO note, so the KASLR offset and the kernel release are unknown"
    )]
    NoVmcoreinfo { dump: String },
    #[error("vmlinux does not match the dump: {0}")]
    Mismatch(Box<VmlinuxMismatch>),
    #[error("reading {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: MemError,
    },
    #[error("{what} at {addr:#x}: {why}")]
    Walk {
        what: String,
        addr: u64,
        why: String,
    },
    #[error(transparent)]
    Vma(#[from] vma::VmaError),
    #[error("no task with pid {0}")]
    NoSuchPid(i32),
    #[error("{0}")]
    Live(String),
    #[error("{dump}: VMCOREINFO has no SYMBOL({missing}) (kernels before 6.0 do not publish their kallsyms tables); pass --vmlinux FILE, or --kallsyms FILE (a copy of /proc/kallsyms or System.map)")]
    NoDumpSymbols { dump: String, missing: &'static str },
    #[error("{dump}: {source}")]
    Kallsyms {
        dump: String,
        #[source]
        source: kallsyms::KallsymsError,
    },
    #[error("{file}: {name} is at {have:#x} but the dump's VMCOREINFO says {want:#x}: symbols of another build")]
    ForeignSymbols {
        file: String,
        name: String,
        have: u64,
        want: u64,
    },
    #[error("{dump}: kernel BTF in memory [{start:#x}, {stop:#x}): {why}")]
    DumpBtf {
        dump: String,
        start: u64,
        stop: u64,
        why: String,
    },
    #[error("no type information loaded (internal: offsets needed)")]
    NoTypes,
    #[error("{dump}: VMCOREINFO has no {key}, needed to translate {arch} addresses")]
    NoVmcoreinfoKey {
        dump: String,
        key: &'static str,
        arch: &'static str,
    },
    #[error("{dump}: VMCOREINFO says PAGESIZE={size}: not a page size {arch} has")]
    PageSize {
        dump: String,
        size: u64,
        arch: &'static str,
    },
}

/// Which facts of the dump and the vmlinux disagree (boxed in [`KernelError`]: six strings).
#[derive(Debug)]
pub struct VmlinuxMismatch {
    pub vmlinux: String,
    pub dump_what: String,
    pub dump_value: String,
    pub vmlinux_what: String,
    pub vmlinux_value: String,
    /// "; build-ids: dump X, vmlinux Y" when both are known.
    pub build_ids: String,
}

impl std::fmt::Display for VmlinuxMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dump {} {:?}, vmlinux {} {:?} ({}){}",
            self.dump_what,
            self.dump_value,
            self.vmlinux_what,
            self.vmlinux_value,
            self.vmlinux,
            self.build_ids
        )
    }
}

/// Attach a description to a memory fault.
pub(crate) trait ReadContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, KernelError>;
}

impl<T> ReadContext<T> for Result<T, MemError> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, KernelError> {
        self.map_err(|source| KernelError::Read {
            what: what(),
            source,
        })
    }
}

/// A dumped or running kernel, ready for object walks.
pub struct Kernel {
    pub path: String,
    pub format: Format,
    pub mem: KernelSpace,
    pub syms: Symbols,
    off: Option<Offsets>,
    /// The VMA layout, probed with the offsets; kept as a result because only the
    /// VMA commands need it.
    vma: Option<Result<VmaLayout, OffsetError>>,
    pub vmcoreinfo: Option<VmcoreInfo>,
    pub release: String,
    pub nr_cpus_hint: Option<u32>,
    /// The dump's ELF notes (NT_PRSTATUS per CPU, VMCOREINFO, ...).
    pub notes: Vec<crate::memory::elf::Note>,
}

/// Default `page_offset_base` when the kernel lacks CONFIG_RANDOMIZE_MEMORY.
const PAGE_OFFSET_L4: u64 = 0xffff_8880_0000_0000;
const PAGE_OFFSET_L5: u64 = 0xff11_0000_0000_0000;
/// Link address of `_text` with x86_64's default CONFIG_PHYSICAL_START (16 MiB).
const DEFAULT_TEXT_LINK: u64 = START_KERNEL_MAP + 0x100_0000;

impl Kernel {
    /// Open the kernel view. `types` may be None for commands that need no struct
    /// offsets (`info`); walkers then fail with [`KernelError::NoTypes`].
    pub fn open(
        dump: Dump,
        vmlinux: &str,
        types: Option<&dyn TypeLookup>,
    ) -> Result<Kernel, KernelError> {
        Self::open_with(dump, Symbols::open(vmlinux)?, types)
    }

    /// As [`Kernel::open`] with symbols already opened: a vmlinux's, or (live only)
    /// the running kernel's /proc/kallsyms.
    pub fn open_with(
        dump: Dump,
        mut syms: Symbols,
        types: Option<&dyn TypeLookup>,
    ) -> Result<Kernel, KernelError> {
        let vmlinux = syms.path().to_string();
        let vmlinux = vmlinux.as_str();
        // kallsyms is the running kernel's own table: it has no file banner to compare,
        // its release is uname's, and the banner in memory is checked by prefix below.
        let file_banner = if syms.is_runtime() {
            None
        } else {
            Some(syms.file_banner().ok_or_else(|| KernelError::Vmlinux {
                file: vmlinux.into(),
                what: "no readable linux_banner: not a vmlinux?".into(),
            })?)
        };
        let info = dump.vmcoreinfo.clone();
        let vmlinux_release = match &file_banner {
            Some(b) => banner_release(b).unwrap_or_default().to_string(),
            None if syms.origin() == symbols::Origin::Live => {
                live::os_release().unwrap_or_default()
            }
            None => info
                .as_ref()
                .and_then(|i| i.osrelease())
                .unwrap_or_default()
                .to_string(),
        };
        // Reported with a mismatch only: some stable kernels published a wrong
        // BUILD-ID, so it does not decide on its own (the banner does).
        let build_ids = match (
            info.as_ref().and_then(|i| i.build_id()),
            syms.build_id.as_deref(),
        ) {
            (Some(d), Some(v)) => format!("; build-ids: dump {d}, vmlinux {v}"),
            _ => String::new(),
        };

        // 1. Releases must agree before anything is translated.
        if let Some(dump_release) = info.as_ref().and_then(|i| i.osrelease()) {
            if dump_release != vmlinux_release {
                return Err(KernelError::Mismatch(Box::new(VmlinuxMismatch {
                    vmlinux: vmlinux.into(),
                    dump_what: "OSRELEASE".into(),
                    dump_value: dump_release.into(),
                    vmlinux_what: "release".into(),
                    vmlinux_value: vmlinux_release,
                    build_ids,
                })));
            }
        }
        // A vmlinux names its own machine; a symbol table without one takes the dump's.
        if syms.origin() == symbols::Origin::Vmlinux && syms.arch() != dump.arch {
            return Err(KernelError::Mismatch(Box::new(VmlinuxMismatch {
                vmlinux: vmlinux.into(),
                dump_what: "architecture".into(),
                dump_value: dump.arch.name().into(),
                vmlinux_what: "architecture".into(),
                vmlinux_value: syms.arch().name().into(),
                build_ids,
            })));
        }
        syms.set_arch(dump.arch);
        if info.is_none() && dump.format != Format::Kcore {
            return Err(KernelError::NoVmcoreinfo {
                dump: dump.path.clone(),
            });
        }

        // 2. KASLR text offset.
        syms.kaslr_offset = kaslr_offset(&syms, info.as_ref(), &dump)?;

        // 3. Paging parameters.
        let mem = kernel_space(&syms, info.as_ref(), &dump)?;

        // 4. The banner in memory must be the vmlinux's own: catches another build of
        //    the same release and a wrong KASLR offset.
        let banner_addr = syms.require("linux_banner")?;
        let banner_len = file_banner.as_ref().map_or(256, String::len);
        let mem_banner = mem
            .read_vec(banner_addr, banner_len)
            .map(|b| crate::memory::c_string(&b))
            .ctx(|| format!("linux_banner at {banner_addr:#x}"))?;
        let matches = match &file_banner {
            Some(b) => mem_banner.trim_end() == b,
            None => mem_banner.starts_with(&format!("Linux version {vmlinux_release} ")),
        };
        if !matches {
            return Err(KernelError::Mismatch(Box::new(VmlinuxMismatch {
                vmlinux: vmlinux.into(),
                dump_what: "linux_banner".into(),
                dump_value: mem_banner.trim_end().into(),
                vmlinux_what: if file_banner.is_some() {
                    "linux_banner".into()
                } else {
                    "release".into()
                },
                vmlinux_value: file_banner.unwrap_or(vmlinux_release.clone()),
                build_ids,
            })));
        }

        let off = types.map(Offsets::resolve).transpose()?;
        let vma = types.map(VmaLayout::probe);
        let release = info
            .as_ref()
            .and_then(|i| i.osrelease())
            .map(str::to_string)
            .unwrap_or(vmlinux_release);
        Ok(Kernel {
            path: dump.path,
            format: dump.format,
            mem,
            syms,
            off,
            vma,
            vmcoreinfo: info,
            release,
            nr_cpus_hint: dump.nr_cpus_hint,
            notes: dump.notes,
        })
    }

    /// Member offsets resolved from the type model.
    pub fn off(&self) -> Result<&Offsets, KernelError> {
        self.off.as_ref().ok_or(KernelError::NoTypes)
    }

    /// Offsets of the VMA structures (maple tree or rb-tree, names, paths).
    pub fn vma_layout(&self) -> Result<&VmaLayout, KernelError> {
        match &self.vma {
            None => Err(KernelError::NoTypes),
            Some(Ok(l)) => Ok(l),
            Some(Err(e)) => Err(e.clone().into()),
        }
    }

    /// The running kernel through /proc/kcore (it can change while it is read).
    pub fn is_live(&self) -> bool {
        self.format == Format::Kcore
    }

    pub fn paging(&self) -> &Paging {
        &self.mem.paging
    }

    pub fn kaslr_offset(&self) -> u64 {
        self.syms.kaslr_offset
    }

    /// Runtime `_text`.
    pub fn text_start(&self) -> u64 {
        self.syms.address("_text").unwrap_or(START_KERNEL_MAP)
    }

    /// Online CPUs from `__cpu_online_mask` (bounded by `nr_cpu_ids`).
    pub fn online_cpus(&self) -> Result<Vec<u32>, KernelError> {
        let nr = match self.syms.address("nr_cpu_ids") {
            Some(a) => self.mem.read_u32(a).ctx(|| "nr_cpu_ids".into())?.min(8192),
            None => return Ok(vec![0]),
        };
        let Some(mask) = self.syms.address("__cpu_online_mask") else {
            return Ok((0..nr).collect());
        };
        let words = self
            .mem
            .read_vec(mask, nr.div_ceil(64) as usize * 8)
            .ctx(|| "__cpu_online_mask".into())?;
        Ok((0..nr)
            .filter(|&c| {
                words
                    .get((c / 8) as usize)
                    .is_some_and(|b| b & (1 << (c % 8)) != 0)
            })
            .collect())
    }

    /// Address of per-CPU variable `sym` on `cpu` (`&sym + __per_cpu_offset[cpu]`).
    pub fn per_cpu(&self, sym: &str, cpu: u32) -> Result<u64, KernelError> {
        let base = self.syms.require(sym)?;
        let offs = self.syms.require("__per_cpu_offset")?;
        let off = self
            .mem
            .read_u64(offs.wrapping_add(u64::from(cpu).wrapping_mul(8)))
            .ctx(|| format!("__per_cpu_offset[{cpu}]"))?;
        Ok(base.wrapping_add(off))
    }
}

/// The KASLR text offset. kallsyms addresses are already relocated; the offset is
/// then only reported, from VMCOREINFO or against the default link address.
fn kaslr_offset(
    syms: &Symbols,
    info: Option<&VmcoreInfo>,
    dump: &Dump,
) -> Result<u64, KernelError> {
    if syms.is_runtime() {
        info.and_then(|i| i.kernel_offset())
            .or_else(|| Some(syms.address("_text")?.wrapping_sub(DEFAULT_TEXT_LINK)))
            .ok_or_else(|| KernelError::MissingSymbol {
                file: syms.path().into(),
                name: "_text".into(),
            })
    } else {
        let text_link = syms.link_address("_text");
        info.and_then(|i| i.kernel_offset())
            .or_else(|| {
                let stext = info?.symbol("_stext")?;
                Some(stext.wrapping_sub(syms.link_address("_stext")?))
            })
            .or_else(|| Some(dump.text_vaddr_hint?.wrapping_sub(text_link?)))
            .ok_or_else(|| KernelError::NoVmcoreinfo {
                dump: dump.path.clone(),
            })
    }
}

/// The kernel's address space, translated as the dumped machine's architecture does.
pub(crate) fn kernel_space(
    syms: &Symbols,
    info: Option<&VmcoreInfo>,
    dump: &Dump,
) -> Result<KernelSpace, KernelError> {
    match dump.arch {
        Arch::X86_64 => x86_64_space(syms, info, dump),
        Arch::Arm64 => arm64_space(syms, info, dump),
    }
}

/// x86-64: physical base, image size, kernel page tables, paging levels and
/// `page_offset_base`.
fn x86_64_space(
    syms: &Symbols,
    info: Option<&VmcoreInfo>,
    dump: &Dump,
) -> Result<KernelSpace, KernelError> {
    let phys_base = info
        .as_ref()
        .and_then(|i| i.phys_base())
        .or(dump.phys_base_hint)
        .unwrap_or(0);
    let kernel_image_size = info
        .as_ref()
        .and_then(|i| i.number("KERNEL_IMAGE_SIZE"))
        .map(|n| n as u64)
        .filter(|&n| n > 0 && n <= 1 << 31)
        .unwrap_or(DEFAULT_KERNEL_IMAGE_SIZE);
    let pgd_va = info
        .as_ref()
        .and_then(|i| {
            i.symbol("init_top_pgt")
                .or_else(|| i.symbol("swapper_pg_dir"))
        })
        .map(Ok)
        .unwrap_or_else(|| syms.require("init_top_pgt"))?;
    let mut paging = x86_64::Paging {
        phys_base,
        page_offset_base: dump.page_offset_base_hint,
        l5: false,
        kernel_pgd: 0,
        sme_mask: info
            .as_ref()
            .and_then(|i| i.number("sme_mask"))
            .map(|n| n as u64)
            .unwrap_or(0),
        kernel_image_size,
        vmalloc_base: None,
    };
    paging.kernel_pgd = paging
        .image_to_phys(pgd_va)
        .ok_or_else(|| KernelError::Walk {
            what: "init_top_pgt".into(),
            addr: pgd_va,
            why: "outside the kernel image mapping".into(),
        })?;
    let mem = KernelSpace::new(dump.phys.clone(), dump.virt.clone(), Paging::X86_64(paging));
    paging.l5 = match info.and_then(|i| i.pgtable_l5_enabled()) {
        Some(l5) => l5,
        None => match syms.address("__pgtable_l5_enabled") {
            Some(a) => mem.read_u32(a).ctx(|| "__pgtable_l5_enabled".into())? != 0,
            None => false,
        },
    };
    if paging.page_offset_base.is_none() {
        paging.page_offset_base = Some(match syms.address("page_offset_base") {
            Some(a) => mem.read_u64(a).ctx(|| "page_offset_base".into())?,
            None if paging.l5 => PAGE_OFFSET_L5,
            None => PAGE_OFFSET_L4,
        });
    }
    // Randomized regions keep their order (direct map, vmalloc, vmemmap), so the
    // vmalloc base ends the direct map.
    paging.vmalloc_base = match syms.address("vmalloc_base") {
        Some(a) => Some(mem.read_u64(a).ctx(|| "vmalloc_base".into())?),
        None => None,
    };
    Ok(KernelSpace::new(
        dump.phys.clone(),
        dump.virt.clone(),
        Paging::X86_64(paging),
    ))
}

/// arm64: everything comes from VMCOREINFO (arch/arm64/kernel/crash_core.c): the build's
/// and the CPU's VA sizes, the page size, the image and linear map offsets; the kernel's
/// tables are `swapper_pg_dir`, in the image.
fn arm64_space(
    syms: &Symbols,
    info: Option<&VmcoreInfo>,
    dump: &Dump,
) -> Result<KernelSpace, KernelError> {
    let info = info.ok_or_else(|| KernelError::NoVmcoreinfo {
        dump: dump.path.clone(),
    })?;
    let number = |key: &'static str, name: &str| {
        info.number(name)
            .map(|n| n as u64)
            .ok_or_else(|| KernelError::NoVmcoreinfoKey {
                dump: dump.path.clone(),
                key,
                arch: "arm64",
            })
    };
    let va_bits = number("NUMBER(VA_BITS)", "VA_BITS")?;
    // Without TCR_EL1_T1SZ (before 5.13) the CPU runs what the kernel was built for.
    let t1sz = info.number("TCR_EL1_T1SZ").map(|n| n as u64);
    let va_bits_actual = t1sz.map_or(va_bits, |t| 64u64.saturating_sub(t));
    let size = info.page_size().unwrap_or(4096);
    if ![4096, 16384, 65536].contains(&size)
        || !(36..=52).contains(&va_bits)
        || !(36..=52).contains(&va_bits_actual)
    {
        return Err(KernelError::PageSize {
            dump: dump.path.clone(),
            size,
            arch: "arm64",
        });
    }
    let kimage_voffset = number("NUMBER(kimage_voffset)", "kimage_voffset")?;
    let pgd_va = info
        .symbol("swapper_pg_dir")
        .map(Ok)
        .unwrap_or_else(|| syms.require("swapper_pg_dir"))?;
    let paging = crate::memory::arm64::Paging {
        va_bits: va_bits as u32,
        va_bits_actual: va_bits_actual as u32,
        page_shift: size.trailing_zeros(),
        kimage_voffset,
        phys_offset: number("NUMBER(PHYS_OFFSET)", "PHYS_OFFSET")?,
        kernel_pgd: pgd_va.wrapping_sub(kimage_voffset),
    };
    Ok(KernelSpace::new(
        dump.phys.clone(),
        dump.virt.clone(),
        Paging::Arm64(paging),
    ))
}
