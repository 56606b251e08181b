//! Real-kernel tests of the memory layer and the `info`, `ps`, `show`, `read`
//! commands, on every fixture dump and format. Oracles: the guest's own /proc
//! copy (proc/PID/task/TID/stat, maps), drgn's ps.json, and drgn run here on the
//! same dump for mm fields /proc does not print. Never vmscope's own output.

mod common;

use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DUMPS: [&str; 3] = ["5.10", "6.1", "6.1-la57"];
const FORMATS: [&str; 6] = [
    "elf.core",
    "kdump-zlib.flat",
    "kdump-lzo",
    "kdump-snappy",
    "kdump-zstd",
    "kdump-excluded",
];
/// The arm64 dump (fixtures/build-arm64.sh), in every format.
const ARM64: &str = "arm64-6.1";
const TIMEOUT: Duration = Duration::from_secs(300);

/// A fixture dump's directory (complete: stamped, with its vmlinux and /proc copy).
fn dump_dir(name: &str) -> PathBuf {
    common::dump(name).dir
}

fn core(name: &str, format: &str) -> PathBuf {
    let p = dump_dir(name).join(format);
    assert!(
        p.exists(),
        "{} is missing: run ./fixtures/build.sh",
        p.display()
    );
    p
}

/// Run vmscope with a deadline: (status, stdout, stderr).
pub fn vmscope(args: &[&str]) -> (i32, String, String) {
    common::run_vmscope(args, TIMEOUT)
}

fn run_ok(args: &[&str]) -> String {
    let (code, out, err) = vmscope(args);
    assert_eq!(code, 0, "vmscope {args:?} failed: {err}");
    out
}

fn target(name: &str, format: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    v.push("--core".into());
    v.push(core(name, format).display().to_string());
    v.push("--vmlinux".into());
    v.push(dump_dir(name).join("vmlinux").display().to_string());
    v
}

fn run_json(name: &str, format: &str, extra: &[&str]) -> J {
    let args = target(name, format, extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&run_ok(&refs)).expect("vmscope JSON")
}

/// Fields of a /proc/PID/stat line; `comm` may contain spaces and parentheses.
pub struct Stat {
    pub pid: i64,
    pub comm: String,
    pub state: String,
    pub fields: Vec<String>,
}

impl Stat {
    /// Field number `n` as numbered in proc(5) (1 = pid, 3 = state, 4 = ppid, ...).
    pub fn field(&self, n: usize) -> u64 {
        self.fields[n - 3].parse().unwrap()
    }
}

pub fn parse_stat(path: &Path) -> Stat {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = s.find('(').unwrap();
    let close = s.rfind(')').unwrap();
    let fields: Vec<String> = s[close + 2..]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Stat {
        pid: s[..open].trim().parse().unwrap(),
        comm: s[open + 1..close].to_string(),
        state: fields[0].clone(),
        fields,
    }
}

type Row = (i64, i64, i64, String, String);

/// State letters move between the /proc snapshot and the dump: the capturing
/// process (init) reads its own stat as 'R', and the capture wakes kernel threads
/// (rcu_preempt, kworkers). Against /proc the state is compared for the workload
/// processes, which wait quietly for the dump; drgn, reading the same dump,
/// checks every task's state.
fn proc_state(state: &str, workload: bool) -> String {
    if workload {
        state.to_string()
    } else {
        "(racy)".into()
    }
}

