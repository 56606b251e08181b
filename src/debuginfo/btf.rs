//! BTF loader: raw BTF (`/sys/kernel/btf/vmlinux`) or the `.BTF` section of an ELF.
//!
//! Opening validates the whole blob once (header, every record's bounds, kind, names and
//! type references), recording where each type id's record starts. Nothing else is
//! materialised: a name lookup scans the record heads and compares names in place, and
//! [`BtfDb`] builds model types only for what one asked name needs.
//!
//! Format: Documentation/bpf/btf.rst of the Linux tree.

// Errors are built lazily (`ok_or_else`) on hot paths: an eager `BtfError` costs a drop
// call per record even when unused.
#![allow(clippy::unnecessary_lazy_evaluations)]

pub mod align_infer;
mod error;
mod header;
mod kinds;
mod source;
mod split;
mod type_db;

pub use type_db::{BtfDb, DEFAULT_CACHELINE};

pub use error::BtfError;
pub use header::{BtfHeader, BTF_MAGIC};
pub use kinds::{
    BtfArray, BtfEnumerator, BtfInt, BtfKind, BtfMember, BtfParam, BtfType, BtfVarSecinfo,
};

use header::Reader;
use source::Blob;

/// A type id; 0 is `void`.
pub type TypeId = u32;

/// A validated BTF blob.
pub struct Btf {
    blob: Blob,
    header: BtfHeader,
    /// Offset of each type id's record in the blob; index 0 (void) is unused.
    record_offsets: Vec<u32>,
    pointer_size: u32,
    /// Absolute [start, end) of the string section.
    strings: std::ops::Range<usize>,
    /// The file and, for an ELF, the section's file offset: for errors found after open.
    origin: Option<(String, Option<u64>)>,
    /// For split BTF opened on its base: where its own part lies in the merged blob.
    split: Option<split::SplitLayout>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("types", &self.type_count())
            .field("header", &self.header)
            .field("pointer_size", &self.pointer_size)
            .finish()
    }
}

impl Btf {
    /// Open raw BTF or an ELF file carrying a `.BTF` section. Errors name the file.
    pub fn open(path: &std::path::Path) -> Result<Btf, BtfError> {
        let (blob, elf_pointer_size) = source::load(path)?;
        let section_offset = blob.file_offset();
        let shown = path.display().to_string();
        let mut btf = Btf::from_blob(blob, elf_pointer_size)
            .map_err(|e| e.in_file(&shown, section_offset))?;
        btf.origin = Some((shown, section_offset));
        Ok(btf)
    }

    /// Open split BTF (raw, or a module's `.BTF`, compressed or not) on its base (raw BTF
    /// or an ELF's `.BTF`). Errors in the split's part name the split file and its own
    /// offsets; a split built on another base is refused (see [`Btf::check_base`]).
    pub fn open_split(path: &std::path::Path, base: &std::path::Path) -> Result<Btf, BtfError> {
        let (base_blob, _) = source::load(base)?;
        let base_shown = base.display().to_string();
        let base_in_file = |e: BtfError| e.in_file(&base_shown, base_blob.file_offset());
        BtfHeader::parse(base_blob.bytes()).map_err(base_in_file)?;
        let (blob, elf_pointer_size) = source::load(path)?;
        let section_offset = blob.file_offset();
        let shown = path.display().to_string();
        let (merged, layout) = split::merge(base_blob.bytes(), blob.bytes())
            .map_err(|e| e.in_file(&shown, section_offset))?;
        let in_file = |e: BtfError| -> BtfError {
            match e.offset() {
                Some(off) if layout.in_split(off) => {
                    let inner = Box::new(layout.to_split(e));
                    let on_base = match *inner {
                        BtfError::WrongBase { .. } => *inner,
                        _ => BtfError::OnBase {
                            base: base_shown.clone(),
                            inner,
                        },
                    };
                    on_base.in_file(&shown, section_offset)
                }
                _ => base_in_file(e),
            }
        };
        let mut btf = Btf::from_blob(Blob::Owned(merged), elf_pointer_size).map_err(in_file)?;
        btf.check_base(&layout, &base_shown).map_err(in_file)?;
        btf.origin = Some((shown, section_offset));
        btf.split = Some(layout);
        Ok(btf)
    }

    /// Split BTF held in memory (a loaded module's, read from a dump or /proc/kcore) on
    /// the base BTF `base` (the kernel's), checked as [`Btf::open_split`] checks a file.
    pub fn from_split_bytes(base: &[u8], split: &[u8], what: &str) -> Result<Btf, BtfError> {
        let (merged, layout) = split::merge(base, split)?;
        let mut btf = Btf::from_blob(Blob::Owned(merged), None).map_err(|e| layout.to_split(e))?;
        btf.check_base(&layout, what)
            .map_err(|e| layout.to_split(e))?;
        btf.split = Some(layout);
        Ok(btf)
    }

