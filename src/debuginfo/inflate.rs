//! A compressed `.debug_info` inflated on a thread of its own while readers use the part
//! already inflated: the name-index scan follows the decompressor unit by unit instead of
//! waiting for all of it (inflating is one serial stream; the scan takes the other core).
//!
//! The loader's one `unsafe` lives here: the inflating thread writes the output buffer past
//! `ready` and publishes each step with a release store; readers see only `..ready`, bytes
//! that never change again.

use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use memmap2::{Mmap, MmapMut};

/// Bytes inflated between two publications (and wake-ups of waiting readers): a 64th of the
/// section, within these bounds (small sections stream too, large ones in few steps).
const STEP: std::ops::RangeInclusive<usize> = (16 << 10)..=(1 << 20);

/// The compression of a section, as its header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Zlib,
    Zstd,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Zlib => "zlib",
            Codec::Zstd => "zstd",
        }
    }
}

/// A section being inflated (or inflated) by its own thread.
pub(crate) struct Inflating {
    shared: Arc<Shared>,
}

struct Shared {
    /// start of `buf`'s `len` bytes; written only through this pointer
    out: *mut u8,
    len: usize,
    /// owns the memory behind `out` (anonymous, zero-filled, never touched otherwise)
    _buf: MmapMut,
    ready: AtomicUsize,
    state: Mutex<State>,
    wake: Condvar,
    /// set when the reader side is dropped: the thread stops at its next step
    cancel: AtomicBool,
}

// SAFETY: `out` points into `_buf`, which lives as long as `Shared`. Only the inflating thread
// writes, and only at or past `ready`; readers read only below it (see `Inflating::upto`).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

enum State {
    Running,
    Done,
    Failed(String),
}

impl Inflating {
    /// Start inflating `input[range]` (compressed with `codec`) into `len` bytes.
    pub(crate) fn start(
        input: Arc<Mmap>,
        range: Range<usize>,
        codec: Codec,
        len: usize,
    ) -> std::io::Result<Inflating> {
        let mut buf = MmapMut::map_anon(len.max(1))?;
        let shared = Arc::new(Shared {
            out: buf.as_mut_ptr(),
            len,
            _buf: buf,
            ready: AtomicUsize::new(0),
            state: Mutex::new(State::Running),
            wake: Condvar::new(),
            cancel: AtomicBool::new(false),
        });
        #[cfg(target_os = "linux")]
        {
            // Left alone, the inflating thread would fault in every page of its output
            // itself, on the critical path (40,000 faults for a 160 MB .debug_info, a sixth
            // of its time). This thread populates the mapping ahead of it instead; it writes
            // no byte (the pages stay zero until filled). Only a hint: a kernel without
            // MADV_POPULATE_WRITE (before 5.14) says no and the inflater faults as before.
            let ahead = Arc::clone(&shared);
            let _ = std::thread::Builder::new()
                .name("inflate-populate".into())
                .spawn(move || {
                    let _ = ahead._buf.advise(memmap2::Advice::PopulateWrite);
                });
        }
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("inflate".into())
            .spawn(move || {
                // Whatever happens (an error, even a panic), readers are woken with an answer.
                let mut guard = Finish {
                    shared: &worker,
                    result: Err("the inflating thread stopped".into()),
                };
                let data = input.get(range).unwrap_or(&[]);
                guard.result = match codec {
                    Codec::Zlib => inflate_zlib(&worker, data),
                    Codec::Zstd => inflate_zstd(&worker, data),
                }
                .map_err(|e| format!("{} data {e}", codec.name()));
            })?;
        Ok(Inflating { shared })
    }

    /// Size of the section once inflated (from its compression header).
    pub(crate) fn len(&self) -> usize {
        self.shared.len
    }

    /// Whether every byte is there (or the thread failed): waiting is over.
    pub(crate) fn finished(&self) -> bool {
        let s = &*self.shared;
        s.ready.load(Ordering::Acquire) == s.len || !matches!(*s.lock(), State::Running)
    }

