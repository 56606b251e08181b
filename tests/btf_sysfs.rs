//! The running kernel's own BTF (/sys/kernel/btf/vmlinux) must load completely.
//! pahole 1.24 cannot read the newest kinds, so the checks here are structural:
//! every type id decodes, and every struct/union member lies inside its type.

use vmscope::debuginfo::btf::{Btf, BtfKind};

const SYSFS_BTF: &str = "/sys/kernel/btf/vmlinux";

#[test]
fn sysfs_vmlinux_loads_every_type() {
    let path = std::path::Path::new(SYSFS_BTF);
    assert!(
        path.exists(),
        "{SYSFS_BTF} missing: this test needs a kernel with CONFIG_DEBUG_INFO_BTF"
    );
    let btf = Btf::open(path).unwrap_or_else(|e| panic!("{e}"));
    assert!(btf.type_count() > 10_000, "only {} types", btf.type_count());
    let mut kinds = std::collections::BTreeMap::new();
    let mut checked_members = 0u64;
    for ty in btf.types() {
        let ty = ty.unwrap_or_else(|e| panic!("{e}"));
        *kinds.entry(ty.kind as u32).or_insert(0u32) += 1;
        btf.name(ty.name_off).unwrap_or_else(|e| panic!("{e}"));
        if matches!(ty.kind, BtfKind::Struct | BtfKind::Union) {
            let size_bits = u64::from(ty.size_or_type) * 8;
            for m in ty.members() {
                let bits = if m.bitfield_size != 0 {
                    u64::from(m.bitfield_size)
                } else {
                    btf.type_size(m.type_id).unwrap_or_else(|e| panic!("{e}")) * 8
                };
                let name = btf.name(ty.name_off).unwrap_or("?");
                assert!(
                    u64::from(m.bit_offset) + bits <= size_bits,
                    "type id {} ({name}): member at bit {} of {bits} bits exceeds size {size_bits} bits",
                    ty.id,
                    m.bit_offset
                );
                checked_members += 1;
            }
        }
    }
    // The kinds pahole 1.24 does not know must be present and decoded on a 6.x kernel.
    for kind in [
        BtfKind::DeclTag,
        BtfKind::TypeTag,
        BtfKind::Enum64,
        BtfKind::Float,
    ] {
        assert!(
            kinds.contains_key(&(kind as u32)),
            "no {kind:?} in {SYSFS_BTF}: {kinds:?}"
        );
    }
    assert!(checked_members > 10_000);
    assert_eq!(
        kinds.values().map(|&n| n as u64).sum::<u64>() + 1,
        u64::from(btf.type_count())
    );
}

/// Every type id of the running kernel converts into the model, and every struct member
/// (by the model's own sizes) ends inside its struct.
#[test]
fn sysfs_vmlinux_converts_every_type() {
    use vmscope::debuginfo::btf::BtfDb;
    use vmscope::types::model::{Type, TypeId, TypeSource, TypeSourceExt};
    let db = BtfDb::open(std::path::Path::new(SYSFS_BTF), 64).unwrap_or_else(|e| panic!("{e}"));
    let mut structs = 0;
    for id in 1..db.btf().type_count() {
        let ty = db
            .get(TypeId(id))
            .unwrap_or_else(|e| panic!("type id {id}: {e}"));
        if let Type::Struct(c) = ty {
            structs += 1;
            for m in &c.members {
                let bits = match (m.bitfield_size, m.ty) {
                    (Some(b), _) => u64::from(b),
                    (None, Some(t)) => {
                        db.size_of(t).unwrap_or_else(|e| panic!("{e}")).unwrap_or(0) * 8
                    }
                    (None, None) => 0,
                };
                assert!(
                    m.bit_offset + bits <= c.byte_size * 8,
                    "struct {:?} (id {id}): member {:?} ends at bit {} past {} bytes",
                    c.name,
                    m.name,
                    m.bit_offset + bits,
                    c.byte_size
                );
            }
        }
    }
    assert!(structs > 5000, "only {structs} structs");
}

/// With no source option, `vmscope layout` reads the running kernel's BTF: every struct and
/// union prints (exit 0, no error markers), and task_struct is found.
#[test]
fn layout_of_the_running_kernel_needs_no_option() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .arg("layout")
            .args(args)
            .output()
            .expect("run vmscope");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let ts = run(&["task_struct"]);
    assert!(ts.starts_with("struct task_struct {\n"), "{ts}");
    let all = run(&[]);
    assert!(!all.contains("<ERROR"), "error marker in the full listing");
    let sizes = run(&["--sizes"]);
    assert!(
        sizes.lines().count() > 5000,
        "{} structs",
        sizes.lines().count()
    );
    // The listing and --sizes walk the same types: one top-level header line per --sizes line.
    let headers = all
        .lines()
        .filter(|l| (l.starts_with("struct ") || l.starts_with("union ")) && l.ends_with(" {"))
        .count();
    assert_eq!(headers, sizes.lines().count());
}
