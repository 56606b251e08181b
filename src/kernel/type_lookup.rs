//! The VMA layout's [`TypeProbe`] over any [`TypeLookup`] (the type model implements
//! `TypeLookup` in `offsets.rs`).

use super::offsets::TypeLookup;
use super::vma_layout::TypeProbe;

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
