//! Member offsets needed to rebuild `/proc/PID/maps`, probed once from the type
//! model. Nothing here compares kernel versions: the presence of a member decides
//! the model (`mm_struct.mm_mt` → maple tree, v6.1 commit 763ecb035029; else
//! `mm_rb` + `mmap` list).

use super::offsets::{need, need_len, need_size, OffsetError, TypeLookup};
use super::snapshot::WriterSeq;
use crate::trees::list::ListOffsets;
use crate::trees::maple::MapleOffsets;
use crate::trees::rbtree::{RbOffsets, RbVmaOffsets};

/// Which structure holds the VMAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmaTreeLayout {
    /// 6.1+: `mm->mm_mt`.
    Maple { mm_mt: u64, maple: MapleOffsets },
    /// Before 6.1: `mm->mm_rb` and the `mm->mmap` list.
    RbTree {
        mm_rb: u64,
        mmap: u64,
        rb: RbOffsets,
        vma: RbVmaOffsets,
        list: ListOffsets,
    },
}

/// Per-thread VMA cache (`task_struct.vmacache`, removed in 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacacheLayout {
    pub task_vmacache: u64,
    pub seqnum: u64,
    pub vmas: u64,
    pub nvmas: u64,
    pub mm_seqnum: u64,
}

/// Every offset the VMA reader and renderer use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaLayout {
    pub tree: VmaTreeLayout,
    pub mm_map_count: u64,
    pub mm_start_brk: u64,
    pub mm_brk: u64,
    pub mm_start_stack: u64,
    /// `mm->highest_vm_end` (before 6.1), if present.
    pub mm_highest_vm_end: Option<u64>,
    /// `mm->context.flags` (x86 `MM_CONTEXT_HAS_VSYSCALL`), if present.
    pub mm_context_flags: Option<u64>,
    pub vma_size: u64,
    pub vm_start: u64,
    pub vm_end: u64,
    pub vm_mm: u64,
    pub vm_flags: u64,
    pub vm_pgoff: u64,
    pub vm_file: u64,
    pub vm_ops: u64,
    pub vm_private_data: u64,
    /// `vm_area_struct.anon_name` (5.17+), `None` before.
    pub vm_anon_name: Option<u64>,
    pub anon_vma_name_name: Option<u64>,
    /// `anon_name` is not in a union with `shared` (6.2+): names apply to
    /// shared anonymous (file-backed shmem) mappings too.
    pub anon_name_separate: bool,
    pub f_path_mnt: u64,
    pub f_path_dentry: u64,
    pub f_inode: u64,
    pub i_sb: u64,
    pub i_ino: u64,
    pub s_dev: u64,
    pub d_parent: u64,
    pub d_name_len: u64,
    pub d_name_name: u64,
    pub d_hash_pprev: u64,
    pub d_op: u64,
    pub d_inode: u64,
    pub d_dname: u64,
    pub mount_mnt: u64,
    pub mnt_parent: u64,
    pub mnt_mountpoint: u64,
    pub mnt_root: u64,
    pub vm_ops_name: u64,
    pub special_mapping_name: u64,
    pub fs_root_mnt: u64,
    pub fs_root_dentry: u64,
    pub task_fs: u64,
    pub vmacache: Option<VmacacheLayout>,
    /// How the kernel counts the mm's writers (`mm_lock_seq`, per-VMA locks), if at all.
    pub writer_seq: Option<WriterSeq>,
}

/// Maple node offsets from `struct maple_tree`, `maple_range_64`, `maple_arange_64`,
/// `maple_node` and `maple_metadata`.
pub fn probe_maple(p: &dyn TypeLookup) -> Result<MapleOffsets, OffsetError> {
    Ok(MapleOffsets {
        ma_root: need(p, "maple_tree", "ma_root")?,
        ma_flags: need(p, "maple_tree", "ma_flags")?,
        range64_pivot: need(p, "maple_range_64", "pivot")?,
        range64_slot: need(p, "maple_range_64", "slot")?,
        range64_meta: need(p, "maple_range_64", "meta")?,
        range64_pivots: need_len(p, "maple_range_64", "pivot")?,
        range64_slots: need_len(p, "maple_range_64", "slot")?,
        arange64_pivot: need(p, "maple_arange_64", "pivot")?,
        arange64_slot: need(p, "maple_arange_64", "slot")?,
        arange64_gap: need(p, "maple_arange_64", "gap")?,
        arange64_meta: need(p, "maple_arange_64", "meta")?,
        arange64_pivots: need_len(p, "maple_arange_64", "pivot")?,
        arange64_slots: need_len(p, "maple_arange_64", "slot")?,
        dense_slot: need(p, "maple_node", "slot")?,
        dense_slots: need_len(p, "maple_node", "slot")?,
        meta_end: need(p, "maple_metadata", "end")?,
        meta_gap: need(p, "maple_metadata", "gap")?,
    })
}

