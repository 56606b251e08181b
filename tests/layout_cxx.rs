//! `vmscope layout` on a real C++ code base (tinyxml2 from its Debian source package) built by
//! fixtures/userspace-cxx.sh with g++ and clang++ at DWARF 4 and 5, against `pahole -F dwarf`
//! on the same build: the full listing, and `-C NAME` for every struct/class/union the file
//! defines (most live in `namespace tinyxml2`, which pahole's full listing leaves out).
//! A block is byte-identical unless pahole's own block shows one of the C++ differences
//! docs/layout.md lists (member functions, static members, BRAIN FART ALERT on base classes);
//! then its header line, every laid-out member line and its size line must still be identical.
//! Also: a small C++ file and a Rust crate compiled at test time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn objects() -> Vec<PathBuf> {
    let dir = common::fixtures_root().join("userspace-cxx");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {}", dir.display(), common::BUILD_HINT))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "so"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "C++ fixtures missing in {}", dir.display());
    v
}

fn layout(obj: &Path, cache: &Path, names: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmscope"));
    cmd.args(["layout", "--vmlinux"]).arg(obj);
    for n in names {
        cmd.args(["-C", n]);
    }
    let out = cmd
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run vmscope");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

/// pahole's per-class oracle: (name, block) for every name pahole printed something for.
fn classes(obj: &Path) -> Vec<(String, String)> {
    let path = PathBuf::from(format!("{}.classes", obj.display()));
    let text = common::read_text(&path);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("=== ") {
            Some(name) => out.push((name.trim_end().to_string(), String::new())),
            None => out.last_mut().expect("=== first").1.push_str(line),
        }
    }
    out.retain(|(_, block)| !block.is_empty());
    out
}

/// Does pahole's block show a documented C++ difference?
fn has_cxx_difference(block: &str) -> bool {
    block.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with("static ")
            || t.starts_with("extern ")
            || t.starts_with("/* BRAIN FART ALERT!")
            || (l.contains('(') && l.ends_with(");") && !l.contains("/*"))
    })
}

/// The lines that must agree even where a block differs: the header, each member with an
/// offset comment (not a static one) and the size line.
/// The size line is compared up to its member count: pahole counts DWARF 5 static members
/// nowhere, vmscope as it does for DWARF 4 (`, static members: N`).
fn layout_lines(block: &str) -> Vec<&str> {
    let first = block.lines().next().into_iter();
    let rest = block
        .lines()
        .skip(1)
        .filter(|l| {
            let t = l.trim_start();
            (l.ends_with(" */") && l.contains(';') && !t.starts_with("static "))
                || t.starts_with("/* size: ")
        })
        .map(|l| match l.find(", static members:") {
            Some(at) if l.trim_start().starts_with("/* size: ") => &l[..at],
            _ => l
                .strip_suffix(" */")
                .filter(|_| l.contains("/* size: "))
                .unwrap_or(l),
        });
    first.chain(rest).collect()
}

#[test]
fn cxx_listing_matches_pahole() {
    let cache = tempfile::tempdir().expect("tempdir");
    for obj in objects() {
        let want = common::read_text(&PathBuf::from(format!("{}.pahole", obj.display())));
        let (ok, got) = layout(&obj, cache.path(), &[]);
        assert!(ok, "{}: vmscope failed", obj.display());
        assert_eq!(
            got,
            want,
            "{}: full listing differs from pahole",
            obj.display()
        );
    }
}

