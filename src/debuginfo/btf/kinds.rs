//! BTF type records (`struct btf_type` and what follows it), decoded without copying.
//!
//! Every record is a 12-byte head (name_off, info, size-or-type) followed by a
//! kind-specific tail whose length depends on `vlen`. The loader checks every record's
//! bounds, names and type references once when it opens the blob, so the accessors
//! here only re-check what a corrupt tail could still get wrong and never panic.

use super::error::BtfError;
use super::header::Reader;

/// Length of `struct btf_type`.
pub const TYPE_HEAD_LEN: usize = 12;

/// BTF kinds, numbered as in include/uapi/linux/btf.h. Kinds 16-19 arrived in
/// Linux 5.13 (FLOAT), 5.16 (DECL_TAG), 5.17 (TYPE_TAG) and 6.0 (ENUM64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BtfKind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl BtfKind {
    pub fn from_raw(kind: u32) -> Option<BtfKind> {
        use BtfKind::*;
        Some(match kind {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// Bytes of kind-specific data after the 12-byte head (vlen is 16 bits: no overflow).
    pub fn tail_len(self, vlen: u16) -> usize {
        let n = vlen as usize;
        match self {
            BtfKind::Int => 4,
            BtfKind::Array => 12,
            BtfKind::Struct | BtfKind::Union => 12 * n,
            BtfKind::Enum => 8 * n,
            BtfKind::Enum64 => 12 * n,
            BtfKind::FuncProto => 8 * n,
            BtfKind::Var => 4,
            BtfKind::Datasec => 12 * n,
            BtfKind::DeclTag => 4,
            BtfKind::Ptr
            | BtfKind::Fwd
            | BtfKind::Typedef
            | BtfKind::Volatile
            | BtfKind::Const
            | BtfKind::Restrict
            | BtfKind::Func
            | BtfKind::Float
            | BtfKind::TypeTag => 0,
        }
    }

    /// Kinds whose third head word is a type id (the others hold a size or nothing).
    pub fn head_is_type_ref(self) -> bool {
        matches!(
            self,
            BtfKind::Ptr
                | BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::Func
                | BtfKind::FuncProto
                | BtfKind::Var
                | BtfKind::DeclTag
                | BtfKind::TypeTag
        )
    }
}

/// One type record. `id` 0 is `void` and has no record.
#[derive(Clone, Copy)]
pub struct BtfType<'a> {
    pub id: u32,
    /// Offset of the record inside the BTF blob.
    pub offset: usize,
    pub kind: BtfKind,
    pub name_off: u32,
    pub vlen: u16,
    pub kind_flag: bool,
    /// `size` for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT; `type` for the others.
    pub size_or_type: u32,
    tail: Reader<'a>,
}

/// A struct or union member. `bitfield_size` is non-zero only for bitfields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfMember {
    pub name_off: u32,
    pub type_id: u32,
    pub bit_offset: u32,
    pub bitfield_size: u8,
}

/// An enumerator of ENUM (value sign-extended when signed) or ENUM64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfEnumerator {
    pub name_off: u32,
    pub value: u64,
}

/// A FUNC_PROTO parameter; a last parameter with type 0 means `...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfParam {
    pub name_off: u32,
    pub type_id: u32,
}

/// `struct btf_array`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfArray {
    pub elem_type: u32,
    pub index_type: u32,
    pub nelems: u32,
}

/// The INT tail: encoding flags, bit offset and bit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfInt {
    pub signed: bool,
    pub char: bool,
    pub bool: bool,
    pub bit_offset: u8,
    pub bits: u8,
}

/// A DATASEC entry: one variable's type, offset and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfVarSecinfo {
    pub type_id: u32,
    pub offset: u32,
    pub size: u32,
}

impl<'a> BtfType<'a> {
    /// Decode the record at `offset`, checking that it and its tail lie in `r`.
    pub fn decode(r: Reader<'a>, id: u32, offset: usize) -> Result<BtfType<'a>, BtfError> {
        let name_off = r.u32_at(offset, "type record")?;
        let info = r.u32_at(offset + 4, "type record")?;
        let size_or_type = r.u32_at(offset + 8, "type record")?;
        let raw_kind = (info >> 24) & 0x1f;
        let kind = BtfKind::from_raw(raw_kind).ok_or_else(|| BtfError::UnknownKind {
            id,
            kind: raw_kind,
            offset,
        })?;
        let vlen = (info & 0xffff) as u16;
        let tail_off = offset + TYPE_HEAD_LEN;
        let tail = r.bytes_at(tail_off, kind.tail_len(vlen), "type record tail")?;
        Ok(BtfType {
            id,
            offset,
            kind,
            name_off,
            vlen,
            kind_flag: info >> 31 != 0,
            size_or_type,
            tail: Reader {
                data: tail,
                big_endian: r.big_endian,
            },
        })
    }

    /// Total record length, head and tail.
    pub fn record_len(&self) -> usize {
        TYPE_HEAD_LEN + self.tail.data.len()
    }

    fn tail_u32(&self, index: usize) -> u32 {
        // The tail's length was checked in decode; a short tail reads as 0 rather than panic.
        self.tail.get_u32(index * 4).unwrap_or(0)
    }

    /// Members of a STRUCT or UNION; with kind_flag set the offset word packs
    /// the bitfield size in its top 8 bits (Linux 4.20, commit 9d5f9f701b18).
    pub fn members(&self) -> impl Iterator<Item = BtfMember> + '_ {
        let n = if matches!(self.kind, BtfKind::Struct | BtfKind::Union) {
            self.vlen as usize
        } else {
            0
        };
        (0..n).map(move |i| {
            let word = self.tail_u32(i * 3 + 2);
            let (bit_offset, bitfield_size) = if self.kind_flag {
                (word & 0x00ff_ffff, (word >> 24) as u8)
            } else {
                (word, 0)
            };
            BtfMember {
                name_off: self.tail_u32(i * 3),
                type_id: self.tail_u32(i * 3 + 1),
                bit_offset,
                bitfield_size,
            }
        })
    }

