//! The DWARF sections of a memory-mapped ELF file and the unit boundaries of its
//! `.debug_info`: what both the type loader (`dwarf`) and the name index scan read.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{
    constants as dw, AttributeValue, DebugInfoOffset, EndianSlice, LittleEndian, Reader, UnitHeader,
};
use memmap2::Mmap;
use object::{Object, ObjectSection};

use super::inflate::{Codec, Inflating};
use super::sup::SupLink;

pub(crate) type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Set in a DIE offset that lies in the supplementary (dwz) file rather than the file itself:
/// one offset space for both, so that type ids and the index need no second key.
pub(crate) const SUP_BIT: u64 = 1 << 63;

/// Errors of the DWARF loader. Each names the file and, where it applies, the offset.
#[derive(Debug, thiserror::Error)]
pub enum DebugInfoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an ELF file ({reason})")]
    NotElf { path: PathBuf, reason: String },
    #[error("{path}: no DWARF debug information (no {section} section)")]
    NoDwarf {
        path: PathBuf,
        section: &'static str,
    },
    #[error("{path}: compressed section {section} could not be decompressed: {reason}")]
    Compressed {
        path: PathBuf,
        section: &'static str,
        reason: String,
    },
    #[error("{path}: section {section} lies outside the file (truncated?)")]
    Truncated {
        path: PathBuf,
        section: &'static str,
    },
    #[error("{path}: big-endian or non-64-bit ELF is not supported")]
    Unsupported { path: PathBuf },
    #[error(
        "{path}: its dwz supplementary file {wanted} (build-id {build_id}) was not found; \
         looked at {}", .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoSupFile {
        path: PathBuf,
        wanted: String,
        build_id: String,
        tried: Vec<PathBuf>,
    },
    #[error("{path}: bad DWARF at .debug_info offset {offset:#x}: {reason}")]
    BadDwarf {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}

/// One compilation unit's place in `.debug_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnitSpan {
    pub start: u64,
    pub end: u64,
}

/// The mapped file and its DWARF sections.
pub(crate) struct DwarfFile {
    path: PathBuf,
    mmap: Arc<Mmap>,
    info: InfoData,
    abbrev: SectionData,
    str_: SectionData,
    line_str: SectionData,
    str_offsets: SectionData,
    /// What the line tables and address lookups read besides the above (`lines`).
    code: CodeSections,
    build_id: Option<Vec<u8>>,
    /// what `.gnu_debugaltlink` / `.debug_sup` name (dwz)
    sup_link: Option<SupLink>,
    /// the supplementary file, once found ([`DwarfFile::attach_sup`])
    sup: Option<Box<DwarfFile>>,
    units: OnceLock<Vec<UnitSpan>>,
    abbrev_cache: Mutex<HashMap<u64, Arc<gimli::Abbreviations>>>,
    /// DW_AT_str_offsets_base of each unit read so far, by unit start
    str_bases: Mutex<HashMap<u64, StrBase>>,
    /// split DWARF: the string-offsets base of each unit brought in from a `.dwo`/`.dwp`
    /// (those units carry no DW_AT_str_offsets_base), by unit start
    split_bases: HashMap<u64, StrBase>,
}

/// Sections assembled from a file's split-DWARF units (see `split.rs`), replacing its own.
pub(crate) struct SplitSections {
    pub info: Vec<u8>,
    pub abbrev: Vec<u8>,
    pub str_: Vec<u8>,
    pub str_offsets: Vec<u8>,
    pub bases: HashMap<u64, StrBase>,
}

/// Where a unit's `DW_FORM_strx*` indexes point into `.debug_str_offsets` (DWARF 5, clang).
pub(crate) type StrBase = Option<(gimli::Format, gimli::DebugStrOffsetsBase<usize>)>;

/// The sections that map addresses to units, lines and inlined calls.
struct CodeSections {
    line: SectionData,
    aranges: SectionData,
    ranges: SectionData,
    rnglists: SectionData,
    addr: SectionData,
    frame: SectionData,
}

impl CodeSections {
    fn open(path: &Path, obj: &object::File<'_>, map: &[u8]) -> Result<Self, DebugInfoError> {
        let s = |name| section_data(path, obj, map, name, false, Load::Deferred);
        Ok(CodeSections {
            line: s(".debug_line")?,
            aranges: s(".debug_aranges")?,
            ranges: s(".debug_ranges")?,
            rnglists: s(".debug_rnglists")?,
            addr: s(".debug_addr")?,
            frame: s(".debug_frame")?,
        })
    }
}

