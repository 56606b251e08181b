//! Struct and union bodies: member lines with their offset/size comments, cacheline
//! boundaries, holes, bitfield notes and the statistics pahole prints after a struct.

use std::cell::Cell;
use std::rc::Rc;

use super::member_types::MemberTypeSums;
use super::sink::{hash_x, plural, Sink, MAX_TABS};
use super::{Conf, MemberLine, Printer};
use crate::types::layout::{self, Layout, MemberLayout};
use crate::types::model::{Access, BaseClass, StaticMember, Type, TypeId, TypeSource};

/// Running sums over a struct's members, for the statistics after its body.
#[derive(Default)]
struct Sums {
    holes: u32,
    bit_holes: u32,
    bytes: u32,
    bits: u32,
    /// What the members' struct types have (padding; 1.25+: holes, flexible arrays...).
    types: MemberTypeSums,
    nr_forced: u16,
    nr_forced_holes: u16,
    forced_holes: u32,
    /// A blank line is owed before the next member (pahole's `newline`).
    newline: bool,
    /// Index of the previous member printed, and the size pahole remembers for it.
    last: Option<usize>,
    last_size: u64,
    /// A type is defined in the body after the last member (clang): pahole's list of the
    /// body's tags then ends with that type, so no member is the last one.
    nested_tail: bool,
}

impl Sums {
    /// Start a comment block with a blank line, once.
    fn blank_line(&mut self, out: &mut Sink<'_>) {
        if !self.newline {
            out.ch('\n');
            self.newline = true;
        }
    }
}

/// `public:` before a member whose stated access differs from the last one printed.
fn access_label(
    out: &mut Sink<'_>,
    current: &mut Option<Access>,
    access: Option<Access>,
    indent: u8,
) {
    if let Some(a) = access.filter(|a| *current != Some(*a)) {
        *current = Some(a);
        out.tabs(indent);
        out.put(a.keyword());
        out.put(":\n\n");
    }
}

impl<'a, S: TypeSource + ?Sized> Printer<'a, S> {
    fn cacheline_boundary(&self, out: &mut Sink<'_>, conf: &Conf, offset: u32) {
        let cls = self.cl_size();
        let cacheline = offset / cls;
        let Some(cur) = &conf.cacheline else { return };
        if cacheline > cur.get() {
            let pos = offset % cls;
            let bytes = offset - pos;
            if pos == 0 {
                out.fmt(format_args!(
                    "/* --- cacheline {cacheline} boundary ({bytes} bytes) --- */\n"
                ));
            } else {
                out.fmt(format_args!(
                    "/* --- cacheline {cacheline} boundary ({bytes} bytes) was {pos} byte{} ago --- */\n",
                    if pos > 1 { "s" } else { "" }
                ));
            }
            out.tabs(conf.indent);
            cur.set(cacheline);
        }
    }

    /// pahole's `class_member__fprintf`: declaration, then `/* offset size */` aligned.
    fn member_line(
        &mut self,
        out: &mut Sink<'_>,
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
        self.cacheline_boundary(out, conf, offset);

        let line_start = out.pos();
        let bodies = out.bodies();
        let named = out.begin_member(m.name.as_deref());
        let ty = self.get(m.ty);
        let inline_kind = matches!(
            ty,
            Some(Type::Struct(_)) | Some(Type::Union(_)) | Some(Type::Enum(_))
        );
        if inline_kind {
            self.type_decl(out, m.ty, None, &sconf);
            if let Some(n) = &m.name {
                // `}name` after an expanded named body until pahole 1.25
                let expanded = sconf.expand_types && self.newer();
                if ty.and_then(|t| t.name()).is_none() || expanded {
                    out.ch(' ');
                }
                out.put(n);
            }
        } else {
            self.type_decl(out, m.ty, m.name.as_deref(), &sconf);
        }
        if m.bitfield_size != 0 {
            out.fmt(format_args!(":{}", m.bitfield_size));
        }
        let mut align_printed = 0usize;
        if m.alignment != 0 {
            let s = format!(" __attribute__((__aligned__({})))", m.alignment);
            align_printed = s.len();
            out.put(&s);
        }
        out.ch(';');
        let printed = (out.pos() - line_start) as i32;
        if !sconf.suppress_offset_comment {
            let spacing = if inline_kind && ty.and_then(|t| t.name()).is_none() {
                let mut slen: i32 =
                    align_printed as i32 + m.name.as_ref().map(|n| n.len() as i32).unwrap_or(-1);
                if matches!(ty, Some(Type::Struct(_))) && self.infer.is_packed(m.ty) {
                    slen += "__attribute__((__packed__))".len() as i32 + 1;
                }
                sconf.type_spacing + sconf.name_spacing - slen - 3
            } else {
                (sconf.type_spacing + sconf.name_spacing - printed).max(0)
            };
            out.spaces(spacing);
            self.offset_comment(out, offset, m);
        }
        let closes_body = out.bodies() != bodies;
        out.member_line(|path| MemberLine {
            path,
            ty: m.ty,
            offset,
            size: m.byte_size,
            bit_size: (m.bitfield_size != 0).then_some(m.bitfield_size),
            closes_body,
        });
        out.end_member(named);
    }

