//! rb-tree node decoding (and the VMA list beside it): the root pointer at the
//! image's start, nodes anywhere in it.
#![no_main]
#[path = "common.rs"]
mod common;

use vmscope::trees::{rbtree, WalkLimits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mem = common::image(data);
    let vma = rbtree::RbVmaOffsets {
        vm_rb: 56,
        vm_start: 0,
        vm_end: 8,
        rb_subtree_gap: Some(24),
    };
    let o = rbtree::RbOffsets::x86_64();
    let _ = rbtree::walk(&mem, common::BASE, &o, Some(&vma), WalkLimits::default());
    let _ = rbtree::walk(&mem, common::BASE, &o, None, WalkLimits::default());
});
