//! Name index of a DWARF file: for every type name, its first definition in unit order.
//!
//! Built from a scan of the DIE stream that decodes attributes only for type DIEs at unit
//! level (and inside functions, where pahole also finds types); units are scanned in parallel
//! (rayon) and merged in unit order so that "first definition" matches pahole. The result is
//! cached under `$XDG_CACHE_HOME/vmscope/index/` keyed by build-id; a cache file is used only
//! if its header, key and checksum all match, otherwise it is rebuilt.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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

/// Multiplicative hasher for the many short names of an index build (SipHash is the cost
/// that dominates otherwise; these keys are not attacker-chosen collisions worth defending).
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ *b as u64).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// First definition of each name, per namespace.
#[derive(Default, Debug, PartialEq)]
pub struct NameIndex {
    /// any kind (what `pahole -C` finds first)
    any: FxMap<Box<str>, (u64, Kind)>,
    /// structs and unions share a namespace in pahole's full dump
    composite: FxMap<Box<str>, (u64, Kind)>,
    enums: FxMap<Box<str>, u64>,
    typedefs: FxMap<Box<str>, u64>,
    /// whether `composite_top` carries definition shapes (needed only for the full listing)
    has_shapes: bool,
    /// structs and unions defined at unit level: what pahole's full dump lists. It skips
    /// types local to functions (which `-C` still finds) and prints a name again for each
    /// definition of a different shape (size, members, member offsets), in unit order.
    composite_top: FxMap<Box<str>, Vec<(u64, u64)>>,
}

