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

/// The second oracle for `file`, when Debian 12's pahole 1.24 (on PATH) cannot read all of
/// it: the kernels built from source with clang carry BTF type tags (1.24 prints `<ERROR ...>`
/// members) and DWARF btf_type_tag annotations (1.24 prints `rcu *` for a
/// `struct task_struct __rcu *`). For them, the pahole `fixtures/pahole-oracle.sh` unpacks
/// (Debian trixie's 1.30) says what those members are; see `agrees`.
pub fn newer_oracle_for(file: &Path) -> Option<PathBuf> {
    file.starts_with(super::fixtures_root().join("source-kernels"))
        .then(newer_pahole)
}

/// ROOT/oracle/pahole-1.30/pahole (Debian trixie's pahole, run with trixie's own libraries).
pub fn newer_pahole() -> PathBuf {
    let p = super::fixtures_root().join("oracle/pahole-1.30/pahole");
    assert!(
        p.is_file(),
        "{} missing: run ./fixtures/pahole-oracle.sh (scripts/test-all.sh does)",
        p.display()
    );
    p
}

/// `pahole -F btf ARGS FILE` (pahole 1.24)
pub fn pahole_btf(file: &Path, args: &[&str]) -> String {
    run(Command::new("pahole")
        .args(["-F", "btf"])
        .args(args)
        .arg(file))
}

/// `pahole -F btf ARGS FILE` with `newer_oracle_for(FILE)`, when it has one.
pub fn newer_pahole_btf(file: &Path, args: &[&str]) -> Option<String> {
    let pahole = newer_oracle_for(file)?;
    Some(run(Command::new(pahole)
        .args(["-F", "btf"])
        .args(args)
        .arg(file)))
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
        let newer = newer_pahole_btf(file, &args).map(|t| blocks(&t));
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
        for (i, ((name, w), g)) in chunk.iter().zip(&want).zip(&got).enumerate() {
            let n = newer.as_ref().map(|b| b.get(i).map_or("", String::as_str));
            if !agrees(w, n, g) {
                differ.push(name.clone());
            }
        }
    }
    differ
}

/// Whether vmscope's block `got` prints what the oracles say. `want` is pahole 1.24's block:
/// where 1.24 read every member (no `<ERROR`, and the same members as the newer pahole when
/// there is one), `got` must be it byte for byte. Where 1.24 could not (type tags), the newer
/// pahole's block `newer` is the oracle for the members: every member line's indentation,
/// declaration (spacing aside: the two versions align columns differently), offset and size
/// must be its, in order. Its other lines are not compared: pahole 1.25+ changed the comments
/// it adds (`XXX last struct has 1 hole`, `member types with holes`, `flexible array members`),
/// and vmscope prints 1.24's by default, as every readable block shows; [`against_1_30`]
/// compares `--as-pahole 1.30` with all of 1.30's lines.
pub fn agrees(want: &str, newer: Option<&str>, got: &str) -> bool {
    if want == got {
        return true;
    }
    let Some(newer) = newer else { return false };
    let read_by_1_24 = !want.contains("<ERROR") && member_facts(want) == member_facts(newer);
    !read_by_1_24 && same_members(&member_facts(newer), &member_facts(got))
}

/// One member line (or forced padding line) of a block: tabs, declaration with its spacing
/// collapsed, and the `/* offset size */` comment's numbers (empty for padding).
pub type MemberFact = (usize, String, String);

pub fn member_facts(block: &str) -> Vec<MemberFact> {
    let mut out = Vec::new();
    for line in block.lines() {
        let body = line.trim_start_matches('\t');
        let tabs = line.len() - body.len();
        if tabs == 0 || body.starts_with("/*") {
            continue;
        }
        let collapse = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some((decl, comment)) = body.rsplit_once("/*") {
            if let Some(decl) = decl.trim_end().strip_suffix(';') {
                let nums = collapse(comment.trim_end().trim_end_matches("*/"));
                out.push((tabs, collapse(decl), nums));
            }
        } else if body.ends_with(';') && body.contains(':') {
            out.push((tabs, collapse(body), String::new()));
        }
    }
    out
}

