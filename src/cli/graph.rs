//! `vmscope graph --pid N --svg FILE | --dot FILE`: task_struct -> mm_struct -> the VMA
//! tree's root (maple tree, or rb-tree and list) -> VMAs -> files, and the pgd, with
//! their addresses and the members linking them. Drawn from the same read as `tree`.

use super::target::TargetArgs;
use crate::kernel::mm::MmInfo;
use crate::kernel::tasks::Task;
use crate::kernel::vma::{VmaInfo, VmaTree};
use crate::kernel::vma_layout::{VmaLayout, VmaTreeLayout};
use crate::render::graph::{self, Graph};
use crate::render::svg::maps_range;
use anyhow::{Context, Result};
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("out").required(true).multiple(true))]
pub struct GraphArgs {
    /// Process (or thread) ID
    #[arg(long)]
    pub pid: i32,
    /// Write the graph as an SVG picture to FILE
    #[arg(long, value_name = "FILE", group = "out")]
    pub svg: Option<PathBuf>,
    /// Write the graph as a Graphviz DOT graph to FILE
    #[arg(long, value_name = "FILE", group = "out")]
    pub dot: Option<PathBuf>,
    /// VMAs drawn one by one; the rest are folded into one box
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub vmas: usize,
    /// Live: walks a stable read may take before giving up (exit 2)
    #[arg(long, value_name = "N", default_value_t = crate::kernel::snapshot::DEFAULT_READS)]
    pub retries: u32,
}