    /// `/* offset[:bit] size */`, decimal or (`--hex`) hexadecimal.
    fn offset_comment(&self, out: &mut Sink<'_>, offset: u32, m: &MemberLayout) {
        let hex = self.opts.hex;
        if hex {
            out.fmt(format_args!("/* {}", hash_x(offset as u64, 5)));
        } else {
            out.fmt(format_args!("/* {offset:>5}"));
        }
        let mut size_spacing = 5;
        if m.bitfield_size != 0 {
            let mut bo = m.bitfield_offset as i32 as u32;
            if m.bitfield_offset < 0 {
                bo = (m.byte_size as u32)
                    .wrapping_mul(8)
                    .wrapping_add(m.bitfield_offset as i32 as u32);
            }
            if hex {
                out.fmt(format_args!(":{}", hash_x(bo as u64, 2)));
            } else {
                out.fmt(format_args!(":{bo:>2}"));
            }
            size_spacing -= 3;
        }
        if hex {
            out.fmt(format_args!(" {} */", hash_x(m.byte_size, size_spacing)));
        } else {
            out.fmt(format_args!(" {:>size_spacing$} */", m.byte_size));
        }
    }

    /// pahole's `union__fprintf`.
    pub(super) fn union_body(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        if out.enter(Some(id)) {
            self.union_body_inner(out, id, conf);
            out.leave(Some(id));
        }
    }

    fn union_body_inner(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        let Some(Type::Union(c)) = self.get(Some(id)) else {
            return;
        };
        let indent = conf.indent.min(MAX_TABS as u8);
        if let Some(p) = &conf.prefix {
            out.put(p);
            out.ch(' ');
        }
        out.put("union");
        if let Some(n) = &c.name {
            out.ch(' ');
            out.put(n);
        }
        out.begin_body();
        out.put(" {\n");
        let mut uconf = conf.clone();
        uconf.indent = indent + 1;
        self.infer.union_infer_packed(id);
        let cacheline = uconf
            .cacheline
            .get_or_insert_with(|| Rc::new(Cell::new(0)))
            .clone();
        let initial = cacheline.get();
        let l = match self.infer.layout(id) {
            Ok(l) => l,
            Err(e) => return out.fmt(format_args!("<ERROR: {e}>")),
        };
        let mut statics = c.statics.iter().peekable();
        for i in 0..=l.members.len() {
            while let Some((_, st)) = statics.next_if(|(at, _)| *at <= i) {
                self.static_member(out, st, &mut Sums::default(), &uconf);
            }
            let Some(m) = l.members.get(i) else { break };
            out.tabs(uconf.indent);
            if self.get(m.ty).is_none() {
                out.put("<ERROR: type not found>\n");
                continue;
            }
            uconf.union_member = true;
            self.member_line(out, m, true, &uconf);
            out.ch('\n');
            cacheline.set(initial);
        }
        out.tabs(indent);
        out.ch('}');
        if let Some(s) = &conf.suffix {
            out.ch(' ');
            out.put(s);
        }
    }

    /// pahole's `__class__fprintf` for a struct.
    pub(super) fn class_body(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        if out.enter(Some(id)) {
            self.class_body_inner(out, id, conf);
            out.leave(Some(id));
        }
    }

