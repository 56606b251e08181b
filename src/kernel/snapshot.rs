//! One consistent read of an mm on a live kernel (issue 19).
//!
//! Through /proc/kcore we read an address space that its threads keep changing, and we
//! cannot take `mmap_lock`. So a read counts only when the mm provably stood still
//! around it:
//! - where the kernel counts the mm's writers (`mm_struct.mm_lock_seq`, which came with
//!   per-VMA locks): no writer before the read, none after, and the same count: one read;
//! - elsewhere: the read sits between two walks of the VMA tree, and holds when the walks
//!   are equal (same nodes with the same contents, so the same VMAs); the closing walk
//!   opens the next attempt, so each further attempt costs one walk plus the read.
//!
//! A read that tore (the caller saw the tree move, or /proc/PID/maps differ between its
//! two reads) is simply tried again, up to a bound. A dump does not move: there one read
//! is the state, whatever it shows.

/// The pages one attempt holds (the CLI builds them; it never imports memory).
pub use crate::memory::held::HeldPages;

use super::offsets::TypeLookup;
use super::{Kernel, KernelError};
use crate::memory::{MemError, Memory};
use thiserror::Error;

/// Walks a live read may take by default (`--retries`).
pub const DEFAULT_READS: u32 = 10;

/// `RWSEM_WRITER_LOCKED`: bit 0 of `rw_semaphore.count` while a writer holds it.
const RWSEM_WRITER_LOCKED: u64 = 1;

/// How the kernel counts the writers of an mm, probed from the type of `mm_lock_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterSeq {
    /// `seqcount_t mm_lock_seq`: odd while a writer holds `mmap_lock`.
    Seqcount { seq: u64 },
    /// `int mm_lock_seq`: bumped each time a writer releases `mmap_lock`; whether one
    /// holds it now is the writer bit of `mmap_lock.count`.
    Counter { seq: u64, lock_count: u64 },
}

impl WriterSeq {
    /// The writer count of this kernel's `mm_struct`, if it has one.
    pub fn probe(p: &dyn TypeLookup) -> Option<WriterSeq> {
        if let Some(seq) = p.offset_of("mm_struct", "mm_lock_seq.sequence") {
            return Some(WriterSeq::Seqcount { seq });
        }
        Some(WriterSeq::Counter {
            seq: p.offset_of("mm_struct", "mm_lock_seq")?,
            lock_count: p.offset_of("mm_struct", "mmap_lock.count")?,
        })
    }

    /// The writer count of `mm` if no writer holds it now, else `None`. The lock bit is
    /// read before the count: a writer that takes the lock after that bumps the count
    /// when it lets go, and one still holding it at the closing read shows its bit.
    pub fn quiet(&self, mem: &dyn Memory, mm: u64) -> Result<Option<u64>, MemError> {
        match *self {
            WriterSeq::Seqcount { seq } => {
                let s = mem.read_u32(mm.wrapping_add(seq))?;
                Ok((s & 1 == 0).then_some(u64::from(s)))
            }
            WriterSeq::Counter { seq, lock_count } => {
                if mem.read_u64(mm.wrapping_add(lock_count))? & RWSEM_WRITER_LOCKED != 0 {
                    return Ok(None);
                }
                let s = u64::from(mem.read_u32(mm.wrapping_add(seq))?);
                let locked = mem.read_u64(mm.wrapping_add(lock_count))? & RWSEM_WRITER_LOCKED;
                Ok((locked == 0).then_some(s))
            }
        }
    }
}

/// How reads of one mm are made stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A dump: one read is the state.
    Frozen,
    /// A live kernel: at most `reads` walks, with the writer count when there is one.
    Live { reads: u32, seq: Option<WriterSeq> },
}

impl Kernel {
    /// How to read one mm of this kernel: once on a dump; live, at most `reads` walks,
    /// with the writer count when the kernel keeps one.
    pub fn read_window(&self, reads: u32) -> Result<Window, KernelError> {
        Ok(if self.is_live() {
            Window::Live {
                reads,
                seq: self.vma_layout()?.writer_seq,
            }
        } else {
            Window::Frozen
        })
    }
}

