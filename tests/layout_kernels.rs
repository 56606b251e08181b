//! `vmscope layout` against `pahole -F dwarf` on the real vmlinux files (Debian's with pahole 1.24,
//! the clang-built one with the newer pahole that reads its type tags, and with
//! `--as-pahole 1.30` against that pahole byte for byte): every struct and union pahole lists,
//! compared block by block; reports identical/total and names any residue. Also `-C` lookups (pahole's first-definition rule, function-local types included)
//! and a cold-then-warm run through the on-disk index cache.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run ./fixtures/build.sh)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// pahole's full DWARF dump of a vmlinux. pahole needs ~10 s and ~3 GB for it, so its output is
/// kept next to the index cache, keyed by the file's size and mtime and pahole's version.
fn pahole_full(vmlinux: &Path, pahole: &Path) -> String {
    let version = run(Command::new(pahole).arg("--version"))
        .trim()
        .to_string();
    let md = std::fs::metadata(vmlinux).expect("stat vmlinux");
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let dir = common::fixtures_root().join("oracle/pahole");
    let key = format!(
        "{}-{}-{}-{}.txt",
        vmlinux
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("vmlinux"),
        md.len(),
        mtime.unwrap_or(0),
        version
    );
    let cached = dir.join(key);
    if let Ok(text) = std::fs::read_to_string(&cached) {
        return text;
    }
    let text = run(Command::new(pahole).args(["-F", "dwarf"]).arg(vmlinux));
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &text).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
    }
    text
}

/// Split a dump into (name, block) in order; a name pahole prints twice appears twice.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        match &mut cur {
            None => {
                let l = line.trim_end_matches('\n');
                let head = l
                    .strip_prefix("struct ")
                    .or_else(|| l.strip_prefix("union "));
                if let Some(rest) = head.and_then(|r| r.strip_suffix(" {")) {
                    cur = Some((rest.to_string(), line.to_string()));
                }
            }
            Some((_, buf)) => {
                buf.push_str(line);
                if line.starts_with('}') {
                    out.extend(cur.take());
                }
            }
        }
    }
    out
}

fn vmscope(vmlinux: &Path, cache: &Path, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .env("XDG_CACHE_HOME", cache)
        .args(["layout", "--vmlinux"])
        .arg(vmlinux)
        .args(args))
}

fn compare_full_dump(vmlinux: &Path) {
    let want = pahole_full(vmlinux, Path::new("pahole"));
    // The clang kernel: blocks pahole 1.24 could not read (type tags) are pahole 1.30's.
    let newer = common::pahole::newer_oracle_for(vmlinux).map(|p| pahole_full(vmlinux, &p));
    let newer_blocks = newer.as_deref().map(blocks);
    let cache = tempfile::tempdir().expect("tempdir");
    let cold = vmscope(vmlinux, cache.path(), &[]);
    let warm = vmscope(vmlinux, cache.path(), &[]);
    assert_eq!(
        cold,
        warm,
        "cold and warm (cached index) dumps differ for {}",
        vmlinux.display()
    );

    let p = blocks(&want);
    let v = blocks(&cold);
    let mut v_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (n, b) in &v {
        v_by.entry(n).or_default().push(b);
    }
    if let Some(nb) = &newer_blocks {
        assert!(
            nb.len() == p.len() && nb.iter().zip(&p).all(|(a, b)| a.0 == b.0),
            "the two paholes list different types for {}",
            vmlinux.display()
        );
    }
    let (mut identical, mut tagged) = (0, 0);
    let mut residue = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, (n, b)) in p.iter().enumerate() {
        let k = seen.entry(n).or_insert(0);
        let newer_b = newer_blocks.as_ref().map(|nb| nb[i].1.as_str());
        match v_by.get(n.as_str()).and_then(|list| list.get(*k)) {
            Some(got) if got == b => identical += 1,
            Some(got) if common::pahole::agrees(b, newer_b, got) => tagged += 1,
            Some(_) => residue.push(format!("{n}: differs")),
            None => residue.push(format!("{n}: missing from vmscope")),
        }
        *k += 1;
    }
    let extra = v.len().saturating_sub(p.len());
    let tags = if newer.is_some() {
        format!(", {tagged} with type tags agreeing with pahole 1.30")
    } else {
        String::new()
    };
    eprintln!(
        "{}: {identical}/{} structs and unions identical to pahole -F dwarf{tags} ({} extra in vmscope)",
        vmlinux.display(),
        p.len(),
        extra
    );
    assert!(
        p.len() > 5000,
        "pahole listed only {} types for {}",
        p.len(),
        vmlinux.display()
    );
    assert!(
        residue.is_empty() && extra == 0,
        "residue for {}: {residue:?}",
        vmlinux.display()
    );
    // and the whole text, separators and order included (blocks with type tags aside)
    assert!(
        want == cold || (tagged > 0 && lines_between_blocks(&want) == lines_between_blocks(&cold)),
        "full dumps differ in order or between blocks for {}",
        vmlinux.display()
    );
    if let Some(newer) = &newer {
        same_as_1_30(vmlinux, newer, cache.path(), p.len());
    }
}

