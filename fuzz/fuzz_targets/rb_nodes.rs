//! rb-tree node decoding (and the VMA list beside it) over a synthetic memory image. The body is common::rb_nodes,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::rb_nodes(data));
