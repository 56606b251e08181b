//! The DIE scan behind the name index: named, non-declaration type DIEs at unit level and
//! inside functions (where pahole also finds types), decoding attributes only for those.
//! Units are scanned in parallel (rayon) and merged in unit order, so that "first definition"
//! matches pahole.

use gimli::constants as dw;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use xxhash_rust::xxh3::Xxh3;

use crate::types::model::NameKind;

use super::names::{Kind, NameIndex};
use crate::debuginfo::sections::{DebugInfoError, DwarfFile, Slice, StrBase, UnitSpan, SUP_BIT};

/// Progress of an index build, `(units done, units in total)`: called from the scanning
/// threads, first with 0 done when the build starts, last with `done == total`.
pub type IndexProgress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

/// One type definition seen by the scan.
struct Raw<'a> {
    /// the DIE's name, or (inside C++ namespaces) its `ns::name` spelling
    name: std::borrow::Cow<'a, [u8]>,
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
    hash: Box<Xxh3>,
    members: u64,
    /// a type defined in the body since the last member
    nested_at: Option<u64>,
}

/// What a scan of one unit yields: its type definitions, and the units it imports
/// (`DW_TAG_imported_unit`, dwz): offsets in the same file, or [`SUP_BIT`]-tagged ones in the
/// supplementary file.
#[derive(Default)]
struct UnitOut<'a> {
    raws: Vec<Raw<'a>>,
    imports: Vec<u64>,
}

impl UnitOut<'_> {
    fn clear(&mut self) {
        self.raws.clear();
        self.imports.clear();
    }
}

