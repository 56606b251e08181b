//! Text rendering of VMA tree snapshots for `vmscope tree`: node-by-node dumps,
//! a summary, an ASCII diagram and the lookup cost table (costs computed in check/costs.rs).

use super::style::{Paint, Role};
use super::table::{self, Align};
use crate::check::costs::CostRow;
use crate::trees::list::ListSnapshot;
use crate::trees::maple::{MapleNodeSnap, MapleSnapshot, MapleType, SlotKind};
use crate::trees::rbtree::{color_name, RbSnapshot, RB_RED};
use comfy_table::Cell;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;

fn flags_text(f: u32) -> String {
    let mut parts = Vec::new();
    if f & 0x01 != 0 {
        parts.push("ALLOC_RANGE");
    }
    if f & 0x02 != 0 {
        parts.push("USE_RCU");
    }
    match f & 0x300 {
        0x100 => parts.push("LOCK_IRQ"),
        0x200 => parts.push("LOCK_BH"),
        0x300 => parts.push("LOCK_EXTERN"),
        _ => {}
    }
    parts.join("|")
}

fn short_type(t: MapleType) -> &'static str {
    match t {
        MapleType::Dense => "dense",
        MapleType::Leaf64 => "leaf_64",
        MapleType::Range64 => "range_64",
        MapleType::Arange64 => "arange_64",
    }
}

/// Node-by-node dump of a maple tree.
pub fn maple_dump(s: &MapleSnapshot, paint: Paint, out: &mut String) {
    let _ = writeln!(
        out,
        "maple tree at {:#x}: ma_root {:#x}, ma_flags {:#x} ({}), height {}",
        s.tree,
        s.ma_root,
        s.ma_flags,
        flags_text(s.ma_flags),
        s.height
    );
    for n in &s.nodes {
        maple_node(n, paint, out);
    }
    issues(s.issues.iter(), paint, out);
}

/// One `ISSUE:` line per problem a walk met.
fn issues<T: std::fmt::Display>(list: impl Iterator<Item = T>, paint: Paint, out: &mut String) {
    for i in list {
        let _ = writeln!(out, "{} {i}", paint.paint(Role::Bad, "ISSUE:"));
    }
}

fn maple_node(n: &MapleNodeSnap, paint: Paint, out: &mut String) {
    let parent = match n.parent {
        crate::trees::maple::MapleParent::Root { tree } => format!("root of tree {tree:#x}"),
        crate::trees::maple::MapleParent::Node { node, slot, .. } => {
            format!("{node:#x} slot {slot}")
        }
    };
    let _ = writeln!(
        out,
        "\nnode {:#x} {} depth {} [{:#x}, {:#x}] parent {} (raw {:#x}){}",
        n.addr,
        short_type(n.node_type),
        n.depth,
        n.min,
        n.max,
        parent,
        n.parent_raw,
        if n.dead {
            paint.paint(Role::Bad, " DEAD")
        } else {
            "".into()
        }
    );
    let end_src = if n.end_from_meta {
        "metadata"
    } else {
        "pivots"
    };
    let _ = write!(out, "  data end {} (from {end_src})", n.data_end);
    if n.node_type == MapleType::Arange64 {
        let _ = write!(out, ", meta.gap {}", n.meta_gap);
    }
    let _ = writeln!(out);
    for sl in &n.slots {
        let what = match sl.kind {
            SlotKind::Child => format!("child {:#x}", sl.raw),
            SlotKind::Entry => format!("vma {:#x}", sl.raw),
            SlotKind::Reserved => format!("reserved {:#x}", sl.raw),
            SlotKind::Null => "NULL".to_string(),
        };
        let gap = n
            .gaps
            .get(sl.index as usize)
            .map(|g| format!("  gap {g:#x}"))
            .unwrap_or_default();
        let piv = n
            .pivots
            .get(sl.index as usize)
            .map(|p| format!("pivot {p:#x}"))
            .unwrap_or_else(|| "pivot -".to_string());
        let _ = writeln!(
            out,
            "  slot {:2} [{:#x}, {:#x}] {piv}  {what}{gap}",
            sl.index, sl.min, sl.max
        );
    }
}

/// The summary block for a maple tree.
pub fn maple_summary(s: &MapleSnapshot, out: &mut String) {
    let sum = s.summary();
    let _ = writeln!(out, "\nsummary");
    let _ = writeln!(out, "  height (ma_flags)   {}", sum.height_in_flags);
    let _ = writeln!(out, "  levels walked       {}", sum.levels_walked);
    let _ = writeln!(out, "  nodes               {}", sum.nodes);
    let _ = writeln!(out, "  entries             {}", sum.entries);
    if sum.reserved_entries > 0 {
        let _ = writeln!(out, "  reserved entries    {}", sum.reserved_entries);
    }
    for t in &sum.per_type {
        let fill = if t.capacity > 0 {
            100.0 * t.used_slots as f64 / t.capacity as f64
        } else {
            0.0
        };
        let per = if t.nodes > 0 {
            t.used_slots as f64 / t.nodes as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {:<10} nodes {:>6}  slots used {:>7}/{:<7} ({fill:.1}% fill, {per:.2} per node, {} NULL)",
            short_type(t.node_type),
            t.nodes,
            t.used_slots,
            t.capacity,
            t.null_slots
        );
    }
    let _ = writeln!(
        out,
        "  node memory         {} bytes ({} x 256)",
        sum.node_bytes, sum.nodes
    );
}

