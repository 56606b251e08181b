//! `vmscope bt` on every fixture dump. Oracles: drgn's stack traces of the same dump
//! (drgn-crash/bt.json and panic.json, fixtures/crash_oracle.py) and, for the panic
//! dumps, the call trace the kernel itself printed on the serial console.

mod common;

use serde::Deserialize;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct DrgnFrame {
    symbol: Option<String>,
    inline: bool,
    user: bool,
}

#[derive(Deserialize)]
struct DrgnTrace {
    pid: i64,
    comm: String,
    task: String,
    error: Option<String>,
    frames: Vec<DrgnFrame>,
}

#[derive(Deserialize)]
struct DrgnPanic {
    panic_cpu: i64,
    crashed_thread: Option<i64>,
    cpu_tasks: BTreeMap<String, i64>,
}

/// (name, dir, files): build.sh's dumps in ELF and zstd, the panic dumps in both formats.
fn dumps() -> Vec<(String, PathBuf, Vec<&'static str>)> {
    // The Debian kernels (ORC) and the clang-built 6.12, which has no ORC and no frame
    // pointers (CONFIG_UNWINDER_GUESS): both sides unwind it with .debug_frame.
    let mut out: Vec<_> = common::dumps()
        .into_iter()
        .map(|d| (d.name, d.dir, vec!["elf.core", "kdump-zstd"]))
        .collect();
    for series in panic_series() {
        let dir = common::fixtures_root()
            .join("dumps")
            .join(format!("{series}-panic"));
        out.push((
            format!("{series}-panic"),
            dir,
            vec!["elf.core", "kdump-zlib.flat"],
        ));
    }
    for (name, dir, _) in &out {
        assert!(
            dir.join("drgn-crash/.stamp").is_file(),
            "{name}: no drgn-crash oracle in {}: run ./fixtures/build-crash.sh",
            dir.display()
        );
    }
    out
}

