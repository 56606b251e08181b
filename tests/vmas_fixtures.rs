//! VMAs rebuilt from real dumps against the guest's own /proc/PID/maps (byte for
//! byte), drgn's for_each_vma, and the raw tree height in ma_flags.
//! Fixtures: docs/architecture.md "Fixture contract"; build them with fixtures/build.sh.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use vmscope::kernel::offsets::TypeLookup;
use vmscope::kernel::vma::{maps_text, VmaInfo};
use vmscope::kernel::Kernel;
use vmscope::memory::Memory;

const DUMPS: [&str; 3] = ["5.10", "6.1", "6.1-la57"];
const FORMATS: [&str; 6] = [
    "elf.core",
    "kdump-zlib.flat",
    "kdump-lzo",
    "kdump-snappy",
    "kdump-zstd",
    "kdump-excluded",
];

/// A fixture dump's directory (complete: stamped, with its vmlinux and /proc copy).
fn dump_dir(name: &str) -> PathBuf {
    common::dump(name).dir
}

fn file_in(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    assert!(
        p.exists(),
        "fixture file {} is missing: run ./fixtures/build.sh",
        p.display()
    );
    p
}

/// Every PID directory the guest captured, with its maps file.
fn proc_pids(dir: &Path) -> Vec<(i32, Vec<u8>)> {
    let mut v: Vec<(i32, Vec<u8>)> = std::fs::read_dir(dir.join("proc"))
        .expect("proc dir")
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            Some((pid, std::fs::read(e.path().join("maps")).ok()?))
        })
        .collect();
    v.sort();
    assert!(
        !v.is_empty(),
        "no proc/PID/maps in {}: run ./fixtures/build.sh",
        dir.display()
    );
    v
}

fn types(vmlinux: &Path) -> Box<dyn TypeLookup> {
    let db = vmscope::debuginfo::dwarf::open(vmlinux).expect("DWARF of the fixture vmlinux");
    Box::new(db)
}

/// Types from the vmlinux's .BTF section instead of its DWARF.
fn btf_types(vmlinux: &Path) -> Box<dyn TypeLookup> {
    let db = vmscope::debuginfo::btf::BtfDb::open(vmlinux, 64).expect("BTF of the fixture vmlinux");
    Box::new(db)
}

fn open(core: &Path, vmlinux: &Path, t: &dyn TypeLookup) -> Kernel {
    let d = vmscope::memory::dump::open(core.to_str().expect("utf-8 path")).expect("open dump");
    Kernel::open(d, vmlinux.to_str().expect("utf-8 path"), Some(t)).expect("open kernel")
}

fn lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// Rebuild the maps of every process through the library (one kernel open per file).
fn all_maps(k: &Kernel, pids: &[(i32, Vec<u8>)]) -> BTreeMap<i32, (Vec<VmaInfo>, Vec<u8>)> {
    let mut r = k.vma_reader().expect("VMA reader");
    let mut out = BTreeMap::new();
    for (pid, _) in pids {
        let (_, mm) = k
            .mm_of_pid(*pid)
            .unwrap_or_else(|e| panic!("pid {pid}: {e}"));
        let vmas = match mm {
            Some(mm) => r.read_mm(mm).unwrap_or_else(|e| panic!("pid {pid}: {e}")).1,
            None => Vec::new(),
        };
        let text = maps_text(&vmas);
        out.insert(*pid, (vmas, text));
    }
    out
}

/// Compare the rebuilt maps of every process of every format of the named dumps with the
/// guest's proc/PID/maps, byte for byte: (dump files, processes, VMAs, largest process).
fn compare_all_maps(
    dumps: &[&str],
    formats: &[&str],
    open_types: fn(&Path) -> Box<dyn TypeLookup>,
) -> (usize, usize, usize, usize) {
    let (mut files, mut procs, mut vmas, mut biggest) = (0, 0, 0, 0);
    for &name in dumps {
        let dir = dump_dir(name);
        let vmlinux = file_in(&dir, "vmlinux");
        let t = open_types(&vmlinux);
        let pids = proc_pids(&dir);
        for &fmt in formats {
            let core = file_in(&dir, fmt);
            let k = open(&core, &vmlinux, &*t);
            let got = all_maps(&k, &pids);
            for (pid, want) in &pids {
                let text = &got[pid].1;
                if text != want {
                    let w = String::from_utf8_lossy(want);
                    let g = String::from_utf8_lossy(text);
                    let first = w.lines().zip(g.lines()).find(|(a, b)| a != b);
                    panic!(
                        "{name}/{fmt} pid {pid}: vmas differ from proc/{pid}/maps ({} vs {} lines); first difference: {first:?}",
                        lines(want),
                        lines(text)
                    );
                }
                procs += 1;
                vmas += lines(want);
                biggest = biggest.max(lines(want));
            }
            files += 1;
        }
    }
    (files, procs, vmas, biggest)
}

