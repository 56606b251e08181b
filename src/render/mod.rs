//! See ../lib.rs for where this layer sits.
pub mod bt;
pub mod check;
pub mod log;
pub mod tree;
