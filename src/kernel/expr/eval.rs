//! Evaluation of a parsed expression against a [`Kernel`]: symbols typed by the
//! debug information's variables, members and indexes resolved with the type model,
//! pointers followed through the kernel's memory (each read names what it reads).

use super::parse::{BinOp, Expr, TypeName, UnOp};
use crate::kernel::{Kernel, KernelError};
use crate::memory::{MemError, Memory};
use crate::types::model::{
    BaseEncoding, NameKind, Type, TypeError, TypeId, TypeSource, TypeSourceExt, MAX_CHAIN,
};
use thiserror::Error;

/// CPUs a per_cpu() index may name (the kernel's NR_CPUS limit).
const MAX_CPUS: u64 = 8192;

#[derive(Debug, Error)]
pub enum EvalError {
    #[error(transparent)]
    Syntax(#[from] super::parse::SyntaxError),
    #[error("no symbol '{0}' in the kernel")]
    NoSymbol(String),
    #[error("no type '{0}'")]
    NoType(String),
    #[error("{ty} has no member '{member}'{}", near_list(.near))]
    NoMember {
        ty: String,
        member: String,
        near: Vec<String>,
    },
    #[error("'{what}' is a NULL pointer: cannot read '{next}' through it")]
    Null { what: String, next: String },
    #[error("reading '{what}' at {addr:#x}: {source}")]
    Read {
        what: String,
        addr: u64,
        #[source]
        source: MemError,
    },
    #[error("'{what}': {why}")]
    Invalid { what: String, why: String },
    #[error(transparent)]
    Types(#[from] TypeError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

fn near_list(near: &[String]) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!(" (closest: {})", near.join(", "))
    }
}

/// A type as the evaluator sees it: a type of the model with `ptrs` extra levels
/// of pointer on top (`&init_mm` is `struct mm_struct *`, which the model may lack).
/// `id: None` is void.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ty {
    pub id: Option<TypeId>,
    pub ptrs: u32,
}

impl Ty {
    fn of(id: Option<TypeId>) -> Ty {
        Ty { id, ptrs: 0 }
    }
    pub fn pointer_to(self) -> Ty {
        Ty {
            id: self.id,
            ptrs: self.ptrs + 1,
        }
    }
}

/// A value: an object in memory (an lvalue), a pointer or an integer computed by
/// the expression, or a symbol the debug information does not type.
#[derive(Debug, Clone)]
pub enum Val {
    Obj {
        ty: Ty,
        addr: u64,
        /// Bitfield: bit offset from `addr` and width.
        bits: Option<(u64, u32)>,
    },
    Ptr {
        to: Ty,
        addr: u64,
    },
    Int {
        value: u64,
        signed: bool,
    },
    Untyped {
        name: String,
        addr: u64,
    },
}

/// What a type is, typedefs and qualifiers stripped.
pub(super) enum Shape {
    Pointer(Ty),
    Array { elem: Option<TypeId> },
    Composite(TypeId),
    Int { size: u64, signed: bool },
    Other(String),
}

pub struct Evaluator<'k> {
    pub kernel: &'k Kernel,
    pub types: &'k dyn TypeSource,
}

impl<'k> Evaluator<'k> {
    pub fn new(kernel: &'k Kernel, types: &'k dyn TypeSource) -> Self {
        Evaluator { kernel, types }
    }

    /// Parse and evaluate `src`.
    pub fn eval_str(&self, src: &str) -> Result<Val, EvalError> {
        let e = super::parse::parse(src)?;
        self.eval(&e)
    }

