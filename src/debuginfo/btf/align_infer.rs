//! What pahole 1.24 derives from BTF when it loads a struct or union, so that the
//! layout printed from BTF is the one `pahole -F btf` prints.
//!
//! BTF records offsets but no alignment attributes. pahole therefore guesses them: a
//! member that starts further from the end of the previous member than its natural
//! alignment explains gets an inferred `__aligned__(N)`, N being the power of two just
//! above the gap (or the cacheline size when the member starts on a cacheline); the
//! same test on the tail gap gives the type's own alignment. Bitfields are placed at
//! the storage unit of their declared type. All of this is recomputed here from the
//! BTF records, with the same (sometimes surprising) arithmetic, in our own code.

use super::{Btf, BtfError, BtfKind, TypeId, MAX_CHAIN};

/// Where pahole puts one member of a struct or union loaded from BTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPlacement {
    /// Byte offset of the member, or of its storage unit for a bitfield.
    pub byte_offset: u32,
    /// Bit offset inside the storage unit (bitfields only, else 0).
    pub bitfield_offset: u32,
    /// Size of the member's type (the storage unit for a bitfield); 0 when unknown.
    pub byte_size: u32,
    /// Width of a bitfield, 0 for other members.
    pub bitfield_size: u8,
    /// Inferred `__aligned__` value, 0 for none.
    pub alignment: u32,
}

/// A struct or union's members placed as pahole 1.24 places them, and its inferred alignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositePlacement {
    pub members: Vec<MemberPlacement>,
    /// Inferred `__aligned__` value of the type itself, 0 for none.
    pub alignment: u32,
}

/// Memoised natural alignments (pahole's `tag__natural_alignment`) of BTF types,
/// indexed by type id (0 = not computed yet).
pub struct AlignmentInference<'b> {
    btf: &'b Btf,
    cacheline_size: u32,
    natural: Vec<u32>,
}

impl<'b> AlignmentInference<'b> {
    /// `cacheline_size` is the one layout output uses (pahole's `-c`, else the CPU's L1 line).
    pub fn new(btf: &'b Btf, cacheline_size: u32) -> Self {
        AlignmentInference {
            btf,
            cacheline_size,
            natural: Vec::new(),
        }
    }

    /// Like `new`, reusing natural alignments computed earlier on the same BTF.
    pub fn with_memo(btf: &'b Btf, cacheline_size: u32, natural: Vec<u32>) -> Self {
        AlignmentInference {
            btf,
            cacheline_size,
            natural,
        }
    }

    /// Hand back the memo for the next conversion.
    pub fn into_memo(self) -> Vec<u32> {
        self.natural
    }

    /// Place the members of STRUCT or UNION `id` and infer alignments.
    pub fn place(&mut self, id: TypeId) -> Result<CompositePlacement, BtfError> {
        let btf = self.btf;
        let ty = btf.type_by_id(id)?;
        let mut members = Vec::with_capacity(ty.vlen as usize);
        // End of the previous sized member, as pahole tracks it (it wraps like a u32).
        let mut prev_end: u32 = 0;
        for m in ty.members() {
            let mut place = MemberPlacement {
                byte_offset: m.bit_offset / 8,
                bitfield_offset: 0,
                byte_size: 0,
                bitfield_size: m.bitfield_size,
                alignment: 0,
            };
            let target = btf.strip_typedefs_and_modifiers(m.type_id)?;
            if target == 0 {
                members.push(place);
                continue;
            }
            let size = pahole_size(btf, target)?;
            place.byte_size = size;
            if size == 0 {
                // pahole skips zero-sized members: no inference, and the previous end stays.
                members.push(place);
                continue;
            }
            let target_kind = btf.type_by_id(target)?.kind;
            if m.bitfield_size != 0
                && matches!(target_kind, BtfKind::Int | BtfKind::Enum | BtfKind::Enum64)
            {
                let unit_bits = size.saturating_mul(8);
                if let Some(units) = m.bit_offset.checked_div(unit_bits) {
                    place.byte_offset = units * unit_bits / 8;
                    place.bitfield_offset = m.bit_offset - place.byte_offset * 8;
                }
            }
            let natural = self.natural_alignment(target, 0)?;
            place.alignment = self.infer(place.byte_offset, natural, prev_end);
            prev_end = place.byte_offset.wrapping_add(size);
            members.push(place);
        }
        let natural = self.natural_alignment(id, 0)?;
        let alignment = self.infer(ty.size_or_type, natural, prev_end);
        Ok(CompositePlacement { members, alignment })
    }

