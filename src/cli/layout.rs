//! `vmscope layout`: struct layouts byte-identical to `pahole -F dwarf -C NAME` (DWARF) or
//! `pahole -F btf` (BTF).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::target::TargetArgs;
use crate::debuginfo::select::{select, LoadOptions, Purpose, Request, TypeFile};
use crate::debuginfo::KernelTypes;
use crate::kernel::live::os_release;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rayon::prelude::*;

use vmscope_types::*;

/// Re-exports used by this command (keeps the `use` lines short).
mod vmscope_types {
    pub use crate::debuginfo::{NameKind, TypeId, TypeSource};
    pub use crate::render::layout_json::{layout_json, JsonType, SCHEMA_VERSION};
    pub use crate::render::pahole::infer::Inference;
    pub use crate::render::pahole::{PaholeVersion, PrintOptions, Printer};
}

/// The pahole whose text `layout` reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AsPahole {
    /// Debian 12's pahole
    #[value(name = "1.24")]
    V1_24,
    /// pahole 1.30 (Debian 13): more notes on member types, -E expands enums and typedefs
    #[value(name = "1.30")]
    V1_30,
}

#[derive(Args, Debug)]
pub struct LayoutArgs {
    /// Type names (struct, union, enum or typedef); none = every struct and union
    pub names: Vec<String>,
    /// Type names, comma-separated (pahole's -C)
    #[arg(short = 'C', long = "class_name", value_delimiter = ',')]
    pub class_name: Vec<String>,
    /// Offsets and sizes in hexadecimal
    #[arg(long)]
    pub hex: bool,
    /// Expand typedefs and named struct/union members inline
    #[arg(short = 'E', long = "expand-types")]
    pub expand_types: bool,
    /// Cacheline size in bytes
    #[arg(short = 'c', long = "cacheline-size", default_value_t = 64)]
    pub cacheline_size: u32,
    /// Print exactly as this pahole version does (its notes and summaries differ)
    #[arg(
        long = "as-pahole",
        value_enum,
        value_name = "VERSION",
        default_value = "1.24"
    )]
    pub as_pahole: AsPahole,
    /// One line per struct/union: name, size, number of holes (tab-separated)
    #[arg(short = 's', long)]
    pub sizes: bool,
    /// One line per struct/union: name, number of members (tab-separated)
    #[arg(short = 'n', long = "nr-members")]
    pub nr_members: bool,
    /// Only types whose name starts with this prefix
    #[arg(short = 'y', long = "prefix")]
    pub prefix: Option<String>,
    /// JSON instead of pahole text (schema: docs/layout-json.md)
    #[arg(long)]
    pub json: bool,
    /// Do not read or write the on-disk DWARF name index
    #[arg(long)]
    pub no_cache: bool,
    /// The base of a split `--btf` file (a module's .ko, .ko.xz/.zst/.gz, or
    /// /sys/kernel/btf/MOD): raw BTF or an ELF with .BTF; default /sys/kernel/btf/vmlinux
    #[arg(long = "btf-base", value_name = "FILE", requires = "btf")]
    pub btf_base: Option<PathBuf>,
    /// Write the one type named as a cache-line grid SVG to FILE (no text on stdout)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,
}

pub fn run(a: &LayoutArgs, t: &TargetArgs) -> Result<i32> {
    if a.cacheline_size == 0 {
        bail!("--cacheline-size must be positive");
    }
    let (types, file) = match t.core {
        Some(_) => t.dump_layout_types(a.cacheline_size)?,
        None => running_types(a, t)?,
    };
    // One monomorphic printer per source (no dispatch per type lookup).
    match types {
        KernelTypes::Dwarf(db) => run_with(&*db, file.path(), a),
        KernelTypes::Btf(db) => {
            let result = run_with(&*db, file.path(), a);
            // The process ends next: freeing every converted BTF type one by one would
            // cost a fifth of a full listing's time.
            std::mem::forget(db);
            result
        }
    }
}

