//! The body of every fuzz target, one function per target, with no libfuzzer dependency:
//! the targets call them, and so does the stable test `tests/fuzz_regressions.rs`, which
//! replays the kept crash inputs (fuzz/regressions/TARGET/*) through the same entry points.
//! Each must return (errors are fine) without a panic, a hang or a huge allocation.
#![allow(dead_code)]

use vmscope::debuginfo::btf::Btf;
use vmscope::trees::sparse::SparseMemory;
use vmscope::trees::{maple, rbtree, WalkLimits};

/// Where the synthetic image sits in kernel virtual memory.
pub const BASE: u64 = 0xffff_8880_0000_0000;

/// A target's body: one input, any result but a panic, a hang or a huge allocation.
pub type Target = fn(&[u8]);

/// Every target by name, as `scripts/fuzz.sh` and the fuzz crate's Cargo.toml name them.
pub const TARGETS: [(&str, Target); 7] = [
    ("btf", btf),
    ("elf_core", elf_core),
    ("index_cache", index_cache),
    ("kdump", kdump),
    ("maple_nodes", maple_nodes),
    ("rb_nodes", rb_nodes),
    ("vmcoreinfo", vmcoreinfo),
];

/// BTF: header, type section, strings, and the lookups the layout printer makes.
pub fn btf(data: &[u8]) {
    let Ok(btf) = Btf::from_bytes(data.to_vec()) else {
        return;
    };
    let ids: Vec<(u32, u32)> = btf
        .types()
        .take(10_000)
        .filter_map(Result::ok)
        .map(|t| (t.id, t.name_off))
        .collect();
    for (id, name_off) in ids {
        let _ = btf.name(name_off);
        let _ = btf.kind_of(id);
        let _ = btf.type_size(id);
        let _ = btf.strip_typedefs_and_modifiers(id);
    }
    let _ = btf.find_first_by_name("task_struct", &[]);
}

/// ELF cores: headers, program headers, notes (VMCOREINFO among them), PT_LOAD reads.
pub fn elf_core(data: &[u8]) {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend_from_slice(data);
    open_dump(&bytes);
}

/// kdump-compressed dumps: disk_dump_header, sub-header, bitmaps, page descriptors
/// and page payloads of every compression.
pub fn kdump(data: &[u8]) {
    let mut bytes = b"KDUMP   ".to_vec();
    bytes.extend_from_slice(data);
    open_dump(&bytes);
}

/// The on-disk DWARF name index cache: header, key, checksum, payload tables.
pub fn index_cache(data: &[u8]) {
    let (len, rest) = data.split_at(data.len().min(8));
    let mut b = [0u8; 8];
    b[..len.len()].copy_from_slice(len);
    let info_len = u64::from_le_bytes(b);
    if let Some(ix) = vmscope::debuginfo::decode_cache(rest, b"fuzz", info_len) {
        let _ = ix.composites_in_order();
        let _ = ix.all_names().count();
    }
}

/// Maple tree node decoding: a `struct maple_tree` at the image's start, nodes anywhere in it.
pub fn maple_nodes(data: &[u8]) {
    let mem = image(data);
    let o = maple::MapleOffsets::x86_64_6_1();
    if let Ok(snap) = maple::walk(&mem, BASE, &o, WalkLimits::default()) {
        let _ = snap.summary();
        let _ = snap.user_entries().count();
    }
}

/// rb-tree node decoding (and the VMA list beside it): the root pointer at the
/// image's start, nodes anywhere in it.
pub fn rb_nodes(data: &[u8]) {
    let mem = image(data);
    let vma = rbtree::RbVmaOffsets {
        vm_rb: 56,
        vm_start: 0,
        vm_end: 8,
        rb_subtree_gap: Some(24),
    };
    let o = rbtree::RbOffsets::x86_64();
    let _ = rbtree::walk(&mem, BASE, &o, Some(&vma), WalkLimits::default());
    let _ = rbtree::walk(&mem, BASE, &o, None, WalkLimits::default());
}

/// VMCOREINFO text, and every accessor over it.
pub fn vmcoreinfo(data: &[u8]) {
    use vmscope::memory::vmcoreinfo::{parse_sys_vmcoreinfo, VmcoreInfo};
    if let Ok(info) = VmcoreInfo::parse(data) {
        let _ = (info.osrelease(), info.build_id(), info.page_size());
        let _ = (
            info.kernel_offset(),
            info.phys_base(),
            info.pgtable_l5_enabled(),
        );
        let _ = (
            info.symbol("init_task"),
            info.number("NUMBER(pgtable_l5_enabled)"),
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_sys_vmcoreinfo(text);
    }
}

/// Open `bytes` as a dump file and read a few pages of it.
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

/// The input as kernel memory at `BASE`: every word with its top bit set becomes a pointer
/// into the image (its low byte kept: maple node types, rb colours), so walks go deep.
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
