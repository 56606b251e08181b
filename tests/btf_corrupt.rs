//! Corrupt BTF given to `vmscope layout --btf`: one clear error line naming the file,
//! exit status 2, no panic. The inputs are real BTF (pahole -J of a C fixture), damaged
//! in one place each; the record offsets to damage are found with vmscope's own parser.

mod common;

use common::pahole::{compile, encode_btf, vmscope_bin};
use std::path::{Path, PathBuf};
use std::process::Command;
use vmscope::debuginfo::btf::{Btf, BtfKind};

struct Base {
    _dir: tempfile::TempDir,
    raw: PathBuf,
    elf: PathBuf,
}

fn base() -> Base {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/btf/inferred.c");
    let obj = compile(&src, dir.path());
    let (raw, elf) = encode_btf(&obj);
    Base {
        _dir: dir,
        raw,
        elf,
    }
}

fn le32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset of the record of the first type named `name` of kind `kind`.
fn record_of(bytes: &[u8], name: &str, kind: BtfKind) -> (u32, usize) {
    let btf = Btf::from_bytes(bytes.to_vec()).expect("base BTF is valid");
    let id = btf
        .find_first_by_name(name, &[kind])
        .unwrap_or_else(|| panic!("no {kind:?} {name}"));
    (id, btf.type_by_id(id).expect("record").offset)
}

