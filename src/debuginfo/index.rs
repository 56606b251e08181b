//! Name index of a DWARF file: for every type name, its first definition in unit order.
//!
//! Built from a scan of the DIE stream that decodes attributes only for type DIEs at unit
//! level (and inside functions, where pahole also finds types); units are scanned in parallel
//! (rayon) and merged in unit order so that "first definition" matches pahole. The result is
//! cached under `$XDG_CACHE_HOME/vmscope/index/` keyed by build-id; a cache file is used only
//! if its header, key and checksum all match, otherwise it is rebuilt.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gimli::constants as dw;
use rayon::prelude::*;

use crate::types::model::NameKind;

use super::dwarf::{DebugInfoError, TypeDb, UnitSpan};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Struct = 0,
    Union = 1,
    Enum = 2,
    Typedef = 3,
    Base = 4,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            0 => Kind::Struct,
            1 => Kind::Union,
            2 => Kind::Enum,
            3 => Kind::Typedef,
            4 => Kind::Base,
            _ => return None,
        })
    }

    fn of_tag(tag: gimli::DwTag) -> Option<Kind> {
        Some(match tag {
            dw::DW_TAG_structure_type | dw::DW_TAG_class_type => Kind::Struct,
            dw::DW_TAG_union_type => Kind::Union,
            dw::DW_TAG_enumeration_type => Kind::Enum,
            dw::DW_TAG_typedef => Kind::Typedef,
            dw::DW_TAG_base_type => Kind::Base,
            _ => return None,
        })
    }

    fn matches(self, want: NameKind) -> bool {
        match want {
            NameKind::Any => true,
            NameKind::Composite => matches!(self, Kind::Struct | Kind::Union),
            NameKind::Struct => self == Kind::Struct,
            NameKind::Union => self == Kind::Union,
            NameKind::Enum => self == Kind::Enum,
            NameKind::Typedef => self == Kind::Typedef,
        }
    }
}

/// First definition of each name, per namespace.
#[derive(Default, Debug, PartialEq)]
pub struct NameIndex {
    /// any kind (what `pahole -C` finds first)
    any: HashMap<Box<str>, (u64, Kind)>,
    /// structs and unions share a namespace in pahole's full dump
    composite: HashMap<Box<str>, (u64, Kind)>,
    enums: HashMap<Box<str>, u64>,
    typedefs: HashMap<Box<str>, u64>,
    /// structs and unions defined at unit level: what pahole's full dump lists. It skips
    /// types local to functions (which `-C` still finds) and prints a name again for each
    /// definition of a different shape (size, members, member offsets), in unit order.
    composite_top: HashMap<Box<str>, Vec<(u64, u64)>>,
}

impl NameIndex {
    pub(crate) fn lookup(&self, name: &str, kind: NameKind) -> Option<u64> {
        match kind {
            NameKind::Any => self.any.get(name).map(|e| e.0),
            NameKind::Composite => self.composite.get(name).map(|e| e.0),
            NameKind::Struct | NameKind::Union => {
                self.composite.get(name).filter(|e| e.1.matches(kind)).map(|e| e.0)
            }
            NameKind::Enum => self.enums.get(name).copied(),
            NameKind::Typedef => self.typedefs.get(name).copied(),
        }
    }

    /// Unit-level struct and union names with their first definition, in `.debug_info` order
    /// (the order and choice of pahole's full dump).
    pub fn composites_in_order(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(u64, &str)> =
            self.composite_top.iter().flat_map(|(n, defs)| defs.iter().map(move |(o, _)| (*o, &**n))).collect();
        v.sort();
        v.into_iter().map(|(o, n)| (n.to_string(), o)).collect()
    }

    /// Every name of any kind (for "did you mean" suggestions).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.any.keys().map(|k| &**k)
    }

    pub fn len(&self) -> usize {
        self.any.len()
    }

    pub fn is_empty(&self) -> bool {
        self.any.is_empty()
    }

    fn insert(&mut self, name: &str, kind: Kind, off: u64, top: Option<u64>) {
        if let (Some(shape), Kind::Struct | Kind::Union) = (top, kind) {
            match self.composite_top.get_mut(name) {
                Some(defs) => {
                    if !defs.iter().any(|d| d.1 == shape) {
                        defs.push((off, shape));
                    }
                }
                None => {
                    self.composite_top.insert(name.into(), vec![(off, shape)]);
                }
            }
        }
        if !self.any.contains_key(name) {
            self.any.insert(name.into(), (off, kind));
        }
        match kind {
            Kind::Struct | Kind::Union => {
                if !self.composite.contains_key(name) {
                    self.composite.insert(name.into(), (off, kind));
                }
            }
            Kind::Enum => {
                if !self.enums.contains_key(name) {
                    self.enums.insert(name.into(), off);
                }
            }
            Kind::Typedef => {
                if !self.typedefs.contains_key(name) {
                    self.typedefs.insert(name.into(), off);
                }
            }
            Kind::Base => {}
        }
    }
}