/// ASCII diagram: the internal levels node by node, leaves collapsed when many.
pub fn maple_diagram(s: &MapleSnapshot, max_lines: usize, out: &mut String) {
    let _ = writeln!(out, "\ndiagram");
    let by_addr: HashMap<u64, &MapleNodeSnap> = s.nodes.iter().map(|n| (n.addr, n)).collect();
    let Some(root) = s.nodes.first() else {
        let _ = writeln!(out, "  (empty tree)");
        return;
    };
    let mut lines = 0usize;
    diagram_node(root, &by_addr, "", true, true, max_lines, &mut lines, out);
    if lines >= max_lines {
        let _ = writeln!(out, "  ... (diagram cut at {max_lines} lines)");
    }
}

#[allow(clippy::too_many_arguments)]
fn diagram_node(
    n: &MapleNodeSnap,
    by_addr: &HashMap<u64, &MapleNodeSnap>,
    prefix: &str,
    last: bool,
    is_root: bool,
    max_lines: usize,
    lines: &mut usize,
    out: &mut String,
) {
    if *lines >= max_lines {
        return;
    }
    let branch = if is_root {
        ""
    } else if last {
        "└─ "
    } else {
        "├─ "
    };
    let entries = n.slots.iter().filter(|s| s.kind == SlotKind::Entry).count();
    let nulls = n.slots.iter().filter(|s| s.kind == SlotKind::Null).count();
    let body = if n.node_type.is_leaf() {
        format!("{entries} vma, {nulls} gap")
    } else {
        format!(
            "{} children",
            n.slots.iter().filter(|s| s.kind == SlotKind::Child).count()
        )
    };
    let _ = writeln!(
        out,
        "  {prefix}{branch}{} {:#x} [{:#x}-{:#x}] {}/{} slots: {body}",
        short_type(n.node_type),
        n.addr,
        n.min,
        n.max,
        n.used(),
        n.raw_slots.len()
    );
    *lines += 1;
    let kids: Vec<&MapleNodeSnap> = n
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Child)
        .filter_map(|s| by_addr.get(&(s.raw & !0xff)).copied())
        .collect();
    let child_prefix = if is_root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "   " } else { "│  " })
    };
    // Leaves under one parent are summarised on one line when they are many.
    if kids.len() > 4 && kids.iter().all(|k| k.node_type.is_leaf()) {
        let used: usize = kids.iter().map(|k| k.used()).sum();
        let vmas: usize = kids
            .iter()
            .map(|k| k.slots.iter().filter(|s| s.kind == SlotKind::Entry).count())
            .sum();
        let _ = writeln!(
            out,
            "  {child_prefix}└─ {} leaves, {used} slots used ({:.1} per leaf), {vmas} vma",
            kids.len(),
            used as f64 / kids.len() as f64
        );
        *lines += 1;
        return;
    }
    for (i, k) in kids.iter().enumerate() {
        diagram_node(
            k,
            by_addr,
            &child_prefix,
            i + 1 == kids.len(),
            false,
            max_lines,
            lines,
            out,
        );
    }
}

/// Node-by-node dump of an rb-tree with the vm_next list order beside it.
/// `paint` colours the color column.
pub fn rb_dump(t: &RbSnapshot, l: &ListSnapshot, paint: Paint, out: &mut String) {
    let _ = writeln!(
        out,
        "rb-tree at {:#x}: root {:#x}; list from {:#x}",
        t.root_addr, t.root, l.first
    );
    use Align::{Left, Right};
    let mut table = table::new(&[
        ("#", Right),
        ("node", Right),
        ("color", Left),
        ("depth", Right),
        ("parent", Right),
        ("left", Right),
        ("right", Right),
        ("range", Left),
        ("subtree_gap", Right),
        ("list vma", Right),
        ("prev", Right),
        ("next", Right),
    ]);
    table::styled(&mut table, paint);
    let n = t.nodes.len().max(l.entries.len());
    for i in 0..n {
        let mut row: Vec<Cell> = vec![i.into()];
        match t.nodes.get(i) {
            Some(x) => {
                let (range, gap) = match x.vma {
                    Some(v) => (
                        format!("{:#x}-{:#x}", v.vm_start, v.vm_end),
                        v.rb_subtree_gap
                            .map(|g| format!("{g:#x}"))
                            .unwrap_or_default(),
                    ),
                    None => (String::new(), String::new()),
                };
                let role = if x.color == RB_RED {
                    Role::Red
                } else {
                    Role::Black
                };
                row.push(format!("{:#x}", x.node).into());
                row.push(table::cell(paint, role, color_name(x.color).to_string()));
                row.extend(
                    [
                        x.depth.to_string(),
                        format!("{:#x}", x.parent),
                        format!("{:#x}", x.left),
                        format!("{:#x}", x.right),
                        range,
                        gap,
                    ]
                    .map(Cell::from),
                );
            }
            None => {
                row.push("(tree ended)".into());
                row.extend(std::iter::repeat_n(Cell::from(""), 7));
            }
        }
        match l.entries.get(i) {
            Some(e) => row.extend(
                [
                    format!("{:#x}", e.addr),
                    format!("{:#x}", e.prev),
                    format!("{:#x}", e.next),
                ]
                .map(Cell::from),
            ),
            None => row.push("(list ended)".into()),
        }
        table.add_row(row);
    }
    let _ = writeln!(out, "{table}");
    issues(t.issues.iter().chain(l.issues.iter()), paint, out);
}