/// Run vmscope on `file`, expect exactly one error line containing every piece of `expect`.
fn expect_error(what: &str, file: &Path, name: &str, expect: &[&str]) {
    let out = Command::new(vmscope_bin())
        .args(["layout", "--btf"])
        .arg(file)
        .arg(name)
        .output()
        .expect("run vmscope");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: status {:?}, stderr {err}",
        out.status
    );
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(err.starts_with("vmscope: error: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "{what}: file not named: {err}"
    );
    for e in expect {
        assert!(err.contains(e), "{what}: expected {e:?} in: {err}");
    }
    assert!(
        out.stdout.is_empty(),
        "{what}: printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn truncated_btf() {
    let b = base();
    let bytes = std::fs::read(&b.raw).expect("read");
    let dir = b.raw.parent().expect("dir");
    for len in [0, 1, 3, 10, 23, 24, 40, bytes.len() / 2, bytes.len() - 1] {
        let f = write(dir, &format!("trunc-{len}.btf"), &bytes[..len]);
        let expect: &[&str] = if len < 2 { &["neither raw BTF"] } else { &[] };
        expect_error(&format!("truncated to {len}"), &f, "holds_packed", expect);
    }
}

#[test]
fn bad_magic_and_version() {
    let b = base();
    let dir = b.raw.parent().expect("dir");
    let mut bytes = std::fs::read(&b.raw).expect("read");
    bytes[0] = 0x00;
    expect_error(
        "bad magic",
        &write(dir, "magic.btf", &bytes),
        "gap8",
        &["neither raw BTF (magic 0xeb9f) nor an ELF"],
    );
    let mut bytes = std::fs::read(&b.raw).expect("read");
    bytes[2] = 7;
    expect_error(
        "bad version",
        &write(dir, "version.btf", &bytes),
        "gap8",
        &["BTF+0x2", "version 7"],
    );
    let mut bytes = std::fs::read(&b.raw).expect("read");
    le32(&mut bytes, 4, 0x1000_0000);
    expect_error(
        "bad hdr_len",
        &write(dir, "hdrlen.btf", &bytes),
        "gap8",
        &["hdr_len"],
    );
}

#[test]
fn string_offset_out_of_range() {
    let b = base();
    let mut bytes = std::fs::read(&b.raw).expect("read");
    let (_, off) = record_of(&bytes, "gap16", BtfKind::Struct);
    le32(&mut bytes, off, 0x00ff_ffff);
    let f = write(b.raw.parent().expect("dir"), "name.btf", &bytes);
    expect_error(
        "name offset",
        &f,
        "gap16",
        &[
            &format!("BTF+{off:#x}"),
            "name offset 0xffffff outside the string section",
        ],
    );
}

#[test]
fn type_id_out_of_range() {
    let b = base();
    let mut bytes = std::fs::read(&b.raw).expect("read");
    let (_, off) = record_of(&bytes, "gap16", BtfKind::Struct);
    le32(&mut bytes, off + 12 + 4, 999_999); // first member's type
    let f = write(b.raw.parent().expect("dir"), "typeid.btf", &bytes);
    expect_error(
        "type id",
        &f,
        "gap16",
        &[&format!("BTF+{off:#x}"), "refers to type id 999999"],
    );
}

#[test]
fn unknown_kind() {
    let b = base();
    let mut bytes = std::fs::read(&b.raw).expect("read");
    let (_, off) = record_of(&bytes, "gap8", BtfKind::Struct);
    bytes[off + 7] = 30; // kind bits of info
    let f = write(b.raw.parent().expect("dir"), "kind.btf", &bytes);
    expect_error("kind", &f, "gap8", &["unknown kind 30"]);
}

#[test]
fn typedef_cycle() {
    let b = base();
    let mut bytes = std::fs::read(&b.raw).expect("read");
    let (id, off) = record_of(&bytes, "with_empty_t", BtfKind::Typedef);
    le32(&mut bytes, off + 8, id); // typedef refers to itself
    let f = write(b.raw.parent().expect("dir"), "cycle.btf", &bytes);
    expect_error("typedef cycle", &f, "with_empty_t", &["reference cycle"]);
}

#[test]
fn struct_containing_itself() {
    let b = base();
    let mut bytes = std::fs::read(&b.raw).expect("read");
    let (id, off) = record_of(&bytes, "gap8", BtfKind::Struct);
    le32(&mut bytes, off + 12 + 12 + 4, id); // second member: the struct itself, by value
    let f = write(b.raw.parent().expect("dir"), "self.btf", &bytes);
    expect_error("struct in itself", &f, "gap8", &["reference cycle"]);
    // A struct embedding the broken one (struct arrays has gap8 nested[2][2]) fails too.
    expect_error("embedding it", &f, "arrays", &["reference cycle"]);
}

#[test]
fn corrupt_btf_inside_an_elf_names_the_section() {
    use object::{Object, ObjectSection};
    let b = base();
    let mut bytes = std::fs::read(&b.elf).expect("read");
    let start = {
        let elf = object::File::parse(&*bytes).expect("ELF");
        let (start, _) = elf
            .section_by_name(".BTF")
            .expect(".BTF")
            .file_range()
            .expect("range");
        start as usize
    };
    le32(&mut bytes, start + 20, 0x7fff_ffff); // str_len
    let f = write(b.elf.parent().expect("dir"), "bad-section.o", &bytes);
    expect_error(
        "ELF .BTF",
        &f,
        "gap8",
        &[
            &format!(".BTF section at file offset {start:#x}"),
            "string section",
        ],
    );
    // An ELF without .BTF at all.
    let plain = b.elf.with_extension("").with_extension("o");
    expect_error("no .BTF", &plain, "gap8", &["no .BTF section"]);
}

/// Random damage anywhere in real BTF: opening, listing, looking up and converting every
/// type returns errors or values, never panics or hangs.
#[test]
fn random_damage_never_panics() {
    use proptest::prelude::*;
    use vmscope::debuginfo::btf::BtfDb;
    use vmscope::types::model::{NameKind, TypeId, TypeSource};
    let b = base();
    let bytes = std::fs::read(&b.raw).expect("read");
    let n = bytes.len();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                proptest::collection::vec((0..n, any::<u8>()), 1..6),
                0..8usize,
            ),
            |(edits, cut)| {
                let mut damaged = bytes.clone();
                for (pos, byte) in edits {
                    damaged[pos] = byte;
                }
                damaged.truncate(n - cut);
                if let Ok(btf) = Btf::from_bytes(damaged) {
                    let db = BtfDb::new(btf, 64);
                    let _ = db.composites();
                    for name in ["gap8", "arrays", "with_empty_t", "wide", "bigger_than_line"] {
                        let _ = db.find(name, NameKind::Any);
                    }
                    for id in 0..db.btf().type_count() + 1 {
                        let _ = db.get(TypeId(id));
                    }
                }
                Ok(())
            },
        )
        .expect("no panic");
}

