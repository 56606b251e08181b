//! Source-independent type model.
//!
//! Both loaders (DWARF in `debuginfo::dwarf`, BTF in `debuginfo::btf`) produce these values and
//! expose them through the [`TypeSource`] trait; layout computation and the pahole printer only
//! see this model.
//!
//! Conventions, chosen so that BTF fits without extra information:
//! - A member's position is one absolute bit offset from the start of its struct
//!   ([`Member::bit_offset`]), little-endian numbering (bit 0 is the lowest bit of byte 0), as in
//!   BTF and DWARF 5's `DW_AT_data_bit_offset`. Byte offset = `bit_offset / 8` for plain members.
//! - Alignment attributes (`DW_AT_alignment`) are optional; BTF has none, and a source says so
//!   through [`TypeSource::has_alignment_info`].
//! - `void` is the absence of a type: `Option<TypeId>` = `None`.

use std::fmt;

/// Opaque handle of a type inside one [`TypeSource`]. Only meaningful for the source that
/// returned it (a dense index for DWARF, the BTF type id for BTF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One type.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Base(BaseType),
    Struct(Composite),
    Union(Composite),
    Enum(EnumType),
    Pointer(PointerType),
    Array(ArrayType),
    Typedef(Typedef),
    Qualified(Qualified),
    Function(FunctionType),
    /// A construct the model does not describe (e.g. an unknown DWARF tag); kept so that
    /// lookups do not fail, printed as an error marker.
    Unsupported {
        what: String,
    },
}

/// `int`, `long unsigned int`, `_Bool`, `char`, `float`, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseType {
    pub name: String,
    pub byte_size: u64,
    pub encoding: BaseEncoding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseEncoding {
    Signed,
    Unsigned,
    SignedChar,
    UnsignedChar,
    Bool,
    Float,
    Other,
}

/// A struct or union.
#[derive(Clone, Debug, PartialEq)]
pub struct Composite {
    pub name: Option<String>,
    pub byte_size: u64,
    pub members: Vec<Member>,
    /// A forward declaration (`struct foo;`): no size, no members.
    pub declaration: bool,
    /// Explicit alignment (`__attribute__((__aligned__(N)))` on the type), if the source records it.
    pub alignment: Option<u64>,
    /// Types defined inside the body (clang nests anonymous structs/unions there), each with
    /// the index of the member it precedes; pahole prints them in place.
    pub nested: Vec<(usize, TypeId)>,
    /// C++ `class` (rather than `struct`).
    pub class: bool,
    /// Defined in a unit whose language is plain `DW_LANG_C_plus_plus` (g++ at DWARF 4), the
    /// one pahole takes for C++: there it names any struct `class` when a pointer refers to it.
    pub cxx98_unit: bool,
    /// C++ base classes in declaration order (the non-virtual ones are also members, marked
    /// [`Member::ancestor`]; virtual ones have no fixed offset and are not laid out).
    pub bases: Vec<BaseClass>,
    /// C++ static data members, each with the index of the member it precedes: declared in
    /// the body, stored elsewhere, so never part of the layout.
    pub statics: Vec<(usize, StaticMember)>,
}

/// C++ member access, as the source states it (DWARF omits the language default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    Protected,
    Private,
}

impl Access {
    pub fn keyword(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Protected => "protected",
            Access::Private => "private",
        }
    }
}

/// One C++ base class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseClass {
    pub ty: Option<TypeId>,
    pub is_virtual: bool,
    pub access: Option<Access>,
}

/// A C++ static data member.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticMember {
    pub name: Option<String>,
    pub ty: Option<TypeId>,
    /// An in-class initialiser (`static const int k = 3;`).
    pub const_value: Option<u64>,
    pub access: Option<Access>,
}

/// One data member of a struct or union.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// `None` for anonymous struct/union members.
    pub name: Option<String>,
    /// `None` only when the source gave no type (treated as void).
    pub ty: Option<TypeId>,
    /// Absolute offset in bits from the start of the containing struct (0 in unions).
    pub bit_offset: u64,
    /// Width of a bitfield; `None` for ordinary members.
    pub bitfield_size: Option<u32>,
    /// Size in bytes of the bitfield's storage unit when the source states it (DWARF 4
    /// `DW_AT_byte_size`); otherwise the size of the member's type is used.
    pub storage_bytes: Option<u64>,
    /// Explicit alignment on the member, if the source records it.
    pub alignment: Option<u64>,
    /// A C++ base class subobject rather than a named member.
    pub ancestor: bool,
    /// C++ access, when the source states it.
    pub access: Option<Access>,
}