/// Summary for an rb-tree.
pub fn rb_summary(t: &RbSnapshot, l: &ListSnapshot, vma_size: u64, out: &mut String) {
    let reds = t.nodes.iter().filter(|n| n.color == 0).count();
    let _ = writeln!(out, "\nsummary");
    let _ = writeln!(out, "  height              {}", t.height());
    let _ = writeln!(
        out,
        "  nodes               {} ({} red, {} black)",
        t.nodes.len(),
        reds,
        t.nodes.len() - reds
    );
    let _ = writeln!(out, "  list entries        {}", l.entries.len());
    let _ = writeln!(
        out,
        "  entries per node    1 (rb_node embedded in vm_area_struct)"
    );
    let _ = writeln!(
        out,
        "  node memory         {} bytes of rb_node inside {} bytes of vm_area_struct",
        t.nodes.len() * 24,
        t.nodes.len() as u64 * vma_size
    );
}

/// `vmscope tree --json`: the walked structure, its summary, the vmacache `C`
/// (kernels before 6.1) and the lookup costs.
#[derive(Serialize)]
pub struct TreeJson<'a, C: Serialize> {
    pub pid: i32,
    #[serde(serialize_with = "crate::trees::ser_hex")]
    pub mm: u64,
    pub map_count: i32,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maple: Option<&'a MapleSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maple_summary: Option<crate::trees::maple::MapleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rb: Option<&'a RbSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<&'a ListSnapshot>,
    pub vmacache: C,
    pub cost: Vec<CostRow>,
    /// Impossible VMAs met in the tree (absent when none).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub warnings: &'a [crate::check::Finding],
    /// Live only: walks the stable read took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<u32>,
}

/// The cost rows (check/costs.rs) as a table.
pub fn cost_table(rows: &[CostRow], out: &mut String) {
    let _ = writeln!(
        out,
        "\ncost per lookup (find_vma at every vm_start) and per full iteration"
    );
    use Align::{Left, Right};
    let mut table = table::new(&[
        ("structure", Left),
        ("basis", Left),
        ("avg steps", Right),
        ("max", Right),
        ("avg lines", Right),
        ("iter steps", Right),
        ("iter lines", Right),
    ]);
    for r in rows {
        table.add_row(vec![
            r.structure.clone(),
            r.basis.clone(),
            format!("{:.2}", r.avg_steps),
            r.max_steps.to_string(),
            format!("{:.2}", r.avg_cache_lines),
            r.iterate_steps.to_string(),
            r.iterate_cache_lines.to_string(),
        ]);
    }
    let _ = writeln!(out, "{table}");
}

/// One thread's vmacache as `tree` prints it (kernels before 6.1).
pub struct VmacacheRow<'a> {
    pub tid: i32,
    pub seqnum: u64,
    pub mm_seqnum: u64,
    pub valid: bool,
    pub vmas: &'a [u64],
}

/// The per-thread vmacache table.
pub fn vmacache_table(rows: &[VmacacheRow<'_>], out: &mut String) {
    let _ = writeln!(out, "\nvmacache (per thread)");
    use Align::{Left, Right};
    let mut table = table::new(&[
        ("tid", Right),
        ("seqnum", Right),
        ("mm seqnum", Right),
        ("state", Left),
        ("vmas", Left),
    ]);
    for t in rows {
        let vmas: Vec<String> = t.vmas.iter().map(|x| format!("{x:#x}")).collect();
        table.add_row(vec![
            t.tid.to_string(),
            t.seqnum.to_string(),
            t.mm_seqnum.to_string(),
            (if t.valid { "valid" } else { "stale" }).to_string(),
            vmas.join(", "),
        ]);
    }
    let _ = writeln!(out, "{table}");
}

/// The first line of `tree`'s text: which process and mm.
pub fn header(pid: i32, comm: &str, mm: u64, map_count: i32, out: &mut String) {
    let _ = writeln!(
        out,
        "pid {pid} ({}) mm {mm:#x} map_count {map_count}",
        table::escape(comm)
    );
}