/// Run vmscope with its stdout counted (not kept) and stopped after `limit` bytes or
/// `secs` seconds: a printer whose output grows without end fails here instead of
/// filling memory. Returns (status, stdout bytes, stderr), status None if it was stopped.
fn run_bounded(args: &[&std::ffi::OsStr], limit: u64, secs: u64) -> (Option<i32>, u64, String) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(vmscope_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vmscope");
    let mut stdout = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || {
        let mut buf = [0u8; 1 << 16];
        let mut total = 0u64;
        while total <= limit {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
        total
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut printed = None;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st.code();
        }
        if printed.is_none() && counter.is_finished() {
            printed = Some(counter.join().expect("counter"));
        }
        // At end of output the child may still be exiting: only over the byte limit or
        // past the deadline is it stopped.
        let over_limit = printed.is_some_and(|p| p > limit);
        if Instant::now() > deadline || over_limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let printed = match printed {
        Some(p) => p,
        None => counter.join().expect("counter"),
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, printed, err)
}

/// One patched type id makes an anonymous struct hold two pointers to itself; the printer
/// expands a pointed-to anonymous struct in place, so each level doubles the text (issue
/// 15, item 2: the output grew until the process aborted at 4 GB). It must stop at once
/// with one error line naming the type.
#[test]
fn anonymous_struct_pointing_at_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("nest.c");
    std::fs::write(
        &src,
        "struct nest { struct { long *left; long *right; } pair; };\nstruct nest nest_var;\n",
    )
    .expect("write source");
    let (raw, _) = encode_btf(&compile(&src, dir.path()));
    let mut bytes = std::fs::read(&raw).expect("read");
    let btf = Btf::from_bytes(bytes.clone()).expect("base BTF is valid");
    let nest = btf
        .find_first_by_name("nest", &[BtfKind::Struct])
        .expect("struct nest");
    let pair = btf
        .type_by_id(nest)
        .expect("record")
        .members()
        .next()
        .expect("member pair")
        .type_id;
    let pointers: Vec<u32> = btf
        .type_by_id(pair)
        .expect("record")
        .members()
        .map(|m| m.type_id)
        .collect();
    assert_eq!(pointers.len(), 2);
    for p in pointers {
        let ptr = btf.type_by_id(p).expect("pointer record");
        assert_eq!(ptr.kind, BtfKind::Ptr);
        le32(&mut bytes, ptr.offset + 8, pair); // long * becomes a pointer to the anonymous struct
    }
    let f = write(dir.path(), "nest-cycle.btf", &bytes);
    let file = f.as_os_str();
    for extra in [&["nest"][..], &["nest", "-E"], &["nest", "--hex"], &[]] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["layout".as_ref(), "--btf".as_ref(), file];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        let what = format!("layout {extra:?}");
        let (status, printed, err) = run_bounded(&args, 1 << 20, 30);
        assert_eq!(
            status,
            Some(2),
            "{what}: stopped after {printed} bytes; stderr {err}"
        );
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("vmscope: error: "), "{what}: {err}");
        assert!(err.contains("struct nest"), "{what}: type not named: {err}");
        assert!(err.contains("inside itself"), "{what}: {err}");
        assert!(
            err.contains(&f.display().to_string()),
            "{what}: file not named: {err}"
        );
        assert_eq!(
            printed, 0,
            "{what}: printed part of the type before the error"
        );
    }
    // The JSON names a pointer's target without expanding it: nothing to stop there.
    let args = [
        "layout".as_ref(),
        "--btf".as_ref(),
        file,
        "nest".as_ref(),
        "--json".as_ref(),
    ];
    let (status, printed, err) = run_bounded(&args, 1 << 20, 30);
    assert_eq!(status, Some(0), "--json: {printed} bytes, stderr {err}");
}
