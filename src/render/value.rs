//! A decoded kernel value as `vmscope print` shows it: C-like text in the manner of
//! gdb's `p` and drgn (`(struct mm_struct *)0x...`, `{ .member = ..., }` with a
//! depth limit), or JSON with nested objects for structs.

use crate::kernel::value::{Value, ValueNode};
use serde_json::{json, Map, Value as Json};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Struct levels expanded; deeper ones print as `{...}`.
    pub depth: usize,
    /// Integers in hexadecimal.
    pub hex: bool,
}

/// `(type)value`, structs expanded member by member.
pub fn text(type_name: &str, node: &ValueNode, o: TextOptions) -> String {
    let mut out = format!("({type_name})");
    body(&mut out, node, o, 0);
    out
}

fn body(out: &mut String, node: &ValueNode, o: TextOptions, level: usize) {
    if !matches!(node.value, Value::Composite) {
        out.push_str(&scalar(&node.value, o));
        return;
    }
    if level >= o.depth {
        out.push_str("{...}");
        return;
    }
    out.push_str("{\n");
    let indent = "\t".repeat(level + 1);
    for m in &node.members {
        let name = if m.name.is_empty() {
            String::new()
        } else {
            format!(".{} = ", m.name)
        };
        let _ = write!(out, "{indent}{name}({}{})", m.type_name, m.dims);
        body(out, m, o, level + 1);
        out.push_str(",\n");
    }
    let _ = write!(out, "{}}}", "\t".repeat(level));
}

fn scalar(v: &Value, o: TextOptions) -> String {
    match v {
        Value::Int { value } if o.hex => format!("{value:#x}"),
        Value::Uint { value } if o.hex => format!("{value:#x}"),
        Value::Uint { value } => value.to_string(),
        Value::Enum {
            value,
            name: Some(n),
        } => {
            if o.hex {
                format!("{n} ({value:#x})")
            } else {
                n.clone()
            }
        }
        Value::Array { values, total } => {
            let mut parts: Vec<String> = values.iter().map(|x| scalar(x, o)).collect();
            if (values.len() as u64) < *total {
                parts.push(format!("... {} more", *total - values.len() as u64));
            }
            format!("{{ {} }}", parts.join(", "))
        }
        other => other.display(),
    }
}

/// JSON of a value: numbers as numbers, pointers as hex strings, structs as objects.
pub fn json(node: &ValueNode) -> Json {
    if matches!(node.value, Value::Composite) {
        let mut m = Map::new();
        let mut anon = 0;
        for c in &node.members {
            let key = if c.name.is_empty() {
                anon += 1;
                format!("<anonymous {anon}>")
            } else {
                c.name.clone()
            };
            m.insert(key, json(c));
        }
        return Json::Object(m);
    }
    scalar_json(&node.value)
}

fn scalar_json(v: &Value) -> Json {
    match v {
        Value::Composite => Json::Null,
        Value::Int { value } => json!(value),
        Value::Uint { value } => json!(value),
        Value::Bool { value } => json!(value),
        Value::Float { bits } => json!({ "float_bits": format!("{bits:#x}") }),
        Value::Pointer { address, .. } => json!(address),
        Value::String { value } => json!(value),
        Value::Enum { value, name } => json!({ "value": value, "name": name }),
        Value::Flags { value, names } => json!({ "value": value, "flags": names }),
        Value::Array { values, total } => {
            let items: Vec<Json> = values.iter().map(scalar_json).collect();
            if (values.len() as u64) < *total {
                json!({ "elements": items, "total": total })
            } else {
                Json::Array(items)
            }
        }
        Value::Unknown { why } => json!({ "error": why }),
    }
}
