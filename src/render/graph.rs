//! `graph --pid N`: the objects behind a process's address space (task_struct,
//! mm_struct, the tree root, VMAs, files, pgd) as boxes in columns, linked by the
//! members that point from one to the next. The command fills the model from what
//! the kernel layer read; the SVG and DOT writers draw it alike, with the same ids.

use super::svg::esc;
use std::fmt::Write as _;

/// One object: `id` is `KIND-0x<address>` (or `fold-vmas`), `lines` its text, the
/// first line its type and address.
#[derive(Clone, Debug)]
pub struct Obj {
    pub id: String,
    pub class: &'static str,
    pub column: usize,
    pub lines: Vec<String>,
}

/// A pointer (or embedding) from one object to another, named by the member.
#[derive(Clone, Debug)]
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub member: String,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub title: String,
    pub objs: Vec<Obj>,
    pub links: Vec<Link>,
}

impl Graph {
    /// Adds an object (an id met before returns the first one's index).
    pub fn obj(
        &mut self,
        id: String,
        class: &'static str,
        column: usize,
        lines: Vec<String>,
    ) -> usize {
        if let Some(i) = self.objs.iter().position(|o| o.id == id) {
            return i;
        }
        self.objs.push(Obj {
            id,
            class,
            column,
            lines,
        });
        self.objs.len() - 1
    }

    pub fn link(&mut self, from: usize, to: usize, member: &str) {
        self.links.push(Link {
            from,
            to,
            member: member.to_string(),
        });
    }

    /// The id of a link's element: `edge-FROM-TO`.
    pub fn link_id(&self, l: &Link) -> String {
        format!("edge-{}-{}", self.objs[l.from].id, self.objs[l.to].id)
    }
}

pub fn fill(class: &str) -> &'static str {
    match class {
        "task" => "#e8eefc",
        "mm" => "#fdf1dc",
        "pgd" => "#f3e6fa",
        "root" => "#fde8e8",
        "vma" => "#f7fbef",
        "file" => "#eaf6f6",
        _ => "#f0f0f0",
    }
}

/// Graphviz DOT of the graph, left to right, ids as in the SVG.
pub fn dot(g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph vmscope {{");
    let _ = writeln!(
        out,
        "  label=\"{}\"; labelloc=t; rankdir=LR;",
        esc(&g.title)
    );
    out.push_str("  node [fontname=\"monospace\", fontsize=10, shape=box, style=filled];\n");
    out.push_str("  edge [color=\"#555555\", fontname=\"monospace\", fontsize=9];\n");
    for (i, o) in g.objs.iter().enumerate() {
        let label: Vec<String> = o.lines.iter().map(|l| esc(l)).collect();
        let _ = writeln!(
            out,
            "  o{i} [id=\"{}\", fillcolor=\"{}\", label=<{}>];",
            esc(&o.id),
            fill(o.class),
            label.join("<br/>")
        );
    }
    for l in &g.links {
        let _ = writeln!(
            out,
            "  o{} -> o{} [id=\"{}\", label=<{}>];",
            l.from,
            l.to,
            esc(&g.link_id(l)),
            esc(&l.member)
        );
    }
    out.push_str("}\n");
    out
}