/// `struct rb_node` offsets.
pub fn probe_rb(p: &dyn TypeLookup) -> Result<RbOffsets, OffsetError> {
    Ok(RbOffsets {
        rb_parent_color: need(p, "rb_node", "__rb_parent_color")?,
        rb_right: need(p, "rb_node", "rb_right")?,
        rb_left: need(p, "rb_node", "rb_left")?,
    })
}

impl VmaLayout {
    pub fn probe(p: &dyn TypeLookup) -> Result<VmaLayout, OffsetError> {
        let mm = "mm_struct";
        let vma = "vm_area_struct";
        let vm_start = need(p, vma, "vm_start")?;
        let vm_end = need(p, vma, "vm_end")?;
        let tree = if let Some(mm_mt) = p.offset_of(mm, "mm_mt") {
            VmaTreeLayout::Maple {
                mm_mt,
                maple: probe_maple(p)?,
            }
        } else if let (Some(mm_rb), Some(mmap)) =
            (p.offset_of(mm, "mm_rb"), p.offset_of(mm, "mmap"))
        {
            VmaTreeLayout::RbTree {
                mm_rb,
                mmap,
                rb: probe_rb(p)?,
                vma: RbVmaOffsets {
                    vm_rb: need(p, vma, "vm_rb")?,
                    vm_start,
                    vm_end,
                    rb_subtree_gap: p.offset_of(vma, "rb_subtree_gap"),
                },
                list: ListOffsets {
                    next: need(p, vma, "vm_next")?,
                    prev: need(p, vma, "vm_prev")?,
                    range: Some((vm_start, vm_end)),
                },
            }
        } else {
            return Err(OffsetError::NoVmaTree);
        };
        let vmacache = match (
            p.offset_of("task_struct", "vmacache"),
            p.offset_of(mm, "vmacache_seqnum"),
        ) {
            (Some(task_vmacache), Some(mm_seqnum)) => Some(VmacacheLayout {
                task_vmacache,
                seqnum: need(p, "vmacache", "seqnum")?,
                vmas: need(p, "vmacache", "vmas")?,
                nvmas: p.array_len("vmacache", "vmas").unwrap_or(4),
                mm_seqnum,
            }),
            _ => None,
        };
        let vm_anon_name = p.offset_of(vma, "anon_name");
        Ok(VmaLayout {
            tree,
            mm_map_count: need(p, mm, "map_count")?,
            mm_start_brk: need(p, mm, "start_brk")?,
            mm_brk: need(p, mm, "brk")?,
            mm_start_stack: need(p, mm, "start_stack")?,
            mm_highest_vm_end: p.offset_of(mm, "highest_vm_end"),
            mm_context_flags: p.offset_of(mm, "context.flags"),
            vma_size: need_size(p, vma)?,
            vm_start,
            vm_end,
            vm_mm: need(p, vma, "vm_mm")?,
            vm_flags: need(p, vma, "vm_flags")?,
            vm_pgoff: need(p, vma, "vm_pgoff")?,
            vm_file: need(p, vma, "vm_file")?,
            vm_ops: need(p, vma, "vm_ops")?,
            vm_private_data: need(p, vma, "vm_private_data")?,
            anon_vma_name_name: if vm_anon_name.is_some() {
                p.offset_of("anon_vma_name", "name")
            } else {
                None
            },
            anon_name_separate: vm_anon_name.is_some()
                && vm_anon_name != p.offset_of(vma, "shared"),
            vm_anon_name,
            f_path_mnt: need(p, "file", "f_path.mnt")?,
            f_path_dentry: need(p, "file", "f_path.dentry")?,
            f_inode: need(p, "file", "f_inode")?,
            i_sb: need(p, "inode", "i_sb")?,
            i_ino: need(p, "inode", "i_ino")?,
            s_dev: need(p, "super_block", "s_dev")?,
            d_parent: need(p, "dentry", "d_parent")?,
            d_name_len: need(p, "dentry", "d_name.len")?,
            d_name_name: need(p, "dentry", "d_name.name")?,
            d_hash_pprev: need(p, "dentry", "d_hash.pprev")?,
            d_op: need(p, "dentry", "d_op")?,
            d_inode: need(p, "dentry", "d_inode")?,
            d_dname: need(p, "dentry_operations", "d_dname")?,
            mount_mnt: need(p, "mount", "mnt")?,
            mnt_parent: need(p, "mount", "mnt_parent")?,
            mnt_mountpoint: need(p, "mount", "mnt_mountpoint")?,
            mnt_root: need(p, "vfsmount", "mnt_root")?,
            vm_ops_name: need(p, "vm_operations_struct", "name")?,
            special_mapping_name: need(p, "vm_special_mapping", "name")?,
            fs_root_mnt: need(p, "fs_struct", "root.mnt")?,
            fs_root_dentry: need(p, "fs_struct", "root.dentry")?,
            task_fs: need(p, "task_struct", "fs")?,
            vmacache,
            writer_seq: WriterSeq::probe(p),
        })
    }
}
