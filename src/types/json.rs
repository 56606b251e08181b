//! JSON form of a layout (`vmscope layout --json`). Schema: docs/layout-json.md. Field names
//! are part of the interface: add fields, never rename or remove them.

use serde::Serialize;

use crate::types::layout;
use crate::types::model::{Type, TypeError, TypeId, TypeSource};
use crate::types::pahole::Printer;

/// Schema version, bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, Debug)]
pub struct JsonType {
    pub name: Option<String>,
    /// "struct" or "union"
    pub kind: &'static str,
    pub size: u64,
    /// Explicit `__aligned__` if present, else the natural alignment.
    pub alignment: u64,
    pub explicit_alignment: Option<u64>,
    pub packed: bool,
    pub cachelines: u64,
    pub members: Vec<JsonMember>,
    pub holes: Vec<JsonHole>,
    pub bit_holes: Vec<JsonHole>,
    pub padding: u64,
    pub bit_padding: u64,
    pub sum_members: u64,
}

#[derive(Serialize, Debug)]
pub struct JsonMember {
    pub name: Option<String>,
    /// C spelling of the member's type, e.g. "struct list_head *", "char[16]".
    #[serde(rename = "type")]
    pub type_name: String,
    /// Absolute byte offset from the start of the outermost type (bitfields: storage unit).
    pub offset: u64,
    pub size: u64,
    /// Bitfields only: bit position inside the storage unit at `offset`.
    pub bit_offset: Option<u64>,
    /// Bitfields only: width in bits.
    pub bit_size: Option<u64>,
    pub alignment: Option<u64>,
    /// Anonymous or inline struct/union members: their own layout (offsets absolute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Box<JsonType>>,
}

#[derive(Serialize, Debug)]
pub struct JsonHole {
    /// Absolute offset where the hole starts (bytes; for bit holes, the byte of the first bit).
    pub offset: u64,
    /// Bytes for `holes`, bits for `bit_holes`.
    pub size: u64,
}

/// Layout of a struct or union (typedefs are followed) as a JSON-ready value.
pub fn layout_json<S: TypeSource + ?Sized>(
    printer: &mut Printer<'_, S>,
    src: &S,
    id: TypeId,
    cacheline: u64,
) -> Result<JsonType, TypeError> {
    let id = crate::types::model::TypeSourceExt::strip_typedefs(src, id)?;
    build(printer, src, id, 0, cacheline, 0)
}

fn build<S: TypeSource + ?Sized>(
    printer: &mut Printer<'_, S>,
    src: &S,
    id: TypeId,
    base: u64,
    cacheline: u64,
    depth: usize,
) -> Result<JsonType, TypeError> {
    if depth > crate::types::model::MAX_CHAIN {
        return Err(TypeError::Cycle(id));
    }
    let l = printer.layout_of(id)?;
    let packed = if l.is_union {
        false
    } else {
        printer.packed(id)
    };
    let mut members = Vec::new();
    let mut holes = Vec::new();
    let mut bit_holes = Vec::new();
    let mut sum_members = 0u64;
    for m in &l.members {
        let offset = base + m.byte_offset as u64;
        let inline = match m.ty.and_then(|t| src.get(t).ok()) {
            Some(Type::Struct(c)) | Some(Type::Union(c)) if c.name.is_none() => match m.ty {
                Some(t) => Some(Box::new(build(
                    printer,
                    src,
                    t,
                    offset,
                    cacheline,
                    depth + 1,
                )?)),
                None => None,
            },
            _ => None,
        };
        let is_bf = m.bitfield_size != 0;
        if !is_bf {
            sum_members += m.byte_size;
        }
        members.push(JsonMember {
            name: m.name.clone(),
            type_name: printer.type_name(m.ty),
            offset,
            size: m.byte_size,
            bit_offset: is_bf.then_some(m.bitfield_offset as i64 as u64),
            bit_size: is_bf.then_some(m.bitfield_size as u64),
            alignment: (m.alignment != 0).then_some(m.alignment as u64),
            layout: inline,
        });
        let end = if is_bf {
            (m.bit_offset as u64 + m.bitfield_size as u64).div_ceil(8)
        } else {
            m.byte_offset as u64 + m.byte_size
        };
        if m.hole != 0 {
            holes.push(JsonHole {
                offset: base + end,
                size: m.hole as u64,
            });
        }
        if m.bit_hole != 0 {
            let bit_end = if is_bf {
                m.bit_offset as u64 + m.bitfield_size as u64
            } else {
                end * 8
            };
            bit_holes.push(JsonHole {
                offset: base + bit_end / 8,
                size: m.bit_hole as u64,
            });
        }
    }
    if l.pre_hole != 0 {
        holes.insert(
            0,
            JsonHole {
                offset: base,
                size: l.pre_hole as u64,
            },
        );
    }
    let natural = layout::natural_alignment(src, Some(id), 0)?;
    let size = l.size as u64;
    Ok(JsonType {
        name: l.name.clone(),
        kind: if l.is_union { "union" } else { "struct" },
        size,
        alignment: if l.alignment != 0 {
            l.alignment as u64
        } else {
            natural
        },
        explicit_alignment: (l.alignment != 0).then_some(l.alignment as u64),
        packed,
        cachelines: if cacheline == 0 {
            0
        } else {
            size.div_ceil(cacheline)
        },
        members,
        holes,
        bit_holes,
        padding: l.padding as u64,
        bit_padding: l.bit_padding as u64,
        sum_members,
    })
}
