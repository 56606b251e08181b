//! The `.BTF` sections of the fixture kernels (Debian 5.10, 6.1; the clang-built 6.12) load completely.
//! (Layout comparison with `pahole -F btf` is in btf_vs_pahole.rs.)

mod common;

use vmscope::debuginfo::btf::{Btf, BtfKind};

#[test]
fn fixture_vmlinux_btf_loads_every_type() {
    for vmlinux in common::btf_vmlinuxes() {
        let btf = Btf::open(&vmlinux).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(btf.pointer_size(), 8);
        let mut structs = 0;
        for ty in btf.types() {
            let ty = ty.unwrap_or_else(|e| panic!("{}: {e}", vmlinux.display()));
            btf.name(ty.name_off).unwrap_or_else(|e| panic!("{e}"));
            if ty.kind == BtfKind::Struct {
                structs += 1;
            }
        }
        // task_struct is found by name and is a struct.
        let ids = btf.find_by_name("task_struct", &[BtfKind::Struct]);
        assert_eq!(
            ids.len(),
            1,
            "{}: task_struct ids {ids:?}",
            vmlinux.display()
        );
        assert!(
            structs > 1000,
            "{}: only {structs} structs",
            vmlinux.display()
        );
    }
}
