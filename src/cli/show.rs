//! `vmscope show TYPE (ADDR | SYMBOL | --pid N) [MEMBER.PATH] [--json] [--module NAME]`: a struct's layout
//! (pahole columns: type, name, offset, size) with the value of every member read
//! from kernel memory beside it. Nested structs and unions are expanded and
//! indented; offsets are from the start of the object shown.

use super::target::{parse_u64, TargetArgs};
use crate::debuginfo::{TypeSource, TypeSourceExt};
use crate::kernel::expr::eval::{Evaluator, Ty, Val};
use crate::kernel::value::{Decoder, Value, ValueNode};
use crate::render::pahole::{MemberLine, MemberVisitor, PrintOptions, Printer};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::json;
use std::fmt::Write as _;

/// Objects larger than this are refused (a bad TYPE name for a huge array, say).
const MAX_OBJECT: u64 = 1 << 20;
/// Column where the offset/size comment starts.
const COMMENT_COL: usize = 56;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Struct or union name, e.g. task_struct, mm_struct, vm_area_struct
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// ADDR (kernel virtual, 0x..., or a kernel or module symbol) unless --pid is given,
    /// then an optional MEMBER.PATH
    #[arg(value_name = "ADDR | MEMBER.PATH", num_args = 0..=2)]
    pub rest: Vec<String>,
    /// Use the task (task_struct) or its mm (mm_struct) of this pid
    #[arg(long)]
    pub pid: Option<i32>,
    /// Print JSON instead of the annotated layout
    #[arg(long)]
    pub json: bool,
    /// Expand every nested struct and union (offsets from the object's start)
    /// instead of pahole's layout with one line per member
    #[arg(short = 'E', long)]
    pub expand: bool,
    /// Types from this loaded module's BTF (split on the kernel's), e.g. qemu_fw_cfg
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,
}

pub fn run(a: &ShowArgs, t: &TargetArgs) -> Result<i32> {
    let (addr_arg, path) = match (a.pid, a.rest.as_slice()) {
        (Some(_), []) => (None, None),
        (Some(_), [p]) => (None, Some(p.clone())),
        (None, [addr]) => (Some(addr.clone()), None),
        (None, [addr, p]) => (Some(addr.clone()), Some(p.clone())),
        (Some(_), _) => bail!("with --pid, give at most one MEMBER.PATH"),
        (None, _) => bail!("give an address or --pid N"),
    };
    let (types, k) = t.open_typed()?;
    // With --module, pointers into modules are named too, and its statics are addresses.
    let modsyms = match &a.module {
        Some(_) => Some(super::modules::module_symbols(&k, &types)?),
        None => None,
    };
    let base = match (a.pid, addr_arg) {
        (Some(pid), _) => {
            let t = k.task_by_pid(pid)?;
            match a.type_name.as_str() {
                "task_struct" => t.addr,
                "mm_struct" => t.mm.ok_or_else(|| anyhow!("pid {pid} ({}) is a kernel thread: it has no mm_struct", t.comm))?,
                other => bail!("--pid selects a task_struct or mm_struct, not {other}; give an address instead"),
            }
        }
        (None, Some(s)) => match parse_u64(&s) {
            Ok(x) => x,
            Err(e) if s.starts_with(|c: char| c.is_ascii_digit()) => bail!(e),
            Err(_) => super::modules::symbol_address(
                &k,
                &types,
                modsyms.as_ref(),
                &s,
                a.module.as_deref(),
            )?,
        },
        (None, None) => bail!("give an address or --pid N"),
    };
    let module_types = match &a.module {
        Some(m) => Some(super::modules::module_types(&k, &types, t, m)?),
        None => None,
    };
    let src: &dyn TypeSource = match &module_types {
        Some(db) => db,
        None => &types,
    };
    let top = src.find_struct(&a.type_name)?.ok_or_else(|| {
        anyhow!(
            "{}: no struct or union named '{}'",
            t.types_path(),
            a.type_name
        )
    })?;
    let (addr, id, label) = match &path {
        Some(p) => {
            // Member paths cross pointers (`mm.mmap_base`), as `print` evaluates them.
            let ev = Evaluator::new(&k, src);
            let start = Val::Obj {
                ty: Ty {
                    id: Some(top),
                    ptrs: 0,
                },
                addr: base,
                bits: None,
            };
            match ev.member_path(start, p, &a.type_name)? {
                Val::Obj { ty, addr, .. } => {
                    let ty = ev.definition(ty)?.unwrap_or(ty);
                    let id = ty.id.ok_or_else(|| anyhow!("{p}: has type void"))?;
                    (addr, id, p.clone())
                }
                _ => bail!("{p}: not a member of {}", a.type_name),
            }
        }
        None => (base, top, String::new()),
    };
    let size = src.size_of(id)?.unwrap_or(0);
    if size > MAX_OBJECT {
        bail!(
            "{} is {size} bytes, over the {MAX_OBJECT}-byte limit",
            a.type_name
        );
    }
    let (buf, missing) = k
        .read_sparse(addr, size)
        .map_err(|e| anyhow!("reading {} at {addr:#x}: {e}", a.type_name))?;
    let dec = Decoder {
        types: src,
        syms: &k.syms,
        modules: modsyms.as_ref(),
    };
    let ctx = if path.is_some() {
        a.type_name.as_str()
    } else {
        ""
    };
    let mut node = dec.node(&label, Some(id), &buf, 0, ctx, 0);
    for (range, why) in &missing {
        node.mark_missing(range, why);
    }
    if a.json {
        let v = json!({ "type": a.type_name, "address": format!("{addr:#x}"), "path": path, "node": node });
        crate::render::print_json(&v)?;
        return Ok(0);
    }
    let mut out = String::new();
    if !a.expand && matches!(node.value, Value::Composite) {
        // pahole's own layout of the type (holes, padding, cachelines), a value after each member.
        let _ = writeln!(
            out,
            "/* {} at {addr:#x} */",
            if label.is_empty() {
                a.type_name.clone()
            } else {
                format!("{}.{label}", a.type_name)
            }
        );
        let mut text = Vec::new();
        let mut values = Values { root: &node };
        Printer::new(src, PrintOptions::default()).print_with(
            src.strip_typedefs(id)?,
            &mut text,
            Some(&mut values),
        )?;
        out.push_str(&String::from_utf8_lossy(&text));
    } else if node.members.is_empty() && !matches!(node.value, Value::Composite) {
        let _ = writeln!(
            out,
            "{} {}{} = {}    /* {addr:#x}, {} bytes */",
            node.type_name,
            node.name,
            node.dims,
            node.value.display(),
            node.size
        );
    } else {
        let title = if label.is_empty() {
            node.type_name.clone()
        } else {
            format!("{} ({}.{label})", node.type_name, a.type_name)
        };
        let _ = writeln!(out, "{title} {{    /* at {addr:#x}, {} bytes */", node.size);
        for m in &node.members {
            print_member(&mut out, m, 1);
        }
        let _ = writeln!(out, "}};");
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
    Ok(0)
}

/// Puts each member's value beside its line of the printed layout.
struct Values<'n> {
    root: &'n ValueNode,
}

