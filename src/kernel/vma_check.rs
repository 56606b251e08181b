//! The check layer's traits over kernel memory: VMA fields and `find_vma()` read
//! from the dump, the facts an mm states about its tree, and one process's tree
//! validated, cross-checked and rendered as /proc/PID/maps.

use super::tasks::Task;
use super::vma::{maps_text, VmaInfo, VmaReader, VmaTree};
use super::vma_layout::{VmaLayout, VmaTreeLayout};
use super::{Kernel, KernelError, ReadContext};
use crate::check::cost_table::{cost_table, CostTable, KernelTree, TableInput};
use crate::check::costs::{self, CostRow};
use crate::check::cross::{cross_check, CrossLimits, Walked};
use crate::check::maple::WalkedVma;
use crate::check::records::{self, TaskRecord, VmaRecord};
use crate::check::{MmFacts, RawLookup, Report, ThreadVmacache, VmaFields, VmaSource};
use crate::memory::held::HeldPages;
use crate::memory::Memory;
use crate::trees::{maple as tmaple, rbtree as trb, WalkLimits};

/// `stack_guard_gap` when the vmlinux lacks the variable: 256 pages.
const DEFAULT_STACK_GUARD_GAP: u64 = 256 * 4096;

/// `page_offset_base` when the kernel has no CONFIG_RANDOMIZE_MEMORY (4-level).
const DEFAULT_PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;

impl Kernel {
    /// Check each VMA as read (`check::records::vmas`), with its maple slot's
    /// range; per VMA of `vmas`, whether it passed (the gate VMA, past the
    /// tree's entries, is not a user VMA and always does).
    pub fn check_vma_records(&self, tree: &VmaTree, vmas: &[VmaInfo], r: &mut Report) -> Vec<bool> {
        let slots: Vec<Option<(u64, u64)>> = match tree {
            VmaTree::Maple(s) => s.user_entries().map(|e| Some((e.first, e.last))).collect(),
            VmaTree::Rb { list, .. } => vec![None; list.entries.len()],
        };
        let recs: Vec<VmaRecord> = vmas
            .iter()
            .zip(&slots)
            .map(|(v, &slot)| VmaRecord {
                vma: v.vma,
                start: v.start,
                end: v.end,
                slot,
            })
            .collect();
        let mut ok = records::vmas(&recs, self.mem.paging.task_size(), r);
        ok.resize(vmas.len(), true);
        ok
    }

    /// Check one task as read (`check::records::task`).
    pub fn check_task_record(&self, t: &Task, r: &mut Report) -> bool {
        let rec = TaskRecord {
            addr: t.addr,
            pid: t.pid,
            tgid: t.tgid,
            comm: &t.comm,
            idle: t.idle_cpu.is_some(),
        };
        let pob = self.mem.paging.linear_base();
        records::task(&rec, pob.unwrap_or(DEFAULT_PAGE_OFFSET), r)
    }
}

/// VMA fields read in one piece from memory.
pub struct MemVmas<'a> {
    mem: &'a dyn Memory,
    l: &'a VmaLayout,
}

impl VmaSource for MemVmas<'_> {
    fn vma(&self, a: u64) -> Result<VmaFields, String> {
        let l = self.l;
        let offs = [l.vm_start, l.vm_end, l.vm_mm, l.vm_flags];
        let lo = offs.iter().copied().min().unwrap_or(0);
        let hi = offs.iter().copied().max().unwrap_or(0).saturating_add(8);
        let mut buf = vec![0u8; usize::try_from(hi - lo).unwrap_or(0).min(4096)];
        self.mem
            .read(a.wrapping_add(lo), &mut buf)
            .map_err(|e| e.to_string())?;
        let at = |o: u64| {
            let i = usize::try_from(o - lo).unwrap_or(usize::MAX);
            buf.get(i..i.saturating_add(8))
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0)
        };
        Ok(VmaFields {
            vm_start: at(l.vm_start),
            vm_end: at(l.vm_end),
            vm_mm: at(l.vm_mm),
            vm_flags: at(l.vm_flags),
        })
    }
}

/// `find_vma()` by the walkers' own descent, re-reading memory.
pub struct MemLookup<'a> {
    vmas: MemVmas<'a>,
    mm: u64,
}

