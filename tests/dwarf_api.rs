//! The DWARF loader's query API (used by the kernel layer) against pahole as oracle.

use std::path::{Path, PathBuf};
use std::process::Command;

use vmscope::debuginfo::{self, OpenOptions, TypeDb};
use vmscope::types::model::{NameKind, Type, TypeSource, TypeSourceExt};

fn compile(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/layout")
        .join(format!("{name}.c"));
    let obj = dir.path().join(format!("{name}.o"));
    let st = Command::new("gcc")
        .args(["-g", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("gcc");
    assert!(st.success(), "gcc failed on {}", src.display());
    (dir, obj)
}

fn open(obj: &Path) -> TypeDb {
    debuginfo::TypeDb::open_with(
        obj,
        OpenOptions {
            cache_dir: None,
            progress: None,
            ..OpenOptions::default()
        },
    )
    .expect("open")
}

/// (offset, size) of `member` in pahole's listing of `ty` (the `/* off size */` comment).
fn pahole_member(obj: &Path, ty: &str, member: &str) -> (u64, u64) {
    let out = Command::new("pahole")
        .args(["-F", "dwarf", "-C", ty])
        .arg(obj)
        .output()
        .expect("pahole");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let Some((decl, comment)) = line.split_once("/*") else {
            continue;
        };
        let decl = decl.trim().trim_end_matches(';');
        let last = decl.rsplit([' ', '*']).next().unwrap_or("");
        let last = last.split('[').next().unwrap_or("");
        if last == member {
            let nums: Vec<u64> = comment
                .trim_end_matches("*/")
                .split([' ', ':'])
                .filter_map(|t| t.parse().ok())
                .collect();
            return (nums[0], *nums.last().unwrap());
        }
    }
    panic!("pahole has no member {member} in {ty}:\n{text}");
}

#[test]
fn member_offsets_and_sizes_match_pahole() {
    let (_d, obj) = compile("holes");
    let db = open(&obj);
    for (ty, member) in [
        ("holes", "d"),
        ("holes", "g"),
        ("big", "list"),
        ("big", "d"),
        ("uses_inner", "tail"),
    ] {
        let (off, tid) = db.member_offset(ty, member).expect("member");
        let (p_off, p_size) = pahole_member(&obj, ty, member);
        assert_eq!(off, p_off, "{ty}.{member} offset");
        assert_eq!(db.size_of(tid).unwrap(), Some(p_size), "{ty}.{member} size");
    }
    // a path through an anonymous-less nested struct member
    let (off, _) = db.member_offset("big", "nested.i").expect("nested.i");
    let (nested_off, _) = pahole_member(&obj, "big", "g");
    let (i_off, _) = pahole_member(&obj, "big", "i");
    assert!(off == i_off && nested_off < i_off);
}

#[test]
fn anonymous_members_are_transparent() {
    let (_d, obj) = compile("unions");
    let db = open(&obj);
    let (off, _) = db
        .member_offset("anon_members", "list")
        .expect("list via anon union");
    assert_eq!(off, pahole_member(&obj, "anon_members", "list").0);
    let (off, _) = db
        .member_offset("anon_members", "b")
        .expect("b via anon struct");
    assert_eq!(off, pahole_member(&obj, "anon_members", "b").0);
    assert!(db.member_offset("anon_members", "nope").is_err());
    assert!(db.member_offset("no_such_struct", "x").is_err());
}

#[test]
fn enumerators_and_kinds() {
    let (_d, obj) = compile("holes");
    let db = open(&obj);
    // values as written in the C source the fixture was compiled from
    assert_eq!(db.enumerator_value("colour", "GREEN").unwrap(), Some(5));
    assert_eq!(
        db.enumerator_value("colour", "BLUE")
            .unwrap()
            .map(|v| v as i64 as i32),
        Some(-3)
    );
    let id = db
        .find("anon_typedef_t", NameKind::Typedef)
        .unwrap()
        .expect("typedef");
    assert!(matches!(db.get(id).unwrap(), Type::Typedef(_)));
    assert!(db.find("holes", NameKind::Union).unwrap().is_none());
    assert!(db.find("holes", NameKind::Struct).unwrap().is_some());
}