/// A debug section: a range of the mapped file, an inflated or relocated copy, or (a
/// compressed section only some commands read: line tables, frames) one inflated on first use.
enum SectionData {
    Mapped(Range<usize>),
    Owned(Vec<u8>),
    Deferred {
        compressed: Range<usize>,
        format: object::CompressionFormat,
        size: u64,
        inflated: OnceLock<Result<Vec<u8>, String>>,
    },
}

impl SectionData {
    const EMPTY: SectionData = SectionData::Mapped(0..0);

    /// The bytes; `Err` only for a deferred section that does not inflate.
    fn bytes<'a>(&'a self, map: &'a [u8]) -> Result<&'a [u8], &'a str> {
        match self {
            SectionData::Mapped(r) => Ok(map.get(r.clone()).unwrap_or(&[])),
            SectionData::Owned(v) => Ok(v),
            SectionData::Deferred {
                compressed,
                format,
                size,
                inflated,
            } => {
                let r = inflated.get_or_init(|| {
                    let c = object::CompressedData {
                        format: *format,
                        data: map.get(compressed.clone()).unwrap_or(&[]),
                        uncompressed_size: *size,
                    };
                    c.decompress()
                        .map(|d| d.into_owned())
                        .map_err(|e| e.to_string())
                });
                r.as_deref().map_err(String::as_str)
            }
        }
    }
}

/// `.debug_info`: like any section, or (compressed) inflated on a thread of its own from
/// open on, read as it arrives.
enum InfoData {
    Ready(SectionData),
    Inflating(Inflating),
}

/// When a compressed section is inflated: at open, or on first use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    Now,
    Deferred,
}

fn section_data(
    path: &Path,
    file: &object::File<'_>,
    map: &[u8],
    name: &'static str,
    required: bool,
    load: Load,
) -> Result<SectionData, DebugInfoError> {
    let missing = || match required {
        true => Err(DebugInfoError::NoDwarf {
            path: path.to_path_buf(),
            section: name,
        }),
        false => Ok(SectionData::EMPTY),
    };
    let Some(sec) = file.section_by_name(name) else {
        return missing();
    };
    let relocatable = file.kind() == object::ObjectKind::Relocatable;
    if let Some(c) = compressed(path, &sec)? {
        if load == Load::Deferred && !relocatable {
            return Ok(SectionData::Deferred {
                compressed: range_in(path, map, c.offset, c.compressed_size, name)?,
                format: c.format,
                size: c.uncompressed_size,
                inflated: OnceLock::new(),
            });
        }
        // SHF_COMPRESSED (zlib, zstd) or a legacy .zdebug_* section: inflated once, here.
        let data = sec
            .uncompressed_data()
            .map_err(|e| DebugInfoError::Compressed {
                path: path.to_path_buf(),
                section: name,
                reason: e.to_string(),
            })?;
        return Ok(SectionData::Owned(match relocatable {
            true => relocated(path, file, &sec, &data, name)?,
            false => data.into_owned(),
        }));
    }
    let Some((off, size)) = sec.file_range() else {
        return missing();
    };
    let range = range_in(path, map, off, size, name)?;
    // Only relocatable objects (gcc -c output, kernel modules) need their DWARF relocated. An
    // ET_EXEC vmlinux also carries .rela.debug_* but those are already applied.
    if relocatable {
        let data = map.get(range).unwrap_or(&[]);
        return Ok(SectionData::Owned(relocated(path, file, &sec, data, name)?));
    }
    Ok(SectionData::Mapped(range))
}

