//! Running pahole (the oracle) and vmscope side by side on BTF.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {cmd:?}: {e} (pahole comes with Debian's dwarves: apt-get install dwarves)"
        )
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn vmscope_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vmscope")
}

/// `pahole -F btf ARGS FILE`
pub fn pahole_btf(file: &Path, args: &[&str]) -> String {
    run(Command::new("pahole")
        .args(["-F", "btf"])
        .args(args)
        .arg(file))
}

/// `vmscope layout --btf FILE ARGS`
pub fn vmscope_btf(file: &Path, args: &[&str]) -> String {
    run(Command::new(vmscope_bin())
        .args(["layout", "--btf"])
        .arg(file)
        .args(args))
}

/// Struct and union names as pahole lists them (`--sizes`), each once, sorted.
pub fn composite_names(file: &Path) -> Vec<String> {
    let mut v: Vec<String> = pahole_btf(file, &["--sizes"])
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Compile a C fixture with `gcc -g -c` into `dir`; returns the object.
pub fn compile(src: &Path, dir: &Path) -> PathBuf {
    let obj = dir.join(src.file_stem().expect("stem")).with_extension("o");
    let st = Command::new("gcc")
        .args(["-g", "-c", "-w"])
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("run gcc");
    assert!(st.success(), "gcc failed on {}", src.display());
    obj
}

/// BTF of `obj` two ways: a detached raw BTF file, and a copy of the object with a .BTF section.
pub fn encode_btf(obj: &Path) -> (PathBuf, PathBuf) {
    let raw = obj.with_extension("btf");
    run(Command::new("pahole")
        .arg("-J")
        .arg("--btf_encode_detached")
        .arg(&raw)
        .arg(obj));
    let elf = obj.with_extension("btf.o");
    std::fs::copy(obj, &elf).expect("copy object");
    run(Command::new("pahole").arg("-J").arg(&elf));
    (raw, elf)
}

/// Split pahole-format output into one block per printed type.
pub fn blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.split('\n') {
        if cur.is_empty() && line.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.starts_with('}') || (line.starts_with("typedef") && line.ends_with(';')) {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// Compare `-C` output of both tools for `names` (batched), returning the names that differ.
pub fn differing_names(file: &Path, names: &[String], extra: &[&str]) -> Vec<String> {
    let mut differ = Vec::new();
    for chunk in names.chunks(1500) {
        let list = chunk.join(",");
        let mut args = extra.to_vec();
        args.extend(["-C", &list]);
        let want = blocks(&pahole_btf(file, &args));
        let got = blocks(&vmscope_btf(file, &args));
        assert_eq!(
            want.len(),
            chunk.len(),
            "pahole printed {} types for {} names",
            want.len(),
            chunk.len()
        );
        if got.len() != chunk.len() {
            differ.extend(chunk.iter().cloned());
            continue;
        }
        for ((name, w), g) in chunk.iter().zip(&want).zip(&got) {
            if !same_layout(w, g) {
                differ.push(name.clone());
            }
        }
    }
    differ
}

/// Whether vmscope's block `got` prints what pahole's `want` says. Byte for byte, except on
/// the lines where pahole 1.24 itself failed: it cannot read BTF type tags (clang kernels tag
/// `__rcu`/`__user` pointers) and prints `<ERROR ...>` as the member's type. Such a line must
/// still agree on everything pahole did read: indentation, member name, offset and size.
pub fn same_layout(want: &str, got: &str) -> bool {
    if want == got {
        return true;
    }
    // pahole 1.24 lost a tagged type inside a function pointer's parameters: its block
    // has no readable answer there (`<ERROR(ftype__fprintf_parms...)> not found!`).
    if want.contains("<ERROR(ftype__fprintf_parms") {
        return true;
    }
    if !want.contains("<ERROR") || want.lines().count() != got.lines().count() {
        return false;
    }
    want.lines().zip(got.lines()).all(|(w, g)| {
        w == g
            || (w.contains("<ERROR") && !g.contains("<ERROR") && beyond_type(w) == beyond_type(g))
    })
}

/// A member line without its type: (indentation, name with array suffix, `/* offset size */`).
fn beyond_type(line: &str) -> Option<(&str, &str, &str)> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let comment_at = line.rfind("/*")?;
    let decl = line[..comment_at].trim_end().strip_suffix(';')?;
    let name = decl.rsplit([' ', '\t', '>', '*']).next()?;
    Some((indent, name, &line[comment_at..]))
}
