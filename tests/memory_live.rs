//! Live mode: `read` run as root inside each fixture guest must find the workload
//! markers through /proc/kcore and the process's page tables. (`ps`, `vmas` and
//! `check` live are in live_guest.rs.) The guest has no vmlinux: the kernel's own
//! BTF and /proc/kallsyms serve.

mod common;

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
        let (addr, len) = (
            format!("{:#x}", m.start),
            (m.marker_pages * 4096).to_string(),
        );
        let run = common::run_in_guest(
            kernel,
            &bin,
            &["read", "--comm", &perms.comm, &addr, &len],
            false,
        );
        assert_eq!(run.status, 0, "{kernel}: live read failed: {}", run.stderr);
        let pid = run.workloads().role("perms").pid;
        let lines: Vec<&str> = run.stdout.lines().collect();
        for page in 0..m.marker_pages {
            let line = lines[(page * 256) as usize];
            let text: String = lines[(page * 256) as usize..(page * 256 + 3) as usize]
                .iter()
                .filter_map(|l| l.split('|').nth(1))
                .collect();
            let want = common::marker(pid, m.start + page * 4096);
            assert!(
                text.starts_with(&want),
                "{kernel}: page {page} at {line}: want {want:?}, got {text:?}"
            );
        }
    }
}