    pub fn eval(&self, e: &Expr) -> Result<Val, EvalError> {
        match e {
            Expr::Num(n) => Ok(Val::Int {
                value: *n,
                signed: false,
            }),
            Expr::Ident(name) => self.symbol(name),
            Expr::Member(base, name) => {
                let b = self.eval(base)?;
                self.member(&b, name, &text(base))
            }
            Expr::Index(base, idx) => {
                let b = self.eval(base)?;
                let i = self.int(&self.eval(idx)?, &text(idx))?;
                self.index(&b, i, &text(base))
            }
            Expr::Unary(op, inner) => self.unary(*op, inner),
            Expr::Binary(op, l, r) => {
                let a = self.rvalue(&self.eval(l)?, &text(l))?;
                let b = self.rvalue(&self.eval(r)?, &text(r))?;
                self.binary(*op, a, b, e)
            }
            Expr::Cast(ty, inner) => {
                let to = self.resolve_type(ty)?;
                let v = self.eval(inner)?;
                self.cast(to, v, &text(inner))
            }
            Expr::SizeofType(ty) => {
                let t = self.resolve_type(ty)?;
                Ok(uint(self.size(t, &ty.base)?))
            }
            Expr::SizeofExpr(inner) => {
                let t = match self.eval(inner)? {
                    Val::Obj { ty, .. } => ty,
                    Val::Ptr { to, .. } => to.pointer_to(),
                    Val::Int { .. } | Val::Untyped { .. } => return Ok(uint(8)),
                };
                Ok(uint(self.size(t, &text(inner))?))
            }
            Expr::Offsetof(ty, path) => {
                let t = self.resolve_type(ty)?;
                Ok(uint(self.offset_of(t, path)?))
            }
            Expr::ContainerOf(p, ty, path) => {
                let to = self.resolve_type(ty)?;
                let addr = self.pointer_value(&self.eval(p)?, &text(p))?;
                let off = self.offset_of(to, path)?;
                Ok(Val::Ptr {
                    to,
                    addr: addr.wrapping_sub(off),
                })
            }
            Expr::PerCpu(var, cpu) => {
                let off = self.cpu_offset(cpu)?;
                match self.eval(var)? {
                    Val::Obj { ty, addr, bits } => Ok(Val::Obj {
                        ty,
                        addr: addr.wrapping_add(off),
                        bits,
                    }),
                    Val::Untyped { name, addr } => Ok(Val::Untyped {
                        name,
                        addr: addr.wrapping_add(off),
                    }),
                    _ => Err(invalid(var, "per_cpu() takes a per-CPU variable")),
                }
            }
            Expr::PerCpuPtr(p, cpu) => {
                let off = self.cpu_offset(cpu)?;
                match self.rvalue(&self.eval(p)?, &text(p))? {
                    Val::Ptr { to, addr } => Ok(Val::Ptr {
                        to,
                        addr: addr.wrapping_add(off),
                    }),
                    _ => Err(invalid(p, "per_cpu_ptr() takes a pointer")),
                }
            }
        }
    }

    fn symbol(&self, name: &str) -> Result<Val, EvalError> {
        let addr = self
            .kernel
            .syms
            .address(name)
            .ok_or_else(|| EvalError::NoSymbol(name.into()))?;
        match self.types.variable_type(name)? {
            Some(id) => Ok(Val::Obj {
                ty: Ty::of(Some(id)),
                addr,
                bits: None,
            }),
            None => Ok(Val::Untyped {
                name: name.into(),
                addr,
            }),
        }
    }

    pub(super) fn shape(&self, ty: Ty) -> Result<Shape, EvalError> {
        if ty.ptrs > 0 {
            return Ok(Shape::Pointer(Ty {
                id: ty.id,
                ptrs: ty.ptrs - 1,
            }));
        }
        let Some(id) = ty.id else {
            return Ok(Shape::Other("void".into()));
        };
        let s = self.types.strip_typedefs(id)?;
        Ok(match self.types.get(s)? {
            Type::Pointer(p) => Shape::Pointer(Ty::of(p.target)),
            Type::Array(a) if a.dims.len() == 1 => Shape::Array { elem: a.element },
            // A forward declaration (`struct fs_struct;` in the unit that points to it)
            // stands for the definition of that name, as in C.
            Type::Struct(c) | Type::Union(c) if c.declaration => {
                let kind = if matches!(self.types.get(s)?, Type::Union(_)) {
                    NameKind::Union
                } else {
                    NameKind::Struct
                };
                match c
                    .name
                    .as_deref()
                    .map(|n| self.types.find(n, kind))
                    .transpose()?
                {
                    Some(Some(def)) => Shape::Composite(def),
                    _ => Shape::Other(self.type_name(ty) + " (incomplete)"),
                }
            }
            Type::Struct(_) | Type::Union(_) => Shape::Composite(s),
            Type::Base(b) => match b.encoding {
                BaseEncoding::Float | BaseEncoding::Other => Shape::Other(b.name.clone()),
                e => Shape::Int {
                    size: b.byte_size,
                    signed: matches!(e, BaseEncoding::Signed | BaseEncoding::SignedChar),
                },
            },
            Type::Enum(e) => Shape::Int {
                size: e.byte_size,
                signed: e.signed,
            },
            _ => Shape::Other(self.type_name(ty)),
        })
    }