    fn class_body_inner(&mut self, out: &mut Sink<'_>, id: TypeId, conf: &Conf) {
        let Some(Type::Struct(comp)) = self.get(Some(id)) else {
            return;
        };
        let mut cconf = conf.clone();
        if let Some(p) = &cconf.prefix {
            out.put(p);
            out.ch(' ');
        }
        out.put(if comp.class { "class" } else { "struct" });
        if let Some(n) = &comp.name {
            out.ch(' ');
            out.put(n);
        }
        self.base_list(out, &comp.bases);
        let indent = cconf.indent.min(MAX_TABS as u8);
        if cconf.cacheline.is_none() {
            cconf.cacheline = Some(Rc::new(Cell::new(0)));
        }
        cconf.indent = indent + 1;
        self.infer.infer_packed(id);
        let l = match self.infer.layout(id) {
            Ok(l) => l,
            Err(e) => return out.fmt(format_args!(" {{ <ERROR: {e}> }}")),
        };
        out.begin_body();
        out.put(" {\n");
        let mut sums = Sums {
            nested_tail: comp.nested.iter().any(|(at, _)| *at >= l.members.len()),
            ..Sums::default()
        };
        self.leading_holes(out, &l, &mut sums, cconf.indent);
        let mut nested = comp.nested.iter().peekable();
        let mut statics = comp.statics.iter().peekable();
        let mut access = None;
        for i in 0..=l.members.len() {
            while let Some((_, tid)) = nested.next_if(|(at, _)| *at <= i) {
                self.nested_type(out, *tid, &cconf);
            }
            while let Some((_, st)) = statics.next_if(|(at, _)| *at <= i) {
                access_label(out, &mut access, st.access, indent);
                self.static_member(out, st, &mut sums, &cconf);
            }
            if let Some(m) = comp.members.get(i) {
                access_label(out, &mut access, m.access, indent);
                self.class_member(out, &l, (i, m.ancestor), &mut sums, &mut cconf);
            }
        }
        self.forced_padding(out, &l, &sums, &cconf);
        if cconf.emit_stats {
            let counts = (comp.members.len(), comp.statics.len());
            self.class_stats(out, id, &l, counts, &sums, &cconf);
        }
        out.tabs(indent);
        out.ch('}');
        let packed = self.infer.is_packed(Some(id));
        if packed {
            out.put(" __attribute__((__packed__))");
        }
        if let Some(s) = &cconf.suffix {
            out.ch(' ');
            out.put(s);
        }
        if l.alignment != 0 && !packed {
            out.fmt(format_args!(
                " __attribute__((__aligned__({})))",
                l.alignment
            ));
        }
    }

    /// A type defined inside a struct's body, printed where it is defined as a body of its
    /// own (its own stats, the parent's column widths), as pahole does. Its cacheline
    /// markers continue the parent's count: only lines past the last one printed get one.
    /// It closes with the parent's suffix, as pahole hands it the parent's context (`} name`
    /// inside `typedef struct {...} name`).
    fn nested_type(&mut self, out: &mut Sink<'_>, id: TypeId, parent: &Conf) {
        let mut conf = parent.clone();
        conf.union_member = false;
        out.tabs(conf.indent);
        match self.get(Some(id)) {
            Some(Type::Union(_)) => self.union_body(out, id, &conf),
            Some(Type::Enum(_)) => self.enum_body(out, id, &conf),
            _ => self.class_body(out, id, &conf),
        }
        out.put(";\n\n");
    }

    /// ` : public B, virtual C` after a C++ class name; access only where DWARF states it.
    fn base_list(&self, out: &mut Sink<'_>, bases: &[BaseClass]) {
        for (n, b) in bases.iter().enumerate() {
            out.put(if n == 0 { " :" } else { "," });
            if b.is_virtual {
                out.put(" virtual");
            }
            if let Some(a) = b.access {
                out.ch(' ');
                out.put(a.keyword());
            }
            out.ch(' ');
            match self.get(b.ty).and_then(|t| t.name()) {
                Some(n) => out.put(n),
                None => out.put("<ERROR: type not found>"),
            }
        }
    }

