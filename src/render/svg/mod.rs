//! SVG pictures written as plain text: the VMA trees (`tree --svg`), with a tiny
//! element writer and XML escaping of their own (no drawing crate).

pub mod bars;
pub mod graph;
pub mod layout;
pub mod maple;
pub mod rb;
pub mod strip;

use super::view::{Fold, VmaLabel};
use std::fmt::Write as _;

/// Text for an XML attribute or element: `&`, `<`, `>`, quotes escaped, control bytes
/// shown as `\xNN` first (a path read from a dump must not break the document).
pub fn esc(s: &str) -> String {
    let s = super::table::escape(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Font size and line height every picture uses (monospace, so widths are known).
pub const FONT: f64 = 11.0;
pub const LINE: f64 = 14.0;
/// Width of one monospace character at `FONT`.
pub const CHAR_W: f64 = 6.7;

/// An SVG document being written; `finish` closes it.
pub struct Svg {
    out: String,
}

impl Svg {
    /// A document `w` x `h` pixels with the shared styles.
    pub fn new(w: f64, h: f64, title: &str) -> Svg {
        let mut out = String::with_capacity(1 << 16);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" xml:space="preserve" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="monospace" font-size="{FONT}">"#
        );
        let _ = writeln!(out, "<title>{}</title>", esc(title));
        out.push_str(concat!(
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" ",
            "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">",
            "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
            "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        ));
        Svg { out }
    }

    /// Opens a group with this id (already unique in the picture).
    pub fn group(&mut self, id: &str, class: &str) {
        let _ = writeln!(self.out, r#"<g id="{}" class="{class}">"#, esc(id));
    }

    pub fn end_group(&mut self) {
        self.out.push_str("</g>\n");
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" stroke="{stroke}"/>"#
        );
    }

    /// Text whose baseline starts at (x, y); `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, s: &str, fill: &str, anchor: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" fill="{fill}" text-anchor="{anchor}">{}</text>"#,
            esc(s)
        );
    }

    /// A line; `arrow` puts an arrowhead at its end.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), arrow: bool) {
        let _ = writeln!(
            self.out,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#555"{}/>"##,
            if arrow {
                r#" marker-end="url(#arrow)""#
            } else {
                ""
            }
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// A VMA's range as /proc/PID/maps prints it (`00400000-00401000`).
pub fn maps_range(start: u64, end: u64) -> String {
    format!("{start:08x}-{end:08x}")
}

/// Width in pixels of `n` monospace characters plus a margin.
pub fn text_w(n: usize) -> f64 {
    n as f64 * CHAR_W + 12.0
}

/// A folded subtree: its root's address, node and VMA counts and range.
pub fn fold_box(svg: &mut Svg, root: u64, f: Fold, (x, y): (f64, f64), w: f64) {
    svg.group(&format!("fold-{root:#x}"), "folded");
    svg.rect(x, y, w, 3.0 * LINE + 8.0, "#f0f0f0", "#888");
    let lines = [
        format!("folded at {root:#x}"),
        format!("{} nodes, {} VMAs", f.nodes, f.vmas),
        format!("[{:#x}, {:#x}]", f.min, f.max),
    ];
    for (i, l) in lines.iter().enumerate() {
        svg.text(x + 6.0, y + (i + 1) as f64 * LINE, l, "#444", "start");
    }
    svg.end_group();
}

/// Characters of a path shown in a box `w` wide: its end, which names the file.
fn fit(s: &str, w: f64) -> String {
    let max = ((w - 12.0) / CHAR_W).max(4.0) as usize;
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - max + 1).collect();
    format!("…{tail}")
}

/// One VMA: `head` (its range) on the first line, permissions and path on the second;
/// `mark` (a vmacache slot) outlines it and is written under it.
pub fn vma_box(
    svg: &mut Svg,
    addr: u64,
    head: &str,
    l: Option<&VmaLabel>,
    (x, y): (f64, f64),
    w: f64,
    mark: Option<&str>,
) {
    svg.group(&format!("vma-{addr:#x}"), "vma");
    let (fill, stroke) = if mark.is_some() {
        ("#fff3d6", "#e08a00")
    } else {
        ("#f7fbef", "#5b7f2b")
    };
    svg.rect(x, y, w, 2.0 * LINE + 6.0, fill, stroke);
    if let Some(l) = l.filter(|l| !l.path.is_empty()) {
        let _ = writeln!(svg.out, "<title>{}</title>", esc(&l.path));
    }
    svg.text(x + 6.0, y + LINE, head, "#000", "start");
    // The permissions always; the path's end when it is too long for the box.
    let second = l.map_or("(record not read)".to_string(), |l| {
        format!("{} {}", l.perms, fit(&l.path, w - 5.0 * CHAR_W))
    });
    svg.text(x + 6.0, y + 2.0 * LINE, &second, "#333", "start");
    if let Some(m) = mark {
        svg.text(x + 6.0, y + 3.0 * LINE + 4.0, m, "#b06000", "start");
    }
    svg.end_group();
}
