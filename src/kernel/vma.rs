//! A process's VMAs rebuilt from raw memory and rendered as `/proc/PID/maps` lines
//! (fs/proc/task_mmu.c `show_map_vma`, `show_vma_header_prefix`).

use super::dpath::{escape_newlines, DnameSymbols, PathResolver, ReadFault};
use super::snapshot::{read_stable, Attempt, SnapshotError, Stable, Window};
use super::vma_layout::{VmaLayout, VmaTreeLayout};
use crate::memory::bytes::le_u64;
use crate::memory::held::HeldPages;
use crate::memory::Memory;
use crate::trees::list::{self, ListSnapshot};
use crate::trees::maple::{self, MapleSnapshot, Rewalks};
use crate::trees::rbtree::{self, OrderMismatch, RbSnapshot};
use crate::trees::{IssueKind, TreeError, WalkIssue, WalkLimits};
use serde::Serialize;
use std::collections::HashMap;
use thiserror::Error;

pub const VM_READ: u64 = 0x1;
pub const VM_WRITE: u64 = 0x2;
pub const VM_EXEC: u64 = 0x4;
pub const VM_SHARED: u64 = 0x8;
pub const VM_MAYSHARE: u64 = 0x80;
pub const VM_GROWSDOWN: u64 = 0x100;
pub const PAGE_SHIFT: u32 = 12;
/// `MINORBITS`: kernel `dev_t` is major << 20 | minor.
pub const MINORBITS: u32 = 20;
/// `seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)` on 64-bit.
pub const MAPS_NAME_COLUMN: usize = 25 + 8 * 6 - 1;
/// x86 `MM_CONTEXT_HAS_VSYSCALL` (`BIT(1)` in `mm->context.flags`, 5.x-6.1).
pub const MM_CONTEXT_HAS_VSYSCALL: u64 = 1 << 1;
/// `vsyscall_mode` value `NONE` (arch/x86/entry/vsyscall/vsyscall_64.c enum order
/// EMULATE, XONLY, NONE).
pub const VSYSCALL_NONE: u32 = 2;

#[derive(Debug, Error, Clone)]
pub enum VmaError {
    /// A VMA, a name or a path that could not be read or made no sense.
    #[error(transparent)]
    Fault(#[from] ReadFault),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("mm {mm:#x}: VMA tree walk failed: {issue}")]
    Walk { mm: u64, issue: WalkIssue },
    /// A live mm that moved under every read within the bound.
    #[error("mm {mm:#x} changed on every one of {reads} reads")]
    Unstable { mm: u64, reads: u32 },
    #[error("mm {mm:#x}: rb-tree and vm_next list disagree at position {}: tree {:#x}, list {:#x}", .at.position, .at.tree, .at.list)]
    TreeListMismatch { mm: u64, at: OrderMismatch },
}

/// Runtime symbol addresses the renderer compares function pointers with.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmaSymbols {
    pub special_mapping_name: u64,
    pub gate_vma_name: u64,
    /// `&gate_vma` (0 if the kernel has none).
    pub gate_vma: u64,
    /// `&vsyscall_mode` (0 if not found).
    pub vsyscall_mode: u64,
    /// `CONFIG_ANON_VMA_NAME` is built in (probed by `anon_vma_name_alloc`).
    pub anon_vma_name_config: bool,
    pub dname: DnameSymbols,
}

/// Where a VMA's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    None,
    File,
    VmOps,
    NoMm,
    Heap,
    Stack,
    AnonName,
}

/// One VMA, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaInfo {
    pub vma: u64,
    pub start: u64,
    pub end: u64,
    pub flags: u64,
    pub pgoff: u64,
    pub file: u64,
    pub mm: u64,
    /// `i_sb->s_dev` of the file's inode (0 for anonymous).
    pub dev: u64,
    pub inode: u64,
    /// Name bytes as the kernel prints them (escaped), or `None`.
    pub name: Option<Vec<u8>>,
    pub name_source: NameSource,
}

