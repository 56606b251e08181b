//! `vmscope layout --btf` against the oracle `pahole -F btf` (pahole 1.24): the C fixtures
//! encoded with `pahole -J` (as raw BTF and as an ELF .BTF section), and the .BTF sections
//! of the fixture kernels (Debian's and the clang-built 6.12), for every struct and union name.
//! The clang kernel's type tags, which 1.24 cannot read, are checked against pahole 1.30
//! (`common::pahole::agrees`), and all of that kernel's blocks, and the gcc kernels' full
//! listings, against pahole 1.30 byte for byte with `--as-pahole 1.30`
//! (`common::pahole::against_1_30`).

mod common;

use common::pahole::*;
use std::path::{Path, PathBuf};

fn c_fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut v = Vec::new();
    for dir in ["layout", "btf"] {
        let d = root.join(dir);
        let rd = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        v.extend(
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "c")),
        );
    }
    v.sort();
    assert!(v.len() >= 5, "C fixtures missing: {v:?}");
    v
}

/// Typedef and enum names of fixtures/btf/inferred.c, looked up like structs.
const OTHER_NAMES: [&str; 5] = ["anon_aligned_t", "with_empty_t", "small", "wide", "plain"];

#[test]
fn fixtures_match_pahole_btf_name_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut compared, mut failures) = (0, Vec::new());
    for src in c_fixtures() {
        let obj = compile(&src, dir.path());
        let (raw, elf) = encode_btf(&obj);
        let mut names = composite_names(&raw);
        assert!(!names.is_empty(), "no types in {}", src.display());
        if src.ends_with("btf/inferred.c") {
            names.extend(OTHER_NAMES.iter().map(|s| s.to_string()));
        }
        for file in [&raw, &elf] {
            for name in &names {
                for opts in [&[][..], &["--hex"], &["-E"], &["-c", "32"], &["-c", "128"]] {
                    let mut args = opts.to_vec();
                    args.extend(["-C", name]);
                    let (want, got) = (pahole_btf(file, &args), vmscope_btf(file, &args));
                    compared += 1;
                    if want != got {
                        failures.push(format!(
                            "{} {name} {opts:?}:\n--- pahole\n{want}--- vmscope\n{got}",
                            file.display()
                        ));
                    }
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
    assert!(compared > 300, "only {compared} comparisons");
}

/// `--as-pahole 1.30` on the C fixtures (flexible arrays as pahole 1.25+ notes them in
/// fixtures/layout/flexible.c), from DWARF and from BTF: every name with each option, and
/// the full listing, byte-identical to pahole 1.30 (no type tags, so no allowance used).
#[test]
fn fixtures_match_pahole_1_30() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut total = Against130::default();
    for src in c_fixtures() {
        let obj = compile(&src, dir.path());
        let (raw, _) = encode_btf(&obj);
        let names = composite_names(&raw);
        for (format, file, source) in [("dwarf", &obj, "--vmlinux"), ("btf", &raw, "--btf")] {
            let oracle = |args: &[&str]| {
                let mut all = vec!["-F", format];
                all.extend_from_slice(args);
                pahole_1_30(file, &all)
            };
            let ours = |args: &[&str]| {
                run(std::process::Command::new(vmscope_bin())
                    .args(["layout", "--no-cache", "--as-pahole", "1.30", source])
                    .arg(file)
                    .args(args))
            };
            let mut runs: Vec<Vec<&str>> = vec![vec![]];
            for name in &names {
                for opts in [&[][..], &["--hex"], &["-E"], &["-c", "32"]] {
                    let mut args = opts.to_vec();
                    args.extend(["-C", name.as_str()]);
                    runs.push(args);
                }
            }
            for args in runs {
                let m = against_1_30(&oracle(&args), &ours(&args))
                    .unwrap_or_else(|e| panic!("{} {format} {args:?}: {e}", src.display()));
                assert_eq!(m.identical, m.blocks, "{} {format} {args:?}", src.display());
                total.add(m);
            }
        }
    }
    eprintln!("C fixtures: {}", total.summary());
    assert!(total.blocks > 500, "{total:?}");
}

#[test]
fn fixtures_full_dump_sizes_and_member_counts_match_pahole_btf() {
    let dir = tempfile::tempdir().expect("tempdir");
    for src in c_fixtures() {
        let obj = compile(&src, dir.path());
        let (raw, _) = encode_btf(&obj);
        assert_eq!(
            vmscope_btf(&raw, &[]),
            pahole_btf(&raw, &[]),
            "full dump of {}",
            src.display()
        );
        assert_eq!(
            vmscope_btf(&raw, &["--sizes"]),
            pahole_btf(&raw, &["--sizes"]),
            "--sizes of {}",
            src.display()
        );
        assert_eq!(
            vmscope_btf(&raw, &["--nr-members"]),
            pahole_btf(&raw, &["--nr_members"]),
            "{}",
            src.display()
        );
    }
}

/// Every struct and union name of each fixture kernel's .BTF, as pahole lists them: the
/// layout printed for `-C NAME` must be pahole's, byte for byte.
#[test]
fn fixture_kernels_every_struct_and_union_matches_pahole_btf() {
    every_struct_and_union_matches(&common::fixture_vmlinuxes(), 5000);
}

/// The clang-built kernels (a tinyconfig: about 2,000 names). Their BTF has type tags
/// (BTF_KIND_TYPE_TAG, `__user`, `__rcu`, ...), which pahole 1.24 cannot read: those blocks'
/// members are pahole 1.30's.
#[test]
fn clang_kernel_every_struct_and_union_matches_pahole_btf() {
    every_struct_and_union_matches(&common::source_vmlinuxes(), 1500);
}

fn every_struct_and_union_matches(vmlinuxes: &[PathBuf], min_names: usize) {
    let mut report = Vec::new();
    let mut residue = Vec::new();
    for vmlinux in vmlinuxes {
        let vmlinux = vmlinux.as_path();
        let names = composite_names(vmlinux);
        assert!(
            names.len() > min_names,
            "{}: only {} names",
            vmlinux.display(),
            names.len()
        );
        let differ = differing_names(vmlinux, &names, &[]);
        report.push(format!(
            "{}: {}/{} identical",
            vmlinux.display(),
            names.len() - differ.len(),
            names.len()
        ));
        if newer_oracle_for(vmlinux).is_some() {
            let m = names_against_1_30(vmlinux, &names, &[]);
            report.push(format!("{}: -C NAME: {}", vmlinux.display(), m.summary()));
        }
        residue.extend(
            differ
                .into_iter()
                .map(|n| format!("{}: {n}", vmlinux.display())),
        );
        // A sample one at a time too: pahole carries state between the types of one run.
        for name in names
            .iter()
            .step_by(250)
            .chain(["task_struct".to_string(), "mm_struct".to_string()].iter())
        {
            let args = ["-C", name.as_str()];
            let newer = newer_pahole_btf(vmlinux, &args);
            let got = vmscope_btf(vmlinux, &args);
            if !agrees(&pahole_btf(vmlinux, &args), newer.as_deref(), &got) {
                residue.push(format!("{}: {name} (alone)", vmlinux.display()));
            }
            if let Some(newer) = &newer {
                if let Err(e) = against_1_30(newer, &vmscope_btf_1_30(vmlinux, &args)) {
                    residue.push(format!("{}: {name} (alone, 1.30): {e}", vmlinux.display()));
                }
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        residue.is_empty(),
        "{}\ndiffer:\n{}",
        report.join("\n"),
        residue.join("\n")
    );
}

/// `-C` output of pahole 1.30 and of `--as-pahole 1.30` for `names` (batched): every block
/// byte for byte but for 1.30's doubled const; panics at the first other difference.
fn names_against_1_30(vmlinux: &Path, names: &[String], extra: &[&str]) -> Against130 {
    let mut total = Against130::default();
    for chunk in names.chunks(1500) {
        let list = chunk.join(",");
        let mut args = extra.to_vec();
        args.extend(["-C", &list]);
        let want = pahole_1_30_btf(vmlinux, &args);
        let m = against_1_30(&want, &vmscope_btf_1_30(vmlinux, &args)).unwrap_or_else(|e| {
            panic!(
                "{} {extra:?}: --as-pahole 1.30 differs from pahole 1.30 at {e}",
                vmlinux.display()
            )
        });
        assert_eq!(m.blocks, chunk.len(), "{} {extra:?}", vmlinux.display());
        total.add(m);
    }
    total
}

/// `-E`, `--hex` and other cacheline sizes on the structs the project cares most about.
#[test]
fn fixture_kernels_options_match_pahole_btf() {
    options_match(&common::fixture_vmlinuxes());
}

#[test]
fn clang_kernel_options_match_pahole_btf() {
    options_match(&common::source_vmlinuxes());
}

fn options_match(vmlinuxes: &[PathBuf]) {
    let names: Vec<String> = [
        "task_struct",
        "mm_struct",
        "vm_area_struct",
        "maple_node",
        "zone",
        "sk_buff",
        "bpf_htab",
        "page",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for vmlinux in vmlinuxes {
        let vmlinux = vmlinux.as_path();
        for opts in [&["-E"][..], &["--hex"], &["-c", "32"], &["-c", "128"]] {
            let present: Vec<String> = names
                .iter()
                .filter(|n| !pahole_btf(vmlinux, &["-C", n]).is_empty())
                .cloned()
                .collect();
            let differ = differing_names(vmlinux, &present, opts);
            assert!(
                differ.is_empty(),
                "{} {opts:?}: {differ:?}",
                vmlinux.display()
            );
            if newer_oracle_for(vmlinux).is_some() {
                let m = names_against_1_30(vmlinux, &present, opts);
                eprintln!("{} {opts:?}: {}", vmlinux.display(), m.summary());
            }
        }
    }
}

/// The full listing (`pahole -F btf FILE`, every struct and union, a name repeated per
/// distinct shape), `--sizes` and `--nr_members` of each fixture kernel: byte for byte.
#[test]
fn fixture_kernels_full_listing_matches_pahole_btf() {
    full_listing_matches(&common::fixture_vmlinuxes());
}

#[test]
fn clang_kernel_full_listing_matches_pahole_btf() {
    full_listing_matches(&common::source_vmlinuxes());
}

fn full_listing_matches(vmlinuxes: &[PathBuf]) {
    for vmlinux in vmlinuxes {
        let vmlinux = vmlinux.as_path();
        let (want, got) = (pahole_btf(vmlinux, &[]), vmscope_btf(vmlinux, &[]));
        let newer = newer_pahole_btf(vmlinux, &[]).map(|t| blocks(&t));
        let (w, g) = (blocks(&want), blocks(&got));
        if let Some(n) = &newer {
            assert_eq!(n.len(), w.len(), "the two paholes list different types");
        }
        let newer_at = |i: usize| newer.as_ref().map(|n| n[i].as_str());
        let agree = |i: usize| agrees(&w[i], newer_at(i), &g[i]);
        if want != got && (w.len() != g.len() || !(0..w.len()).all(agree)) {
            let first = (0..w.len().min(g.len()))
                .find(|&i| !agree(i))
                .unwrap_or(w.len().min(g.len()));
            panic!(
                "{}: full listing differs ({} vs {} types); first difference at type {first}:\n--- pahole\n{}--- vmscope\n{}",
                vmlinux.display(),
                w.len(),
                g.len(),
                w.get(first).map_or("", String::as_str),
                g.get(first).map_or("", String::as_str)
            );
        }
        if newer.is_some() {
            let tagged = w.iter().zip(&g).filter(|(a, b)| a != b).count();
            eprintln!(
                "{}: {} structs and unions, {} byte-identical to pahole 1.24, {tagged} with type tags checked against pahole 1.30",
                vmlinux.display(),
                w.len(),
                w.len() - tagged
            );
            full_listing_against_1_30(vmlinux);
        }
        assert_eq!(
            vmscope_btf(vmlinux, &["--sizes"]),
            pahole_btf(vmlinux, &["--sizes"]),
            "{}",
            vmlinux.display()
        );
        assert_eq!(
            vmscope_btf(vmlinux, &["--nr-members"]),
            pahole_btf(vmlinux, &["--nr_members"]),
            "{}",
            vmlinux.display()
        );
    }
}

/// `--as-pahole 1.30` against pahole 1.30's full listing: the whole text, every block byte for
/// byte but for 1.30's doubled const. Returns the figures (also printed).
fn full_listing_against_1_30(vmlinux: &Path) -> Against130 {
    let want = pahole_1_30_btf(vmlinux, &[]);
    let m = against_1_30(&want, &vmscope_btf_1_30(vmlinux, &[])).unwrap_or_else(|e| {
        panic!(
            "{}: full listing of --as-pahole 1.30 differs from pahole 1.30 at {e}",
            vmlinux.display()
        )
    });
    eprintln!("{}: full listing: {}", vmlinux.display(), m.summary());
    assert!(m.blocks > 1500, "{}: {m:?}", vmlinux.display());
    m
}

/// The 1.30 mode is not tuned to the clang kernel: the gcc-built Debian kernels' BTF full
/// listings are pahole 1.30's too, every block byte-identical (no type tags there, so no
/// doubled const either).
#[test]
fn fixture_kernels_full_listing_matches_pahole_1_30_btf() {
    for vmlinux in common::fixture_vmlinuxes() {
        let m = full_listing_against_1_30(&vmlinux);
        assert_eq!(m.identical, m.blocks, "{}", vmlinux.display());
    }
}
