//! `vmscope modules` on every fixture dump against drgn's module helpers (name, address,
//! size; tests/drgn_modules.py), the modules the rig loaded (the kernel's modules/load-order),
//! and each module's BTF against the `.BTF` section of its .ko: the kernel keeps a copy.
//! On 6.x from the dump alone (no vmlinux reachable), on 5.10 with its vmlinux.

mod common;

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

#[derive(Deserialize, Debug)]
struct DrgnModule {
    name: String,
    address: u64,
    size: u64,
}

#[derive(Deserialize, Debug)]
struct Row {
    name: String,
    module: String,
    address: String,
    size: u64,
    btf_size: Option<u64>,
    taints: String,
}

fn drgn_modules(d: &common::DumpFixture) -> Vec<DrgnModule> {
    let python = common::fixtures_root().join("venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drgn_modules.py");
    let out = Command::new(python)
        .arg(script)
        .arg(d.dir.join("elf.core"))
        .arg(&d.vmlinux)
        .output()
        .expect("run drgn");
    assert!(
        out.status.success(),
        "drgn: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("drgn JSON")
}

/// The `.BTF` section of `ko`, as objcopy extracts it; None without one.
fn ko_btf(ko: &Path, tmp: &Path) -> Option<Vec<u8>> {
    let out = tmp.join(format!("{}.btf", ko.file_name()?.to_string_lossy()));
    let st = Command::new("objcopy")
        .arg(format!("--dump-section=.BTF={}", out.display()))
        .arg(ko)
        .arg(tmp.join("scratch.o"))
        .output()
        .expect("objcopy (binutils)");
    st.status
        .success()
        .then(|| std::fs::read(&out).ok())
        .flatten()
}

#[test]
fn modules_match_drgn_and_the_loaded_ko_files() {
    for d in common::dumps() {
        if d.name.ends_with("-panic") {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let core = d.dir.join("kdump-zstd");
        let saved = tmp.path().join("saved");
        std::fs::create_dir(&saved).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmscope"));
        cmd.args(["modules", "--json", "--core"])
            .arg(&core)
            .arg("--save-btf")
            .arg(&saved)
            .env("HOME", home.path())
            .env_remove("VMSCOPE_DEBUG_DIRS");
        let dump_only = !d.name.starts_with("5.10");
        if !dump_only {
            cmd.arg("--vmlinux").arg(&d.vmlinux);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            d.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<Row> = serde_json::from_slice(&out.stdout).unwrap();
        let want = drgn_modules(&d);
        let got: Vec<(String, u64, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    common::parse_hex(&r.address).unwrap(),
                    r.size,
                )
            })
            .collect();
        let want: Vec<(String, u64, u64)> = want
            .into_iter()
            .map(|m| (m.name, m.address, m.size))
            .collect();
        assert_eq!(got, want, "{}: modules vs drgn", d.name);
        // The rig loads exactly the modules of load-order.
        let kdir = d
            .vmlinux
            .canonicalize()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let order = common::read_text(&kdir.join("modules/load-order"));
        let mut loaded: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
        let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        loaded.sort();
        names.sort();
        assert_eq!(names, loaded, "{}", d.name);
        for r in &rows {
            assert_eq!(
                r.taints, "",
                "{}: {} (signed in-tree modules)",
                d.name, r.name
            );
            let ko = kdir.join(format!("modules/{}.ko", r.name));
            let section = ko_btf(&ko, tmp.path());
            assert_eq!(
                r.btf_size,
                section.as_ref().map(|b| b.len() as u64),
                "{}: {} BTF size vs {}",
                d.name,
                r.name,
                ko.display()
            );
            let saved_btf = std::fs::read(saved.join(format!("{}.btf", r.name))).ok();
            assert_eq!(saved_btf, section, "{}: {} BTF bytes", d.name, r.name);
        }
    }
}

/// `show --module`: a module's own struct from its BTF in the dump (6.1, dump only), laid out
/// as pahole lays it out from the .ko on the vmlinux's BTF; base types through the module's
/// BTF show as they do without it.
#[test]
fn show_reads_module_types_from_the_dump() {
    let d = common::dump("6.1");
    let home = tempfile::tempdir().unwrap();
    let core = d.dir.join("kdump-zstd");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(args)
            .arg("--core")
            .arg(&core)
            .env("HOME", home.path())
            .env_remove("VMSCOPE_DEBUG_DIRS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let rows: Vec<Row> = serde_json::from_str(&run(&["modules", "--json"])).unwrap();
    let m = rows
        .iter()
        .find(|r| r.name == "qemu_fw_cfg")
        .expect("qemu_fw_cfg loaded");
    let module_addr = m.module.clone();
    let with = run(&["show", "--module", "qemu_fw_cfg", "module", &module_addr]);
    let without = run(&["show", "module", &module_addr]);
    // --module also names pointers into the module (`<exit_fn [qemu_fw_cfg]>`); all else
    // is the same.
    let (stripped, named) = strip_module_names(&with, " [qemu_fw_cfg]>");
    assert!(named > 0, "no pointer named in the module:\n{with}");
    assert_eq!(stripped, without);

    let ko = d.vmlinux.parent().unwrap().join("modules/qemu_fw_cfg.ko");
    let pahole = Command::new("pahole")
        .args(["-F", "btf", "--btf_base"])
        .arg(&d.vmlinux)
        .args(["-C", "fw_cfg_sysfs_entry"])
        .arg(&ko)
        .output()
        .expect("pahole");
    let want = String::from_utf8(pahole.stdout).unwrap();
    assert!(want.contains("struct fw_cfg_sysfs_entry {"), "{want}");
    let shown = run(&[
        "show",
        "--module",
        "qemu_fw_cfg",
        "fw_cfg_sysfs_entry",
        &module_addr,
    ]);
    // Each of pahole's lines starts the matching line of `show` (which adds the value).
    let got: Vec<&str> = shown.lines().skip(1).collect();
    assert_eq!(got.len(), want.lines().count(), "{shown}");
    for (w, g) in want.lines().zip(&got) {
        assert!(g.starts_with(w), "pahole {w:?}\nshow   {g:?}");
    }
}

/// `text` without its ` <NAME [MODULE]>` annotations (`tail` is ` [MODULE]>`), and how many.
fn strip_module_names(text: &str, tail: &str) -> (String, usize) {
    let (mut out, mut rest, mut n) = (String::new(), text, 0);
    while let Some(end) = rest.find(tail) {
        let start = rest[..end].rfind(" <").expect("annotation opens with ' <'");
        out.push_str(&rest[..start]);
        rest = &rest[end + tail.len()..];
        n += 1;
    }
    out.push_str(rest);
    (out, n)
}
