//! See ../lib.rs for where this layer sits.
pub mod bt;
pub mod check;
pub mod costs;
pub mod dot;
pub mod graph;
pub mod html;
pub mod layout_json;
pub mod log;
pub mod modules;
pub mod pahole;
pub mod ps;
pub mod style;
pub mod svg;
pub mod table;
pub mod tree;
pub mod value;
pub mod view;
pub mod vtop;

/// Hex serializers for JSON output (u64 addresses as "0x..." strings).
pub use crate::trees::{ser_hex, ser_hex_vec};

/// Print `v` on stdout as indented JSON and a newline.
pub fn print_json(v: &impl serde::Serialize) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    writeln!(std::io::stdout().lock(), "{text}")
}

/// The mark a bad record carries in text output: ` [bad: CHECK, ...]` for its
/// findings, empty for none.
pub fn bad_mark(findings: &[crate::check::Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let checks: Vec<&str> = findings.iter().map(|f| f.check).collect();
    format!(" [bad: {}]", checks.join(", "))
}
