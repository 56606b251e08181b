//! The stability loop on scripted walks, and the writer count on synthetic memory.

use super::*;
use crate::trees::sparse::SparseMemory;
use std::cell::{Cell, RefCell};
use std::sync::Mutex;

const MM: u64 = 0xffff_8880_0500_0000;
const SEQ: u64 = 0x90;
const COUNT: u64 = 0x78;

/// Walks that return the scripted values in turn (the last one forever).
fn script<'a>(vals: &'a [&'static str]) -> impl FnMut() -> Result<&'static str, String> + 'a {
    let i = Cell::new(0);
    move || {
        let v = vals[i.get().min(vals.len() - 1)];
        i.set(i.get() + 1);
        if let Some(e) = v.strip_prefix("err:") {
            return Err(e.to_string());
        }
        Ok(v)
    }
}

fn live(reads: u32) -> Window {
    Window::Live { reads, seq: None }
}

fn whole(w: &&'static str) -> Result<Attempt<String>, String> {
    Ok(Attempt::Whole(format!("read under {w}")))
}

#[test]
fn a_dump_is_read_once() {
    let m = SparseMemory::new();
    let s = read_stable(&m, MM, Window::Frozen, script(&["a", "b"]), whole).unwrap();
    assert_eq!((s.walk, s.reads), ("a", 1));
}

#[test]
fn two_equal_walks_around_the_read_hold() {
    let m = SparseMemory::new();
    let s = read_stable(&m, MM, live(10), script(&["a", "b", "c", "c"]), whole).unwrap();
    // a|b differ, b|c differ, c|c hold: the read made under the opening walk c counts.
    assert_eq!(
        (s.walk, s.value.as_str(), s.reads),
        ("c", "read under c", 4)
    );
}

#[test]
fn a_mm_that_never_stands_still_is_unstable_within_the_bound() {
    let m = SparseMemory::new();
    let n = Cell::new(0u32);
    let walk = || {
        n.set(n.get() + 1);
        Ok::<u32, String>(n.get())
    };
    let e = read_stable(&m, MM, live(6), walk, |_| Ok(Attempt::Whole(()))).unwrap_err();
    assert!(matches!(e, SnapshotError::Unstable { reads: 6 }), "{e}");
    assert_eq!(e.to_string(), "changed on every one of 6 reads");
    assert_eq!(n.get(), 6);
}

#[test]
fn a_torn_read_is_tried_again() {
    let m = SparseMemory::new();
    let torn = Cell::new(true);
    let inside = |_: &&str| {
        Ok::<_, String>(if torn.replace(false) {
            Attempt::Torn
        } else {
            Attempt::Whole(1)
        })
    };
    let s = read_stable(&m, MM, live(10), script(&["a"]), inside).unwrap();
    assert_eq!(s.reads, 3);
}

#[test]
fn a_walk_that_fails_again_is_the_state() {
    let m = SparseMemory::new();
    let e = read_stable(&m, MM, live(10), script(&["err:x", "err:x"]), whole).unwrap_err();
    assert!(matches!(e, SnapshotError::Read(ref s) if s == "x"), "{e}");
    // A passing error is not.
    let s = read_stable(&m, MM, live(10), script(&["err:x", "a"]), whole).unwrap();
    assert_eq!(s.walk, "a");
}

#[test]
fn an_error_inside_counts_only_when_the_read_held() {
    let m = SparseMemory::new();
    let fails = |w: &&str| -> Result<Attempt<()>, String> {
        match *w {
            "b" => Err("bad VMA".into()),
            _ => Ok(Attempt::Whole(())),
        }
    };
    // Under a moving walk the error is a race and the next read holds...
    let s = read_stable(&m, MM, live(10), script(&["b", "c", "c"]), fails).unwrap();
    assert_eq!(s.walk, "c");
    // ...between two equal walks it is the state.
    let e = read_stable(&m, MM, live(10), script(&["b", "b"]), fails).unwrap_err();
    assert!(
        matches!(e, SnapshotError::Read(ref s) if s == "bad VMA"),
        "{e}"
    );
}