impl Member {
    /// Byte offset of the first byte the member occupies (for a bitfield: the byte holding its
    /// lowest bit).
    pub fn byte_offset(&self) -> u64 {
        self.bit_offset / 8
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumType {
    pub name: Option<String>,
    pub byte_size: u64,
    pub signed: bool,
    pub enumerators: Vec<Enumerator>,
    pub declaration: bool,
    /// BTF only: the kind flag marks the values signed, stored in this many bits (32 for
    /// BTF_KIND_ENUM, whose values are kept as their low 32 bits; 64 for ENUM64); 0 when not.
    /// pahole 1.25+ prints such values signed; 1.24, like [`EnumType::signed`], does not.
    pub btf_signed_bits: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerator {
    pub name: String,
    /// The value as stored; interpret as signed when the enum is signed.
    pub value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointerType {
    pub target: Option<TypeId>,
    pub byte_size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayType {
    pub element: Option<TypeId>,
    /// Element counts, outermost first. 0 = zero-length or flexible (`[]`).
    pub dims: Vec<u64>,
    /// GCC vector type (`__attribute__((vector_size))`).
    pub vector: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typedef {
    pub name: String,
    pub target: Option<TypeId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qualifier {
    Const,
    Volatile,
    Restrict,
    Atomic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qualified {
    pub qualifier: Qualifier,
    pub target: Option<TypeId>,
}

/// A function type (the target of a function pointer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionType {
    pub ret: Option<TypeId>,
    pub params: Vec<Param>,
    /// `...` at the end of the parameter list.
    pub variadic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Option<String>,
    pub ty: Option<TypeId>,
}

/// Which kinds of named type a lookup accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// struct or union (they share one namespace in pahole's output)
    Composite,
    Struct,
    Union,
    Enum,
    Typedef,
    /// Any named type, the first definition wins (what `pahole -C NAME` does).
    Any,
}

impl Type {
    /// The type's own name, if it has one (typedef, struct, union, enum, base).
    pub fn name(&self) -> Option<&str> {
        match self {
            Type::Base(b) => Some(&b.name),
            Type::Struct(c) | Type::Union(c) => c.name.as_deref(),
            Type::Enum(e) => e.name.as_deref(),
            Type::Typedef(t) => Some(&t.name),
            _ => None,
        }
    }

    pub fn as_composite(&self) -> Option<&Composite> {
        match self {
            Type::Struct(c) | Type::Union(c) => Some(c),
            _ => None,
        }
    }

    pub fn is_struct(&self) -> bool {
        matches!(self, Type::Struct(_))
    }

    pub fn is_union(&self) -> bool {
        matches!(self, Type::Union(_))
    }
}

/// Errors of the type layer (lookups in a source, walking type chains).
#[derive(Debug, thiserror::Error)]
pub enum TypeError {
    #[error("type {0} is not known to this source")]
    BadId(TypeId),
    #[error("type chain too deep or cyclic at type {0}")]
    Cycle(TypeId),
    #[error("{0}")]
    Source(String),
    #[error("no struct or union named '{0}'")]
    NoSuchType(String),
    #[error("'{path}' is not a member path of {container}: no member '{missing}'")]
    NoSuchMember {
        container: String,
        path: String,
        missing: String,
    },
}

/// Maximum typedef/qualifier/array chain followed before declaring a cycle.
pub const MAX_CHAIN: usize = 64;

/// Where types come from. Implemented by the DWARF loader (lazy, memory-mapped) and the BTF
/// loader. `get` takes `&self` and hands out references, so implementations materialise types
/// on first use and keep them for the source's lifetime.
pub trait TypeSource: Sync {
    /// The type with this id.
    fn get(&self, id: TypeId) -> Result<&Type, TypeError>;

    /// First definition (not a declaration) of a type with this name and kind, in the source's
    /// order (compilation-unit order for DWARF, type-id order for BTF).
    fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeId>, TypeError>;

    /// A base type (`int`, `long unsigned int`, `char`) by name, for expressions' casts.
    /// `find(name, Any)` finds them in DWARF; BTF's `Any` keeps to pahole's `-C` kinds.
    fn find_base(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        self.find(name, NameKind::Any)
    }

    /// Size of a pointer in bytes (8 on x86_64).
    fn pointer_size(&self) -> u64 {
        8
    }

    /// True when the source records explicit alignment attributes (DWARF); false for BTF, which
    /// changes pahole's output (no forced-alignment notes, no "Force padding").
    fn has_alignment_info(&self) -> bool;

    /// True when the source stores `int a[2][3]` as an array of arrays (BTF), which
    /// [`ArrayType::dims`] flattens; false when it states every dimension of one array (DWARF).
    fn array_dimensions_nested(&self) -> bool {
        false
    }

    /// Names of every struct and union, each once (first definition), in source order.
    fn composite_names(&self) -> Result<Vec<String>, TypeError>;

    /// Every struct and union a full listing shows (`pahole` without -C): name and id of the
    /// definition to print, in source order.
    fn composites(&self) -> Result<Vec<(String, TypeId)>, TypeError> {
        let mut v = Vec::new();
        for n in self.composite_names()? {
            if let Some(id) = self.find(&n, NameKind::Composite)? {
                v.push((n, id));
            }
        }
        Ok(v)
    }

    /// Type of the global (or per-CPU) variable `name`, when the source records variables.
    fn variable_type(&self, _name: &str) -> Result<Option<TypeId>, TypeError> {
        Ok(None)
    }

    /// Every type name the source knows (for "did you mean" suggestions).
    fn all_type_names(&self) -> Result<Vec<String>, TypeError> {
        self.composite_names()
    }

    /// Sort key of a type's definition (its compilation unit for DWARF): pahole prints the
    /// types asked for in this order.
    fn definition_order(&self, _id: TypeId) -> u64 {
        0
    }

    /// First definition of `name` whose [`definition_order`](Self::definition_order) is at
    /// least `from` (pahole's `-C a,b` finds `b` only in units after the one defining `a`).
    fn find_from(
        &self,
        name: &str,
        kind: NameKind,
        from: u64,
    ) -> Result<Option<TypeId>, TypeError> {
        Ok(self
            .find(name, kind)?
            .filter(|id| self.definition_order(*id) >= from))
    }
}

/// Convenience queries every source supports (used by the kernel layer).
pub trait TypeSourceExt: TypeSource {
    /// First struct (or union) definition with this name.
    fn find_struct(&self, name: &str) -> Result<Option<TypeId>, TypeError> {
        self.find(name, NameKind::Composite)
    }

    /// Follow typedefs and const/volatile/restrict/atomic qualifiers.
    fn strip_typedefs(&self, id: TypeId) -> Result<TypeId, TypeError> {
        let mut cur = id;
        for _ in 0..MAX_CHAIN {
            match self.get(cur)? {
                Type::Typedef(Typedef {
                    target: Some(t), ..
                })
                | Type::Qualified(Qualified {
                    target: Some(t), ..
                }) => cur = *t,
                _ => return Ok(cur),
            }
        }
        Err(TypeError::Cycle(id))
    }

    /// `sizeof` the type; `None` for void, functions and incomplete types.
    fn size_of(&self, id: TypeId) -> Result<Option<u64>, TypeError> {
        let mut cur = id;
        let mut multiplier: u64 = 1;
        for _ in 0..MAX_CHAIN {
            let size = match self.get(cur)? {
                Type::Base(b) => b.byte_size,
                Type::Struct(c) | Type::Union(c) => c.byte_size,
                Type::Enum(e) => e.byte_size,
                Type::Pointer(p) => p.byte_size,
                Type::Array(a) => {
                    multiplier = a.dims.iter().fold(multiplier, |m, d| m.saturating_mul(*d));
                    match a.element {
                        Some(e) => {
                            cur = e;
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                Type::Typedef(Typedef { target, .. })
                | Type::Qualified(Qualified { target, .. }) => match target {
                    Some(t) => {
                        cur = *t;
                        continue;
                    }
                    None => return Ok(None),
                },
                Type::Function(_) | Type::Unsupported { .. } => return Ok(None),
            };
            return Ok(Some(size.saturating_mul(multiplier)));
        }
        Err(TypeError::Cycle(id))
    }

    /// Offset in bytes and type of a member path such as `"mm_mt.ma_root"` inside the struct
    /// named `struct_name`. Anonymous struct/union members are searched transparently, as C
    /// does. For a bitfield the offset is the byte holding its lowest bit.
    fn member_offset(&self, struct_name: &str, path: &str) -> Result<(u64, TypeId), TypeError> {
        let id = self
            .find_struct(struct_name)?
            .ok_or_else(|| TypeError::NoSuchType(struct_name.to_string()))?;
        self.member_offset_in(id, path).map_err(|e| match e {
            TypeError::NoSuchMember {
                path: _, missing, ..
            } => TypeError::NoSuchMember {
                container: struct_name.to_string(),
                path: path.to_string(),
                missing,
            },
            other => other,
        })
    }

    /// Like [`member_offset`](Self::member_offset), starting from a type id.
    fn member_offset_in(&self, container: TypeId, path: &str) -> Result<(u64, TypeId), TypeError> {
        let mut offset = 0u64;
        let mut cur = container;
        for part in path.split('.') {
            let (off, ty) =
                self.find_member(cur, part)?
                    .ok_or_else(|| TypeError::NoSuchMember {
                        container: c_name(self, cur),
                        path: path.to_string(),
                        missing: part.to_string(),
                    })?;
            offset = offset.saturating_add(off);
            cur = ty;
        }
        Ok((offset, cur))
    }

    /// Direct or anonymous-nested member `name` of a struct/union (typedefs stripped):
    /// byte offset relative to the container and the member's type.
    fn find_member(
        &self,
        container: TypeId,
        name: &str,
    ) -> Result<Option<(u64, TypeId)>, TypeError> {
        find_member_depth(self, container, name, 0)
    }

    /// Value of enumerator `name` in the enum type named `enum_name`.
    fn enumerator_value(&self, enum_name: &str, name: &str) -> Result<Option<u64>, TypeError> {
        let Some(id) = self.find(enum_name, NameKind::Enum)? else {
            return Ok(None);
        };
        match self.get(id)? {
            Type::Enum(e) => Ok(e
                .enumerators
                .iter()
                .find(|en| en.name == name)
                .map(|en| en.value)),
            _ => Ok(None),
        }
    }
}

impl<T: TypeSource + ?Sized> TypeSourceExt for T {}

/// `struct NAME` / `union NAME` / a typedef's name for messages (never an internal id).
fn c_name<S: TypeSource + ?Sized>(src: &S, id: TypeId) -> String {
    match src.get(id) {
        Ok(Type::Struct(c)) => format!("struct {}", c.name.as_deref().unwrap_or("<anonymous>")),
        Ok(Type::Union(c)) => format!("union {}", c.name.as_deref().unwrap_or("<anonymous>")),
        Ok(t) => t
            .name()
            .map_or_else(|| "an unnamed type".into(), str::to_string),
        Err(_) => "an unknown type".into(),
    }
}

fn find_member_depth<S: TypeSource + ?Sized>(
    src: &S,
    container: TypeId,
    name: &str,
    depth: usize,
) -> Result<Option<(u64, TypeId)>, TypeError> {
    if depth > MAX_CHAIN {
        return Err(TypeError::Cycle(container));
    }
    let stripped = src.strip_typedefs(container)?;
    let Some(comp) = src.get(stripped)?.as_composite() else {
        return Ok(None);
    };
    for m in &comp.members {
        let Some(ty) = m.ty else { continue };
        match &m.name {
            Some(n) if n == name => return Ok(Some((m.byte_offset(), ty))),
            Some(_) => {}
            None => {
                if let Some((off, t)) = find_member_depth(src, ty, name, depth + 1)? {
                    return Ok(Some((m.byte_offset() + off, t)));
                }
            }
        }
    }
    Ok(None)
}
