//! Maple tree node decoding: a `struct maple_tree` at the image's start, nodes anywhere in it.
#![no_main]
#[path = "common.rs"]
mod common;

use vmscope::trees::{maple, WalkLimits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mem = common::image(data);
    let o = maple::MapleOffsets::x86_64_6_1();
    if let Ok(snap) = maple::walk(&mem, common::BASE, &o, WalkLimits::default()) {
        let _ = snap.summary();
        let _ = snap.user_entries().count();
    }
});
