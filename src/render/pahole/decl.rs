//! Declarators: a type followed by a member or typedef name, as pahole's `type__fprintf`,
//! `array_type__fprintf`, `enumeration__fprintf` and `typedef__fprintf` write them.

use super::names::{self, FnDecl};
use super::sink::{hash_x, Sink};
use super::{Conf, Printer};
use crate::types::layout;
use crate::types::model::{PointerType, Qualifier, Type, TypeId, TypeSource, MAX_CHAIN};

fn is_inline_kind(t: Option<&Type>) -> bool {
    matches!(
        t,
        Some(Type::Struct(_)) | Some(Type::Union(_)) | Some(Type::Enum(_))
    )
}

impl<'a, S: TypeSource + ?Sized> Printer<'a, S> {
    /// pahole's `type__fprintf`: a type followed by a (member) name.
    pub(super) fn type_decl(
        &mut self,
        out: &mut Sink<'_>,
        id: Option<TypeId>,
        name: Option<&str>,
        conf: &Conf,
    ) {
        if out.enter(None) {
            self.type_decl_inner(out, id, name, conf);
            out.leave(None);
        }
    }

    fn type_decl_inner(
        &mut self,
        out: &mut Sink<'_>,
        id: Option<TypeId>,
        name: Option<&str>,
        conf: &Conf,
    ) {
        let Some(mut tid) = id else {
            return not_found(out, name, conf.type_spacing);
        };
        if conf.expand_types {
            match self.typedef_chain(out, tid) {
                Some(t) => tid = t,
                // typedef of void: pahole reports the type as not found
                None => return not_found(out, name, conf.type_spacing),
            }
        }
        let mut name_buf: Option<String> = name.map(|s| s.to_string());
        let mut tconf = conf.clone();
        if is_inline_kind(self.get(Some(tid))) {
            tconf.inline_body(name_buf.clone());
        }
        for _ in 0..MAX_CHAIN {
            let Some(ty) = self.get(Some(tid)) else { break };
            match self.decl_step(out, tid, ty, &mut name_buf, &mut tconf) {
                Some(next) => tid = next,
                None => break,
            }
        }
    }

    /// With `-E`: `/* typedef a -> b */ ` before the type the typedefs resolve to, which is
    /// returned (None for a typedef of void).
    fn typedef_chain(&self, out: &mut Sink<'_>, mut tid: TypeId) -> Option<TypeId> {
        let mut expanded = false;
        let mut guard = 0;
        while let Some(Type::Typedef(td)) = self.get(Some(tid)) {
            if expanded {
                out.fmt(format_args!(" -> {}", td.name));
            } else {
                out.fmt(format_args!("/* typedef {}", td.name));
                expanded = true;
            }
            tid = td.target?;
            guard += 1;
            if guard > MAX_CHAIN {
                break;
            }
        }
        if expanded {
            out.put(" */ ");
        }
        Some(tid)
    }

    /// Print one step of a declarator; returns the type to continue with (pointer to an
    /// anonymous body, `const` target) or None when done.
    fn decl_step(
        &mut self,
        out: &mut Sink<'_>,
        tid: TypeId,
        ty: &'a Type,
        name_buf: &mut Option<String>,
        tconf: &mut Conf,
    ) -> Option<TypeId> {
        let name = name_buf.as_deref();
        let expand_types = tconf.expand_types;
        match ty {
            Type::Pointer(p) if p.target.is_some() => {
                return self.pointer_step(out, tid, p, name_buf, tconf)
            }
            Type::Function(_) => {
                let decl = FnDecl::named(name, false, tconf.type_spacing);
                names::function(self.src, out, tid, &decl);
            }
            Type::Qualified(q) if q.qualifier == Qualifier::Const => {
                out.put("const ");
                tconf.type_spacing -= 6;
                match q.target {
                    Some(t) if self.get(Some(t)).is_some() => return Some(t),
                    _ => self.named_decl(out, tid, name, tconf.type_spacing),
                }
            }
            Type::Array(_) => self.array_decl(out, tid, name, tconf),
            Type::Struct(c) if c.name.is_some() && !expand_types => {
                // pahole pads a class name as if its keyword were `struct `
                let (keyword, spacing) = match c.class {
                    true => ("class ", tconf.type_spacing - 1),
                    false => ("struct ", tconf.type_spacing),
                };
                tagged(out, keyword, c.name.as_deref(), name, spacing)
            }
            Type::Union(c) if c.name.is_some() && !expand_types => {
                tagged(out, "union ", c.name.as_deref(), name, tconf.type_spacing)
            }
            Type::Struct(_) => {
                tconf.type_spacing -= 8;
                self.class_body(out, tid, tconf);
            }
            Type::Union(_) => {
                tconf.type_spacing -= 8;
                self.union_body(out, tid, tconf);
            }
            // pahole 1.25+ expands named enums under -E too
            Type::Enum(e) if e.name.is_some() && !(expand_types && self.newer()) => {
                tagged(out, "enum ", e.name.as_deref(), name, tconf.type_spacing)
            }
            Type::Enum(_) => self.enum_body(out, tid, tconf),
            _ => self.named_decl(out, tid, name, tconf.type_spacing),
        }
        None
    }