/// What the caller read inside the window: its result, or the sign that the mm moved
/// under it (e.g. the two reads of /proc/PID/maps differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    Whole(T),
    Torn,
}

/// A read that held, with the walk it was made against.
#[derive(Debug, Clone)]
pub struct Stable<W, T> {
    pub walk: W,
    pub value: T,
    /// Walks it took (1 on a dump or with a writer count and no writer around).
    pub reads: u32,
}

#[derive(Debug, Error)]
pub enum SnapshotError<E> {
    /// No read held within the bound.
    #[error("changed on every one of {reads} reads")]
    Unstable { reads: u32 },
    /// Reading the writer count failed.
    #[error("reading mm_struct.mm_lock_seq: {0}")]
    Seq(MemError),
    /// The walk or the read failed the same way twice in a row (or on a dump).
    #[error(transparent)]
    Read(E),
}

/// Walk and read `mm` until one read holds (see the module comment). `walk` reads the
/// VMA structure and whatever must not move (it is compared between attempts); `inside`
/// reads the rest against it. An error of `inside` is, like a finding, the state only
/// when the read around it held; a walk that fails twice in a row fails the read.
pub fn read_stable<W: PartialEq, T, E: std::fmt::Display>(
    mem: &dyn Memory,
    mm: u64,
    how: Window,
    mut walk: impl FnMut() -> Result<W, E>,
    mut inside: impl FnMut(&W) -> Result<Attempt<T>, E>,
) -> Result<Stable<W, T>, SnapshotError<E>> {
    let (bound, seq) = match how {
        Window::Frozen => {
            let w = walk().map_err(SnapshotError::Read)?;
            return match inside(&w).map_err(SnapshotError::Read)? {
                Attempt::Whole(value) => Ok(Stable {
                    walk: w,
                    value,
                    reads: 1,
                }),
                Attempt::Torn => Err(SnapshotError::Unstable { reads: 1 }),
            };
        }
        Window::Live { reads, seq } => (reads.max(1), seq),
    };
    let mut w = Walks {
        walk: &mut walk,
        reads: 0,
        bound,
        failed: None,
    };
    // Without a writer count, the closing walk of one attempt opens the next.
    let mut open: Option<W> = None;
    while w.reads < bound {
        let before = match &seq {
            Some(s) => match s.quiet(mem, mm).map_err(SnapshotError::Seq)? {
                Some(v) => Some(v),
                None => {
                    // A writer holds the mm: give it a moment rather than spin.
                    w.reads += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
            },
            None => None,
        };
        let Some(opened) = open.take().map_or_else(|| w.next(), |o| Ok(Some(o)))? else {
            continue;
        };
        let got = inside(&opened);
        let held = match &seq {
            Some(s) => s.quiet(mem, mm).map_err(SnapshotError::Seq)? == before,
            None => match w.next()? {
                Some(closing) => {
                    let same = closing == opened;
                    open = Some(closing);
                    same
                }
                None => false,
            },
        };
        match (held, got) {
            (true, Ok(Attempt::Whole(value))) => {
                return Ok(Stable {
                    walk: opened,
                    value,
                    reads: w.reads,
                })
            }
            (true, Err(e)) => return Err(SnapshotError::Read(e)),
            _ => {}
        }
    }
    Err(SnapshotError::Unstable { reads: w.reads })
}

/// The walks of one live read, counted against the bound.
struct Walks<'a, W, E> {
    walk: &'a mut dyn FnMut() -> Result<W, E>,
    reads: u32,
    bound: u32,
    /// The last walk failed with this (twice in a row: the state, not a race).
    failed: Option<String>,
}

impl<W, E: std::fmt::Display> Walks<'_, W, E> {
    /// The next walk; `None` when it failed once or the bound is reached.
    fn next(&mut self) -> Result<Option<W>, SnapshotError<E>> {
        if self.reads >= self.bound {
            return Ok(None);
        }
        self.reads += 1;
        match (self.walk)() {
            Ok(w) => {
                self.failed = None;
                Ok(Some(w))
            }
            Err(e) => {
                let text = e.to_string();
                if self.failed.as_deref() == Some(text.as_str()) {
                    return Err(SnapshotError::Read(e));
                }
                self.failed = Some(text);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;
