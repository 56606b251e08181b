//! Bad input to the memory commands: one clear error line, exit status 2,
//! no panic, no hang (the runner kills vmscope after a deadline).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vmscope::rng::XorShift;

const TIMEOUT: Duration = Duration::from_secs(120);

fn dump_dir(name: &str) -> PathBuf {
    let d = common::fixtures_root().join("dumps").join(name);
    assert!(
        d.join("kdump-zlib.flat").exists() && d.join("elf.core").exists(),
        "fixture dump {} missing: run ./fixtures/build.sh",
        d.display()
    );
    d
}

fn vmscope(args: &[&str]) -> (i32, String, String) {
    common::run_vmscope(args, TIMEOUT)
}

/// Exit 2, exactly one stderr line containing every word of `expect`, no panic.
fn assert_clean_error(args: &[&str], expect: &[&str]) {
    let (code, _out, err) = vmscope(args);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(code, 2, "{args:?}: exit status; stderr: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: want one error line, got: {err}"
    );
    for e in expect {
        assert!(
            err.contains(e),
            "{args:?}: error should mention {e:?}: {err}"
        );
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn copy_prefix(src: &Path, dst: &Path, len: u64) {
    let mut f = std::fs::File::open(src).unwrap();
    let mut out = std::fs::File::create(dst).unwrap();
    std::io::copy(&mut std::io::Read::take(&mut f, len), &mut out).unwrap();
}

#[test]
fn truncated_dumps_are_refused() {
    let d = dump_dir("5.10");
    let tmp = tempfile::tempdir().unwrap();
    let vmlinux = s(&d.join("vmlinux"));
    let elf = tmp.path().join("elf.core");
    copy_prefix(&d.join("elf.core"), &elf, 32 << 20);
    assert_clean_error(
        &["ps", "--core", &s(&elf), "--vmlinux", &vmlinux],
        &["truncated"],
    );
    let flat_len = std::fs::metadata(d.join("kdump-zlib.flat")).unwrap().len();
    let flat = tmp.path().join("kdump.flat");
    copy_prefix(&d.join("kdump-zlib.flat"), &flat, flat_len / 2);
    assert_clean_error(
        &["ps", "--core", &s(&flat), "--vmlinux", &vmlinux],
        &["truncated"],
    );
    let raw = tmp.path().join("kdump-zstd");
    let raw_len = std::fs::metadata(d.join("kdump-zstd")).unwrap().len();
    copy_prefix(&d.join("kdump-zstd"), &raw, raw_len - 100_000);
    assert_clean_error(
        &["ps", "--core", &s(&raw), "--vmlinux", &vmlinux],
        &["truncated"],
    );
}

#[test]
fn zeroed_vmcoreinfo_is_refused() {
    let d = dump_dir("5.10");
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(d.join("kdump-zlib.flat")).unwrap();
    let needle = b"OSRELEASE=";
    let mut zeroed = 0;
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let start = i + pos;
        let end = start + bytes[start..].iter().position(|&b| b == 0).unwrap();
        bytes[start..end].fill(0);
        zeroed += 1;
        i = end;
    }
    assert!(zeroed > 0, "no VMCOREINFO text found in the dump");
    let path = tmp.path().join("kdump.flat");
    std::fs::write(&path, &bytes).unwrap();
    assert_clean_error(
        &[
            "ps",
            "--core",
            &s(&path),
            "--vmlinux",
            &s(&d.join("vmlinux")),
        ],
        &["VMCOREINFO"],
    );
}

#[test]
fn wrong_vmlinux_is_refused_with_both_releases() {
    let old = dump_dir("5.10");
    let new = dump_dir("6.1");
    let rel = |d: &Path| {
        std::fs::read_to_string(d.join("release"))
            .unwrap()
            .trim()
            .to_string()
    };
    let (r_old, r_new) = (rel(&old), rel(&new));
    assert_clean_error(
        &[
            "ps",
            "--core",
            &s(&old.join("kdump-zlib.flat")),
            "--vmlinux",
            &s(&new.join("vmlinux")),
        ],
        &["does not match", &r_old, &r_new],
    );
    assert_clean_error(
        &[
            "info",
            "--core",
            &s(&new.join("elf.core")),
            "--vmlinux",
            &s(&old.join("vmlinux")),
        ],
        &["does not match", &r_old, &r_new],
    );
}

#[test]
fn garbage_files_are_refused() {
    let d = dump_dir("5.10");
    let tmp = tempfile::tempdir().unwrap();
    let vmlinux = s(&d.join("vmlinux"));
    // xorshift noise, then the same noise behind each format's magic.
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let noise: Vec<u8> = (0..1 << 20).map(|_| rng.next_u64() as u8).collect();
    for (name, magic) in [
        ("noise", &b""[..]),
        ("elf", b"\x7fELF\x02\x01\x01"),
        ("kdump", b"KDUMP   "),
        ("flat", b"makedumpfile"),
    ] {
        let p = tmp.path().join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(magic).unwrap();
        f.write_all(&noise[magic.len()..]).unwrap();
        drop(f);
        assert_clean_error(&["ps", "--core", &s(&p), "--vmlinux", &vmlinux], &[&s(&p)]);
    }
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_error(
        &["info", "--core", &s(&empty), "--vmlinux", &vmlinux],
        &["not a vmcore"],
    );
    assert_clean_error(
        &[
            "info",
            "--core",
            &s(&tmp.path().join("absent")),
            "--vmlinux",
            &vmlinux,
        ],
        &["absent"],
    );
    // A garbage vmlinux.
    assert_clean_error(
        &[
            "info",
            "--core",
            &s(&d.join("kdump-zlib.flat")),
            "--vmlinux",
            &s(&tmp.path().join("noise")),
        ],
        &["noise"],
    );
}

#[test]
fn addresses_outside_the_dump_are_clean_errors() {
    let d = dump_dir("6.1");
    let (core, vmlinux) = (s(&d.join("kdump-zlib.flat")), s(&d.join("vmlinux")));
    let (code, out, err) = vmscope(&["info", "--json", "--core", &core, "--vmlinux", &vmlinux]);
    assert_eq!(code, 0, "{err}");
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pob = u64::from_str_radix(
        info["page_offset_base"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    // 1 TiB into the direct map: far beyond the guest's RAM.
    let far = format!("{:#x}", pob + (1u64 << 40));
    assert_clean_error(
        &[
            "show",
            "task_struct",
            &far,
            "--core",
            &core,
            "--vmlinux",
            &vmlinux,
        ],
        &["not in the dump", &far[2..]],
    );
    // A user address nobody mapped (page 0 of init).
    assert_clean_error(
        &[
            "read",
            "--pid",
            "1",
            "0x10",
            "16",
            "--core",
            &core,
            "--vmlinux",
            &vmlinux,
        ],
        &["not mapped"],
    );
    // A non-canonical address.
    assert_clean_error(
        &[
            "show",
            "task_struct",
            "0x8000000000000000",
            "--core",
            &core,
            "--vmlinux",
            &vmlinux,
        ],
        &["not mapped"],
    );
}

/// A dump of a machine vmscope cannot translate gets one line naming that machine; an
/// arm64 dump read with an x86-64 vmlinux is a mismatch, not a translation failure.
#[test]
fn unsupported_architecture_is_named() {
    let d = dump_dir("6.1");
    let tmp = tempfile::tempdir().unwrap();
    let arm32 = tmp.path().join("arm32.core");
    copy_prefix(&d.join("elf.core"), &arm32, 1 << 16);
    let mut bytes = std::fs::read(&arm32).unwrap();
    bytes[18..20].copy_from_slice(&40u16.to_le_bytes()); // e_machine: EM_ARM
    std::fs::write(&arm32, &bytes).unwrap();
    let vmlinux = s(&d.join("vmlinux"));
    assert_clean_error(
        &["info", "--core", &s(&arm32), "--vmlinux", &vmlinux],
        &["ELF machine 40", "ARM", "cannot be read"],
    );
    let arm64 = dump_dir("arm64-6.1");
    assert_clean_error(
        &[
            "ps",
            "--core",
            &s(&arm64.join("elf.core")),
            "--vmlinux",
            &vmlinux,
        ],
        &["does not match"],
    );
    // Stacks are unwound with x86-64 ORC only: an arm64 dump says so instead of guessing.
    assert_clean_error(
        &[
            "bt",
            "--core",
            &s(&arm64.join("elf.core")),
            "--vmlinux",
            &s(&arm64.join("vmlinux")),
            "1",
        ],
        &["x86-64", "aarch64"],
    );
}
