//! What pahole says about a struct member whose type is itself a struct: the
//! `XXX last struct has ...` note after the member's line, and the sums over a struct's
//! members printed in its summary. pahole 1.24 notes tail padding only; 1.25 and later also
//! note flexible arrays (the type's own, or one in a struct it embeds), bit padding, holes
//! and bit holes, and sum them up as `member types with ...` and `flexible array members: ...`.

use std::collections::HashMap;

use super::sink::{plural, Sink};
use super::Printer;
use crate::types::layout;
use crate::types::model::{Type, TypeId, TypeSource};

/// Structs nested by value deeper than this are taken for a cycle (corrupt input).
const MAX_NESTING: usize = 256;

/// Whether each struct asked about embeds a struct ending in a flexible array (pahole
/// decides it once per struct).
#[derive(Default)]
pub(super) struct FlexibleArrays {
    embedded: HashMap<TypeId, bool>,
}

/// Sums over the struct types of one struct's members.
#[derive(Default)]
pub(super) struct MemberTypeSums {
    nr_paddings: u16,
    paddings: u32,
    nr_bit_paddings: u16,
    bit_paddings: u32,
    nr_with_holes: u16,
    holes: u16,
    nr_with_bit_holes: u16,
    bit_holes: u16,
    nr_flexible: u16,
    nr_embedded_flexible: u16,
}

/// `N thing` or `N things`, after a separator.
fn count(n: u64, thing: &str) -> String {
    format!(" {n} {thing}{}", plural(n as i64))
}

impl<'a, S: TypeSource + ?Sized> Printer<'a, S> {
    /// The note after a member of struct type `tid` (without its indentation), counted
    /// into `sums`; None when there is nothing to say.
    pub(super) fn member_type_note(
        &mut self,
        tid: TypeId,
        sums: &mut MemberTypeSums,
    ) -> Option<String> {
        self.infer.infer_packed(tid);
        let l = self.infer.layout(tid).ok()?;
        let newer = self.newer();
        let mut parts = Vec::new();
        if newer && self.has_flexible_array(tid) {
            sums.nr_flexible = sums.nr_flexible.wrapping_add(1);
            parts.push(" a flexible array".to_string());
        }
        if newer && self.has_embedded_flexible_array(tid, 0) {
            sums.nr_embedded_flexible = sums.nr_embedded_flexible.wrapping_add(1);
            parts.push(" embedded flexible array(s)".to_string());
        }
        if l.padding > 0 {
            sums.nr_paddings = sums.nr_paddings.wrapping_add(1);
            sums.paddings = sums.paddings.wrapping_add(l.padding as u32);
            parts.push(format!("{} of padding", count(l.padding as u64, "byte")));
        }
        if newer && l.bit_padding > 0 {
            sums.nr_bit_paddings = sums.nr_bit_paddings.wrapping_add(1);
            sums.bit_paddings = sums.bit_paddings.wrapping_add(l.bit_padding as u32);
            parts.push(format!("{} of padding", count(l.bit_padding as u64, "bit")));
        }
        if newer && l.nr_holes > 0 {
            sums.nr_with_holes = sums.nr_with_holes.wrapping_add(1);
            sums.holes = sums.holes.wrapping_add(l.nr_holes as u16);
            parts.push(count(l.nr_holes as u64, "hole"));
        }
        if newer && l.nr_bit_holes > 0 {
            sums.nr_with_bit_holes = sums.nr_with_bit_holes.wrapping_add(1);
            sums.bit_holes = sums.bit_holes.wrapping_add(l.nr_bit_holes as u16);
            parts.push(count(l.nr_bit_holes as u64, "bit hole"));
        }
        (!parts.is_empty()).then(|| format!("/* XXX last struct has{} */", parts.join(",")))
    }

