//! `vmscope layout` on lua built by fixtures/userspace-more.sh and then processed by Debian's
//! dwz (two files sharing one supplementary file, linked by `.gnu_debugaltlink` or DWARF 5
//! `.debug_sup`) or compiled with `-gsplit-dwarf` (`.dwo` files, `.dwp` packages). Oracle:
//! `pahole -F dwarf` on the same build before dwz (dwz moves types into shared units, so the
//! set of struct blocks must be equal, not their order) or built without splitting
//! (byte-identical).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    common::fixtures_root().join("userspace-more")
}

/// The files under `kind/*/` named `name`, at least one.
fn files(kind: &str, name: &str) -> Vec<PathBuf> {
    let dir = root().join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {}", dir.display(), common::BUILD_HINT))
        .filter_map(|e| e.ok().map(|e| e.path().join(name)))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {kind}/*/{name} in {}", root().display());
    v
}

fn layout(file: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("layout")
        .args(extra)
        .arg("--no-cache")
        .arg("--vmlinux")
        .arg(file)
        .output()
        .expect("run vmscope")
}

/// The struct/union blocks of a pahole-format listing, each from its first line to `};`.
fn blocks(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in text.lines() {
        if cur.is_empty() && line.is_empty() {
            continue;
        }
        cur.push(line);
        if line == "};" {
            out.insert(cur.join("\n"));
            cur.clear();
        }
    }
    out
}

fn oracle(file: &Path) -> String {
    let mut p = file.as_os_str().to_owned();
    p.push(".pahole");
    let want = common::read_text(Path::new(&p));
    assert!(want.contains("struct "), "{}: empty oracle", file.display());
    want
}

/// Every dwz'd file lists the same set of struct blocks as pahole did before dwz.
fn dwz_case(kind: &str, extra: &[&str]) {
    let mut failures = Vec::new();
    for name in ["liblua.so", "lua"] {
        for f in files(kind, name) {
            let out = layout(&f, extra);
            let (got, want) = (
                blocks(&String::from_utf8_lossy(&out.stdout)),
                blocks(&oracle(&f)),
            );
            if !out.status.success() || got != want {
                failures.push(format!(
                    "{}: exit {:?}, {} blocks vs pahole's {}, ours only: {:?}, pahole only: {:?} {}",
                    f.display(),
                    out.status.code(),
                    got.len(),
                    want.len(),
                    got.difference(&want).next(),
                    want.difference(&got).next(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dwz_files_with_the_alt_file_next_to_them_match_pahole_before_dwz() {
    dwz_case("dwz", &[]);
}

#[test]
fn dwz_files_with_the_alt_file_under_a_debug_root_match_pahole_before_dwz() {
    let r = root().join("dwz-root/root");
    dwz_case(
        "dwz-root",
        &["--debug-dir", r.to_str().expect("utf-8 path")],
    );
}

#[test]
fn a_missing_supplementary_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in files("dwz-root", "lua") {
        let lone = tmp.path().join("lua");
        std::fs::copy(&f, &lone).expect("copy");
        let out = layout(&lone, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", f.display());
        assert!(
            err.contains("/usr/lib/debug/.dwz/x86_64-linux-gnu/lua-")
                && err.contains("build-id")
                && out.stdout.is_empty(),
            "{}: {err}",
            f.display()
        );
    }
}

fn split_case(kind: &str) {
    let mut failures = Vec::new();
    for f in files(kind, "liblua.so") {
        let out = layout(&f, &[]);
        let got = String::from_utf8_lossy(&out.stdout);
        let want = oracle(&f);
        if !out.status.success() || got != want {
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            failures.push(format!(
                "{}: exit {:?}, first difference at line {}: {:?} vs {:?} {}",
                f.display(),
                out.status.code(),
                first + 1,
                got.lines().nth(first),
                want.lines().nth(first),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn split_dwarf_with_dwo_files_matches_pahole_without_split() {
    split_case("split");
}

#[test]
fn split_dwarf_with_a_dwp_package_matches_pahole_without_split() {
    split_case("split-dwp");
}

#[test]
fn a_missing_dwo_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in files("split", "liblua.so") {
        let lone = tmp.path().join("liblua.so");
        std::fs::copy(&f, &lone).expect("copy");
        let out = layout(&lone, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", f.display());
        assert!(
            err.contains(".dwo not found") && out.stdout.is_empty(),
            "{}: {err}",
            f.display()
        );
    }
}

#[test]
fn a_struct_of_the_supplementary_file_is_found_cold_and_from_the_index_cache() {
    // struct lua_longjmp (ldo.c, in both files) lives in the shared unit dwz moved to the alt file; its -C answer must
    // equal its block in pahole's listing before dwz, with no cache, and then read back from
    // the on-disk index (whose offsets point into the alt file too).
    let cache = tempfile::tempdir().expect("tempdir");
    for f in files("dwz", "lua") {
        let want = blocks(&oracle(&f))
            .into_iter()
            .find(|b| b.starts_with("struct lua_longjmp {"))
            .expect("lua_longjmp in the oracle");
        for run in ["cold", "warm"] {
            let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
                .args(["layout", "-C", "lua_longjmp", "--vmlinux"])
                .arg(&f)
                .env("XDG_CACHE_HOME", cache.path())
                .output()
                .expect("run vmscope");
            let got = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && got.trim_end() == want,
                "{} ({run}): {got}\nwanted:\n{want}\n{}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // the full listing builds and stores the index; -C then answers from it
        let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(["layout", "--vmlinux"])
            .arg(&f)
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .expect("run vmscope");
        assert!(out.status.success());
        let indexes = std::fs::read_dir(cache.path().join("vmscope/index"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert!(indexes > 0, "no index cached for {}", f.display());
    }
}
