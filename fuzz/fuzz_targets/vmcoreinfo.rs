//! VMCOREINFO text, and every accessor over it. The body is common::vmcoreinfo,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::vmcoreinfo(data));
