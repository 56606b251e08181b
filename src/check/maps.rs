//! `/proc/PID/maps` (live from /proc, offline from `--maps-dir DIR/PID/maps`)
//! compared line by line with the VMAs rendered from the walked tree.

use super::Report;

/// At most this many differing lines become findings; the tally counts them all.
const MAX_LINE_FINDINGS: usize = 20;

/// Start address of a maps line (`start-end perms ...`), for the finding's node.
fn line_start(line: &str) -> u64 {
    line.split('-')
        .next()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or(0)
}

fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// Compare the kernel's own text with ours; `source` names where it came from.
pub fn compare(expected: &[u8], rendered: &[u8], source: &str, r: &mut Report) {
    let want = lines(expected);
    let got = lines(rendered);
    let mut shown = 0;
    let mut same = 0;
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i).copied(), got.get(i).copied());
        if w == g {
            same += 1;
            continue;
        }
        let show = |l: Option<&[u8]>| {
            l.map_or("(no line)".to_string(), |l| {
                String::from_utf8_lossy(l).into_owned()
            })
        };
        if shown < MAX_LINE_FINDINGS {
            let (ws, gs) = (show(w), show(g));
            let node = line_start(if w.is_some() { &ws } else { &gs });
            r.fail("maps", node, format!("{source} line {}", i + 1), ws, gs);
            shown += 1;
        } else {
            let t = r.checks.entry("maps");
            t.checked += 1;
            t.failed += 1;
        }
    }
    r.checked("maps", same);
}
