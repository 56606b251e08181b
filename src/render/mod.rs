//! See ../lib.rs for where this layer sits.
pub mod check;
pub mod layout_json;
pub mod pahole;
pub mod ps;
pub mod table;
pub mod tree;

/// Hex serializers for JSON output (u64 addresses as "0x..." strings).
pub use crate::trees::{ser_hex, ser_hex_vec};

/// Print `v` on stdout as indented JSON and a newline.
pub fn print_json(v: &impl serde::Serialize) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    writeln!(std::io::stdout().lock(), "{text}")
}