fn panic_series() -> Vec<String> {
    common::configured_kernels()
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

fn bt(dir: &Path, file: &str, args: &[&str]) -> (String, String) {
    common::dump_runs::run_ok("bt", &dir.join(file), &dir.join("vmlinux"), args, TIMEOUT)
}

/// drgn's functions of a trace: the non-inline frames' ELF symbols, up to the first
/// user-space frame (drgn goes on into user space, vmscope stops at the boundary) or,
/// where the stack ends in code without call frame information (6.12-clang's entry
/// code), the first frame outside any symbol (drgn reads on past the stack's top).
fn drgn_functions(t: &DrgnTrace) -> Vec<Option<String>> {
    t.frames
        .iter()
        .take_while(|f| !f.user && f.symbol.is_some())
        .filter(|f| !f.inline)
        .map(|f| f.symbol.clone())
        .collect()
}

#[test]
fn every_task_of_every_dump_has_drgns_frames() {
    // The clang guest runs fewer workloads (39 tasks).
    let built = common::source_kernel_names();
    for (name, dir, files) in dumps() {
        let drgn: Vec<DrgnTrace> = common::read_json(&dir.join("drgn-crash/bt.json"));
        let unwound = drgn.iter().filter(|t| t.error.is_none()).count();
        let floor = if built.contains(&name) { 30 } else { 50 };
        assert!(
            unwound > floor && unwound == drgn.len(),
            "{name}: drgn unwound {unwound} of {} tasks",
            drgn.len()
        );
        for file in files {
            let (out, err) = bt(&dir, file, &["--all", "--json"]);
            assert!(err.is_empty(), "{name} {file}: warnings: {err}");
            let ours: Vec<J> = serde_json::from_str(&out).unwrap();
            let by_task: BTreeMap<&str, &J> = ours
                .iter()
                .map(|t| (t["task"].as_str().unwrap(), t))
                .collect();
            assert_eq!(by_task.len(), drgn.len(), "{name} {file}: task count");
            for d in &drgn {
                let o = by_task
                    .get(d.task.as_str())
                    .unwrap_or_else(|| panic!("{name} {file}: no task {} ({})", d.task, d.comm));
                let got: Vec<Option<String>> = o["frames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["function"].as_str().map(str::to_string))
                    .collect();
                let want = drgn_functions(d);
                assert!(
                    want.len() >= 2,
                    "{name}: drgn has {want:?} for pid {}",
                    d.pid
                );
                assert_eq!(
                    got, want,
                    "{name} {file}: pid {} {} ({})",
                    d.pid, d.comm, d.task
                );
                assert!(
                    o["error"].is_null(),
                    "{name} {file}: pid {}: {}",
                    d.pid,
                    o["error"]
                );
            }
        }
    }
}

#[test]
fn cpu_selects_the_task_drgn_finds_running_there() {
    for (name, dir, _) in dumps() {
        let p: DrgnPanic = common::read_json(&dir.join("drgn-crash/panic.json"));
        for (cpu, pid) in &p.cpu_tasks {
            let (out, _) = bt(&dir, "elf.core", &["--cpu", cpu, "--json"]);
            let ours: Vec<J> = serde_json::from_str(&out).unwrap();
            assert_eq!(ours.len(), 1, "{name} cpu {cpu}");
            assert_eq!(ours[0]["pid"], *pid, "{name} cpu {cpu}");
            assert_eq!(
                ours[0]["cpu"].as_u64(),
                cpu.parse().ok(),
                "{name} cpu {cpu}"
            );
        }
    }
}

/// The console's "Call Trace:" of the panic, reliable entries only, offsets dropped.
fn console_call_trace(console: &str) -> (Vec<String>, String, String) {
    let lines: Vec<&str> = console.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.ends_with("Call Trace:"))
        .expect("a Call Trace on the console");
    let mut names = Vec::new();
    let (mut rip, mut rsp) = (String::new(), String::new());
    for l in &lines[start + 1..] {
        let text = l.split_once("] ").map_or(*l, |(_, t)| t).trim();
        if let Some(r) = text.strip_prefix("RIP: 0033:") {
            rip = r.to_string();
        } else if let Some(r) = text.strip_prefix("RSP: 002b:") {
            rsp = format!(
                "0x{}",
                r.split_whitespace().next().unwrap().trim_start_matches('0')
            );
        } else if text.starts_with("Kernel Offset") {
            break;
        } else if !text.starts_with('?') && !text.starts_with('<') && text.contains("+0x") {
            names.push(text.split('+').next().unwrap().to_string());
        }
    }
    (names, rip, rsp)
}

#[test]
fn panic_shows_the_sysrq_crash_path_on_the_cpu_that_ran_it() {
    for series in panic_series() {
        let dir = common::fixtures_root()
            .join("dumps")
            .join(format!("{series}-panic"));
        let p: DrgnPanic = common::read_json(&dir.join("drgn-crash/panic.json"));
        assert!(p.panic_cpu >= 0, "{series}-panic: drgn sees no panic");
        let pid = p.crashed_thread.expect("drgn's crashed thread");
        let console = common::read_text(&dir.join("console.log")).replace('\r', "");
        let (trace, rip, rsp) = console_call_trace(&console);
        for file in ["elf.core", "kdump-zlib.flat"] {
            let (text, err) = bt(&dir, file, &["--panic"]);
            assert!(err.is_empty(), "{err}");
            let head = format!(
                "PANIC on CPU {}, task busybox (pid {pid}): sysrq triggered crash\n",
                p.panic_cpu
            );
            assert!(text.starts_with(&head), "{series}-panic {file}:\n{text}");
            let (json, _) = bt(&dir, file, &["--panic", "--json"]);
            let ours: Vec<J> = serde_json::from_str(&json).unwrap();
            assert_eq!((ours.len(), &ours[0]["pid"]), (1, &J::from(pid)));
            let fns: Vec<&str> = ours[0]["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["function"].as_str().unwrap())
                .collect();
            // The console's trace starts in dump_stack (called by panic), ours where the CPU stopped.
            let from_panic = &fns[fns.iter().position(|f| *f == "panic").expect("panic frame")..];
            let console_from_panic = &trace[trace
                .iter()
                .position(|f| f == "panic")
                .expect("panic on the console")..];
            assert!(
                fns.contains(&"sysrq_handle_crash") && fns.contains(&"write_sysrq_trigger"),
                "{fns:?}"
            );
            // kallsyms names the entry stub by its nearest label, the symbol table by its function.
            let n = console_from_panic.len();
            assert_eq!(
                from_panic.len(),
                n,
                "{series}-panic {file}: {from_panic:?} vs {console_from_panic:?}"
            );
            assert_eq!(
                &from_panic[..n - 1],
                &console_from_panic[..n - 1],
                "{series}-panic {file}"
            );
            assert!(
                console_from_panic[n - 1].starts_with(from_panic[n - 1]),
                "{series}-panic {file}"
            );
            let user = &ours[0]["user_regs"];
            assert_eq!(
                (user["ip"].as_str().unwrap(), user["sp"].as_str().unwrap()),
                (rip.as_str(), rsp.as_str()),
                "{series}-panic {file}"
            );
        }
    }
}

#[test]
fn info_names_the_panic_only_after_one() {
    for (name, dir, _) in dumps() {
        let p: DrgnPanic = common::read_json(&dir.join("drgn-crash/panic.json"));
        let core = dir.join("elf.core");
        let vmlinux = dir.join("vmlinux");
        let args = [
            "info",
            "--json",
            "--core",
            core.to_str().unwrap(),
            "--vmlinux",
            vmlinux.to_str().unwrap(),
        ];
        let (code, out, err) = common::run_vmscope(&args, TIMEOUT);
        assert_eq!(code, 0, "{name}: {err}");
        let v: J = serde_json::from_str(&out).unwrap();
        let (code, text, _) = common::run_vmscope(
            &args[..1]
                .iter()
                .chain(&args[2..])
                .copied()
                .collect::<Vec<_>>(),
            TIMEOUT,
        );
        assert_eq!(code, 0);
        if p.panic_cpu < 0 {
            assert!(
                v.get("panic").is_none() && !text.contains("PANIC"),
                "{name}: {out}"
            );
            continue;
        }
        assert_eq!(v["panic"]["cpu"], p.panic_cpu, "{name}");
        assert_eq!(v["panic"]["pid"], p.crashed_thread.unwrap(), "{name}");
        assert_eq!(v["panic"]["comm"], "busybox", "{name}");
        assert_eq!(v["panic"]["message"], "sysrq triggered crash", "{name}");
        let want = format!(
            "PANIC on CPU {}, task busybox (pid {}): sysrq triggered crash",
            p.panic_cpu,
            p.crashed_thread.unwrap()
        );
        assert_eq!(text.lines().last(), Some(want.as_str()), "{name}");
    }
}
