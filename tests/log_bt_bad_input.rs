//! Corrupt input: a copy of the 6.1 ELF dump with one printk text block claimed by the
//! wrong descriptor id and one task's saved stack pointer outside its stack. Each must
//! be reported once with its address while everything else still equals drgn's view of
//! the intact dump (drgn-crash/).

mod common;

use serde_json::Value as J;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

/// File offset of physical address `pa` in an ELF core (its PT_LOADs).
fn elf_offset(file: &[u8], pa: u64) -> u64 {
    let u16_at = |o: usize| u16::from_le_bytes(file[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(file[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (offset, paddr, filesz) = (u64_at(ph + 8), u64_at(ph + 24), u64_at(ph + 32));
        if file[ph] == 1 && pa >= paddr && pa < paddr + filesz {
            return offset + (pa - paddr);
        }
    }
    panic!("physical {pa:#x} not in the dump");
}

fn run(args: &[&str]) -> (String, String) {
    let (code, out, err) = common::run_vmscope(args, TIMEOUT);
    assert_eq!(code, 0, "vmscope {args:?}: {err}");
    (out, err)
}

fn hex(v: &J) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn a_bad_record_and_a_bad_stack_pointer_are_named_and_the_rest_printed() {
    let d = common::dump("6.1");
    let orig = d.file(common::DumpFormat::Elf);
    let vmlinux = d.vmlinux.to_str().unwrap().to_string();
    let (o, v) = (orig.to_str().unwrap(), vmlinux.as_str());
    let info: J =
        serde_json::from_str(&run(&["info", "--json", "--core", o, "--vmlinux", v]).0).unwrap();
    let pob = hex(&info["page_offset_base"]);
    let pid = d.workloads().role("perms").pid.to_string();
    let show: J = serde_json::from_str(
        &run(&[
            "show",
            "task_struct",
            "--pid",
            &pid,
            "thread.sp",
            "--json",
            "--core",
            o,
            "--vmlinux",
            v,
        ])
        .0,
    )
    .unwrap();
    let sp_pa = hex(&show["address"]) - pob;

    let f = std::fs::File::open(&orig).unwrap();
    // SAFETY: read-only map of a fixture file nobody writes.
    let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    let sp_off = elf_offset(&map, sp_pa);
    // The "Command line:" record's text exists once in memory: only printk composed it.
    let needle = b"Command line: console=";
    let hits: Vec<usize> = map
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "the record text must be unique in the dump");
    let owner_off = hits[0] as u64 - 8;

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.core");
    std::fs::copy(&orig, &bad).unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&bad).unwrap();
    let patch = |w: &mut std::fs::File, off: u64, bytes: &[u8]| {
        w.seek(SeekFrom::Start(off)).unwrap();
        w.write_all(bytes).unwrap();
    };
    let owner = u64::from_le_bytes(
        map[owner_off as usize..owner_off as usize + 8]
            .try_into()
            .unwrap(),
    );
    patch(&mut w, owner_off, &(owner ^ 0x5a5a).to_le_bytes());
    patch(&mut w, sp_off, &0x1000u64.to_le_bytes());
    drop(w);
    let b = bad.to_str().unwrap();
    check_log(&d.dir, b, v);
    check_bt(&d.dir, b, v, &pid);
}

fn check_log(dir: &Path, core: &str, vmlinux: &str) {
    let drgn: Vec<J> = common::read_json(&dir.join("drgn-crash/log.json"));
    let (out, err) = run(&["log", "--json", "--core", core, "--vmlinux", vmlinux]);
    let ours: Vec<J> = serde_json::from_str(&out).unwrap();
    assert_eq!(ours.len(), drgn.len());
    let marked: Vec<&J> = ours.iter().filter(|r| !r["error"].is_null()).collect();
    assert_eq!(marked.len(), 1, "{err}");
    let seq = marked[0]["seq"].as_u64().unwrap();
    let d = drgn.iter().find(|r| r["seq"] == seq).unwrap();
    assert!(
        d["text"].as_str().unwrap().starts_with("Command line: "),
        "{d}"
    );
    assert!(marked[0]["error"]
        .as_str()
        .unwrap()
        .contains("belongs to id"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("printk record seq {seq}: text block at 0x")),
        "{err}"
    );
    for (o, d) in ours.iter().zip(&drgn).filter(|(o, _)| o["error"].is_null()) {
        assert_eq!(o["text"], d["text"]);
    }
    let (text, _) = run(&["log", "--core", core, "--vmlinux", vmlinux]);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("<unreadable record: "))
            .count(),
        1
    );
}

fn check_bt(dir: &Path, core: &str, vmlinux: &str, pid: &str) {
    let drgn: Vec<J> = common::read_json(&dir.join("drgn-crash/bt.json"));
    let (out, err) = run(&[
        "bt",
        "--all",
        "--json",
        "--core",
        core,
        "--vmlinux",
        vmlinux,
    ]);
    let ours: Vec<J> = serde_json::from_str(&out).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("pid {pid} "))
            && err.contains("saved stack pointer 0x1000 outside the task's stack 0x"),
        "{err}"
    );
    for d in &drgn {
        let o = ours.iter().find(|t| t["task"] == d["task"]).unwrap();
        if o["pid"].as_i64().map(|p| p.to_string()).as_deref() == Some(pid) {
            assert!(o["frames"].as_array().unwrap().is_empty() && !o["error"].is_null());
            continue;
        }
        let want: Vec<&J> = d["frames"]
            .as_array()
            .unwrap()
            .iter()
            .take_while(|f| f["user"] == false)
            .filter(|f| f["inline"] == false)
            .map(|f| &f["symbol"])
            .collect();
        let got: Vec<&J> = o["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| &f["function"])
            .collect();
        assert_eq!(got, want, "pid {}", d["pid"]);
    }
}
