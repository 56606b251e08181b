//! Pure layout computation on the type model: member placement as pahole sees it (bitfield
//! storage units), byte and bit holes, padding, natural alignment, inferred `__packed__`.
//!
//! The arithmetic deliberately keeps pahole 1.24's integer widths (32-bit offsets, 16-bit
//! holes and padding, 8-bit bit holes) so that even odd layouts print the same numbers.

use crate::types::model::{Type, TypeError, TypeId, TypeSource, TypeSourceExt, MAX_CHAIN};

/// One data member, placed.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberLayout {
    pub name: Option<String>,
    pub ty: Option<TypeId>,
    /// For bitfields: offset of the storage unit (aligned to the unit's size).
    pub byte_offset: u32,
    /// For bitfields: the storage unit's size.
    pub byte_size: u64,
    /// Absolute bit offset of the member's lowest bit.
    pub bit_offset: u32,
    /// Bit position inside the storage unit (0 for ordinary members).
    pub bitfield_offset: i8,
    /// Bitfield width; 0 for ordinary members.
    pub bitfield_size: u8,
    /// Byte hole after this member.
    pub hole: u16,
    /// Bit hole after this member.
    pub bit_hole: u8,
    /// Explicit `__aligned__` on the member (0 = none).
    pub alignment: u32,
}

impl MemberLayout {
    pub fn bit_size(&self) -> u32 {
        (self.byte_size as u32).wrapping_mul(8)
    }
}

/// A struct or union, placed.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub name: Option<String>,
    pub is_union: bool,
    pub size: u32,
    /// Explicit `__aligned__` on the type (0 = none).
    pub alignment: u32,
    pub members: Vec<MemberLayout>,
    pub pre_hole: u16,
    pub pre_bit_hole: u8,
    pub padding: u16,
    pub bit_padding: u8,
    pub nr_holes: u8,
    pub nr_bit_holes: u8,
}

/// pahole's `tag__size`: sizeof, except that an empty struct of size 1 counts as 0.
pub fn tag_size<S: TypeSource + ?Sized>(src: &S, id: Option<TypeId>) -> Result<u64, TypeError> {
    let Some(mut cur) = id else { return Ok(0) };
    let mut mult: u64 = 1;
    for _ in 0..MAX_CHAIN {
        let size = match src.get(cur)? {
            Type::Base(b) => b.byte_size,
            Type::Pointer(p) => p.byte_size,
            Type::Enum(e) => e.byte_size,
            Type::Struct(c) | Type::Union(c) => {
                if c.byte_size == 1 && c.members.is_empty() {
                    0
                } else {
                    c.byte_size
                }
            }
            Type::Array(a) => {
                mult = a.dims.iter().fold(mult, |m, d| m.wrapping_mul(*d));
                match a.element {
                    Some(e) => {
                        cur = e;
                        continue;
                    }
                    None => return Ok(0),
                }
            }
            Type::Typedef(t) => match t.target {
                Some(t) => {
                    cur = t;
                    continue;
                }
                None => return Ok(0),
            },
            Type::Qualified(q) => match q.target {
                Some(t) => {
                    cur = t;
                    continue;
                }
                None => return Ok(0),
            },
            Type::Function(f) => match f.ret {
                Some(t) => {
                    cur = t;
                    continue;
                }
                None => return Ok(0),
            },
            Type::Unsupported { .. } => 0,
        };
        return Ok(size.wrapping_mul(mult));
    }
    Err(TypeError::Cycle(cur))
}

/// Strip typedefs and qualifiers (`tag__strip_typedefs_and_modifiers`).
pub fn strip<S: TypeSource + ?Sized>(
    src: &S,
    id: Option<TypeId>,
) -> Result<Option<TypeId>, TypeError> {
    match id {
        Some(i) => src.strip_typedefs(i).map(Some),
        None => Ok(None),
    }
}

