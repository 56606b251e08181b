//! Live mode inside the fixture guests: the static vmscope runs as root against
//! /proc/kcore, and the guest's own /proc, read around each command, is the oracle.
//!
//! One guest boot per test (kernel x source of types and symbols): a shell script runs
//! `vmscope ps --json`, `vmscope vmas PID` for every process (with /proc/PID/maps read
//! just before and just after), `vmscope check --all`, and reads every task's stat after
//! `ps`, and `vmscope report`; the results come back as a base64 tar on stdout. Together with the /proc copy
//! run-in-guest takes just before the script starts, `ps` is compared with the tasks both
//! copies show, and `vmas` with maps that did not change while vmscope ran.

mod common;

use common::{parse_maps, parse_stat, run_in_guest_with, static_vmscope, ProcStat};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Runs inside the guest; $VMSCOPE holds extra options (--vmlinux /vmlinux).
const SCRIPT: &str = r#"
O=/tmp/live
busybox mkdir -p $O/m
export XDG_CACHE_HOME=/tmp/cache
vmscope ps --json $VMSCOPE >$O/ps.json 2>$O/ps.err &
echo $! >$O/ps.pid
wait $!
echo $? >$O/ps.status
# Every task's stat right after ps (builtins only: no process is created meanwhile).
for d in /proc/[0-9]*; do
  for t in $d/task/[0-9]*; do
    read -r line <$t/stat 2>/dev/null && echo "${d#/proc/} $line" >>$O/after.stat
  done
done
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  cat $d/maps >$O/m/$p.before 2>/dev/null || continue
  # Kernel threads have empty maps: a few of them are enough.
  if [ ! -s $O/m/$p.before ]; then
    [ -e $O/kthreads-done ] && { busybox rm $O/m/$p.before; continue; }
    [ $p -gt 10 ] && : >$O/kthreads-done
  fi
  vmscope vmas $VMSCOPE $p >$O/m/$p.vmas 2>$O/m/$p.err
  echo $? >$O/m/$p.status
  cat $d/maps >$O/m/$p.after 2>/dev/null
done
vmscope check --all $VMSCOPE >$O/check.out 2>$O/check.err
echo $? >$O/check.status
vmscope report $VMSCOPE -o $O/report.html >$O/report.out 2>$O/report.err
echo $? >$O/report.status
busybox tar -czf - -C $O . | busybox base64
"#;

struct LiveRun {
    files: common::guest_files::GuestFiles,
    /// The /proc copy run-in-guest took just before the script.
    before: common::ProcTree,
    workload_pids: BTreeSet<i32>,
    workload_tids: BTreeSet<i32>,
    _run: common::GuestRun,
}

impl std::ops::Deref for LiveRun {
    type Target = common::guest_files::GuestFiles;
    fn deref(&self) -> &Self::Target {
        &self.files
    }
}

fn boot(kernel: &str, with_vmlinux: bool) -> LiveRun {
    let vmscope = static_vmscope();
    let busybox = Path::new("/bin/busybox");
    let opts = if with_vmlinux {
        "--vmlinux /vmlinux"
    } else {
        ""
    };
    let script = format!("VMSCOPE='{opts}'\n{SCRIPT}");
    let run = run_in_guest_with(
        kernel,
        busybox,
        &["sh", "-c", &script],
        with_vmlinux,
        &[(vmscope.as_path(), "/bin/vmscope")],
    );
    let files = common::guest_files::GuestFiles::unpack(kernel, &run);
    let before = run.proc();
    let wl = run.workloads();
    let workload_pids = wl.processes.iter().map(|p| p.pid).collect();
    let workload_tids = wl
        .processes
        .iter()
        .flat_map(|p| p.tids.iter().copied())
        .collect();
    LiveRun {
        files,
        before,
        workload_pids,
        workload_tids,
        _run: run,
    }
}

/// A workqueue worker's name ends with its last work ("kworker/1:1-events"),
/// which changes at any time: compare only the part before the suffix.
fn stable_comm(comm: &str) -> String {
    match comm.strip_prefix("kworker/") {
        Some(rest) => format!("kworker/{}", rest.split(['-', '+']).next().unwrap_or("")),
        None => comm.to_string(),
    }
}

/// (tgid, stat) of every task in the after-ps stat lines ("TGID STATLINE").
fn after_stats(text: &str) -> BTreeMap<i32, (i32, ProcStat)> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let (tgid, stat) = line.split_once(' ').unwrap();
        let st = parse_stat(stat);
        m.insert(st.pid, (tgid.parse().unwrap(), st));
    }
    m
}

