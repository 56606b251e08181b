//! A compressed `.debug_info` is inflated on a thread of its own while the reader follows it:
//! when that thread fails (corrupt data, a stream shorter than its header declares), `layout`
//! stops promptly with a one-line error naming the section, never waits forever or panics.
//! (That compressed builds print what pahole prints is `layout_userspace`'s job.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use object::{Object, ObjectSection};

/// Where the compressed bytes of `.debug_info` lie in the file (past its Elf64_Chdr).
fn compressed_info(bytes: &[u8]) -> (usize, usize) {
    let f = object::File::parse(bytes).expect("elf");
    let s = f.section_by_name(".debug_info").expect(".debug_info");
    let c = s.compressed_file_range().expect("compressed range");
    assert_ne!(c.format, object::CompressionFormat::None, "not compressed");
    (c.offset as usize, c.compressed_size as usize)
}

/// `vmscope layout --vmlinux path`: exit code and stderr, failing the test after 60 s.
fn layout(path: &Path, cache: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["layout", "--vmlinux"])
        .arg(path)
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vmscope");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).expect("stderr");
            }
            return (status.code(), err);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "{}: layout still running after 60 s (a hang)",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An error exit: neither success nor a panic (101) nor a signal.
fn failed(code: Option<i32>) -> bool {
    matches!(code, Some(c) if c != 0 && c != 101)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = common::fixtures_root().join("userspace").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; {}", path.display(), common::BUILD_HINT))
}

#[test]
fn corrupt_zlib_debug_info_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = fixture("lua.gcc.dwarf5.zlib.so");
    let (off, len) = compressed_info(&good);
    // early, middle and late in the stream: before the first unit, while the index scan
    // follows the inflating thread, and at its very end (the checksum)
    for (i, at) in [64, len / 2, len - 3].into_iter().enumerate() {
        let mut bad = good.clone();
        for b in &mut bad[off + at..(off + at + 16).min(off + len)] {
            *b ^= 0x5a;
        }
        let path = dir.path().join(format!("corrupt-{i}.so"));
        std::fs::write(&path, &bad).expect("write");
        let (code, err) = layout(&path, &dir.path().join("xdg"));
        assert!(failed(code), "{}: exit {code:?} {err}", path.display());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(".debug_info"), "{err}");
    }
}

#[test]
fn a_stream_shorter_than_its_header_declares_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["lua.gcc.dwarf5.zlib.so", "lua.gcc.dwarf5.zstd.so"] {
        let mut bad = fixture(name);
        let (off, _) = compressed_info(&bad);
        // Elf64_Chdr: ch_type, ch_reserved, then ch_size (8 bytes), just before the data
        let size_at = off - 16;
        let size = u64::from_le_bytes(bad[size_at..size_at + 8].try_into().expect("8 bytes"));
        bad[size_at..size_at + 8].copy_from_slice(&(size + 0x10_0000).to_le_bytes());
        let path = dir.path().join(format!("long-{name}"));
        std::fs::write(&path, &bad).expect("write");
        let (code, err) = layout(&path, &dir.path().join("xdg"));
        assert!(failed(code), "{name}: exit {code:?} {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("compressed section .debug_info") && err.contains("declares"),
            "{name}: {err}"
        );
    }
}