#[test]
fn every_process_of_every_dump_and_format_matches_proc_maps() {
    let (files, procs, vmas, biggest) = compare_all_maps(&DUMPS, &FORMATS, types);
    eprintln!("maps compared byte for byte: {files} dump files, {procs} processes, {vmas} VMAs (largest {biggest})");
    assert_eq!(files, DUMPS.len() * FORMATS.len());
    assert!(
        biggest >= 60_000,
        "the ~60,000-VMA workload was not among the processes compared"
    );
}

/// The clang-built kernel with CONFIG_ANON_VMA_NAME: the same comparison, and the guest's maps
/// it is compared with do carry `[anon:NAME]` and `[anon_shmem:NAME]` lines.
#[test]
fn every_process_of_the_clang_dump_matches_proc_maps_with_anon_names() {
    clang_dump_matches_proc_maps(types);
}

/// The same with the types from the clang vmlinux's BTF (its DWARF is clang's DWARF 5).
#[test]
fn every_process_of_the_clang_dump_matches_proc_maps_via_its_btf() {
    clang_dump_matches_proc_maps(btf_types);
}

fn clang_dump_matches_proc_maps(open_types: fn(&Path) -> Box<dyn TypeLookup>) {
    let names = common::source_kernel_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for name in &names {
        let maps: String = proc_pids(&dump_dir(name))
            .iter()
            .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
            .collect();
        for kind in ["[anon:", "[anon_shmem:"] {
            assert!(
                maps.lines().any(|l| l.contains(kind)),
                "{name}: the guest's maps have no {kind}NAME] line (CONFIG_ANON_VMA_NAME?)"
            );
        }
    }
    let (files, procs, vmas, biggest) = compare_all_maps(&names, &FORMATS, open_types);
    eprintln!("clang maps compared byte for byte: {files} dump files, {procs} processes, {vmas} VMAs (largest {biggest})");
    assert_eq!(files, names.len() * FORMATS.len());
    assert!(
        biggest >= 60_000,
        "the ~60,000-VMA workload was not among the processes compared"
    );
}

/// The arm64 dump read on this x86-64 host (fixtures/build-arm64.sh), every format.
#[test]
fn every_process_of_the_arm64_dump_matches_proc_maps() {
    let (files, procs, vmas, biggest) = compare_all_maps(&["arm64-6.1"], &FORMATS, types);
    eprintln!("arm64 maps compared byte for byte: {files} dump files, {procs} processes, {vmas} VMAs (largest {biggest})");
    assert_eq!(files, FORMATS.len());
    assert!(
        biggest >= 60_000,
        "the ~60,000-VMA workload was not among the processes compared"
    );
}

