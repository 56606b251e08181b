//! Printer producing the same bytes as `pahole -F dwarf -C NAME` of pahole 1.24.
//!
//! The column arithmetic follows pahole's own: a member line is padded to
//! `type_spacing + name_spacing` columns counted from the start of the type text; nested
//! anonymous structs shrink `type_spacing` by 8 per level; printf's rules for negative field
//! widths apply. Some of pahole's conclusions depend on what it printed before (a struct found
//! at an unnatural offset inside another one is marked `__packed__` from then on); that state
//! lives in [`Printer`] and is shared by everything one printer prints.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::types::layout::{self, Layout, MemberLayout};
use crate::types::model::{
    FunctionType, Qualifier, Type, TypeError, TypeId, TypeSource, MAX_CHAIN,
};

/// User-visible options (pahole's `--hex`, `-E`, `-c`).
#[derive(Clone, Debug)]
pub struct PrintOptions {
    pub hex: bool,
    pub expand_types: bool,
    pub cacheline_size: u32,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            hex: false,
            expand_types: false,
            cacheline_size: 64,
        }
    }
}

/// Per-call formatting context (pahole's `conf_fprintf`); cloned on the way down, except the
/// current cacheline, which nested structs share with their parent.
#[derive(Clone)]
struct Conf {
    prefix: Option<String>,
    suffix: Option<String>,
    type_spacing: i32,
    name_spacing: i32,
    base_offset: u32,
    cacheline: Option<Rc<Cell<u32>>>,
    indent: u8,
    expand_types: bool,
    rel_offset: bool,
    emit_stats: bool,
    suppress_offset_comment: bool,
    first_member: bool,
    last_member: bool,
    union_member: bool,
}

const MAX_TABS: usize = 16;

fn tabs(out: &mut String, n: u8) -> usize {
    let n = (n as usize).min(MAX_TABS);
    for _ in 0..n {
        out.push('\t');
    }
    n
}

/// printf `%-*s`: left-justified in |width| columns.
fn left(out: &mut String, s: &str, width: i32) -> usize {
    let w = width.unsigned_abs() as usize;
    out.push_str(s);
    let mut n = s.len();
    while n < w {
        out.push(' ');
        n += 1;
    }
    n
}

/// printf `%*s` with a one-space argument: |width| spaces, at least one.
fn spaces(out: &mut String, width: i32) -> usize {
    let w = (width.unsigned_abs() as usize).max(1);
    for _ in 0..w {
        out.push(' ');
    }
    w
}

/// printf `%#x` (no `0x` for zero), right-justified in `width`.
fn hash_x(v: u64, width: usize) -> String {
    let s = if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    };
    format!("{s:>width$}")
}

fn plural(n: i64) -> &'static str {
    if n != 1 {
        "s"
    } else {
        ""
    }
}

/// Printer with pahole's cross-type state (inferred packed attributes, hole caches).
pub struct Printer<'a, S: TypeSource + ?Sized> {
    src: &'a S,
    opts: PrintOptions,
    layouts: HashMap<TypeId, Rc<Layout>>,
    /// packed attribute decided (struct: is_packed; union: members inspected)
    packed: HashMap<TypeId, bool>,
    natural: HashMap<TypeId, u64>,
    /// Current recursion depth: corrupt input can make types refer to themselves by value.
    depth: usize,
}

/// Deeper nesting than this is treated as a cycle in the input.
const MAX_DEPTH: usize = 256;

impl<'a, S: TypeSource + ?Sized> Printer<'a, S> {
    pub fn new(src: &'a S, opts: PrintOptions) -> Self {
        Printer {
            src,
            opts,
            layouts: HashMap::new(),
            packed: HashMap::new(),
            natural: HashMap::new(),
            depth: 0,
        }
    }

    /// Run `f` one level deeper, or print a marker instead when the input nests absurdly.
    fn nested(
        &mut self,
        out: &mut String,
        f: impl FnOnce(&mut Self, &mut String) -> usize,
    ) -> usize {
        if self.depth >= MAX_DEPTH {
            out.push_str("<ERROR: type nesting too deep>");
            return 0;
        }
        self.depth += 1;
        let n = f(self, out);
        self.depth -= 1;
        n
    }

    /// Forget cross-type state, as pahole does between compilation units.
    pub fn reset_state(&mut self) {
        self.packed.clear();
    }

    fn cl_size(&self) -> u32 {
        if self.opts.cacheline_size == 0 {
            64
        } else {
            self.opts.cacheline_size
        }
    }

