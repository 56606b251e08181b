//! ELF cores: headers, program headers, notes (VMCOREINFO among them), PT_LOAD reads.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend_from_slice(data);
    common::open_dump(&bytes);
});
