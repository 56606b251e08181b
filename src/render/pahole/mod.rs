//! Printer producing the same bytes as `pahole -F dwarf -C NAME` of pahole 1.24, or of
//! pahole 1.30 when [`PrintOptions::version`] says so (1.25 and later print more notes about
//! member types, and expand enums and typedefs under `-E`; see [`PaholeVersion`]).
//!
//! The column arithmetic follows pahole's own: a member line is padded to
//! `type_spacing + name_spacing` columns counted from the start of the type text; nested
//! anonymous structs shrink `type_spacing` by 8 per level; printf's rules for negative field
//! widths apply. Which attributes pahole infers lives in [`infer`], type names in [`names`],
//! declarators in `decl`, struct and union bodies in `body`.
//!
//! Work is bounded whatever the input: a type printed inside itself (only corrupt type
//! information does that) and output beyond [`sink::OUTPUT_BUDGET`] stop the printer with
//! an error.

mod body;
mod decl;
pub mod infer;
mod member_types;
pub mod names;
pub mod sink;

use std::cell::Cell;
use std::io::{self, Write};
use std::rc::Rc;

use crate::types::model::{Qualifier, Type, TypeError, TypeId, TypeSource};
use infer::Inference;
use sink::{Failure, Sink, OUTPUT_BUDGET};

/// Whose output the printer reproduces. Both print the same members, offsets and sizes;
/// they differ in the notes and summaries around them and in what `-E` expands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaholeVersion {
    /// Debian 12's pahole.
    #[default]
    V1_24,
    /// pahole 1.30 (Debian 13): after a struct member whose type has holes, bit holes, bit
    /// padding or a flexible array, `XXX last struct has ...` says so, and the summary counts
    /// them (`member types with ...`, `flexible array members: ...`); under `-E` named enums
    /// and typedefs of structs and unions are expanded, with a space before the member name.
    V1_30,
}

/// User-visible options (pahole's `--hex`, `-E`, `-c`, and which pahole to print like).
#[derive(Clone, Debug)]
pub struct PrintOptions {
    pub hex: bool,
    pub expand_types: bool,
    pub cacheline_size: u32,
    pub version: PaholeVersion,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            hex: false,
            expand_types: false,
            cacheline_size: 64,
            version: PaholeVersion::V1_24,
        }
    }
}

/// Why a type could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("writing the layout of {top}")]
    Io {
        top: String,
        #[source]
        source: io::Error,
    },
    #[error("{top}: {inner} is nested inside itself (corrupt type information)")]
    Cycle { top: String, inner: String },
    #[error("{top}: its layout would take over {limit} bytes (corrupt type information: types that refer to each other)")]
    Budget { top: String, limit: u64 },
    #[error(transparent)]
    Type(#[from] TypeError),
}

impl PrintError {
    /// The error for a failure while printing (or naming the members of) `top`.
    pub(crate) fn from_failure<S: TypeSource + ?Sized>(src: &S, top: TypeId, f: Failure) -> Self {
        let top = describe(src, top);
        match f {
            Failure::Io(source) => PrintError::Io { top, source },
            Failure::Cycle(inner) => PrintError::Cycle {
                top,
                inner: describe(src, inner),
            },
            Failure::Budget => PrintError::Budget {
                top,
                limit: OUTPUT_BUDGET,
            },
        }
    }
}

/// One member line as the printer writes it, for callers that add to it.
#[derive(Debug)]
pub struct MemberLine<'m> {
    /// Member names from the printed type down to this one; anonymous members are left
    /// out, as C leaves them out of `a.b`.
    pub path: &'m [String],
    pub ty: Option<TypeId>,
    /// Offset as printed: from the start of the outermost type (bitfields: the storage unit).
    pub offset: u32,
    pub size: u64,
    /// Bitfields only: width in bits.
    pub bit_size: Option<u8>,
    /// The line closes a body printed inline (`} name;` of an anonymous struct or union).
    pub closes_body: bool,
}

