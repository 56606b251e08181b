//! BTF: header, type section, strings, and the lookups the layout printer makes. The body is common::btf,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::btf(data));
