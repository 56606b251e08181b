//! BTF: header, type section, strings, and the lookups the layout printer makes.
#![no_main]

use vmscope::debuginfo::btf::Btf;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::from_bytes(data.to_vec()) else {
        return;
    };
    let ids: Vec<(u32, u32)> = btf
        .types()
        .take(10_000)
        .filter_map(Result::ok)
        .map(|t| (t.id, t.name_off))
        .collect();
    for (id, name_off) in ids {
        let _ = btf.name(name_off);
        let _ = btf.kind_of(id);
        let _ = btf.type_size(id);
        let _ = btf.strip_typedefs_and_modifiers(id);
    }
    let _ = btf.find_first_by_name("task_struct", &[]);
});