    /// A pointer: to a function `ret (*name)(args)`, to an anonymous body (printed inline,
    /// the name becoming `* name`), or to anything else by its name.
    fn pointer_step(
        &mut self,
        out: &mut Sink<'_>,
        tid: TypeId,
        p: &PointerType,
        name_buf: &mut Option<String>,
        tconf: &mut Conf,
    ) -> Option<TypeId> {
        let anonymous = match self.get(p.target) {
            Some(Type::Function(_)) => {
                if let Some(pt) = p.target {
                    let decl = FnDecl::named(name_buf.as_deref(), true, tconf.type_spacing);
                    names::function(self.src, out, pt, &decl);
                }
                return None;
            }
            Some(Type::Struct(c)) | Some(Type::Union(c)) => c.name.is_none(),
            Some(Type::Enum(e)) => e.name.is_none(),
            _ => false,
        };
        if anonymous {
            *name_buf = Some(format!("* {}", name_buf.as_deref().unwrap_or("(null)")));
            tconf.rel_offset = true;
            tconf.type_spacing -= 8;
            tconf.inline_body(name_buf.clone());
            return p.target;
        }
        self.named_decl(out, tid, name_buf.as_deref(), tconf.type_spacing);
        None
    }

    /// `type name` with the type padded to `spacing` columns.
    fn named_decl(&self, out: &mut Sink<'_>, tid: TypeId, name: Option<&str>, spacing: i32) {
        let tn = self.tag_name(out, Some(tid));
        out.left(&tn, spacing);
        out.fmt(format_args!(" {}", name.unwrap_or("(null)")));
    }

    /// pahole's `array_type__fprintf`.
    pub(super) fn array_decl(
        &mut self,
        out: &mut Sink<'_>,
        id: TypeId,
        name: Option<&str>,
        conf: &Conf,
    ) {
        if out.enter(Some(id)) {
            self.array_decl_inner(out, id, name, conf);
            out.leave(Some(id));
        }
    }

    fn array_decl_inner(
        &mut self,
        out: &mut Sink<'_>,
        id: TypeId,
        name: Option<&str>,
        conf: &Conf,
    ) {
        let Some(Type::Array(at)) = self.get(Some(id)) else {
            return;
        };
        let mut elem = at.element;
        if elem.is_none() || self.get(elem).is_none() {
            out.put("<ERROR: type not found>");
            return;
        }
        if at.dims.first() == Some(&0) {
            if let Some(Type::Qualified(q)) = self.get(elem) {
                if q.qualifier == Qualifier::Const {
                    elem = q.target;
                }
            }
        }
        self.type_decl(out, elem, name, conf);
        let single_member = conf.last_member && conf.first_member;
        let mut flat: u64 = 0;
        for (i, n) in at.dims.iter().enumerate() {
            if at.vector {
                if *n == 0 && i == 0 {
                    break;
                }
                flat = if flat == 0 { *n } else { flat.wrapping_mul(*n) };
            } else if *n != 0 || !conf.last_member || single_member || conf.union_member {
                out.fmt(format_args!("[{}]", *n as u32));
            } else {
                out.put("[]");
            }
        }
        if at.vector {
            let flat = if flat == 0 { 1 } else { flat };
            let stripped = layout::strip(self.src, at.element).ok().flatten();
            let esize = layout::tag_size(self.src, stripped).unwrap_or(0);
            out.fmt(format_args!(
                " __attribute__ ((__vector_size__ ({})))",
                flat.wrapping_mul(esize)
            ));
        }
    }

    /// pahole's `enumeration__fprintf`.
    pub(super) fn enum_body(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        if !out.enter(Some(id)) {
            return;
        }
        if let Some(Type::Enum(e)) = self.get(Some(id)) {
            let indent = conf.indent.min(super::sink::MAX_TABS as u8);
            out.put("enum");
            if let Some(n) = &e.name {
                out.ch(' ');
                out.put(n);
            }
            if !e.enumerators.is_empty() {
                out.begin_body();
                out.put(" {\n");
                let max_len = e.enumerators.iter().map(|x| x.name.len()).max();
                let max_len = max_len.unwrap_or(0) as i32;
                for en in &e.enumerators {
                    out.tabs(indent);
                    out.ch('\t');
                    out.left(&en.name, max_len);
                    out.put(" = ");
                    // pahole 1.25+ sign-extends a signed 32-bit BTF enumerator
                    let btf_signed = if self.newer() { e.btf_signed_bits } else { 0 };
                    let value = match btf_signed {
                        32 => en.value as u32 as i32 as i64 as u64,
                        _ => en.value,
                    };
                    if self.opts.hex {
                        out.put(&hash_x(value, 0));
                    } else if e.signed || btf_signed != 0 {
                        out.fmt(format_args!("{}", value as i64));
                    } else {
                        out.fmt(format_args!("{value}"));
                    }
                    out.put(",\n");
                }
                out.tabs(indent);
                out.ch('}');
                if e.byte_size != 4 {
                    out.put(" __attribute__((__packed__))");
                }
                if let Some(s) = &conf.suffix {
                    out.ch(' ');
                    out.put(s);
                }
            }
        }
        out.leave(Some(id));
    }