impl VmaInfo {
    /// `rwxp`/`rwxs`.
    pub fn perms(&self) -> String {
        let f = self.flags;
        let mut s = String::with_capacity(4);
        s.push(if f & VM_READ != 0 { 'r' } else { '-' });
        s.push(if f & VM_WRITE != 0 { 'w' } else { '-' });
        s.push(if f & VM_EXEC != 0 { 'x' } else { '-' });
        s.push(if f & VM_MAYSHARE != 0 { 's' } else { 'p' });
        s
    }

    /// File offset shown in maps: `vm_pgoff << PAGE_SHIFT` for files, 0 otherwise.
    pub fn offset(&self) -> u64 {
        if self.file != 0 {
            self.pgoff.wrapping_shl(PAGE_SHIFT)
        } else {
            0
        }
    }

    pub fn major(&self) -> u64 {
        (self.dev & 0xffff_ffff) >> MINORBITS
    }

    pub fn minor(&self) -> u64 {
        self.dev & ((1 << MINORBITS) - 1)
    }

    /// Append the `/proc/PID/maps` line, newline included.
    pub fn write_maps_line(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let line_start = out.len();
        let _ = write!(
            out,
            "{:08x}-{:08x} {} {:08x} {:02x}:{:02x} {} ",
            self.start,
            self.end,
            self.perms(),
            self.offset(),
            self.major(),
            self.minor(),
            self.inode
        );
        if let Some(name) = &self.name {
            // seq_pad(): fill to the name column, then one space.
            let len = out.len() - line_start;
            if len < MAPS_NAME_COLUMN {
                out.resize(line_start + MAPS_NAME_COLUMN, b' ');
            }
            out.push(b' ');
            out.extend_from_slice(name);
        }
        out.push(b'\n');
    }
}

/// The walked structure behind a process's VMAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmaTree {
    Maple(MapleSnapshot),
    Rb {
        tree: RbSnapshot,
        list: ListSnapshot,
    },
}

impl VmaTree {
    /// Whether the walk shows a writer at work: a dead maple node still reachable, a
    /// moved rb node or list link, or a tree and list that disagree. Live, such a walk
    /// is never taken as the mm's state, even when the next walk shows the same (the
    /// writer may sit in the middle of one change); in a dump it is corruption.
    pub fn raced(&self) -> bool {
        match self {
            VmaTree::Maple(s) => s.issues.iter().any(|i| i.kind == IssueKind::DeadNode),
            VmaTree::Rb { tree, list } => {
                !tree.moved_nodes().is_empty()
                    || !list.moved_entries().is_empty()
                    || rbtree::compare_with_list(tree, list).is_some()
            }
        }
    }
}

/// mm fields used for naming.
#[derive(Debug, Clone, Copy, Default)]
struct MmNaming {
    start_brk: u64,
    brk: u64,
    start_stack: u64,
}

/// Reads VMAs of one kernel with a fixed layout and symbol set.
pub struct VmaReader<'a> {
    pub mem: &'a dyn Memory,
    pub layout: &'a VmaLayout,
    pub syms: VmaSymbols,
    paths: PathResolver<'a>,
    mm_cache: HashMap<u64, MmNaming>,
    special_names: HashMap<u64, Vec<u8>>,
    pub limits: WalkLimits,
    /// A dump, or a live kernel and how many walks a stable read may take.
    pub window: Window,
    root: (u64, u64),
    held: Option<&'a HeldPages<'a>>,
}

fn rd(mem: &dyn Memory, addr: u64, what: &'static str) -> Result<u64, VmaError> {
    mem.read_u64(addr)
        .map_err(|source| VmaError::from(ReadFault::Read { what, addr, source }))
}