    /// The struct or union definition a forward declaration stands for.
    pub fn definition(&self, ty: Ty) -> Result<Option<Ty>, EvalError> {
        Ok(match self.shape(ty)? {
            Shape::Composite(def) if ty.ptrs == 0 => Some(Ty::of(Some(def))),
            _ => None,
        })
    }

    /// C spelling of a type.
    pub fn type_name(&self, ty: Ty) -> String {
        let d = crate::kernel::value::Decoder {
            types: self.types,
            syms: &self.kernel.syms,
            modules: None,
        };
        let t = d.type_text(ty.id);
        let mut s = t.base;
        if ty.ptrs > 0 {
            if t.dims.is_empty() {
                s.push_str(&format!(" {}", "*".repeat(ty.ptrs as usize)));
            } else {
                s = format!("{s} ({}){}", "*".repeat(ty.ptrs as usize), t.dims);
            }
            return s.replace("* *", "**");
        }
        s + &t.dims
    }

    fn size(&self, ty: Ty, what: &str) -> Result<u64, EvalError> {
        if ty.ptrs > 0 {
            return Ok(self.types.pointer_size());
        }
        match ty.id {
            Some(id) => self.types.size_of(id)?.ok_or_else(|| EvalError::Invalid {
                what: what.into(),
                why: format!("{} has no size", self.type_name(ty)),
            }),
            None => Ok(1),
        }
    }

    pub(super) fn read(&self, addr: u64, buf: &mut [u8], what: &str) -> Result<(), EvalError> {
        self.kernel
            .mem
            .read(addr, buf)
            .map_err(|source| EvalError::Read {
                what: what.into(),
                addr,
                source,
            })
    }

