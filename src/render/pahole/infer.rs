//! pahole's inferred attributes: whether a struct was declared `__packed__`, decided from
//! its layout and the natural alignment of its members. Some conclusions depend on what
//! was looked at before (a struct found at an unnatural offset inside another one is
//! packed from then on), so the state is kept here and shared by everything one printer
//! (or one JSON document) covers.

use std::collections::HashMap;
use std::rc::Rc;

use super::type_of;
use crate::types::layout::{self, Layout};
use crate::types::model::{Type, TypeError, TypeId, TypeSource};

pub struct Inference<'a, S: TypeSource + ?Sized> {
    src: &'a S,
    layouts: HashMap<TypeId, Rc<Layout>>,
    /// packed attribute decided (struct: is_packed; union: members inspected)
    packed: HashMap<TypeId, bool>,
    natural: HashMap<TypeId, u64>,
}

impl<'a, S: TypeSource + ?Sized> Inference<'a, S> {
    pub fn new(src: &'a S) -> Self {
        Inference {
            src,
            layouts: HashMap::new(),
            packed: HashMap::new(),
            natural: HashMap::new(),
        }
    }

    /// Placed members, holes and padding of a struct or union (computed once).
    pub fn layout(&mut self, id: TypeId) -> Result<Rc<Layout>, TypeError> {
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
        matches!(type_of(self.src, id), Some(Type::Struct(_)))
    }

    /// What was concluded so far about `id` being packed (false if nothing).
    pub fn is_packed(&self, id: Option<TypeId>) -> bool {
        id.and_then(|i| self.packed.get(&i).copied())
            .unwrap_or(false)
    }

    /// pahole's `class__infer_packed_attributes`: whether pahole would print
    /// `__attribute__((__packed__))` after this struct.
    pub fn infer_packed(&mut self, id: TypeId) -> bool {
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
        self.mark_misaligned_structs(l, |m| m.byte_offset as u64);
    }

    /// Mark packed every struct member whose `place` (its offset, or the size of
    /// the union holding it) is not a multiple of its natural alignment.
    fn mark_misaligned_structs(
        &mut self,
        l: &Layout,
        place: impl Fn(&layout::MemberLayout) -> u64,
    ) {
        for m in &l.members {
            let t = self.strip(m.ty);
            let Some(tid) = t else { continue };
            if !self.is_struct(t) {
                continue;
            }
            let na = self.natural_alignment(t);
            if na != 0 && !place(m).is_multiple_of(na) {
                self.packed.insert(tid, true);
            }
        }
    }

    /// pahole's `union__infer_packed_attributes`.
    pub fn union_infer_packed(&mut self, id: TypeId) {
        if self.packed.contains_key(&id) {
            return;
        }
        if let Ok(l) = self.layout(id) {
            let size = l.size as u64;
            self.mark_misaligned_structs(&l, |_| size);
        }
        self.packed.insert(id, false);
    }
}