    /// The raw BTF bytes (for split BTF: base and split merged).
    pub fn bytes(&self) -> &[u8] {
        self.blob.bytes()
    }

    /// A split BTF names base strings by their offsets in the base's string section; on the
    /// base it was built on each lands at the start of a string. On another base nearly every
    /// such offset lands inside one, which no libbpf- or pahole-written BTF does.
    fn check_base(&self, layout: &split::SplitLayout, base: &str) -> Result<(), BtfError> {
        let strs = self.blob.bytes().get(self.strings.clone()).unwrap_or(&[]);
        let first_split = self
            .record_offsets
            .iter()
            .position(|&o| o as usize >= layout.split_types_start)
            .unwrap_or(self.record_offsets.len());
        for id in first_split.max(1)..self.record_offsets.len() {
            let ty = self.type_by_id(id as TypeId)?;
            ty.for_each_name(|name_off, what| {
                let at = name_off as usize;
                if at == 0 || at >= layout.base_str_len || strs.get(at - 1) == Some(&0) {
                    return Ok(());
                }
                Err(BtfError::WrongBase {
                    id: ty.id,
                    what,
                    name_off,
                    offset: ty.offset,
                    base: base.to_string(),
                })
            })?;
        }
        Ok(())
    }

    /// Name the file in an error found while following types after open.
    pub fn with_origin(&self, e: BtfError) -> BtfError {
        let e = match (&self.split, e.offset()) {
            (Some(layout), Some(off)) if layout.in_split(off) => layout.to_split(e),
            _ => e,
        };
        match &self.origin {
            Some((path, section_offset)) => e.in_file(path, *section_offset),
            None => e,
        }
    }

