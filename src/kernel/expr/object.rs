//! The result of an expression made printable: its C type, its address when it
//! lives in memory, and its value decoded by [`Decoder`] (structs member by member).

use super::eval::{EvalError, Evaluator, Ty, Val};
use crate::kernel::value::{Decoder, Value, ValueNode};
use crate::types::model::TypeSourceExt;

/// Bytes of one object read for printing; a larger object (a huge array) is cut here.
pub const MAX_READ: u64 = 1 << 20;

pub struct Printed {
    pub type_name: String,
    pub address: Option<u64>,
    pub node: ValueNode,
    /// The object's full size when only the first [`MAX_READ`] bytes were read.
    pub capped_from: Option<u64>,
}

impl Evaluator<'_> {
    /// Read and decode the value of `v` (`what` names it in messages).
    pub fn materialize(&self, v: &Val, what: &str) -> Result<Printed, EvalError> {
        let dec = Decoder {
            types: self.types,
            syms: &self.kernel.syms,
            modules: None,
        };
        let leaf = |type_name: String, value: Value, address| Printed {
            node: ValueNode {
                name: String::new(),
                type_name: type_name.clone(),
                dims: String::new(),
                offset: 0,
                size: 0,
                bit_offset: None,
                bit_size: None,
                value,
                members: Vec::new(),
                is_union: false,
            },
            type_name,
            address,
            capped_from: None,
        };
        match v {
            Val::Int { value, signed } => Ok(leaf(
                if *signed { "long" } else { "unsigned long" }.into(),
                int_value(*value, *signed),
                None,
            )),
            Val::Ptr { to, addr } => Ok(leaf(
                self.type_name(to.pointer_to()),
                Value::Pointer {
                    address: format!("{addr:#x}"),
                    symbol: self.kernel.syms.describe(*addr),
                },
                None,
            )),
            Val::Untyped { name, addr } => Ok(leaf(
                format!("<{name}: no type information>"),
                Value::Pointer {
                    address: format!("{addr:#x}"),
                    symbol: self.kernel.syms.describe(*addr),
                },
                Some(*addr),
            )),
            Val::Obj { ty, addr, bits } if bits.is_some() || ty.ptrs > 0 => {
                let mut p = leaf(self.type_name(*ty), Value::Composite, Some(*addr));
                p.node.value = match self.rvalue(v, what)? {
                    Val::Int { value, signed } => self.enum_or_int(*ty, value, signed),
                    Val::Ptr { addr, .. } => Value::Pointer {
                        address: format!("{addr:#x}"),
                        symbol: self.kernel.syms.describe(addr),
                    },
                    _ => Value::Unknown {
                        why: "not a value".into(),
                    },
                };
                Ok(p)
            }
            Val::Obj { ty, addr, .. } => self.object(&dec, *ty, *addr, what),
        }
    }

    fn object(&self, dec: &Decoder, ty: Ty, addr: u64, what: &str) -> Result<Printed, EvalError> {
        let size_of = |t: Ty| {
            t.id.and_then(|i| self.types.size_of(i).ok().flatten())
                .unwrap_or(0)
        };
        let mut ty = ty;
        if size_of(ty) == 0 {
            if let Some(def) = self.definition(ty)? {
                ty = def;
            }
        }
        let size = size_of(ty);
        let len = size.min(MAX_READ);
        let (buf, missing) = self
            .kernel
            .read_sparse(addr, len.max(1))
            .map_err(|source| EvalError::Read {
                what: what.into(),
                addr,
                source,
            })?;
        let mut node = dec.node("", ty.id, &buf, 0, "", 0);
        for (range, why) in &missing {
            node.mark_missing(range, why);
        }
        Ok(Printed {
            type_name: self.type_name(ty),
            address: Some(addr),
            node,
            capped_from: (size > len).then_some(size),
        })
    }

    /// A scalar read through [`Evaluator::rvalue`] (a bitfield): enums by name.
    fn enum_or_int(&self, ty: Ty, value: u64, signed: bool) -> Value {
        let e = ty
            .id
            .and_then(|i| self.types.strip_typedefs(i).ok())
            .and_then(|i| self.types.get(i).ok());
        if let Some(crate::types::model::Type::Enum(e)) = e {
            let name = e
                .enumerators
                .iter()
                .find(|en| en.value == value)
                .map(|en| en.name.clone());
            return Value::Enum { value, name };
        }
        int_value(value, signed)
    }
}

fn int_value(value: u64, signed: bool) -> Value {
    if signed {
        Value::Int {
            value: value as i64,
        }
    } else {
        Value::Uint { value }
    }
}