/// `.debug_info`: compressed in a linked file, inflated on its own thread from now on;
/// otherwise as any other section.
fn info_data(
    path: &Path,
    file: &object::File<'_>,
    map: &Arc<Mmap>,
) -> Result<InfoData, DebugInfoError> {
    const NAME: &str = ".debug_info";
    let sec = file.section_by_name(NAME);
    let linked = file.kind() != object::ObjectKind::Relocatable;
    let c = match &sec {
        Some(sec) if linked => compressed(path, sec)?,
        _ => None,
    };
    let codec = match c.map(|c| c.format) {
        Some(object::CompressionFormat::Zlib) => Some(Codec::Zlib),
        Some(object::CompressionFormat::Zstandard) => Some(Codec::Zstd),
        _ => None,
    };
    let (Some(c), Some(codec)) = (c, codec) else {
        return section_data(path, file, map, NAME, true, Load::Now).map(InfoData::Ready);
    };
    let err = |reason: String| DebugInfoError::Compressed {
        path: path.to_path_buf(),
        section: NAME,
        reason,
    };
    let range = range_in(path, map, c.offset, c.compressed_size, NAME)?;
    // read front to back by the inflating thread
    let _ = map.advise_range(memmap2::Advice::Sequential, range.start, range.len());
    let len = usize::try_from(c.uncompressed_size)
        .map_err(|_| err(format!("{:#x} bytes is too large", c.uncompressed_size)))?;
    Inflating::start(Arc::clone(map), range, codec, len)
        .map(InfoData::Inflating)
        .map_err(|e| err(format!("{len:#x} bytes to inflate into: {e}")))
}

