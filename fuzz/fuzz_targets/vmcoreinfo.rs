//! VMCOREINFO text, and every accessor over it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(info) = vmscope::memory::vmcoreinfo::VmcoreInfo::parse(data) {
        let _ = (info.osrelease(), info.build_id(), info.page_size());
        let _ = (info.kernel_offset(), info.phys_base(), info.pgtable_l5_enabled());
        let _ = (info.symbol("init_task"), info.number("NUMBER(pgtable_l5_enabled)"));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vmscope::memory::vmcoreinfo::parse_sys_vmcoreinfo(text);
    }
});