    /// Parse BTF held in memory (tests, and BTF read from a dump).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Btf, BtfError> {
        Btf::from_blob(Blob::Owned(bytes), None)
    }

    fn from_blob(blob: Blob, elf_pointer_size: Option<u32>) -> Result<Btf, BtfError> {
        let data = blob.bytes();
        let header = BtfHeader::parse(data)?;
        let strings = range_usize(header.strings_range());
        check_string_section(data, &strings)?;
        let (record_offsets, reach) = index_records(data, &header)?;
        let mut btf = Btf {
            blob,
            header,
            record_offsets,
            pointer_size: 8,
            strings,
            origin: None,
            split: None,
        };
        // The indexing pass saw the largest references: only when one is out of range
        // are the records walked again, for the first bad one in id order.
        if reach.name_off as usize >= btf.strings.len() || reach.type_id >= btf.type_count() {
            btf.validate_references()?;
        }
        btf.pointer_size = elf_pointer_size.unwrap_or_else(|| btf.guess_pointer_size());
        Ok(btf)
    }

    pub fn header(&self) -> &BtfHeader {
        &self.header
    }

    /// Number of type ids including void (id 0): valid ids are `0..type_count()`.
    pub fn type_count(&self) -> u32 {
        self.record_offsets.len() as u32
    }

    /// Size of a pointer: from the ELF class, else the size of `long` as libbpf guesses it, else 8.
    pub fn pointer_size(&self) -> u32 {
        self.pointer_size
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            data: self.blob.bytes(),
            big_endian: self.header.big_endian,
        }
    }

    /// The record of type `id` (not for id 0, which is void and has none).
    pub fn type_by_id(&self, id: TypeId) -> Result<BtfType<'_>, BtfError> {
        let offset = match self.record_offsets.get(id as usize) {
            Some(&off) if id != 0 => off as usize,
            _ => {
                return Err(BtfError::NoSuchType {
                    id,
                    count: self.type_count(),
                })
            }
        };
        BtfType::decode(self.reader(), id, offset)
    }

    /// The kind of type `id`, read from its record head alone (void has none: an error).
    pub fn kind_of(&self, id: TypeId) -> Result<BtfKind, BtfError> {
        let offset = match self.record_offsets.get(id as usize) {
            Some(&off) if id != 0 => off as usize,
            _ => {
                return Err(BtfError::NoSuchType {
                    id,
                    count: self.type_count(),
                })
            }
        };
        let info = self.reader().u32_at(offset + 4, "type record")?;
        let raw = (info >> 24) & 0x1f;
        BtfKind::from_raw(raw).ok_or_else(|| BtfError::UnknownKind {
            id,
            kind: raw,
            offset,
        })
    }

    /// Every type record in id order (ids 1..).
    pub fn types(&self) -> impl Iterator<Item = Result<BtfType<'_>, BtfError>> + '_ {
        (1..self.type_count()).map(move |id| self.type_by_id(id))
    }

    /// The string at `name_off` in the string section ("" for 0).
    pub fn name(&self, name_off: u32) -> Result<&str, BtfError> {
        let bytes = self
            .name_bytes(name_off)
            .ok_or_else(|| BtfError::StringOffset {
                id: 0,
                what: "string",
                name_off,
                str_len: self.strings.len(),
                offset: self.strings.start,
            })?;
        std::str::from_utf8(bytes).map_err(|_| BtfError::StringUtf8 {
            name_off,
            offset: self.strings.start + name_off as usize,
        })
    }

    fn name_bytes(&self, name_off: u32) -> Option<&[u8]> {
        let strs = self.blob.bytes().get(self.strings.clone())?;
        let tail = strs.get(name_off as usize..)?;
        let len = tail.iter().position(|&b| b == 0)?;
        tail.get(..len)
    }

    /// Ids of every type named `name` whose kind is one of `kinds` (all kinds if empty),
    /// in id order. Scans the record heads; no index is built.
    pub fn find_by_name(&self, name: &str, kinds: &[BtfKind]) -> Vec<TypeId> {
        self.scan_by_name(name, kinds, false)
    }

    fn scan_by_name(&self, name: &str, kinds: &[BtfKind], first_only: bool) -> Vec<TypeId> {
        let want = name.as_bytes();
        let data = self.blob.bytes();
        let Some(strs) = data.get(self.strings.clone()) else {
            return Vec::new();
        };
        let r = self.reader();
        let mut found = Vec::new();
        for (id, &off) in self.record_offsets.iter().enumerate().skip(1) {
            let off = off as usize;
            let (Some(name_off), Some(info)) = (r.get_u32(off), r.get_u32(off + 4)) else {
                continue;
            };
            if name_off == 0 {
                continue;
            }
            let start = name_off as usize;
            let matches = strs.get(start..start + want.len()) == Some(want)
                && strs.get(start + want.len()) == Some(&0);
            if !matches {
                continue;
            }
            let kind = BtfKind::from_raw((info >> 24) & 0x1f);
            if kinds.is_empty() || kind.is_some_and(|k| kinds.contains(&k)) {
                found.push(id as TypeId);
                if first_only {
                    break;
                }
            }
        }
        found
    }

    /// The first type id (in id order) named `name` whose kind is in `kinds`: the one
    /// `pahole -C NAME` shows. Stops at the first hit.
    pub fn find_first_by_name(&self, name: &str, kinds: &[BtfKind]) -> Option<TypeId> {
        self.scan_by_name(name, kinds, true).into_iter().next()
    }

    /// Every validated name reference and type reference is in range; done once at open.
    fn validate_references(&self) -> Result<(), BtfError> {
        let count = self.type_count();
        let str_len = self.strings.len();
        for ty in self.types() {
            let ty = ty?;
            let (id, offset) = (ty.id, ty.offset);
            ty.for_each_name(|name_off, what| {
                if (name_off as usize) < str_len {
                    Ok(())
                } else {
                    Err(BtfError::StringOffset {
                        id,
                        what,
                        name_off,
                        str_len,
                        offset,
                    })
                }
            })?;
            ty.for_each_type_ref(|target, what| {
                if target < count {
                    Ok(())
                } else {
                    Err(BtfError::TypeIdOutOfRange {
                        id,
                        what,
                        target,
                        count,
                        offset,
                    })
                }
            })?;
        }
        Ok(())
    }

    /// libbpf's rule: the size of an INT named like `long`, if 4 or 8.
    fn guess_pointer_size(&self) -> u32 {
        const LONG_NAMES: [&str; 6] = [
            "long int",
            "long unsigned int",
            "long",
            "unsigned long",
            "long signed int",
            "signed long",
        ];
        for ty in self.types().flatten() {
            if ty.kind == BtfKind::Int && matches!(ty.size_or_type, 4 | 8) {
                if let Ok(name) = self.name(ty.name_off) {
                    if LONG_NAMES.contains(&name) {
                        return ty.size_or_type;
                    }
                }
            }
        }
        8
    }
}

fn range_usize(r: std::ops::Range<u64>) -> std::ops::Range<usize> {
    // The header check bounded both ends by the blob length, so they fit in usize.
    (r.start as usize)..(r.end as usize)
}

