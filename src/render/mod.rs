//! See ../lib.rs for where this layer sits.
pub mod check;
pub mod layout_json;
pub mod pahole;
pub mod tree;