pub fn run(a: &GraphArgs, t: &TargetArgs) -> Result<i32> {
    let (_types, k) = t.open_typed()?;
    let layout = k.vma_layout().context("probing VMA structures")?;
    let Some((task, mm, c)) =
        super::tree::read_whole(&k, a.pid, a.retries, "no address space to draw")?
    else {
        return Ok(2);
    };
    let info = k.read_mm(mm)?;
    let g = build(&task, &info, layout, &c.tree, &c.vmas, a.vmas);
    for (path, text) in [
        (
            &a.svg,
            a.svg
                .as_ref()
                .map(|_| crate::render::svg::graph::picture(&g)),
        ),
        (&a.dot, a.dot.as_ref().map(|_| graph::dot(&g))),
    ] {
        if let (Some(path), Some(text)) = (path, text) {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(0)
}

/// Columns, left to right.
const TASK: usize = 0;
const MM: usize = 1;
const ROOT: usize = 2;
const VMAS: usize = 3;
const FILES: usize = 4;

/// The graph of one address space; at most `shown` VMAs are drawn one by one.
fn build(
    task: &Task,
    mm: &MmInfo,
    layout: &VmaLayout,
    tree: &VmaTree,
    vmas: &[VmaInfo],
    shown: usize,
) -> Graph {
    let mut g = Graph {
        title: format!(
            "pid {} ({}): task_struct -> mm_struct -> VMAs, {} VMAs",
            task.pid,
            task.comm,
            vmas.len()
        ),
        ..Graph::default()
    };
    let t = g.obj(
        format!("task-{:#x}", task.addr),
        "task",
        TASK,
        vec![
            format!("task_struct {:#x}", task.addr),
            format!("pid {} tgid {}", task.pid, task.tgid),
            format!("comm {}", task.comm),
        ],
    );
    let m = g.obj(
        format!("mm-{:#x}", mm.addr),
        "mm",
        MM,
        vec![
            format!("mm_struct {:#x}", mm.addr),
            format!("map_count {}", mm.map_count),
            format!("pgd {:#x}", mm.pgd),
            format!("brk [{:#x}, {:#x}]", mm.start_brk, mm.brk),
        ],
    );
    g.link(t, m, "mm");
    let drawn = vmas.len().min(shown);
    let ids: Vec<usize> = vmas[..drawn].iter().map(|v| vma_obj(&mut g, v)).collect();
    let fold = (vmas.len() > drawn).then(|| fold_obj(&mut g, &vmas[drawn..]));
    match (tree, &layout.tree) {
        (VmaTree::Maple(s), VmaTreeLayout::Maple { mm_mt, .. }) => {
            let r = g.obj(
                format!("maple_tree-{:#x}", s.tree),
                "root",
                ROOT,
                vec![
                    format!("maple_tree {:#x}", s.tree),
                    format!("ma_root {:#x}", s.ma_root),
                    format!("height {}, {} nodes", s.height, s.nodes.len()),
                ],
            );
            g.link(m, r, &format!("mm_mt (+{mm_mt:#x})"));
            let at: HashMap<u64, (u64, u8)> = s
                .user_entries()
                .map(|e| (e.entry, (e.node, e.slot)))
                .collect();
            for (v, &o) in vmas.iter().zip(&ids) {
                let label = match at.get(&v.vma) {
                    Some(&(0, _)) | None => "ma_root".to_string(),
                    Some(&(node, slot)) => format!("node {node:#x} slots[{slot}]"),
                };
                g.link(r, o, &label);
            }
            if let Some(f) = fold {
                g.link(r, f, "ma_root ... slots[]");
            }
        }
        (VmaTree::Rb { tree: rb, list }, VmaTreeLayout::RbTree { mm_rb, mmap, .. }) => {
            let r = g.obj(
                format!("rb_root-{:#x}", rb.root_addr),
                "root",
                ROOT,
                vec![
                    format!("rb_root {:#x}", rb.root_addr),
                    format!("rb_node {:#x}", rb.root),
                    format!("height {}, {} nodes", rb.height(), rb.nodes.len()),
                ],
            );
            g.link(m, r, &format!("mm_rb (+{mm_rb:#x})"));
            let depth: HashMap<u64, u32> = rb
                .nodes
                .iter()
                .filter_map(|n| Some((n.vma?.vma, n.depth)))
                .collect();
            for (v, &o) in vmas.iter().zip(&ids) {
                let d = depth.get(&v.vma).copied().unwrap_or(0);
                g.link(r, o, &format!("rb_node ... vm_rb (depth {d})"));
            }
            if let Some(f) = fold {
                g.link(r, f, "rb_node ... vm_rb");
            }
            // The list: mm->mmap, then vm_next from VMA to VMA.
            let chain: Vec<usize> = ids.iter().copied().chain(fold).collect();
            if let Some(&first) = chain.first().filter(|_| list.first != 0) {
                g.link(m, first, &format!("mmap (+{mmap:#x})"));
            }
            for w in chain.windows(2) {
                g.link(w[0], w[1], "vm_next");
            }
        }
        // A layout of one kind never walks a tree of the other.
        _ => {}
    }
    let p = g.obj(
        format!("pgd-{:#x}", mm.pgd),
        "pgd",
        ROOT,
        vec![
            format!("pgd_t[] {:#x}", mm.pgd),
            "top page-table level".into(),
        ],
    );
    g.link(m, p, "pgd");
    g
}

/// A VMA box and, when it maps a file, the file's box linked by `vm_file`.
fn vma_obj(g: &mut Graph, v: &VmaInfo) -> usize {
    let path = v
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let o = g.obj(
        format!("vma-{:#x}", v.vma),
        "vma",
        VMAS,
        vec![
            format!("vm_area_struct {:#x}", v.vma),
            format!("{} {}", maps_range(v.start, v.end), v.perms()),
            path.clone(),
        ],
    );
    if v.file != 0 {
        let f = g.obj(
            format!("file-{:#x}", v.file),
            "file",
            FILES,
            vec![format!("file {:#x}", v.file), path],
        );
        g.link(o, f, "vm_file");
    }
    o
}

/// The VMAs not drawn, as one box with their count and range.
fn fold_obj(g: &mut Graph, rest: &[VmaInfo]) -> usize {
    let (lo, hi) = (
        rest.first().map_or(0, |v| v.start),
        rest.last().map_or(0, |v| v.end),
    );
    let files = rest.iter().filter(|v| v.file != 0).count();
    g.obj(
        "fold-vmas".into(),
        "folded",
        VMAS,
        vec![
            format!("{} more VMAs", rest.len()),
            format!("[{lo:#x}, {hi:#x})"),
            format!("{files} of them map files"),
        ],
    )
}