    /// A base class subobject: `/* struct B <ancestor>; */` in the member columns, then its
    /// offset and size.
    fn ancestor_line(&self, out: &mut Sink<'_>, m: &MemberLayout, conf: &Conf) {
        let offset = if conf.rel_offset {
            m.byte_offset
        } else {
            m.byte_offset.wrapping_add(conf.base_offset)
        };
        self.cacheline_boundary(out, conf, offset);
        let ty = self.get(m.ty).and_then(|t| t.name()).unwrap_or_default();
        let keyword = match self.get(m.ty) {
            Some(Type::Struct(c)) if c.class => "class",
            Some(Type::Union(_)) => "union",
            _ => "struct",
        };
        // the name padded as after `struct `, whatever the keyword (as pahole does)
        let width = (conf.type_spacing - 7).max(0) as usize;
        let text = format!("/* {keyword} {ty:<width$} <ancestor>; */");
        out.put(&text);
        let spacing = conf.type_spacing + conf.name_spacing - text.len() as i32;
        out.spaces(spacing.max(0));
        self.offset_comment(out, offset, m);
    }

    /// A C++ static data member: declared in the body, stored elsewhere, so no offset, no
    /// size and no part in holes or sums.
    fn static_member(
        &mut self,
        out: &mut Sink<'_>,
        st: &StaticMember,
        sums: &mut Sums,
        conf: &Conf,
    ) {
        if sums.newline {
            out.ch('\n');
            sums.newline = false;
        }
        out.tabs(conf.indent);
        out.put("static ");
        self.type_decl(out, st.ty, Some(st.name.as_deref().unwrap_or("")), conf);
        if let Some(v) = st.const_value {
            out.fmt(format_args!(" = {}", v as i64));
        }
        out.put(";\n");
    }

    /// Holes before the first member.
    fn leading_holes(&self, out: &mut Sink<'_>, l: &Layout, sums: &mut Sums, indent: u8) {
        for (n, unit) in [(l.pre_bit_hole as u32, "bit"), (l.pre_hole as u32, "byte")] {
            if n > 0 {
                sums.blank_line(out);
                out.tabs(indent);
                out.fmt(format_args!(
                    "/* XXX {n} {unit}{} hole, try to pack */\n",
                    plural(n as i64)
                ));
            }
        }
        sums.bit_holes += l.pre_bit_hole as u32;
        sums.holes += l.pre_hole as u32;
    }

    /// Member `i` of a struct, with the notes pahole puts around it.
    fn class_member(
        &mut self,
        out: &mut Sink<'_>,
        l: &Layout,
        (i, ancestor): (usize, bool),
        sums: &mut Sums,
        cconf: &mut Conf,
    ) {
        let pos = &l.members[i];
        let last = sums.last.map(|j| &l.members[j]);
        if pos.alignment != 0 {
            let forced_hole = last.map_or(l.pre_hole, |lm| lm.hole);
            if forced_hole != 0 {
                sums.nr_forced_holes = sums.nr_forced_holes.wrapping_add(1);
                sums.forced_holes = sums.forced_holes.wrapping_add(forced_hole as u32);
            }
            sums.nr_forced = sums.nr_forced.wrapping_add(1);
        }
        // a member whose type is missing is skipped; from 1.25 on it still counts as the last
        let newer = self.newer();
        let skipped = |sums: &mut Sums| {
            if newer {
                sums.last = Some(i);
            }
        };
        if let Some(lm) = last {
            if sums.last_size != 0 && !self.bitfield_notes(out, lm, pos, sums, cconf) {
                return skipped(sums);
            }
        }
        if sums.newline {
            out.ch('\n');
            sums.newline = false;
        }
        if self.get(pos.ty).is_none() {
            out.tabs(cconf.indent);
            out.put("<ERROR: type not found>");
            return skipped(sums);
        }
        cconf.last_member = i + 1 == l.members.len() && !sums.nested_tail;
        cconf.first_member = last.is_none();
        out.tabs(cconf.indent);
        if ancestor {
            self.ancestor_line(out, pos, cconf);
        } else {
            self.member_line(out, pos, false, cconf);
        }
        self.member_notes(out, pos, sums, cconf.indent);
        out.ch('\n');

        if pos.bitfield_size != 0 {
            sums.bits = sums.bits.wrapping_add(pos.bitfield_size as u32);
        } else {
            sums.bytes = sums.bytes.wrapping_add(pos.byte_size as u32);
        }
        // a new offset, or a bitfield starting where a plain member sat
        let new_unit = last.is_none_or(|lm| {
            sums.last_size == 0
                || lm.byte_offset != pos.byte_offset
                || (lm.bitfield_size == 0 && pos.bitfield_size != 0)
        });
        if new_unit {
            sums.last_size = pos.byte_size;
        }
        sums.last = Some(i);
    }

