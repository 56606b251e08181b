//! A sparse, HashMap-backed [`Memory`] for building synthetic kernel memory images in
//! tests (encoded maple nodes, rb-trees, lists). Pages never written read as a fault,
//! so a walker that strays outside the image is caught.

use crate::memory::{MemError, Memory};
use std::collections::HashMap;

const PAGE: u64 = 4096;

/// Kernel virtual memory made of explicitly written pages.
#[derive(Debug, Default, Clone)]
pub struct SparseMemory {
    pages: HashMap<u64, Box<[u8; PAGE as usize]>>,
}

impl SparseMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `data` at `addr`, creating zero-filled pages as needed.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = addr.wrapping_add(i as u64);
            let page = self
                .pages
                .entry(a & !(PAGE - 1))
                .or_insert_with(|| Box::new([0; PAGE as usize]));
            if let Some(slot) = page.get_mut((a & (PAGE - 1)) as usize) {
                *slot = *b;
            }
        }
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    pub fn write_u8(&mut self, addr: u64, v: u8) {
        self.write(addr, &[v]);
    }
}

impl Memory for SparseMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        for (i, out) in buf.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            let page = self
                .pages
                .get(&(a & !(PAGE - 1)))
                .ok_or(MemError::NotMapped { addr: a })?;
            *out = *page
                .get((a & (PAGE - 1)) as usize)
                .ok_or(MemError::NotMapped { addr: a })?;
        }
        Ok(())
    }
}

/// Memory that a writer changes while it is read, for testing live walks: it serves
/// `states[i]`, and moves on to the next state just before a read that starts at the
/// address given for that step (the writer acts right before the reader gets there).
#[derive(Debug, Default)]
pub struct ChangingMemory {
    states: Vec<SparseMemory>,
    /// `steps[i]`: the read that moves `states[i]` to `states[i + 1]`.
    steps: Vec<u64>,
    at: std::sync::atomic::AtomicUsize,
}

impl ChangingMemory {
    pub fn new(first: SparseMemory) -> Self {
        ChangingMemory {
            states: vec![first],
            ..Self::default()
        }
    }

    /// The next state, reached when `trigger` is read.
    pub fn then(mut self, trigger: u64, state: SparseMemory) -> Self {
        self.steps.push(trigger);
        self.states.push(state);
        self
    }

    /// Index of the state now served.
    pub fn state(&self) -> usize {
        self.at.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Memory for ChangingMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut i = self.at.load(Relaxed);
        if self.steps.get(i) == Some(&addr) {
            i += 1;
            self.at.store(i, Relaxed);
        }
        match self.states.get(i) {
            Some(s) => s.read(addr, buf),
            None => Err(MemError::NotMapped { addr }),
        }
    }
}
