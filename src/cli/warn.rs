//! Impossible records in `vmas`, `tree` and `ps`: they are still printed, marked,
//! each finding is one warning line on stderr, and the exit status is 1.

use crate::check::{Finding, Report};
use crate::kernel::vma::VmaInfo;

/// One `vmscope: warning:` line per finding, about `subject` (e.g. `pid 42`).
pub fn print(subject: &str, r: &Report) {
    let prefix = super::color::warning_prefix();
    for f in &r.findings {
        eprintln!("{prefix} {subject}: {f}");
    }
}

/// 1 when anything was found, else 0.
pub fn status(r: &Report) -> i32 {
    i32::from(!r.ok())
}

/// The findings about the record at `node`.
pub fn about(r: &Report, node: u64) -> Vec<Finding> {
    r.findings
        .iter()
        .filter(|f| f.node == node)
        .cloned()
        .collect()
}

/// /proc/PID/maps text, each bad VMA's line ending in its mark.
pub fn maps_text(vmas: &[VmaInfo], ok: &[bool], r: &Report) -> Vec<u8> {
    let mut out = Vec::with_capacity(vmas.len() * 80);
    for (v, &good) in vmas.iter().zip(ok) {
        v.write_maps_line(&mut out);
        if !good {
            out.pop();
            out.extend_from_slice(crate::render::bad_mark(&about(r, v.vma)).as_bytes());
            out.push(b'\n');
        }
    }
    out
}
