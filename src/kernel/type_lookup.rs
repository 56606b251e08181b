//! [`TypeLookup`] over the source-independent type model (DWARF `TypeDb`, BTF), and
//! the VMA layout's [`TypeProbe`] over any [`TypeLookup`].

use super::offsets::TypeLookup;
use super::vma_layout::TypeProbe;
use crate::types::model::{TypeSource, TypeSourceExt};

/// Adapter: a type model as the kernel layer's [`TypeLookup`].
pub struct ModelLookup<T: TypeSource>(pub T);

impl<T: TypeSource> TypeLookup for ModelLookup<T> {
    fn member(&self, strukt: &str, path: &str) -> Option<(u64, u64)> {
        let (off, ty) = self.0.member_offset(strukt, path).ok()?;
        let size = self.0.size_of(ty).ok().flatten().unwrap_or(0);
        Some((off, size))
    }

    fn struct_size(&self, strukt: &str) -> Option<u64> {
        let id = self.0.find_struct(strukt).ok()??;
        self.0.size_of(id).ok()?
    }
}

/// [`TypeProbe`] through a [`TypeLookup`]. Arrays probed by the VMA layout
/// (`pivot[]`, `slot[]`, `gap[]`, `vmas[]`) all have 8-byte elements, so the
/// element count is the member size / 8.
pub struct ProbeVia<'a>(pub &'a dyn TypeLookup);

impl TypeProbe for ProbeVia<'_> {
    fn offset_of(&self, ty: &str, path: &str) -> Option<u64> {
        self.0.member(ty, path).map(|(o, _)| o)
    }

    fn size_of(&self, ty: &str) -> Option<u64> {
        self.0.struct_size(ty)
    }

    fn array_len(&self, ty: &str, path: &str) -> Option<u64> {
        self.0
            .member(ty, path)
            .map(|(_, s)| s / 8)
            .filter(|&n| n > 0)
    }
}