#[test]
fn drgn_agrees_on_start_end_flags() {
    let mut compared = 0;
    // drgn reads the arm64 ELF dump on this x86-64 host too.
    for name in DUMPS.into_iter().chain(["arm64-6.1"]) {
        let dir = dump_dir(name);
        let vmlinux = file_in(&dir, "vmlinux");
        let drgn: serde_json::Value = serde_json::from_slice(
            &std::fs::read(file_in(&dir, "drgn/vmas.json")).expect("read drgn/vmas.json"),
        )
        .expect("drgn/vmas.json is JSON");
        let t = types(&vmlinux);
        let k = open(&file_in(&dir, "elf.core"), &vmlinux, &*t);
        let mut r = k.vma_reader().expect("reader");
        let obj = drgn
            .as_object()
            .expect("drgn/vmas.json: object keyed by pid");
        assert!(!obj.is_empty());
        for (pid, entry) in obj {
            let pid: i32 = pid.parse().expect("pid key");
            let (_, mm) = k.mm_of_pid(pid).expect("task");
            let mm = mm.expect("drgn lists only processes with an mm");
            assert_eq!(
                entry["mm"].as_str(),
                Some(format!("{mm:#x}").as_str()),
                "{name} pid {pid}: mm"
            );
            let ours: Vec<(u64, u64, u64)> = r
                .read_mm(mm)
                .expect("VMAs")
                .1
                .iter()
                .filter(|v| v.mm != 0)
                .map(|v| (v.start, v.end, v.flags))
                .collect();
            let hex = |v: &serde_json::Value| {
                u64::from_str_radix(v.as_str().unwrap_or("").trim_start_matches("0x"), 16)
                    .expect("hex")
            };
            let theirs: Vec<(u64, u64, u64)> = entry["vmas"]
                .as_array()
                .expect("vmas array")
                .iter()
                .map(|v| {
                    (
                        hex(&v["start"]),
                        hex(&v["end"]),
                        v["flags"].as_u64().expect("flags"),
                    )
                })
                .collect();
            assert_eq!(
                ours, theirs,
                "{name} pid {pid}: (start, end, flags) differ from drgn"
            );
            compared += theirs.len();
        }
    }
    eprintln!("VMAs compared with drgn: {compared}");
    assert!(compared > 60_000);
}

fn vmscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(args)
        .output()
        .expect("run vmscope")
}

fn pid_with_role(dir: &Path, role: &str) -> i32 {
    let w: serde_json::Value = serde_json::from_slice(
        &std::fs::read(file_in(dir, "workloads.json")).expect("workloads.json"),
    )
    .expect("json");
    w["processes"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["role"] == role))
        .and_then(|p| p["pid"].as_i64())
        .unwrap_or_else(|| panic!("no '{role}' workload in {}", dir.display())) as i32
}

/// Offset of `member` in `struct strukt` as pahole prints it (the oracle).
fn pahole_offset(vmlinux: &Path, strukt: &str, member: &str) -> u64 {
    let out = Command::new("pahole")
        .args(["-F", "dwarf", "-C", strukt])
        .arg(vmlinux)
        .output()
        .expect("pahole (Debian package dwarves) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!(" {member};");
    let line = text
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("pahole -C {strukt}: no member {member}"));
    let c = line.split("/*").nth(1).expect("offset comment");
    c.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("offset number")
}

