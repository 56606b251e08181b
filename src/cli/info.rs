//! `vmscope info`: what kernel this is and how its memory is mapped.

use super::target::TargetArgs;
use crate::debuginfo::KernelTypes;
use crate::kernel::panic::PanicInfo;
use crate::kernel::symbols::Origin;
use crate::kernel::Kernel;
use crate::kernel::Paging;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print a JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &InfoArgs, t: &TargetArgs) -> Result<i32> {
    let k = t.open(None)?;
    let panic = panic_info(t, &k)?;
    if a.json {
        let f = gather(t, &k)?;
        let mut v = json!({
            "release": k.release,
            "format": k.format.to_string(),
            "kaslr_offset": format!("{:#x}", k.kaslr_offset()),
            "text": format!("{:#x}", k.text_start()),
            "cpus_online": f.cpus,
            "build_id": f.build_id,
            "vmlinux": k.syms.path(),
            "vmlinux_build_id": k.syms.build_id,
            "types": f.types,
            "symbols": f.symbols,
        });
        for f in &f.facts {
            v[f.key] = f.json.clone();
        }
        // Only after a panic: other dumps' output stays as it was.
        if let Some(p) = &panic {
            v["panic"] = json!({
                "cpu": p.cpu,
                "task": p.task.as_ref().map(|t| format!("{:#x}", t.0)),
                "pid": p.task.as_ref().map(|t| t.1),
                "comm": p.task.as_ref().map(|t| t.2.clone()),
                "message": p.message,
            });
        }
        crate::render::print_json(&v)?;
        return Ok(0);
    }
    write!(std::io::stdout().lock(), "{}", text(t, &k, panic.as_ref())?)?;
    Ok(0)
}

/// What `info` says besides the kernel's own fields.
struct Gathered {
    facts: Vec<Fact>,
    cpus: Vec<u32>,
    build_id: Option<String>,
    types: String,
    symbols: String,
}

fn gather(t: &TargetArgs, k: &Kernel) -> Result<Gathered> {
    let (types, symbols) = t.sources(k);
    Ok(Gathered {
        facts: arch_facts(k.paging()),
        cpus: k.online_cpus()?,
        build_id: k
            .vmcoreinfo
            .as_ref()
            .and_then(|i| i.build_id())
            .map(str::to_string),
        types,
        symbols,
    })
}

/// `info`'s text: one `label  value` line per fact (`report` shows it too).
pub(super) fn text(t: &TargetArgs, k: &Kernel, panic: Option<&PanicInfo>) -> Result<String> {
    use std::fmt::Write as _;
    let f = gather(t, k)?;
    let mut s = String::new();
    let _ = writeln!(s, "release           {}", k.release);
    let _ = writeln!(s, "format            {}", k.format);
    let _ = writeln!(s, "KASLR offset      {:#x}", k.kaslr_offset());
    let _ = writeln!(s, "_text             {:#x}", k.text_start());
    for f in &f.facts {
        let _ = writeln!(s, "{:<18}{}", f.label, f.text);
    }
    let _ = writeln!(
        s,
        "CPUs online       {} ({})",
        f.cpus.len(),
        f.cpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(b) = f.build_id {
        let _ = writeln!(s, "build-id          {b}");
    }
    if k.syms.origin() == Origin::Vmlinux {
        let _ = writeln!(s, "vmlinux           {}", k.syms.path());
    } else {
        let _ = writeln!(s, "types             {}", f.types);
        let _ = writeln!(s, "symbols           {}", f.symbols);
    }
    if let Some(p) = panic {
        let _ = writeln!(s, "{}", crate::render::bt::panic_line(p));
    }
    Ok(s)
}

/// One line of the architecture's translation facts: text label and value, JSON key and value.
struct Fact {
    label: &'static str,
    text: String,
    key: &'static str,
    json: serde_json::Value,
}

fn fact(label: &'static str, key: &'static str, v: u64) -> Fact {
    Fact {
        label,
        text: format!("{v:#x}"),
        key,
        json: json!(format!("{v:#x}")),
    }
}

/// What `info` shows of the address translation, per architecture.
fn arch_facts(p: &Paging) -> Vec<Fact> {
    match p {
        Paging::X86_64(p) => {
            let levels = if p.l5 { 5 } else { 4 };
            vec![
                fact("phys_base", "phys_base", p.phys_base),
                fact(
                    "page_offset_base",
                    "page_offset_base",
                    p.page_offset_base.unwrap_or(0),
                ),
                Fact {
                    label: "paging levels",
                    text: levels.to_string(),
                    key: "paging_levels",
                    json: json!(levels),
                },
            ]
        }
        Paging::Arm64(p) => vec![
            Fact {
                label: "architecture",
                text: "aarch64".into(),
                key: "arch",
                json: json!("aarch64"),
            },
            fact("kimage_voffset", "kimage_voffset", p.kimage_voffset),
            fact("PHYS_OFFSET", "phys_offset", p.phys_offset),
            fact("PAGE_OFFSET", "page_offset", p.page_offset()),
            Fact {
                label: "VA bits",
                text: format!("{} (kernel built for {})", p.va_bits_actual, p.va_bits),
                key: "va_bits",
                json: json!({"actual": p.va_bits_actual, "built": p.va_bits}),
            },
            Fact {
                label: "page size",
                text: (1u64 << p.page_shift).to_string(),
                key: "page_size",
                json: json!(1u64 << p.page_shift),
            },
            Fact {
                label: "paging levels",
                text: p.levels().to_string(),
                key: "paging_levels",
                json: json!(p.levels()),
            },
        ],
    }
}

/// The panic, when the dump was taken after one. The types (for the task and the
/// message) are loaded only then; without them, the CPU alone.
fn panic_info(t: &TargetArgs, k: &Kernel) -> Result<Option<PanicInfo>> {
    if k.panic_cpu()?.is_none() {
        return Ok(None);
    }
    panic_with(k, t.load_types().ok().as_ref())
}

/// The panic with the types already loaded (or none: the CPU alone).
pub(super) fn panic_with(k: &Kernel, types: Option<&KernelTypes>) -> Result<Option<PanicInfo>> {
    let Some(cpu) = k.panic_cpu()? else {
        return Ok(None);
    };
    let bare = PanicInfo {
        cpu,
        task: None,
        message: None,
    };
    Ok(Some(match types {
        Some(types) => k.panic_info(types)?.unwrap_or(bare),
        None => bare,
    }))
}
