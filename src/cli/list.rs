//! `vmscope list EXPR --type TYPE --member MEMBER [--print FIELD,...] [--json]`: the
//! entries of a list_head, hlist_head, rb_root or maple tree, like crash's `list -s`.

use super::target::TargetArgs;
use crate::kernel::expr::eval::text;
use crate::kernel::expr::list::{ListStop, ListWalk};
use crate::kernel::expr::{parse, Evaluator, Val};
use crate::render::value::{self, TextOptions};
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value as Json};
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// The head: a list_head, hlist_head, rb_root(_cached) or maple_tree (or a pointer to one)
    #[arg(value_name = "EXPR")]
    pub expr: String,
    /// Type of the entries, e.g. task_struct
    #[arg(long = "type", value_name = "TYPE")]
    pub ty: String,
    /// Member of TYPE that links the entries (not needed for a maple tree, whose
    /// entries point at the objects)
    #[arg(long, value_name = "MEMBER")]
    pub member: Option<String>,
    /// Fields of each entry to print (member paths, pointers followed), comma-separated
    #[arg(long = "print", value_name = "FIELD,...", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Stop after this many entries (the walk says it was capped)
    #[arg(long, default_value_t = 100_000)]
    pub max: usize,
    /// Integers in hexadecimal
    #[arg(long)]
    pub hex: bool,
    /// Print {"expr","kind","head","type","entries":[{"address","fields"}],"stopped"} as JSON
    #[arg(long)]
    pub json: bool,
}

/// One field of one entry: its printed value or why it could not be read.
fn field(
    ev: &Evaluator,
    w: &ListWalk,
    addr: u64,
    path: &str,
    hex: bool,
) -> Result<(String, Json), String> {
    let what = format!("(({} *){addr:#x})", ev.type_name(w.entry_type));
    let obj = Val::Obj {
        ty: w.entry_type,
        addr,
        bits: None,
    };
    let v = ev
        .member_path(obj, path, &what)
        .map_err(|e| e.to_string())?;
    let p = ev
        .materialize(&v, &format!("{what}->{path}"))
        .map_err(|e| e.to_string())?;
    let opts = TextOptions { depth: 1, hex };
    Ok((
        value::text(&p.type_name, &p.node, opts).replace('\n', " "),
        json!({ "type": p.type_name, "value": value::json(&p.node) }),
    ))
}

fn stop_text(s: &ListStop) -> String {
    match s {
        ListStop::Capped(n) => format!("capped: stopped after {n} entries (raise --max)"),
        ListStop::Broken(why) => format!("stopped: {why}"),
    }
}

pub fn run(a: &ListArgs, t: &TargetArgs) -> Result<i32> {
    let e = parse(&a.expr)?;
    let (types, k) = t.open_typed()?;
    let ev = Evaluator::new(&k, &types);
    let head = ev.eval(&e)?;
    let w = ev.walk_list(&head, &text(&e), &a.ty, a.member.as_deref(), a.max)?;
    let mut out = std::io::stdout().lock();
    let fields = |addr: u64| {
        a.fields
            .iter()
            .map(|f| (f.as_str(), field(&ev, &w, addr, f, a.hex)))
            .collect::<Vec<_>>()
    };
    if a.json {
        let entries: Vec<Json> = w
            .entries
            .iter()
            .map(|&addr| {
                let mut fj = serde_json::Map::new();
                for (name, r) in fields(addr) {
                    let v = r.map(|(_, j)| j).unwrap_or_else(|e| json!({ "error": e }));
                    fj.insert(name.to_string(), v);
                }
                json!({ "address": format!("{addr:#x}"), "fields": fj })
            })
            .collect();
        let j = json!({
            "expr": a.expr,
            "kind": w.kind.name(),
            "head": format!("{:#x}", w.head),
            "type": ev.type_name(w.entry_type),
            "entries": entries,
            "stopped": w.stopped.as_ref().map(stop_text),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        for &addr in &w.entries {
            writeln!(out, "{addr:#x}")?;
            for (name, r) in fields(addr) {
                let v = r.map(|(t, _)| t).unwrap_or_else(|e| format!("<{e}>"));
                writeln!(out, "  {name} = {v}")?;
            }
        }
        if let Some(s) = &w.stopped {
            writeln!(out, "({})", stop_text(s))?;
        }
    }
    // A broken structure is a finding (exit 1); a cap is the user's bound.
    Ok(match w.stopped {
        Some(ListStop::Broken(_)) => 1,
        _ => 0,
    })
}
