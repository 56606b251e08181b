//! `vmscope info`: what kernel this is and how its memory is mapped.

use super::target::TargetArgs;
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
    let p = *k.paging();
    let cpus = k.online_cpus()?;
    let levels = if p.l5 { 5 } else { 4 };
    let pob = p.page_offset_base.unwrap_or(0);
    let build_id = k
        .vmcoreinfo
        .as_ref()
        .and_then(|i| i.build_id())
        .map(str::to_string);
    if a.json {
        let v = json!({
            "release": k.release,
            "format": k.format.to_string(),
            "kaslr_offset": format!("{:#x}", k.kaslr_offset()),
            "text": format!("{:#x}", k.text_start()),
            "phys_base": format!("{:#x}", p.phys_base),
            "page_offset_base": format!("{pob:#x}"),
            "paging_levels": levels,
            "cpus_online": cpus,
            "build_id": build_id,
            "vmlinux": k.syms.path(),
            "vmlinux_build_id": k.syms.build_id,
        });
        crate::render::print_json(&v)?;
        return Ok(0);
    }
    writeln!(std::io::stdout().lock(), "release           {}", k.release)?;
    writeln!(std::io::stdout().lock(), "format            {}", k.format)?;
    writeln!(
        std::io::stdout().lock(),
        "KASLR offset      {:#x}",
        k.kaslr_offset()
    )?;
    writeln!(
        std::io::stdout().lock(),
        "_text             {:#x}",
        k.text_start()
    )?;
    writeln!(
        std::io::stdout().lock(),
        "phys_base         {:#x}",
        p.phys_base
    )?;
    writeln!(std::io::stdout().lock(), "page_offset_base  {pob:#x}")?;
    writeln!(std::io::stdout().lock(), "paging levels     {levels}")?;
    writeln!(
        std::io::stdout().lock(),
        "CPUs online       {} ({})",
        cpus.len(),
        cpus.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    )?;
    if let Some(b) = build_id {
        writeln!(std::io::stdout().lock(), "build-id          {b}")?;
    }
    writeln!(
        std::io::stdout().lock(),
        "vmlinux           {}",
        k.syms.path()
    )?;
    Ok(0)
}
