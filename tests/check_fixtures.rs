//! `vmscope check --all` on every fixture dump and format: exit 0, and the
//! processes and VMAs it checked are exactly those the guest's own /proc listed
//! (every process with a non-empty maps file, every maps line but [vsyscall]).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn dump_dir(name: &str) -> PathBuf {
    let d = common::fixtures_root().join("dumps").join(name);
    assert!(
        d.join("elf.core").exists() && d.join("proc").is_dir(),
        "fixture dump {} missing: run ./fixtures/build.sh",
        d.display()
    );
    d
}

fn check_dump(name: &str, format: &str) {
    let d = dump_dir(name);
    let core = d.join(format);
    assert!(
        core.exists(),
        "{} missing: run ./fixtures/build.sh",
        core.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .arg("check")
        .arg("--core")
        .arg(&core)
        .arg("--vmlinux")
        .arg(d.join("vmlinux"))
        .arg("--all")
        .arg("--maps-dir")
        .arg(d.join("proc"))
        .arg("--json")
        .output()
        .unwrap_or_else(|e| panic!("running vmscope: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{name}/{format}: bad JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings: Vec<String> = doc["processes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| f.to_string())
        .take(20)
        .collect();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}/{format}: findings {findings:#?}; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (procs, vmas) = common::guest_counts(&d.join("proc"));
    let t = &doc["totals"];
    assert_eq!(
        t["processes"].as_u64(),
        Some(procs),
        "{name}/{format}: processes"
    );
    assert_eq!(t["vmas"].as_u64(), Some(vmas), "{name}/{format}: VMAs");
    assert_eq!(t["findings"].as_u64(), Some(0));
    // find_vma at least at every vm_start, vm_end - 1 and vm_end.
    assert!(
        t["lookups"].as_u64().unwrap_or(0) >= 3 * vmas,
        "{name}/{format}: lookups {}",
        t["lookups"]
    );
    // Every process was compared with the maps file the guest wrote.
    for p in doc["processes"].as_array().into_iter().flatten() {
        let want = d.join("proc").join(p["pid"].to_string()).join("maps");
        assert_eq!(
            p["maps"].as_str(),
            Some(&*want.display().to_string()),
            "{name}/{format}: pid {}",
            p["pid"]
        );
        assert!(
            p["checks"]["maps"]["checked"].as_u64().unwrap_or(0) > 0,
            "{name}/{format}: pid {} maps not compared",
            p["pid"]
        );
    }
    println!(
        "{name}/{format}: {procs} processes, {vmas} VMAs, {} lookups",
        t["lookups"]
    );
}

macro_rules! dump_tests {
    ($($fn:ident: $name:expr, $format:expr;)*) => {
        $(#[test] fn $fn() { check_dump($name, $format); })*
    };
}

dump_tests! {
    check_5_10_elf: "5.10", "elf.core";
    check_5_10_kdump_zlib: "5.10", "kdump-zlib.flat";
    check_5_10_kdump_lzo: "5.10", "kdump-lzo";
    check_5_10_kdump_snappy: "5.10", "kdump-snappy";
    check_5_10_kdump_zstd: "5.10", "kdump-zstd";
    check_5_10_kdump_excluded: "5.10", "kdump-excluded";
    check_6_1_elf: "6.1", "elf.core";
    check_6_1_kdump_zlib: "6.1", "kdump-zlib.flat";
    check_6_1_kdump_lzo: "6.1", "kdump-lzo";
    check_6_1_kdump_snappy: "6.1", "kdump-snappy";
    check_6_1_kdump_zstd: "6.1", "kdump-zstd";
    check_6_1_kdump_excluded: "6.1", "kdump-excluded";
    check_6_1_la57_elf: "6.1-la57", "elf.core";
    check_6_1_la57_kdump_zlib: "6.1-la57", "kdump-zlib.flat";
    check_6_1_la57_kdump_zstd: "6.1-la57", "kdump-zstd";
    check_6_1_la57_kdump_excluded: "6.1-la57", "kdump-excluded";
}

// The clang-built kernel with named anonymous memory (fixtures/source-kernels.conf).
dump_tests! {
    check_6_12_clang_elf: "6.12-clang", "elf.core";
    check_6_12_clang_kdump_zlib: "6.12-clang", "kdump-zlib.flat";
    check_6_12_clang_kdump_lzo: "6.12-clang", "kdump-lzo";
    check_6_12_clang_kdump_snappy: "6.12-clang", "kdump-snappy";
    check_6_12_clang_kdump_zstd: "6.12-clang", "kdump-zstd";
    check_6_12_clang_kdump_excluded: "6.12-clang", "kdump-excluded";
}

// The arm64 dump read on this x86-64 host (fixtures/build-arm64.sh).
dump_tests! {
    check_arm64_6_1_elf: "arm64-6.1", "elf.core";
    check_arm64_6_1_kdump_zlib: "arm64-6.1", "kdump-zlib.flat";
    check_arm64_6_1_kdump_lzo: "arm64-6.1", "kdump-lzo";
    check_arm64_6_1_kdump_snappy: "arm64-6.1", "kdump-snappy";
    check_arm64_6_1_kdump_zstd: "arm64-6.1", "kdump-zstd";
    check_arm64_6_1_kdump_excluded: "arm64-6.1", "kdump-excluded";
}