    /// pahole's test for a flexible array: the last member's own type (no typedef) is an
    /// array of one dimension whose count is 0. BTF nests dimensions, so there only the
    /// outermost counts.
    fn has_flexible_array(&self, id: TypeId) -> bool {
        let Some(Type::Struct(c)) = self.get(Some(id)) else {
            return false;
        };
        let Some(last) = c.members.iter().rev().find(|m| !m.ancestor) else {
            return false;
        };
        match self.get(last.ty) {
            Some(Type::Array(a)) if a.dims.len() > 1 => {
                self.src.array_dimensions_nested() && a.dims[0] == 0
            }
            Some(Type::Array(a)) => a.dims.first().is_none_or(|n| *n == 0),
            _ => false,
        }
    }

    /// Whether a struct member of `id` (typedefs and qualifiers stripped), or one of theirs,
    /// ends in a flexible array.
    fn has_embedded_flexible_array(&mut self, id: TypeId, depth: usize) -> bool {
        let Some(Type::Struct(c)) = self.get(Some(id)) else {
            return false;
        };
        if let Some(known) = self.flex.embedded.get(&id) {
            return *known;
        }
        if depth > MAX_NESTING {
            return false;
        }
        // asked again while deciding (a struct that contains itself): no
        self.flex.embedded.insert(id, false);
        let mut found = false;
        for m in &c.members {
            let Some(mt) = layout::strip(self.src, m.ty).ok().flatten() else {
                continue;
            };
            if !matches!(self.get(Some(mt)), Some(Type::Struct(_))) {
                continue;
            }
            found = self.has_flexible_array(mt)
                || (mt != id && self.has_embedded_flexible_array(mt, depth + 1));
            if found {
                break;
            }
        }
        self.flex.embedded.insert(id, found);
        found
    }

    /// `/* member types with holes: ..., bit holes: ..., bit paddings: ... */`, after the
    /// struct's own padding (pahole 1.25+).
    pub(super) fn member_types_with(&self, out: &mut Sink<'_>, s: &MemberTypeSums, indent: u8) {
        let mut parts = Vec::new();
        if s.nr_with_holes > 0 {
            parts.push(format!("holes: {}, total: {}", s.nr_with_holes, s.holes));
        }
        if s.nr_with_bit_holes > 0 {
            parts.push(format!(
                "bit holes: {}, total: {}",
                s.nr_with_bit_holes, s.bit_holes
            ));
        }
        if s.nr_bit_paddings > 0 {
            let bits = if s.bit_paddings > 1 { "bits" } else { "bit" };
            parts.push(format!(
                "bit paddings: {}, total: {} {bits}",
                s.nr_bit_paddings, s.bit_paddings
            ));
        }
        if !parts.is_empty() {
            out.tabs(indent);
            out.fmt(format_args!(
                "/* member types with {} */\n",
                parts.join(", ")
            ));
        }
    }

    /// `/* paddings: N, sum paddings: M */` (both versions).
    pub(super) fn member_paddings(&self, out: &mut Sink<'_>, s: &MemberTypeSums, indent: u8) {
        if s.nr_paddings > 0 {
            out.tabs(indent);
            out.fmt(format_args!(
                "/* paddings: {}, sum paddings: {} */\n",
                s.nr_paddings, s.paddings
            ));
        }
    }

    /// `/* flexible array members: end: N, middle: M */` (pahole 1.25+).
    pub(super) fn flexible_array_members(
        &self,
        out: &mut Sink<'_>,
        s: &MemberTypeSums,
        indent: u8,
    ) {
        let mut parts = Vec::new();
        if s.nr_flexible > 0 {
            parts.push(format!("end: {}", s.nr_flexible));
        }
        if s.nr_embedded_flexible > 0 {
            parts.push(format!("middle: {}", s.nr_embedded_flexible));
        }
        if !parts.is_empty() {
            out.tabs(indent);
            out.fmt(format_args!(
                "/* flexible array members: {} */\n",
                parts.join(", ")
            ));
        }
    }
}
