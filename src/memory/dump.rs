//! Open a dump file or /proc/kcore: recognise the format by its magic and
//! collect what the layers above need (physical reader, notes, VMCOREINFO).

use super::arch::Arch;
use super::elf::{ElfCore, Note};
use super::kcore::Kcore;
use super::kdump::{self, KdumpFile};
use super::vmcoreinfo::{parse_sys_vmcoreinfo, VmcoreInfo};
pub use super::OpenError;
use super::{Memory, PhysMemory};
use crate::input::open_regular;
use memmap2::Mmap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// QEMU `dump-guest-memory` ELF: PT_LOADs with physical addresses only.
    ElfPhysical,
    /// kdump /proc/vmcore style ELF with virtual addresses as well.
    ElfVirtual,
    /// makedumpfile diskdump; `compression` is the union of page descriptor flags seen.
    Kdump { flattened: bool, compression: u32 },
    /// The running kernel.
    Kcore,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::ElfPhysical => write!(f, "ELF vmcore (physical PT_LOADs, QEMU style)"),
            Format::ElfVirtual => write!(f, "ELF vmcore (kdump /proc/vmcore style)"),
            Format::Kcore => write!(f, "/proc/kcore (live)"),
            Format::Kdump {
                flattened,
                compression,
            } => {
                let mut algos = Vec::new();
                for (bit, name) in [
                    (kdump::DUMP_DH_COMPRESSED_ZLIB, "zlib"),
                    (kdump::DUMP_DH_COMPRESSED_LZO, "lzo"),
                    (kdump::DUMP_DH_COMPRESSED_SNAPPY, "snappy"),
                    (kdump::DUMP_DH_COMPRESSED_ZSTD, "zstd"),
                ] {
                    if compression & bit != 0 {
                        algos.push(name);
                    }
                }
                if algos.is_empty() {
                    algos.push("uncompressed");
                }
                let layout = if *flattened { "flattened" } else { "raw" };
                write!(f, "kdump-compressed ({layout}, pages: {})", algos.join("+"))
            }
        }
    }
}

/// An opened memory source, before any kernel knowledge is applied.
pub struct Dump {
    pub path: String,
    pub format: Format,
    /// The dumped machine's architecture, from the dump itself.
    pub arch: Arch,
    pub phys: Arc<dyn PhysMemory>,
    /// Direct virtual reads (/proc/kcore only).
    pub virt: Option<Arc<dyn Memory>>,
    pub vmcoreinfo: Option<VmcoreInfo>,
    pub notes: Vec<Note>,
    /// `phys_base` recorded by the format itself (kdump sub-header, kcore text segment).
    pub phys_base_hint: Option<u64>,
    /// `page_offset_base` recorded by the format (kcore RAM segments).
    pub page_offset_base_hint: Option<u64>,
    /// Runtime start of the kernel text (kcore text segment).
    pub text_vaddr_hint: Option<u64>,
    /// CPU count recorded by the format (kdump header, PRSTATUS notes).
    pub nr_cpus_hint: Option<u32>,
}

fn vmcoreinfo_from_notes(path: &str, notes: &[Note]) -> Result<Option<VmcoreInfo>, OpenError> {
    match notes.iter().find(|n| n.name == "VMCOREINFO") {
        Some(n) => VmcoreInfo::parse(&n.desc)
            .map(Some)
            .map_err(|source| OpenError::Vmcoreinfo {
                file: path.into(),
                source,
            }),
        None => Ok(None),
    }
}

fn count_prstatus(notes: &[Note]) -> Option<u32> {
    let n = notes
        .iter()
        .filter(|n| n.name == "CORE" && n.ntype == 1)
        .count() as u32;
    (n > 0).then_some(n)
}

/// The kdump header's machine name decides; QEMU writes "Unknown" there for arm
/// guests, and then VMCOREINFO's architecture-specific keys do.
fn kdump_arch(path: &str, machine: &str, info: Option<&VmcoreInfo>) -> Result<Arch, OpenError> {
    Arch::from_uts_machine(machine)
        .or_else(|| Arch::from_vmcoreinfo(info?))
        .ok_or_else(|| OpenError::Unsupported {
            file: path.into(),
            what: format!("machine {machine:?} dumps cannot be read (x86_64 and aarch64 can)"),
        })
}

