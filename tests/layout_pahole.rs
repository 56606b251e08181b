//! `vmscope layout` against `pahole -F dwarf` (the oracle) on small C fixtures compiled at test
//! time: every struct and union, one by one with -C and as a full dump, with the options that
//! change the output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/layout")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "fixtures missing in {}", dir.display());
    v
}

fn compile(src: &Path, dir: &Path) -> PathBuf {
    let obj = dir.join(src.file_stem().expect("stem")).with_extension("o");
    let st = Command::new("gcc")
        .args(["-g", "-c"])
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("run gcc");
    assert!(st.success(), "gcc failed on {}", src.display());
    obj
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (is pahole installed? apt-get install dwarves)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn pahole(obj: &Path, args: &[&str]) -> String {
    run(Command::new("pahole")
        .args(["-F", "dwarf"])
        .args(args)
        .arg(obj))
}

fn vmscope(obj: &Path, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["layout", "--no-cache", "--vmlinux"])
        .arg(obj)
        .args(args))
}

/// Struct and union names as pahole lists them.
fn names(obj: &Path) -> Vec<String> {
    pahole(obj, &["--sizes"])
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_struct_and_union_matches_pahole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut compared = 0;
    let mut failures = Vec::new();
    for src in fixtures() {
        let obj = compile(&src, dir.path());
        let names = names(&obj);
        assert!(!names.is_empty(), "no types in {}", src.display());
        for name in names {
            for opts in [&[][..], &["--hex"], &["-E"], &["-c", "32"]] {
                let mut p_args: Vec<&str> = opts.to_vec();
                p_args.extend(["-C", &name]);
                let want = pahole(&obj, &p_args);
                let mut v_args: Vec<&str> = opts.to_vec();
                v_args.push(&name);
                let got = vmscope(&obj, &v_args);
                compared += 1;
                if want != got {
                    failures.push(format!(
                        "{} {name} {opts:?}:\n--- pahole\n{want}--- vmscope\n{got}",
                        src.display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn full_dump_sizes_and_member_counts_match_pahole() {
    let dir = tempfile::tempdir().expect("tempdir");
    for src in fixtures() {
        let obj = compile(&src, dir.path());
        assert_eq!(
            vmscope(&obj, &[]),
            pahole(&obj, &[]),
            "full dump of {}",
            src.display()
        );
        assert_eq!(
            vmscope(&obj, &["--sizes"]),
            pahole(&obj, &["--sizes"]),
            "--sizes of {}",
            src.display()
        );
        assert_eq!(
            vmscope(&obj, &["--nr-members"]),
            pahole(&obj, &["--nr_members"]),
            "{}",
            src.display()
        );
        assert_eq!(
            vmscope(&obj, &["-y", "b"]),
            pahole(&obj, &["-y", "b"]),
            "-y of {}",
            src.display()
        );
    }
}

#[test]
fn typedefs_and_enums_by_name_match_pahole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let obj = compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout/holes.c"),
        dir.path(),
    );
    for name in [
        "anon_typedef_t",
        "named_td_t",
        "colour",
        "tiny",
        "big_values",
        "u64",
    ] {
        assert_eq!(
            vmscope(&obj, &["-C", name]),
            pahole(&obj, &["-C", name]),
            "{name}"
        );
        assert_eq!(
            vmscope(&obj, &["--hex", name]),
            pahole(&obj, &["--hex", "-C", name]),
            "{name} --hex"
        );
    }
    // several names at once, pahole's -C a,b syntax
    assert_eq!(
        vmscope(&obj, &["-C", "holes,big"]),
        pahole(&obj, &["-C", "holes,big"])
    );
}

#[test]
fn unknown_name_fails_with_suggestions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let obj = compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout/holes.c"),
        dir.path(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["layout", "--no-cache", "--vmlinux"])
        .arg(&obj)
        .arg("holez")
        .output()
        .expect("run vmscope");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holez") && err.contains("holes"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_inputs_give_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let obj = compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout/holes.c"),
        dir.path(),
    );
    let bytes = std::fs::read(&obj).expect("read object");
    let not_elf = dir.path().join("not-elf");
    std::fs::write(&not_elf, b"this is not an ELF file at all\n").expect("write");
    let truncated = dir.path().join("truncated.o");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let no_dwarf = dir.path().join("no-dwarf.o");
    let st = Command::new("gcc")
        .args(["-c", "-x", "c", "-", "-o"])
        .arg(&no_dwarf)
        .stdin(
            std::fs::File::open(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/layout/holes.c"),
            )
            .expect("open"),
        )
        .status()
        .expect("gcc");
    assert!(st.success());
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    for (what, path) in [
        ("non-ELF", &not_elf),
        ("truncated", &truncated),
        ("no DWARF", &no_dwarf),
        ("empty", &empty),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(["layout", "--no-cache", "--vmlinux"])
            .arg(path)
            .arg("holes")
            .output()
            .expect("run vmscope");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

/// Number after `key` in pahole's summary comments (e.g. "sum holes: 16"), 0 when absent.
fn summary_value(text: &str, key: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with("\t/*"))
        .find_map(|l| {
            let i = l.find(key)?;
            l[i + key.len()..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn json_agrees_with_pahole_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    for src in fixtures() {
        let obj = compile(&src, dir.path());
        for name in names(&obj) {
            let text = pahole(&obj, &["-C", &name]);
            let doc: serde_json::Value =
                serde_json::from_str(&vmscope(&obj, &["--json", &name])).expect("json");
            assert_eq!(doc["schema"], 1);
            let t = &doc["types"][0];
            assert_eq!(t["name"].as_str(), Some(name.as_str()));
            if !text.contains("/* size:") {
                // pahole prints no summary for unions: only offsets can be compared
                assert_eq!(t["kind"], "union", "{name}");
                assert!(t["members"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .all(|m| m["offset"] == 0));
                continue;
            }
            let size: u64 = summary_value(&text, "/* size:");
            assert_eq!(t["size"].as_u64(), Some(size), "{name} size");
            let holes: u64 = t["holes"]
                .as_array()
                .expect("holes")
                .iter()
                .map(|h| h["size"].as_u64().unwrap_or(0))
                .sum();
            assert_eq!(holes, summary_value(&text, "sum holes:"), "{name} holes");
            assert_eq!(
                t["padding"].as_u64(),
                Some(summary_value(&text, "/* padding:")),
                "{name} padding"
            );
            // top-level member offsets: the first number of each depth-1 member comment
            let offsets: Vec<u64> = text
                .lines()
                .filter(|l| l.starts_with('\t') && !l.starts_with("\t\t") && !l.starts_with("\t/*"))
                .filter(|l| l.contains("/*") && (l.contains(';')))
                .filter_map(|l| {
                    let c = &l[l.rfind("/*")? + 2..];
                    c.trim_start()
                        .split(|ch: char| !ch.is_ascii_digit())
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            let members = t["members"].as_array().expect("members");
            let got: Vec<u64> = members
                .iter()
                .map(|m| m["offset"].as_u64().unwrap_or(u64::MAX))
                .collect();
            assert_eq!(got, offsets, "{name} member offsets");
        }
    }
}
