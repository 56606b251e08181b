//! An rb-tree as SVG: red and black nodes keyed by `vm_start` with `rb_subtree_gap`,
//! laid out in key order, with the `vm_next` list drawn under it in the same order
//! (each VMA under its node when tree and list agree) and the vmacache entries marked.

use super::{maps_range, text_w, Svg, LINE};
use crate::render::view::{Labels, View, What};
use crate::trees::list::ListSnapshot;
use crate::trees::rbtree::{RbNodeSnap, RbSnapshot};
use std::collections::{HashMap, HashSet};

const COL_CHARS: usize = 27;
const LEVEL: f64 = 64.0;
const MARGIN: f64 = 16.0;
const NODE_H: f64 = 2.0 * LINE + 8.0;

fn col_w() -> f64 {
    text_w(COL_CHARS) + 12.0
}

/// In-order column of every item: left subtree, the node, right subtree.
fn columns(v: &View) -> Vec<usize> {
    let mut col = vec![0usize; v.items.len()];
    let mut next = 0;
    // (item, left side done?); an empty view has no root.
    let mut stack: Vec<(usize, bool)> = if v.items.is_empty() {
        vec![]
    } else {
        vec![(0, false)]
    };
    while let Some((i, left_done)) = stack.pop() {
        let it = &v.items[i];
        if left_done {
            col[i] = next;
            next += 1;
            stack.extend(
                it.kids
                    .iter()
                    .filter(|k| k.0 == 1)
                    .map(|&(_, k)| (k, false)),
            );
        } else {
            stack.push((i, true));
            stack.extend(
                it.kids
                    .iter()
                    .filter(|k| k.0 == 0)
                    .map(|&(_, k)| (k, false)),
            );
        }
    }
    col
}

/// What is drawn of the `vm_next` list: VMAs one by one, runs of undrawn ones as counts.
enum ListItem {
    Vma(usize),
    Run(usize),
}

fn list_items(l: &ListSnapshot, shown: &HashSet<u64>, full: bool) -> Vec<ListItem> {
    let mut out = Vec::new();
    for (i, e) in l.entries.iter().enumerate() {
        if full || shown.contains(&e.addr) {
            out.push(ListItem::Vma(i));
        } else if let Some(ListItem::Run(n)) = out.last_mut() {
            *n += 1;
        } else {
            out.push(ListItem::Run(1));
        }
    }
    out
}

/// The picture of `v` (a view of `t`), the list `l` and the vmacache slots `cached`
/// (VMA address -> "tid T [i]").
pub fn picture(
    t: &RbSnapshot,
    l: &ListSnapshot,
    v: &View,
    labels: &Labels,
    cached: &HashMap<u64, String>,
    full: bool,
    title: &str,
) -> String {
    let col = columns(v);
    let shown: HashSet<u64> = v
        .items
        .iter()
        .filter_map(|it| match it.what {
            What::Node(i) => t.nodes[i].vma.map(|x| x.vma),
            What::Fold(_) => None,
        })
        .chain(cached.keys().copied())
        .collect();
    let list = list_items(l, &shown, full);
    let max_depth = v.items.iter().map(|i| i.depth).max().unwrap_or(0);
    let cw = col_w();
    let list_y = MARGIN + 2.0 * LINE + f64::from(max_depth) * LEVEL + 24.0;
    let ncols = col.iter().max().map_or(0, |m| m + 1).max(list.len());
    let w = MARGIN * 2.0 + ncols as f64 * cw;
    let h = list_y + 4.0 * LINE + MARGIN;
    let mut svg = Svg::new(w.max(400.0), h, title);
    svg.text(MARGIN, MARGIN + LINE, title, "#000", "start");
    let pos = |i: usize| {
        let d = f64::from(v.items[i].depth.saturating_sub(1));
        (MARGIN + col[i] as f64 * cw, MARGIN + 2.0 * LINE + d * LEVEL)
    };
    for (n, it) in v.items.iter().enumerate() {
        let (x, y) = pos(n);
        for &(_, k) in &it.kids {
            let (kx, ky) = pos(k);
            svg.line(
                (x + cw / 2.0 - 6.0, y + NODE_H),
                (kx + cw / 2.0 - 6.0, ky),
                true,
            );
        }
        match it.what {
            What::Node(i) => node(&mut svg, &t.nodes[i], (x, y), cw - 12.0),
            What::Fold(f) => super::fold_box(&mut svg, t.nodes[f.root].node, f, (x, y), cw - 12.0),
        }
    }
    svg.text(
        MARGIN,
        list_y - 6.0,
        "vm_next list (mm->mmap)",
        "#000",
        "start",
    );
    for (c, item) in list.iter().enumerate() {
        let x = MARGIN + c as f64 * cw;
        if c + 1 < list.len() {
            svg.line(
                (x + cw - 12.0, list_y + LINE),
                (x + cw, list_y + LINE),
                true,
            );
        }
        match *item {
            ListItem::Vma(i) => {
                let e = &l.entries[i];
                let lab = labels.get(&e.addr);
                let (s, end) = lab
                    .map(|l| (l.start, l.end))
                    .or(e.range)
                    .unwrap_or_default();
                let mark = cached.get(&e.addr).map(|m| format!("vmacache {m}"));
                super::vma_box(
                    &mut svg,
                    e.addr,
                    &maps_range(s, end),
                    lab,
                    (x, list_y),
                    cw - 12.0,
                    mark.as_deref(),
                );
            }
            ListItem::Run(n) => {
                svg.group(&format!("run-{c}"), "folded-list");
                svg.rect(x, list_y, cw - 12.0, 2.0 * LINE + 6.0, "#f0f0f0", "#888");
                svg.text(
                    x + 6.0,
                    list_y + LINE,
                    &format!("… {n} VMAs"),
                    "#444",
                    "start",
                );
                svg.end_group();
            }
        }
    }
    svg.finish()
}

fn node(svg: &mut Svg, n: &RbNodeSnap, (x, y): (f64, f64), w: f64) {
    let red = n.color == 0;
    svg.group(
        &format!("node-{:#x}", n.node),
        if red { "rb-red" } else { "rb-black" },
    );
    svg.rect(
        x,
        y,
        w,
        NODE_H,
        if red { "#c62828" } else { "#222" },
        "#000",
    );
    let (key, gap) = match n.vma {
        Some(v) => (
            format!("{:#x}", v.vm_start),
            v.rb_subtree_gap
                .map_or(String::new(), |g| format!("gap {g:#x}")),
        ),
        None => ("(no vma)".to_string(), String::new()),
    };
    svg.text(x + w / 2.0, y + LINE, &key, "#fff", "middle");
    svg.text(x + w / 2.0, y + 2.0 * LINE, &gap, "#fff", "middle");
    svg.end_group();
}
