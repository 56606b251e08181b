//! `graph --pid N --svg`: the objects of one address space in columns (task, mm, tree
//! root and pgd, VMAs, files), each link an arrow with its member's name written at
//! its head (at its tail when many arrows share a head), so the names stay apart.

use super::{Svg, CHAR_W, LINE};
use crate::render::graph::Graph;

const MARGIN: f64 = 20.0;
/// Room between boxes of one column (a `vm_next` arrow and its name fit in it).
const ROW_GAP: f64 = 18.0;

/// A box's (x, y, w, h).
type Place = (f64, f64, f64, f64);

fn box_h(lines: usize) -> f64 {
    lines as f64 * LINE + 8.0
}

/// (x, y, w, h) of every object, stacked down its column; the gap before each
/// column fits the longest member name arriving in it.
fn place(g: &Graph) -> (Vec<Place>, f64, f64) {
    let columns = g.objs.iter().map(|o| o.column + 1).max().unwrap_or(0);
    let mut widths = vec![0.0f64; columns];
    let mut gaps = vec![80.0f64; columns];
    for o in &g.objs {
        let chars = o.lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        widths[o.column] = widths[o.column].max(chars as f64 * CHAR_W + 12.0);
    }
    for l in &g.links {
        let c = g.objs[l.to].column;
        gaps[c] = gaps[c].max(l.member.chars().count() as f64 * CHAR_W + 40.0);
    }
    let mut xs = vec![MARGIN; columns];
    for c in 1..columns {
        xs[c] = xs[c - 1] + widths[c - 1] + gaps[c];
    }
    let mut heights = vec![MARGIN + 2.0 * LINE; columns];
    let mut at = Vec::with_capacity(g.objs.len());
    for o in &g.objs {
        let h = box_h(o.lines.len());
        at.push((xs[o.column], heights[o.column], widths[o.column], h));
        heights[o.column] += h + ROW_GAP;
    }
    let w = xs.last().copied().unwrap_or(MARGIN) + widths.last().copied().unwrap_or(0.0);
    let h = heights.iter().copied().fold(0.0, f64::max);
    (at, w + MARGIN, h + MARGIN)
}

pub fn picture(g: &Graph) -> String {
    let (at, w, h) = place(g);
    // Incoming links of each box spread down its left side.
    let mut incoming = vec![0usize; g.objs.len()];
    for l in &g.links {
        incoming[l.to] += 1;
    }
    let mut arrived = vec![0usize; g.objs.len()];
    let mut svg = Svg::new(w, h, &g.title);
    svg.text(MARGIN, MARGIN + LINE * 0.5, &g.title, "#000", "start");
    for l in &g.links {
        let (fx, fy, fw, fh) = at[l.from];
        let (tx, ty, _, th) = at[l.to];
        let (fc, tc) = (g.objs[l.from].column, g.objs[l.to].column);
        svg.group(&g.link_id(l), "link");
        if fc == tc {
            // Down the column: from one box's bottom to the next one's top.
            svg.line((fx + 12.0, fy + fh), (tx + 12.0, ty), true);
            svg.text(
                fx + 18.0,
                fy + fh + ROW_GAP * 0.7,
                &l.member,
                "#555",
                "start",
            );
        } else {
            arrived[l.to] += 1;
            let k = arrived[l.to] as f64 / (incoming[l.to] + 1) as f64;
            let a = (fx + fw, fy + fh / 2.0);
            let b = (tx, ty + th * k);
            if tc > fc + 1 {
                // Past the boxes of the columns in between, under them.
                let under = g
                    .objs
                    .iter()
                    .zip(&at)
                    .filter(|(o, _)| o.column > fc && o.column < tc)
                    .map(|(_, p)| p.1 + p.3)
                    .fold(a.1, f64::max)
                    + ROW_GAP / 2.0;
                let (p1, p2) = ((a.0 + 10.0, under), (b.0 - 30.0, under));
                svg.line(a, p1, false);
                svg.line(p1, p2, false);
                svg.line(p2, b, true);
            } else {
                svg.line(a, b, true);
            }
            if incoming[l.to] > 2 {
                // Many arrows into one box (a file): each name at its tail.
                svg.text(a.0 + 6.0, a.1 - 3.0, &l.member, "#555", "start");
            } else {
                svg.text(b.0 - 6.0, b.1 - 3.0, &l.member, "#555", "end");
            }
        }
        svg.end_group();
    }
    for (o, &(x, y, w, h)) in g.objs.iter().zip(&at) {
        svg.group(&o.id, o.class);
        svg.rect(x, y, w, h, crate::render::graph::fill(o.class), "#666");
        for (i, line) in o.lines.iter().enumerate() {
            let colour = if i == 0 { "#000" } else { "#333" };
            svg.text(x + 6.0, y + (i + 1) as f64 * LINE, line, colour, "start");
        }
        svg.end_group();
    }
    svg.finish()
}
