use super::*;
use crate::kernel::dpath::PathResolver;
use crate::kernel::vma_layout::VmaLayout;
use crate::trees::list::ListOffsets;
use crate::trees::rbtree::{RbOffsets, RbVmaOffsets};
use crate::trees::sparse::SparseMemory;

/// Parse a maps line the kernel wrote into the fields a VMA would hold.
fn parse(line: &str) -> VmaInfo {
    let mut it = line.splitn(6, ' ');
    let range = it.next().unwrap();
    let perms = it.next().unwrap().as_bytes();
    let off = u64::from_str_radix(it.next().unwrap(), 16).unwrap();
    let dev = it.next().unwrap();
    let ino: u64 = it.next().unwrap().parse().unwrap();
    let rest = it.next().unwrap_or("");
    let name = rest.trim_start_matches(' ');
    let (s, e) = range.split_once('-').unwrap();
    let (ma, mi) = dev.split_once(':').unwrap();
    let dev = (u64::from_str_radix(ma, 16).unwrap() << 20) | u64::from_str_radix(mi, 16).unwrap();
    let mut flags = 0;
    for (c, f) in [
        (b'r', VM_READ),
        (b'w', VM_WRITE),
        (b'x', VM_EXEC),
        (b's', VM_MAYSHARE),
    ] {
        if perms.contains(&c) {
            flags |= f;
        }
    }
    let file = name.starts_with('/') || ino != 0;
    VmaInfo {
        vma: 0,
        start: u64::from_str_radix(s, 16).unwrap(),
        end: u64::from_str_radix(e, 16).unwrap(),
        flags,
        pgoff: off >> 12,
        file: file as u64,
        mm: 1,
        dev,
        inode: ino,
        name: (!name.is_empty()).then(|| name.as_bytes().to_vec()),
        name_source: NameSource::None,
    }
}

/// The host kernel's own /proc/self/maps is the oracle for columns and padding.
#[test]
fn render_matches_host_proc_maps() {
    let text = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let mut n = 0;
    for line in text.lines() {
        let mut out = Vec::new();
        parse(line).write_maps_line(&mut out);
        assert_eq!(String::from_utf8_lossy(&out), format!("{line}\n"));
        n += 1;
    }
    assert!(n > 5);
}

#[test]
fn long_prefix_gets_single_space() {
    let v = VmaInfo {
        vma: 0,
        start: 0xffff_ffff_ff60_0000,
        end: 0xffff_ffff_ff60_1000,
        flags: VM_EXEC,
        pgoff: 0x1_2345_6789,
        file: 1,
        mm: 0,
        dev: (0x103 << 20) | 0x12345,
        inode: 123_456_789_012,
        name: Some(b"/x".to_vec()),
        name_source: NameSource::File,
    };
    let mut out = Vec::new();
    v.write_maps_line(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        // show_vma_header_prefix ends with a space and seq_pad adds one more.
        "ffffffffff600000-ffffffffff601000 --xp 123456789000 103:12345 123456789012  /x\n"
    );
}

// ---- d_path on a synthetic dentry/mount graph (invented offsets) ----

fn layout() -> VmaLayout {
    VmaLayout {
        tree: VmaTreeLayout::RbTree {
            mm_rb: 8,
            mmap: 0,
            rb: RbOffsets {
                rb_parent_color: 0,
                rb_right: 8,
                rb_left: 16,
            },
            vma: RbVmaOffsets {
                vm_rb: 32,
                vm_start: 0,
                vm_end: 8,
                rb_subtree_gap: Some(56),
            },
            list: ListOffsets {
                next: 16,
                prev: 24,
                range: Some((0, 8)),
            },
        },
        mm_map_count: 0x70,
        mm_start_brk: 0x120,
        mm_brk: 0x128,
        mm_start_stack: 0x130,
        mm_highest_vm_end: None,
        mm_context_flags: None,
        vma_size: 200,
        vm_start: 0,
        vm_end: 8,
        vm_mm: 64,
        vm_flags: 80,
        vm_pgoff: 152,
        vm_file: 160,
        vm_ops: 144,
        vm_private_data: 168,
        vm_anon_name: None,
        anon_vma_name_name: None,
        anon_name_separate: false,
        f_path_mnt: 16,
        f_path_dentry: 24,
        f_inode: 32,
        i_sb: 40,
        i_ino: 64,
        s_dev: 16,
        d_parent: 24,
        d_name_len: 36,
        d_name_name: 40,
        d_hash_pprev: 16,
        d_op: 96,
        d_inode: 48,
        d_dname: 8,
        mount_mnt: 32,
        mnt_parent: 16,
        mnt_mountpoint: 24,
        mnt_root: 0,
        vm_ops_name: 120,
        special_mapping_name: 0,
        fs_root_mnt: 0x18,
        fs_root_dentry: 0x20,
        task_fs: 0,
        vmacache: None,
        writer_seq: None,
    }
}