/// `ps --json` equals the guest's /proc: every task that both /proc copies show is
/// listed with its pid, tgid, ppid and /proc name; the workloads' state too (they wait
/// quietly; other tasks' states move); every listed task is in one of the copies.
fn assert_ps_matches_proc(r: &LiveRun) {
    assert_eq!(
        r.status("ps.status"),
        0,
        "{}: vmscope ps: {}",
        r.kernel,
        r.text("ps.err")
    );
    let rows: Vec<J> = serde_json::from_str(&r.text("ps.json")).unwrap();
    let ps_pid: i32 = r.text("ps.pid").trim().parse().unwrap();
    let after = after_stats(&r.text("after.stat"));
    let mut before = BTreeMap::new();
    for pid in r.before.pids() {
        for tid in r.before.tids(pid) {
            before.insert(tid, (pid, r.before.task_stat(pid, tid)));
        }
    }
    let by_pid: BTreeMap<i32, &J> = rows
        .iter()
        .filter(|v| v["idle"] != true)
        .map(|v| (v["pid"].as_i64().unwrap() as i32, v))
        .collect();
    let idle = rows.iter().filter(|v| v["idle"] == true).count();
    assert!(
        idle >= 1
            && rows
                .iter()
                .filter(|v| v["idle"] == true)
                .all(|v| v["pid"] == 0),
        "{}: idle tasks",
        r.kernel
    );
    let mut compared = 0;
    for (tid, (tgid, st)) in &before {
        let Some((tgid2, st2)) = after.get(tid) else {
            continue;
        };
        assert_eq!(tgid, tgid2);
        let row = by_pid.get(tid).unwrap_or_else(|| {
            panic!(
                "{}: task {tid} ({}) is in /proc before and after ps, not in ps",
                r.kernel, st.comm
            )
        });
        let want = (*tgid as i64, st.ppid as i64, stable_comm(&st.comm));
        let got = (
            row["tgid"].as_i64().unwrap(),
            row["ppid"].as_i64().unwrap(),
            stable_comm(row["comm"].as_str().unwrap()),
        );
        assert_eq!(
            got, want,
            "{}: task {tid}: (tgid, ppid, comm) ps vs /proc",
            r.kernel
        );
        if r.workload_tids.contains(tid) {
            assert_eq!(
                st.state, st2.state,
                "{}: workload task {tid} changed state",
                r.kernel
            );
            assert_eq!(
                row["state"].as_str().unwrap(),
                st.state.to_string(),
                "{}: task {tid} state",
                r.kernel
            );
        }
        compared += 1;
    }
    // Kernel threads (kworkers) may come and go while ps runs; a user task must be
    // in one of the copies unless it is ps itself or one of its threads.
    let mut transient = 0;
    for (tid, row) in &by_pid {
        if before.contains_key(tid) || after.contains_key(tid) || row["tgid"] == ps_pid {
            continue;
        }
        assert!(
            row["kthread"] == true,
            "{}: ps lists user task {tid}, which neither /proc copy shows: {row}",
            r.kernel
        );
        transient += 1;
    }
    assert!(
        r.workload_tids.iter().all(|t| by_pid.contains_key(t)),
        "{}: a workload thread is missing from ps",
        r.kernel
    );
    assert!(
        compared > 20,
        "{}: only {compared} tasks compared",
        r.kernel
    );
    eprintln!(
        "{}: ps: {} rows ({idle} idle), {compared} tasks equal to /proc, {transient} short-lived kernel threads",
        r.kernel,
        rows.len()
    );
}