/// Where a compressed section's data lies, if it is compressed.
fn compressed(
    path: &Path,
    sec: &object::Section<'_, '_>,
) -> Result<Option<object::CompressedFileRange>, DebugInfoError> {
    let c = sec
        .compressed_file_range()
        .map_err(|e| DebugInfoError::NotElf {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok((c.format != object::CompressionFormat::None).then_some(c))
}

/// `off..off + size` as a range of `map`, or an error when it does not lie inside.
fn range_in(
    path: &Path,
    map: &[u8],
    off: u64,
    size: u64,
    name: &'static str,
) -> Result<Range<usize>, DebugInfoError> {
    let start = usize::try_from(off).ok();
    let end = start.and_then(|s| s.checked_add(usize::try_from(size).ok()?));
    match (start, end) {
        (Some(s), Some(e)) if e <= map.len() => Ok(s..e),
        _ => Err(DebugInfoError::Truncated {
            path: path.to_path_buf(),
            section: name,
        }),
    }
}

/// Copy of a section with its absolute relocations applied (symbol value + addend).
fn relocated(
    path: &Path,
    file: &object::File<'_>,
    sec: &object::Section<'_, '_>,
    data: &[u8],
    name: &'static str,
) -> Result<Vec<u8>, DebugInfoError> {
    let mut out = data.to_vec();
    for (at, rel) in sec.relocations() {
        let value = match rel.target() {
            object::RelocationTarget::Symbol(idx) => match file.symbol_by_index(idx) {
                Ok(sym) => object::ObjectSymbol::address(&sym),
                Err(_) => 0,
            },
            _ => 0,
        };
        let v = (value as i64).wrapping_add(rel.addend()) as u64;
        let width = (rel.size() / 8) as usize;
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        let Some(dst) = at.checked_add(width).and_then(|e| out.get_mut(at..e)) else {
            return Err(DebugInfoError::Truncated {
                path: path.to_path_buf(),
                section: name,
            });
        };
        match width {
            4 => dst.copy_from_slice(&(v as u32).to_le_bytes()),
            8 => dst.copy_from_slice(&v.to_le_bytes()),
            _ => {}
        }
    }
    Ok(out)
}

impl DwarfFile {
    /// Memory-map `path` read-only and locate its DWARF sections. Cheap: reads only the ELF
    /// headers and the unit headers of `.debug_info`.
    pub(crate) fn open(path: &Path) -> Result<DwarfFile, DebugInfoError> {
        let io = |source| DebugInfoError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = crate::input::open_regular(path).map_err(io)?;
        // SAFETY-relevant note: the map is read-only; a file truncated underneath us is the
        // usual mmap caveat and is out of our control.
        let mmap = Arc::new(unsafe { Mmap::map(&file) }.map_err(io)?);
        // Lookups touch a few scattered pages: no read-ahead around each fault.
        let _ = mmap.advise(memmap2::Advice::Random);
        let (info, abbrev, str_, line_str, str_offsets, code, build_id, sup_link) = {
            let obj = object::File::parse(&mmap[..]).map_err(|e| DebugInfoError::NotElf {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            if !obj.is_little_endian() || !obj.is_64() {
                return Err(DebugInfoError::Unsupported {
                    path: path.to_path_buf(),
                });
            }
            // first, so that the sections below inflate while .debug_info does
            let info = info_data(path, &obj, &mmap)?;
            let now = |name, required| section_data(path, &obj, &mmap, name, required, Load::Now);
            let abbrev = now(".debug_abbrev", true)?;
            let str_ = now(".debug_str", false)?;
            let line_str = now(".debug_line_str", false)?;
            let str_offsets = now(".debug_str_offsets", false)?;
            // a DWARF 5 supplementary file is known by its .debug_sup checksum instead
            let build_id = obj
                .build_id()
                .ok()
                .flatten()
                .map(|b| b.to_vec())
                .or_else(|| {
                    let data = obj.section_by_name(".debug_sup")?.data().ok()?;
                    super::sup::sup_checksum(data)
                });
            let sup_link = sup_link_of(&obj);
            let code = CodeSections::open(path, &obj, &mmap)?;
            (
                info,
                abbrev,
                str_,
                line_str,
                str_offsets,
                code,
                build_id,
                sup_link,
            )
        };
        let db = DwarfFile {
            path: path.to_path_buf(),
            mmap,
            info,
            abbrev,
            str_,
            line_str,
            str_offsets,
            code,
            build_id,
            sup_link,
            sup: None,
            units: OnceLock::new(),
            abbrev_cache: Mutex::new(HashMap::new()),
            str_bases: Mutex::new(HashMap::new()),
            split_bases: HashMap::new(),
        };
        // Check the first unit header now, so that garbage DWARF fails at open with a clear
        // error; the other headers are read only when needed (or come from the index cache).
        db.unit_header(0)?;
        Ok(db)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Find and open the supplementary file a dwz-processed file links to (nothing to do
    /// without a link). Candidates with another build-id are passed over; none found is an
    /// error naming the file and build-id looked for.
    pub(crate) fn attach_sup(&mut self, roots: &[PathBuf]) -> Result<(), DebugInfoError> {
        let Some(link) = &self.sup_link else {
            return Ok(());
        };
        let tried = link.candidates(&self.path, roots);
        for c in &tried {
            if !c.is_file() {
                continue;
            }
            let Ok(sup) = DwarfFile::open(c) else {
                continue;
            };
            let id_ok = link.build_id.is_empty() || sup.build_id() == Some(&link.build_id[..]);
            if id_ok && sup.sup_link.is_none() {
                self.sup = Some(Box::new(sup));
                return Ok(());
            }
        }
        Err(DebugInfoError::NoSupFile {
            path: self.path.clone(),
            wanted: link.name.display().to_string(),
            build_id: link.build_id_hex(),
            tried,
        })
    }

    /// Read types from `s` (the file's units with their split-DWARF halves in place of the
    /// skeletons) rather than from the file's own sections.
    pub(crate) fn use_split(&mut self, s: SplitSections) {
        self.info = InfoData::Ready(SectionData::Owned(s.info));
        self.abbrev = SectionData::Owned(s.abbrev);
        self.str_ = SectionData::Owned(s.str_);
        self.str_offsets = SectionData::Owned(s.str_offsets);
        self.split_bases = s.bases;
        self.units = OnceLock::new();
        if let Ok(c) = self.abbrev_cache.get_mut() {
            c.clear();
        }
    }

    /// The raw bytes of the file's sections the split-DWARF merge starts from.
    pub(crate) fn own_sections(&self) -> Result<[&[u8]; 4], DebugInfoError> {
        Ok([
            self.info_upto(usize::MAX)?,
            self.sec(&self.abbrev),
            self.sec(&self.str_),
            self.sec(&self.str_offsets),
        ])
    }

    /// The supplementary file, when the file has one.
    pub(crate) fn sup(&self) -> Option<&DwarfFile> {
        self.sup.as_deref()
    }

    /// The file a (possibly [`SUP_BIT`]-tagged) offset lies in, and the offset within it.
    pub(crate) fn file_of(&self, offset: u64) -> Option<(&DwarfFile, u64)> {
        if offset & SUP_BIT == 0 {
            Some((self, offset))
        } else {
            Some((self.sup()?, offset & !SUP_BIT))
        }
    }

    pub(crate) fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    pub(crate) fn units(&self) -> Result<&[UnitSpan], DebugInfoError> {
        if let Some(u) = self.units.get() {
            return Ok(u);
        }
        let spans = self.read_unit_spans()?;
        Ok(self.units.get_or_init(|| spans))
    }

    /// Read-ahead for the front-to-back scan of an index build.
    pub(crate) fn advise_sequential(&self) {
        if let InfoData::Ready(SectionData::Mapped(r)) = &self.info {
            let _ = self
                .mmap
                .advise_range(memmap2::Advice::Sequential, r.start, r.len());
        }
    }

    /// Unit boundaries known from a valid index cache (saves touching every unit header).
    pub(crate) fn set_units(&self, spans: Vec<UnitSpan>) {
        let _ = self.units.set(spans);
    }

    pub(crate) fn bad(&self, offset: u64, reason: impl Into<String>) -> DebugInfoError {
        DebugInfoError::BadDwarf {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// A section read at open (never deferred, so never failing here).
    fn sec<'a>(&'a self, s: &'a SectionData) -> &'a [u8] {
        s.bytes(&self.mmap).unwrap_or(&[])
    }

    /// A section that may be deferred: inflated now if it was not yet.
    fn deferred<'a>(
        &'a self,
        s: &'a SectionData,
        name: &'static str,
    ) -> Result<&'a [u8], DebugInfoError> {
        s.bytes(&self.mmap)
            .map_err(|reason| DebugInfoError::Compressed {
                path: self.path.clone(),
                section: name,
                reason: reason.to_string(),
            })
    }

    /// The first `end` bytes of `.debug_info` at least (all of it at most): while it is
    /// still being inflated, waits until they are there.
    fn info_upto(&self, end: usize) -> Result<&[u8], DebugInfoError> {
        match &self.info {
            InfoData::Ready(s) => Ok(self.sec(s)),
            InfoData::Inflating(i) => i.upto(end).map_err(|reason| DebugInfoError::Compressed {
                path: self.path.clone(),
                section: ".debug_info",
                reason,
            }),
        }
    }

    /// Whether all of `.debug_info` can be read without waiting.
    pub(crate) fn info_complete(&self) -> bool {
        match &self.info {
            InfoData::Ready(_) => true,
            InfoData::Inflating(i) => i.finished(),
        }
    }

    /// Every section as gimli's `Dwarf`, for line programs and address ranges (the code
    /// sections inflated now if compressed).
    pub(crate) fn gimli_dwarf(&self) -> Result<gimli::Dwarf<Slice<'_>>, DebugInfoError> {
        use gimli::SectionId as S;
        let c = &self.code;
        let info = self.info_upto(usize::MAX)?;
        let load = |id: S| -> Result<Slice<'_>, DebugInfoError> {
            let s = match id {
                S::DebugInfo => return Ok(Slice::new(info, LittleEndian)),
                S::DebugAbbrev => &self.abbrev,
                S::DebugStr => &self.str_,
                S::DebugLineStr => &self.line_str,
                S::DebugStrOffsets => &self.str_offsets,
                S::DebugLine => &c.line,
                S::DebugAranges => &c.aranges,
                S::DebugRanges => &c.ranges,
                S::DebugRngLists => &c.rnglists,
                S::DebugAddr => &c.addr,
                _ => return Ok(Slice::new(&[], LittleEndian)),
            };
            Ok(Slice::new(self.deferred(s, id.name())?, LittleEndian))
        };
        gimli::Dwarf::load(load)
    }

    /// `.debug_frame` (empty when absent): call frame information for unwinding.
    pub(crate) fn debug_frame(&self) -> Result<&[u8], DebugInfoError> {
        self.deferred(&self.code.frame, ".debug_frame")
    }

    /// Size of `.debug_info` (inflated), part of the cache key.
    pub(crate) fn debug_info_len(&self) -> u64 {
        match &self.info {
            InfoData::Ready(s) => self.sec(s).len() as u64,
            InfoData::Inflating(i) => i.len() as u64,
        }
    }

    fn read_unit_spans(&self) -> Result<Vec<UnitSpan>, DebugInfoError> {
        let mut spans = Vec::new();
        self.read_unit_spans_from(0, &mut spans)?;
        Ok(spans)
    }

    /// Append the spans of the units from `start` (a unit boundary) to the end of
    /// `.debug_info` to `spans`; none at all is an error. Bounded: each unit moves forward.
    pub(crate) fn read_unit_spans_from(
        &self,
        start: u64,
        spans: &mut Vec<UnitSpan>,
    ) -> Result<(), DebugInfoError> {
        let mut at = start;
        while let Some((_, span)) = self.unit_at(at)? {
            spans.push(span);
            at = span.end;
        }
        if spans.is_empty() {
            return Err(DebugInfoError::NoDwarf {
                path: self.path.clone(),
                section: ".debug_info units",
            });
        }
        Ok(())
    }

    /// The header and span of the unit at `start`, None at the end of `.debug_info`.
    pub(crate) fn unit_at(
        &self,
        start: u64,
    ) -> Result<Option<(UnitHeader<Slice<'_>>, UnitSpan)>, DebugInfoError> {
        if start >= self.debug_info_len() {
            return Ok(None);
        }
        let header = self.unit_header(start)?;
        let end = start.saturating_add(header.length_including_self() as u64);
        Ok(Some((header, UnitSpan { start, end })))
    }

    pub(crate) fn unit_header(&self, start: u64) -> Result<UnitHeader<Slice<'_>>, DebugInfoError> {
        let bad = |e: gimli::Error| self.bad(start, format!("unit header: {e}"));
        let off = usize::try_from(start).map_err(|_| self.bad(start, "offset too large"))?;
        // the initial length (12 bytes at most) says how much of the section the unit needs
        let head = self.info_upto(off.saturating_add(12))?;
        let mut r = Slice::new(head.get(off..).unwrap_or(&[]), LittleEndian);
        let (len, format) = r.read_initial_length().map_err(bad)?;
        let end = len
            .checked_add(format.initial_length_size() as usize)
            .and_then(|n| n.checked_add(off))
            .ok_or_else(|| self.bad(start, "unit length overflows"))?;
        gimli::DebugInfo::new(self.info_upto(end)?, LittleEndian)
            .header_from_offset(DebugInfoOffset(off))
            .map_err(bad)
    }

    pub(crate) fn abbreviations(
        &self,
        header: &UnitHeader<Slice<'_>>,
    ) -> Result<Arc<gimli::Abbreviations>, DebugInfoError> {
        let key = header.debug_abbrev_offset().0 as u64;
        if let Ok(cache) = self.abbrev_cache.lock() {
            if let Some(a) = cache.get(&key) {
                return Ok(a.clone());
            }
        }
        let abbrev = gimli::DebugAbbrev::new(self.sec(&self.abbrev), LittleEndian);
        let a = Arc::new(
            header
                .abbreviations(&abbrev)
                .map_err(|e| self.bad(key, format!("abbreviations: {e}")))?,
        );
        if let Ok(mut cache) = self.abbrev_cache.lock() {
            cache.insert(key, a.clone());
        }
        Ok(a)
    }

    /// Abbreviations parsed without touching the shared cache (index scan: each unit once).
    pub(crate) fn abbreviations_uncached(
        &self,
        header: &UnitHeader<Slice<'_>>,
    ) -> Result<gimli::Abbreviations, DebugInfoError> {
        let abbrev = gimli::DebugAbbrev::new(self.sec(&self.abbrev), LittleEndian);
        let key = header.debug_abbrev_offset().0 as u64;
        header
            .abbreviations(&abbrev)
            .map_err(|e| self.bad(key, format!("abbreviations: {e}")))
    }

    /// The unit's string-offsets base: its root DIE's `DW_AT_str_offsets_base`, or the start
    /// of `.debug_str_offsets` past its header when absent. `None` for units that cannot use
    /// `DW_FORM_strx*` (before DWARF 5, or no `.debug_str_offsets`).
    pub(crate) fn str_base(
        &self,
        header: &UnitHeader<Slice<'_>>,
        abbrevs: &gimli::Abbreviations,
    ) -> Result<StrBase, DebugInfoError> {
        let start = header
            .offset()
            .as_debug_info_offset()
            .map(|o| o.0 as u64)
            .unwrap_or(0);
        if let Some(b) = self.split_bases.get(&start) {
            return Ok(*b);
        }
        if header.version() < 5 || self.sec(&self.str_offsets).is_empty() {
            return Ok(None);
        }
        let mut entries = header.entries(abbrevs);
        let root = entries
            .next_dfs()
            .map_err(|e| self.bad(start, format!("unit DIE: {e}")))?
            .map(|(_, e)| e);
        let attr = match root {
            Some(die) => die
                .attr_value(dw::DW_AT_str_offsets_base)
                .map_err(|e| self.bad(start, format!("unit DIE: {e}")))?,
            None => None,
        };
        let format = header.format();
        let base = match attr {
            Some(AttributeValue::DebugStrOffsetsBase(b)) => b,
            _ => gimli::DebugStrOffsetsBase::default_for_encoding_and_file(
                header.encoding(),
                gimli::DwarfFileType::Main,
            ),
        };
        Ok(Some((format, base)))
    }

    /// [`Self::str_base`] remembered per unit (the type loader parses one DIE at a time).
    pub(crate) fn str_base_cached(
        &self,
        header: &UnitHeader<Slice<'_>>,
        abbrevs: &gimli::Abbreviations,
    ) -> Result<StrBase, DebugInfoError> {
        if header.version() < 5 && self.split_bases.is_empty() {
            return Ok(None);
        }
        let key = header
            .offset()
            .as_debug_info_offset()
            .map(|o| o.0 as u64)
            .unwrap_or(0);
        if let Some(b) = self
            .str_bases
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
        {
            return Ok(b);
        }
        let b = self.str_base(header, abbrevs)?;
        if let Ok(mut m) = self.str_bases.lock() {
            m.insert(key, b);
        }
        Ok(b)
    }

    /// String value of an attribute: inline, `.debug_str`, `.debug_line_str`, or through the
    /// unit's `.debug_str_offsets` entries (`base`).
    pub(crate) fn attr_str<'a>(
        &'a self,
        value: &AttributeValue<Slice<'a>>,
        base: StrBase,
    ) -> Option<&'a [u8]> {
        let debug_str = || gimli::DebugStr::new(self.sec(&self.str_), LittleEndian);
        match value {
            AttributeValue::String(s) => Some(s.slice()),
            AttributeValue::DebugStrRef(o) => debug_str().get_str(*o).ok().map(|s| s.slice()),
            AttributeValue::DebugStrRefSup(o) => {
                let sup = self.sup()?;
                gimli::DebugStr::new(sup.sec(&sup.str_), LittleEndian)
                    .get_str(*o)
                    .ok()
                    .map(|s| s.slice())
            }
            AttributeValue::DebugLineStrRef(o) => {
                gimli::DebugLineStr::new(self.sec(&self.line_str), LittleEndian)
                    .get_str(*o)
                    .ok()
                    .map(|s| s.slice())
            }
            AttributeValue::DebugStrOffsetsIndex(i) => {
                let (format, base) = base?;
                let offsets = gimli::DebugStrOffsets::from(Slice::new(
                    self.sec(&self.str_offsets),
                    LittleEndian,
                ));
                let o = offsets.get_str_offset(format, base, *i).ok()?;
                debug_str().get_str(o).ok().map(|s| s.slice())
            }
            _ => None,
        }
    }

    pub(crate) fn unit_for(&self, offset: u64) -> Option<UnitSpan> {
        if let Some(units) = self.units.get() {
            let i = units.partition_point(|u| u.start <= offset);
            let u = *units.get(i.checked_sub(1)?)?;
            return (offset < u.end).then_some(u);
        }
        // Unit list not loaded: walk headers from the start only as far as needed (a type
        // found in the first units must not cost a read of every unit header).
        self.unit_spans_iter()
            .find(|u| u.start <= offset && offset < u.end)
    }

    /// Unit spans read header by header from the start of `.debug_info` (as it is inflated,
    /// when it is); ends at the first unreadable header.
    pub(crate) fn unit_spans_iter(&self) -> impl Iterator<Item = UnitSpan> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let (_, span) = self.unit_at(at).ok()??;
            at = span.end;
            Some(span)
        })
    }
}

/// The supplementary-file link of a dwz-processed file, if any.
fn sup_link_of(obj: &object::File<'_>) -> Option<SupLink> {
    let data = |name| obj.section_by_name(name).and_then(|s| s.data().ok());
    data(".gnu_debugaltlink")
        .and_then(SupLink::from_altlink)
        .or_else(|| data(".debug_sup").and_then(SupLink::from_debug_sup))
}

/// The GNU build-id of an ELF file, as lowercase hex (None: unreadable, not ELF, or none).
pub fn file_build_id(path: &std::path::Path) -> Option<String> {
    let f = crate::input::open_regular(path).ok()?;
    // SAFETY: read-only mapping; object bounds-checks every access.
    let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
    let obj = object::File::parse(&*map).ok()?;
    let id = obj.build_id().ok()??;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}