struct Fs {
    m: SparseMemory,
    next: u64,
}

impl Fs {
    fn dentry(&mut self, parent: Option<u64>, name: &str, hashed: bool) -> u64 {
        let d = self.next;
        self.next += 0x200;
        let nm = d + 0x100;
        self.m.write(d, &[0u8; 0x100]);
        self.m.write(nm, name.as_bytes());
        self.m.write_u64(d + 24, parent.unwrap_or(d));
        self.m.write(d + 36, &(name.len() as u32).to_le_bytes());
        self.m.write_u64(d + 40, nm);
        self.m
            .write_u64(d + 16, if hashed { 0xffff_8880_dead_0000 } else { 0 });
        d
    }
    /// Returns the vfsmount address (inside struct mount at +32).
    fn mount(&mut self, parent_mount: Option<u64>, mountpoint: u64, root: u64) -> u64 {
        let mnt = self.next;
        self.next += 0x200;
        self.m.write(mnt, &[0u8; 0x100]);
        self.m.write_u64(mnt + 16, parent_mount.unwrap_or(mnt));
        self.m.write_u64(mnt + 24, mountpoint);
        self.m.write_u64(mnt + 32, root);
        mnt + 32
    }
}

#[test]
fn d_path_crosses_mounts_and_marks_deleted() {
    let mut fs = Fs {
        m: SparseMemory::new(),
        next: 0xffff_8880_1000_0000,
    };
    let root = fs.dentry(None, "/", true);
    let usr = fs.dentry(Some(root), "usr", true);
    let rootmnt = fs.mount(None, root, root);
    // A filesystem mounted on /usr with lib/libc.so.6 inside.
    let sroot = fs.dentry(None, "/", true);
    let lib = fs.dentry(Some(sroot), "lib", true);
    let libc = fs.dentry(Some(lib), "libc.so.6", true);
    let gone = fs.dentry(Some(lib), "old\nlib", false);
    let submnt = fs.mount(Some(rootmnt - 32), usr, sroot);
    // shm_mnt style internal mount: its own parent.
    let shroot = fs.dentry(None, "/", true);
    let zero = fs.dentry(Some(shroot), "dev/zero", false);
    let shm = fs.mount(None, shroot, shroot);
    let l = layout();
    let mut r = PathResolver::new(&fs.m, &l, (rootmnt, root), DnameSymbols::default());
    assert_eq!(r.d_path(submnt, libc).unwrap(), b"/usr/lib/libc.so.6");
    assert_eq!(
        r.d_path(submnt, gone).unwrap(),
        b"/usr/lib/old\nlib (deleted)"
    );
    assert_eq!(
        escape_newlines(&r.d_path(submnt, gone).unwrap()),
        b"/usr/lib/old\\012lib (deleted)"
    );
    assert_eq!(r.d_path(shm, zero).unwrap(), b"/dev/zero (deleted)");
    assert_eq!(r.d_path(rootmnt, root).unwrap(), b"/");
    // A dentry loop is an error, not a hang.
    fs.m.write_u64(lib + 24, libc);
    let mut r = PathResolver::new(&fs.m, &l, (rootmnt, root), DnameSymbols::default());
    assert!(matches!(
        r.d_path(submnt, libc),
        Err(crate::kernel::dpath::ReadFault::Corrupt { .. })
    ));
}