/// Open `path` read-only and recognise its format.
pub fn open(path: &str) -> Result<Dump, OpenError> {
    let io = |e| OpenError::Io {
        file: path.into(),
        source: e,
    };
    let f = open_regular(Path::new(path)).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    // /proc/kcore reports a huge size but cannot be mapped; procfs files are read with pread.
    if path.starts_with("/proc/") {
        return open_kcore(path);
    }
    if meta.len() < 64 {
        return Err(OpenError::NotADump {
            file: path.into(),
            what: format!("only {} bytes long", meta.len()),
        });
    }
    // SAFETY: read-only mapping; dump files are not modified while we read them,
    // and every access is bounds-checked.
    let map = unsafe { Mmap::map(&f) }.map_err(io)?;
    let magic = map.get(..16).unwrap_or_default();
    if magic.starts_with(b"\x7fELF") {
        // kcore copied to a file is still kcore: it has the NT_TASKSTRUCT note.
        let elf = ElfCore::from_map(path, map)?;
        let vmcoreinfo = vmcoreinfo_from_notes(path, &elf.notes)?;
        let format = if elf.has_vaddr {
            Format::ElfVirtual
        } else {
            Format::ElfPhysical
        };
        let notes = elf.notes.clone();
        let nr = count_prstatus(&notes);
        return Ok(Dump {
            path: path.into(),
            format,
            arch: elf.arch,
            phys: Arc::new(elf),
            virt: None,
            vmcoreinfo,
            notes,
            phys_base_hint: None,
            page_offset_base_hint: None,
            text_vaddr_hint: None,
            nr_cpus_hint: nr,
        });
    }
    if magic.starts_with(b"makedumpfile")
        || magic.starts_with(b"KDUMP   ")
        || magic.starts_with(b"DISKDUMP")
    {
        let kd = KdumpFile::open(path, map)?;
        let mut vmcoreinfo = vmcoreinfo_from_notes(path, &kd.notes)?;
        if vmcoreinfo.is_none() {
            if let Some(raw) = &kd.vmcoreinfo {
                vmcoreinfo =
                    Some(
                        VmcoreInfo::parse(raw).map_err(|source| OpenError::Vmcoreinfo {
                            file: path.into(),
                            source,
                        })?,
                    );
            }
        }
        let format = Format::Kdump {
            flattened: kd.flattened,
            compression: kd.page_compression,
        };
        let notes = kd.notes.clone();
        let phys_base = kd.header.phys_base;
        let nr = Some(kd.header.nr_cpus)
            .filter(|&n| n > 0)
            .or_else(|| count_prstatus(&notes));
        let arch = kdump_arch(path, &kd.header.machine, vmcoreinfo.as_ref())?;
        return Ok(Dump {
            path: path.into(),
            format,
            arch,
            phys: Arc::new(kd),
            virt: None,
            vmcoreinfo,
            notes,
            phys_base_hint: Some(phys_base),
            page_offset_base_hint: None,
            text_vaddr_hint: None,
            nr_cpus_hint: nr,
        });
    }
    Err(OpenError::NotADump {
        file: path.into(),
        what: "unknown magic".into(),
    })
}

/// Open /proc/kcore (or another procfs core) with pread; nothing is cached.
pub fn open_kcore(path: &str) -> Result<Dump, OpenError> {
    let kc = Arc::new(Kcore::open(path)?);
    let mut vmcoreinfo = vmcoreinfo_from_notes(path, &kc.notes)?;
    if vmcoreinfo.is_none() {
        // Before 4.19 kcore had no VMCOREINFO note: find it through sysfs.
        if let Some((pa, size)) = std::fs::read_to_string("/sys/kernel/vmcoreinfo")
            .ok()
            .as_deref()
            .and_then(parse_sys_vmcoreinfo)
        {
            if size > 0 && size < (1 << 20) {
                let mut buf = vec![0u8; size as usize];
                if kc.read_phys(pa, &mut buf).is_ok() {
                    let notes = super::elf::parse_notes("/sys/kernel/vmcoreinfo", pa, &buf)?;
                    vmcoreinfo = vmcoreinfo_from_notes("/sys/kernel/vmcoreinfo", &notes)?;
                }
            }
        }
    }
    let phys: Arc<dyn PhysMemory> = kc.clone();
    let virt: Arc<dyn Memory> = kc.clone();
    Ok(Dump {
        path: path.into(),
        format: Format::Kcore,
        arch: kc.arch,
        phys,
        virt: Some(virt),
        vmcoreinfo,
        notes: kc.notes.clone(),
        phys_base_hint: kc.phys_base(),
        page_offset_base_hint: kc.page_offset_base(),
        text_vaddr_hint: kc.text_segment().map(|t| t.vaddr),
        nr_cpus_hint: None,
    })
}