impl RawLookup for MemLookup<'_> {
    fn find_vma(&self, addr: u64) -> Result<Option<(u64, u64, u64)>, String> {
        let mem = self.vmas.mem;
        match &self.vmas.l.tree {
            VmaTreeLayout::Maple { mm_mt, maple } => {
                let (hit, _, issue) =
                    tmaple::mt_find(mem, self.mm.wrapping_add(*mm_mt), maple, addr)
                        .map_err(|e| e.to_string())?;
                if let Some(i) = issue {
                    return Err(i.to_string());
                }
                Ok(hit.map(|(f, l, e)| (f, l.wrapping_add(1), e)))
            }
            VmaTreeLayout::RbTree { mm_rb, rb, vma, .. } => {
                let (hit, _, issue) = trb::find_vma(
                    mem,
                    self.mm.wrapping_add(*mm_rb),
                    rb,
                    vma,
                    addr,
                    WalkLimits::default(),
                )
                .map_err(|e| e.to_string())?;
                if let Some(i) = issue {
                    return Err(i.to_string());
                }
                match hit {
                    None => Ok(None),
                    Some(v) => {
                        let f = self.vmas.vma(v)?;
                        Ok(Some((f.vm_start, f.vm_end, v)))
                    }
                }
            }
        }
    }
}

/// Checks the VMA trees of one kernel; the kernel-wide facts are read once.
pub struct VmaChecker<'a> {
    k: &'a Kernel,
    /// Where VMAs and lookups are read ([`VmaChecker::hold`]).
    mem: &'a dyn Memory,
    layout: &'a VmaLayout,
    stack_guard_gap: u64,
    task_size: u64,
}

impl Kernel {
    /// A checker for this kernel's VMA trees.
    pub fn vma_checker(&self) -> Result<VmaChecker<'_>, KernelError> {
        let stack_guard_gap = self.stack_guard_gap()?;
        Ok(VmaChecker {
            k: self,
            mem: &self.mem,
            layout: self.vma_layout()?,
            stack_guard_gap,
            task_size: self.mem.paging.task_size(),
        })
    }
}

impl<'a> VmaChecker<'a> {
    /// Read VMAs and lookups through `held` (live: the pages of one attempt).
    pub fn hold(&mut self, held: &'a HeldPages<'a>) {
        self.mem = held;
    }

    fn rd(&self, a: u64, what: &str) -> Result<u64, KernelError> {
        self.k.mem.read_u64(a).ctx(|| format!("{what} at {a:#x}"))
    }

    /// What `mm` (led by task `leader`) says about its tree: counts, bounds and,
    /// before 6.1, every thread's vmacache.
    pub fn facts(&self, leader: u64, mm: u64) -> Result<MmFacts, KernelError> {
        let map_count = self.k.read_mm(mm)?.map_count;
        let mut f = MmFacts {
            mm,
            map_count: u64::try_from(map_count).unwrap_or(u64::MAX),
            highest_vm_end: match self.layout.mm_highest_vm_end {
                Some(o) => Some(self.rd(mm.wrapping_add(o), "mm_struct.highest_vm_end")?),
                None => None,
            },
            stack_guard_gap: self.stack_guard_gap,
            task_size: self.task_size,
            ..MmFacts::default()
        };
        if let Some(vc) = &self.layout.vmacache {
            f.vmacache_seqnum = Some(self.k.mm_vmacache_seqnum(vc, mm)?);
            for t in self.k.thread_addrs(leader)? {
                let (seqnum, vmas) = self.k.task_vmacache(vc, t)?;
                let tid = self.k.read_task(t).map(|x| i64::from(x.pid)).unwrap_or(-1);
                f.vmacaches.push(ThreadVmacache {
                    tid,
                    task: t,
                    seqnum,
                    vmas,
                });
            }
        }
        Ok(f)
    }