    /// An object's value as a pointer or integer (arrays decay to pointers).
    pub fn rvalue(&self, v: &Val, what: &str) -> Result<Val, EvalError> {
        let Val::Obj { ty, addr, bits } = v else {
            return Ok(v.clone());
        };
        match self.shape(*ty)? {
            Shape::Pointer(to) => {
                let mut b = [0u8; 8];
                self.read(*addr, &mut b, what)?;
                Ok(Val::Ptr {
                    to,
                    addr: u64::from_le_bytes(b),
                })
            }
            Shape::Array { elem } => Ok(Val::Ptr {
                to: Ty::of(elem),
                addr: *addr,
            }),
            Shape::Int { size, signed } => {
                let size = size.clamp(1, 8) as usize;
                let mut b = [0u8; 16];
                let (span, shift, width) = match bits {
                    Some((bo, w)) => {
                        let n = ((bo % 8 + u64::from(*w)).div_ceil(8) as usize).min(9);
                        (n, (bo % 8) as u32, *w)
                    }
                    None => (size, 0, 8 * size as u32),
                };
                let start = addr.wrapping_add(bits.map_or(0, |(bo, _)| bo / 8));
                self.read(start, &mut b[..span], what)?;
                let raw = u128::from_le_bytes(b) >> shift;
                let width = width.min(64);
                let mask = if width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                };
                let mut value = (raw as u64) & mask;
                if signed && width < 64 && value >> (width - 1) & 1 == 1 {
                    value |= !mask;
                }
                Ok(Val::Int { value, signed })
            }
            Shape::Composite(_) => Err(EvalError::Invalid {
                what: what.into(),
                why: format!("{} is not a number or pointer", self.type_name(*ty)),
            }),
            Shape::Other(name) => Err(EvalError::Invalid {
                what: what.into(),
                why: format!("{name} cannot be used as a value here"),
            }),
        }
    }

    fn int(&self, v: &Val, what: &str) -> Result<u64, EvalError> {
        match self.rvalue(v, what)? {
            Val::Int { value, .. } => Ok(value),
            Val::Ptr { addr, .. } => Ok(addr),
            _ => Err(EvalError::Invalid {
                what: what.into(),
                why: "not an integer".into(),
            }),
        }
    }

    /// The address a pointer (or an array, or `&` of an untyped symbol) holds.
    fn pointer_value(&self, v: &Val, what: &str) -> Result<u64, EvalError> {
        match v {
            Val::Untyped { addr, .. } => Ok(*addr),
            _ => self.int(v, what),
        }
    }

    /// `start` followed through a member path such as `mm.mmap_base` or
    /// `mm->mm_mt.ma_root` (pointers are followed at `.` and `->` alike).
    pub fn member_path(&self, start: Val, path: &str, what: &str) -> Result<Val, EvalError> {
        let mut v = start;
        let mut walked = what.to_string();
        for part in path.split("->").flat_map(|p| p.split('.')) {
            v = self.member(&v, part, &walked)?;
            walked = format!("{walked}.{part}");
        }
        Ok(v)
    }

    fn member(&self, base: &Val, name: &str, what: &str) -> Result<Val, EvalError> {
        let (ty, addr) = match base {
            Val::Obj {
                ty, addr, bits: None,
            } if matches!(self.shape(*ty)?, Shape::Composite(_)) => (*ty, *addr),
            Val::Untyped { name: sym, .. } => {
                return Err(EvalError::Invalid {
                    what: sym.clone(),
                    why: format!(
                        "the debug information gives it no type; cast it, e.g. ((struct T *)&{sym})->{name}"
                    ),
                })
            }
            other => match self.rvalue(other, what)? {
                Val::Ptr { to, addr } => {
                    if addr == 0 {
                        return Err(EvalError::Null {
                            what: what.into(),
                            next: name.into(),
                        });
                    }
                    (to, addr)
                }
                _ => {
                    return Err(EvalError::Invalid {
                        what: what.into(),
                        why: format!("not a struct or union, no member '{name}'"),
                    })
                }
            },
        };
        let Shape::Composite(id) = self.shape(ty)? else {
            return Err(EvalError::Invalid {
                what: what.into(),
                why: format!("{} is not a struct or union", self.type_name(ty)),
            });
        };
        match find_bits(self.types, id, name, 0)? {
            Some((bit_off, mty, width)) => Ok(Val::Obj {
                ty: Ty::of(Some(mty)),
                addr: addr.wrapping_add(bit_off / 8),
                bits: width.map(|w| (bit_off % 8, w)),
            }),
            None => Err(EvalError::NoMember {
                ty: self.type_name(Ty::of(Some(id))),
                member: name.into(),
                near: closest(name, &member_names(self.types, id, 0)?),
            }),
        }
    }

    fn index(&self, base: &Val, i: u64, what: &str) -> Result<Val, EvalError> {
        let (elem, start) = match base {
            Val::Obj { ty, addr, .. } => match self.shape(*ty)? {
                Shape::Array { elem } => (Ty::of(elem), *addr),
                Shape::Pointer(_) => match self.rvalue(base, what)? {
                    Val::Ptr { to, addr } => (to, addr),
                    _ => unreachable_ptr(what)?,
                },
                _ => return Err(not_indexable(what)),
            },
            Val::Ptr { to, addr } => (*to, *addr),
            _ => return Err(not_indexable(what)),
        };
        let size = self.size(elem, what)?;
        Ok(Val::Obj {
            ty: elem,
            addr: start.wrapping_add(i.wrapping_mul(size)),
            bits: None,
        })
    }

    fn unary(&self, op: UnOp, inner: &Expr) -> Result<Val, EvalError> {
        let what = text(inner);
        let v = self.eval(inner)?;
        match op {
            UnOp::AddrOf => match v {
                Val::Obj {
                    ty,
                    addr,
                    bits: None,
                } => Ok(Val::Ptr { to: ty, addr }),
                Val::Untyped { addr, .. } => Ok(Val::Ptr {
                    to: Ty::of(None),
                    addr,
                }),
                _ => Err(EvalError::Invalid {
                    what,
                    why: "cannot take the address of a value that is not in memory".into(),
                }),
            },
            UnOp::Deref => match self.rvalue(&v, &what)? {
                Val::Ptr { to, addr: 0 } => Err(EvalError::Null {
                    what,
                    next: format!("*({})", self.type_name(to.pointer_to())),
                }),
                Val::Ptr { to, addr } => Ok(Val::Obj {
                    ty: to,
                    addr,
                    bits: None,
                }),
                _ => Err(EvalError::Invalid {
                    what,
                    why: "not a pointer".into(),
                }),
            },
            UnOp::Neg | UnOp::Not | UnOp::BitNot => {
                let (x, signed) = match self.rvalue(&v, &what)? {
                    Val::Int { value, signed } => (value, signed),
                    Val::Ptr { addr, .. } => (addr, false),
                    _ => return Err(not_number(&what)),
                };
                Ok(match op {
                    UnOp::Neg => Val::Int {
                        value: x.wrapping_neg(),
                        signed: true,
                    },
                    UnOp::Not => uint(u64::from(x == 0)),
                    _ => Val::Int { value: !x, signed },
                })
            }
        }
    }

    fn binary(&self, op: BinOp, a: Val, b: Val, e: &Expr) -> Result<Val, EvalError> {
        let num = |v: &Val| match v {
            Val::Int { value, .. } => Some(*value),
            Val::Ptr { addr, .. } => Some(*addr),
            _ => None,
        };
        let (x, y) = match (num(&a), num(&b)) {
            (Some(x), Some(y)) => (x, y),
            _ => return Err(not_number(&text(e))),
        };
        let signed = matches!(a, Val::Int { signed: true, .. })
            || matches!(b, Val::Int { signed: true, .. });
        // Pointer arithmetic scales by the pointee's size, as C does.
        match (&a, &b, op) {
            (Val::Ptr { to, addr }, Val::Int { .. }, BinOp::Add | BinOp::Sub) => {
                let step = y.wrapping_mul(self.size(*to, &text(e)).unwrap_or(1));
                let addr = if op == BinOp::Add {
                    addr.wrapping_add(step)
                } else {
                    addr.wrapping_sub(step)
                };
                return Ok(Val::Ptr { to: *to, addr });
            }
            (Val::Ptr { to, .. }, Val::Ptr { .. }, BinOp::Sub) => {
                let size = self.size(*to, &text(e)).unwrap_or(1).max(1);
                return Ok(Val::Int {
                    value: (x.wrapping_sub(y) as i64 / size as i64) as u64,
                    signed: true,
                });
            }
            _ => {}
        }
        let cmp = |c: bool| Ok(uint(u64::from(c)));
        let (sx, sy) = (x as i64, y as i64);
        let value = match op {
            BinOp::Add => x.wrapping_add(y),
            BinOp::Sub => x.wrapping_sub(y),
            BinOp::Mul => x.wrapping_mul(y),
            BinOp::Div | BinOp::Rem if y == 0 => {
                return Err(EvalError::Invalid {
                    what: text(e),
                    why: "division by zero".into(),
                })
            }
            BinOp::Div if signed => sx.wrapping_div(sy) as u64,
            BinOp::Div => x / y,
            BinOp::Rem if signed => sx.wrapping_rem(sy) as u64,
            BinOp::Rem => x % y,
            BinOp::Shl => x.checked_shl(y as u32).unwrap_or(0),
            BinOp::Shr => x.checked_shr(y as u32).unwrap_or(0),
            BinOp::And => x & y,
            BinOp::Or => x | y,
            BinOp::Xor => x ^ y,
            BinOp::Eq => return cmp(x == y),
            BinOp::Ne => return cmp(x != y),
            BinOp::Lt => return cmp(if signed { sx < sy } else { x < y }),
            BinOp::Le => return cmp(if signed { sx <= sy } else { x <= y }),
            BinOp::Gt => return cmp(if signed { sx > sy } else { x > y }),
            BinOp::Ge => return cmp(if signed { sx >= sy } else { x >= y }),
            BinOp::LogAnd => return cmp(x != 0 && y != 0),
            BinOp::LogOr => return cmp(x != 0 || y != 0),
        };
        Ok(Val::Int { value, signed })
    }

    fn cast(&self, to: Ty, v: Val, what: &str) -> Result<Val, EvalError> {
        match self.shape(to)? {
            Shape::Pointer(p) => Ok(Val::Ptr {
                to: p,
                addr: self.pointer_value(&v, what)?,
            }),
            Shape::Int { size, signed } => {
                let x = self.int(&v, what)?;
                let bits = 8 * size.clamp(1, 8) as u32;
                let mask = if bits >= 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                };
                let mut value = x & mask;
                if signed && bits < 64 && value >> (bits - 1) & 1 == 1 {
                    value |= !mask;
                }
                Ok(Val::Int { value, signed })
            }
            // Reinterpret an object in memory as another type (gdb's `(struct T)sym`).
            _ => match v {
                Val::Obj { addr, .. } | Val::Untyped { addr, .. } => Ok(Val::Obj {
                    ty: to,
                    addr,
                    bits: None,
                }),
                _ => Err(EvalError::Invalid {
                    what: what.into(),
                    why: format!("cannot cast a value to {}", self.type_name(to)),
                }),
            },
        }
    }

    /// A C type name in the type model.
    pub fn resolve_type(&self, t: &TypeName) -> Result<Ty, EvalError> {
        let (kind, name) = match t.base.split_once(' ') {
            Some(("struct", n)) => (NameKind::Struct, n.to_string()),
            Some(("union", n)) => (NameKind::Union, n.to_string()),
            Some(("enum", n)) => (NameKind::Enum, n.to_string()),
            _ => (NameKind::Any, base_spelling(&t.base)),
        };
        let id = if name == "void" {
            None
        } else {
            let found = match kind {
                NameKind::Any => match self.types.find(&name, kind)? {
                    None => self.types.find_base(&name)?,
                    f => f,
                },
                _ => self.types.find(&name, kind)?,
            };
            // `struct X` also matches a union of that name in pahole's shared namespace.
            let found = match (found, kind) {
                (None, NameKind::Struct) => self.types.find(&name, NameKind::Composite)?,
                (f, _) => f,
            };
            Some(found.ok_or_else(|| EvalError::NoType(t.base.clone()))?)
        };
        Ok(Ty {
            id,
            ptrs: t.pointers,
        })
    }

    pub(super) fn offset_of(&self, ty: Ty, path: &str) -> Result<u64, EvalError> {
        let Shape::Composite(mut id) = self.shape(ty)? else {
            return Err(EvalError::Invalid {
                what: path.into(),
                why: format!("{} is not a struct or union", self.type_name(ty)),
            });
        };
        let mut off = 0u64;
        for part in path.split('.') {
            let (bit, mty, _) = find_bits(self.types, id, part, 0)?.ok_or_else(|| {
                let near = member_names(self.types, id, 0)
                    .map(|n| closest(part, &n))
                    .unwrap_or_default();
                EvalError::NoMember {
                    ty: self.type_name(Ty::of(Some(id))),
                    member: part.into(),
                    near,
                }
            })?;
            off = off.wrapping_add(bit / 8);
            id = mty;
        }
        Ok(off)
    }

    /// `__per_cpu_offset[cpu]`, the CPU checked against `nr_cpu_ids`.
    fn cpu_offset(&self, cpu: &Expr) -> Result<u64, EvalError> {
        let n = self.int(&self.eval(cpu)?, &text(cpu))?;
        let k = self.kernel;
        let nr = match k.syms.address("nr_cpu_ids") {
            Some(a) => u64::from(k.mem.read_u32(a).map_err(|source| EvalError::Read {
                what: "nr_cpu_ids".into(),
                addr: a,
                source,
            })?),
            None => MAX_CPUS,
        };
        if n >= nr.min(MAX_CPUS) {
            return Err(EvalError::Invalid {
                what: text(cpu),
                why: format!("CPU {n} out of range (nr_cpu_ids = {nr})"),
            });
        }
        let base = k.syms.require("__per_cpu_offset")?;
        let mut b = [0u8; 8];
        self.read(
            base.wrapping_add(8 * n),
            &mut b,
            &format!("__per_cpu_offset[{n}]"),
        )?;
        Ok(u64::from_le_bytes(b))
    }
}

