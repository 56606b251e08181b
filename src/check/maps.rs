//! `/proc/PID/maps` (live from /proc, offline from `--maps-dir DIR/PID/maps`)
//! compared line by line with the VMAs rendered from the walked tree.

use super::Report;

/// At most this many differing lines become findings; the tally counts them all.
const MAX_LINE_FINDINGS: usize = 20;

/// Start address of a maps line (`start-end perms ...`), for the finding's node.
fn line_start(line: &str) -> u64 {
    line.split('-').next().and_then(|s| u64::from_str_radix(s, 16).ok()).unwrap_or(0)
}

/// Compare the kernel's own text with ours; `source` names where it came from.
pub fn compare(expected: &str, rendered: &str, source: &str, r: &mut Report) {
    let want: Vec<&str> = expected.lines().collect();
    let got: Vec<&str> = rendered.lines().collect();
    let mut shown = 0;
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i).copied(), got.get(i).copied());
        if w == g {
            r.checked("maps", 1);
            continue;
        }
        if shown < MAX_LINE_FINDINGS {
            r.fail(
                "maps",
                line_start(w.or(g).unwrap_or("")),
                format!("{source} line {}", i + 1),
                w.unwrap_or("(no line)"),
                g.unwrap_or("(no line)"),
            );
            shown += 1;
        } else if let Some(t) = r.checks.get_mut("maps") {
            t.checked += 1;
            t.failed += 1;
        }
    }
}