/// One type definition seen by the scan.
struct Raw<'a> {
    name: &'a [u8],
    kind: Kind,
    offset: u64,
    /// shape hash of a unit-level struct/union (None: local to a function, or not a
    /// struct/union)
    top: Option<u64>,
}

/// Shape of a unit-level struct/union being read: what pahole compares to decide whether a
/// second definition of a name is "the same" (size, member count, member names, bit offsets,
/// bitfield widths).
struct ShapeBuilder {
    raw: usize,
    child_depth: usize,
    hash: u64,
    members: u64,
}

fn fnv_feed(mut h: u64, data: &[u8]) -> u64 {
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Scan one unit: named, non-declaration type DIEs whose ancestors are the unit, functions or
/// lexical blocks (where pahole's loader registers types), in DIE order. With `shapes`, the
/// members of unit-level structs/unions are decoded too, to hash their shape.
fn scan_unit<'a>(db: &'a TypeDb, span: UnitSpan, out: &mut Vec<Raw<'a>>, shapes: bool) -> Result<(), DebugInfoError> {
    let header = db.unit_header(span.start)?;
    let abbrevs = db.abbreviations_uncached(&header)?;
    let mut raw = header.entries_raw(&abbrevs, None).map_err(|e| db.bad(span.start, e.to_string()))?;
    // scope[d] = whether DIEs at depth d+1 can define types pahole registers
    let mut scope: Vec<bool> = Vec::with_capacity(32);
    let mut parent_ok = true; // the unit DIE itself sits at depth 0
    let mut shape: Option<ShapeBuilder> = None;
    while !raw.is_empty() {
        let die_off = span.start + raw.next_offset().0 as u64;
        let abbrev = match raw.read_abbreviation() {
            Ok(Some(a)) => a,
            Ok(None) => {
                // end of a sibling list
                scope.pop();
                parent_ok = scope.last().copied().unwrap_or(true);
                if let Some(sb) = &shape {
                    if scope.len() < sb.child_depth {
                        finish_shape(out, shape.take());
                    }
                }
                continue;
            }
            Err(e) => return Err(db.bad(die_off, e.to_string())),
        };
        let tag = abbrev.tag();
        let kind = if parent_ok && !scope.is_empty() { Kind::of_tag(tag) } else { None };
        let in_shape = shape.as_ref().is_some_and(|sb| scope.len() == sb.child_depth) && tag == dw::DW_TAG_member;
        if let Some(kind) = kind {
            let mut name: Option<&'a [u8]> = None;
            let mut decl = false;
            let mut size = 0u64;
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec).map_err(|e| db.bad(die_off, e.to_string()))?;
                match attr.name() {
                    dw::DW_AT_name => name = db.attr_str(&attr.value()),
                    dw::DW_AT_declaration => decl = matches!(attr.value(), gimli::AttributeValue::Flag(true)),
                    dw::DW_AT_byte_size => size = attr.udata_value().unwrap_or(0),
                    _ => {}
                }
            }
            if let (Some(name), false) = (name, decl) {
                let top = scope.len() == 1;
                let composite = matches!(kind, Kind::Struct | Kind::Union);
                out.push(Raw { name, kind, offset: die_off, top: if top { Some(0) } else { None } });
                if shapes && top && composite {
                    let sb = ShapeBuilder {
                        raw: out.len() - 1,
                        child_depth: scope.len() + 1,
                        hash: fnv_feed(0xcbf2_9ce4_8422_2325, &size.to_le_bytes()),
                        members: 0,
                    };
                    if abbrev.has_children() {
                        shape = Some(sb);
                    } else {
                        finish_shape(out, Some(sb));
                    }
                }
            }
        } else if in_shape {
            let mut m = MemberShape::default();
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec).map_err(|e| db.bad(die_off, e.to_string()))?;
                let v = attr.value();
                match attr.name() {
                    dw::DW_AT_name => m.name = db.attr_str(&v),
                    dw::DW_AT_data_member_location => m.location = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_data_bit_offset => m.data_bit_offset = attr.udata_value(),
                    dw::DW_AT_bit_size => m.bit_size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_byte_size => m.byte_size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_bit_offset => m.bit_offset_msb = attr.sdata_value().or(attr.udata_value().map(|x| x as i64)),
                    _ => {}
                }
            }
            if let Some(sb) = shape.as_mut() {
                sb.hash = m.feed(sb.hash);
                sb.members += 1;
            }
        } else {
            raw.skip_attributes(abbrev.attributes()).map_err(|e| db.bad(die_off, e.to_string()))?;
        }
        if abbrev.has_children() {
            let ok = parent_ok
                && matches!(
                    tag,
                    dw::DW_TAG_compile_unit
                        | dw::DW_TAG_partial_unit
                        | dw::DW_TAG_subprogram
                        | dw::DW_TAG_lexical_block
                );
            scope.push(ok);
            parent_ok = ok;
            if scope.len() > 4096 {
                return Err(db.bad(die_off, "DIE nesting deeper than 4096"));
            }
        }
    }
    finish_shape(out, shape.take());
    Ok(())
}

