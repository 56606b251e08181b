//! See ../lib.rs for where this layer sits.
pub mod check;
pub mod layout_json;
pub mod pahole;
pub mod tree;

/// Hex serializers for JSON output (u64 addresses as "0x..." strings).
pub use crate::trees::{ser_hex, ser_hex_vec};
