//! Corrupt kallsyms tables in a dump read without its vmlinux: one error line naming the
//! tables, exit 2. A copy of the 6.1 ELF dump has its `kallsyms_token_table` (found through
//! VMCOREINFO, as vmscope finds it) overwritten.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

/// (file offset, physical address, size) of every PT_LOAD of an ELF64 little-endian core.
fn loads(path: &Path) -> Vec<(u64, u64, u64)> {
    let mut f = std::fs::File::open(path).unwrap();
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh).unwrap();
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(&eh, 32), u16_at(&eh, 54), u16_at(&eh, 56));
    let mut out = Vec::new();
    for i in 0..u64::from(phnum) {
        let mut ph = vec![0u8; phentsize as usize];
        f.seek(SeekFrom::Start(phoff + i * u64::from(phentsize)))
            .unwrap();
        f.read_exact(&mut ph).unwrap();
        if u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 1 {
            out.push((u64_at(&ph, 8), u64_at(&ph, 24), u64_at(&ph, 32)));
        }
    }
    out
}

#[test]
fn corrupt_kallsyms_tables_are_one_line_exit_2() {
    let d = common::dump("6.1");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("elf.core");
    let st = Command::new("cp")
        .args(["--reflink=auto", "--sparse=always"])
        .arg(d.dir.join("elf.core"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    let mut perm = std::fs::metadata(&copy).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&copy, perm).unwrap();

    let dump = vmscope::memory::dump::open(&copy.display().to_string()).unwrap();
    let info = dump.vmcoreinfo.as_ref().expect("VMCOREINFO");
    let va = info
        .symbol("kallsyms_token_table")
        .expect("SYMBOL(kallsyms_token_table)");
    // The kernel image is mapped at __START_KERNEL_map + phys_base.
    let pa = va - 0xffff_ffff_8000_0000 + info.phys_base().expect("phys_base");
    let (off, start, _) = loads(&copy)
        .into_iter()
        .find(|&(_, p, n)| pa >= p && pa + 256 <= p + n)
        .expect("token table in a PT_LOAD");
    drop(dump);
    let mut f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    f.seek(SeekFrom::Start(off + (pa - start))).unwrap();
    // Every token becomes "A": no symbol decodes as _stext any more.
    f.write_all(&b"A\0".repeat(128)).unwrap();
    drop(f);

    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["ps", "--core"])
        .arg(&copy)
        .env("HOME", home.path())
        .env_remove("VMSCOPE_DEBUG_DIRS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // What (the table) and where (the dump, the table's address).
    assert!(
        err.contains("kallsyms_") && err.contains(" at 0xffff"),
        "{err}"
    );
    assert!(err.contains(&copy.display().to_string()), "{err}");
}