    /// The inflated bytes so far, at least `want` of them (fewer only at the end of the
    /// section); waits for the thread as needed. An error when it failed before `want`.
    pub(crate) fn upto(&self, want: usize) -> Result<&[u8], String> {
        let s = &*self.shared;
        let want = want.min(s.len);
        if s.ready.load(Ordering::Acquire) >= want {
            return Ok(s.prefix());
        }
        // `ready` moves and the state changes only under this lock, with a notify
        let mut state = s.lock();
        loop {
            if s.ready.load(Ordering::Acquire) >= want {
                return Ok(s.prefix());
            }
            match &*state {
                State::Running => {}
                State::Done => return Ok(s.prefix()),
                State::Failed(e) => return Err(e.clone()),
            }
            state = s.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Inflating {
    fn drop(&mut self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    /// The published bytes.
    fn prefix(&self) -> &[u8] {
        let ready = self.ready.load(Ordering::Acquire);
        // SAFETY: `..ready` was written before the release store that published it and is
        // never written again; the buffer lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.out, ready) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next step of output (see [`STEP`]), starting at `at` (= `ready`).
    #[allow(clippy::mut_from_ref)]
    fn step_buf(&self, at: usize) -> &mut [u8] {
        let step = (self.len / 64).clamp(*STEP.start(), *STEP.end());
        let end = at.saturating_add(step).min(self.len);
        let at = at.min(end);
        // SAFETY: `at..end` lies at or past `ready`, inside the buffer: no reader looks at it
        // until it is published, and only this thread (the only caller) writes it.
        unsafe { std::slice::from_raw_parts_mut(self.out.add(at), end - at) }
    }

    /// Make `..ready` visible to readers and wake those waiting.
    fn publish(&self, ready: usize) {
        let _g = self.lock();
        self.ready.store(ready, Ordering::Release);
        self.wake.notify_all();
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Sets the final state and wakes every reader when the thread ends, however it ends.
struct Finish<'a> {
    shared: &'a Shared,
    result: Result<(), String>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        *state = match std::mem::replace(&mut self.result, Ok(())) {
            Ok(()) => State::Done,
            Err(e) => State::Failed(e),
        };
        self.shared.wake.notify_all();
    }
}

fn inflate_zlib(s: &Shared, data: &[u8]) -> Result<(), String> {
    let mut z = flate2::Decompress::new(true);
    let mut at = 0usize;
    // every step moves input or output forward: bounded by their sizes
    while at < s.len {
        if s.cancelled() {
            return Err("inflating cancelled".into());
        }
        let (in0, out0) = (z.total_in(), z.total_out());
        let input = data.get(in0 as usize..).unwrap_or(&[]);
        let status = z
            .decompress(input, s.step_buf(at), flate2::FlushDecompress::None)
            .map_err(|e| {
                format!(
                    "corrupt at compressed byte {:#x} ({e}), {:#x} of {:#x} bytes inflated",
                    z.total_in(),
                    z.total_out(),
                    s.len
                )
            })?;
        at = z.total_out() as usize;
        s.publish(at);
        let stuck = z.total_in() == in0 && z.total_out() == out0;
        if at < s.len && (status == flate2::Status::StreamEnd || stuck) {
            return Err(format!(
                "ends at compressed byte {:#x} after {at:#x} of the {:#x} bytes its header \
                 declares (truncated?)",
                z.total_in(),
                s.len
            ));
        }
    }
    Ok(())
}

fn inflate_zstd(s: &Shared, data: &[u8]) -> Result<(), String> {
    use ruzstd::frame::ReadFrameHeaderError as H;
    use ruzstd::frame_decoder::FrameDecoderError as F;
    let mut input = data;
    let mut at = 0usize;
    // frames one after another; each read moves the output forward or ends the frame
    while !input.is_empty() {
        let consumed = data.len() - input.len();
        let mut frame = match ruzstd::StreamingDecoder::new(&mut input) {
            Ok(f) => f,
            Err(F::ReadFrameHeaderError(H::SkipFrame { length, .. })) => {
                input = input.get(length as usize..).ok_or_else(|| {
                    format!("truncated in a skippable frame at compressed byte {consumed:#x}")
                })?;
                continue;
            }
            Err(e) => return Err(format!("corrupt at compressed byte {consumed:#x}: {e}")),
        };
        loop {
            if s.cancelled() {
                return Err("inflating cancelled".into());
            }
            let out = s.step_buf(at);
            if out.is_empty() {
                let mut more = [0u8; 1];
                match frame.read(&mut more) {
                    Ok(0) => break,
                    _ => return Err(format!("inflates past the {:#x} bytes declared", s.len)),
                }
            }
            let n = frame.read(out).map_err(|e| {
                format!("corrupt in the frame at compressed byte {consumed:#x}: {e}")
            })?;
            if n == 0 {
                break;
            }
            at += n;
            s.publish(at);
        }
    }
    if at != s.len {
        return Err(format!(
            "ends after {at:#x} of the {:#x} bytes its header declares (truncated?)",
            s.len
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mapped(bytes: &[u8]) -> Arc<Mmap> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        Arc::new(unsafe { Mmap::map(&f) }.unwrap())
    }

    fn zlib(text: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(text).unwrap();
        z.finish().unwrap()
    }

    /// Text that compresses poorly, several steps long.
    fn text() -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..(3 << 20) + 12345)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    b'a'
                } else {
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn zlib_inflates_whole_and_by_prefix() {
        let t = text();
        let z = zlib(&t);
        let map = mapped(&z);
        let s = Inflating::start(map, 0..z.len(), Codec::Zlib, t.len()).unwrap();
        let p = s.upto(10).unwrap();
        assert!(p.len() >= 10 && p == &t[..p.len()]);
        assert_eq!(s.upto(usize::MAX).unwrap(), &t[..]);
        assert!(s.finished());
    }

    #[test]
    fn zlib_truncated_or_corrupt_is_an_error_not_a_hang() {
        let t = text();
        let z = zlib(&t);
        let map = mapped(&z);
        let s = Inflating::start(map.clone(), 0..z.len() / 2, Codec::Zlib, t.len()).unwrap();
        let e = s.upto(t.len()).unwrap_err();
        assert!(e.contains("zlib data ends at compressed byte"), "{e}");
        // what was inflated before the end is still there
        assert!(s.upto(100).is_ok());

        let mut bad = z.clone();
        for b in &mut bad[z.len() / 3..z.len() / 3 + 64] {
            *b = 0xff;
        }
        let s = Inflating::start(mapped(&bad), 0..bad.len(), Codec::Zlib, t.len()).unwrap();
        let e = s.upto(t.len()).unwrap_err();
        assert!(e.contains("zlib data"), "{e}");

        // a header declaring more than the stream holds
        let s = Inflating::start(map, 0..z.len(), Codec::Zlib, t.len() + 1).unwrap();
        assert!(s.upto(t.len() + 1).is_err());
    }

    /// A zstd frame of raw (stored) blocks: no encoder needed.
    fn zstd_raw(text: &[u8]) -> Vec<u8> {
        // magic, no content size, window 128 KiB
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
        let blocks: Vec<&[u8]> = text.chunks(1 << 17).collect();
        for (i, b) in blocks.iter().enumerate() {
            let last = (i + 1 == blocks.len()) as u32;
            let head = last | ((b.len() as u32) << 3);
            z.extend_from_slice(&head.to_le_bytes()[..3]);
            z.extend_from_slice(b);
        }
        z
    }

    #[test]
    fn zstd_inflates_and_reports_truncation() {
        let t = text();
        let z = zstd_raw(&t);
        let s = Inflating::start(mapped(&z), 0..z.len(), Codec::Zstd, t.len()).unwrap();
        assert_eq!(s.upto(usize::MAX).unwrap(), &t[..]);
        let s = Inflating::start(mapped(&z), 0..z.len() - 10, Codec::Zstd, t.len()).unwrap();
        assert!(s.upto(usize::MAX).is_err());
    }
}
