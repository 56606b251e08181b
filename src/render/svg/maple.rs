//! A maple tree as SVG: one box per node (type, range, then one row per used slot with
//! its pivot, what it holds and, for arange_64, its gap; NULL slots greyed), folded
//! subtrees as grey boxes, and under each drawn leaf its VMAs in slot order.

use super::{maps_range, text_w, Svg, LINE};
use crate::render::view::{Item, Labels, View, What};
use crate::trees::maple::{MapleNodeSnap, MapleSnapshot, MapleType, SlotKind};

const NODE_CHARS: usize = 56;
const HGAP: f64 = 24.0;
const VGAP: f64 = 48.0;
const MARGIN: f64 = 16.0;

fn node_w() -> f64 {
    text_w(NODE_CHARS)
}

fn item_h(s: &MapleSnapshot, it: &Item) -> f64 {
    match it.what {
        What::Node(i) => (2 + s.nodes[i].slots.len()) as f64 * LINE + 8.0,
        What::Fold(_) => 3.0 * LINE + 8.0,
    }
}

/// Height of the VMA column under a drawn leaf.
fn vma_column_h(n: &MapleNodeSnap) -> f64 {
    let vmas = n.slots.iter().filter(|s| s.kind == SlotKind::Entry).count();
    vmas as f64 * (2.0 * LINE + 10.0)
}

/// Left x of every item: childless items side by side, parents centred over their kids.
fn place(v: &View) -> Vec<f64> {
    let mut x = vec![0.0; v.items.len()];
    let mut cursor = MARGIN;
    // Post-order without recursion: (item, kids done?).
    let mut stack = vec![(0usize, false)];
    while let Some((i, done)) = stack.pop() {
        let kids = &v.items[i].kids;
        if kids.is_empty() {
            x[i] = cursor;
            cursor += node_w() + HGAP;
        } else if done {
            x[i] = (x[kids[0].1] + x[kids[kids.len() - 1].1]) / 2.0;
        } else {
            stack.push((i, true));
            stack.extend(kids.iter().rev().map(|&(_, k)| (k, false)));
        }
    }
    x
}

/// The picture of `v`, a view of `s`.
pub fn picture(s: &MapleSnapshot, v: &View, labels: &Labels, title: &str) -> String {
    if v.items.is_empty() {
        let mut svg = Svg::new(300.0, 60.0, title);
        svg.text(MARGIN, 30.0, "(empty tree)", "#000", "start");
        return svg.finish();
    }
    let x = place(v);
    let max_depth = v.items.iter().map(|i| i.depth).max().unwrap_or(1) as usize;
    // Row tops: each level as tall as its tallest item.
    let mut level_h = vec![0.0f64; max_depth + 1];
    let mut below = 0.0f64;
    for it in &v.items {
        let d = it.depth as usize;
        level_h[d] = level_h[d].max(item_h(s, it));
        if let What::Node(i) = it.what {
            below = below.max(vma_column_h(&s.nodes[i]));
        }
    }
    let mut top = vec![MARGIN + LINE * 2.0; max_depth + 2];
    for d in 1..=max_depth {
        top[d + 1] = top[d] + level_h[d] + VGAP;
    }
    let w = x.iter().fold(0.0f64, |a, &b| a.max(b)) + node_w() + MARGIN;
    let h = top[max_depth + 1] + below + MARGIN;
    let mut svg = Svg::new(w, h, title);
    svg.text(MARGIN, MARGIN + LINE, title, "#000", "start");
    for (n, it) in v.items.iter().enumerate() {
        let (ix, iy) = (x[n], top[it.depth as usize]);
        for &(slot, k) in &it.kids {
            let from = (ix + 8.0 + slot_x(slot), iy + item_h(s, it));
            let to = (x[k] + node_w() / 2.0, top[v.items[k].depth as usize]);
            svg.line(from, to, true);
        }
        match it.what {
            What::Node(i) => node(&mut svg, &s.nodes[i], (ix, iy), item_h(s, it), labels),
            What::Fold(f) => super::fold_box(&mut svg, s.nodes[f.root].addr, f, (ix, iy), node_w()),
        }
    }
    svg.finish()
}

/// Where along a node's bottom edge the line to the child in `slot` leaves.
fn slot_x(slot: u8) -> f64 {
    (node_w() - 16.0) * (f64::from(slot) + 0.5) / 16.0
}

fn type_name(t: MapleType) -> &'static str {
    match t {
        MapleType::Dense => "dense",
        MapleType::Leaf64 => "leaf_64",
        MapleType::Range64 => "range_64",
        MapleType::Arange64 => "arange_64",
    }
}

fn node(svg: &mut Svg, n: &MapleNodeSnap, (x, y): (f64, f64), h: f64, labels: &Labels) {
    let w = node_w();
    svg.group(&format!("node-{:#x}", n.addr), "maple-node");
    svg.rect(x, y, w, h, "#eef4fb", "#2b5d8c");
    let head = format!(
        "{} {:#x}  {}/{} slots",
        type_name(n.node_type),
        n.addr,
        n.used(),
        n.raw_slots.len()
    );
    svg.text(x + 6.0, y + LINE, &head, "#000", "start");
    svg.text(
        x + 6.0,
        y + 2.0 * LINE,
        &format!("[{:#x}, {:#x}]", n.min, n.max),
        "#000",
        "start",
    );
    for (r, sl) in n.slots.iter().enumerate() {
        let ry = y + (2 + r) as f64 * LINE + 4.0;
        let null = matches!(sl.kind, SlotKind::Null | SlotKind::Reserved);
        if null {
            svg.rect(x + 2.0, ry + 1.0, w - 4.0, LINE, "#e4e4e4", "none");
        }
        let what = match sl.kind {
            SlotKind::Child => "child",
            SlotKind::Entry => "vma",
            SlotKind::Reserved => "reserved",
            SlotKind::Null => "NULL",
        };
        let pivot = n
            .pivots
            .get(usize::from(sl.index))
            .map_or("-".to_string(), |p| format!("{p:#x}"));
        let gap = n
            .gaps
            .get(usize::from(sl.index))
            .map_or(String::new(), |g| format!(" gap {g:#x}"));
        let row = format!("{:>2} {pivot:>18} {what:<8}{gap}", sl.index);
        svg.text(
            x + 6.0,
            ry + LINE - 2.0,
            &row,
            if null { "#999" } else { "#000" },
            "start",
        );
    }
    svg.end_group();
    if n.node_type.is_leaf() {
        leaf_vmas(svg, n, (x, y + h + 8.0), labels);
    }
}

/// The VMAs a leaf holds, one box each, stacked under it.
fn leaf_vmas(svg: &mut Svg, n: &MapleNodeSnap, (x, mut y): (f64, f64), labels: &Labels) {
    let w = node_w();
    for sl in n.slots.iter().filter(|s| s.kind == SlotKind::Entry) {
        let l = labels.get(&sl.raw);
        let (start, end) = l.map_or((sl.min, sl.max.wrapping_add(1)), |l| (l.start, l.end));
        super::vma_box(
            svg,
            sl.raw,
            &format!("slot {:>2} {}", sl.index, maps_range(start, end)),
            l,
            (x, y),
            w,
            None,
        );
        y += 2.0 * LINE + 10.0;
    }
}