/// Scan one unit: named, non-declaration type DIEs whose ancestors are the unit, functions or
/// lexical blocks (where pahole's loader registers types), in DIE order. With `shapes`, the
/// members of unit-level structs/unions are decoded too, to hash their shape.
fn scan_unit<'a>(
    db: &'a DwarfFile,
    span: UnitSpan,
    unit_out: &mut UnitOut<'a>,
    shapes: bool,
) -> Result<(), DebugInfoError> {
    let out = &mut unit_out.raws;
    let header = db.unit_header(span.start)?;
    let abbrevs = db.abbreviations_uncached(&header)?;
    let base = db.str_base(&header, &abbrevs)?;
    let mut raw = header
        .entries_raw(&abbrevs, None)
        .map_err(|e| db.bad(span.start, e.to_string()))?;
    // scope[d] = whether DIEs at depth d+1 can define types pahole registers
    let mut scope: Vec<bool> = Vec::with_capacity(32);
    let mut parent_ok = true; // the unit DIE itself sits at depth 0
    let mut shape: Option<ShapeBuilder> = None;
    // enclosing C++ namespaces: (scope depth of their children, `a::b::` prefix so far)
    let mut namespaces: Vec<(usize, Vec<u8>)> = Vec::new();
    while !raw.is_empty() {
        let die_off = span.start + raw.next_offset().0 as u64;
        let abbrev = match raw.read_abbreviation() {
            Ok(Some(a)) => a,
            Ok(None) => {
                // end of a sibling list
                scope.pop();
                parent_ok = scope.last().copied().unwrap_or(true);
                if namespaces.last().is_some_and(|n| n.0 > scope.len()) {
                    namespaces.pop();
                }
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
        let at_shape_depth = shape
            .as_ref()
            .is_some_and(|sb| scope.len() == sb.child_depth);
        let in_shape = at_shape_depth && tag == dw::DW_TAG_member;
        if at_shape_depth && matches!(Kind::of_tag(tag), Some(Kind::Struct | Kind::Union)) {
            if let Some(sb) = shape.as_mut() {
                sb.nested_at = Some(die_off);
            }
        }
        // Children worth reading: those of the unit, of functions and lexical blocks (types
        // pahole registers live there) and, for shapes, the members of unit-level structs.
        let container = parent_ok
            && matches!(
                tag,
                dw::DW_TAG_compile_unit
                    | dw::DW_TAG_partial_unit
                    | dw::DW_TAG_subprogram
                    | dw::DW_TAG_lexical_block
                    | dw::DW_TAG_namespace
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
                    dw::DW_AT_name => name = Some(name_of(db, &attr, base, die_off)?),
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
                let prefix = namespaces.last().map(|n| n.1.as_slice());
                push_definition(out, prefix, name, kind, die_off, top);
                if shapes && top && composite {
                    let sb = ShapeBuilder {
                        raw: out.len() - 1,
                        child_depth: scope.len() + 1,
                        hash: Box::new(Xxh3::new()),
                        members: 0,
                        nested_at: None,
                    };
                    let mut sb = sb;
                    sb.hash.update(&size.to_le_bytes());
                    if abbrev.has_children() {
                        shape = Some(sb);
                        descend = true;
                    } else {
                        finish_shape(out, Some(sb));
                    }
                }
            }
        } else if in_shape {
            let m = MemberShape::read(db, &mut raw, abbrev, die_off, base)?;
            if let Some(sb) = shape.as_mut() {
                // A type defined in the body with a member after it (clang): pahole never
                // takes such a definition for a repeat of an earlier one, so the shape is made
                // unique to this DIE.
                if let Some(at) = sb.nested_at.take() {
                    sb.hash.update(&at.to_le_bytes());
                }
                m.feed(&mut sb.hash);
                sb.members += 1;
            }
        } else if tag == dw::DW_TAG_namespace && parent_ok {
            let name = namespace_name(db, &mut raw, abbrev, die_off, base)?;
            if abbrev.has_children() {
                namespaces.push((scope.len() + 1, qualified(namespaces.last(), name)));
            }
        } else if tag == dw::DW_TAG_imported_unit && parent_ok {
            read_import(db, &mut raw, abbrev, die_off, &mut unit_out.imports)?;
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

/// A named type definition; inside namespaces under its `ns::` spelling too, so that `-C
/// ns::Inner` finds it as well as `-C Inner`. pahole's full listing leaves namespaced types
/// out, so neither spelling is `top` then.
fn push_definition<'a>(
    out: &mut Vec<Raw<'a>>,
    prefix: Option<&[u8]>,
    name: &'a [u8],
    kind: Kind,
    offset: u64,
    top: bool,
) {
    if let Some(prefix) = prefix {
        let q = [prefix, name].concat();
        out.push(Raw {
            name: std::borrow::Cow::Owned(q),
            kind,
            offset,
            top: None,
        });
    }
    out.push(Raw {
        name: std::borrow::Cow::Borrowed(name),
        kind,
        offset,
        top: (top && prefix.is_none()).then_some(0),
    });
}

/// The `a::b::` prefix inside namespace `name` (an anonymous one adds nothing).
fn qualified(outer: Option<&(usize, Vec<u8>)>, name: Option<&[u8]>) -> Vec<u8> {
    let mut prefix = outer.map(|n| n.1.clone()).unwrap_or_default();
    if let Some(n) = name {
        prefix.extend_from_slice(n);
        prefix.extend_from_slice(b"::");
    }
    prefix
}

/// The name of a `DW_TAG_namespace` DIE, its attributes read.
fn namespace_name<'a>(
    db: &'a DwarfFile,
    raw: &mut gimli::EntriesRaw<'_, '_, Slice<'a>>,
    abbrev: &gimli::Abbreviation,
    die_off: u64,
    base: StrBase,
) -> Result<Option<&'a [u8]>, DebugInfoError> {
    let mut name = None;
    for spec in abbrev.attributes() {
        let attr = raw
            .read_attribute(*spec)
            .map_err(|e| db.bad(die_off, e.to_string()))?;
        if attr.name() == dw::DW_AT_name {
            name = Some(name_of(db, &attr, base, die_off)?);
        }
    }
    Ok(name)
}

/// The unit a `DW_TAG_imported_unit` brings in (dwz): an offset in the same file, or a
/// [`SUP_BIT`]-tagged one in the supplementary file.
fn read_import(
    db: &DwarfFile,
    raw: &mut gimli::EntriesRaw<'_, '_, Slice<'_>>,
    abbrev: &gimli::Abbreviation,
    die_off: u64,
    imports: &mut Vec<u64>,
) -> Result<(), DebugInfoError> {
    for spec in abbrev.attributes() {
        let attr = raw
            .read_attribute(*spec)
            .map_err(|e| db.bad(die_off, e.to_string()))?;
        match attr.value() {
            gimli::AttributeValue::DebugInfoRef(o) => imports.push(o.0 as u64),
            gimli::AttributeValue::DebugInfoRefSup(o) => imports.push(o.0 as u64 | SUP_BIT),
            _ => {}
        }
    }
    Ok(())
}

/// A `DW_AT_name` string; a form that cannot be resolved is an error, never a silently
/// nameless type.
fn name_of<'a>(
    db: &'a DwarfFile,
    attr: &gimli::Attribute<Slice<'a>>,
    base: StrBase,
    die_off: u64,
) -> Result<&'a [u8], DebugInfoError> {
    db.attr_str(&attr.value(), base).ok_or_else(|| {
        let why = match attr.value() {
            gimli::AttributeValue::DebugStrRefSup(_) => {
                "DW_AT_name is in a dwz supplementary file, but the file has no \
                 .gnu_debugaltlink / .debug_sup naming one"
                    .to_string()
            }
            v => format!("DW_AT_name value {v:?} could not be read"),
        };
        db.bad(die_off, why)
    })
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