/// Read a NUL-terminated string of at most `max` bytes.
pub fn read_cstr(
    mem: &dyn Memory,
    addr: u64,
    max: usize,
    what: &'static str,
) -> Result<Vec<u8>, VmaError> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 64];
    let mut a = addr;
    while out.len() < max {
        // Read up to the end of the page so a short string never faults on the next one.
        let room = (4096 - (a & 4095)) as usize;
        let n = room.min(chunk.len());
        let buf = chunk.get_mut(..n).unwrap_or(&mut []);
        mem.read(a, buf).map_err(|source| {
            VmaError::from(ReadFault::Read {
                what,
                addr: a,
                source,
            })
        })?;
        if let Some(z) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(buf.get(..z).unwrap_or(&[]));
            return Ok(out);
        }
        out.extend_from_slice(buf);
        a = a.wrapping_add(n as u64);
    }
    out.truncate(max);
    Ok(out)
}

impl<'a> VmaReader<'a> {
    /// `root` is the (vfsmount, dentry) paths are resolved against: the reader's
    /// `fs->root`, as `/proc/PID/maps` does.
    pub fn new(
        mem: &'a dyn Memory,
        layout: &'a VmaLayout,
        syms: VmaSymbols,
        root: (u64, u64),
    ) -> Self {
        VmaReader {
            mem,
            layout,
            syms,
            paths: PathResolver::new(mem, layout, root, syms.dname),
            mm_cache: HashMap::new(),
            special_names: HashMap::new(),
            limits: WalkLimits::default(),
            window: Window::Frozen,
            root,
            held: None,
        }
    }

    /// Read through `held` (live): pages stay for one attempt of a stable read,
    /// and every walk releases them first, so that walks see the present.
    pub fn hold(&mut self, held: &'a HeldPages<'a>) {
        self.mem = held;
        self.paths = PathResolver::new(held, self.layout, self.root, self.syms.dname);
        self.held = Some(held);
    }

    /// Walk the mm's VMA structure (maple tree, or rb-tree and list) without judging it.
    pub fn walk_tree(&self, mm: u64) -> Result<VmaTree, VmaError> {
        // A walk reads the present and opens an attempt whose reads hold their pages
        // from then on. A maple walk reads around the held pages (a restart must not
        // meet the pages it left); an rb-tree walk, which never restarts, holds them
        // too: a VMA shares its page with ~20 others, and fewer reads make the walk
        // shorter than a writer's pace.
        let (mem, rb_mem) = match self.held {
            Some(h) => {
                h.release();
                (h.inner(), self.mem)
            }
            None => (self.mem, self.mem),
        };
        match &self.layout.tree {
            VmaTreeLayout::Maple { mm_mt, maple: o } => {
                let tree = mm.wrapping_add(*mm_mt);
                Ok(VmaTree::Maple(match self.window {
                    Window::Frozen => maple::walk(mem, tree, o, self.limits)?,
                    Window::Live { .. } => {
                        maple::walk_live(mem, tree, o, self.limits, Rewalks::default())?.0
                    }
                }))
            }
            VmaTreeLayout::RbTree {
                mm_rb,
                mmap,
                rb,
                vma,
                list: lo,
            } => {
                let root = mm.wrapping_add(*mm_rb);
                let tree = rbtree::walk(rb_mem, root, rb, Some(vma), self.limits)?;
                let first = rd(rb_mem, mm.wrapping_add(*mmap), "mm_struct.mmap")?;
                let list = list::walk(rb_mem, first, lo, self.limits);
                Ok(VmaTree::Rb { tree, list })
            }
        }
    }