    /// Between bitfields: the unnamed filler pahole prints for a bit hole, and whether the
    /// member shares storage with the previous or next ones. False if the member is to be
    /// skipped (its type is missing).
    fn bitfield_notes(
        &mut self,
        out: &mut Sink<'_>,
        lm: &MemberLayout,
        pos: &MemberLayout,
        sums: &mut Sums,
        cconf: &Conf,
    ) -> bool {
        if lm.bit_hole != 0 && pos.bitfield_size != 0 {
            let mut bitfield_size = lm.bit_hole as u32;
            if self.get(pos.ty).is_none() {
                out.tabs(cconf.indent);
                out.put("<ERROR: type not found>");
                return false;
            }
            if lm.byte_offset != pos.byte_offset {
                out.ch('\n');
                out.tabs(cconf.indent);
                out.put("/* Force alignment to the next boundary: */\n");
                bitfield_size = 0;
            }
            out.tabs(cconf.indent);
            self.type_decl(out, pos.ty, Some(""), cconf);
            out.fmt(format_args!(":{bitfield_size};\n"));
        }
        if pos.byte_offset < lm.byte_offset
            || (pos.byte_offset == lm.byte_offset
                && lm.bitfield_size == 0
                && pos.bitfield_size != 0)
        {
            sums.blank_line(out);
            out.tabs(cconf.indent);
            out.put("/* Bitfield combined with previous fields */\n");
        } else {
            let cc_last_size = pos.byte_offset as i64 - lm.byte_offset as i64;
            if cc_last_size > 0 && (cc_last_size as u64) < sums.last_size {
                sums.blank_line(out);
                out.tabs(cconf.indent);
                out.put("/* Bitfield combined with next fields */\n");
            }
        }
        true
    }

    /// After a member line: padding at the end of a struct member, the holes after it.
    fn member_notes(
        &mut self,
        out: &mut Sink<'_>,
        pos: &MemberLayout,
        sums: &mut Sums,
        indent: u8,
    ) {
        let note = |out: &mut Sink<'_>, sums: &mut Sums, text: std::fmt::Arguments<'_>| {
            sums.blank_line(out);
            out.ch('\n');
            out.tabs(indent);
            out.fmt(text);
        };
        if let (Some(Type::Struct(_)), Some(tid)) = (self.get(pos.ty), pos.ty) {
            if let Some(text) = self.member_type_note(tid, &mut sums.types) {
                note(out, sums, format_args!("{text}"));
            }
        }
        if pos.bit_hole != 0 {
            note(
                out,
                sums,
                format_args!(
                    "/* XXX {} bit{} hole, try to pack */",
                    pos.bit_hole,
                    plural(pos.bit_hole as i64)
                ),
            );
            sums.bit_holes += pos.bit_hole as u32;
        }
        if pos.hole > 0 {
            note(
                out,
                sums,
                format_args!(
                    "/* XXX {} byte{} hole, try to pack */",
                    pos.hole,
                    plural(pos.hole as i64)
                ),
            );
            sums.holes += pos.hole as u32;
        }
    }