#[derive(Default)]
struct MemberShape<'a> {
    name: Option<&'a [u8]>,
    location: u64,
    data_bit_offset: Option<u64>,
    bit_offset_msb: Option<i64>,
    bit_size: u64,
    byte_size: u64,
}

impl MemberShape<'_> {
    fn feed(&self, h: u64) -> u64 {
        // absolute bit offset, as the type model computes it
        let bit_offset = match (self.data_bit_offset, self.bit_offset_msb) {
            (Some(d), _) => d,
            (None, Some(msb)) if self.bit_size != 0 => {
                let lsb = (self.byte_size as i64) * 8 - msb - self.bit_size as i64;
                ((self.location as i64) * 8 + lsb).max(0) as u64
            }
            _ => self.location.wrapping_mul(8),
        };
        let h = match self.name {
            Some(n) => fnv_feed(fnv_feed(h, &[1]), n),
            None => fnv_feed(h, &[0]),
        };
        let h = fnv_feed(h, &(bit_offset as u32).to_le_bytes());
        fnv_feed(h, &[self.bit_size as u8])
    }
}

fn finish_shape(out: &mut [Raw<'_>], sb: Option<ShapeBuilder>) {
    if let Some(sb) = sb {
        if let Some(r) = out.get_mut(sb.raw) {
            r.top = Some(fnv_feed(sb.hash, &sb.members.to_le_bytes()));
        }
    }
}

fn kind_wanted(kind: Kind, want: NameKind) -> bool {
    kind.matches(want)
}

/// Scan the first units sequentially for `name`; `Some` when found there. Bounded to a small
/// budget so that a late or missing name quickly falls through to the full index.
pub(crate) fn early_scan(db: &TypeDb, name: &str, want: NameKind) -> Result<Option<u64>, DebugInfoError> {
    const BUDGET_BYTES: u64 = 6 << 20;
    let mut scanned = 0u64;
    let mut buf = Vec::new();
    for span in db.units() {
        buf.clear();
        scan_unit(db, *span, &mut buf, false)?;
        if let Some(hit) = buf.iter().find(|r| r.name == name.as_bytes() && kind_wanted(r.kind, want)) {
            return Ok(Some(hit.offset));
        }
        scanned += span.end - span.start;
        if scanned > BUDGET_BYTES {
            break;
        }
    }
    Ok(None)
}

/// First definition of `name` in units `from..` (index into the unit list): unit index and DIE
/// offset. Units are scanned in parallel chunks, stopping at the first chunk with a hit.
pub(crate) fn scan_from(db: &TypeDb, name: &str, want: NameKind, from: usize) -> Result<Option<(usize, u64)>, DebugInfoError> {
    let units = db.units();
    let rest = units.get(from..).unwrap_or(&[]);
    for (ci, group) in rest.chunks(32).enumerate() {
        let hits: Vec<Result<Option<u64>, DebugInfoError>> = group
            .par_iter()
            .map(|span| {
                let mut v = Vec::new();
                scan_unit(db, *span, &mut v, false)?;
                Ok(v.iter().find(|r| r.name == name.as_bytes() && kind_wanted(r.kind, want)).map(|r| r.offset))
            })
            .collect();
        for (i, h) in hits.into_iter().enumerate() {
            if let Some(off) = h? {
                return Ok(Some((from + ci * 32 + i, off)));
            }
        }
    }
    Ok(None)
}

/// Build the whole index in parallel; units are merged in order (first definition wins).
pub(crate) fn build(db: &TypeDb) -> Result<NameIndex, DebugInfoError> {
    let units = db.units();
    let started = Instant::now();
    let progress = Progress::new(db.options().progress, units.len() as u64);
    // Chunks keep per-unit vectors short-lived and let the merge start early.
    let chunk = 64usize;
    let mut index = NameIndex::default();
    for group in units.chunks(chunk) {
        let parts: Vec<Result<Vec<Raw<'_>>, DebugInfoError>> = group
            .par_iter()
            .map(|span| {
                let mut v = Vec::new();
                scan_unit(db, *span, &mut v, true).map(|_| v)
            })
            .collect();
        for part in parts {
            for r in part? {
                let name = String::from_utf8_lossy(r.name);
                index.insert(&name, r.kind, r.offset, r.top);
            }
        }
        progress.tick(group.len() as u64, started);
    }
    progress.finish();
    Ok(index)
}

/// Progress bar on stderr, shown only on a terminal and only once indexing has taken > 1 s.
struct Progress {
    enabled: bool,
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
    total: u64,
    done: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new(wanted: bool, total: u64) -> Progress {
        use std::io::IsTerminal;
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            bar: std::sync::OnceLock::new(),
            total,
            done: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn tick(&self, n: u64, started: Instant) {
        let done = self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if !self.enabled || started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let b = indicatif::ProgressBar::new(self.total);
            b.set_message("indexing DWARF units");
            b
        });
        bar.set_position(done);
    }

    fn finish(&self) {
        if let Some(b) = self.bar.get() {
            b.finish_and_clear();
        }
    }
}