    /// pahole's `typedef__fprintf` (a typedef printed at top level).
    pub(super) fn typedef_decl(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        let Some(Type::Typedef(td)) = self.get(Some(id)) else {
            return;
        };
        out.put("typedef ");
        let mut target = td.target;
        if self.newer() {
            // 1.25+ spells out `_Atomic` and goes on with the type it qualifies
            for _ in 0..MAX_CHAIN {
                match self.get(target) {
                    Some(Type::Qualified(q)) if q.qualifier == Qualifier::Atomic => {
                        out.put("_Atomic ");
                        target = q.target;
                    }
                    _ => break,
                }
            }
        }
        let Some(target) = target else {
            return out.fmt(format_args!("void {}", td.name));
        };
        let fn_decl = |pointer| FnDecl::named(Some(&td.name), pointer, 0);
        match self.get(Some(target)) {
            None => out.fmt(format_args!("<ERROR: type not found> {}", td.name)),
            Some(Type::Array(_)) => self.array_decl(out, target, Some(&td.name), conf),
            Some(Type::Pointer(p)) if matches!(self.get(p.target), Some(Type::Function(_))) => {
                if let Some(f) = p.target {
                    names::function(self.src, out, f, &fn_decl(true));
                }
            }
            Some(Type::Function(_)) => names::function(self.src, out, target, &fn_decl(false)),
            Some(t @ (Type::Struct(_) | Type::Union(_))) if self.newer() => {
                self.typedef_body_newer(out, target, t, &td.name, conf)
            }
            Some(Type::Struct(c)) if c.name.is_some() => out.fmt(format_args!(
                "struct {} {}",
                c.name.as_deref().unwrap_or(""),
                td.name
            )),
            Some(Type::Enum(e)) if e.name.is_some() => out.fmt(format_args!(
                "enum {} {}",
                e.name.as_deref().unwrap_or(""),
                td.name
            )),
            Some(Type::Struct(_)) | Some(Type::Enum(_)) => {
                let mut tconf = conf.clone();
                tconf.suffix = Some(td.name.clone());
                if matches!(self.get(Some(target)), Some(Type::Struct(_))) {
                    self.class_body(out, target, &tconf);
                } else {
                    self.enum_body(out, target, &tconf);
                }
            }
            Some(_) => {
                let tn = self.tag_name(out, Some(target));
                out.fmt(format_args!("{} {}", tn, td.name));
            }
        }
    }

    /// pahole 1.25+ on a typedef of a struct or union: a named one by name (a union's name
    /// padded like a member's type), unless -E; otherwise its body, columns 8 narrower.
    fn typedef_body_newer(
        &mut self,
        out: &mut Sink<'_>,
        target: TypeId,
        ty: &Type,
        name: &str,
        conf: &Conf,
    ) {
        let is_union = matches!(ty, Type::Union(_));
        match ty.name() {
            Some(n) if !conf.expand_types && is_union => {
                tagged(out, "union ", Some(n), Some(name), conf.type_spacing)
            }
            Some(n) if !conf.expand_types => out.fmt(format_args!("struct {n} {name}")),
            _ => {
                let mut tconf = conf.clone();
                tconf.type_spacing -= 8;
                tconf.suffix = Some(name.to_string());
                if is_union {
                    self.union_body(out, target, &tconf);
                } else {
                    self.class_body(out, target, &tconf);
                }
            }
        }
    }
}

/// `<ERROR> name`: a declarator whose type is missing.
fn not_found(out: &mut Sink<'_>, name: Option<&str>, spacing: i32) {
    out.left("<ERROR", spacing);
    out.fmt(format_args!("> {}", name.unwrap_or("(null)")));
}

/// `struct name  member` with the tag and name padded to `spacing` columns.
fn tagged(out: &mut Sink<'_>, tag: &str, tname: Option<&str>, name: Option<&str>, spacing: i32) {
    out.put(tag);
    out.left(tname.unwrap_or(""), spacing - tag.len() as i32);
    out.fmt(format_args!(" {}", name.unwrap_or("")));
}