/// Types of the running kernel's files, or the ones given.
fn running_types(a: &LayoutArgs, t: &TargetArgs) -> Result<(KernelTypes, TypeFile)> {
    let release = os_release();
    let file = select(&Request {
        purpose: Purpose::Layouts,
        vmlinux: t.vmlinux.as_deref().map(Path::new),
        btf: t.btf.as_deref(),
        dump: false,
        running_release: release.as_deref(),
        running_build_id: None,
        dump_kernel: None,
        debug_roots: &[],
    })?;
    let mut opts = LoadOptions {
        cacheline_size: a.cacheline_size,
        dwarf: super::progress::dwarf_options(),
        btf_base: a.btf_base.clone(),
    };
    if a.no_cache {
        opts.dwarf.cache_dir = None;
    }
    opts.dwarf.debug_roots = t.debug_roots();
    // BtfError and DebugInfoError already name the file.
    let types = file.load(opts)?;
    Ok((types, file))
}

fn print_opts(a: &LayoutArgs) -> PrintOptions {
    PrintOptions {
        hex: a.hex,
        expand_types: a.expand_types,
        cacheline_size: a.cacheline_size,
        version: match a.as_pahole {
            AsPahole::V1_24 => PaholeVersion::V1_24,
            AsPahole::V1_30 => PaholeVersion::V1_30,
        },
    }
}

fn with_prefix(a: &LayoutArgs, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !n.is_empty())
        .filter(|n| a.prefix.as_ref().is_none_or(|p| n.starts_with(p.as_str())))
        .cloned()
        .collect()
}

fn positional(a: &LayoutArgs) -> Vec<String> {
    with_prefix(a, &a.names)
}

fn dash_c(a: &LayoutArgs) -> Vec<String> {
    with_prefix(a, &a.class_name)
}