fn uint(value: u64) -> Val {
    Val::Int {
        value,
        signed: false,
    }
}

fn invalid(e: &Expr, why: &str) -> EvalError {
    EvalError::Invalid {
        what: text(e),
        why: why.into(),
    }
}

fn not_number(what: &str) -> EvalError {
    EvalError::Invalid {
        what: what.into(),
        why: "not a number or pointer".into(),
    }
}

fn not_indexable(what: &str) -> EvalError {
    EvalError::Invalid {
        what: what.into(),
        why: "not an array or pointer".into(),
    }
}

fn unreachable_ptr<T>(what: &str) -> Result<T, EvalError> {
    Err(not_indexable(what))
}

/// GCC's names of the C base types (`unsigned long` is `long unsigned int`).
fn base_spelling(s: &str) -> String {
    let mut words: Vec<&str> = s.split_whitespace().collect();
    let unsigned = words.contains(&"unsigned");
    words.retain(|w| *w != "unsigned" && *w != "signed");
    let core = words.join(" ");
    let core = match core.as_str() {
        "" | "int" => "int",
        "long" | "long int" => "long int",
        "long long" | "long long int" => "long long int",
        "short" | "short int" => "short int",
        other => other,
    };
    match (unsigned, core) {
        (true, "char") => "unsigned char".into(),
        (true, "int") => "unsigned int".into(),
        (true, c) => format!("{} unsigned int", c.trim_end_matches(" int")),
        (false, c) => c.into(),
    }
}