    /// pahole's `class__infer_alignment`: the gap between `smallest_offset` (end of the
    /// previous member) and `byte_offset`, rounded up to the next power of two above it,
    /// is taken as an alignment when it exceeds the natural one and the offset is even.
    fn infer(&self, byte_offset: u32, natural: u32, smallest_offset: u32) -> u32 {
        let delta = byte_offset.wrapping_sub(smallest_offset);
        let mut alignment = 0u32;
        if delta != 0 && byte_offset.is_multiple_of(2) {
            // A "negative" gap (offset before the previous end: bitfields sharing a unit,
            // union members) has its top bit set; the C shift by 32 then yields 0 or 1,
            // both meaning "no alignment".
            alignment = 1u32.checked_shl(32 - delta.leading_zeros()).unwrap_or(0);
        }
        if alignment <= natural || alignment == 1 {
            0
        } else if alignment < self.cacheline_size
            && self.cacheline_size.is_multiple_of(alignment)
            && byte_offset.is_multiple_of(self.cacheline_size)
        {
            self.cacheline_size
        } else {
            alignment
        }
    }

    /// pahole's `tag__natural_alignment` for a type already stripped of typedefs and modifiers.
    pub fn natural_alignment(&mut self, id: TypeId, depth: usize) -> Result<u32, BtfError> {
        if let Some(&a) = self.natural.get(id as usize).filter(|&&a| a != 0) {
            return Ok(a);
        }
        if depth > MAX_CHAIN {
            return Err(BtfError::Cycle {
                id,
                limit: MAX_CHAIN,
                offset: self.btf.type_by_id(id).map_or(0, |t| t.offset),
            });
        }
        if id == 0 {
            return Ok(1);
        }
        let btf = self.btf;
        let ty = btf.type_by_id(id)?;
        let natural = match ty.kind {
            BtfKind::Ptr => btf.pointer_size(),
            BtfKind::Int => ty.int().map_or(0, |i| u32::from(i.bits) / 8),
            BtfKind::Float => ty.size_or_type,
            BtfKind::Enum | BtfKind::Enum64 => enum_size(ty.size_or_type),
            BtfKind::Struct | BtfKind::Union => {
                let mut max = 0;
                for m in ty.members() {
                    let t = btf.strip_typedefs_and_modifiers(m.type_id)?;
                    if t == 0 {
                        continue;
                    }
                    max = max.max(self.natural_alignment(t, depth + 1)?);
                }
                max
            }
            BtfKind::Array => {
                let elem = ty.array().map_or(0, |a| a.elem_type);
                let t = btf.strip_typedefs_and_modifiers(elem)?;
                if t == 0 {
                    1
                } else {
                    self.natural_alignment(t, depth + 1)?
                }
            }
            _ => 1,
        };
        let natural = natural.max(1);
        if self.natural.len() <= id as usize {
            self.natural.resize(self.btf.type_count() as usize, 0);
        }
        if let Some(slot) = self.natural.get_mut(id as usize) {
            *slot = natural;
        }
        Ok(natural)
    }
}

/// An ENUM with size 0 is an int, as pahole assumes.
fn enum_size(size: u32) -> u32 {
    if size == 0 {
        4
    } else {
        size
    }
}

/// pahole's `tag__size` of a stripped type, as it computes it from BTF.
pub fn pahole_size(btf: &Btf, id: TypeId) -> Result<u32, BtfError> {
    let mut id = id;
    let mut multiplier: u64 = 1;
    for _ in 0..MAX_CHAIN {
        if id == 0 {
            return Ok(0);
        }
        let ty = btf.type_by_id(id)?;
        let size: u64 = match ty.kind {
            BtfKind::Ptr => u64::from(btf.pointer_size()),
            BtfKind::Int => ty.int().map_or(0, |i| u64::from(i.bits) / 8),
            BtfKind::Float => u64::from(ty.size_or_type),
            BtfKind::Enum | BtfKind::Enum64 => u64::from(enum_size(ty.size_or_type)),
            // An empty struct of size 1 is a C++ empty base: pahole counts it as 0 bytes.
            BtfKind::Struct | BtfKind::Union if ty.size_or_type == 1 && ty.vlen == 0 => 0,
            BtfKind::Struct | BtfKind::Union | BtfKind::Datasec => u64::from(ty.size_or_type),
            BtfKind::Fwd => 0,
            BtfKind::Array => {
                let a = ty
                    .array()
                    .map(|a| (a.elem_type, a.nelems))
                    .unwrap_or((0, 0));
                multiplier = multiplier.saturating_mul(u64::from(a.1));
                id = a.0;
                continue;
            }
            // A function type's "size" in pahole is its return type's; a typedef's is its target's.
            _ => {
                id = ty.size_or_type;
                continue;
            }
        };
        return Ok(u32::try_from(size.saturating_mul(multiplier)).unwrap_or(u32::MAX));
    }
    Err(BtfError::Cycle {
        id,
        limit: MAX_CHAIN,
        offset: btf.type_by_id(id).map_or(0, |t| t.offset),
    })
}
