//! Shared by the targets: a dump file made of the fuzz input, and a memory image
//! whose pointer-looking words are folded back into the image so walks go deep.

use vmscope::memory::PhysMemory;
use vmscope::trees::sparse::SparseMemory;

/// Where the synthetic image sits in kernel virtual memory.
pub const BASE: u64 = 0xffff_8880_0000_0000;

/// Open `bytes` as a dump file and read a few pages of it; errors are fine,
/// panics, hangs and huge allocations are the bugs.
pub fn open_dump(bytes: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("core");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(dump) = vmscope::memory::dump::open(&path.display().to_string()) else {
        return;
    };
    let mut page = vec![0u8; 4096];
    for paddr in [0u64, 0x1000, 0x10_0000, 0x100_0000, 0x1_0000_0000] {
        let _ = dump.phys.read_phys(paddr, &mut page);
    }
}

/// The input as kernel memory at `BASE`: every word with its top bit set becomes
/// a pointer into the image (its low byte kept: maple node types, rb colours).
pub fn image(bytes: &[u8]) -> SparseMemory {
    let mut mem = SparseMemory::new();
    let len = (bytes.len() as u64).max(8);
    for (i, w) in bytes.chunks(8).enumerate() {
        let mut b = [0u8; 8];
        b[..w.len()].copy_from_slice(w);
        let mut v = u64::from_le_bytes(b);
        if v >> 63 == 1 {
            v = BASE + (((v >> 8) % len) & !0xff) + (v & 0xff);
        }
        mem.write_u64(BASE + 8 * i as u64, v);
    }
    mem
}
