//! Live: the static vmscope inside each fixture guest, reading /proc/kcore, against
//! the guest's own /proc/PID/maps captured just before it ran.
//! Fixtures: fixtures/build.sh (kernels, guest programs); needs qemu-system-x86.

mod common;

use std::collections::BTreeMap;

/// Split `vmas --all` output into pid -> maps text.
fn sections(out: &str) -> BTreeMap<i32, String> {
    let mut map = BTreeMap::new();
    let mut cur: Option<i32> = None;
    for line in out.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("==> ") {
            let pid = rest.split_whitespace().next().and_then(|p| p.parse().ok());
            assert!(pid.is_some(), "bad section header {line:?}");
            cur = pid;
            map.insert(pid.unwrap_or(0), String::new());
        } else if let Some(p) = cur {
            map.entry(p).or_default().push_str(line);
        }
    }
    map
}

#[test]
fn live_vmas_equal_guest_proc_maps() {
    let bin = common::static_vmscope();
    let mut total_exact = 0;
    let mut failures = Vec::new();
    // VMSCOPE_LIVE_KERNELS=6.1,5.10 narrows the run (each boot copies a 600 MB vmlinux).
    let only = std::env::var("VMSCOPE_LIVE_KERNELS").ok();
    for name in common::dump_names() {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|k| k == name))
        {
            continue;
        }
        let run = common::run_in_guest(
            &name,
            &bin,
            &["vmas", "--all", "--vmlinux", "/vmlinux"],
            true,
        );
        if run.status != 0 {
            // Keep going so that every kernel's result is seen; fail at the end.
            failures.push(format!(
                "{name}: vmscope vmas --all in the guest failed: {}",
                run.stderr.trim()
            ));
            continue;
        }
        let got = sections(&run.stdout);
        let proc = run.proc();
        let workloads = run.workloads();
        // The static workloads and init do not change between the capture and the run:
        // they must match exactly.
        let mut exact = 0;
        let mut must: Vec<i32> = workloads.processes.iter().map(|p| p.pid).collect();
        must.push(1);
        for pid in &must {
            let want = proc.maps_text(*pid);
            let have = got
                .get(pid)
                .unwrap_or_else(|| panic!("{name}: vmscope printed no section for pid {pid}"));
            assert!(
                have == &want,
                "{name}: pid {pid}: live vmas differ from /proc/{pid}/maps\n--- proc\n{want}\n--- vmscope\n{have}"
            );
            exact += 1;
        }
        // Others (shells, the capture's helpers) may have changed between the two reads;
        // every one that still exists must at least be listed.
        let listed = proc
            .pids()
            .into_iter()
            .filter(|p| !proc.maps_text(*p).is_empty() && got.contains_key(p))
            .count();
        eprintln!("{name}: {exact} static processes equal byte for byte; {listed} processes with VMAs listed");
        assert!(
            exact >= 11,
            "{name}: expected init and ten workloads, compared {exact}"
        );
        total_exact += exact;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total_exact > 0);
}
