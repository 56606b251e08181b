//! See ../lib.rs for where this layer sits.
pub mod tree;