/// Where pahole 1.30 is the oracle (type tags): `--as-pahole 1.30` must print its whole dump,
/// every block byte for byte (`common::pahole::against_1_30`).
fn same_as_1_30(vmlinux: &Path, newer: &str, cache: &Path, nr_blocks: usize) {
    let got = vmscope(vmlinux, cache, &["--as-pahole", "1.30"]);
    let m = common::pahole::against_1_30(newer, &got).unwrap_or_else(|e| {
        panic!(
            "{}: --as-pahole 1.30 differs from pahole 1.30 -F dwarf at {e}",
            vmlinux.display()
        )
    });
    eprintln!(
        "{}: pahole -F dwarf 1.30 against --as-pahole 1.30: {}",
        vmlinux.display(),
        m.summary()
    );
    assert_eq!(m.blocks, nr_blocks, "{}", vmlinux.display());
}

/// Everything printed outside struct and union blocks, in order.
fn lines_between_blocks(text: &str) -> Vec<&str> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if !inside
            && (line.starts_with("struct ") || line.starts_with("union "))
            && line.ends_with(" {")
        {
            inside = true;
        } else if inside && line.starts_with('}') {
            inside = false;
        } else if !inside {
            out.push(line);
        }
    }
    out
}

fn kernels() -> Vec<PathBuf> {
    common::fixture_vmlinuxes()
}

#[test]
fn every_struct_and_union_of_each_fixture_kernel_matches_pahole() {
    for k in kernels() {
        compare_full_dump(&k);
    }
}

/// The kernels built from source with clang (DWARF 5, btf_type_tag annotations on `__rcu`,
/// `__user`, `__percpu` pointers), against the pahole that reads those annotations.
#[test]
fn every_struct_and_union_of_the_clang_kernel_matches_pahole() {
    for k in common::source_vmlinuxes() {
        compare_full_dump(&k);
    }
}

