//! Independent reimplementations of the kernel's VMA trees, pure Rust with no
//! memory access: a red-black tree with the augmented `rb_subtree_gap` (the
//! pre-6.1 `mm_rb`) and a maple tree with range_64 / arange_64-shaped nodes
//! (6.1's `mm_mt`). `check` inserts the VMAs walked from memory into them and
//! compares their answers with the kernel's own structure.

pub mod maple;
pub mod rbtree;

#[cfg(test)]
mod proptests;

pub use maple::{MapleTree, Range};
pub use rbtree::{Interval, RbTree};
