//! Graphviz DOT of the same views the SVG pictures draw (`tree --dot`): node and VMA
//! ids as in the SVG (`node-0x...`, `vma-0x...`), so either output can be searched alike.

use super::svg::{esc, maps_range};
use super::view::{Fold, Labels, View, VmaLabel, What};
use crate::trees::list::ListSnapshot;
use crate::trees::maple::{MapleNodeSnap, MapleSnapshot, SlotKind};
use crate::trees::rbtree::RbSnapshot;
use std::collections::HashMap;
use std::fmt::Write as _;

fn header(out: &mut String, title: &str) {
    let _ = writeln!(out, "digraph vmscope {{");
    let _ = writeln!(out, "  label=\"{}\"; labelloc=t;", esc(title));
    out.push_str("  node [fontname=\"monospace\", fontsize=10];\n  edge [color=\"#555555\"];\n");
}

fn fold(out: &mut String, root: u64, f: Fold) {
    let _ = writeln!(
        out,
        "  \"f{root:#x}\" [id=\"fold-{root:#x}\", shape=box, style=\"filled,dashed\", fillcolor=\"#f0f0f0\", label=\"folded at {root:#x}\\n{} nodes, {} VMAs\\n[{:#x}, {:#x}]\"];",
        f.nodes, f.vmas, f.min, f.max
    );
}

fn vma(out: &mut String, addr: u64, head: &str, l: Option<&VmaLabel>, mark: Option<&str>) {
    let second = l.map_or("(record not read)".to_string(), |l| {
        format!("{} {}", l.perms, l.path)
    });
    let extra = mark.map_or(String::new(), |m| {
        format!(
            ", color=\"#e08a00\", penwidth=3, xlabel=\"vmacache {}\"",
            esc(m)
        )
    });
    let _ = writeln!(
        out,
        "  \"v{addr:#x}\" [id=\"vma-{addr:#x}\", shape=box, style=filled, fillcolor=\"#f7fbef\", label=<{}<br/>{}>{extra}];",
        esc(head),
        esc(&second)
    );
}

/// The id of a drawn item in the graph.
fn item_id(v: &View, i: usize, addr_of: impl Fn(usize) -> u64) -> String {
    match v.items[i].what {
        What::Node(n) => format!("n{:#x}", addr_of(n)),
        What::Fold(f) => format!("f{:#x}", addr_of(f.root)),
    }
}