    fn vmas(&self) -> MemVmas<'_> {
        MemVmas {
            mem: self.mem,
            l: self.layout,
        }
    }

    /// Validate a walked tree's invariants and cross-check it with the
    /// reimplementation and the raw `find_vma()`; returns the VMAs in order.
    pub fn validate(&self, tree: &VmaTree, facts: &MmFacts, r: &mut Report) -> Vec<WalkedVma> {
        let src = self.vmas();
        let (walked, walked_ref) = match tree {
            VmaTree::Maple(s) => (
                crate::check::maple::validate(s, facts, &src, r),
                Walked::Maple(s),
            ),
            VmaTree::Rb { tree, list } => (
                crate::check::rbtree::validate(tree, list, facts, &src, r),
                Walked::Rb(tree),
            ),
        };
        // The same per-record checks `vmas` and `tree` warn about; the slot
        // ranges are maple.ranges' business here.
        let recs: Vec<VmaRecord> = walked
            .iter()
            .map(|v| VmaRecord {
                vma: v.vma,
                start: v.start,
                end: v.end,
                slot: None,
            })
            .collect();
        records::vmas(&recs, facts.task_size, r);
        let raw = MemLookup {
            vmas: self.vmas(),
            mm: facts.mm,
        };
        cross_check(
            &walked,
            walked_ref,
            facts,
            Some(&raw),
            CrossLimits::default(),
            r,
        );
        walked
    }

    /// The walked VMAs rendered as /proc/PID/maps, the gate VMA last; a VMA that
    /// cannot be rendered is a finding.
    pub fn maps_text(
        &self,
        reader: &mut VmaReader<'_>,
        walked: &[WalkedVma],
        mm: u64,
        r: &mut Report,
    ) -> Result<Vec<u8>, KernelError> {
        let mut infos = Vec::with_capacity(walked.len() + 1);
        for w in walked {
            match reader.read_vma(w.vma) {
                Ok(v) => infos.push(v),
                Err(e) => r.fail(
                    "maps",
                    w.vma,
                    "rendering",
                    "a renderable vm_area_struct",
                    e.to_string(),
                ),
            }
        }
        if let Some(g) = reader.gate_vma(mm)? {
            infos.push(g);
        }
        Ok(maps_text(&infos))
    }
}

impl Kernel {
    /// The kernel's `stack_guard_gap` (the default when the vmlinux lacks it).
    pub fn stack_guard_gap(&self) -> Result<u64, KernelError> {
        match self.syms.address("stack_guard_gap") {
            Some(s) => self
                .mem
                .read_u64(s)
                .ctx(|| format!("stack_guard_gap at {s:#x}")),
            None => Ok(DEFAULT_STACK_GUARD_GAP),
        }
    }

    /// The whole `costs` table for a walked `tree` and its `vmas` (address order):
    /// lookups, iteration, random lookups from `seed`, insert, erase and fork.
    pub fn cost_table(
        &self,
        tree: &VmaTree,
        vmas: &[VmaInfo],
        map_count: u64,
        seed: u64,
        probes: usize,
    ) -> Result<CostTable, KernelError> {
        let l = self.vma_layout()?;
        let mut rows = lookup_costs(tree, l, map_count);
        if let [list, rb, ..] = rows.as_slice() {
            let both = costs::rb_with_list(rb, list);
            rows.insert(2, both);
        }
        let kt = match (tree, &l.tree) {
            (VmaTree::Maple(snap), VmaTreeLayout::Maple { maple, .. }) => KernelTree::Maple {
                snap,
                offsets: maple.clone(),
            },
            (VmaTree::Rb { tree: snap, .. }, VmaTreeLayout::RbTree { rb, vma, list, .. }) => {
                KernelTree::Rb {
                    snap,
                    rb: rb.clone(),
                    vma: vma.clone(),
                    list: list.clone(),
                }
            }
            _ => return Err(super::offsets::OffsetError::NoVmaTree.into()),
        };
        let walked: Vec<WalkedVma> = vmas
            .iter()
            .map(|v| WalkedVma {
                vma: v.vma,
                start: v.start,
                end: v.end,
                flags: v.flags,
            })
            .collect();
        let input = TableInput {
            vmas: &walked,
            tree: kt,
            stack_guard_gap: self.stack_guard_gap()?,
            seed,
            probes,
        };
        Ok(cost_table(rows, &input))
    }
}

/// Lookup costs for `tree`: measured on the structure this kernel has, modelled
/// for the others at the same VMA count `n`.
pub fn lookup_costs(tree: &VmaTree, l: &VmaLayout, n: u64) -> Vec<CostRow> {
    match (tree, &l.tree) {
        (VmaTree::Maple(s), VmaTreeLayout::Maple { maple, .. }) => vec![
            costs::list_cost(n, "model"),
            costs::rb_model_cost(n),
            costs::maple_measured_cost(s, maple),
        ],
        (VmaTree::Rb { tree, .. }, VmaTreeLayout::RbTree { rb, vma, .. }) => vec![
            costs::list_cost(n, "measured"),
            costs::rb_measured_cost(
                tree,
                vma.vm_rb,
                rb.rb_left,
                rb.rb_right,
                vma.vm_start,
                vma.vm_end,
            ),
            costs::maple_model_cost(n),
        ],
        _ => Vec::new(),
    }
}