    /// pahole's "Force padding:" filler for tail padding it cannot otherwise explain.
    fn forced_padding(&mut self, out: &mut Sink<'_>, l: &Layout, sums: &Sums, cconf: &Conf) {
        let padding = l.padding;
        if padding == 0 || l.alignment != 0 || !self.src.has_alignment_info() {
            return;
        }
        let Some(lm) = sums.last.map(|j| &l.members[j]) else {
            return;
        };
        let size = layout::tag_size(self.src, lm.ty).unwrap_or(0);
        if size.is_power_of_two() && padding as u64 > self.src.pointer_size() {
            out.ch('\n');
            out.tabs(cconf.indent);
            out.put("/* Force padding: */\n");
            let mut added: u64 = 0;
            while added < padding as u64 && !out.failed() {
                out.tabs(cconf.indent);
                self.type_decl(out, lm.ty, Some(""), cconf);
                out.fmt(format_args!(":{};\n", (size as u32).wrapping_mul(8)));
                added += size;
            }
        }
    }

    /// The `/* size: ..., cachelines: ..., members: ... */` block after a struct's members.
    fn class_stats(
        &self,
        out: &mut Sink<'_>,
        id: TypeId,
        l: &Layout,
        (nr_members, nr_statics): (usize, usize),
        s: &Sums,
        cconf: &Conf,
    ) {
        let cls = self.cl_size() as u64;
        let tsize = layout::tag_size(self.src, Some(id)).unwrap_or(0);
        let indent = cconf.indent;
        let line = |out: &mut Sink<'_>, text: std::fmt::Arguments<'_>| {
            out.tabs(indent);
            out.fmt(text);
        };
        out.ch('\n');
        line(
            out,
            format_args!(
                "/* size: {}, cachelines: {}, members: {}",
                l.size as i32,
                tsize.div_ceil(cls),
                nr_members as u16
            ),
        );
        if nr_statics > 0 {
            out.fmt(format_args!(", static members: {nr_statics}"));
        }
        out.put(" */\n");
        if s.holes > 0 || s.bit_holes > 0 {
            if s.bytes > 0 {
                line(out, format_args!("/* sum members: {}", s.bytes));
                if s.holes > 0 {
                    out.fmt(format_args!(
                        ", holes: {}, sum holes: {}",
                        l.nr_holes, s.holes
                    ));
                }
                out.put(" */\n");
            }
            if s.bits > 0 {
                line(
                    out,
                    format_args!("/* sum bitfield members: {} bits", s.bits),
                );
                if s.bit_holes > 0 {
                    out.fmt(format_args!(
                        ", bit holes: {}, sum bit holes: {} bits",
                        l.nr_bit_holes, s.bit_holes
                    ));
                } else {
                    out.fmt(format_args!(" ({} bytes)", s.bits / 8));
                }
                out.put(" */\n");
            }
        }
        if l.padding > 0 {
            line(out, format_args!("/* padding: {} */\n", l.padding));
        }
        self.member_types_with(out, &s.types, indent);
        self.member_paddings(out, &s.types, indent);
        if l.bit_padding > 0 {
            line(
                out,
                format_args!("/* bit_padding: {} bits */\n", l.bit_padding),
            );
        }
        if s.nr_forced != 0 {
            line(out, format_args!("/* forced alignments: {}", s.nr_forced));
            if s.nr_forced_holes != 0 {
                out.fmt(format_args!(
                    ", forced holes: {}, sum forced holes: {}",
                    s.nr_forced_holes, s.forced_holes
                ));
            }
            out.put(" */\n");
        }
        self.flexible_array_members(out, &s.types, indent);
        let last_cl = (cconf.base_offset.wrapping_add(l.size)) % self.cl_size();
        if last_cl != 0 {
            line(out, format_args!("/* last cacheline: {last_cl} bytes */\n"));
        }
        let accounted = s
            .bytes
            .wrapping_mul(8)
            .wrapping_add(s.bits)
            .wrapping_add(s.holes.wrapping_mul(8))
            .wrapping_add(s.bit_holes)
            .wrapping_add((l.padding as u32).wrapping_mul(8))
            .wrapping_add(l.bit_padding as u32);
        let size_diff = l.size.wrapping_mul(8).wrapping_sub(accounted) as i32;
        if size_diff != 0 && nr_members != 0 {
            out.ch('\n');
            line(out, format_args!(
                "/* BRAIN FART ALERT! {} bytes != {} (member bytes) + {} (member bits) + {} (byte holes) + {} (bit holes), diff = {} bits */\n",
                l.size as i32, s.bytes, s.bits, s.holes, s.bit_holes, size_diff
            ));
        }
    }
}
