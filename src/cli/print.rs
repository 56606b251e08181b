//! `vmscope print EXPR [--json] [--hex] [--depth N]`: a C expression evaluated
//! against the kernel (globals, members through pointers, arrays, casts,
//! container_of, per_cpu), printed as gdb's `p` and drgn do.

use super::target::TargetArgs;
use crate::kernel::expr::eval::text;
use crate::kernel::expr::object::MAX_READ;
use crate::kernel::expr::{parse, Evaluator};
use crate::render::value::{self, TextOptions};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct PrintArgs {
    /// C expression, e.g. init_mm.map_count, init_task.mm, per_cpu(runqueues, 1).nr_running
    #[arg(value_name = "EXPR")]
    pub expr: String,
    /// Print {"expr","type","address","value"} as JSON
    #[arg(long)]
    pub json: bool,
    /// Integers in hexadecimal
    #[arg(long)]
    pub hex: bool,
    /// Struct levels expanded in the text output
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
}

pub fn run(a: &PrintArgs, t: &TargetArgs) -> Result<i32> {
    // Syntax first: a typo costs no dump opening.
    let e = parse(&a.expr)?;
    let (types, k) = t.open_typed()?;
    let ev = Evaluator::new(&k, &types);
    let v = ev.eval(&e)?;
    let p = ev.materialize(&v, &text(&e))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut j = json!({
            "expr": a.expr,
            "type": p.type_name,
            "address": p.address.map(|x| format!("{x:#x}")),
            "value": value::json(&p.node),
        });
        if let Some(total) = p.capped_from {
            j["capped"] = json!({ "read": MAX_READ, "size": total });
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&j)?)?;
        return Ok(0);
    }
    let opts = TextOptions {
        depth: a.depth,
        hex: a.hex,
    };
    writeln!(out, "{}", value::text(&p.type_name, &p.node, opts))?;
    if let Some(total) = p.capped_from {
        writeln!(
            out,
            "(capped: {total}-byte object, only its first {MAX_READ} bytes read)"
        )?;
    }
    Ok(0)
}
