//! ELF cores: headers, program headers, notes (VMCOREINFO among them), PT_LOAD reads. The body is common::elf_core,
//! which tests/fuzz_regressions.rs replays on the kept crash inputs.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::elf_core(data));