#[test]
fn every_cxx_class_matches_pahole() {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let (mut exact, mut relaxed) = (0, 0);
    for obj in objects() {
        for (name, want) in classes(&obj) {
            let (ok, got) = layout(&obj, cache.path(), &[&name]);
            let same = if has_cxx_difference(&want) {
                relaxed += 1;
                layout_lines(&got) == layout_lines(&want)
            } else {
                exact += 1;
                got == want
            };
            if !ok || !same {
                failures.push(format!(
                    "{} -C {name}:\n--- pahole\n{want}--- vmscope\n{got}",
                    obj.display()
                ));
            }
        }
    }
    eprintln!("{exact} blocks byte-identical, {relaxed} compared on their layout lines");
    assert!(exact >= 10 && relaxed >= 40, "too few blocks compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Split a listing into its blocks (each ends with a `}` line at column 0).
fn blocks(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.split_inclusive('\n') {
        out.last_mut().expect("one").push_str(line);
        if line.starts_with('}') {
            out.push(String::new());
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// pahole 1.24 lays a union's DWARF 4 static member out as a data member at offset 0 and
/// leaves a DWARF 5 one out (docs/layout.md); vmscope prints `static int k;`. Both union
/// blocks without the members vmscope calls static.
fn union_statics_unplaced(want: &str, got: &str) -> (String, String) {
    if !want.starts_with("union ") {
        return (want.to_string(), got.to_string());
    }
    let is_static = |l: &str| l.trim_start().starts_with("static ");
    let names: Vec<String> = got
        .lines()
        .filter(|l| is_static(l))
        .filter_map(|l| l.trim_end_matches(';').rsplit(' ').next())
        .map(|n| format!(" {n};"))
        .collect();
    let keep = |l: &&str| {
        !is_static(l)
            && !names.iter().any(|n| {
                l.split("/*")
                    .next()
                    .unwrap_or("")
                    .trim_end()
                    .ends_with(n.as_str())
            })
    };
    let strip = |t: &str| t.split_inclusive('\n').filter(keep).collect::<String>();
    (strip(want), strip(got))
}

/// fixtures/layout/cxx_data.cpp compiled with g++ at DWARF 4 and 5: every block of pahole's
/// listing and of `-C Deep` compared as above; static members never get an offset comment.
#[test]
fn small_cxx_data_classes_match_pahole() {
    let cache = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout/cxx_data.cpp");
    for v in ["4", "5"] {
        let obj = cache.path().join(format!("cxx_data.dwarf{v}.o"));
        let st = Command::new("g++")
            .args(["-g", &format!("-gdwarf-{v}"), "-c"])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .expect("run g++");
        assert!(st.success(), "g++ failed");
        let pahole = |args: &[&str]| {
            let out = Command::new("pahole")
                .args(["-F", "dwarf"])
                .args(args)
                .arg(&obj)
                .output()
                .expect("run pahole");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let want = pahole(&[]) + &pahole(&["-C", "Deep"]);
        let (ok, got) = layout(&obj, cache.path(), &[]);
        let (ok_deep, deep) = layout(&obj, cache.path(), &["outer::inner::Deep"]);
        assert!(ok && ok_deep, "vmscope failed on {}", obj.display());
        let (want, got) = (blocks(&want), blocks(&(got + &deep)));
        assert_eq!(want.len(), got.len(), "DWARF {v}: block count");
        assert!(want.len() >= 13, "DWARF {v}: pahole printed too little");
        for (w, g) in want.iter().zip(&got) {
            let (w, g) = union_statics_unplaced(w, g);
            let (w, g) = (&w, &g);
            if has_cxx_difference(w) {
                assert_eq!(layout_lines(g), layout_lines(w), "DWARF {v}:\n{w}\n{g}");
            } else {
                assert_eq!(g, w, "DWARF {v}");
            }
            for l in g.lines().filter(|l| l.trim_start().starts_with("static ")) {
                assert!(!l.contains("/*"), "DWARF {v}: static member laid out: {l}");
            }
        }
        assert!(got.iter().all(|b| !b.contains("BRAIN FART")), "DWARF {v}");
    }
}

/// `-C ns::Name` finds the same type as `-C Name`.
#[test]
fn namespaced_names_find_the_type() {
    let cache = tempfile::tempdir().expect("tempdir");
    for obj in objects() {
        for (name, _) in classes(&obj) {
            if !name.starts_with("XML") {
                continue;
            }
            let (ok_bare, bare) = layout(&obj, cache.path(), &[&name]);
            let q = format!("tinyxml2::{name}");
            let (ok_q, qualified) = layout(&obj, cache.path(), &[&q]);
            assert!(ok_bare && ok_q, "{}: -C {q} failed", obj.display());
            assert_eq!(bare, qualified, "{}: -C {q}", obj.display());
        }
    }
}

/// Rust modules are `DW_TAG_namespace`s too: `-C Point` and `-C crate::module::Point` give
/// pahole's `-C Point` (members out of declaration order, `public:` labels).
#[test]
fn rust_module_paths_find_the_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("shapes.rs");
    std::fs::write(
        &src,
        "pub mod geo { pub struct Point { pub x: i32, pub y: i64, pub tag: u8 } }\n\
         #[no_mangle] pub static ORIGIN: geo::Point = geo::Point { x: 0, y: 0, tag: 1 };\n",
    )
    .expect("write");
    let obj = dir.path().join("libshapes.so");
    let st = Command::new("rustc")
        .args(["--crate-type=cdylib", "-g", "-C", "opt-level=0", "-o"])
        .arg(&obj)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(st.success(), "rustc failed");
    let want = Command::new("pahole")
        .args(["-F", "dwarf", "-C", "Point"])
        .arg(&obj)
        .output()
        .expect("run pahole");
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    assert!(want.starts_with("struct Point {"), "pahole: {want}");
    for name in ["Point", "shapes::geo::Point"] {
        let (ok, got) = layout(&obj, dir.path(), &[name]);
        assert!(ok, "-C {name} failed");
        assert_eq!(got, want, "-C {name}");
    }
}