/// pahole's natural alignment of a type: pointers and scalars their size, structs the largest
/// member alignment, arrays their element's; never 0.
pub fn natural_alignment<S: TypeSource + ?Sized>(
    src: &S,
    id: Option<TypeId>,
    depth: usize,
) -> Result<u64, TypeError> {
    let Some(id) = id else { return Ok(1) };
    if depth > MAX_CHAIN {
        return Err(TypeError::Cycle(id));
    }
    let a = match src.get(id)? {
        Type::Pointer(p) => p.byte_size,
        Type::Base(b) => b.byte_size,
        Type::Enum(e) => e.byte_size,
        Type::Struct(c) | Type::Union(c) => {
            let mut max = 0u64;
            for m in &c.members {
                let t = strip(src, m.ty)?;
                if t.is_none() {
                    continue;
                }
                max = max.max(natural_alignment(src, t, depth + 1)?);
            }
            // stored as u16 in pahole
            max & 0xffff
        }
        Type::Array(a) => {
            let t = strip(src, a.element)?;
            natural_alignment(src, t, depth + 1)?
        }
        _ => 1,
    };
    Ok(if a == 0 { 1 } else { a })
}

/// Place the members of a struct or union and find holes (pahole's `class__find_holes` after
/// its DWARF loader's bitfield normalisation).
pub fn compute<S: TypeSource + ?Sized>(src: &S, id: TypeId) -> Result<Layout, TypeError> {
    let ty = src.get(id)?;
    let (comp, is_union) = match ty {
        Type::Struct(c) => (c, false),
        Type::Union(c) => (c, true),
        _ => {
            return Err(TypeError::Source(format!(
                "type {id} is not a struct or union"
            )))
        }
    };
    let mut members = Vec::with_capacity(comp.members.len());
    for m in &comp.members {
        let bit_offset = m.bit_offset as u32;
        let mut ml = MemberLayout {
            name: m.name.clone(),
            ty: m.ty,
            byte_offset: bit_offset / 8,
            byte_size: 0,
            bit_offset,
            bitfield_offset: 0,
            bitfield_size: m.bitfield_size.unwrap_or(0) as u8,
            hole: 0,
            bit_hole: 0,
            alignment: m.alignment.unwrap_or(0) as u32,
        };
        if ml.bitfield_size == 0 {
            ml.byte_size = tag_size(src, m.ty)?;
        } else {
            ml.byte_size = match m.storage_bytes {
                Some(b) if b != 0 => b,
                _ => tag_size(src, strip(src, m.ty)?)?,
            };
            normalise_bitfield(&mut ml);
        }
        members.push(ml);
    }
    let mut layout = Layout {
        name: comp.name.clone(),
        is_union,
        size: comp.byte_size as u32,
        alignment: comp.alignment.unwrap_or(0) as u32,
        members,
        pre_hole: 0,
        pre_bit_hole: 0,
        padding: 0,
        bit_padding: 0,
        nr_holes: 0,
        nr_bit_holes: 0,
    };
    if !is_union {
        find_holes(&mut layout);
    }
    Ok(layout)
}

/// Bitfield storage unit: aligned to the unit's own size, as pahole reports it.
fn normalise_bitfield(m: &mut MemberLayout) {
    let byte_size = m.byte_size as u32;
    let bit_size = m.bit_size();
    if byte_size == 0 || bit_size == 0 {
        m.bitfield_offset = 0;
        return;
    }
    let byte_offset = m.bit_offset / 8;
    let mut bitfield_offset = (m.bit_offset - byte_offset * 8) as i32;
    bitfield_offset += ((byte_offset % byte_size) * 8) as i32;
    let mut unit = m.bit_offset / bit_size * bit_size / 8;
    if bitfield_offset >= bit_size as i32 {
        bitfield_offset -= bit_size as i32;
        unit = unit.wrapping_add(byte_size);
    }
    m.byte_offset = unit;
    m.bitfield_offset = bitfield_offset as i8;
}

