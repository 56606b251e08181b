//! Kernel objects read from memory: VMAs of a process and their names.

pub mod dpath;
pub mod vma;
pub mod vma_layout;
