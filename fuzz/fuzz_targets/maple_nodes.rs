//! Maple tree node decoding over a synthetic memory image. The body is common::maple_nodes,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::maple_nodes(data));
