//! kdump-compressed dumps: disk_dump_header, sub-header, bitmaps, page descriptors
//! and page payloads of every compression.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = b"KDUMP   ".to_vec();
    bytes.extend_from_slice(data);
    common::open_dump(&bytes);
});