/// Member facts equal, with two allowances. Where pahole 1.30 prints a qualifier twice
/// (`const const char  *  * native` for `const char __user *const __user *native`: it loses
/// the place of a `const` next to a type tag), declarations are compared without their
/// `const`s. The line closing a body expanded by `-E` is compared on its member name: 1.30
/// writes `} name` where 1.24 wrote `}name`, and expands enums (`enum maple_type {...} type`)
/// where 1.24 printed `enum maple_type type`.
fn same_members(newer: &[MemberFact], got: &[MemberFact]) -> bool {
    let unconst = |d: &str| {
        d.split(' ')
            .filter(|w| *w != "const")
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = |d: &str| {
        let word = |c: char| c.is_ascii_alphanumeric() || "_[]".contains(c);
        d[d.trim_end_matches(word).len()..].to_string()
    };
    newer.len() == got.len()
        && newer.iter().zip(got).all(|(n, g)| {
            n == g
                || ((n.0, &n.2) == (g.0, &g.2)
                    && ((n.1.contains("const const") && unconst(&n.1) == unconst(&g.1))
                        || (n.1.starts_with('}') && name(&n.1) == name(&g.1))))
        })
}

/// `pahole -F btf ARGS FILE` with pahole 1.30, for any file (the gcc kernels too).
pub fn pahole_1_30_btf(file: &Path, args: &[&str]) -> String {
    run(Command::new(newer_pahole())
        .args(["-F", "btf"])
        .args(args)
        .arg(file))
}

/// `vmscope layout --as-pahole 1.30 --btf FILE ARGS`
pub fn vmscope_btf_1_30(file: &Path, args: &[&str]) -> String {
    let mut all = vec!["--as-pahole", "1.30"];
    all.extend_from_slice(args);
    vmscope_btf(file, &all)
}

/// How vmscope's `--as-pahole 1.30` text compared with pahole 1.30's.
#[derive(Debug, Default, Clone, Copy)]
pub struct Against130 {
    /// Blocks (one per printed type).
    pub blocks: usize,
    /// Blocks byte-identical.
    pub identical: usize,
    /// Blocks that differ only where pahole 1.30 doubles a `const`.
    pub doubled_const: usize,
}

impl Against130 {
    pub fn add(&mut self, o: Against130) {
        self.blocks += o.blocks;
        self.identical += o.identical;
        self.doubled_const += o.doubled_const;
    }

    pub fn summary(&self) -> String {
        format!(
            "{} of {} blocks byte-identical to pahole 1.30, {} differing only in 1.30's doubled const",
            self.identical, self.blocks, self.doubled_const
        )
    }
}

/// `got` (vmscope `--as-pahole 1.30`) against `want` (pahole 1.30): the whole text byte for
/// byte, order and separators included, with one allowance: pahole 1.30 loses the place of a
/// `const` next to a type tag (`const char __user *const __user *native` comes out as
/// `const const char  *  * native`), so a line where 1.30 prints `const const` is compared
/// with its `const`s dropped and its spacing collapsed (the declaration's length moves the
/// offset comment). Every other line must be identical. Err names the first difference.
pub fn against_1_30(want: &str, got: &str) -> Result<Against130, String> {
    let unconst = |l: &str| {
        l.split_whitespace()
            .filter(|w| *w != "const")
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (w, g): (Vec<&str>, Vec<&str>) = (want.split('\n').collect(), got.split('\n').collect());
    for (i, (a, b)) in w.iter().zip(&g).enumerate() {
        if a != b && !(a.contains("const const") && unconst(a) == unconst(b)) {
            return Err(format!(
                "line {}:\n  pahole 1.30: {a}\n  vmscope:     {b}",
                i + 1
            ));
        }
    }
    if w.len() != g.len() {
        return Err(format!("{} lines vs {} lines", w.len(), g.len()));
    }
    let (wb, gb) = (blocks(want), blocks(got));
    let identical = wb.iter().zip(&gb).filter(|(a, b)| a == b).count();
    Ok(Against130 {
        blocks: wb.len(),
        identical,
        doubled_const: wb.len() - identical,
    })
}

/// Run pahole 1.30 with `args` on `file`: its stdout. With `-C`, from DWARF, this build of
/// 1.30 prints every type asked for and then exits 1 with `pahole: FILE: Invalid argument`
/// on stderr; that exit alone is accepted (with its output compared as it is), any other fails.
pub fn pahole_1_30(file: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(newer_pahole());
    cmd.args(args).arg(file);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let known_exit = stderr == format!("pahole: {}: Invalid argument\n", file.display());
    assert!(
        out.status.success() || (known_exit && !out.stdout.is_empty()),
        "{cmd:?} failed: {stderr}"
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