/// Member `name` of composite `id` (anonymous members searched as C does): bit offset,
/// type and bitfield width.
fn find_bits(
    types: &dyn TypeSource,
    id: TypeId,
    name: &str,
    depth: usize,
) -> Result<Option<(u64, TypeId, Option<u32>)>, TypeError> {
    if depth > MAX_CHAIN {
        return Err(TypeError::Cycle(id));
    }
    let s = types.strip_typedefs(id)?;
    let Some(c) = types.get(s)?.as_composite() else {
        return Ok(None);
    };
    for m in &c.members {
        let Some(ty) = m.ty else { continue };
        match &m.name {
            Some(n) if n == name => return Ok(Some((m.bit_offset, ty, m.bitfield_size))),
            Some(_) => {}
            None => {
                if let Some((b, t, w)) = find_bits(types, ty, name, depth + 1)? {
                    return Ok(Some((m.bit_offset + b, t, w)));
                }
            }
        }
    }
    Ok(None)
}

fn member_names(
    types: &dyn TypeSource,
    id: TypeId,
    depth: usize,
) -> Result<Vec<String>, TypeError> {
    if depth > MAX_CHAIN {
        return Ok(Vec::new());
    }
    let s = types.strip_typedefs(id)?;
    let Some(c) = types.get(s)?.as_composite() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for m in &c.members {
        match (&m.name, m.ty) {
            (Some(n), _) => out.push(n.clone()),
            (None, Some(t)) => out.extend(member_names(types, t, depth + 1)?),
            _ => {}
        }
    }
    Ok(out)
}

