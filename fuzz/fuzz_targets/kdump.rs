//! kdump-compressed dumps: header, sub-header, bitmaps, page descriptors and payloads. The body is common::kdump,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::kdump(data));
