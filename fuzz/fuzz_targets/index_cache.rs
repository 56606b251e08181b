//! The on-disk DWARF name index cache: header, key, checksum, payload tables. The body is common::index_cache,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::index_cache(data));
