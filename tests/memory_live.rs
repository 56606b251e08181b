//! Live mode: the static vmscope runs as root inside each fixture guest against
//! /proc/kcore, and its `ps` must list the tasks of the guest's own /proc
//! (captured just before vmscope started), and `read` must find the workload
//! markers through /proc/kcore.

mod common;

use serde_json::Value as J;
use std::collections::BTreeSet;

type Row = (i32, i32, i32, String, String);

/// As in memory_dumps.rs: a kworker's /proc name carries its last work, which
/// moves between the capture and vmscope's run.
fn stable_comm(comm: &str) -> String {
    match comm.strip_prefix("kworker/") {
        Some(rest) => format!("kworker/{}", rest.split(['-', '+']).next().unwrap_or("")),
        None => comm.to_string(),
    }
}

#[test]
fn live_ps_and_read_match_the_guest() {
    let bin = common::static_vmscope();
    for kernel in ["5.10", "6.1", "6.1-la57"] {
        let run = common::run_in_guest(kernel, &bin, &["ps", "--json", "--vmlinux", "/vmlinux"], true);
        assert_eq!(run.status, 0, "{kernel}: live ps failed: {}", run.stderr);
        let rows: J = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{kernel}: {e}: {}", run.stdout));
        let rows = rows.as_array().unwrap();
        let proc = run.proc();
        let workloads: BTreeSet<i32> = run.workloads().processes.iter().map(|p| p.pid).collect();
        // States are compared for the quietly waiting workloads only (see memory_dumps.rs).
        let state = |s: &str, tgid: i32| if workloads.contains(&tgid) { s.to_string() } else { "(racy)".into() };
        let mut want: BTreeSet<Row> = BTreeSet::new();
        for pid in proc.pids() {
            for tid in proc.tids(pid) {
                let st = proc.task_stat(pid, tid);
                want.insert((tid, pid, st.ppid, stable_comm(&st.comm), state(&st.state.to_string(), pid)));
            }
        }
        let got: BTreeSet<Row> = rows
            .iter()
            .filter(|r| r["idle"] == J::Bool(false) && r["comm"] != "vmscope")
            .map(|r| {
                let tgid = r["tgid"].as_i64().unwrap() as i32;
                (
                    r["pid"].as_i64().unwrap() as i32,
                    tgid,
                    r["ppid"].as_i64().unwrap() as i32,
                    stable_comm(r["comm"].as_str().unwrap()),
                    state(r["state"].as_str().unwrap(), tgid),
                )
            })
            .collect();
        // The capture's own helper processes may have exited before vmscope ran:
        // every task vmscope lists must be in /proc, and every workload thread too.
        let extra: Vec<&Row> = got.difference(&want).collect();
        assert!(extra.is_empty(), "{kernel}: live ps lists tasks the guest's /proc did not: {extra:?}");
        let missing: Vec<&Row> = want.iter().filter(|r| workloads.contains(&r.1) && !got.contains(r)).collect();
        assert!(missing.is_empty(), "{kernel}: live ps misses workload threads: {missing:?}");
        assert!(got.len() + 5 >= want.len(), "{kernel}: live ps lists {} tasks, /proc {}", got.len(), want.len());
        assert!(rows.iter().any(|r| r["comm"] == "vmscope" && r["state"] == "R"), "{kernel}: vmscope should see itself running");
    }
}

#[test]
fn live_read_finds_the_workload_markers() {
    let bin = common::static_vmscope();
    // The perms workload (comm from workloads.json) maps pages of every permission at
    // fixed addresses; its second page (`---p`, PROT_NONE) is read through /proc/kcore.
    for kernel in ["6.1", "5.10"] {
        let dump = common::dump(kernel);
        let wl = dump.workloads();
        let perms = wl.role("perms");
        let m = &perms.mappings[0];
        let (addr, len) = (format!("{:#x}", m.start), (m.marker_pages * 4096).to_string());
        let run = common::run_in_guest(kernel, &bin, &["read", "--comm", &perms.comm, &addr, &len, "--vmlinux", "/vmlinux"], true);
        assert_eq!(run.status, 0, "{kernel}: live read failed: {}", run.stderr);
        let pid = run.workloads().role("perms").pid;
        let lines: Vec<&str> = run.stdout.lines().collect();
        for page in 0..m.marker_pages {
            let line = lines[(page * 256) as usize];
            let text: String = lines[(page * 256) as usize..(page * 256 + 3) as usize].iter().filter_map(|l| l.split('|').nth(1)).collect();
            let want = common::marker(pid, m.start + page * 4096);
            assert!(text.starts_with(&want), "{kernel}: page {page} at {line}: want {want:?}, got {text:?}");
        }
    }
}
