//! A struct's layout as a cache-line grid (`layout NAME --svg`): one row per cache line,
//! one cell per byte; each top-level member a box over its bytes (split where it crosses
//! a line), bitfields subdivided by bit, holes and tail padding hatched with their byte
//! counts. Drawn from the layout JSON model, so it says what `layout --json` says.

use super::{Svg, CHAR_W, LINE};
use crate::render::layout_json::JsonType;
use std::fmt::Write as _;

const MARGIN: f64 = 16.0;
const CELL: f64 = 14.0;
const ROW: f64 = 34.0;

/// Byte `off` as (x, y) of its cell.
fn cell(off: u64, line: u64) -> (f64, f64) {
    let x = MARGIN + 56.0 + (off % line) as f64 * CELL;
    let y = MARGIN + 2.0 * LINE + (off / line) as f64 * ROW;
    (x, y)
}

/// Boxes covering bytes `[off, off + size)`, one per cache line crossed.
fn spans(off: u64, size: u64, line: u64) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let (mut at, end) = (off, off + size.max(1));
    while at < end {
        let row_end = (at / line + 1) * line;
        let stop = end.min(row_end);
        let (x, y) = cell(at, line);
        out.push((x, y, (stop - at) as f64 * CELL));
        at = stop;
    }
    out
}

fn hatched(svg: &mut Svg, id: &str, off: u64, size: u64, line: u64) {
    svg.group(id, "hole");
    for (x, y, w) in spans(off, size, line) {
        svg.rect_fill_url(x, y, w, ROW - 6.0);
    }
    let (x, y) = cell(off, line);
    svg.text(x + 2.0, y + ROW - 10.0, &format!("{size}"), "#a00", "start");
    svg.end_group();
}

/// The picture of `t` with `line`-byte cache lines.
pub fn picture(t: &JsonType, line: u64, title: &str) -> String {
    let line = line.max(1);
    let rows = t.size.div_ceil(line).max(1);
    let w = MARGIN * 2.0 + 56.0 + line as f64 * CELL;
    let h = MARGIN * 2.0 + 2.0 * LINE + rows as f64 * ROW;
    let mut svg = Svg::new(w, h, title);
    svg.hatch_pattern();
    svg.text(MARGIN, MARGIN + LINE, title, "#000", "start");
    for r in 0..rows {
        let (_, y) = cell(r * line, line);
        svg.rect(
            MARGIN + 56.0,
            y,
            line as f64 * CELL,
            ROW - 6.0,
            "#fff",
            "#ddd",
        );
        svg.text(
            MARGIN,
            y + LINE,
            &format!("{:>5}", r * line),
            "#666",
            "start",
        );
    }
    for (i, m) in t.members.iter().enumerate() {
        let name = m
            .name
            .clone()
            .unwrap_or_else(|| format!("({})", m.type_name));
        svg.group_attrs(
            &format!("member-{i}"),
            "member",
            &format!(
                r#" data-name="{}" data-offset="{}" data-size="{}"{}"#,
                super::esc(&name),
                m.offset,
                m.size,
                match (m.bit_offset, m.bit_size) {
                    (Some(o), Some(s)) => format!(r#" data-bit-offset="{o}" data-bit-size="{s}""#),
                    _ => String::new(),
                }
            ),
        );
        let fill = if i % 2 == 0 { "#cfe3f7" } else { "#d9f2d0" };
        match (m.bit_offset, m.bit_size) {
            (Some(bo), Some(bs)) => {
                // A bitfield: the bits it holds inside its storage unit's bytes.
                let unit_bits = (m.size * 8).max(1) as f64;
                for (x, y, sw) in spans(m.offset, m.size, line) {
                    let bx = x + sw * bo as f64 / unit_bits;
                    svg.rect(
                        bx,
                        y + 4.0,
                        (sw * bs as f64 / unit_bits).max(1.0),
                        ROW - 14.0,
                        fill,
                        "#557",
                    );
                }
            }
            _ => {
                for (x, y, sw) in spans(m.offset, m.size, line) {
                    svg.rect(x, y, sw, ROW - 6.0, fill, "#335");
                }
            }
        }
        let (x, y) = cell(m.offset, line);
        let room = ((m.size.min(line - m.offset % line)) as f64 * CELL / CHAR_W) as usize;
        let label: String = name.chars().take(room.max(1)).collect();
        svg.text(x + 2.0, y + LINE, &label, "#000", "start");
        svg.end_group();
    }
    for (i, hole) in t.holes.iter().enumerate() {
        hatched(&mut svg, &format!("hole-{i}"), hole.offset, hole.size, line);
    }
    if t.padding > 0 {
        hatched(&mut svg, "padding", t.size - t.padding, t.padding, line);
    }
    svg.finish()
}

impl Svg {
    /// The diagonal hatch holes and padding are filled with.
    fn hatch_pattern(&mut self) {
        self.out.push_str(concat!(
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" ",
            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/>",
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d66\" stroke-width=\"2\"/></pattern></defs>\n"
        ));
    }

    fn rect_fill_url(&mut self, x: f64, y: f64, w: f64, h: f64) {
        let _ = writeln!(
            self.out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="url(#hatch)" stroke="#a00"/>"##
        );
    }

    /// A group with extra attributes (already escaped).
    fn group_attrs(&mut self, id: &str, class: &str, attrs: &str) {
        let _ = writeln!(self.out, r#"<g id="{id}" class="{class}"{attrs}>"#);
    }
}