    /// Enumerators of an ENUM or ENUM64 (kind_flag says signed, Linux 6.0).
    pub fn enumerators(&self) -> impl Iterator<Item = BtfEnumerator> + '_ {
        let (n, stride) = match self.kind {
            BtfKind::Enum => (self.vlen as usize, 2),
            BtfKind::Enum64 => (self.vlen as usize, 3),
            _ => (0, 2),
        };
        (0..n).map(move |i| {
            let name_off = self.tail_u32(i * stride);
            let lo = self.tail_u32(i * stride + 1);
            let value = if stride == 3 {
                (u64::from(self.tail_u32(i * stride + 2)) << 32) | u64::from(lo)
            } else if self.kind_flag {
                lo as i32 as i64 as u64
            } else {
                u64::from(lo)
            };
            BtfEnumerator { name_off, value }
        })
    }

    /// Parameters of a FUNC_PROTO.
    pub fn params(&self) -> impl Iterator<Item = BtfParam> + '_ {
        let n = if self.kind == BtfKind::FuncProto {
            self.vlen as usize
        } else {
            0
        };
        (0..n).map(move |i| BtfParam {
            name_off: self.tail_u32(i * 2),
            type_id: self.tail_u32(i * 2 + 1),
        })
    }

    /// Entries of a DATASEC.
    pub fn secinfos(&self) -> impl Iterator<Item = BtfVarSecinfo> + '_ {
        let n = if self.kind == BtfKind::Datasec {
            self.vlen as usize
        } else {
            0
        };
        (0..n).map(move |i| BtfVarSecinfo {
            type_id: self.tail_u32(i * 3),
            offset: self.tail_u32(i * 3 + 1),
            size: self.tail_u32(i * 3 + 2),
        })
    }

    pub fn array(&self) -> Option<BtfArray> {
        (self.kind == BtfKind::Array).then(|| BtfArray {
            elem_type: self.tail_u32(0),
            index_type: self.tail_u32(1),
            nelems: self.tail_u32(2),
        })
    }

    pub fn int(&self) -> Option<BtfInt> {
        (self.kind == BtfKind::Int).then(|| {
            let w = self.tail_u32(0);
            let enc = (w >> 24) & 0xf;
            BtfInt {
                signed: enc & 1 != 0,
                char: enc & 2 != 0,
                bool: enc & 4 != 0,
                bit_offset: ((w >> 16) & 0xff) as u8,
                bits: (w & 0xff) as u8,
            }
        })
    }

    /// The referenced type id, for kinds whose head holds one.
    pub fn target(&self) -> Option<u32> {
        self.kind.head_is_type_ref().then_some(self.size_or_type)
    }

    /// The byte size, for kinds whose head holds one.
    pub fn size(&self) -> Option<u32> {
        (!self.kind.head_is_type_ref() && !matches!(self.kind, BtfKind::Array | BtfKind::Fwd))
            .then_some(self.size_or_type)
    }

    /// Every (name offset, what) pair this record names, for validation.
    pub(crate) fn for_each_name(
        &self,
        mut f: impl FnMut(u32, &'static str) -> Result<(), BtfError>,
    ) -> Result<(), BtfError> {
        f(self.name_off, "type")?;
        for m in self.members() {
            f(m.name_off, "member")?;
        }
        for e in self.enumerators() {
            f(e.name_off, "enumerator")?;
        }
        for p in self.params() {
            f(p.name_off, "parameter")?;
        }
        Ok(())
    }

    /// Every (type id, what) this record refers to, for validation.
    pub(crate) fn for_each_type_ref(
        &self,
        mut f: impl FnMut(u32, &'static str) -> Result<(), BtfError>,
    ) -> Result<(), BtfError> {
        if let Some(t) = self.target() {
            f(t, "referenced type")?;
        }
        if let Some(a) = self.array() {
            f(a.elem_type, "array element type")?;
            f(a.index_type, "array index type")?;
        }
        for m in self.members() {
            f(m.type_id, "member type")?;
        }
        for p in self.params() {
            f(p.type_id, "parameter type")?;
        }
        for v in self.secinfos() {
            f(v.type_id, "DATASEC variable")?;
        }
        Ok(())
    }
}
