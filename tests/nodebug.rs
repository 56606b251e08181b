//! Dumps read without their vmlinux: symbols decoded from the dump's kallsyms tables
//! (6.x) or given with `--kallsyms` (5.10), types from the BTF in the dump's memory
//! or `--btf`. Oracles: the guest's /proc, the workloads' markers, pahole on the
//! vmlinux's .BTF, `nm` for the System.map; and the same commands with the DWARF vmlinux.
//! Runs with an empty HOME and no debug directories, so nothing else can be found.

mod common;

use common::DumpFixture;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIX: [&str; 2] = ["6.1", "6.1-la57"];
const FORMATS: [&str; 3] = ["elf.core", "kdump-zstd", "kdump-excluded"];

fn vmscope(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(args)
        .env("HOME", home.path())
        .env_remove("VMSCOPE_DEBUG_DIRS")
        .output()
        .expect("run vmscope")
}

fn ok(args: &[&str]) -> String {
    let out = vmscope(args);
    assert!(
        out.status.success(),
        "vmscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The one-line error of a failing run (exit 2).
fn fails(args: &[&str]) -> String {
    let out = vmscope(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "vmscope {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn every_memory_command_from_the_dump_alone() {
    for name in SIX {
        let d = common::dump(name);
        let proc = d.proc();
        for format in FORMATS {
            let core = d.dir.join(format);
            let core = s(&core);
            let vml = s(&d.vmlinux);
            let info = ok(&["info", "--core", core]);
            assert!(
                info.contains("types             dump memory: BTF ")
                    && info.contains("symbols           dump memory: "),
                "{info}"
            );
            assert_eq!(
                ok(&["ps", "--json", "--core", core]),
                ok(&["ps", "--json", "--core", core, "--vmlinux", vml]),
                "{name} {format}: ps --json"
            );
            let mut compared = 0;
            for pid in proc.pids() {
                let maps = proc.maps_text(pid);
                if maps.is_empty() {
                    continue;
                }
                let got = ok(&["vmas", "--core", core, &pid.to_string()]);
                assert_eq!(got, maps, "{name} {format}: vmas {pid} vs the guest's maps");
                compared += 1;
            }
            assert!(compared >= 10, "{name}: {compared} processes compared");
            let out = vmscope(&[
                "check",
                "--core",
                core,
                "--all",
                "--maps-dir",
                s(&d.proc_dir()),
            ]);
            assert_eq!(out.status.code(), Some(0), "{name} {format}: check");
            marker_read(&d, core);
        }
    }
}

/// `read` finds the workload's marker at the start of its marked page.
fn marker_read(d: &DumpFixture, core: &str) {
    let w = d.workloads();
    let p = w.role("perms");
    let m = p
        .mappings
        .iter()
        .find(|m| m.marker_pages > 0)
        .expect("a marked mapping");
    let want = common::marker(p.pid, m.start);
    let addr = format!("{:#x}", m.start);
    let len = want.len().to_string();
    let args = [
        "read",
        "--core",
        core,
        "--pid",
        &p.pid.to_string(),
        &addr,
        &len,
    ];
    let dump = ok(&args);
    let ascii: String = dump.lines().filter_map(|l| l.split('|').nth(1)).collect();
    assert_eq!(ascii, want, "{}: {dump}", d.name);
}

#[test]
fn layout_from_the_dump_is_pahole_on_the_vmlinux_btf() {
    for name in SIX {
        let d = common::dump(name);
        let core = d.dir.join("kdump-zstd");
        for t in [
            "task_struct",
            "mm_struct",
            "vm_area_struct",
            "maple_node",
            "page",
        ] {
            let pahole = Command::new("pahole")
                .args(["-F", "btf", "-C", t])
                .arg(&d.vmlinux)
                .output()
                .expect("pahole (Debian package dwarves) must be installed");
            assert!(pahole.status.success());
            let got = ok(&["layout", "--core", s(&core), t]);
            assert_eq!(got, String::from_utf8_lossy(&pahole.stdout), "{name}: {t}");
        }
    }
}

/// System.map as the kernel build writes it: `nm -n vmlinux`.
fn system_map(vmlinux: &Path, dir: &Path) -> PathBuf {
    let out = Command::new("nm")
        .arg("-n")
        .arg(vmlinux)
        .output()
        .expect("nm (binutils)");
    assert!(out.status.success());
    let p = dir.join("System.map");
    std::fs::write(&p, out.stdout).unwrap();
    p
}

fn btf_section(vmlinux: &Path, dir: &Path) -> PathBuf {
    let p = dir.join("vmlinux.btf");
    let st = Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.BTF"])
        .arg(vmlinux)
        .arg(&p)
        .status()
        .expect("objcopy (binutils)");
    assert!(st.success());
    p
}

#[test]
fn five_ten_with_a_system_map_and_btf() {
    let d = common::dump("5.10");
    let tmp = tempfile::tempdir().unwrap();
    let map = system_map(&d.vmlinux, tmp.path());
    let btf = btf_section(&d.vmlinux, tmp.path());
    let core = d.dir.join("kdump-zstd");
    let core = s(&core);
    let with_vmlinux = ok(&["ps", "--json", "--core", core, "--vmlinux", s(&d.vmlinux)]);
    // BTF from a file, then from the dump's memory.
    for extra in [&["--btf", s(&btf)][..], &[]] {
        let mut args = vec!["ps", "--json", "--core", core, "--kallsyms", s(&map)];
        args.extend_from_slice(extra);
        assert_eq!(ok(&args), with_vmlinux, "{extra:?}");
    }
    let pid = d.workloads().role("perms").pid;
    let got = ok(&[
        "vmas",
        "--core",
        core,
        "--kallsyms",
        s(&map),
        &pid.to_string(),
    ]);
    assert_eq!(got, d.proc().maps_text(pid));
    // Without symbols: the 5.10 VMCOREINFO has no kallsyms tables.
    let e = fails(&["ps", "--core", core]);
    assert!(
        e.contains("SYMBOL(kallsyms_names)") && e.contains("--kallsyms"),
        "{e}"
    );
}

#[test]
fn symbols_of_another_build_and_bad_btf_are_refused() {
    let six = common::dump("6.1");
    let five = common::dump("5.10");
    let tmp = tempfile::tempdir().unwrap();
    let map61 = system_map(&six.vmlinux, tmp.path());
    let core = five.dir.join("kdump-zstd");
    let e = fails(&["ps", "--core", s(&core), "--kallsyms", s(&map61)]);
    assert!(e.contains("symbols of another build"), "{e}");
    // A BTF range that does not parse: __start_BTF moved past the header's magic.
    let text = std::fs::read_to_string(&map61).unwrap();
    let moved: String = text
        .lines()
        .map(|l| match l.strip_suffix(" R __start_BTF") {
            Some(a) => {
                let a = u64::from_str_radix(a, 16).unwrap() + 8;
                format!("{a:016x} R __start_BTF\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(moved, text, "no __start_BTF in the System.map");
    let bad = tmp.path().join("moved.map");
    std::fs::write(&bad, moved).unwrap();
    let core6 = six.dir.join("kdump-zstd");
    let e = fails(&["ps", "--core", s(&core6), "--kallsyms", s(&bad)]);
    assert!(e.contains("kernel BTF in memory ["), "{e}");
}

/// A debug root laid out like a Debian system with the -dbg package unpacked.
fn debian_root(root: &Path, rel: &str, target: &Path) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

#[test]
fn the_vmlinux_is_found_by_build_id_and_a_wrong_build_is_skipped() {
    let six = common::dump("6.1");
    let five = common::dump("5.10");
    let core = six.dir.join("kdump-zstd");
    let tmp = tempfile::tempdir().unwrap();
    let (good, bad) = (tmp.path().join("good"), tmp.path().join("bad"));
    // The build-id the vmlinux itself carries (readelf is the oracle).
    let notes = Command::new("readelf")
        .arg("-n")
        .arg(&six.vmlinux)
        .output()
        .expect("readelf (binutils)");
    let notes = String::from_utf8_lossy(&notes.stdout);
    let id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("a build-id note")
        .trim()
        .to_string();
    let by_id = format!("usr/lib/debug/.build-id/{}/{}.debug", &id[..2], &id[2..]);
    debian_root(&good, &by_id, &six.vmlinux);
    // Same release name, another build.
    let wrong = format!("usr/lib/debug/boot/vmlinux-{}", six.release);
    debian_root(&bad, &wrong, &five.vmlinux);
    let info = ok(&[
        "info",
        "--core",
        s(&core),
        "--debug-dir",
        s(&bad),
        "--debug-dir",
        s(&good),
    ]);
    assert!(
        info.contains(&format!(
            "vmlinux           {}",
            good.join(&by_id).display()
        )),
        "{info}"
    );
    // Only the wrong build: skipped, named, and the dump's own BTF and kallsyms used.
    let out = vmscope(&["info", "--core", s(&core), "--debug-dir", s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("skipped {}", bad.join(&wrong).display()))
            && err.contains("another build"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("types             dump memory: BTF "));
    // VMSCOPE_DEBUG_DIRS is searched too.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["info", "--core", s(&core)])
        .env("HOME", home.path())
        .env(
            "VMSCOPE_DEBUG_DIRS",
            format!("/nonexistent:{}", good.display()),
        )
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&by_id));
}