/// Synthetic mm memory whose writer fields a test can change between reads.
struct Mm(Mutex<SparseMemory>);

impl Memory for Mm {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.0.lock().unwrap().read(addr, buf)
    }
}

impl Mm {
    fn new(seq: u32, count: u64) -> Self {
        let mut m = SparseMemory::new();
        m.write(MM, &[0u8; 256]);
        m.write(MM + SEQ, &seq.to_le_bytes());
        m.write_u64(MM + COUNT, count);
        Mm(Mutex::new(m))
    }
    fn set(&self, seq: u32, count: u64) {
        let mut m = self.0.lock().unwrap();
        m.write(MM + SEQ, &seq.to_le_bytes());
        m.write_u64(MM + COUNT, count);
    }
}

#[test]
fn a_writer_count_makes_one_read_enough() {
    let counter = WriterSeq::Counter {
        seq: SEQ,
        lock_count: COUNT,
    };
    let how = Window::Live {
        reads: 10,
        seq: Some(counter),
    };
    let m = Mm::new(7, 0);
    let s = read_stable(&m, MM, how, script(&["a", "b"]), whole).unwrap();
    assert_eq!((s.walk, s.reads), ("a", 1));
    // A writer that came and went during the first walk bumped the count.
    let m = Mm::new(7, 0);
    let walks = RefCell::new(0);
    let walk = || {
        *walks.borrow_mut() += 1;
        if *walks.borrow() == 1 {
            m.set(8, 0);
        }
        Ok::<_, String>(*walks.borrow())
    };
    let s = read_stable(&m, MM, how, walk, |_| Ok(Attempt::Whole(()))).unwrap();
    assert_eq!((s.walk, s.reads), (2, 2));
    // One that still holds mmap_lock is seen by its bit, whatever the count says.
    let m = Mm::new(7, 0x100 | RWSEM_WRITER_LOCKED);
    assert_eq!(counter.quiet(&m, MM).unwrap(), None);
    let e = read_stable(&m, MM, how, script(&["a"]), whole).unwrap_err();
    assert!(matches!(e, SnapshotError::Unstable { reads: 10 }));
}

#[test]
fn a_seqcount_is_odd_while_a_writer_holds_the_mm() {
    let sc = WriterSeq::Seqcount { seq: SEQ };
    assert_eq!(sc.quiet(&Mm::new(4, 0), MM).unwrap(), Some(4));
    assert_eq!(sc.quiet(&Mm::new(5, 0), MM).unwrap(), None);
}

/// A type model answering a fixed set of member offsets.
struct Members(&'static [(&'static str, u64)]);

impl TypeLookup for Members {
    fn member(&self, ty: &str, path: &str) -> Option<(u64, u64)> {
        let want = format!("{ty}.{path}");
        self.0
            .iter()
            .find(|(p, _)| *p == want)
            .map(|(_, o)| (*o, 4))
    }
    fn struct_size(&self, _: &str) -> Option<u64> {
        None
    }
}

#[test]
fn the_writer_count_is_probed_from_its_type() {
    // 6.13+: seqcount_t; 6.4-6.12: int beside mmap_lock; before: none.
    let seqcount = Members(&[
        ("mm_struct.mm_lock_seq", 0x90),
        ("mm_struct.mm_lock_seq.sequence", 0x90),
        ("mm_struct.mmap_lock.count", 0x78),
    ]);
    assert_eq!(
        WriterSeq::probe(&seqcount),
        Some(WriterSeq::Seqcount { seq: 0x90 })
    );
    let int = Members(&[
        ("mm_struct.mm_lock_seq", 0x90),
        ("mm_struct.mmap_lock.count", 0x78),
    ]);
    assert_eq!(
        WriterSeq::probe(&int),
        Some(WriterSeq::Counter {
            seq: 0x90,
            lock_count: 0x78
        })
    );
    assert_eq!(
        WriterSeq::probe(&Members(&[("mm_struct.mmap_lock.count", 0x78)])),
        None
    );
}