    fn get(&self, id: Option<TypeId>) -> Option<&'a Type> {
        id.and_then(|i| self.src.get(i).ok())
    }

    fn layout(&mut self, id: TypeId) -> Result<Rc<Layout>, TypeError> {
        if let Some(l) = self.layouts.get(&id) {
            return Ok(l.clone());
        }
        let l = Rc::new(layout::compute(self.src, id)?);
        self.layouts.insert(id, l.clone());
        Ok(l)
    }

    fn natural_alignment(&mut self, id: Option<TypeId>) -> u64 {
        let Some(i) = id else { return 1 };
        if let Some(a) = self.natural.get(&i) {
            return *a;
        }
        let a = layout::natural_alignment(self.src, Some(i), 0).unwrap_or(1);
        self.natural.insert(i, a);
        a
    }

    fn strip(&self, id: Option<TypeId>) -> Option<TypeId> {
        layout::strip(self.src, id).ok().flatten()
    }

    fn is_struct(&self, id: Option<TypeId>) -> bool {
        matches!(self.get(id), Some(Type::Struct(_)))
    }

    /// pahole's `class__infer_packed_attributes`.
    fn infer_packed(&mut self, id: TypeId) -> bool {
        if !self.is_struct(Some(id)) {
            return false;
        }
        if let Some(p) = self.packed.get(&id) {
            return *p;
        }
        let Ok(l) = self.layout(id) else { return false };
        if l.padding != 0 || l.nr_holes != 0 {
            self.structs_at_unnatural_alignments(&l);
            self.packed.insert(id, false);
            return false;
        }
        let mut max_natural: u64 = 1;
        let mut packed = false;
        for m in &l.members {
            let t = self.strip(m.ty);
            let na = self.natural_alignment(t);
            if na == 1 {
                continue;
            }
            max_natural = max_natural.max(na) & 0xffff;
            if !(m.byte_offset as u64).is_multiple_of(na) {
                packed = true;
                break;
            }
        }
        if !packed
            && max_natural != 0
            && ((max_natural != 1 && l.alignment == 1)
                || !(l.size as u64).is_multiple_of(max_natural))
        {
            packed = true;
        }
        // a nested call may have decided first; keep the first decision
        *self.packed.entry(id).or_insert(packed)
    }

    /// pahole's `type__check_structs_at_unnatural_alignments`.
    fn structs_at_unnatural_alignments(&mut self, l: &Layout) {
        for m in &l.members {
            let t = self.strip(m.ty);
            let Some(tid) = t else { continue };
            if !self.is_struct(t) {
                continue;
            }
            let na = self.natural_alignment(t);
            if na != 0 && !(m.byte_offset as u64).is_multiple_of(na) {
                self.packed.insert(tid, true);
            }
        }
    }

    /// pahole's `union__infer_packed_attributes`.
    fn union_infer_packed(&mut self, id: TypeId) {
        if self.packed.contains_key(&id) {
            return;
        }
        if let Ok(l) = self.layout(id) {
            for m in &l.members {
                let t = self.strip(m.ty);
                let Some(tid) = t else { continue };
                if !self.is_struct(t) {
                    continue;
                }
                let na = self.natural_alignment(t);
                if na != 0 && !(l.size as u64).is_multiple_of(na) {
                    self.packed.insert(tid, true);
                }
            }
        }
        self.packed.insert(id, false);
    }

    fn top_conf(&self, is_union: bool) -> Conf {
        Conf {
            prefix: None,
            suffix: None,
            type_spacing: 26,
            name_spacing: if self.opts.expand_types {
                55
            } else if is_union {
                21
            } else {
                23
            },
            base_offset: 0,
            cacheline: None,
            indent: 0,
            expand_types: self.opts.expand_types,
            rel_offset: false,
            emit_stats: true,
            suppress_offset_comment: false,
            first_member: false,
            last_member: false,
            union_member: false,
        }
    }

    /// The text `pahole -C NAME` prints for this type, without the final newline.
    pub fn print(&mut self, id: TypeId) -> String {
        let mut out = String::new();
        let ty = self.get(Some(id));
        let conf = self.top_conf(matches!(ty, Some(Type::Union(_))));
        match ty {
            Some(Type::Struct(_)) => {
                self.class_fprintf(&mut out, id, &conf);
            }
            Some(Type::Union(_)) => {
                self.union_fprintf(&mut out, id, &conf);
            }
            Some(Type::Enum(_)) => {
                self.enum_fprintf(&mut out, id, &conf);
            }
            Some(Type::Typedef(_)) => {
                self.typedef_fprintf(&mut out, id, &conf);
            }
            Some(Type::Array(_)) => {
                self.array_fprintf(&mut out, id, Some("array"), &conf);
            }
            Some(Type::Function(_)) => {
                self.ftype_fprintf(&mut out, id, None, false, false, 0, true, &conf);
            }
            Some(Type::Base(_)) => out.push_str("/* tag__fprintf: base_type tag not supported! */"),
            Some(Type::Pointer(_)) => {
                out.push_str("/* tag__fprintf: pointer_type tag not supported! */")
            }
            Some(Type::Qualified(q)) => {
                let what = match q.qualifier {
                    Qualifier::Const => "const_type",
                    Qualifier::Volatile => "volatile_type",
                    Qualifier::Restrict => "restrict_type",
                    Qualifier::Atomic => "atomic_type",
                };
                let _ = write!(out, "/* tag__fprintf: {what} tag not supported! */");
            }
            Some(Type::Unsupported { what }) => {
                let _ = write!(out, "/* tag__fprintf: {what} tag not supported! */");
            }
            None => out.push_str("<ERROR: type not found>"),
        }
        out.push(';');
        out
    }

    fn type_fprintf(
        &mut self,
        out: &mut String,
        id: Option<TypeId>,
        name: Option<&str>,
        conf: &Conf,
    ) -> usize {
        self.nested(out, |p, o| p.type_fprintf_inner(o, id, name, conf))
    }

    fn array_fprintf(
        &mut self,
        out: &mut String,
        id: TypeId,
        name: Option<&str>,
        conf: &Conf,
    ) -> usize {
        self.nested(out, |p, o| p.array_fprintf_inner(o, id, name, conf))
    }

    #[allow(clippy::too_many_arguments)]
    fn ftype_fprintf(
        &mut self,
        out: &mut String,
        id: TypeId,
        name: Option<&str>,
        inlined: bool,
        is_pointer: bool,
        type_spacing: i32,
        is_prototype: bool,
        conf: &Conf,
    ) -> usize {
        self.nested(out, |p, o| {
            p.ftype_fprintf_inner(
                o,
                id,
                name,
                inlined,
                is_pointer,
                type_spacing,
                is_prototype,
                conf,
            )
        })
    }

    fn union_fprintf(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        self.nested(out, |p, o| p.union_fprintf_inner(o, id, conf))
    }

    fn class_fprintf(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        self.nested(out, |p, o| p.class_fprintf_inner(o, id, conf))
    }

    fn enum_fprintf(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        self.nested(out, |p, o| p.enum_fprintf_inner(o, id, conf))
    }

    // ------------------------------------------------------------------ names

    /// C spelling of a type as used in declarations (`struct list_head *`, `long unsigned
    /// int`), with array dimensions appended (`char[16]`).
    pub fn type_name(&mut self, id: Option<TypeId>) -> String {
        let mut s = self.tag_name(id, 0);
        if let Some(Type::Array(a)) = self.get(id) {
            for d in &a.dims {
                let _ = write!(s, "[{d}]");
            }
        }
        s
    }

    /// Whether pahole would print `__attribute__((__packed__))` after this struct.
    pub fn packed(&mut self, id: TypeId) -> bool {
        self.infer_packed(id)
    }

    /// Placed members, holes and padding of a struct or union.
    pub fn layout_of(&mut self, id: TypeId) -> Result<Rc<Layout>, TypeError> {
        self.layout(id)
    }

    /// pahole's `__tag__name`.
    fn tag_name(&mut self, id: Option<TypeId>, depth: usize) -> String {
        let Some(ty) = self.get(id) else {
            return "void".to_string();
        };
        if depth > MAX_CHAIN || self.depth >= MAX_DEPTH {
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
            Type::Pointer(p) => self.ptr_name(p.target, "*", depth),
            Type::Qualified(q) => {
                let inner = self.tag_name(q.target, depth + 1);
                let (pre, suf) = match q.qualifier {
                    Qualifier::Const => ("const ", ""),
                    Qualifier::Volatile => ("volatile ", ""),
                    Qualifier::Restrict => ("", " restrict"),
                    Qualifier::Atomic => ("_Atomic ", ""),
                };
                format!("{pre}{inner}{suf} ")
            }
            Type::Array(a) => self.tag_name(a.element, depth + 1),
            Type::Function(_) => {
                let mut s = String::new();
                if let Some(i) = id {
                    let conf = self.top_conf(false);
                    self.ftype_fprintf(&mut s, i, None, false, false, 0, true, &conf);
                }
                s
            }
            Type::Struct(c) => format!("struct {}", c.name.as_deref().unwrap_or("")),
            Type::Union(c) => format!("union {}", c.name.as_deref().unwrap_or("")),
            Type::Enum(e) => format!("enum {}", e.name.as_deref().unwrap_or("")),
            Type::Typedef(t) => t.name.clone(),
            Type::Unsupported { .. } => String::new(),
        }
    }

    /// pahole's `tag__ptr_name`.
    fn ptr_name(&mut self, target: Option<TypeId>, suffix: &str, depth: usize) -> String {
        let Some(t) = target else {
            return format!("void {suffix}");
        };
        let mut ty = Some(t);
        let mut const_pointer = "";
        if let Some(Type::Qualified(q)) = self.get(ty) {
            if q.qualifier == Qualifier::Const {
                if let Some(Type::Pointer(_)) = self.get(q.target) {
                    const_pointer = "const ";
                    ty = q.target;
                }
            }
        }
        let inner = self.tag_name(ty, depth + 1);
        format!("{inner} {const_pointer}{suffix}")
    }

    // ------------------------------------------------------------------ types

    /// pahole's `type__fprintf`: a type followed by a (member) name.
    fn type_fprintf_inner(
        &mut self,
        out: &mut String,
        id: Option<TypeId>,
        name: Option<&str>,
        conf: &Conf,
    ) -> usize {
        let start = out.len();
        let Some(mut tid) = id else {
            left(out, "<ERROR", conf.type_spacing);
            let _ = write!(out, "> {}", name.unwrap_or("(null)"));
            return out.len() - start;
        };
        let mut name_buf: Option<String> = name.map(|s| s.to_string());
        let expand_types = conf.expand_types;
        let suppress_offset_comment = conf.suppress_offset_comment;

        if expand_types {
            let mut expanded = false;
            let mut guard = 0;
            while let Some(Type::Typedef(td)) = self.get(Some(tid)) {
                if expanded {
                    let _ = write!(out, " -> {}", td.name);
                } else {
                    let _ = write!(out, "/* typedef {}", td.name);
                    expanded = true;
                }
                match td.target {
                    Some(t) => tid = t,
                    None => {
                        // typedef of void: pahole reports the type as not found
                        left(out, "<ERROR", conf.type_spacing);
                        let _ = write!(out, "> {}", name.unwrap_or("(null)"));
                        return out.len() - start;
                    }
                }
                guard += 1;
                if guard > MAX_CHAIN {
                    break;
                }
            }
            if expanded {
                out.push_str(" */ ");
            }
        }

        let mut tconf = conf.clone();
        let is_inline_kind = |t: Option<&Type>| {
            matches!(
                t,
                Some(Type::Struct(_)) | Some(Type::Union(_)) | Some(Type::Enum(_))
            )
        };
        if is_inline_kind(self.get(Some(tid))) {
            tconf.prefix = None;
            tconf.suffix = name_buf.clone();
            tconf.emit_stats = false;
            tconf.suppress_offset_comment = suppress_offset_comment;
        }

        let mut loops = 0;
        loop {
            loops += 1;
            if loops > MAX_CHAIN {
                break;
            }
            let Some(ty) = self.get(Some(tid)) else { break };
            match ty {
                Type::Pointer(p) if p.target.is_some() => {
                    let ptype = p.target;
                    match self.get(ptype) {
                        Some(Type::Function(_)) => {
                            if let Some(pt) = ptype {
                                self.ftype_fprintf(
                                    out,
                                    pt,
                                    name_buf.as_deref(),
                                    false,
                                    true,
                                    tconf.type_spacing,
                                    true,
                                    &tconf,
                                );
                            }
                            break;
                        }
                        Some(Type::Struct(c)) | Some(Type::Union(c)) if c.name.is_none() => {
                            let n = format!("* {}", name_buf.as_deref().unwrap_or("(null)"));
                            name_buf = Some(n);
                            tconf.rel_offset = true;
                            tconf.type_spacing -= 8;
                            tconf.prefix = None;
                            tconf.suffix = name_buf.clone();
                            tconf.emit_stats = false;
                            tconf.suppress_offset_comment = suppress_offset_comment;
                            if let Some(pt) = ptype {
                                tid = pt;
                            }
                            continue;
                        }
                        Some(Type::Enum(e)) if e.name.is_none() => {
                            let n = format!("* {}", name_buf.as_deref().unwrap_or("(null)"));
                            name_buf = Some(n);
                            tconf.rel_offset = true;
                            tconf.type_spacing -= 8;
                            tconf.prefix = None;
                            tconf.suffix = name_buf.clone();
                            tconf.emit_stats = false;
                            tconf.suppress_offset_comment = suppress_offset_comment;
                            if let Some(pt) = ptype {
                                tid = pt;
                            }
                            continue;
                        }
                        _ => {}
                    }
                    let tn = self.tag_name(Some(tid), 0);
                    left(out, &tn, tconf.type_spacing);
                    let _ = write!(out, " {}", name_buf.as_deref().unwrap_or("(null)"));
                    break;
                }
                Type::Function(_) => {
                    self.ftype_fprintf(
                        out,
                        tid,
                        name_buf.as_deref(),
                        false,
                        false,
                        tconf.type_spacing,
                        true,
                        &tconf,
                    );
                    break;
                }
                Type::Qualified(q) if q.qualifier == Qualifier::Const => {
                    out.push_str("const ");
                    tconf.type_spacing -= 6;
                    match q.target {
                        Some(t) if self.get(Some(t)).is_some() => {
                            tid = t;
                            continue;
                        }
                        _ => {
                            let tn = self.tag_name(Some(tid), 0);
                            left(out, &tn, tconf.type_spacing);
                            let _ = write!(out, " {}", name_buf.as_deref().unwrap_or("(null)"));
                            break;
                        }
                    }
                }
                Type::Array(_) => {
                    self.array_fprintf(out, tid, name_buf.as_deref(), &tconf);
                    break;
                }
                Type::Struct(c) => {
                    if c.name.is_some() && !expand_types {
                        out.push_str("struct ");
                        left(out, c.name.as_deref().unwrap_or(""), tconf.type_spacing - 7);
                        let _ = write!(out, " {}", name_buf.as_deref().unwrap_or(""));
                    } else {
                        tconf.type_spacing -= 8;
                        self.class_fprintf(out, tid, &tconf);
                    }
                    break;
                }
                Type::Union(c) => {
                    if c.name.is_some() && !expand_types {
                        out.push_str("union ");
                        left(out, c.name.as_deref().unwrap_or(""), tconf.type_spacing - 6);
                        let _ = write!(out, " {}", name_buf.as_deref().unwrap_or(""));
                    } else {
                        tconf.type_spacing -= 8;
                        self.union_fprintf(out, tid, &tconf);
                    }
                    break;
                }
                Type::Enum(e) => {
                    if let Some(n) = &e.name {
                        out.push_str("enum ");
                        left(out, n, tconf.type_spacing - 5);
                        let _ = write!(out, " {}", name_buf.as_deref().unwrap_or(""));
                    } else {
                        self.enum_fprintf(out, tid, &tconf);
                    }
                    break;
                }
                _ => {
                    let tn = self.tag_name(Some(tid), 0);
                    left(out, &tn, tconf.type_spacing);
                    let _ = write!(out, " {}", name_buf.as_deref().unwrap_or("(null)"));
                    break;
                }
            }
        }
        out.len() - start
    }

    /// pahole's `array_type__fprintf`.
    fn array_fprintf_inner(
        &mut self,
        out: &mut String,
        id: TypeId,
        name: Option<&str>,
        conf: &Conf,
    ) -> usize {
        let start = out.len();
        let Some(Type::Array(at)) = self.get(Some(id)) else {
            return 0;
        };
        let mut elem = at.element;
        if elem.is_none() || self.get(elem).is_none() {
            let _ = write!(out, "<ERROR: type not found>");
            return out.len() - start;
        }
        if at.dims.first() == Some(&0) {
            if let Some(Type::Qualified(q)) = self.get(elem) {
                if q.qualifier == Qualifier::Const {
                    elem = q.target;
                }
            }
        }
        self.type_fprintf(out, elem, name, conf);
        let single_member = conf.last_member && conf.first_member;
        let mut flat: u64 = 0;
        for (i, n) in at.dims.iter().enumerate() {
            if at.vector {
                if *n == 0 && i == 0 {
                    break;
                }
                flat = if flat == 0 { *n } else { flat.wrapping_mul(*n) };
            } else if *n != 0 || !conf.last_member || single_member || conf.union_member {
                let _ = write!(out, "[{}]", *n as u32);
            } else {
                out.push_str("[]");
            }
        }
        if at.vector {
            let flat = if flat == 0 { 1 } else { flat };
            let esize = layout::tag_size(self.src, self.strip(at.element)).unwrap_or(0);
            let _ = write!(
                out,
                " __attribute__ ((__vector_size__ ({})))",
                flat.wrapping_mul(esize)
            );
        }
        out.len() - start
    }

    /// pahole's `ftype__fprintf`: `ret (*name)(params)`.
    #[allow(clippy::too_many_arguments)]
    fn ftype_fprintf_inner(
        &mut self,
        out: &mut String,
        id: TypeId,
        name: Option<&str>,
        inlined: bool,
        is_pointer: bool,
        type_spacing: i32,
        is_prototype: bool,
        conf: &Conf,
    ) -> usize {
        let start = out.len();
        let Some(Type::Function(f)) = self.get(Some(id)) else {
            return 0;
        };
        let stype = self.tag_name(f.ret, 0);
        if inlined {
            out.push_str("inline ");
        }
        left(out, &stype, type_spacing);
        out.push(' ');
        if is_prototype {
            out.push('(');
        }
        if is_pointer {
            out.push('*');
        }
        out.push_str(name.unwrap_or(""));
        if is_prototype {
            out.push(')');
        }
        self.ftype_params(out, f, conf);
        out.len() - start
    }

    fn ftype_params(&mut self, out: &mut String, f: &FunctionType, conf: &Conf) {
        out.push('(');
        let mut first = true;
        for p in &f.params {
            if !first {
                out.push_str(", ");
            }
            first = false;
            let name = p.name.as_deref();
            let Some(ty) = self.get(p.ty) else {
                let _ = write!(
                    out,
                    "<ERROR: type {} not found>",
                    p.ty.map(|t| t.0).unwrap_or(0)
                );
                if let Some(n) = name {
                    let _ = write!(out, " {n}");
                }
                continue;
            };
            match ty {
                Type::Pointer(ptr) if ptr.target.is_some() => {
                    if let Some(Type::Function(_)) = self.get(ptr.target) {
                        if let Some(t) = ptr.target {
                            self.ftype_fprintf(out, t, name, false, true, 0, true, conf);
                        }
                        continue;
                    }
                }
                Type::Function(_) => {
                    if let Some(t) = p.ty {
                        self.ftype_fprintf(out, t, name, true, false, 0, false, conf);
                    }
                    continue;
                }
                _ => {}
            }
            let stype = self.tag_name(p.ty, 0);
            out.push_str(&stype);
            if let Some(n) = name {
                out.push(' ');
                out.push_str(n);
            }
        }
        if first {
            out.push_str("void)");
        } else if f.variadic {
            out.push_str(", ...)");
        } else {
            out.push(')');
        }
    }

    /// pahole's `enumeration__fprintf`.
    fn enum_fprintf_inner(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        let start = out.len();
        let Some(Type::Enum(e)) = self.get(Some(id)) else {
            return 0;
        };
        let indent = conf.indent.min(MAX_TABS as u8);
        out.push_str("enum");
        if let Some(n) = &e.name {
            out.push(' ');
            out.push_str(n);
        }
        if e.enumerators.is_empty() {
            return out.len() - start;
        }
        out.push_str(" {\n");
        let max_len = e
            .enumerators
            .iter()
            .map(|x| x.name.len())
            .max()
            .unwrap_or(0) as i32;
        for en in &e.enumerators {
            tabs(out, indent);
            out.push('\t');
            left(out, &en.name, max_len);
            out.push_str(" = ");
            if self.opts.hex {
                out.push_str(&hash_x(en.value, 0));
            } else if e.signed {
                let _ = write!(out, "{}", en.value as i64);
            } else {
                let _ = write!(out, "{}", en.value);
            }
            out.push_str(",\n");
        }
        tabs(out, indent);
        out.push('}');
        if e.byte_size != 4 {
            out.push_str(" __attribute__((__packed__))");
        }
        if let Some(s) = &conf.suffix {
            out.push(' ');
            out.push_str(s);
        }
        out.len() - start
    }

    /// pahole's `typedef__fprintf` (a typedef printed at top level).
    fn typedef_fprintf(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        let start = out.len();
        let Some(Type::Typedef(td)) = self.get(Some(id)) else {
            return 0;
        };
        let Some(target) = td.target else {
            let _ = write!(out, "typedef void {}", td.name);
            return out.len() - start;
        };
        match self.get(Some(target)) {
            None => {
                let _ = write!(out, "typedef <ERROR: type not found> {}", td.name);
            }
            Some(Type::Array(_)) => {
                out.push_str("typedef ");
                self.array_fprintf(out, target, Some(&td.name), conf);
            }
            Some(Type::Pointer(p)) if matches!(self.get(p.target), Some(Type::Function(_))) => {
                out.push_str("typedef ");
                if let Some(f) = p.target {
                    self.ftype_fprintf(out, f, Some(&td.name), false, true, 0, true, conf);
                }
            }
            Some(Type::Function(_)) => {
                out.push_str("typedef ");
                self.ftype_fprintf(out, target, Some(&td.name), false, false, 0, true, conf);
            }
            Some(Type::Struct(c)) => {
                if let Some(n) = &c.name {
                    let _ = write!(out, "typedef struct {} {}", n, td.name);
                } else {
                    let mut tconf = conf.clone();
                    tconf.suffix = Some(td.name.clone());
                    out.push_str("typedef ");
                    self.class_fprintf(out, target, &tconf);
                }
            }
            Some(Type::Enum(e)) => {
                if let Some(n) = &e.name {
                    let _ = write!(out, "typedef enum {} {}", n, td.name);
                } else {
                    let mut tconf = conf.clone();
                    tconf.suffix = Some(td.name.clone());
                    out.push_str("typedef ");
                    self.enum_fprintf(out, target, &tconf);
                }
            }
            Some(_) => {
                let tn = self.tag_name(Some(target), 0);
                let _ = write!(out, "typedef {} {}", tn, td.name);
            }
        }
        out.len() - start
    }

    // ------------------------------------------------------------------ structs and unions

    fn cacheline_boundary(&self, out: &mut String, conf: &Conf, offset: u32) -> usize {
        let start = out.len();
        let cls = self.cl_size();
        let cacheline = offset / cls;
        let Some(cur) = &conf.cacheline else { return 0 };
        if cacheline > cur.get() {
            let pos = offset % cls;
            let bytes = offset - pos;
            if pos == 0 {
                let _ = writeln!(
                    out,
                    "/* --- cacheline {cacheline} boundary ({bytes} bytes) --- */"
                );
            } else {
                let _ = writeln!(
                    out,
                    "/* --- cacheline {cacheline} boundary ({bytes} bytes) was {pos} byte{} ago --- */",
                    if pos > 1 { "s" } else { "" }
                );
            }
            tabs(out, conf.indent);
            cur.set(cacheline);
        }
        out.len() - start
    }

    fn is_packed(&self, id: Option<TypeId>) -> bool {
        id.and_then(|i| self.packed.get(&i).copied())
            .unwrap_or(false)
    }

    /// pahole's `class_member__fprintf`; returns the characters that count for alignment.
    fn member_fprintf(
        &mut self,
        out: &mut String,
        m: &MemberLayout,
        union_member: bool,
        conf: &Conf,
    ) {
        let mut sconf = conf.clone();
        let mut offset = m.byte_offset;
        if !sconf.rel_offset {
            offset = offset.wrapping_add(sconf.base_offset);
            if !union_member {
                sconf.base_offset = offset;
            }
        }
        if m.bitfield_offset < 0 {
            offset = offset.wrapping_add(m.byte_size as u32);
        }
        let mut scratch = String::new();
        self.cacheline_boundary(&mut scratch, conf, offset);
        out.push_str(&scratch);

        let line_start = out.len();
        let ty = self.get(m.ty);
        let inline_kind = matches!(
            ty,
            Some(Type::Struct(_)) | Some(Type::Union(_)) | Some(Type::Enum(_))
        );
        if inline_kind {
            self.type_fprintf(out, m.ty, None, &sconf);
            if let Some(n) = &m.name {
                if ty.and_then(|t| t.name()).is_none() {
                    out.push(' ');
                }
                out.push_str(n);
            }
        } else {
            self.type_fprintf(out, m.ty, m.name.as_deref(), &sconf);
        }
        if m.bitfield_size != 0 {
            let _ = write!(out, ":{}", m.bitfield_size);
        }
        let mut align_printed = 0usize;
        if m.alignment != 0 {
            let s = format!(" __attribute__((__aligned__({})))", m.alignment);
            align_printed = s.len();
            out.push_str(&s);
        }
        out.push(';');
        let printed = (out.len() - line_start) as i32;
        let hex = self.opts.hex;
        let bitfield_offset_text = |m: &MemberLayout| -> String {
            let mut bo = m.bitfield_offset as i32 as u32;
            if m.bitfield_offset < 0 {
                bo = (m.byte_size as u32)
                    .wrapping_mul(8)
                    .wrapping_add(m.bitfield_offset as i32 as u32);
            }
            if hex {
                format!(":{}", hash_x(bo as u64, 2))
            } else {
                format!(":{bo:>2}")
            }
        };
        let size_text = |v: u64, w: usize| -> String {
            if hex {
                format!(" {} */", hash_x(v, w))
            } else {
                format!(" {v:>w$} */")
            }
        };
        let off_text = |v: u32| -> String {
            if hex {
                format!("/* {}", hash_x(v as u64, 5))
            } else {
                format!("/* {v:>5}")
            }
        };
        if sconf.suppress_offset_comment {
            return;
        }
        if inline_kind && ty.and_then(|t| t.name()).is_none() {
            let mut slen: i32 =
                align_printed as i32 + m.name.as_ref().map(|n| n.len() as i32).unwrap_or(-1);
            if matches!(ty, Some(Type::Struct(_))) && self.is_packed(m.ty) {
                slen += "__attribute__((__packed__))".len() as i32 + 1;
            }
            spaces(out, sconf.type_spacing + sconf.name_spacing - slen - 3);
            out.push_str(&off_text(offset));
            let mut size_spacing = 5;
            if m.bitfield_size != 0 {
                out.push_str(&bitfield_offset_text(m));
                size_spacing -= 3;
            }
            out.push_str(&size_text(m.byte_size, size_spacing));
        } else {
            let spacing = sconf.type_spacing + sconf.name_spacing - printed;
            spaces(out, if spacing > 0 { spacing } else { 0 });
            out.push_str(&off_text(offset));
            let mut size_spacing = 5;
            if m.bitfield_size != 0 {
                out.push_str(&bitfield_offset_text(m));
                size_spacing -= 3;
            }
            out.push_str(&size_text(m.byte_size, size_spacing));
        }
    }

    /// pahole's `union__fprintf`.
    fn union_fprintf_inner(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        let start = out.len();
        let Some(Type::Union(c)) = self.get(Some(id)) else {
            return 0;
        };
        let indent = conf.indent.min(MAX_TABS as u8);
        if let Some(p) = &conf.prefix {
            out.push_str(p);
            out.push(' ');
        }
        out.push_str("union");
        if let Some(n) = &c.name {
            out.push(' ');
            out.push_str(n);
        }
        out.push_str(" {\n");
        let mut uconf = conf.clone();
        uconf.indent = indent + 1;
        self.union_infer_packed(id);
        if uconf.cacheline.is_none() {
            uconf.cacheline = Some(Rc::new(Cell::new(0)));
        }
        let initial = uconf.cacheline.as_ref().map(|c| c.get()).unwrap_or(0);
        let l = match self.layout(id) {
            Ok(l) => l,
            Err(e) => {
                let _ = write!(out, "<ERROR: {e}>");
                return out.len() - start;
            }
        };
        for m in &l.members {
            tabs(out, uconf.indent);
            if self.get(m.ty).is_none() {
                out.push_str("<ERROR: type not found>\n");
                continue;
            }
            uconf.union_member = true;
            self.member_fprintf(out, m, true, &uconf);
            out.push('\n');
            if let Some(c) = &uconf.cacheline {
                c.set(initial);
            }
        }
        tabs(out, indent);
        out.push('}');
        if let Some(s) = &conf.suffix {
            out.push(' ');
            out.push_str(s);
        }
        out.len() - start
    }

    /// pahole's `__class__fprintf` for a struct.
    fn class_fprintf_inner(&mut self, out: &mut String, id: TypeId, conf: &Conf) -> usize {
        let start = out.len();
        let Some(Type::Struct(comp)) = self.get(Some(id)) else {
            return 0;
        };
        let mut cconf = conf.clone();
        if let Some(p) = &cconf.prefix {
            out.push_str(p);
            out.push(' ');
        }
        out.push_str("struct");
        if let Some(n) = &comp.name {
            out.push(' ');
            out.push_str(n);
        }
        let indent = cconf.indent.min(MAX_TABS as u8);
        if cconf.cacheline.is_none() {
            cconf.cacheline = Some(Rc::new(Cell::new(0)));
        }
        cconf.indent = indent + 1;
        self.infer_packed(id);
        let l = match self.layout(id) {
            Ok(l) => l,
            Err(e) => {
                let _ = write!(out, " {{ <ERROR: {e}> }}");
                return out.len() - start;
            }
        };
        out.push_str(" {\n");

        let mut newline = false;
        let mut sum_holes: u32 = 0;
        let mut sum_bit_holes: u32 = 0;
        let mut sum_bytes: u32 = 0;
        let mut sum_bits: u32 = 0;
        let mut nr_paddings: u16 = 0;
        let mut sum_paddings: u32 = 0;
        let mut nr_forced: u16 = 0;
        let mut nr_forced_holes: u16 = 0;
        let mut sum_forced_holes: u32 = 0;

        if l.pre_bit_hole > 0 {
            if !newline {
                out.push('\n');
                newline = true;
            }
            tabs(out, cconf.indent);
            let _ = writeln!(
                out,
                "/* XXX {} bit{} hole, try to pack */",
                l.pre_bit_hole,
                plural(l.pre_bit_hole as i64)
            );
            sum_bit_holes += l.pre_bit_hole as u32;
        }
        if l.pre_hole > 0 {
            if !newline {
                out.push('\n');
                newline = true;
            }
            tabs(out, cconf.indent);
            let _ = writeln!(
                out,
                "/* XXX {} byte{} hole, try to pack */",
                l.pre_hole,
                plural(l.pre_hole as i64)
            );
            sum_holes += l.pre_hole as u32;
        }

        let mut last: Option<&MemberLayout> = None;
        let mut last_size: u64 = 0;
        let n = l.members.len();
        for (i, pos) in l.members.iter().enumerate() {
            if pos.alignment != 0 {
                let forced_hole = match last {
                    Some(lm) => lm.hole,
                    None => l.pre_hole,
                };
                if forced_hole != 0 {
                    nr_forced_holes = nr_forced_holes.wrapping_add(1);
                    sum_forced_holes = sum_forced_holes.wrapping_add(forced_hole as u32);
                }
                nr_forced = nr_forced.wrapping_add(1);
            }
            if let Some(lm) = last {
                if last_size != 0 {
                    if lm.bit_hole != 0 && pos.bitfield_size != 0 {
                        let mut bitfield_size = lm.bit_hole as u32;
                        if self.get(pos.ty).is_none() {
                            tabs(out, cconf.indent);
                            out.push_str("<ERROR: type not found>");
                            continue;
                        }
                        if lm.byte_offset != pos.byte_offset {
                            out.push('\n');
                            tabs(out, cconf.indent);
                            out.push_str("/* Force alignment to the next boundary: */\n");
                            bitfield_size = 0;
                        }
                        tabs(out, cconf.indent);
                        self.type_fprintf(out, pos.ty, Some(""), &cconf);
                        let _ = writeln!(out, ":{bitfield_size};");
                    }
                    if pos.byte_offset < lm.byte_offset
                        || (pos.byte_offset == lm.byte_offset
                            && lm.bitfield_size == 0
                            && pos.bitfield_size != 0)
                    {
                        if !newline {
                            out.push('\n');
                            newline = true;
                        }
                        tabs(out, cconf.indent);
                        out.push_str("/* Bitfield combined with previous fields */\n");
                    } else {
                        let cc_last_size = pos.byte_offset as i64 - lm.byte_offset as i64;
                        if cc_last_size > 0 && (cc_last_size as u64) < last_size {
                            if !newline {
                                out.push('\n');
                                newline = true;
                            }
                            tabs(out, cconf.indent);
                            out.push_str("/* Bitfield combined with next fields */\n");
                        }
                    }
                }
            }
            if newline {
                out.push('\n');
                newline = false;
            }
            if self.get(pos.ty).is_none() {
                tabs(out, cconf.indent);
                out.push_str("<ERROR: type not found>");
                continue;
            }
            cconf.last_member = i + 1 == n;
            cconf.first_member = last.is_none();
            let size = pos.byte_size;
            tabs(out, cconf.indent);
            self.member_fprintf(out, pos, false, &cconf);

            if let (true, Some(tid)) = (self.is_struct(pos.ty), pos.ty) {
                self.infer_packed(tid);
                let padding = self.layout(tid).map(|t| t.padding).unwrap_or(0);
                if padding > 0 {
                    nr_paddings = nr_paddings.wrapping_add(1);
                    sum_paddings = sum_paddings.wrapping_add(padding as u32);
                    if !newline {
                        out.push('\n');
                        newline = true;
                    }
                    out.push('\n');
                    tabs(out, cconf.indent);
                    let _ = write!(
                        out,
                        "/* XXX last struct has {} byte{} of padding */",
                        padding,
                        plural(padding as i64)
                    );
                }
            }
            if pos.bit_hole != 0 {
                if !newline {
                    out.push('\n');
                    newline = true;
                }
                out.push('\n');
                tabs(out, cconf.indent);
                let _ = write!(
                    out,
                    "/* XXX {} bit{} hole, try to pack */",
                    pos.bit_hole,
                    plural(pos.bit_hole as i64)
                );
                sum_bit_holes += pos.bit_hole as u32;
            }
            if pos.hole > 0 {
                if !newline {
                    out.push('\n');
                    newline = true;
                }
                out.push('\n');
                tabs(out, cconf.indent);
                let _ = write!(
                    out,
                    "/* XXX {} byte{} hole, try to pack */",
                    pos.hole,
                    plural(pos.hole as i64)
                );
                sum_holes += pos.hole as u32;
            }
            out.push('\n');

            if pos.bitfield_size != 0 {
                sum_bits = sum_bits.wrapping_add(pos.bitfield_size as u32);
            } else {
                sum_bytes = sum_bytes.wrapping_add(pos.byte_size as u32);
            }
            match last {
                None => last_size = size,
                Some(lm) => {
                    // a new offset, or a bitfield starting where a plain member sat
                    if last_size == 0
                        || lm.byte_offset != pos.byte_offset
                        || (lm.bitfield_size == 0 && pos.bitfield_size != 0)
                    {
                        last_size = size;
                    }
                }
            }
            last = Some(pos);
        }

        let padding = l.padding;
        if padding != 0 && l.alignment == 0 && self.src.has_alignment_info() {
            if let Some(lm) = last {
                let size = layout::tag_size(self.src, lm.ty).unwrap_or(0);
                if size.is_power_of_two() && padding as u64 > self.src.pointer_size() {
                    out.push('\n');
                    tabs(out, cconf.indent);
                    out.push_str("/* Force padding: */\n");
                    let mut added: u64 = 0;
                    while added < padding as u64 {
                        tabs(out, cconf.indent);
                        self.type_fprintf(out, lm.ty, Some(""), &cconf);
                        let _ = writeln!(out, ":{};", (size as u32).wrapping_mul(8));
                        added += size;
                    }
                }
            }
        }

        if cconf.emit_stats {
            let cls = self.cl_size() as u64;
            let tsize = layout::tag_size(self.src, Some(id)).unwrap_or(0);
            out.push('\n');
            tabs(out, cconf.indent);
            let _ = writeln!(
                out,
                "/* size: {}, cachelines: {}, members: {} */",
                l.size as i32,
                tsize.div_ceil(cls),
                comp.members.len() as u16
            );
            if sum_holes > 0 || sum_bit_holes > 0 {
                if sum_bytes > 0 {
                    tabs(out, cconf.indent);
                    let _ = write!(out, "/* sum members: {sum_bytes}");
                    if sum_holes > 0 {
                        let _ = write!(out, ", holes: {}, sum holes: {}", l.nr_holes, sum_holes);
                    }
                    out.push_str(" */\n");
                }
                if sum_bits > 0 {
                    tabs(out, cconf.indent);
                    let _ = write!(out, "/* sum bitfield members: {sum_bits} bits");
                    if sum_bit_holes > 0 {
                        let _ = write!(
                            out,
                            ", bit holes: {}, sum bit holes: {} bits",
                            l.nr_bit_holes, sum_bit_holes
                        );
                    } else {
                        let _ = write!(out, " ({} bytes)", sum_bits / 8);
                    }
                    out.push_str(" */\n");
                }
            }
            if l.padding > 0 {
                tabs(out, cconf.indent);
                let _ = writeln!(out, "/* padding: {} */", l.padding);
            }
            if nr_paddings > 0 {
                tabs(out, cconf.indent);
                let _ = writeln!(
                    out,
                    "/* paddings: {nr_paddings}, sum paddings: {sum_paddings} */"
                );
            }
            if l.bit_padding > 0 {
                tabs(out, cconf.indent);
                let _ = writeln!(out, "/* bit_padding: {} bits */", l.bit_padding);
            }
            if nr_forced != 0 {
                tabs(out, cconf.indent);
                let _ = write!(out, "/* forced alignments: {nr_forced}");
                if nr_forced_holes != 0 {
                    let _ = write!(
                        out,
                        ", forced holes: {nr_forced_holes}, sum forced holes: {sum_forced_holes}"
                    );
                }
                out.push_str(" */\n");
            }
            let last_cl = (cconf.base_offset.wrapping_add(l.size)) % self.cl_size();
            if last_cl != 0 {
                tabs(out, cconf.indent);
                let _ = writeln!(out, "/* last cacheline: {last_cl} bytes */");
            }
            let accounted = sum_bytes
                .wrapping_mul(8)
                .wrapping_add(sum_bits)
                .wrapping_add(sum_holes.wrapping_mul(8))
                .wrapping_add(sum_bit_holes)
                .wrapping_add((l.padding as u32).wrapping_mul(8))
                .wrapping_add(l.bit_padding as u32);
            let size_diff = l.size.wrapping_mul(8).wrapping_sub(accounted) as i32;
            if size_diff != 0 && !comp.members.is_empty() {
                out.push('\n');
                tabs(out, cconf.indent);
                let _ = writeln!(
                    out,
                    "/* BRAIN FART ALERT! {} bytes != {} (member bytes) + {} (member bits) + {} (byte holes) + {} (bit holes), diff = {} bits */",
                    l.size as i32, sum_bytes, sum_bits, sum_holes, sum_bit_holes, size_diff
                );
            }
        }
        tabs(out, indent);
        out.push('}');
        let packed = self.is_packed(Some(id));
        if packed {
            out.push_str(" __attribute__((__packed__))");
        }
        if let Some(s) = &cconf.suffix {
            out.push(' ');
            out.push_str(s);
        }
        if l.alignment != 0 && !packed {
            let _ = write!(out, " __attribute__((__aligned__({})))", l.alignment);
        }
        out.len() - start
    }
}

/// Print one type as `pahole -C NAME` would (final newline included).
pub fn print_type<S: TypeSource + ?Sized>(src: &S, id: TypeId, opts: &PrintOptions) -> String {
    let mut p = Printer::new(src, opts.clone());
    let mut s = p.print(id);
    s.push('\n');
    s
}