    /// VMA addresses in address order; any walk issue or a tree/list disagreement
    /// is an error here (use [`Self::walk_tree`] to look at a broken structure).
    pub fn vma_addresses(&self, mm: u64, tree: &VmaTree) -> Result<Vec<u64>, VmaError> {
        match tree {
            VmaTree::Maple(s) => {
                if let Some(i) = s.issues.first() {
                    return Err(VmaError::Walk {
                        mm,
                        issue: i.clone(),
                    });
                }
                Ok(s.user_entries().map(|e| e.entry).collect())
            }
            VmaTree::Rb { tree, list } => {
                if let Some(i) = tree.issues.first().or(list.issues.first()) {
                    return Err(VmaError::Walk {
                        mm,
                        issue: i.clone(),
                    });
                }
                if let Some(at) = rbtree::compare_with_list(tree, list) {
                    return Err(VmaError::TreeListMismatch { mm, at });
                }
                Ok(list.entries.iter().map(|e| e.addr).collect())
            }
        }
    }

    /// All VMAs of `mm`, in address order, followed by the gate VMA line when
    /// `/proc/PID/maps` would print it, read as one state ([`Self::read_mm_stable`]).
    pub fn read_mm(&mut self, mm: u64) -> Result<(VmaTree, Vec<VmaInfo>), VmaError> {
        match self.read_mm_stable(mm) {
            Ok(s) => Ok((s.walk, s.value)),
            Err(SnapshotError::Read(e)) => Err(e),
            Err(SnapshotError::Seq(source)) => Err(VmaError::Fault(ReadFault::Read {
                what: "mm_struct.mm_lock_seq",
                addr: mm,
                source,
            })),
            Err(SnapshotError::Unstable { reads }) => Err(VmaError::Unstable { mm, reads }),
        }
    }

    /// [`Self::read_mm`] with the number of walks it took. On a live kernel
    /// ([`Self::window`]) the VMAs are read between two equal walks, or while the
    /// mm's writer count stood still (kernel/snapshot.rs); a VMA whose range no
    /// longer matches its slot means the read tore.
    pub fn read_mm_stable(
        &mut self,
        mm: u64,
    ) -> Result<Stable<VmaTree, Vec<VmaInfo>>, SnapshotError<VmaError>> {
        let mem = self.mem;
        let window = self.window;
        let this = std::cell::RefCell::new(self);
        read_stable(
            mem,
            mm,
            window,
            || this.borrow().walk_tree(mm),
            |tree| this.borrow_mut().read_vmas(mm, tree),
        )
    }

    fn read_vmas(&mut self, mm: u64, tree: &VmaTree) -> Result<Attempt<Vec<VmaInfo>>, VmaError> {
        let live = self.window != Window::Frozen;
        if live {
            if tree.raced() {
                return Ok(Attempt::Torn);
            }
            // brk and the stack start move too.
            self.mm_cache.clear();
        }
        let addrs = self.vma_addresses(mm, tree)?;
        let mut out = Vec::with_capacity(addrs.len() + 1);
        for a in addrs {
            out.push(self.read_vma(a)?);
        }
        if live && !ranges_match(tree, &out) {
            return Ok(Attempt::Torn);
        }
        if let Some(g) = self.gate_vma(mm)? {
            out.push(g);
        }
        Ok(Attempt::Whole(out))
    }

    /// `get_gate_vma(mm)`: the global vsyscall VMA, unless vsyscall=none or the mm
    /// lacks `MM_CONTEXT_HAS_VSYSCALL` (32-bit processes).
    pub fn gate_vma(&mut self, mm: u64) -> Result<Option<VmaInfo>, VmaError> {
        if self.syms.gate_vma == 0 {
            return Ok(None);
        }
        if self.syms.vsyscall_mode != 0 {
            let mode = self
                .mem
                .read_u32(self.syms.vsyscall_mode)
                .map_err(|source| {
                    VmaError::from(ReadFault::Read {
                        what: "vsyscall_mode",
                        addr: self.syms.vsyscall_mode,
                        source,
                    })
                })?;
            if mode == VSYSCALL_NONE {
                return Ok(None);
            }
        }
        if let Some(off) = self.layout.mm_context_flags {
            // mm_context_t.flags is an unsigned short on x86_64.
            let mut b = [0u8; 2];
            self.mem
                .read(mm.wrapping_add(off), &mut b)
                .map_err(|source| {
                    VmaError::from(ReadFault::Read {
                        what: "mm_struct.context.flags",
                        addr: mm.wrapping_add(off),
                        source,
                    })
                })?;
            if u64::from(u16::from_le_bytes(b)) & MM_CONTEXT_HAS_VSYSCALL == 0 {
                return Ok(None);
            }
        }
        Ok(Some(self.read_vma(self.syms.gate_vma)?))
    }