/// Up to three names nearest to `want` by edit distance.
fn closest(want: &str, names: &[String]) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .map(|n| (edit_distance(want, n), n))
        .filter(|(d, n)| *d <= want.len().max(n.len()) / 2 + 1 || n.contains(want))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// An expression written back as text, for messages.
pub fn text(e: &Expr) -> String {
    match e {
        Expr::Num(n) if *n > 0xffff => format!("{n:#x}"),
        Expr::Num(n) => n.to_string(),
        Expr::Ident(s) => s.clone(),
        Expr::Member(b, m) => format!("{}.{m}", text(b)),
        Expr::Index(b, i) => format!("{}[{}]", text(b), text(i)),
        Expr::Unary(op, x) => {
            let o = match op {
                UnOp::Neg => "-",
                UnOp::Not => "!",
                UnOp::BitNot => "~",
                UnOp::Deref => "*",
                UnOp::AddrOf => "&",
            };
            format!("{o}{}", text(x))
        }
        Expr::Binary(_, l, r) => format!("({} .. {})", text(l), text(r)),
        Expr::Cast(t, x) => format!(
            "({}{})({})",
            t.base,
            " *".repeat(t.pointers as usize),
            text(x)
        ),
        Expr::SizeofType(t) => format!("sizeof({})", t.base),
        Expr::SizeofExpr(x) => format!("sizeof({})", text(x)),
        Expr::Offsetof(t, p) => format!("offsetof({}, {p})", t.base),
        Expr::ContainerOf(x, t, p) => format!("container_of({}, {}, {p})", text(x), t.base),
        Expr::PerCpu(x, c) => format!("per_cpu({}, {})", text(x), text(c)),
        Expr::PerCpuPtr(x, c) => format!("per_cpu_ptr({}, {})", text(x), text(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_spellings_map_to_gcc_names() {
        assert_eq!(base_spelling("unsigned long"), "long unsigned int");
        assert_eq!(base_spelling("unsigned"), "unsigned int");
        assert_eq!(base_spelling("long"), "long int");
        assert_eq!(
            base_spelling("unsigned long long"),
            "long long unsigned int"
        );
        assert_eq!(base_spelling("unsigned short"), "short unsigned int");
        assert_eq!(base_spelling("unsigned char"), "unsigned char");
        assert_eq!(base_spelling("u64"), "u64");
    }

    #[test]
    fn closest_names_rank_by_distance() {
        let names: Vec<String> = ["mmap_base", "map_count", "mm_users", "pgd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("map_cont", &names)[0], "map_count");
        assert_eq!(closest("mmap_bse", &names)[0], "mmap_base");
    }
}
