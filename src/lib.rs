//! vmscope: look inside Linux memory management.
//!
//! Data flows one way through the modules below:
//! `debuginfo` (DWARF/BTF) -> `types` (model + layout) -> `memory` (dumps, kcore, paging)
//! -> `kernel` (tasks, mm, VMAs) -> `trees` (raw walkers) / `reimpl` (our own trees)
//! -> `check` (invariants, cross-checks) -> `render` (tables, diagrams, JSON) -> `cli`.

pub mod check;
pub mod cli;
pub mod debuginfo;
pub mod input;
pub mod kernel;
pub mod memory;
pub mod reimpl;
pub mod render;
pub mod rng;
pub mod trees;
pub mod types;
