//! `--svg FILE`, `--dot FILE`, `--focus ADDR`, `--full` for `tree`: the pictures of a
//! walked tree, drawn by render/svg and render/dot from the same snapshot the text uses.

use super::target::parse_u64;
use crate::kernel::tasks::Task;
use crate::kernel::vma::{VmaInfo, VmaTree};
use crate::kernel::vma_reader::VmacacheView;
use crate::render::view::{self, Labels, Policy, VmaLabel};
use crate::render::{dot, svg};
use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PictureArgs {
    /// Write the tree as an SVG picture to FILE (no text on stdout)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write the tree as a Graphviz DOT graph to FILE (no text on stdout)
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Big trees: the address whose path from the root is drawn (default: the heap)
    #[arg(long, value_name = "ADDR", value_parser = parse_u64)]
    pub focus: Option<u64>,
    /// Draw every node, however big the tree
    #[arg(long)]
    pub full: bool,
}

impl PictureArgs {
    pub fn wanted(&self) -> bool {
        self.svg.is_some() || self.dot.is_some()
    }
}

/// Labels of the VMAs read: range, permissions and path as /proc/PID/maps shows them.
pub fn labels(vmas: &[VmaInfo]) -> Labels {
    vmas.iter()
        .map(|v| {
            let path = v
                .name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned());
            let l = VmaLabel {
                start: v.start,
                end: v.end,
                perms: v.perms(),
                path: path.unwrap_or_default(),
                file: v.file != 0,
            };
            (v.vma, l)
        })
        .collect()
}

/// Top levels drawn whole in a folded picture: a maple node holds up to 16 entries,
/// an rb node one, so the rb-tree shows more levels for a similar picture.
const MAPLE_TOP: u32 = 2;
const RB_TOP: u32 = 4;

/// What to draw of a tree: which texts, and how much of a big tree.
pub struct Draw {
    pub svg: bool,
    pub dot: bool,
    pub focus: Option<u64>,
    pub full: bool,
}

/// Writes the pictures asked for. `cache` is the 5.10 vmacache, marked on its VMAs.
pub fn write(
    p: &PictureArgs,
    tree: &VmaTree,
    vmas: &[VmaInfo],
    cache: &[VmacacheView],
    title: &str,
) -> Result<()> {
    let d = Draw {
        svg: p.svg.is_some(),
        dot: p.dot.is_some(),
        focus: p.focus,
        full: p.full,
    };
    let (svg_text, dot_text) = draw(&d, tree, vmas, cache, title);
    for (path, text) in [(&p.svg, svg_text), (&p.dot, dot_text)] {
        if let (Some(path), Some(text)) = (path, text) {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// The title of a tree picture: which process, mm, structure and map_count.
pub fn tree_title(task: &Task, mm: u64, tree: &VmaTree, map_count: i32) -> String {
    let kind = match tree {
        VmaTree::Maple(_) => "maple tree",
        VmaTree::Rb { .. } => "rb-tree and vm_next list",
    };
    format!(
        "pid {} ({}) mm {mm:#x}: {kind}, map_count {map_count}",
        task.pid, task.comm
    )
}

/// The title of an address-space strip.
pub fn strip_title(task: &Task, mm: u64) -> String {
    format!("pid {} ({}) mm {mm:#x}: address space", task.pid, task.comm)
}

/// The SVG and DOT texts `d` asks for (`None` for the other).
pub fn draw(
    d: &Draw,
    tree: &VmaTree,
    vmas: &[VmaInfo],
    cache: &[VmacacheView],
    title: &str,
) -> (Option<String>, Option<String>) {
    let labels = labels(vmas);
    let heap = vmas
        .iter()
        .find(|v| v.name.as_deref() == Some(b"[heap]".as_slice()))
        .or(vmas.first())
        .map(|v| v.start);
    let mut cached: HashMap<u64, String> = HashMap::new();
    for c in cache {
        for (i, &a) in c.vmas.iter().enumerate().filter(|(_, &a)| a != 0) {
            let e = cached.entry(a).or_default();
            if !e.is_empty() {
                e.push_str(", ");
            }
            e.push_str(&format!("tid {} [{i}]", c.tid));
        }
    }
    let mut policy = Policy {
        full: d.full || vmas.len() <= view::WHOLE_UP_TO,
        top_depth: MAPLE_TOP,
        focus: d.focus.or(heap).into_iter().collect(),
    };
    match tree {
        VmaTree::Maple(s) => {
            let v = view::maple(s, &policy);
            (
                d.svg.then(|| svg::maple::picture(s, &v, &labels, title)),
                d.dot.then(|| dot::maple(s, &v, &labels, title)),
            )
        }
        VmaTree::Rb { tree, list } => {
            policy.top_depth = RB_TOP;
            // The cached VMAs are always drawn, so their marks are seen.
            policy.focus.extend(
                labels
                    .iter()
                    .filter(|(a, _)| cached.contains_key(a))
                    .map(|(_, l)| l.start),
            );
            let v = view::rb(tree, &policy);
            (
                d.svg.then(|| {
                    svg::rb::picture(tree, list, &v, &labels, &cached, policy.full, title)
                }),
                d.dot
                    .then(|| dot::rb(tree, list, &v, &labels, &cached, policy.full, title)),
            )
        }
    }
}

/// `vmas PID --svg/--dot`: the address-space strip of `vmas` (in address order).
pub fn write_strip(
    svg_path: Option<&std::path::Path>,
    dot_path: Option<&std::path::Path>,
    vmas: &[VmaInfo],
    title: &str,
) -> Result<()> {
    let rows = strip_rows(vmas);
    if let Some(p) = svg_path {
        std::fs::write(p, svg::strip::picture(&rows, title))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = dot_path {
        std::fs::write(p, dot::strip(&rows, title))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// The rows of an address-space strip: each VMA's label, in address order.
pub fn strip_rows(vmas: &[VmaInfo]) -> Vec<(u64, VmaLabel)> {
    let l = labels(vmas);
    let mut rows: Vec<(u64, VmaLabel)> = vmas
        .iter()
        .filter_map(|v| Some((v.vma, l.get(&v.vma)?.clone())))
        .collect();
    rows.sort_by_key(|(_, v)| v.start);
    rows
}
