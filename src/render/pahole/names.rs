//! C spellings of types as pahole writes them: `struct list_head *`, `long unsigned int`,
//! `const char *`, function types `int (*)(void *, int)`. Shared by the text printer and the
//! layout JSON, so both name a member's type the same way.

use super::sink::{Failure, Sink, OUTPUT_BUDGET};
use super::type_of;
use crate::types::model::{FunctionType, Qualifier, Type, TypeId, TypeSource, MAX_CHAIN};

/// How a function type is declared (pahole's `ftype__fprintf` arguments).
#[derive(Clone, Copy)]
pub struct FnDecl<'n> {
    /// Declared name (`(*name)`), if any.
    pub name: Option<&'n str>,
    pub inlined: bool,
    /// `(*name)` rather than `(name)`.
    pub pointer: bool,
    /// Columns the return type is padded to.
    pub spacing: i32,
    /// Parenthesise the name: `ret (*name)(args)`.
    pub prototype: bool,
}

impl<'n> FnDecl<'n> {
    /// `ret (*name)(args)` (or `ret (name)(args)`), the return type padded to `spacing`.
    pub fn named(name: Option<&'n str>, pointer: bool, spacing: i32) -> Self {
        FnDecl {
            name,
            inlined: false,
            pointer,
            spacing,
            prototype: true,
        }
    }

    /// A function type on its own: `ret ()(args)`.
    pub const BARE: FnDecl<'static> = FnDecl {
        name: None,
        inlined: false,
        pointer: false,
        spacing: 0,
        prototype: true,
    };
}

/// C spelling of a type as used in declarations, with array dimensions appended
/// (`char[16]`); the same text the printer uses. Fails only on corrupt input (a function
/// type among its own parameters, or a name beyond the output budget).
pub fn type_name<S: TypeSource + ?Sized>(src: &S, id: Option<TypeId>) -> Result<String, Failure> {
    let mut nowhere = std::io::sink();
    let mut out = Sink::new(&mut nowhere, OUTPUT_BUDGET, None);
    let mut s = tag_name(src, &mut out, id, 0);
    if let Some(Type::Array(a)) = type_of(src, id) {
        for d in &a.dims {
            s.push_str(&format!("[{d}]"));
        }
    }
    out.finish().map(|()| s)
}

/// pahole's `__tag__name`.
pub fn tag_name<S: TypeSource + ?Sized>(
    src: &S,
    out: &mut Sink<'_>,
    id: Option<TypeId>,
    depth: usize,
) -> String {
    let Some(ty) = type_of(src, id) else {
        return "void".to_string();
    };
    if depth > MAX_CHAIN || out.too_deep() {
        return "<ERROR: type loop>".to_string();
    }
    match ty {
        Type::Base(b) => {
            if b.name.is_empty() {
                "nameless base type!".to_string()
            } else {
                b.name.clone()
            }
        }
        Type::Pointer(p) => ptr_name(src, out, p.target, "*", depth),
        Type::Qualified(q) => {
            let inner = tag_name(src, out, q.target, depth + 1);
            let (pre, suf) = match q.qualifier {
                Qualifier::Const => ("const ", ""),
                Qualifier::Volatile => ("volatile ", ""),
                Qualifier::Restrict => ("", " restrict"),
                Qualifier::Atomic => ("_Atomic ", ""),
            };
            format!("{pre}{inner}{suf} ")
        }
        Type::Array(a) => tag_name(src, out, a.element, depth + 1),
        Type::Function(_) => match id {
            Some(i) => out.capture(|o| function(src, o, i, &FnDecl::BARE)),
            None => String::new(),
        },
        Type::Struct(c) => format!(
            "{} {}",
            if c.class || c.cxx98_unit {
                "class"
            } else {
                "struct"
            },
            c.name.as_deref().unwrap_or("")
        ),
        Type::Union(c) => format!("union {}", c.name.as_deref().unwrap_or("")),
        Type::Enum(e) => format!("enum {}", e.name.as_deref().unwrap_or("")),
        Type::Typedef(t) => t.name.clone(),
        Type::Unsupported { .. } => String::new(),
    }
}

/// pahole's `tag__ptr_name`.
fn ptr_name<S: TypeSource + ?Sized>(
    src: &S,
    out: &mut Sink<'_>,
    target: Option<TypeId>,
    suffix: &str,
    depth: usize,
) -> String {
    let Some(t) = target else {
        return format!("void {suffix}");
    };
    let mut ty = Some(t);
    let mut const_pointer = "";
    if let Some(Type::Qualified(q)) = type_of(src, ty) {
        if q.qualifier == Qualifier::Const {
            if let Some(Type::Pointer(_)) = type_of(src, q.target) {
                const_pointer = "const ";
                ty = q.target;
            }
        }
    }
    let inner = tag_name(src, out, ty, depth + 1);
    format!("{inner} {const_pointer}{suffix}")
}

/// pahole's `ftype__fprintf`: `ret (*name)(params)`.
pub fn function<S: TypeSource + ?Sized>(src: &S, out: &mut Sink<'_>, id: TypeId, d: &FnDecl<'_>) {
    if !out.enter(Some(id)) {
        return;
    }
    if let Some(Type::Function(f)) = type_of(src, Some(id)) {
        let stype = tag_name(src, out, f.ret, 0);
        if d.inlined {
            out.put("inline ");
        }
        out.left(&stype, d.spacing);
        out.ch(' ');
        if d.prototype {
            out.ch('(');
        }
        if d.pointer {
            out.ch('*');
        }
        out.put(d.name.unwrap_or(""));
        if d.prototype {
            out.ch(')');
        }
        params(src, out, f);
    }
    out.leave(Some(id));
}

fn params<S: TypeSource + ?Sized>(src: &S, out: &mut Sink<'_>, f: &FunctionType) {
    out.ch('(');
    let mut first = true;
    for p in &f.params {
        if !first {
            out.put(", ");
        }
        first = false;
        let name = p.name.as_deref();
        let Some(ty) = type_of(src, p.ty) else {
            out.fmt(format_args!(
                "<ERROR: type {} not found>",
                p.ty.map(|t| t.0).unwrap_or(0)
            ));
            if let Some(n) = name {
                out.fmt(format_args!(" {n}"));
            }
            continue;
        };
        match (ty, p.ty) {
            (Type::Pointer(ptr), _)
                if matches!(type_of(src, ptr.target), Some(Type::Function(_))) =>
            {
                if let Some(t) = ptr.target {
                    function(src, out, t, &FnDecl::named(name, true, 0));
                }
                continue;
            }
            (Type::Function(_), Some(t)) => {
                // pahole's spelling of a parameter of function type: `inline ret name(args)`
                let decl = FnDecl {
                    inlined: true,
                    prototype: false,
                    ..FnDecl::named(name, false, 0)
                };
                function(src, out, t, &decl);
                continue;
            }
            _ => {}
        }
        let stype = tag_name(src, out, p.ty, 0);
        out.put(&stype);
        if let Some(n) = name {
            out.ch(' ');
            out.put(n);
        }
    }
    if first {
        out.put("void)");
    } else if f.variadic {
        out.put(", ...)");
    } else {
        out.ch(')');
    }
}