impl MemberVisitor for Values<'_> {
    fn member(&mut self, line: &MemberLine<'_>) -> Option<String> {
        // `} name;` closes a body whose members already carry their values.
        if line.closes_body {
            return None;
        }
        let m = line
            .path
            .iter()
            .try_fold(self.root, |node, name| find_member(node, name))?;
        let v = if matches!(m.value, Value::Composite) {
            summary(m)
        } else {
            m.value.display()
        };
        Some(format!("  {v}"))
    }
}

/// The member `name` of `node`, looking inside anonymous structs and unions as C does
/// (C keeps these names unique within the struct).
fn find_member<'n>(node: &'n ValueNode, name: &str) -> Option<&'n ValueNode> {
    node.members.iter().find_map(|m| {
        if m.name.is_empty() {
            find_member(m, name)
        } else {
            (m.name == name).then_some(m)
        }
    })
}

/// A one-line value for a struct member pahole does not expand: `{counter=5}`.
fn summary(node: &ValueNode) -> String {
    const MAX_LEAVES: usize = 6;
    fn walk(n: &ValueNode, prefix: &str, out: &mut Vec<String>, more: &mut bool) {
        // A union's members overlap: its first member stands for all.
        let take = if n.is_union { 1 } else { n.members.len() };
        for m in n.members.iter().take(take) {
            let name = if m.name.is_empty() {
                prefix.to_string()
            } else if prefix.is_empty() {
                m.name.clone()
            } else {
                format!("{prefix}.{}", m.name)
            };
            if matches!(m.value, Value::Composite) {
                walk(m, &name, out, more);
            } else if out.len() < MAX_LEAVES {
                out.push(format!("{name}={}", m.value.display()));
            } else {
                *more = true;
            }
        }
    }
    let (mut parts, mut more) = (Vec::new(), false);
    walk(node, "", &mut parts, &mut more);
    if more {
        parts.push("...".into());
    }
    format!("{{{}}}", parts.join(", "))
}

fn comment(left: String, m: &ValueNode) -> String {
    let pad = COMMENT_COL.saturating_sub(left.len()).max(1);
    format!("{left}{:pad$}/* {:5} {:5} */", "", m.offset, m.size)
}

fn print_member(out: &mut String, m: &ValueNode, depth: usize) {
    let indent = "    ".repeat(depth);
    let bits = m.bit_size.map(|b| format!(":{b}")).unwrap_or_default();
    let sep = if m.type_name.ends_with('*') { "" } else { " " };
    if matches!(m.value, Value::Composite) {
        let _ = writeln!(out, "{indent}{} {{", m.type_name.replace(" {...}", ""));
        for c in &m.members {
            print_member(out, c, depth + 1);
        }
        let left = format!("{indent}}} {}{};", m.name, m.dims);
        let _ = writeln!(out, "{}", comment(left.replace("} ;", "};"), m));
        return;
    }
    // Function pointers carry the name inside: `void (*name)(int)`.
    let left = if m.type_name.contains("(*)") {
        format!(
            "{indent}{}{};",
            m.type_name
                .replacen("(*)", &format!("(*{}{})", m.name, m.dims), 1),
            bits
        )
    } else {
        format!("{indent}{}{sep}{}{}{bits};", m.type_name, m.name, m.dims)
    };
    let _ = writeln!(out, "{}  {}", comment(left, m), m.value.display());
}
