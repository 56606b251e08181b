//! `vmscope check --all` live: a static vmscope runs as root inside a fixture guest
//! (fixtures/run-in-guest.sh) against /proc/kcore and the guest's own /proc (types
//! from the kernel's BTF, symbols from /proc/kallsyms: no vmlinux in the guest). It
//! must exit 0, and the processes and VMAs it checked must be those of the
//! guest's /proc captured just before it started (tests/live_guest.rs checks the
//! exit status too; this test checks what was covered).

mod common;

use std::path::Path;
use std::process::Command;

fn check_live(kernel: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run-in-guest.sh");
    assert!(
        common::fixtures_root().join("guest-bin/init").exists(),
        "guest programs missing under {}: run ./fixtures/build.sh",
        common::fixtures_root().display()
    );
    let bin = common::static_vmscope();
    let out_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(&script)
        .arg("--proc-out")
        .arg(out_dir.path())
        .arg(kernel)
        .arg(&bin)
        .args(["check", "--all", "--json"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{kernel}: bad JSON ({e}); status {:?}; stderr: {stderr}",
            out.status.code()
        )
    });
    assert_eq!(out.status.code(), Some(0), "{kernel}: {doc:#}\n{stderr}");
    let (procs, vmas) = common::guest_counts(&out_dir.path().join("proc"));
    let t = &doc["totals"];
    assert_eq!(
        t["processes"].as_u64(),
        Some(procs),
        "{kernel}: processes ({stderr})"
    );
    assert_eq!(t["vmas"].as_u64(), Some(vmas), "{kernel}: VMAs");
    for p in doc["processes"].as_array().into_iter().flatten() {
        assert_eq!(
            p["maps"].as_str(),
            Some(&*format!("/proc/{}/maps", p["pid"])),
            "{kernel}: pid {}",
            p["pid"]
        );
    }
    println!(
        "{kernel} live: {procs} processes, {vmas} VMAs, {} lookups",
        t["lookups"]
    );
}

#[test]
fn check_live_6_1() {
    check_live("6.1");
}

#[test]
fn check_live_5_10() {
    check_live("5.10");
}

/// The clang-built 6.12 (its BTF and kallsyms; named anonymous mappings in the workloads).
#[test]
fn check_live_6_12_clang() {
    check_live("6.12-clang");
}