#[test]
fn cli_vmas_and_tree_on_the_60k_process() {
    for name in DUMPS {
        let dir = dump_dir(name);
        let vmlinux = file_in(&dir, "vmlinux");
        let core = file_in(&dir, "elf.core");
        let (c, v) = (core.to_str().unwrap(), vmlinux.to_str().unwrap());
        let pid = pid_with_role(&dir, "many");
        let maps =
            std::fs::read(dir.join(format!("proc/{pid}/maps"))).expect("maps of the 60k process");
        let n = lines(&maps);
        assert!(n >= 60_000, "{name}: the 'many' workload has only {n} VMAs");

        // The binary itself prints the same bytes.
        let out = vmscope(&["vmas", "--core", c, "--vmlinux", v, &pid.to_string()]);
        assert!(
            out.status.success(),
            "{name}: vmas failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == maps,
            "{name}: vmas {pid} differs from proc/{pid}/maps"
        );

        // The tree summary against independent readings: entry count against the
        // guest's maps; height against ma_flags read from the raw dump at pahole's offsets.
        let out = vmscope(&[
            "tree",
            "--json",
            "--core",
            c,
            "--vmlinux",
            v,
            &pid.to_string(),
        ]);
        assert!(
            out.status.success(),
            "{name}: tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tree --json");
        assert_eq!(
            j["map_count"].as_u64(),
            Some(n as u64),
            "{name}: map_count vs maps lines"
        );
        let t = types(&vmlinux);
        let k = open(&core, &vmlinux, &*t);
        let mm =
            u64::from_str_radix(j["mm"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let (_, task_mm) = k.mm_of_pid(pid).unwrap();
        assert_eq!(task_mm, Some(mm));
        if j["kind"] == "maple" {
            let s = &j["maple_summary"];
            assert_eq!(
                s["entries"].as_u64(),
                Some(n as u64),
                "{name}: maple entries vs maps lines"
            );
            let mt = pahole_offset(&vmlinux, "mm_struct", "mm_mt");
            let fl = pahole_offset(&vmlinux, "maple_tree", "ma_flags");
            let flags = k.mem.read_u32(mm + mt + fl).expect("ma_flags");
            let height = u64::from((flags & 0x7c) >> 2);
            assert!(
                height >= 3,
                "{name}: a 60k-entry tree cannot be {height} high"
            );
            assert_eq!(
                s["height_in_flags"].as_u64(),
                Some(height),
                "{name}: height in flags"
            );
            assert_eq!(
                s["levels_walked"].as_u64(),
                Some(height),
                "{name}: leaves must sit at the flags' height"
            );
            // Every leaf really sits at that depth.
            let nodes = j["maple"]["nodes"].as_array().expect("nodes");
            assert!(nodes
                .iter()
                .filter(|n| n["node_type"] == "leaf_64")
                .all(|n| n["depth"].as_u64() == Some(height)));
            eprintln!(
                "{name}: pid {pid}: {n} VMAs, height {height}, {} nodes",
                nodes.len()
            );
        } else {
            assert_eq!(j["kind"], "rbtree");
            assert_eq!(
                j["rb"]["nodes"].as_array().map(|a| a.len()),
                Some(n),
                "{name}: rb nodes vs maps lines"
            );
            assert_eq!(
                j["list"]["entries"].as_array().map(|a| a.len()),
                Some(n),
                "{name}: list vs maps lines"
            );
            // Red-black height bound: h <= 2 log2(n + 1).
            let h = j["rb"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["depth"].as_u64())
                .max()
                .unwrap();
            assert!(
                (h as f64) <= 2.0 * ((n + 1) as f64).log2(),
                "{name}: rb height {h} too large for {n} nodes"
            );
        }
    }
}

#[test]
fn kernel_thread_has_no_mm_and_json_keys() {
    let dir = dump_dir("6.1");
    let core = file_in(&dir, "elf.core");
    let vmlinux = file_in(&dir, "vmlinux");
    let (c, v) = (core.to_str().unwrap(), vmlinux.to_str().unwrap());
    // pid 2 is kthreadd: its captured maps are empty.
    assert_eq!(
        std::fs::read(dir.join("proc/2/maps")).expect("proc/2/maps"),
        b""
    );
    let out = vmscope(&["vmas", "--core", c, "--vmlinux", v, "2"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mm"));

    // A thread ID resolves to its process's mm.
    let w: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file_in(&dir, "workloads.json")).unwrap()).unwrap();
    let threads = w["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "threads")
        .expect("threads workload");
    let leader = threads["pid"].as_i64().unwrap();
    let tid = threads["tids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_i64())
        .find(|&t| t != leader)
        .expect("a second thread");
    let out = vmscope(&["vmas", "--core", c, "--vmlinux", v, &tid.to_string()]);
    assert!(out.status.success());
    assert!(
        out.stdout == std::fs::read(dir.join(format!("proc/{leader}/maps"))).unwrap(),
        "thread {tid} vs its leader's maps"
    );

    let pid = pid_with_role(&dir, "file");
    let out = vmscope(&[
        "vmas",
        "--json",
        "--core",
        c,
        "--vmlinux",
        v,
        &pid.to_string(),
    ]);
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("vmas --json");
    let maps =
        String::from_utf8(std::fs::read(dir.join(format!("proc/{pid}/maps"))).unwrap()).unwrap();
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), maps.lines().count());
    for (row, line) in rows.iter().zip(maps.lines()) {
        for key in [
            "start", "end", "perms", "offset", "dev", "inode", "path", "vma",
        ] {
            assert!(row.get(key).is_some(), "missing key {key}");
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (s, e) = f[0].split_once('-').unwrap();
        assert_eq!(
            row["start"].as_str().unwrap(),
            format!("0x{}", s.trim_start_matches('0'))
        );
        assert_eq!(
            row["end"].as_str().unwrap(),
            format!("0x{}", e.trim_start_matches('0'))
        );
        assert_eq!(row["perms"], f[1]);
        assert_eq!(row["dev"], f[3]);
        assert_eq!(row["inode"].as_u64().unwrap().to_string(), f[4]);
        assert_eq!(
            row["path"].as_str().unwrap_or(""),
            f.get(5..).map(|x| x.join(" ")).unwrap_or_default()
        );
        assert!(row["vma"].as_str().unwrap().starts_with("0xffff"));
    }
}