fn workload_tgids(dir: &Path) -> BTreeSet<i64> {
    let wl: J = serde_json::from_str(&std::fs::read_to_string(dir.join("workloads.json")).unwrap())
        .unwrap();
    wl["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect()
}

/// A workqueue worker's /proc name ends with the description of the last work it
/// ran ("kworker/1:1-events"); that can change between the /proc snapshot and the
/// dump, so for kworkers only the name up to the suffix is compared.
fn stable_comm(comm: &str) -> String {
    match comm.strip_prefix("kworker/") {
        Some(rest) => format!("kworker/{}", rest.split(['-', '+']).next().unwrap_or("")),
        None => comm.to_string(),
    }
}

/// Every thread the guest's /proc listed: (pid, tgid, ppid, comm, state).
fn proc_threads(dir: &Path) -> BTreeSet<Row> {
    let workloads = workload_tgids(dir);
    let mut rows = BTreeSet::new();
    for e in std::fs::read_dir(dir.join("proc")).unwrap().flatten() {
        let Ok(tgid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        for t in std::fs::read_dir(e.path().join("task")).unwrap().flatten() {
            let st = parse_stat(&t.path().join("stat"));
            let state = proc_state(&st.state, workloads.contains(&tgid));
            rows.insert((
                st.pid,
                tgid,
                st.field(4) as i64,
                stable_comm(&st.comm),
                state,
            ));
        }
    }
    assert!(
        rows.len() > 20,
        "{}: suspiciously few tasks in the /proc copy",
        dir.display()
    );
    rows
}

fn row_of(v: &J, workloads: &BTreeSet<i64>) -> Row {
    (
        v["pid"].as_i64().unwrap(),
        v["tgid"].as_i64().unwrap(),
        v["ppid"].as_i64().unwrap(),
        stable_comm(v["comm"].as_str().unwrap()),
        proc_state(
            v["state"].as_str().unwrap(),
            workloads.contains(&v["tgid"].as_i64().unwrap()),
        ),
    )
}

/// drgn's rows carry `task->comm` as `comm`; ours carry it as `task_comm`
/// (`comm` is the /proc name, checked against /proc above).
fn full_row(v: &J, comm_key: &str) -> String {
    let keys = [
        "pid",
        "tgid",
        "ppid",
        comm_key,
        "state",
        "task",
        "mm",
        "map_count",
        "idle",
    ];
    keys.iter()
        .map(|k| format!("{}={}", k.trim_start_matches("task_"), v[*k]))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn ps_matches_guest_proc_and_drgn_on_every_dump_and_format() {
    for name in DUMPS {
        ps_matches_proc_and_drgn(name, &FORMATS);
    }
}

/// The clang-built kernels (fixtures/source-kernels.conf): the same oracles.
#[test]
fn ps_matches_guest_proc_and_drgn_on_every_clang_dump_format() {
    for name in common::source_kernel_names() {
        ps_matches_proc_and_drgn(&name, &FORMATS);
    }
}

/// The arm64 dump read on this x86-64 host, every format.
#[test]
fn ps_matches_guest_proc_and_drgn_on_the_arm64_dump() {
    ps_matches_proc_and_drgn(ARM64, &FORMATS);
}

fn ps_matches_proc_and_drgn(name: &str, formats: &[&str]) {
    let dir = dump_dir(name);
    let proc_rows = proc_threads(&dir);
    let workloads = workload_tgids(&dir);
    let drgn: J =
        serde_json::from_str(&std::fs::read_to_string(dir.join("drgn/ps.json")).unwrap()).unwrap();
    let drgn_rows: BTreeSet<String> = drgn
        .as_array()
        .unwrap()
        .iter()
        .map(|r| full_row(r, "comm"))
        .collect();
    for &format in formats {
        let ps = run_json(name, format, &["ps", "--json"]);
        let rows = ps.as_array().unwrap();
        let ours: BTreeSet<Row> = rows
            .iter()
            .filter(|r| r["idle"] == J::Bool(false))
            .map(|r| row_of(r, &workloads))
            .collect();
        assert_eq!(
            ours.symmetric_difference(&proc_rows).collect::<Vec<_>>(),
            Vec::<&Row>::new(),
            "{name}/{format}: ps vs the guest's /proc (pid, tgid, ppid, comm, state)"
        );
        let idle: Vec<&J> = rows.iter().filter(|r| r["idle"] == J::Bool(true)).collect();
        assert!(
            !idle.is_empty() && idle.iter().all(|r| r["pid"] == 0 && r["mm"].is_null()),
            "{name}/{format}: idle tasks"
        );
        let full: BTreeSet<String> = rows.iter().map(|r| full_row(r, "task_comm")).collect();
        assert_eq!(
            full.symmetric_difference(&drgn_rows).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{name}/{format}: ps vs drgn/ps.json"
        );
    }
}

/// mm fields by pid, from drgn run on the ELF dump (mmap_base and brk are not in /proc).
fn drgn_mm_fields(name: &str, pids: &[i64]) -> BTreeMap<i64, BTreeMap<String, u64>> {
    let python = common::fixtures_root().join("venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run ./fixtures/build.sh",
        python.display()
    );
    let script = r#"
import json, sys, drgn
from drgn.helpers.linux.pid import find_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
out = {}
for pid in map(int, sys.argv[3:]):
    mm = find_task(prog, pid).mm
    out[pid] = {f: getattr(mm, f).value_() for f in ("map_count", "mmap_base", "start_brk", "brk", "start_stack")}
print(json.dumps(out))
"#;
    let dir = dump_dir(name);
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(script)
        .arg(dir.join("elf.core"))
        .arg(dir.join("vmlinux"));
    for p in pids {
        cmd.arg(p.to_string());
    }
    let out = cmd.output().expect("run drgn");
    assert!(
        out.status.success(),
        "drgn failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: BTreeMap<String, BTreeMap<String, u64>> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|(k, m)| (k.parse().unwrap(), m))
        .collect()
}

/// Find a member by name, looking through anonymous structs/unions as C does.
fn member<'a>(node: &'a J, name: &str) -> Option<&'a J> {
    for m in node["members"].as_array()? {
        if m["name"] == name {
            return Some(m);
        }
        if m["name"] == "" {
            if let Some(found) = member(m, name) {
                return Some(found);
            }
        }
    }
    None
}

fn num(m: &J) -> u64 {
    let v = &m["value"];
    match v["kind"].as_str() {
        Some("int") => v["value"].as_i64().unwrap() as u64,
        Some("uint") => v["value"].as_u64().unwrap(),
        Some("pointer") => {
            u64::from_str_radix(v["address"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        }
        _ => {
            // atomic_t and friends: a struct with one `counter`.
            num(member(m, "counter").unwrap_or_else(|| panic!("not a number: {m}")))
        }
    }
}

fn workloads(name: &str) -> J {
    serde_json::from_str(&std::fs::read_to_string(dump_dir(name).join("workloads.json")).unwrap())
        .unwrap()
}

#[test]
fn show_task_and_mm_values_match_proc_and_drgn() {
    for name in DUMPS {
        let dir = dump_dir(name);
        let wl = workloads(name);
        let pids: Vec<i64> = wl["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_i64().unwrap())
            .collect();
        let drgn_mm = drgn_mm_fields(name, &pids);
        let drgn_ps: J =
            serde_json::from_str(&std::fs::read_to_string(dir.join("drgn/ps.json")).unwrap())
                .unwrap();
        for format in ["elf.core", "kdump-zstd", "kdump-excluded"] {
            for &pid in &pids {
                let p = pid.to_string();
                let stat = parse_stat(&dir.join(format!("proc/{pid}/stat")));
                let t = run_json(
                    name,
                    format,
                    &["show", "task_struct", "--pid", &p, "--json"],
                );
                let node = &t["node"];
                assert_eq!(
                    num(member(node, "pid").unwrap()) as i64,
                    pid,
                    "{name}/{format} pid"
                );
                assert_eq!(
                    num(member(node, "tgid").unwrap()) as i64,
                    pid,
                    "{name}/{format} tgid of {pid}"
                );
                assert_eq!(
                    member(node, "comm").unwrap()["value"]["value"],
                    stat.comm,
                    "{name}/{format} comm of {pid}"
                );
                let drgn_row = drgn_ps
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["pid"] == pid)
                    .unwrap();
                let mm = num(member(node, "mm").unwrap());
                assert_eq!(
                    format!("{mm:#x}"),
                    drgn_row["mm"].as_str().unwrap(),
                    "{name}/{format} mm of {pid}"
                );

                let m = run_json(name, format, &["show", "mm_struct", "--pid", &p, "--json"]);
                let node = &m["node"];
                let field = |f: &str| num(member(node, f).unwrap_or_else(|| panic!("no {f}")));
                let d = &drgn_mm[&pid];
                for f in ["map_count", "mmap_base", "start_brk", "brk", "start_stack"] {
                    assert_eq!(
                        field(f),
                        d[f],
                        "{name}/{format}: mm_struct.{f} of pid {pid} vs drgn"
                    );
                }
                // proc(5): field 28 startstack, field 47 start_brk.
                assert_eq!(
                    field("start_stack"),
                    stat.field(28),
                    "{name}/{format}: start_stack vs /proc/{pid}/stat"
                );
                assert_eq!(
                    field("start_brk"),
                    stat.field(47),
                    "{name}/{format}: start_brk vs /proc/{pid}/stat"
                );
                // map_count excludes the gate VMA ([vsyscall]) that maps prints.
                let maps = std::fs::read_to_string(dir.join(format!("proc/{pid}/maps"))).unwrap();
                let lines = maps.lines().filter(|l| !l.ends_with("[vsyscall]")).count() as u64;
                assert_eq!(
                    field("map_count"),
                    lines,
                    "{name}/{format}: map_count vs /proc/{pid}/maps"
                );
            }
        }
    }
}

/// Bytes of a `read` hexdump.
fn hexdump_bytes(out: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for line in out.lines() {
        let hex = line.get(18..67).unwrap_or("");
        v.extend(
            hex.split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).unwrap()),
        );
    }
    v
}

#[test]
fn read_returns_the_workload_page_markers() {
    for name in DUMPS {
        markers_read_back(name, &FORMATS);
    }
}

#[test]
fn read_returns_the_workload_page_markers_on_the_arm64_dump() {
    markers_read_back(ARM64, &FORMATS);
}

/// Every marked page of every workload, read through the process's page tables.
fn markers_read_back(name: &str, formats: &[&str]) {
    let wl = workloads(name);
    for &format in formats {
        let mut checked = 0;
        for p in wl["processes"].as_array().unwrap() {
            let pid = p["pid"].as_i64().unwrap();
            for m in p["mappings"].as_array().unwrap() {
                let pages = m["marker_pages"].as_u64().unwrap();
                if pages == 0 {
                    continue;
                }
                let start =
                    u64::from_str_radix(m["start"].as_str().unwrap().trim_start_matches("0x"), 16)
                        .unwrap();
                let len = (pages * 4096).to_string();
                let (addr, pid_s) = (format!("{start:#x}"), pid.to_string());
                let args = target(name, format, &["read", "--pid", &pid_s, &addr, &len]);
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let bytes = hexdump_bytes(&run_ok(&refs));
                assert_eq!(bytes.len() as u64, pages * 4096);
                for i in 0..pages {
                    let page_addr = start + i * 4096;
                    // workloads.json marker_format: "VMSCOPE pid=<pid> addr=0x<hex>" NUL-terminated.
                    let want = format!("VMSCOPE pid={pid} addr={page_addr:#x}\0");
                    let got = &bytes[(i * 4096) as usize..(i * 4096) as usize + want.len()];
                    assert_eq!(
                        String::from_utf8_lossy(got),
                        want,
                        "{name}/{format}: pid {pid} page {page_addr:#x} ({})",
                        m["perms"]
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 20,
            "{name}/{format}: only {checked} markers checked"
        );
    }
}

#[test]
fn info_reports_the_booted_kernel() {
    for name in DUMPS {
        let dir = dump_dir(name);
        let release = std::fs::read_to_string(dir.join("release"))
            .unwrap()
            .trim()
            .to_string();
        let boot: J =
            serde_json::from_str(&std::fs::read_to_string(dir.join("boot.json")).unwrap()).unwrap();
        for format in FORMATS {
            let v = run_json(name, format, &["info", "--json"]);
            assert_eq!(v["release"], release, "{name}/{format}");
            // The KASLR slide the guest reported at boot (VMCOREINFO read by the rig).
            let want = boot["vmcoreinfo_KERNELOFFSET"].as_str().unwrap();
            assert_eq!(
                v["kaslr_offset"].as_str().unwrap(),
                format!("0x{want}"),
                "{name}/{format}"
            );
            let levels = if boot["cpu"].as_str().unwrap().contains("la57=off") {
                4
            } else {
                5
            };
            assert_eq!(v["paging_levels"], levels, "{name}/{format}");
            assert_eq!(
                v["cpus_online"].as_array().unwrap().len() as u64,
                boot["smp"].as_u64().unwrap(),
                "{name}/{format}"
            );
        }
    }
}

/// `info` on the arm64 dump: KASLR as the guest's VMCOREINFO said at boot, and the VA
/// size, page size and levels the kernel's own config was built with.
#[test]
fn info_reports_the_arm64_kernel() {
    let dir = dump_dir(ARM64);
    let boot: J =
        serde_json::from_str(&std::fs::read_to_string(dir.join("boot.json")).unwrap()).unwrap();
    let vmlinux = std::fs::canonicalize(dir.join("vmlinux")).unwrap();
    let config = std::fs::read_to_string(vmlinux.with_file_name("config")).unwrap();
    let conf = |key: &str| -> u64 {
        config
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} not in the kernel's config"))
            .parse()
            .unwrap()
    };
    for format in FORMATS {
        let v = run_json(ARM64, format, &["info", "--json"]);
        let want = boot["vmcoreinfo_KERNELOFFSET"].as_str().unwrap();
        assert_eq!(v["kaslr_offset"].as_str().unwrap(), format!("0x{want}"));
        assert_eq!(v["arch"], "aarch64", "{format}");
        assert_eq!(
            v["va_bits"]["built"],
            conf("CONFIG_ARM64_VA_BITS"),
            "{format}"
        );
        assert_eq!(
            v["va_bits"]["actual"],
            conf("CONFIG_ARM64_VA_BITS"),
            "{format}"
        );
        assert_eq!(
            v["page_size"],
            1u64 << conf("CONFIG_ARM64_PAGE_SHIFT"),
            "{format}"
        );
        assert_eq!(
            v["paging_levels"],
            conf("CONFIG_PGTABLE_LEVELS"),
            "{format}"
        );
        assert_eq!(
            v["cpus_online"].as_array().unwrap().len() as u64,
            boot["smp"].as_u64().unwrap(),
            "{format}"
        );
        // The image's physical address (runtime _text - kimage_voffset) lies in the
        // guest's 512 MiB of RAM, which starts at PHYS_OFFSET on the virt board.
        let text = common::parse_hex(v["text"].as_str().unwrap()).unwrap();
        let voff = common::parse_hex(v["kimage_voffset"].as_str().unwrap()).unwrap();
        let phys = common::parse_hex(v["phys_offset"].as_str().unwrap()).unwrap();
        assert!(
            (phys..phys + (512 << 20)).contains(&text.wrapping_sub(voff)),
            "{format}: _text at physical {:#x}",
            text.wrapping_sub(voff)
        );
    }
}