impl<'a> MemberShape<'a> {
    /// The attributes of a `DW_TAG_member` DIE that make up its part of the shape.
    fn read(
        db: &'a DwarfFile,
        raw: &mut gimli::EntriesRaw<'_, '_, Slice<'a>>,
        abbrev: &gimli::Abbreviation,
        die_off: u64,
        base: StrBase,
    ) -> Result<MemberShape<'a>, DebugInfoError> {
        let mut m = MemberShape::default();
        for spec in abbrev.attributes() {
            let attr = raw
                .read_attribute(*spec)
                .map_err(|e| db.bad(die_off, e.to_string()))?;
            match attr.name() {
                dw::DW_AT_name => m.name = Some(name_of(db, &attr, base, die_off)?),
                dw::DW_AT_data_member_location => m.location = attr.udata_value().unwrap_or(0),
                dw::DW_AT_data_bit_offset => m.data_bit_offset = attr.udata_value(),
                dw::DW_AT_bit_size => m.bit_size = attr.udata_value().unwrap_or(0),
                dw::DW_AT_byte_size => m.byte_size = attr.udata_value().unwrap_or(0),
                dw::DW_AT_bit_offset => {
                    m.bit_offset_msb = attr.sdata_value().or(attr.udata_value().map(|x| x as i64))
                }
                _ => {}
            }
        }
        Ok(m)
    }

    fn feed(&self, h: &mut Xxh3) {
        // absolute bit offset, as the type model computes it
        let bit_offset = match (self.data_bit_offset, self.bit_offset_msb) {
            (Some(d), _) => d,
            (None, Some(msb)) if self.bit_size != 0 => {
                let lsb = (self.byte_size as i64) * 8 - msb - self.bit_size as i64;
                ((self.location as i64) * 8 + lsb).max(0) as u64
            }
            _ => self.location.wrapping_mul(8),
        };
        match self.name {
            Some(n) => {
                h.update(&[1]);
                h.update(n);
            }
            None => h.update(&[0]),
        }
        h.update(&(bit_offset as u32).to_le_bytes());
        h.update(&[self.bit_size as u8]);
    }
}

