//! Typed values: a struct read from kernel memory and decoded member by member
//! with the type model (what `vmscope show` prints). Pointers get the symbol they
//! point to, char arrays become strings, enums their enumerator, and a few
//! well-known flag words (task state, vm_flags) are decoded.

use super::module_syms::ModuleSymbols;
use super::symbols::Symbols;
use super::tasks::task_state_char;
use super::Kernel;
use crate::memory::{MemError, Memory};
use crate::types::model::{BaseEncoding, Type, TypeId, TypeSource, TypeSourceExt};
use serde::Serialize;

/// Nesting depth of expanded structs/unions.
const MAX_DEPTH: usize = 12;
/// Array elements shown.
const MAX_ELEMS: usize = 16;
/// Bound on the C type text of one member.
const MAX_TYPE_CHAIN: usize = 16;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// A struct or union: see `members`.
    Composite,
    Int {
        value: i64,
    },
    Uint {
        value: u64,
    },
    Bool {
        value: bool,
    },
    Float {
        bits: u64,
    },
    Pointer {
        address: String,
        symbol: Option<String>,
    },
    String {
        value: String,
    },
    Enum {
        value: u64,
        name: Option<String>,
    },
    /// A flag word decoded into names.
    Flags {
        value: u64,
        names: Vec<String>,
    },
    Array {
        values: Vec<Value>,
        total: u64,
    },
    Unknown {
        why: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueNode {
    pub name: String,
    /// C type without array dimensions.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Array dimensions, e.g. `[16]`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dims: String,
    /// Byte offset from the start of the outermost object shown.
    pub offset: u64,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_size: Option<u32>,
    pub value: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ValueNode>,
    #[serde(skip)]
    pub is_union: bool,
}

/// `VM_*` flags of include/linux/mm.h that mean the same in 5.10 and 6.1
/// (0x800 changed meaning: VM_DENYWRITE, later VM_UFFD_MINOR, so it stays numeric).
const VM_FLAGS: &[(u64, &str)] = &[
    (0x1, "VM_READ"),
    (0x2, "VM_WRITE"),
    (0x4, "VM_EXEC"),
    (0x8, "VM_SHARED"),
    (0x10, "VM_MAYREAD"),
    (0x20, "VM_MAYWRITE"),
    (0x40, "VM_MAYEXEC"),
    (0x80, "VM_MAYSHARE"),
    (0x100, "VM_GROWSDOWN"),
    (0x200, "VM_UFFD_MISSING"),
    (0x400, "VM_PFNMAP"),
    (0x1000, "VM_UFFD_WP"),
    (0x2000, "VM_LOCKED"),
    (0x4000, "VM_IO"),
    (0x8000, "VM_SEQ_READ"),
    (0x10000, "VM_RAND_READ"),
    (0x20000, "VM_DONTCOPY"),
    (0x40000, "VM_DONTEXPAND"),
    (0x80000, "VM_LOCKONFAULT"),
    (0x100000, "VM_ACCOUNT"),
    (0x200000, "VM_NORESERVE"),
    (0x400000, "VM_HUGETLB"),
    (0x800000, "VM_SYNC"),
    (0x1000000, "VM_ARCH_1"),
    (0x2000000, "VM_WIPEONFORK"),
    (0x4000000, "VM_DONTDUMP"),
    (0x8000000, "VM_SOFTDIRTY"),
    (0x10000000, "VM_MIXEDMAP"),
    (0x20000000, "VM_HUGEPAGE"),
    (0x40000000, "VM_NOHUGEPAGE"),
    (0x80000000, "VM_MERGEABLE"),
];

/// Task state bits (include/linux/sched.h, 5.14+ numbering, same low bits in 5.10).
const TASK_STATE_BITS: &[(u64, &str)] = &[
    (0x1, "TASK_INTERRUPTIBLE"),
    (0x2, "TASK_UNINTERRUPTIBLE"),
    (0x4, "__TASK_STOPPED"),
    (0x8, "__TASK_TRACED"),
    (0x10, "EXIT_DEAD"),
    (0x20, "EXIT_ZOMBIE"),
    (0x40, "TASK_PARKED"),
    (0x80, "TASK_DEAD"),
    (0x100, "TASK_WAKEKILL"),
    (0x200, "TASK_WAKING"),
    (0x400, "TASK_NOLOAD"),
    (0x800, "TASK_NEW"),
];

fn flag_names(value: u64, table: &[(u64, &str)]) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = value;
    for (bit, name) in table {
        if value & bit != 0 {
            names.push((*name).to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names
}

pub struct Decoder<'a> {
    pub types: &'a dyn TypeSource,
    pub syms: &'a Symbols,
    /// Loaded modules' symbols, for pointers into a module (`show --module`).
    pub modules: Option<&'a ModuleSymbols>,
}

/// One C type split into the part before the name and the array dimensions after it.
pub struct TypeText {
    pub base: String,
    pub dims: String,
}

impl Decoder<'_> {
    /// C spelling of a type, pahole style (`struct list_head *`, `char` + `[16]`).
    pub fn type_text(&self, id: Option<TypeId>) -> TypeText {
        let mut dims = String::new();
        let mut cur = id;
        for _ in 0..MAX_TYPE_CHAIN {
            let Some(t) = cur else {
                return TypeText {
                    base: "void".into(),
                    dims,
                };
            };
            match self.types.get(t) {
                Ok(Type::Array(a)) => {
                    for d in &a.dims {
                        dims.push_str(&format!("[{d}]"));
                    }
                    cur = a.element;
                }
                Ok(ty) => {
                    return TypeText {
                        base: self.simple_name(ty, 0),
                        dims,
                    }
                }
                Err(e) => {
                    return TypeText {
                        base: format!("<{e}>"),
                        dims,
                    }
                }
            }
        }
        TypeText {
            base: "<too deep>".into(),
            dims,
        }
    }

    fn simple_name(&self, ty: &Type, depth: usize) -> String {
        if depth > MAX_TYPE_CHAIN {
            return "...".into();
        }
        let named = |id: Option<TypeId>| match id {
            None => "void".to_string(),
            Some(i) => match self.types.get(i) {
                Ok(t) => self.simple_name(t, depth + 1),
                Err(_) => "?".into(),
            },
        };
        match ty {
            Type::Base(b) => b.name.clone(),
            Type::Struct(c) => format!("struct {}", c.name.as_deref().unwrap_or("{...}")),
            Type::Union(c) => format!("union {}", c.name.as_deref().unwrap_or("{...}")),
            Type::Enum(e) => format!("enum {}", e.name.as_deref().unwrap_or("{...}")),
            Type::Typedef(t) => t.name.clone(),
            Type::Qualified(q) => {
                let kw = format!("{:?}", q.qualifier).to_lowercase();
                format!("{kw} {}", named(q.target))
            }
            Type::Pointer(p) => {
                if let Some(Ok(Type::Function(f))) = p.target.map(|t| self.types.get(t)) {
                    let params: Vec<String> = f.params.iter().map(|p| named(p.ty)).collect();
                    return format!("{} (*)({})", named(f.ret), params.join(", "));
                }
                format!("{} *", named(p.target))
            }
            Type::Array(a) => format!("{}[]", named(a.element)),
            Type::Function(_) => "function".into(),
            Type::Unsupported { what } => format!("<{what}>"),
        }
    }

    /// Decode an object of type `id` whose bytes are `buf[off..]`.
    /// `ctx` is the enclosing struct's name, for the flag decoders.
    pub fn node(
        &self,
        name: &str,
        id: Option<TypeId>,
        buf: &[u8],
        off: u64,
        ctx: &str,
        depth: usize,
    ) -> ValueNode {
        let tt = self.type_text(id);
        let size = id
            .and_then(|i| self.types.size_of(i).ok().flatten())
            .unwrap_or(0);
        let mut node = ValueNode {
            name: name.to_string(),
            type_name: tt.base,
            dims: tt.dims,
            offset: off,
            size,
            bit_offset: None,
            bit_size: None,
            value: Value::Unknown { why: "void".into() },
            members: Vec::new(),
            is_union: false,
        };
        let Some(id) = id else { return node };
        let stripped = match self.types.strip_typedefs(id) {
            Ok(s) => s,
            Err(e) => {
                node.value = Value::Unknown { why: e.to_string() };
                return node;
            }
        };
        let ty = match self.types.get(stripped) {
            Ok(t) => t,
            Err(e) => {
                node.value = Value::Unknown { why: e.to_string() };
                return node;
            }
        };
        let bytes = usize::try_from(off)
            .ok()
            .and_then(|o| buf.get(o..o.checked_add(size as usize)?));
        node.value = match ty {
            Type::Struct(c) | Type::Union(c) => {
                node.is_union = ty.is_union();
                if depth >= MAX_DEPTH {
                    Value::Unknown {
                        why: "nested too deep".into(),
                    }
                } else {
                    let inner_ctx = c.name.as_deref().unwrap_or(ctx).to_string();
                    for m in &c.members {
                        let moff = off.saturating_add(m.byte_offset());
                        let mname = m.name.clone().unwrap_or_default();
                        let mut child = self.node(&mname, m.ty, buf, moff, &inner_ctx, depth + 1);
                        if let Some(bits) = m.bitfield_size {
                            child.bit_offset = Some(m.bit_offset);
                            child.bit_size = Some(bits);
                            child.value = self.bitfield(buf, m.bit_offset, bits, off, &child);
                        }
                        node.members.push(child);
                    }
                    Value::Composite
                }
            }
            Type::Array(a) => self.array(a.element, &a.dims, buf, off, size),
            _ => match bytes {
                Some(b) => self.scalar(ty, b, name, ctx),
                None => Value::Unknown {
                    why: "outside the bytes read".into(),
                },
            },
        };
        node
    }

    fn bitfield(
        &self,
        buf: &[u8],
        bit_offset: u64,
        bits: u32,
        base: u64,
        child: &ValueNode,
    ) -> Value {
        let start = base * 8 + bit_offset;
        let mut v: u64 = 0;
        for i in 0..u64::from(bits.min(64)) {
            let bit = start + i;
            let byte = buf.get((bit / 8) as usize).copied().unwrap_or(0);
            if byte & (1 << (bit % 8)) != 0 {
                v |= 1 << i;
            }
        }
        match child.value {
            Value::Bool { .. } => Value::Bool { value: v != 0 },
            _ => Value::Uint { value: v },
        }
    }

    fn array(&self, elem: Option<TypeId>, dims: &[u64], buf: &[u8], off: u64, size: u64) -> Value {
        let total: u64 = dims.iter().product();
        let Some(e) = elem else {
            return Value::Unknown {
                why: "array of void".into(),
            };
        };
        let esize = self.types.size_of(e).ok().flatten().unwrap_or(0);
        let stripped = self.types.strip_typedefs(e).ok();
        let ety = stripped.and_then(|s| self.types.get(s).ok());
        if let Some(Type::Base(b)) = ety {
            if b.byte_size == 1
                && matches!(
                    b.encoding,
                    BaseEncoding::SignedChar | BaseEncoding::UnsignedChar
                )
            {
                let bytes = usize::try_from(off)
                    .ok()
                    .and_then(|o| buf.get(o..o.checked_add(size as usize)?))
                    .unwrap_or_default();
                return Value::String {
                    value: crate::memory::c_string(bytes),
                };
            }
        }
        if esize == 0 || total == 0 {
            return Value::Array {
                values: Vec::new(),
                total,
            };
        }
        let mut values = Vec::new();
        for i in 0..total.min(MAX_ELEMS as u64) {
            let n = self.node(
                "",
                Some(e),
                buf,
                off.saturating_add(i.saturating_mul(esize)),
                "",
                MAX_DEPTH,
            );
            values.push(n.value);
        }
        Value::Array { values, total }
    }

    fn scalar(&self, ty: &Type, b: &[u8], name: &str, ctx: &str) -> Value {
        let mut w = [0u8; 8];
        let n = b.len().min(8);
        w[..n].copy_from_slice(&b[..n]);
        let raw = u64::from_le_bytes(w);
        match ty {
            Type::Base(base) => {
                let signed = matches!(
                    base.encoding,
                    BaseEncoding::Signed | BaseEncoding::SignedChar
                );
                if ctx == "task_struct" && (name == "__state" || name == "state") {
                    let v = if n == 8 { raw } else { raw & 0xffff_ffff };
                    let mut names = vec![format!("'{}'", task_state_char(v, 0))];
                    if v == 0 {
                        names.push("TASK_RUNNING".into());
                    } else {
                        names.extend(flag_names(v, TASK_STATE_BITS));
                    }
                    return Value::Flags { value: v, names };
                }
                if ctx == "vm_area_struct" && (name == "vm_flags" || name == "__vm_flags") {
                    return Value::Flags {
                        value: raw,
                        names: flag_names(raw, VM_FLAGS),
                    };
                }
                match base.encoding {
                    BaseEncoding::Bool => Value::Bool { value: raw != 0 },
                    BaseEncoding::Float => Value::Float { bits: raw },
                    _ if signed && n > 0 && n < 8 => {
                        let shift = 64 - 8 * n as u32;
                        Value::Int {
                            value: ((raw << shift) as i64) >> shift,
                        }
                    }
                    _ if signed => Value::Int { value: raw as i64 },
                    _ => Value::Uint { value: raw },
                }
            }
            Type::Pointer(_) => Value::Pointer {
                address: format!("{raw:#x}"),
                symbol: self
                    .syms
                    .describe(raw)
                    .or_else(|| self.modules.and_then(|m| m.describe(raw))),
            },
            Type::Enum(e) => {
                let name = e
                    .enumerators
                    .iter()
                    .find(|en| en.value & mask(n) == raw & mask(n))
                    .map(|en| en.name.clone());
                Value::Enum { value: raw, name }
            }
            _ => Value::Uint { value: raw },
        }
    }
}

fn mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

impl ValueNode {
    /// Replace the values of members whose bytes were not readable.
    pub fn mark_missing(&mut self, range: &std::ops::Range<u64>, why: &str) {
        let overlaps =
            self.offset < range.end && range.start < self.offset.saturating_add(self.size.max(1));
        if !overlaps {
            return;
        }
        if self.members.is_empty() {
            self.value = Value::Unknown {
                why: why.to_string(),
            };
        }
        for m in &mut self.members {
            m.mark_missing(range, why);
        }
    }
}

impl Value {
    /// The value column of `vmscope show`.
    pub fn display(&self) -> String {
        match self {
            Value::Composite => String::new(),
            Value::Int { value } => value.to_string(),
            Value::Uint { value } if *value > 0xffff => format!("{value:#x}"),
            Value::Uint { value } => value.to_string(),
            Value::Bool { value } => value.to_string(),
            Value::Float { bits } => format!("{bits:#x} (float bits)"),
            Value::Pointer {
                address,
                symbol: Some(s),
            } => format!("{address} <{s}>"),
            Value::Pointer {
                address,
                symbol: None,
            } => address.clone(),
            Value::String { value } => format!("{value:?}"),
            Value::Enum {
                value,
                name: Some(n),
            } => format!("{n} ({value})"),
            Value::Enum { value, name: None } => value.to_string(),
            Value::Flags { value, names } => format!("{value:#x} ({})", names.join("|")),
            Value::Array { values, total } => {
                let mut parts: Vec<String> = values.iter().map(Value::display).collect();
                if (values.len() as u64) < *total {
                    parts.push(format!("... {} more", *total - values.len() as u64));
                }
                format!("{{{}}}", parts.join(", "))
            }
            Value::Unknown { why } => format!("<{why}>"),
        }
    }
}
/// Byte ranges (relative to the object) that could not be read, with the reason.
pub type Missing = Vec<(std::ops::Range<u64>, String)>;

impl Kernel {
    /// Read `len` bytes page by page. Pages the dump left out are zero-filled and
    /// returned as ranges (relative to `addr`) with the reason; if nothing at all
    /// can be read, the first fault is the error.
    pub fn read_sparse(&self, addr: u64, len: u64) -> Result<(Vec<u8>, Missing), MemError> {
        let mem = &self.mem;
        let mut buf = vec![0u8; len as usize];
        let mut missing = Vec::new();
        let mut first_err = None;
        let mut pos = 0u64;
        while pos < len {
            let va = addr.wrapping_add(pos);
            let n = (4096 - va % 4096).min(len - pos);
            let chunk = &mut buf[pos as usize..(pos + n) as usize];
            if let Err(e) = mem.read(va, chunk) {
                missing.push((pos..pos + n, e.to_string()));
                first_err.get_or_insert(e);
            }
            pos += n;
        }
        match first_err {
            Some(e)
                if missing.len() as u64 == len.div_ceil(4096).max(1)
                    || missing.iter().map(|(r, _)| r.end - r.start).sum::<u64>() == len =>
            {
                Err(e)
            }
            _ => Ok((buf, missing)),
        }
    }
}