/// The string section starts with the empty string and ends with a NUL, so every
/// in-range offset yields a terminated string.
fn check_string_section(data: &[u8], strings: &std::ops::Range<usize>) -> Result<(), BtfError> {
    let strs = data.get(strings.clone()).unwrap_or(&[]);
    match (strs.first(), strs.last()) {
        (None, _) => Err(BtfError::BadStrings {
            offset: strings.start,
            reason: "string section is empty",
        }),
        (Some(&first), _) if first != 0 => Err(BtfError::NeedsBase {
            offset: strings.start,
        }),
        (_, Some(&last)) if last != 0 => Err(BtfError::BadStrings {
            offset: strings.end.saturating_sub(1),
            reason: "last string is not NUL-terminated",
        }),
        _ => Ok(()),
    }
}

/// Walk the type section record by record and note where each id starts.
/// The largest string offset and type id any record refers to.
#[derive(Default)]
struct Reach {
    name_off: u32,
    type_id: u32,
}

fn index_records(data: &[u8], header: &BtfHeader) -> Result<(Vec<u32>, Reach), BtfError> {
    let types = range_usize(header.types_range());
    // The records are read through a reader limited to the type section, so a tail
    // running into the string section is reported as truncated.
    let section = Reader {
        data: data.get(..types.end).unwrap_or(&[]),
        big_endian: header.big_endian,
    };
    let mut offsets = Vec::with_capacity(header.type_len as usize / 24 + 1);
    let mut reach = Reach::default();
    offsets.push(0); // void
    let mut off = types.start;
    while off < types.end {
        let id = offsets.len() as u32;
        let ty = BtfType::decode(section, id, off)?;
        // The closures never fail: they only note the largest references.
        let _ = ty.for_each_name(|n, _| {
            reach.name_off = reach.name_off.max(n);
            Ok(())
        });
        let _ = ty.for_each_type_ref(|t, _| {
            reach.type_id = reach.type_id.max(t);
            Ok(())
        });
        offsets.push(off as u32);
        off += ty.record_len();
    }
    Ok((offsets, reach))
}

/// Longest chain of typedefs, modifiers and arrays followed before declaring a cycle.
/// Real kernels stay under 20.
pub const MAX_CHAIN: usize = 64;

impl Btf {
    /// Follow typedefs and CONST/VOLATILE/RESTRICT/TYPE_TAG to the underlying type id.
    pub fn strip_typedefs_and_modifiers(&self, mut id: TypeId) -> Result<TypeId, BtfError> {
        for _ in 0..MAX_CHAIN {
            if id == 0 {
                return Ok(0);
            }
            let ty = self.type_by_id(id)?;
            match ty.kind {
                BtfKind::Typedef
                | BtfKind::Const
                | BtfKind::Volatile
                | BtfKind::Restrict
                | BtfKind::TypeTag => id = ty.size_or_type,
                _ => return Ok(id),
            }
        }
        Err(self.cycle_error(id))
    }

    /// Byte size of type `id` as the compiler laid it out (void and functions: 0).
    pub fn type_size(&self, id: TypeId) -> Result<u64, BtfError> {
        let mut id = id;
        let mut multiplier: u64 = 1;
        for _ in 0..MAX_CHAIN {
            if id == 0 {
                return Ok(0);
            }
            let ty = self.type_by_id(id)?;
            match ty.kind {
                BtfKind::Int
                | BtfKind::Struct
                | BtfKind::Union
                | BtfKind::Enum
                | BtfKind::Enum64
                | BtfKind::Float
                | BtfKind::Datasec => {
                    return Ok(multiplier.saturating_mul(u64::from(ty.size_or_type)))
                }
                BtfKind::Ptr => return Ok(multiplier.saturating_mul(u64::from(self.pointer_size))),
                BtfKind::Array => {
                    let a = ty.array().ok_or_else(|| self.cycle_error(id))?;
                    multiplier = multiplier.saturating_mul(u64::from(a.nelems));
                    id = a.elem_type;
                }
                BtfKind::Typedef
                | BtfKind::Const
                | BtfKind::Volatile
                | BtfKind::Restrict
                | BtfKind::TypeTag
                | BtfKind::Var
                | BtfKind::DeclTag => id = ty.size_or_type,
                BtfKind::Fwd | BtfKind::Func | BtfKind::FuncProto => return Ok(0),
            }
        }
        Err(self.cycle_error(id))
    }

    fn cycle_error(&self, id: TypeId) -> BtfError {
        let offset = self
            .record_offsets
            .get(id as usize)
            .map_or(0, |&o| o as usize);
        BtfError::Cycle {
            id,
            limit: MAX_CHAIN,
            offset,
        }
    }
}

#[cfg(test)]
mod tests;