fn finish_shape(out: &mut [Raw<'_>], sb: Option<ShapeBuilder>) {
    if let Some(mut sb) = sb {
        if let Some(r) = out.get_mut(sb.raw) {
            sb.hash.update(&sb.members.to_le_bytes());
            r.top = Some(sb.hash.digest());
        }
    }
}

fn kind_wanted(kind: Kind, want: NameKind) -> bool {
    kind.matches(want)
}

/// Scan the first units sequentially for `name`; `Some` when found there. Bounded to a small
/// budget so that a late or missing name quickly falls through to the full index.
pub(crate) fn early_scan(
    db: &DwarfFile,
    name: &str,
    want: NameKind,
) -> Result<Option<u64>, DebugInfoError> {
    // pahole reads DWARF at roughly 20 MB/s; past 16 MB the parallel index is the faster way.
    const BUDGET_BYTES: u64 = 16 << 20;
    let mut scanned = 0u64;
    let mut buf = UnitOut::default();
    for span in db.unit_spans_iter() {
        buf.clear();
        scan_unit(db, span, &mut buf, false)?;
        if let Some(hit) = buf
            .raws
            .iter()
            .find(|r| *r.name == *name.as_bytes() && kind_wanted(r.kind, want))
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
    db: &DwarfFile,
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
                let mut v = UnitOut::default();
                scan_unit(db, *span, &mut v, false)?;
                Ok(v.raws
                    .iter()
                    .find(|r| *r.name == *name.as_bytes() && kind_wanted(r.kind, want))
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
/// structs/unions also get their shape (for the full listing). While `.debug_info` is still
/// being inflated (compressed), the units already there are indexed here, one by one as they
/// arrive; the rest, once all is there, in parallel.
pub(crate) fn build(
    db: &DwarfFile,
    shapes: bool,
    progress: Option<&IndexProgress>,
) -> Result<NameIndex, DebugInfoError> {
    let mut index = NameIndex::default();
    let mut imports = Vec::new();
    let mut spans = Vec::new();
    let mut buf = UnitOut::default();
    while !db.info_complete() {
        let at = spans.last().map_or(0, |s: &UnitSpan| s.end);
        let Some((_, span)) = db.unit_at(at)? else {
            break;
        };
        buf.clear();
        scan_unit(db, span, &mut buf, shapes)?;
        insert_all(&mut index, &buf, 0);
        imports.append(&mut buf.imports);
        spans.push(span);
    }
    let streamed = spans.len();
    if let Some(last) = spans.last() {
        db.read_unit_spans_from(last.end, &mut spans)?;
        db.set_units(spans);
    }
    let units = db.units()?;
    // the scan reads .debug_info front to back
    db.advise_sequential();
    let total = units.len() as u64;
    let done = AtomicU64::new(0);
    let tick = |n: u64| {
        let now = done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(report) = progress {
            report(now, total);
        }
    };
    tick(0);
    if streamed > 0 {
        tick(streamed as u64);
    }
    let rest = units.get(streamed..).unwrap_or(&[]);
    let (rest, mut more) = index_units(db, rest, shapes, 0, &tick)?;
    index.merge(rest);
    imports.append(&mut more);
    index.has_shapes = shapes;
    if let Some(sup) = db.sup() {
        // dwz: the supplementary file's units this file imports (and those they import)
        // hold types of this file too; they come after the file's own.
        let spans = imported_sup_units(sup, &imports)?;
        let (from_sup, _) = index_units(sup, &spans, shapes, SUP_BIT, &|_| {})?;
        index.merge(from_sup);
    }
    Ok(index)
}

/// Add the definitions one unit's scan found to `ix`, offsets tagged with `tag`.
fn insert_all(ix: &mut NameIndex, unit: &UnitOut<'_>, tag: u64) {
    for r in &unit.raws {
        let name = String::from_utf8_lossy(&r.name);
        ix.insert(&name, r.kind, r.offset | tag, r.top);
    }
}

/// Index `units` of `db` in parallel groups merged in unit order, offsets tagged with `tag`;
/// also the imports the units make.
fn index_units(
    db: &DwarfFile,
    units: &[UnitSpan],
    shapes: bool,
    tag: u64,
    tick: &(dyn Fn(u64) + Sync),
) -> Result<(NameIndex, Vec<u64>), DebugInfoError> {
    let group = (units.len() / 64).max(4);
    let parts: Vec<Result<(NameIndex, Vec<u64>), DebugInfoError>> = units
        .par_chunks(group)
        .map(|spans| {
            let mut ix = NameIndex::default();
            let mut imports = Vec::new();
            let mut buf = UnitOut::default();
            for span in spans {
                buf.clear();
                scan_unit(db, *span, &mut buf, shapes)?;
                insert_all(&mut ix, &buf, tag);
                imports.append(&mut buf.imports);
            }
            tick(spans.len() as u64);
            Ok((ix, imports))
        })
        .collect();
    let mut index = NameIndex::default();
    let mut imports = Vec::new();
    for part in parts {
        let (ix, mut im) = part?;
        index.merge(ix);
        imports.append(&mut im);
    }
    Ok((index, imports))
}

/// The units of the supplementary file reached from `imports` (the [`SUP_BIT`]-tagged ones),
/// following the imports of those units in turn; in unit order. Bounded by the unit count.
fn imported_sup_units(sup: &DwarfFile, imports: &[u64]) -> Result<Vec<UnitSpan>, DebugInfoError> {
    let all = sup.units()?;
    let mut seen = vec![false; all.len()];
    let mut todo: Vec<u64> = imports
        .iter()
        .filter(|o| **o & SUP_BIT != 0)
        .map(|o| o & !SUP_BIT)
        .collect();
    let mut buf = UnitOut::default();
    while let Some(off) = todo.pop() {
        let i = all.partition_point(|u| u.start <= off);
        let Some(i) = i.checked_sub(1).filter(|i| off < all[*i].end) else {
            return Err(sup.bad(off, "imported unit outside every unit"));
        };
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        buf.clear();
        scan_unit(sup, all[i], &mut buf, false)?;
        // inside the supplementary file, imports are plain offsets into it
        todo.extend(buf.imports.iter().filter(|o| **o & SUP_BIT == 0));
    }
    Ok(all
        .iter()
        .zip(seen)
        .filter_map(|(u, s)| s.then_some(*u))
        .collect())
}
