//! `vmscope layout` on real C code bases (lua 5.4, libyaml from Debian source packages) built by
//! fixtures/userspace.sh with gcc and clang at DWARF 4 and 5, and their compressed variants
//! (SHF_COMPRESSED zlib and zstd, legacy .zdebug): the full listing must equal
//! `pahole -F dwarf` on the same build (compressed ones: on the uncompressed build, since
//! pahole 1.24 cannot read zstd).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn objects() -> Vec<PathBuf> {
    let dir = common::fixtures_root().join("userspace");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {}", dir.display(), common::BUILD_HINT))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "so"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 8,
        "userspace fixtures missing in {}",
        dir.display()
    );
    v
}

/// The pahole output the object's listing must equal: its own, or its uncompressed base's.
fn oracle(obj: &Path) -> String {
    let name = obj.file_name().and_then(|n| n.to_str()).expect("name");
    let base = ["zlib", "zstd", "zlib-gnu"]
        .iter()
        .find_map(|z| name.strip_suffix(&format!(".{z}.so")))
        .map(|b| format!("{b}.so"))
        .unwrap_or_else(|| name.to_string());
    common::read_text(&obj.with_file_name(format!("{base}.pahole")))
}

#[test]
fn every_struct_of_real_c_builds_matches_pahole() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for obj in objects() {
        let want = oracle(&obj);
        assert!(
            want.contains("struct "),
            "{}: empty pahole oracle",
            obj.display()
        );
        let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(["layout", "--vmlinux"])
            .arg(&obj)
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .expect("run vmscope");
        let got = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || got != want {
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            failures.push(format!(
                "{}: exit {:?}, {} vs {} lines, first difference at line {}: {:?} vs {:?} {}",
                obj.display(),
                out.status.code(),
                got.lines().count(),
                want.lines().count(),
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