/// Called as each member line is printed; the text returned is appended to that line.
pub trait MemberVisitor {
    fn member(&mut self, line: &MemberLine<'_>) -> Option<String>;
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

impl Conf {
    /// A body printed inside a declaration: its name follows the closing brace.
    fn inline_body(&mut self, suffix: Option<String>) {
        self.prefix = None;
        self.suffix = suffix;
        self.emit_stats = false;
    }
}

/// The type `id` refers to, if it resolves.
fn type_of<S: TypeSource + ?Sized>(src: &S, id: Option<TypeId>) -> Option<&Type> {
    id.and_then(|i| src.get(i).ok())
}

/// A type as an error message names it, without looking further than the type itself.
pub(crate) fn describe<S: TypeSource + ?Sized>(src: &S, id: TypeId) -> String {
    let (kind, name) = match src.get(id) {
        Ok(Type::Struct(c)) => ("struct", c.name.as_deref()),
        Ok(Type::Union(c)) => ("union", c.name.as_deref()),
        Ok(Type::Enum(e)) => ("enum", e.name.as_deref()),
        Ok(Type::Typedef(t)) => ("typedef", Some(t.name.as_str())),
        Ok(Type::Array(_)) => ("array", None),
        Ok(Type::Function(_)) => ("function type", None),
        Ok(Type::Pointer(_)) => ("pointer", None),
        Ok(t) => ("type", t.name()),
        Err(_) => ("type", None),
    };
    match name {
        Some(n) => format!("{kind} {n}"),
        None => format!("anonymous {kind} (type {id})"),
    }
}

/// Printer with pahole's cross-type state (inferred packed attributes, layout caches).
pub struct Printer<'a, S: TypeSource + ?Sized> {
    src: &'a S,
    opts: PrintOptions,
    infer: Inference<'a, S>,
    flex: member_types::FlexibleArrays,
}

impl<'a, S: TypeSource + ?Sized> Printer<'a, S> {
    pub fn new(src: &'a S, opts: PrintOptions) -> Self {
        Printer {
            src,
            opts,
            infer: Inference::new(src),
            flex: member_types::FlexibleArrays::default(),
        }
    }

    /// Printing like pahole 1.25 or later.
    fn newer(&self) -> bool {
        self.opts.version == PaholeVersion::V1_30
    }

    /// The inferred-attribute state, for output that must agree with the printed text.
    pub fn inference(&mut self) -> &mut Inference<'a, S> {
        &mut self.infer
    }

    fn cl_size(&self) -> u32 {
        if self.opts.cacheline_size == 0 {
            64
        } else {
            self.opts.cacheline_size
        }
    }

    fn get(&self, id: Option<TypeId>) -> Option<&'a Type> {
        type_of(self.src, id)
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

    /// Write what `pahole -C NAME` prints for this type, final newline included.
    pub fn print(&mut self, id: TypeId, w: &mut dyn Write) -> Result<(), PrintError> {
        self.print_with(id, w, None)
    }

    /// What `pahole -C NAME` prints for a type asked for by name: [`Printer::print`]'s text,
    /// then (pahole 1.25+) a blank line.
    pub fn print_asked(&mut self, id: TypeId, w: &mut dyn Write) -> Result<(), PrintError> {
        self.print(id, w)?;
        if self.newer() {
            w.write_all(b"\n").map_err(|source| PrintError::Io {
                top: describe(self.src, id),
                source,
            })?;
        }
        Ok(())
    }

    /// As [`Printer::print`], with `visitor` called on each member line.
    pub fn print_with<'w>(
        &mut self,
        id: TypeId,
        w: &'w mut dyn Write,
        visitor: Option<&'w mut dyn MemberVisitor>,
    ) -> Result<(), PrintError> {
        let mut out = Sink::new(w, OUTPUT_BUDGET, visitor);
        self.top(&mut out, id);
        out.put(";\n");
        out.finish()
            .map_err(|f| PrintError::from_failure(self.src, id, f))
    }

    /// pahole's `tag__fprintf` for a type asked for by name.
    fn top(&mut self, out: &mut Sink<'_>, id: TypeId) {
        let ty = self.get(Some(id));
        let conf = self.top_conf(matches!(ty, Some(Type::Union(_))));
        let unsupported = |what: &str| format!("/* tag__fprintf: {what} tag not supported! */");
        match ty {
            Some(Type::Struct(_)) => self.class_body(out, id, &conf),
            Some(Type::Union(_)) => self.union_body(out, id, &conf),
            Some(Type::Enum(_)) => self.enum_body(out, id, &conf),
            Some(Type::Typedef(_)) => self.typedef_decl(out, id, &conf),
            Some(Type::Array(_)) => self.array_decl(out, id, Some("array"), &conf),
            Some(Type::Function(_)) => names::function(self.src, out, id, &names::FnDecl::BARE),
            Some(Type::Base(_)) => out.put(&unsupported("base_type")),
            Some(Type::Pointer(_)) => out.put(&unsupported("pointer_type")),
            Some(Type::Qualified(q)) => out.put(&unsupported(match q.qualifier {
                Qualifier::Const => "const_type",
                Qualifier::Volatile => "volatile_type",
                Qualifier::Restrict => "restrict_type",
                Qualifier::Atomic => "atomic_type",
            })),
            Some(Type::Unsupported { what }) => out.put(&unsupported(what)),
            None => out.put("<ERROR: type not found>"),
        }
    }

    /// C spelling of a type as the printer writes it in declarations.
    fn tag_name(&self, out: &mut Sink<'_>, id: Option<TypeId>) -> String {
        names::tag_name(self.src, out, id, 0)
    }
}
