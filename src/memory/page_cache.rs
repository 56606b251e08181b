//! A small LRU of decompressed pages, keyed by page frame number.
//! Kept tiny on purpose: task and mm walks touch few pages repeatedly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct PageCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    tick: u64,
    pages: HashMap<u64, (u64, Arc<[u8]>)>,
}

impl PageCache {
    pub fn new(capacity: usize) -> PageCache {
        PageCache {
            inner: Mutex::new(Inner {
                tick: 0,
                pages: HashMap::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, pfn: u64) -> Option<Arc<[u8]>> {
        let mut g = self.inner.lock().ok()?;
        g.tick += 1;
        let t = g.tick;
        let e = g.pages.get_mut(&pfn)?;
        e.0 = t;
        Some(e.1.clone())
    }

    pub fn insert(&self, pfn: u64, page: Arc<[u8]>) {
        let Ok(mut g) = self.inner.lock() else { return };
        if g.pages.len() >= self.capacity && !g.pages.contains_key(&pfn) {
            // Evict the least recently used page; a linear scan is cheap at this size.
            if let Some(old) = g.pages.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| *k) {
                g.pages.remove(&old);
            }
        }
        g.tick += 1;
        let t = g.tick;
        g.pages.insert(pfn, (t, page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let c = PageCache::new(2);
        c.insert(1, Arc::from(vec![1u8]));
        c.insert(2, Arc::from(vec![2u8]));
        assert!(c.get(1).is_some()); // 2 is now the oldest
        c.insert(3, Arc::from(vec![3u8]));
        assert!(c.get(2).is_none());
        assert_eq!(c.get(1).as_deref(), Some(&[1u8][..]));
        assert_eq!(c.get(3).as_deref(), Some(&[3u8][..]));
    }
}