fn run_with<S: TypeSource>(src: &S, path: &Path, a: &LayoutArgs) -> Result<i32> {
    let out = std::io::stdout();
    let mut out = out.lock();
    if a.names.is_empty() && a.class_name.is_empty() {
        return all_types(src, path, a, &mut out);
    }
    // Positional names: each one's first definition, in the order given. -C a,b: pahole's
    // rule, which looks for each name only in units at or after the one where the previous
    // name was found (and gives up on the rest once a name is not found).
    let mut found = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for n in positional(a) {
        match src.find(&n, NameKind::Any)? {
            Some(id) => found.push(id),
            None => missing.push(format!("'{n}'")),
        }
    }
    let mut unit = 0u64;
    let mut gave_up: Option<String> = None;
    for n in dash_c(a) {
        if let Some(prev) = &gave_up {
            missing.push(format!(
                "'{n}' (not searched: pahole's -C stops at '{prev}')"
            ));
            continue;
        }
        match src.find_from(&n, NameKind::Any, unit)? {
            Some(id) => {
                unit = src.definition_order(id);
                found.push(id);
            }
            None => {
                if src.find(&n, NameKind::Any)?.is_some() {
                    missing.push(format!(
                        "'{n}' (defined only before the previous -C name's unit; pahole's -C order rule: ask for it first or separately)"
                    ));
                } else {
                    missing.push(format!("'{n}'"));
                }
                gave_up = Some(n.clone());
            }
        }
    }
    if let (Some(file), &[id]) = (&a.svg, &found[..]) {
        let j = layout_json(&mut Inference::new(src), src, id, a.cacheline_size as u64)?;
        let title = format!(
            "{} {} ({} bytes)",
            j.kind,
            j.name.as_deref().unwrap_or("(anonymous)"),
            j.size
        );
        let text = crate::render::svg::layout::picture(&j, a.cacheline_size as u64, &title);
        std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    } else if a.svg.is_some() && missing.is_empty() {
        bail!("--svg draws one type; {} were named", found.len());
    } else if a.json {
        let mut infer = Inference::new(src);
        let mut v = Vec::new();
        for id in &found {
            v.push(layout_json(&mut infer, src, *id, a.cacheline_size as u64)?);
        }
        let doc = JsonDoc {
            schema: SCHEMA_VERSION,
            types: v,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        let mut printer = Printer::new(src, print_opts(a));
        for id in &found {
            // One type at a time through a buffer: a type the printer refuses (corrupt
            // input) leaves no half-printed text before the error.
            let mut text = Vec::new();
            printer
                .print_asked(*id, &mut text)
                .with_context(|| path.display().to_string())?;
            out.write_all(&text)?;
        }
    }
    out.flush()?;
    if !missing.is_empty() {
        let all = src.all_type_names().unwrap_or_default();
        let mut parts = Vec::new();
        for m in &missing {
            let bare = m.trim_start_matches('\'').split('\'').next().unwrap_or("");
            let close = if m.len() == bare.len() + 2 {
                close_matches(bare, &all)
            } else {
                Vec::new()
            };
            if close.is_empty() {
                parts.push(m.clone());
            } else {
                parts.push(format!("{m} (did you mean: {}?)", close.join(", ")));
            }
        }
        return Err(anyhow!(
            "no type named {} in {}",
            parts.join(", "),
            path.display()
        ));
    }
    Ok(0)
}

/// Top-level JSON document: `{"schema": 1, "types": [...]}` (docs/layout-json.md).
#[derive(serde::Serialize)]
struct JsonDoc {
    schema: u32,
    types: Vec<JsonType>,
}

/// Up to five names close to `want`, best first.
fn close_matches(want: &str, all: &[String]) -> Vec<String> {
    // Jaro-Winkler is quadratic in the length. It stays below 0.85 when one string is under a
    // quarter of the other's length (Jaro < 0.75 then, and the prefix boost adds < 0.1), so
    // those pairs are not compared unless the name contains `want`: bounded work for a
    // 100,000-character name, the same suggestions as before.
    let want_len = want.chars().count();
    let mut scored: Vec<(f64, &String)> = all
        .iter()
        .filter_map(|n| {
            let len = n.chars().count();
            let comparable = want_len.min(len) * 4 >= want_len.max(len);
            let contains = want.len() >= 4 && n.contains(want);
            if !comparable && !contains {
                return None;
            }
            let score = strsim::jaro_winkler(want, n);
            (score >= 0.85 || contains).then_some((score, n))
        })
        .collect();
    scored.sort_by(|x, y| {
        y.0.partial_cmp(&x.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(x.1.cmp(y.1))
    });
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

/// Every struct and union (first definition of each name), like `pahole` with no -C.
fn all_types<S: TypeSource>(
    src: &S,
    path: &Path,
    a: &LayoutArgs,
    out: &mut impl Write,
) -> Result<i32> {
    let mut names = src.composites()?;
    if let Some(p) = &a.prefix {
        names.retain(|(n, _)| n.starts_with(p.as_str()));
    }
    let opts = print_opts(a);
    let chunks: Vec<&[(String, TypeId)]> = names.chunks(256).collect();
    let texts: Vec<Result<Vec<u8>>> = chunks
        .par_iter()
        .map(|chunk| {
            let mut printer = Printer::new(src, opts.clone());
            let mut s = Vec::new();
            for (n, id) in chunk.iter() {
                let id = *id;
                if a.sizes || a.nr_members {
                    let l = printer.inference().layout(id)?;
                    if a.sizes {
                        let holes = if l.is_union { 0 } else { l.nr_holes };
                        writeln!(s, "{}\t{}\t{}", n, l.size as i32, holes)?;
                    } else {
                        writeln!(s, "{}\t{}", n, l.members.len() as u16)?;
                    }
                } else if a.json {
                    let v = layout_json(printer.inference(), src, id, a.cacheline_size as u64)?;
                    serde_json::to_writer(&mut s, &v)?;
                    s.extend_from_slice(b",\n");
                } else {
                    printer
                        .print(id, &mut s)
                        .with_context(|| path.display().to_string())?;
                }
            }
            Ok(s)
        })
        .collect();
    if a.json && !(a.sizes || a.nr_members) {
        let mut body = String::new();
        for t in texts {
            body.push_str(&String::from_utf8_lossy(&t?));
        }
        let body = body.trim_end().trim_end_matches(',');
        writeln!(
            out,
            "{{\"schema\":{SCHEMA_VERSION},\"types\":[\n{body}\n]}}"
        )?;
        return Ok(0);
    }
    for t in texts {
        out.write_all(&t?)?;
    }
    out.flush()?;
    Ok(0)
}