/// Byte and bit holes between members, trailing padding (pahole's `class__find_holes`).
fn find_holes(l: &mut Layout) {
    let size = l.size;
    let mut cur_bitfield_end: u32 = size.wrapping_mul(8);
    let mut cur_bitfield_size: u32 = 0;
    let mut last_seen_bit: u32 = 0;
    let mut in_bitfield = false;
    let mut last: Option<usize> = None;
    l.nr_holes = 0;
    l.nr_bit_holes = 0;
    for i in 0..l.members.len() {
        let Some(pos) = l.members.get(i).cloned() else {
            break;
        };
        let bit_start = pos.bit_offset;
        let bit_end = if pos.bitfield_size != 0 {
            bit_start.wrapping_add(pos.bitfield_size as u32)
        } else {
            bit_start.wrapping_add((pos.byte_size as u32).wrapping_mul(8))
        };
        let mut bit_holes: i32 = 0;
        let mut byte_holes: i32 = 0;
        if in_bitfield {
            let bitfield_end = bit_start.min(cur_bitfield_end);
            bit_holes = bitfield_end.wrapping_sub(last_seen_bit) as i32;
            last_seen_bit = bitfield_end;
        }
        if pos.bitfield_size != 0 {
            let aligned_start = pos.byte_offset.wrapping_mul(8);
            if last_seen_bit < aligned_start && aligned_start <= bit_start {
                byte_holes = pos.byte_offset.wrapping_sub(last_seen_bit / 8) as i32;
                last_seen_bit = aligned_start;
            }
            bit_holes = bit_holes.wrapping_add(bit_start.wrapping_sub(last_seen_bit) as i32);
        } else {
            byte_holes = (bit_start / 8).wrapping_sub(last_seen_bit / 8) as i32;
        }
        last_seen_bit = bit_end;
        if pos.bitfield_size != 0 {
            in_bitfield = true;
            let pos_bit_size = pos.bit_size();
            if bit_end > cur_bitfield_end || pos_bit_size > cur_bitfield_size {
                cur_bitfield_size = pos_bit_size;
                cur_bitfield_end = pos
                    .byte_offset
                    .wrapping_mul(8)
                    .wrapping_add(cur_bitfield_size);
                if bit_end > cur_bitfield_end {
                    cur_bitfield_end = cur_bitfield_end.wrapping_add(cur_bitfield_size);
                }
            }
        } else {
            in_bitfield = false;
            cur_bitfield_size = 0;
            cur_bitfield_end = bit_end;
        }
        match last {
            Some(j) => {
                if let Some(lm) = l.members.get_mut(j) {
                    lm.hole = byte_holes as u16;
                    lm.bit_hole = bit_holes as u8;
                }
            }
            None => {
                l.pre_hole = byte_holes as u16;
                l.pre_bit_hole = bit_holes as u8;
            }
        }
        if bit_holes != 0 {
            l.nr_bit_holes = l.nr_bit_holes.wrapping_add(1);
        }
        if byte_holes != 0 {
            l.nr_holes = l.nr_holes.wrapping_add(1);
        }
        last = Some(i);
    }
    if in_bitfield {
        let bitfield_end = size.wrapping_mul(8).min(cur_bitfield_end);
        l.bit_padding = bitfield_end.wrapping_sub(last_seen_bit) as u8;
        last_seen_bit = bitfield_end;
    } else {
        l.bit_padding = 0;
    }
    l.padding = size.wrapping_sub(last_seen_bit / 8) as u16;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bf(bit_offset: u32, width: u8, unit: u64) -> MemberLayout {
        let mut m = MemberLayout {
            name: None,
            ty: None,
            byte_offset: 0,
            byte_size: unit,
            bit_offset,
            bitfield_offset: 0,
            bitfield_size: width,
            hole: 0,
            bit_hole: 0,
            alignment: 0,
        };
        normalise_bitfield(&mut m);
        m
    }

    #[test]
    fn bitfield_storage_unit_is_aligned_to_its_size() {
        // bit 37 of a struct, int storage: unit at byte 4, bit 5 inside it
        let m = bf(37, 3, 4);
        assert_eq!((m.byte_offset, m.bitfield_offset), (4, 5));
        // bit 13, int storage: unit at byte 0, bit 13
        let m = bf(13, 2, 4);
        assert_eq!((m.byte_offset, m.bitfield_offset), (0, 13));
    }
}