// ---------------------------------------------------------------- on-disk cache

const MAGIC: &[u8; 8] = b"VMSCIDX1";
const FORMAT_VERSION: u32 = 3;

/// `${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/index`
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("vmscope").join("index"))
}

/// Cache key: build-id when present, else a hash of path, size and mtime.
fn cache_key(db: &TypeDb) -> Vec<u8> {
    let mut key = Vec::new();
    match db.build_id() {
        Some(b) => {
            key.extend_from_slice(b"bid:");
            key.extend_from_slice(b);
        }
        None => {
            key.extend_from_slice(b"path:");
            key.extend_from_slice(db.path().to_string_lossy().as_bytes());
            if let Ok(md) = std::fs::metadata(db.path()) {
                key.extend_from_slice(&md.len().to_le_bytes());
                if let Ok(t) = md.modified() {
                    if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                        key.extend_from_slice(&d.as_nanos().to_le_bytes());
                    }
                }
            }
        }
    }
    key.extend_from_slice(&db.debug_info_len().to_le_bytes());
    key
}

fn cache_path(db: &TypeDb) -> Option<PathBuf> {
    let dir = db.options().cache_dir.clone()?;
    let key = cache_key(db);
    Some(dir.join(format!("{:016x}.idx", fnv1a(&key))))
}