    fn mm_naming(&mut self, mm: u64) -> Result<MmNaming, VmaError> {
        if let Some(n) = self.mm_cache.get(&mm) {
            return Ok(*n);
        }
        let l = self.layout;
        let n = MmNaming {
            start_brk: rd(
                self.mem,
                mm.wrapping_add(l.mm_start_brk),
                "mm_struct.start_brk",
            )?,
            brk: rd(self.mem, mm.wrapping_add(l.mm_brk), "mm_struct.brk")?,
            start_stack: rd(
                self.mem,
                mm.wrapping_add(l.mm_start_stack),
                "mm_struct.start_stack",
            )?,
        };
        self.mm_cache.insert(mm, n);
        Ok(n)
    }

    /// Decode one `vm_area_struct` and name it as `show_map_vma()` does.
    pub fn read_vma(&mut self, vma: u64) -> Result<VmaInfo, VmaError> {
        let l = self.layout;
        let size = usize::try_from(l.vma_size).unwrap_or(0).min(4096);
        let mut buf = vec![0u8; size];
        self.mem.read(vma, &mut buf).map_err(|source| {
            VmaError::from(ReadFault::Read {
                what: "vm_area_struct",
                addr: vma,
                source,
            })
        })?;
        let f = |off: u64| {
            usize::try_from(off)
                .ok()
                .and_then(|o| le_u64(&buf, o))
                .unwrap_or(0)
        };
        let mut v = VmaInfo {
            vma,
            start: f(l.vm_start),
            end: f(l.vm_end),
            flags: f(l.vm_flags),
            pgoff: f(l.vm_pgoff),
            file: f(l.vm_file),
            mm: f(l.vm_mm),
            dev: 0,
            inode: 0,
            name: None,
            name_source: NameSource::None,
        };
        let vm_ops = f(l.vm_ops);
        let private = f(l.vm_private_data);
        let anon_name_ptr = l.vm_anon_name.map(f).unwrap_or(0);

        if v.file != 0 {
            let inode = rd(self.mem, v.file.wrapping_add(l.f_inode), "file.f_inode")?;
            let sb = rd(self.mem, inode.wrapping_add(l.i_sb), "inode.i_sb")?;
            v.dev = u64::from(
                self.mem
                    .read_u32(sb.wrapping_add(l.s_dev))
                    .map_err(|source| {
                        VmaError::from(ReadFault::Read {
                            what: "super_block.s_dev",
                            addr: sb,
                            source,
                        })
                    })?,
            );
            v.inode = rd(self.mem, inode.wrapping_add(l.i_ino), "inode.i_ino")?;
            let mnt = rd(
                self.mem,
                v.file.wrapping_add(l.f_path_mnt),
                "file.f_path.mnt",
            )?;
            let dentry = rd(
                self.mem,
                v.file.wrapping_add(l.f_path_dentry),
                "file.f_path.dentry",
            )?;
            // 6.2+ (anon_name outside the `shared` union): a named shared anonymous
            // mapping shows [anon_shmem:NAME] instead of its file.
            if anon_name_ptr != 0 && self.anon_name_separate() {
                v.name = Some(self.bracketed("anon_shmem:", anon_name_ptr)?);
            } else {
                v.name = Some(escape_newlines(&self.paths.d_path(mnt, dentry)?));
            }
            v.name_source = NameSource::File;
            return Ok(v);
        }
        if vm_ops != 0 {
            let name_fn = rd(
                self.mem,
                vm_ops.wrapping_add(l.vm_ops_name),
                "vm_operations_struct.name",
            )?;
            if name_fn != 0 {
                if let Some(n) = self.vm_ops_name(name_fn, private)? {
                    v.name = Some(n);
                    v.name_source = NameSource::VmOps;
                    return Ok(v);
                }
            }
        }
        if v.mm == 0 {
            v.name = Some(b"[vdso]".to_vec());
            v.name_source = NameSource::NoMm;
            return Ok(v);
        }
        let mm = self.mm_naming(v.mm)?;
        if v.start <= mm.brk && v.end >= mm.start_brk {
            v.name = Some(b"[heap]".to_vec());
            v.name_source = NameSource::Heap;
        } else if v.start <= mm.start_stack && v.end >= mm.start_stack {
            v.name = Some(b"[stack]".to_vec());
            v.name_source = NameSource::Stack;
        } else if anon_name_ptr != 0 && self.syms.anon_vma_name_config {
            v.name = Some(self.bracketed("anon:", anon_name_ptr)?);
            v.name_source = NameSource::AnonName;
        }
        Ok(v)
    }