#[test]
fn lookups_by_name_match_pahole_c() {
    // early (first units), late, function-local (only -C finds them), unions, typedefs, enums
    for k in kernels() {
        // maple tree types exist from 6.1 on, bts_record (Intel BTS) on x86-64 only: ask for
        // them only where pahole's listing has them
        let listed = blocks(&pahole_full(&k, Path::new("pahole")));
        let has = |name: &str| listed.iter().any(|(n, _)| n == name);
        let bts = if has("bts_record") { "bts_record," } else { "" };
        let mut names = format!(
            "task_struct,mm_struct,vm_area_struct,{bts}syscall_tp_t,page,xarray,pid_t,pt_regs,rq,tcp_sock"
        );
        if has("maple_tree") {
            names.push_str(",maple_arange_64,maple_tree,maple_type");
        }
        let names = names.as_str();
        let cache = tempfile::tempdir().expect("tempdir");
        // pahole looks for each -C name only in units after the previous name's; a name defined
        // only earlier ends its search ("type not found"). vmscope must print the same and fail.
        let (want, pahole_err, _) = run_any(
            Command::new("pahole")
                .args(["-F", "dwarf", "-C", names])
                .arg(&k),
        );
        let (got, vm_err, vm_ok) = run_any(
            Command::new(env!("CARGO_BIN_EXE_vmscope"))
                .env("XDG_CACHE_HOME", cache.path())
                .args(["layout", "--vmlinux"])
                .arg(&k)
                .args(["-C", names]),
        );
        assert!(
            want.len() > 1000,
            "pahole printed too little for {}",
            k.display()
        );
        assert!(
            want == got,
            "-C {names} differs for {}:\n{}",
            k.display(),
            first_difference(&want, &got)
        );
        assert_eq!(
            vm_ok,
            !pahole_err.contains("not found"),
            "pahole: {pahole_err} vmscope: {vm_err}"
        );
        // each name alone (late ones included)
        for n in ["rq", "tcp_sock", "bts_record", "page"]
            .into_iter()
            .filter(|n| has(n))
        {
            let want = run(Command::new("pahole")
                .args(["-F", "dwarf", "-C", n])
                .arg(&k));
            assert_eq!(
                want,
                vmscope(&k, cache.path(), &[n]),
                "{n} in {}",
                k.display()
            );
        }
        let want = run(Command::new("pahole")
            .args(["-F", "dwarf", "--hex", "-C", "task_struct"])
            .arg(&k));
        assert_eq!(
            want,
            vmscope(&k, cache.path(), &["--hex", "task_struct"]),
            "--hex task_struct"
        );
        let want = run(Command::new("pahole")
            .args(["-F", "dwarf", "-E", "-C", "vm_area_struct"])
            .arg(&k));
        assert_eq!(
            want,
            vmscope(&k, cache.path(), &["-E", "vm_area_struct"]),
            "-E vm_area_struct"
        );
        let want = run(Command::new("pahole")
            .args(["-F", "dwarf", "-c", "128", "-C", "mm_struct"])
            .arg(&k));
        assert_eq!(
            want,
            vmscope(&k, cache.path(), &["-c", "128", "mm_struct"]),
            "-c 128 mm_struct"
        );
    }
}

/// `-C` on the clang kernel against pahole 1.30 with `--as-pahole 1.30`, with the options that
/// change the text: typedefs of anonymous structs whose body defines a type (`sockptr_t`: the
/// nested union closes with the typedef's name), `-E` expanding typedefs of named structs and
/// named enums, and the blank line after each type asked for.
#[test]
fn clang_kernel_lookups_match_pahole_1_30() {
    let names = "sockptr_t,arch_spinlock_t,atomic_t,pid_t,task_struct,mm_struct,user_arg_ptr";
    for k in common::source_vmlinuxes() {
        let cache = tempfile::tempdir().expect("tempdir");
        for opts in [&[][..], &["-E"], &["--hex"], &["-c", "128"]] {
            let mut pahole_args = vec!["-F", "dwarf"];
            pahole_args.extend_from_slice(opts);
            pahole_args.extend(["-C", names]);
            let want = common::pahole::pahole_1_30(&k, &pahole_args);
            let mut args = vec!["--as-pahole", "1.30", "-C", names];
            args.extend_from_slice(opts);
            let got = vmscope(&k, cache.path(), &args);
            let m = common::pahole::against_1_30(&want, &got)
                .unwrap_or_else(|e| panic!("{} {opts:?}: -C {names}: {e}", k.display()));
            eprintln!("{} -C {opts:?}: {}", k.display(), m.summary());
            assert_eq!(m.blocks, names.split(',').count(), "{opts:?}");
        }
    }
}

/// stdout, stderr, success: for commands whose failure is part of the comparison.
fn run_any(cmd: &mut Command) -> (String, String, bool) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (run ./fixtures/build.sh)"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  pahole:  {x}\n  vmscope: {y}", i + 1);
        }
    }
    format!(
        "lengths {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}