/// FNV-1a, 64 bit: cheap integrity check of the cache payload (not a security boundary).
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn encode(index: &NameIndex, key: &[u8]) -> Vec<u8> {
    let mut entries: Vec<(&str, u8, u64, u8)> = Vec::new();
    for (n, (o, k)) in &index.any {
        entries.push((n, 0, *o, *k as u8));
    }
    for (n, (o, k)) in &index.composite {
        entries.push((n, 1, *o, *k as u8));
    }
    for (n, o) in &index.enums {
        entries.push((n, 2, *o, Kind::Enum as u8));
    }
    for (n, o) in &index.typedefs {
        entries.push((n, 3, *o, Kind::Typedef as u8));
    }
    for (n, defs) in &index.composite_top {
        for (o, shape) in defs {
            entries.push((n, 4, *o, Kind::Struct as u8));
            entries.push((n, 5, *shape, Kind::Struct as u8));
        }
    }
    let mut payload = Vec::with_capacity(entries.len() * 32);
    payload.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (n, table, off, kind) in entries {
        payload.push(table);
        payload.push(kind);
        payload.extend_from_slice(&off.to_le_bytes());
        payload.extend_from_slice(&(n.len() as u32).to_le_bytes());
        payload.extend_from_slice(n.as_bytes());
    }
    let mut out = Vec::with_capacity(payload.len() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Decode a cache file; `None` if anything at all is off (then the index is rebuilt).
fn decode(buf: &[u8], key: &[u8], info_len: u64) -> Option<NameIndex> {
    let mut r = Reader { buf, pos: 0 };
    if r.take(8)? != MAGIC || r.u32()? != FORMAT_VERSION {
        return None;
    }
    let klen = r.u32()? as usize;
    if r.take(klen)? != key {
        return None;
    }
    let plen = usize::try_from(r.u64()?).ok()?;
    let sum = r.u64()?;
    let payload = r.take(plen)?;
    if r.pos != buf.len() || fnv1a(payload) != sum {
        return None;
    }
    let mut p = Reader { buf: payload, pos: 0 };
    let n = p.u64()?;
    let mut ix = NameIndex::default();
    for _ in 0..n {
        let table = p.u8()?;
        let kind = Kind::from_u8(p.u8()?)?;
        let off = p.u64()?;
        if table != 5 && off >= info_len {
            return None;
        }
        let len = p.u32()? as usize;
        let name: Box<str> = std::str::from_utf8(p.take(len)?).ok()?.into();
        match table {
            0 => {
                ix.any.insert(name, (off, kind));
            }
            1 => {
                ix.composite.insert(name, (off, kind));
            }
            2 => {
                ix.enums.insert(name, off);
            }
            3 => {
                ix.typedefs.insert(name, off);
            }
            4 => {
                ix.composite_top.entry(name).or_default().push((off, 0));
            }
            5 => {
                // shape of the definition just read (table 4 entry before it)
                let last = ix.composite_top.get_mut(&name).and_then(|v| v.last_mut())?;
                last.1 = off;
            }
            _ => return None,
        }
    }
    (p.pos == payload.len()).then_some(ix)
}

pub(crate) fn try_load_cache(db: &TypeDb) -> Option<NameIndex> {
    let path = cache_path(db)?;
    let buf = std::fs::read(&path).ok()?;
    decode(&buf, &cache_key(db), db.debug_info_len())
}

fn store_cache(db: &TypeDb, index: &NameIndex) {
    let Some(path) = cache_path(db) else { return };
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let data = encode(index, &cache_key(db));
    // write to a private temp file, then rename: readers never see a half-written file
    let tmp = dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|f| f.to_str()).unwrap_or("idx"), std::process::id()));
    let ok = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(&data)).is_ok();
    if ok {
        let _ = std::fs::rename(&tmp, &path);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Cached index if valid, else build it (and cache it; a failing cache write is not an error).
pub(crate) fn load_or_build(db: &TypeDb) -> Result<NameIndex, DebugInfoError> {
    if let Some(ix) = try_load_cache(db) {
        return Ok(ix);
    }
    let ix = build(db)?;
    store_cache(db, &ix);
    Ok(ix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NameIndex {
        let mut ix = NameIndex::default();
        ix.insert("local", Kind::Struct, 0x10, None);
        ix.insert("task_struct", Kind::Struct, 0x100, Some(7));
        ix.insert("task_struct", Kind::Struct, 0x900, Some(7));
        ix.insert("pid_t", Kind::Typedef, 0x200, Some(0));
        ix.insert("maple_type", Kind::Enum, 0x300, Some(0));
        ix.insert("u", Kind::Union, 0x50, Some(1));
        ix.insert("local", Kind::Struct, 0x1000, Some(2));
        ix.insert("u", Kind::Union, 0x2000, Some(3));
        ix
    }

    #[test]
    fn first_definition_wins_and_order_is_by_offset() {
        let ix = sample();
        assert_eq!(ix.lookup("task_struct", NameKind::Composite), Some(0x100));
        assert_eq!(ix.lookup("u", NameKind::Struct), None);
        assert_eq!(ix.lookup("u", NameKind::Union), Some(0x50));
        let order: Vec<String> = ix.composites_in_order().into_iter().map(|(n, _)| n).collect();
        // a second definition of another shape is listed again, a same-shape one is not
        assert_eq!(order, vec!["u", "task_struct", "local", "u"]);
        // -C finds the function-local definition first, the full dump lists the unit-level one
        assert_eq!(ix.lookup("local", NameKind::Composite), Some(0x10));
        assert_eq!(ix.composites_in_order()[2].1, 0x1000);
    }

    #[test]
    fn cache_roundtrip_and_corruption_is_rejected() {
        let ix = sample();
        let key = b"bid:abc".to_vec();
        let enc = encode(&ix, &key);
        assert_eq!(decode(&enc, &key, 1 << 20), Some(ix));
        // wrong key (stale cache for another build)
        assert_eq!(decode(&enc, b"bid:abd", 1 << 20), None);
        // every single-byte flip and every truncation is rejected, never a panic
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x41;
            assert_eq!(decode(&bad, &key, 1 << 20), None, "flip at {i}");
            assert_eq!(decode(&enc[..i], &key, 1 << 20), None, "truncated at {i}");
        }
        // offsets beyond .debug_info are rejected
        assert_eq!(decode(&enc, &key, 0x200), None);
    }
}