    /// Whether `anon_name` is its own member (6.2+) rather than sharing a union
    /// with `shared` (5.17-6.1, where it is valid only without a file).
    fn anon_name_separate(&self) -> bool {
        self.syms.anon_vma_name_config && self.layout.anon_name_separate
    }

    fn bracketed(&self, prefix: &str, anon_name: u64) -> Result<Vec<u8>, VmaError> {
        let off = self.layout.anon_vma_name_name.unwrap_or(0);
        let s = read_cstr(
            self.mem,
            anon_name.wrapping_add(off),
            256,
            "anon_vma_name.name",
        )?;
        let mut v = Vec::with_capacity(s.len() + prefix.len() + 2);
        v.push(b'[');
        v.extend_from_slice(prefix.as_bytes());
        v.extend(s);
        v.push(b']');
        Ok(v)
    }

    /// The few `vm_ops->name` implementations a raw reader can evaluate.
    fn vm_ops_name(&mut self, name_fn: u64, private: u64) -> Result<Option<Vec<u8>>, VmaError> {
        let s = self.syms;
        if name_fn == s.special_mapping_name && s.special_mapping_name != 0 {
            // special_mapping_name(): ((struct vm_special_mapping *)vm_private_data)->name
            if let Some(n) = self.special_names.get(&private) {
                return Ok(Some(n.clone()));
            }
            let p = rd(
                self.mem,
                private.wrapping_add(self.layout.special_mapping_name),
                "vm_special_mapping.name",
            )?;
            let n = read_cstr(self.mem, p, 256, "special mapping name")?;
            self.special_names.insert(private, n.clone());
            return Ok(Some(n));
        }
        if name_fn == s.gate_vma_name && s.gate_vma_name != 0 {
            return Ok(Some(b"[vsyscall]".to_vec()));
        }
        Ok(None)
    }
}

/// Whether every VMA read still spans the range the walk found it at (a VMA split,
/// merged or freed after the walk does not).
fn ranges_match(tree: &VmaTree, vmas: &[VmaInfo]) -> bool {
    let walked: Vec<(u64, u64)> = match tree {
        VmaTree::Maple(s) => s
            .user_entries()
            .map(|e| (e.first, e.last.wrapping_add(1)))
            .collect(),
        VmaTree::Rb { tree, .. } => tree.vmas().map(|v| (v.vm_start, v.vm_end)).collect(),
    };
    walked.len() == vmas.len() && walked.iter().zip(vmas).all(|(w, v)| *w == (v.start, v.end))
}

/// Render all lines of one process.
pub fn maps_text(vmas: &[VmaInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vmas.len() * 80);
    for v in vmas {
        v.write_maps_line(&mut out);
    }
    out
}

#[cfg(test)]
mod tests;
