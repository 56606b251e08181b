//! On the fixture kernels, the BTF loader and the DWARF loader must describe every struct
//! and union the same way (size, member names, bit offsets, bitfield widths). Names that
//! the BTF defines more than once (different structs in different files) are counted apart:
//! there each source's "first definition" may legitimately differ.

mod common;

use vmscope::debuginfo::btf::{BtfDb, BtfKind};
use vmscope::types::model::{NameKind, TypeSource};

use std::path::Path;

#[test]
fn every_composite_agrees_with_dwarf() {
    for vmlinux in common::fixture_vmlinuxes() {
        agree(&vmlinux, 5000);
    }
}

/// The kernels built from source: clang's DWARF 5 against the BTF pahole made from it.
#[test]
fn every_composite_of_the_clang_kernel_agrees_with_dwarf() {
    // A tinyconfig: about 2,000 composites.
    for vmlinux in common::source_vmlinuxes() {
        agree(&vmlinux, 1500);
    }
}

fn agree(vmlinux: &Path, min_same: usize) {
    let btf = BtfDb::open(vmlinux, 64).unwrap_or_else(|e| panic!("{e}"));
    let dwarf = vmscope::debuginfo::open(vmlinux).unwrap_or_else(|e| panic!("{e}"));
    let names = btf.composite_names().unwrap_or_else(|e| panic!("{e}"));
    let (mut same, mut ambiguous, mut differ) = (0usize, 0usize, Vec::new());
    for name in &names {
        if btf
            .btf()
            .find_by_name(name, &[BtfKind::Struct, BtfKind::Union])
            .len()
            > 1
        {
            ambiguous += 1;
            continue;
        }
        let b = btf
            .find(name, NameKind::Composite)
            .ok()
            .flatten()
            .expect("name from the BTF itself");
        let Some(d) = dwarf
            .find(name, NameKind::Composite)
            .unwrap_or_else(|e| panic!("{e}"))
        else {
            differ.push(format!("{name}: not in DWARF"));
            continue;
        };
        let (Some(b), Some(d)) = (
            btf.get(b)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .as_composite(),
            dwarf
                .get(d)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .as_composite(),
        ) else {
            differ.push(format!("{name}: not a struct/union in both"));
            continue;
        };
        let shape = |c: &vmscope::types::model::Composite| {
            (
                c.byte_size,
                c.members
                    .iter()
                    .map(|m| (m.name.clone(), m.bit_offset, m.bitfield_size))
                    .collect::<Vec<_>>(),
            )
        };
        if shape(b) == shape(d) {
            same += 1;
        } else {
            differ.push(format!(
                "{name}: BTF {:?} vs DWARF {:?}",
                shape(b),
                shape(d)
            ));
        }
    }
    eprintln!(
        "{}: {same} identical, {ambiguous} defined more than once in BTF, {} differ",
        vmlinux.display(),
        differ.len()
    );
    assert!(differ.is_empty(), "{}: {:#?}", vmlinux.display(), differ);
    assert!(
        same > min_same,
        "{}: only {same} compared",
        vmlinux.display()
    );
}
