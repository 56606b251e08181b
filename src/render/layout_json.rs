//! JSON form of a layout (`vmscope layout --json`), built from the type model and its
//! computed layout. Schema: docs/layout-json.md. Field names are part of the interface:
//! add fields, never rename or remove them.

use serde::Serialize;

use crate::render::pahole::infer::Inference;
use crate::render::pahole::names;
use crate::render::pahole::sink::Failure;
use crate::render::pahole::PrintError;
use crate::types::layout::{self, MemberLayout};
use crate::types::model::{Type, TypeId, TypeSource, TypeSourceExt, MAX_CHAIN};

/// Schema version, bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Members one type's JSON may list (inline bodies included); more only comes from
/// corrupt input whose anonymous types share members with each other.
const MEMBER_BUDGET: usize = 1 << 20;

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

/// Layout of a struct or union (typedefs are followed) as a JSON-ready value. `infer`
/// carries pahole's packed conclusions across the types of one document, as the text
/// printer does.
pub fn layout_json<'a, S: TypeSource + ?Sized>(
    infer: &mut Inference<'a, S>,
    src: &'a S,
    id: TypeId,
    cacheline: u64,
) -> Result<JsonType, PrintError> {
    let id = src.strip_typedefs(id)?;
    let mut b = Builder {
        src,
        infer,
        cacheline,
        top: id,
        open: Vec::new(),
        members_left: MEMBER_BUDGET,
    };
    b.build(id, 0)
}

struct Builder<'i, 'a, S: TypeSource + ?Sized> {
    src: &'a S,
    infer: &'i mut Inference<'a, S>,
    cacheline: u64,
    top: TypeId,
    /// Types whose JSON is being built, outermost first.
    open: Vec<TypeId>,
    members_left: usize,
}

impl<S: TypeSource + ?Sized> Builder<'_, '_, S> {
    fn fail(&self, f: Failure) -> PrintError {
        PrintError::from_failure(self.src, self.top, f)
    }

    fn build(&mut self, id: TypeId, base: u64) -> Result<JsonType, PrintError> {
        if self.open.contains(&id) {
            return Err(self.fail(Failure::Cycle(id)));
        }
        if self.open.len() > MAX_CHAIN {
            return Err(crate::types::model::TypeError::Cycle(id).into());
        }
        self.open.push(id);
        let t = self.build_open(id, base);
        self.open.pop();
        t
    }

    fn build_open(&mut self, id: TypeId, base: u64) -> Result<JsonType, PrintError> {
        let l = self.infer.layout(id)?;
        let packed = !l.is_union && self.infer.infer_packed(id);
        self.members_left = self
            .members_left
            .checked_sub(l.members.len())
            .ok_or_else(|| self.fail(Failure::Budget))?;
        let mut members = Vec::new();
        let mut holes = Vec::new();
        let mut bit_holes = Vec::new();
        let mut sum_members = 0u64;
        for m in &l.members {
            let is_bf = m.bitfield_size != 0;
            if !is_bf {
                sum_members += m.byte_size;
            }
            members.push(self.member(m, base)?);
            let (hole, bit_hole) = holes_after(m, base);
            holes.extend(hole);
            bit_holes.extend(bit_hole);
        }
        if l.pre_hole != 0 {
            let size = l.pre_hole as u64;
            holes.insert(0, JsonHole { offset: base, size });
        }
        let natural = layout::natural_alignment(self.src, Some(id), 0)?;
        let size = l.size as u64;
        let explicit = (l.alignment != 0).then_some(l.alignment as u64);
        Ok(JsonType {
            name: l.name.clone(),
            kind: if l.is_union { "union" } else { "struct" },
            size,
            alignment: explicit.unwrap_or(natural),
            explicit_alignment: explicit,
            packed,
            cachelines: if self.cacheline == 0 {
                0
            } else {
                size.div_ceil(self.cacheline)
            },
            members,
            holes,
            bit_holes,
            padding: l.padding as u64,
            bit_padding: l.bit_padding as u64,
            sum_members,
        })
    }

    fn member(&mut self, m: &MemberLayout, base: u64) -> Result<JsonMember, PrintError> {
        let offset = base + m.byte_offset as u64;
        let inline = match (m.ty.and_then(|t| self.src.get(t).ok()), m.ty) {
            (Some(Type::Struct(c)) | Some(Type::Union(c)), Some(t)) if c.name.is_none() => {
                Some(Box::new(self.build(t, offset)?))
            }
            _ => None,
        };
        let is_bf = m.bitfield_size != 0;
        Ok(JsonMember {
            name: m.name.clone(),
            type_name: names::type_name(self.src, m.ty).map_err(|f| self.fail(f))?,
            offset,
            size: m.byte_size,
            bit_offset: is_bf.then_some(m.bitfield_offset as i64 as u64),
            bit_size: is_bf.then_some(m.bitfield_size as u64),
            alignment: (m.alignment != 0).then_some(m.alignment as u64),
            layout: inline,
        })
    }
}

/// The byte hole and bit hole after a member, at absolute offsets.
fn holes_after(m: &MemberLayout, base: u64) -> (Option<JsonHole>, Option<JsonHole>) {
    let is_bf = m.bitfield_size != 0;
    let end = if is_bf {
        (m.bit_offset as u64 + m.bitfield_size as u64).div_ceil(8)
    } else {
        m.byte_offset as u64 + m.byte_size
    };
    let hole = (m.hole != 0).then(|| JsonHole {
        offset: base + end,
        size: m.hole as u64,
    });
    let bit_end = if is_bf {
        m.bit_offset as u64 + m.bitfield_size as u64
    } else {
        end * 8
    };
    let bit_hole = (m.bit_hole != 0).then(|| JsonHole {
        offset: base + bit_end / 8,
        size: m.bit_hole as u64,
    });
    (hole, bit_hole)
}
