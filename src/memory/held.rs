//! [`HeldPages`]: kernel virtual memory read a whole page at a time and kept until
//! [`HeldPages::release`]. A live read of one mm reads thousands of small objects
//! (maple nodes, `vm_area_struct`s, the nodes a lookup descends through) that share
//! slab pages; through /proc/kcore each small read is a syscall. Holding the pages for
//! one attempt makes the attempt both shorter (fewer reads, so a smaller window for a
//! writer to hit) and more coherent (each page is one moment). The caller releases
//! the pages before every read that must see the present.

use super::{MemError, Memory};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const PAGE: u64 = 4096;

/// Pages held at most; past it the oldest are not kept (reads stay correct).
const MAX_PAGES: usize = 1 << 16;

pub struct HeldPages<'a> {
    inner: &'a dyn Memory,
    pages: Mutex<HashMap<u64, Arc<[u8]>>>,
}

impl<'a> HeldPages<'a> {
    pub fn new(inner: &'a dyn Memory) -> Self {
        HeldPages {
            inner,
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// The memory under the held pages (reads that must see the present).
    pub fn inner(&self) -> &'a dyn Memory {
        self.inner
    }

    /// Forget every page: the next reads see memory as it is now.
    pub fn release(&self) {
        if let Ok(mut p) = self.pages.lock() {
            p.clear();
        }
    }

    /// The page at `base`, read whole the first time; `None` if it cannot be read
    /// whole (the caller then reads just the bytes it wants).
    fn page(&self, base: u64) -> Option<Arc<[u8]>> {
        if let Some(p) = self.pages.lock().ok()?.get(&base) {
            return Some(p.clone());
        }
        let mut buf = vec![0u8; PAGE as usize];
        self.inner.read(base, &mut buf).ok()?;
        let page: Arc<[u8]> = buf.into();
        let mut held = self.pages.lock().ok()?;
        if held.len() < MAX_PAGES {
            held.insert(base, page.clone());
        }
        Some(page)
    }
}

impl Memory for HeldPages<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let (base, off) = (a & !(PAGE - 1), (a & (PAGE - 1)) as usize);
            let n = (PAGE as usize - off).min(buf.len() - done);
            let out = &mut buf[done..done + n];
            match self.page(base).as_deref().and_then(|p| p.get(off..off + n)) {
                Some(src) => out.copy_from_slice(src),
                None => self.inner.read(a, out)?,
            }
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory whose bytes are a counter bumped on every read: shows when a read
    /// reached the inner memory.
    struct Ticking(std::sync::atomic::AtomicU8);

    impl Memory for Ticking {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            if addr >= 0x10_0000 {
                return Err(MemError::NotMapped { addr });
            }
            let t = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            buf.fill(t);
            Ok(())
        }
    }

    #[test]
    fn pages_are_held_until_released() {
        let inner = Ticking(Default::default());
        let h = HeldPages::new(&inner);
        let mut a = [0u8; 16];
        h.read(0x1ff8, &mut a).unwrap(); // two pages: two inner reads
        assert_eq!(a[..8], [0; 8]);
        assert_eq!(a[8..], [1; 8]);
        h.read(0x1000, &mut a).unwrap();
        assert_eq!(a, [0; 16]);
        h.release();
        h.read(0x1000, &mut a).unwrap();
        assert_eq!(a, [2; 16]);
        // An unreadable page is not held, and its fault is the inner one.
        assert!(matches!(
            h.read(0x10_0000, &mut a),
            Err(MemError::NotMapped { addr: 0x10_0000 })
        ));
    }
}