/// A maple tree: nodes as tables with one port per slot, VMAs as leaves.
pub fn maple(s: &MapleSnapshot, v: &View, labels: &Labels, title: &str) -> String {
    let mut out = String::new();
    header(&mut out, title);
    let addr = |n: usize| s.nodes[n].addr;
    for (i, it) in v.items.iter().enumerate() {
        match it.what {
            What::Node(n) => maple_node(&mut out, &s.nodes[n], labels),
            What::Fold(f) => fold(&mut out, addr(f.root), f),
        }
        for &(slot, k) in &it.kids {
            let _ = writeln!(
                out,
                "  \"{}\":s{slot} -> \"{}\";",
                item_id(v, i, addr),
                item_id(v, k, addr)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn maple_node(out: &mut String, n: &MapleNodeSnap, labels: &Labels) {
    let mut rows = format!(
        "<tr><td colspan=\"3\"><b>{} {:#x}</b><br/>[{:#x}, {:#x}]</td></tr>",
        n.node_type.name(),
        n.addr,
        n.min,
        n.max
    );
    for sl in &n.slots {
        let pivot = n
            .pivots
            .get(usize::from(sl.index))
            .map_or("-".to_string(), |p| format!("{p:#x}"));
        let gap = n
            .gaps
            .get(usize::from(sl.index))
            .map_or(String::new(), |g| format!("gap {g:#x}"));
        let (what, bg) = match sl.kind {
            SlotKind::Child => ("child", "#ffffff"),
            SlotKind::Entry => ("vma", "#ffffff"),
            SlotKind::Reserved => ("reserved", "#e4e4e4"),
            SlotKind::Null => ("NULL", "#e4e4e4"),
        };
        let _ = write!(
            rows,
            "<tr><td bgcolor=\"{bg}\">{}</td><td bgcolor=\"{bg}\">{pivot}</td><td bgcolor=\"{bg}\" port=\"s{}\">{what} {gap}</td></tr>",
            sl.index, sl.index
        );
    }
    let _ = writeln!(
        out,
        "  \"n{:#x}\" [id=\"node-{:#x}\", shape=plain, label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"0\" bgcolor=\"#eef4fb\">{rows}</table>>];",
        n.addr, n.addr
    );
    if !n.node_type.is_leaf() {
        return;
    }
    for sl in n.slots.iter().filter(|s| s.kind == SlotKind::Entry) {
        let l = labels.get(&sl.raw);
        let (start, end) = l.map_or((sl.min, sl.max.wrapping_add(1)), |l| (l.start, l.end));
        vma(out, sl.raw, &maps_range(start, end), l, None);
        let _ = writeln!(
            out,
            "  \"n{:#x}\":s{} -> \"v{:#x}\";",
            n.addr, sl.index, sl.raw
        );
    }
}

/// An rb-tree with its `vm_next` list; the list shows every VMA the tree view shows
/// (all of them with `full`), runs of others as one box.
pub fn rb(
    t: &RbSnapshot,
    l: &ListSnapshot,
    v: &View,
    labels: &Labels,
    cached: &HashMap<u64, String>,
    full: bool,
    title: &str,
) -> String {
    let mut out = String::new();
    header(&mut out, title);
    let addr = |n: usize| t.nodes[n].node;
    let mut shown = std::collections::HashSet::new();
    for (i, it) in v.items.iter().enumerate() {
        match it.what {
            What::Node(n) => {
                let x = &t.nodes[n];
                let (key, gap) = x.vma.map_or(("(no vma)".to_string(), String::new()), |v| {
                    shown.insert(v.vma);
                    (
                        format!("{:#x}", v.vm_start),
                        v.rb_subtree_gap
                            .map_or(String::new(), |g| format!("\\ngap {g:#x}")),
                    )
                });
                let fill = if x.color == 0 { "#c62828" } else { "#222222" };
                let _ = writeln!(
                    out,
                    "  \"n{:#x}\" [id=\"node-{:#x}\", shape=box, style=\"rounded,filled\", fillcolor=\"{fill}\", fontcolor=white, label=\"{key}{gap}\"];",
                    x.node, x.node
                );
            }
            What::Fold(f) => fold(&mut out, addr(f.root), f),
        }
        for &(side, k) in &it.kids {
            let port = if side == 0 { "sw" } else { "se" };
            let _ = writeln!(
                out,
                "  \"{}\":{port} -> \"{}\";",
                item_id(v, i, addr),
                item_id(v, k, addr)
            );
        }
    }
    shown.extend(cached.keys().copied());
    rb_list(&mut out, l, labels, cached, &|a| full || shown.contains(&a));
    out.push_str("}\n");
    out
}

fn rb_list(
    out: &mut String,
    l: &ListSnapshot,
    labels: &Labels,
    cached: &HashMap<u64, String>,
    show: &dyn Fn(u64) -> bool,
) {
    out.push_str("  subgraph list {\n  rank=same;\n");
    let mut ids: Vec<String> = Vec::new();
    let mut run = 0usize;
    let flush = |out: &mut String, ids: &mut Vec<String>, run: &mut usize| {
        if *run > 0 {
            let id = format!("run{}", ids.len());
            let _ = writeln!(
                out,
                "  \"{id}\" [shape=box, style=dashed, label=\"… {run} VMAs\"];"
            );
            ids.push(id);
            *run = 0;
        }
    };
    for e in &l.entries {
        if !show(e.addr) {
            run += 1;
            continue;
        }
        flush(out, &mut ids, &mut run);
        let lab = labels.get(&e.addr);
        let (s, end) = lab
            .map(|x| (x.start, x.end))
            .or(e.range)
            .unwrap_or_default();
        vma(
            out,
            e.addr,
            &maps_range(s, end),
            lab,
            cached.get(&e.addr).map(String::as_str),
        );
        ids.push(format!("v{:#x}", e.addr));
    }
    flush(out, &mut ids, &mut run);
    for w in ids.windows(2) {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"vm_next\", fontsize=8];",
            w[0], w[1]
        );
    }
    out.push_str("  }\n");
}

/// The address-space strip as a top-to-bottom chain: VMAs coloured by kind, gaps as
/// small notes with their size.
pub fn strip(vmas: &[(u64, VmaLabel)], title: &str) -> String {
    use super::svg::strip::{colour, human, segments, user_top, Segment};
    let mut out = String::new();
    header(&mut out, title);
    out.push_str("  node [shape=box, style=filled, width=3];\n");
    let mut prev: Option<String> = None;
    for (i, s) in segments(vmas, user_top(vmas)).iter().enumerate() {
        let id = match s {
            Segment::Gap(a, b) => {
                let _ = writeln!(
                    out,
                    "  \"g{i}\" [shape=note, fillcolor=\"#fafafa\", label=\"gap {}\"];",
                    human(b - a)
                );
                format!("g{i}")
            }
            Segment::Vma(addr, v) => {
                let _ = writeln!(
                    out,
                    "  \"v{addr:#x}\" [id=\"vma-{addr:#x}\", fillcolor=\"{}\", label=\"{} {}\\n{}\"];",
                    colour(v.kind()),
                    maps_range(v.start, v.end),
                    v.perms,
                    esc(&v.path).replace('\\', "\\\\")
                );
                format!("v{addr:#x}")
            }
        };
        if let Some(p) = prev.replace(id.clone()) {
            let _ = writeln!(out, "  \"{p}\" -> \"{id}\" [arrowhead=none];");
        }
    }
    out.push_str("}\n");
    out
}