impl NameIndex {
    /// Append the definitions of a later group of units (first definition wins).
    fn merge(&mut self, later: NameIndex) {
        for (k, v) in later.any {
            self.any.entry(k).or_insert(v);
        }
        for (k, v) in later.composite {
            self.composite.entry(k).or_insert(v);
        }
        for (k, v) in later.enums {
            self.enums.entry(k).or_insert(v);
        }
        for (k, v) in later.typedefs {
            self.typedefs.entry(k).or_insert(v);
        }
        for (k, defs) in later.composite_top {
            match self.composite_top.get_mut(&k) {
                Some(mine) => {
                    for d in defs {
                        if !mine.iter().any(|m| m.1 == d.1) {
                            mine.push(d);
                        }
                    }
                }
                None => {
                    self.composite_top.insert(k, defs);
                }
            }
        }
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
fn scan_unit<'a>(
    db: &'a TypeDb,
    span: UnitSpan,
    out: &mut Vec<Raw<'a>>,
    shapes: bool,
) -> Result<(), DebugInfoError> {
    let header = db.unit_header(span.start)?;
    let abbrevs = db.abbreviations_uncached(&header)?;
    let mut raw = header
        .entries_raw(&abbrevs, None)
        .map_err(|e| db.bad(span.start, e.to_string()))?;
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
        let kind = if parent_ok && !scope.is_empty() {
            Kind::of_tag(tag)
        } else {
            None
        };
        let in_shape = shape
            .as_ref()
            .is_some_and(|sb| scope.len() == sb.child_depth)
            && tag == dw::DW_TAG_member;
        // Children worth reading: those of the unit, of functions and lexical blocks (types
        // pahole registers live there) and, for shapes, the members of unit-level structs.
        let container = parent_ok
            && matches!(
                tag,
                dw::DW_TAG_compile_unit
                    | dw::DW_TAG_partial_unit
                    | dw::DW_TAG_subprogram
                    | dw::DW_TAG_lexical_block
            );
        let mut descend = container;
        let mut sibling: Option<usize> = None;
        if let Some(kind) = kind {
            let mut name: Option<&'a [u8]> = None;
            let mut decl = false;
            let mut size = 0u64;
            for spec in abbrev.attributes() {
                let attr = raw
                    .read_attribute(*spec)
                    .map_err(|e| db.bad(die_off, e.to_string()))?;
                match attr.name() {
                    dw::DW_AT_name => name = db.attr_str(&attr.value()),
                    dw::DW_AT_declaration => {
                        decl = matches!(attr.value(), gimli::AttributeValue::Flag(true))
                    }
                    dw::DW_AT_byte_size => size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_sibling => {
                        if let gimli::AttributeValue::UnitRef(o) = attr.value() {
                            sibling = Some(o.0);
                        }
                    }
                    _ => {}
                }
            }
            if let (Some(name), false) = (name, decl) {
                let top = scope.len() == 1;
                let composite = matches!(kind, Kind::Struct | Kind::Union);
                out.push(Raw {
                    name,
                    kind,
                    offset: die_off,
                    top: if top { Some(0) } else { None },
                });
                if shapes && top && composite {
                    let sb = ShapeBuilder {
                        raw: out.len() - 1,
                        child_depth: scope.len() + 1,
                        hash: fnv_feed(0xcbf2_9ce4_8422_2325, &size.to_le_bytes()),
                        members: 0,
                    };
                    if abbrev.has_children() {
                        shape = Some(sb);
                        descend = true;
                    } else {
                        finish_shape(out, Some(sb));
                    }
                }
            }
        } else if in_shape {
            let mut m = MemberShape::default();
            for spec in abbrev.attributes() {
                let attr = raw
                    .read_attribute(*spec)
                    .map_err(|e| db.bad(die_off, e.to_string()))?;
                let v = attr.value();
                match attr.name() {
                    dw::DW_AT_name => m.name = db.attr_str(&v),
                    dw::DW_AT_data_member_location => m.location = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_data_bit_offset => m.data_bit_offset = attr.udata_value(),
                    dw::DW_AT_bit_size => m.bit_size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_byte_size => m.byte_size = attr.udata_value().unwrap_or(0),
                    dw::DW_AT_bit_offset => {
                        m.bit_offset_msb =
                            attr.sdata_value().or(attr.udata_value().map(|x| x as i64))
                    }
                    _ => {}
                }
            }
            if let Some(sb) = shape.as_mut() {
                sb.hash = m.feed(sb.hash);
                sb.members += 1;
            }
        } else if abbrev.has_children()
            && !container
            && abbrev
                .attributes()
                .iter()
                .any(|a| a.name() == dw::DW_AT_sibling)
        {
            for spec in abbrev.attributes() {
                let attr = raw
                    .read_attribute(*spec)
                    .map_err(|e| db.bad(die_off, e.to_string()))?;
                if attr.name() == dw::DW_AT_sibling {
                    if let gimli::AttributeValue::UnitRef(o) = attr.value() {
                        sibling = Some(o.0);
                    }
                }
            }
        } else {
            raw.skip_attributes(abbrev.attributes())
                .map_err(|e| db.bad(die_off, e.to_string()))?;
        }
        if abbrev.has_children() {
            // Jump over a subtree of no interest (struct members, enumerators, inlined
            // subroutines, call sites...) when the DIE says where its next sibling is.
            if !descend {
                if let Some(sib) = sibling.filter(|s| *s > raw.next_offset().0) {
                    raw = header
                        .entries_raw(&abbrevs, Some(gimli::UnitOffset(sib)))
                        .map_err(|e| db.bad(die_off, e.to_string()))?;
                    continue;
                }
            }
            let ok = container;
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
pub(crate) fn early_scan(
    db: &TypeDb,
    name: &str,
    want: NameKind,
) -> Result<Option<u64>, DebugInfoError> {
    // pahole reads DWARF at roughly 20 MB/s; past 16 MB the parallel index is the faster way.
    const BUDGET_BYTES: u64 = 16 << 20;
    let mut scanned = 0u64;
    let mut buf = Vec::new();
    for span in db.unit_spans_iter() {
        buf.clear();
        scan_unit(db, span, &mut buf, false)?;
        if let Some(hit) = buf
            .iter()
            .find(|r| r.name == name.as_bytes() && kind_wanted(r.kind, want))
        {
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
pub(crate) fn scan_from(
    db: &TypeDb,
    name: &str,
    want: NameKind,
    from: usize,
) -> Result<Option<(usize, u64)>, DebugInfoError> {
    let units = db.units()?;
    let rest = units.get(from..).unwrap_or(&[]);
    for (ci, group) in rest.chunks(32).enumerate() {
        let hits: Vec<Result<Option<u64>, DebugInfoError>> = group
            .par_iter()
            .map(|span| {
                let mut v = Vec::new();
                scan_unit(db, *span, &mut v, false)?;
                Ok(v.iter()
                    .find(|r| r.name == name.as_bytes() && kind_wanted(r.kind, want))
                    .map(|r| r.offset))
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

/// Build the whole index in parallel: groups of consecutive units are indexed independently
/// (first definition within the group), then merged in unit order. With `shapes`, unit-level
/// structs/unions also get their shape (for the full listing).
pub(crate) fn build(db: &TypeDb, shapes: bool) -> Result<NameIndex, DebugInfoError> {
    let units = db.units()?;
    // the scan reads .debug_info front to back
    db.advise_sequential();
    let started = Instant::now();
    let progress = Progress::new(db.options().progress, units.len() as u64);
    let group = (units.len() / 64).max(4);
    let parts: Vec<Result<NameIndex, DebugInfoError>> = units
        .par_chunks(group)
        .map(|spans| {
            let mut ix = NameIndex::default();
            let mut buf = Vec::new();
            for span in spans {
                buf.clear();
                scan_unit(db, *span, &mut buf, shapes)?;
                for r in &buf {
                    let name = String::from_utf8_lossy(r.name);
                    ix.insert(&name, r.kind, r.offset, r.top);
                }
            }
            progress.tick(spans.len() as u64, started);
            Ok(ix)
        })
        .collect();
    let mut index = NameIndex {
        has_shapes: shapes,
        ..NameIndex::default()
    };
    for part in parts {
        index.merge(part?);
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
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} units")
            {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message("vmscope: indexing DWARF");
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
const FORMAT_VERSION: u32 = 6;

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
    Some(dir.join(format!("{:016x}.idx", checksum(&key))))
}

/// 64-bit checksum of the cache payload, eight bytes at a time (integrity against torn or
/// damaged files, not a security boundary).
fn checksum(data: &[u8]) -> u64 {
    let mut h = FxHasher(0x243f_6a88_85a3_08d3);
    h.write(data);
    h.write_usize(data.len());
    h.finish()
}

const NONE: u64 = u64::MAX;
const REC: usize = 48;
const TOP: usize = 24;
const HEAD: usize = 9;

/// Serialise an index: records sorted by name (binary-searchable in place), then the
/// full-listing table sorted by offset, then the name bytes.
fn encode_payload(index: &NameIndex) -> Vec<u8> {
    let mut names: Vec<&str> = index
        .any
        .keys()
        .chain(index.composite.keys())
        .chain(index.enums.keys())
        .chain(index.typedefs.keys())
        .chain(index.composite_top.keys())
        .map(|k| &**k)
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut top: Vec<(u64, u64, u32)> = Vec::new();
    let mut blob = Vec::new();
    let mut recs = Vec::with_capacity(names.len() * REC);
    for (i, n) in names.iter().enumerate() {
        let (any_off, any_kind) = index
            .any
            .get(*n)
            .map(|e| (e.0, e.1 as u8))
            .unwrap_or((NONE, 0));
        let (comp_off, comp_kind) = index
            .composite
            .get(*n)
            .map(|e| (e.0, e.1 as u8))
            .unwrap_or((NONE, 0));
        recs.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        recs.extend_from_slice(&(n.len() as u32).to_le_bytes());
        recs.extend_from_slice(&any_off.to_le_bytes());
        recs.extend_from_slice(&comp_off.to_le_bytes());
        recs.extend_from_slice(&index.enums.get(*n).copied().unwrap_or(NONE).to_le_bytes());
        recs.extend_from_slice(
            &index
                .typedefs
                .get(*n)
                .copied()
                .unwrap_or(NONE)
                .to_le_bytes(),
        );
        recs.extend_from_slice(&[any_kind, comp_kind, 0, 0, 0, 0, 0, 0]);
        blob.extend_from_slice(n.as_bytes());
        if let Some(defs) = index.composite_top.get(*n) {
            for (off, shape) in defs {
                top.push((*off, *shape, i as u32));
            }
        }
    }
    top.sort_unstable();
    let mut out = Vec::with_capacity(HEAD + recs.len() + top.len() * TOP + blob.len());
    out.push(index.has_shapes as u8);
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    out.extend_from_slice(&(top.len() as u32).to_le_bytes());
    out.extend_from_slice(&recs);
    for (off, shape, rec) in top {
        out.extend_from_slice(&rec.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&shape.to_le_bytes());
    }
    out.extend_from_slice(&blob);
    out
}

fn wrap(payload: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + key.len() + 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn rd_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The name index in its serialised form, queried in place (binary search over the sorted
/// records): loading a cached index costs one read and one checksum, no hash-map building.
#[derive(Debug, PartialEq)]
pub struct IndexFile {
    payload: Vec<u8>,
    nrec: usize,
    ntop: usize,
    info_len: u64,
    spans: Vec<UnitSpan>,
}

impl IndexFile {
    fn from_payload(payload: Vec<u8>, info_len: u64) -> Option<IndexFile> {
        let flag = *payload.first()?;
        if flag > 1 {
            return None;
        }
        let nrec = rd_u32(&payload, 1)? as usize;
        let ntop = rd_u32(&payload, 5)? as usize;
        let blob = HEAD
            .checked_add(nrec.checked_mul(REC)?)?
            .checked_add(ntop.checked_mul(TOP)?)?;
        // trailer: unit spans, then their count
        let nspans = rd_u32(&payload, payload.len().checked_sub(4)?)? as usize;
        let spans_at = payload
            .len()
            .checked_sub(4)?
            .checked_sub(nspans.checked_mul(16)?)?;
        if blob > spans_at {
            return None;
        }
        let mut spans = Vec::with_capacity(nspans);
        let mut prev_end = 0u64;
        for i in 0..nspans {
            let start = rd_u64(&payload, spans_at + i * 16)?;
            let end = rd_u64(&payload, spans_at + i * 16 + 8)?;
            if start < prev_end || end <= start || end > info_len {
                return None;
            }
            prev_end = end;
            spans.push(UnitSpan { start, end });
        }
        Some(IndexFile {
            payload,
            nrec,
            ntop,
            info_len,
            spans,
        })
    }

    pub(crate) fn from_index(
        ix: &NameIndex,
        spans: &[UnitSpan],
        info_len: u64,
    ) -> Option<IndexFile> {
        let mut payload = encode_payload(ix);
        for s in spans {
            payload.extend_from_slice(&s.start.to_le_bytes());
            payload.extend_from_slice(&s.end.to_le_bytes());
        }
        payload.extend_from_slice(&(spans.len() as u32).to_le_bytes());
        IndexFile::from_payload(payload, info_len)
    }

    /// Compilation-unit boundaries recorded with the index.
    pub(crate) fn unit_spans(&self) -> Vec<UnitSpan> {
        self.spans.clone()
    }

    pub(crate) fn has_shapes(&self) -> bool {
        self.payload.first() == Some(&1)
    }

    fn blob_start(&self) -> usize {
        HEAD + self.nrec * REC + self.ntop * TOP
    }

    fn rec(&self, i: usize) -> usize {
        HEAD + i * REC
    }

    fn name(&self, i: usize) -> Option<&str> {
        let r = self.rec(i);
        let off = rd_u32(&self.payload, r)? as usize;
        let len = rd_u32(&self.payload, r + 4)? as usize;
        let start = self.blob_start().checked_add(off)?;
        std::str::from_utf8(self.payload.get(start..start.checked_add(len)?)?).ok()
    }

    fn find_rec(&self, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.nrec);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid)?.cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn valid(&self, off: u64) -> Option<u64> {
        (off != NONE && off < self.info_len).then_some(off)
    }

    pub(crate) fn lookup(&self, name: &str, kind: NameKind) -> Option<u64> {
        let r = self.rec(self.find_rec(name)?);
        let p = &self.payload;
        let kinds = p.get(r + 40..r + 42)?;
        let (any_kind, comp_kind) = (
            Kind::from_u8(*kinds.first()?),
            Kind::from_u8(*kinds.get(1)?),
        );
        let off = match kind {
            NameKind::Any => {
                any_kind?;
                rd_u64(p, r + 8)?
            }
            NameKind::Composite => rd_u64(p, r + 16)?,
            NameKind::Struct | NameKind::Union => {
                if !comp_kind?.matches(kind) {
                    return None;
                }
                rd_u64(p, r + 16)?
            }
            NameKind::Enum => rd_u64(p, r + 24)?,
            NameKind::Typedef => rd_u64(p, r + 32)?,
        };
        self.valid(off)
    }

    /// Unit-level struct and union definitions pahole's full listing prints, in order.
    pub fn composites_in_order(&self) -> Vec<(String, u64)> {
        let base = HEAD + self.nrec * REC;
        (0..self.ntop)
            .filter_map(|i| {
                let at = base + i * TOP;
                let rec = rd_u32(&self.payload, at)? as usize;
                let off = self.valid(rd_u64(&self.payload, at + 8)?)?;
                Some((self.name(rec)?.to_string(), off))
            })
            .collect()
    }

    /// Every name of any kind (for "did you mean" suggestions).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        (0..self.nrec).filter_map(|i| self.name(i))
    }

    pub fn len(&self) -> usize {
        self.nrec
    }

    pub fn is_empty(&self) -> bool {
        self.nrec == 0
    }
}

/// Validate a cache file: magic, version, key, length and checksum; `None` if anything is off
/// (then the index is rebuilt).
fn decode(buf: &[u8], key: &[u8], info_len: u64) -> Option<IndexFile> {
    if buf.get(0..8)? != MAGIC || rd_u32(buf, 8)? != FORMAT_VERSION {
        return None;
    }
    let klen = rd_u32(buf, 12)? as usize;
    let kend = 16usize.checked_add(klen)?;
    if buf.get(16..kend)? != key {
        return None;
    }
    let plen = usize::try_from(rd_u64(buf, kend)?).ok()?;
    let sum = rd_u64(buf, kend + 8)?;
    let pstart = kend + 16;
    let payload = buf.get(pstart..pstart.checked_add(plen)?)?;
    if pstart + plen != buf.len() || checksum(payload) != sum {
        return None;
    }
    IndexFile::from_payload(payload.to_vec(), info_len)
}

pub(crate) fn try_load_cache(db: &TypeDb) -> Option<IndexFile> {
    let path = cache_path(db)?;
    let buf = std::fs::read(&path).ok()?;
    decode(&buf, &cache_key(db), db.debug_info_len())
}

fn store_cache(db: &TypeDb, index: &IndexFile) {
    let Some(path) = cache_path(db) else { return };
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let data = wrap(&index.payload, &cache_key(db));
    // write to a private temp file, then rename: readers never see a half-written file
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|f| f.to_str()).unwrap_or("idx"),
        std::process::id()
    ));
    let ok = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&data))
        .is_ok();
    if ok {
        let _ = std::fs::rename(&tmp, &path);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Cached index if valid (and with shapes when those are needed), else build it and cache it
/// (a failing cache write is not an error).
pub(crate) fn load_or_build(db: &TypeDb, shapes: bool) -> Result<IndexFile, DebugInfoError> {
    if let Some(ix) = try_load_cache(db) {
        if ix.has_shapes() || !shapes {
            db.set_units(ix.unit_spans());
            return Ok(ix);
        }
    }
    let built = build(db, shapes)?;
    let ix = IndexFile::from_index(&built, db.units()?, db.debug_info_len())
        .ok_or_else(|| db.bad(0, "index too large"))?;
    store_cache(db, &ix);
    Ok(ix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NameIndex {
        let mut ix = NameIndex {
            has_shapes: true,
            ..NameIndex::default()
        };
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
        let ix = IndexFile::from_index(&sample(), &[], 1 << 20).expect("encode");
        assert_eq!(ix.lookup("task_struct", NameKind::Composite), Some(0x100));
        assert_eq!(ix.lookup("u", NameKind::Struct), None);
        assert_eq!(ix.lookup("u", NameKind::Union), Some(0x50));
        let order: Vec<String> = ix
            .composites_in_order()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        // a second definition of another shape is listed again, a same-shape one is not
        assert_eq!(order, vec!["u", "task_struct", "local", "u"]);
        // -C finds the function-local definition first, the full dump lists the unit-level one
        assert_eq!(ix.lookup("local", NameKind::Composite), Some(0x10));
        assert_eq!(ix.composites_in_order()[2].1, 0x1000);
    }

    #[test]
    fn cache_roundtrip_and_corruption_is_rejected() {
        let spans = [
            UnitSpan {
                start: 0,
                end: 0x800,
            },
            UnitSpan {
                start: 0x800,
                end: 0x3000,
            },
        ];
        let ix = IndexFile::from_index(&sample(), &spans, 1 << 20).expect("encode");
        assert_eq!(ix.unit_spans().len(), 2);
        let key = b"bid:abc".to_vec();
        let enc = wrap(&ix.payload, &key);
        assert_eq!(decode(&enc, &key, 1 << 20).as_ref(), Some(&ix));
        assert_eq!(ix.lookup("pid_t", NameKind::Typedef), Some(0x200));
        assert_eq!(ix.lookup("pid_t", NameKind::Any), Some(0x200));
        assert_eq!(ix.lookup("nope", NameKind::Any), None);
        assert_eq!(ix.all_names().count(), 5);
        // wrong key (stale cache for another build)
        assert_eq!(decode(&enc, b"bid:abd", 1 << 20), None);
        // every single-byte flip and every truncation is rejected, never a panic
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x41;
            assert_eq!(decode(&bad, &key, 1 << 20), None, "flip at {i}");
            assert_eq!(decode(&enc[..i], &key, 1 << 20), None, "truncated at {i}");
        }
        // offsets beyond .debug_info are never returned
        let small = decode(&enc, &key, 0x3000).expect("valid file");
        assert_eq!(
            decode(&enc, &key, 0x2fff),
            None,
            "unit spans past .debug_info"
        );
        assert_eq!(
            small.lookup("task_struct", NameKind::Composite),
            Some(0x100)
        );
        assert_eq!(small.lookup("local", NameKind::Composite), Some(0x10));
        assert_eq!(small.lookup("maple_type", NameKind::Enum), Some(0x300));
    }
}