/// `vmas PID` equals /proc/PID/maps for every process whose maps did not change
/// while vmscope read them; a process that changed must match one of the two reads;
/// the workloads must not change and must match exactly.
fn assert_vmas_match_maps(r: &LiveRun) {
    let dir = r.dir.path().join("m");
    let mut pids: Vec<i32> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".status")?
                .parse()
                .ok()
        })
        .collect();
    pids.sort();
    let (mut exact, mut changed, mut vmas_total, mut kthreads) = (0, 0, 0, 0);
    for pid in &pids {
        let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{pid}.{ext}"))).ok();
        let (before, vmas, after) = (
            read("before").unwrap(),
            read("vmas").unwrap(),
            read("after"),
        );
        let status = r.status(&format!("m/{pid}.status"));
        let err = read("err").unwrap_or_default();
        let Some(after) = after else {
            assert!(
                !r.workload_pids.contains(pid),
                "{}: workload {pid} exited",
                r.kernel
            );
            continue; // exited meanwhile
        };
        if before == after {
            assert_eq!(status, 0, "{}: vmscope vmas {pid}: {err}", r.kernel);
            if vmas != before {
                let (w, g) = (parse_maps(&before), parse_maps(&vmas));
                let first = w
                    .iter()
                    .zip(&g)
                    .position(|(a, b)| a != b)
                    .unwrap_or(w.len().min(g.len()));
                panic!(
                    "{}: vmas {pid} differs from /proc/{pid}/maps ({} vs {} lines), first difference at line {first}:\n  maps: {:?}\n  vmas: {:?}",
                    r.kernel,
                    w.len(),
                    g.len(),
                    w.get(first),
                    g.get(first)
                );
            }
            if before.is_empty() {
                kthreads += 1;
                assert!(
                    err.contains("no mm"),
                    "{}: kernel thread {pid}: {err}",
                    r.kernel
                );
            } else {
                exact += 1;
                vmas_total += before.lines().count();
            }
        } else {
            assert!(
                !r.workload_pids.contains(pid),
                "{}: workload {pid}'s maps changed during the run",
                r.kernel
            );
            assert!(
                status != 0 || vmas == before || vmas == after,
                "{}: vmas {pid} matches neither read of maps",
                r.kernel
            );
            changed += 1;
        }
    }
    for pid in &r.workload_pids {
        assert!(
            pids.contains(pid),
            "{}: workload {pid} not compared",
            r.kernel
        );
    }
    assert!(
        exact >= r.workload_pids.len(),
        "{}: only {exact} processes compared exactly",
        r.kernel
    );
    assert!(kthreads >= 1, "{}: no kernel thread compared", r.kernel);
    eprintln!(
        "{}: vmas: {exact} processes ({vmas_total} VMAs) byte-identical to /proc/PID/maps, {kthreads} kernel threads without mm, {changed} changed during the read",
        r.kernel
    );
}

fn assert_check_passes(r: &LiveRun) {
    let out = r.text("check.out");
    assert_eq!(
        r.status("check.status"),
        0,
        "{}: vmscope check --all:\n{out}\n{}",
        r.kernel,
        r.text("check.err")
    );
    eprintln!(
        "{}: check --all: exit 0\n{}",
        r.kernel,
        out.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
}

/// `report` live: exit 0, nothing on stdout, a section with an ok verdict and both
/// pictures for every workload process (the rest may come and go while it runs).
fn assert_report_passes(r: &LiveRun) {
    assert_eq!(
        r.status("report.status"),
        0,
        "{}: vmscope report:\n{}",
        r.kernel,
        r.text("report.err")
    );
    assert!(
        r.text("report.out").is_empty(),
        "{}: report printed on stdout",
        r.kernel
    );
    let page = r.text("report.html");
    for pid in &r.workload_pids {
        let head = format!("<section class=\"process\" id=\"pid-{pid}\">");
        let section = page
            .split(&head)
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap_or_else(|| panic!("{}: no section for workload pid {pid}", r.kernel));
        assert!(
            section.contains("class=\"verdict ok\""),
            "{}: pid {pid}: {section:.2000}",
            r.kernel
        );
        for kind in ["strip", "tree", "chart"] {
            assert!(
                section.contains(&format!("<div class=\"picture {kind}\">\n<svg ")),
                "{}: pid {pid}: no {kind} picture",
                r.kernel
            );
        }
    }
    eprintln!("{}: report: exit 0, {} bytes", r.kernel, page.len());
}

fn live(kernel: &str, with_vmlinux: bool) {
    let r = boot(kernel, with_vmlinux);
    assert_ps_matches_proc(&r);
    assert_vmas_match_maps(&r);
    assert_check_passes(&r);
    assert_report_passes(&r);
}

/// The kernel's own BTF and /proc/kallsyms: no vmlinux in the guest.
#[test]
fn live_5_10_btf_kallsyms() {
    live("5.10", false);
}

#[test]
fn live_6_1_btf_kallsyms() {
    live("6.1", false);
}

/// 5-level paging (LA57) in the guest.
#[test]
fn live_6_1_la57_btf_kallsyms() {
    live("6.1-la57", false);
}

/// The DWARF vmlinux at /vmlinux (a 2 GB guest with a 600 MB initramfs: slow).
#[test]
fn live_6_1_dwarf_vmlinux() {
    live("6.1", true);
}

/// The clang-built 6.12 with named anonymous mappings: its BTF and /proc/kallsyms.
#[test]
fn live_6_12_clang_btf_kallsyms() {
    live("6.12-clang", false);
}

/// The clang-built 6.12 with its DWARF 5 vmlinux at /vmlinux.
#[test]
fn live_6_12_clang_dwarf_vmlinux() {
    live("6.12-clang", true);
}
