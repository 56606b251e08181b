//! `vmscope log` on every fixture dump and format. Oracles: drgn's printk records of
//! the same dump (drgn-crash/log.json, fixtures/crash_oracle.py) and, for the panic
//! dumps, the guest's own serial console (every message printed, ignore_loglevel).

mod common;

use serde::Deserialize;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct DrgnRecord {
    seq: u64,
    timestamp: u64,
    level: u64,
    facility: u64,
    text: String,
    context: BTreeMap<String, String>,
}

/// (name, dir, dump files) of every dump with a drgn-crash oracle: build.sh's in all
/// formats, the panic dumps in the two QEMU wrote.
fn crash_dumps() -> Vec<(String, PathBuf, Vec<PathBuf>)> {
    let mut out = Vec::new();
    for d in common::dumps() {
        let files = d.files().into_iter().map(|(_, p)| p).collect();
        out.push((d.name.clone(), d.dir.clone(), files));
    }
    for (series, _) in common::configured_kernels() {
        let dir = panic_dir(&series);
        let files = vec![dir.join("elf.core"), dir.join("kdump-zlib.flat")];
        out.push((format!("{series}-panic"), dir, files));
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

fn panic_dir(series: &str) -> PathBuf {
    let dir = common::fixtures_root()
        .join("dumps")
        .join(format!("{series}-panic"));
    assert!(
        dir.join(".stamp").is_file(),
        "panic dump {} missing: run ./fixtures/build-crash.sh",
        dir.display()
    );
    dir
}

fn vmscope_log(core: &Path, vmlinux: &Path, extra: &[&str]) -> String {
    let (out, err) = common::dump_runs::run_ok("log", core, vmlinux, extra, TIMEOUT);
    assert!(
        err.is_empty(),
        "{}: warnings on a sound dump: {err}",
        core.display()
    );
    out
}

#[test]
fn log_equals_drgn_records_on_every_dump_and_format() {
    for (name, dir, files) in crash_dumps() {
        let drgn: Vec<DrgnRecord> = common::read_json(&dir.join("drgn-crash/log.json"));
        assert!(
            drgn.len() > 100,
            "{name}: drgn found only {} records",
            drgn.len()
        );
        let vmlinux = dir.join("vmlinux");
        let mut first_text: Option<String> = None;
        for file in &files {
            let json = vmscope_log(file, &vmlinux, &["--json"]);
            let ours: Vec<J> = serde_json::from_str(&json).unwrap();
            assert_eq!(
                ours.len(),
                drgn.len(),
                "{name} {}: record count",
                file.display()
            );
            for (o, d) in ours.iter().zip(&drgn) {
                let at = format!("{name} {} seq {}", file.display(), d.seq);
                assert_eq!(o["seq"], d.seq, "{at}");
                assert_eq!(o["timestamp_ns"], d.timestamp, "{at}");
                assert_eq!(o["level"], d.level, "{at}");
                assert_eq!(o["facility"], d.facility, "{at}");
                assert_eq!(o["text"], d.text.as_str(), "{at}");
                assert_eq!(
                    o["subsystem"].as_str(),
                    d.context.get("SUBSYSTEM").map(|s| s.as_str()),
                    "{at}"
                );
                assert_eq!(
                    o["device"].as_str(),
                    d.context.get("DEVICE").map(|s| s.as_str()),
                    "{at}"
                );
                assert!(o["error"].is_null(), "{at}");
            }
            // Text output is the same whatever the format.
            let text = vmscope_log(file, &vmlinux, &[]);
            match &first_text {
                None => first_text = Some(text),
                Some(t) => assert_eq!(
                    &text,
                    t,
                    "{name} {}: text differs between formats",
                    file.display()
                ),
            }
        }
    }
}

/// The kernel printed every record on the serial console with the same prefix: our
/// text output must be exactly the console's kernel lines, the panic included.
#[test]
fn log_equals_the_console_of_the_panicked_guests() {
    for (series, _) in common::configured_kernels() {
        let dir = panic_dir(&series);
        let console = common::read_text(&dir.join("console.log")).replace('\r', "");
        let kernel_lines: Vec<&str> = console.lines().filter(|l| l.starts_with('[')).collect();
        assert!(
            kernel_lines
                .iter()
                .any(|l| l.contains("Kernel panic - not syncing: sysrq triggered crash")),
            "{series}-panic: the console has no panic message"
        );
        for file in ["elf.core", "kdump-zlib.flat"] {
            let ours = vmscope_log(&dir.join(file), &dir.join("vmlinux"), &[]);
            let ours: Vec<&str> = ours.lines().collect();
            assert_eq!(ours, kernel_lines, "{series}-panic {file}");
        }
    }
}

#[test]
fn level_and_since_filter_like_dmesg() {
    let dir = panic_dir(&common::configured_kernels()[0].0);
    let drgn: Vec<DrgnRecord> = common::read_json(&dir.join("drgn-crash/log.json"));
    let vmlinux = dir.join("vmlinux");
    let core = dir.join("elf.core");
    let json = vmscope_log(&core, &vmlinux, &["--json", "--level", "emerg,err"]);
    let ours: Vec<J> = serde_json::from_str(&json).unwrap();
    let want: Vec<u64> = drgn
        .iter()
        .filter(|r| r.level == 0 || r.level == 3)
        .map(|r| r.seq)
        .collect();
    let got: Vec<u64> = ours.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(got, want);
    assert!(ours
        .iter()
        .any(|r| r["text"].as_str().unwrap().starts_with("Kernel panic")));
    let mid = drgn[drgn.len() / 2].timestamp;
    let since = format!("{}.{:09}", mid / 1_000_000_000, mid % 1_000_000_000);
    let json = vmscope_log(&core, &vmlinux, &["--json", "--since", &since]);
    let ours: Vec<J> = serde_json::from_str(&json).unwrap();
    let want = drgn.iter().filter(|r| r.timestamp >= mid).count();
    assert_eq!(ours.len(), want);
}
