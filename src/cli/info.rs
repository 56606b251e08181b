//! `vmscope info`: what kernel this is and how its memory is mapped.

use super::target::TargetArgs;
use anyhow::Result;
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print a JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &InfoArgs) -> Result<i32> {
    let k = a.target.open(None)?;
    let p = *k.paging();
    let cpus = k.online_cpus()?;
    let levels = if p.l5 { 5 } else { 4 };
    let pob = p.page_offset_base.unwrap_or(0);
    let build_id = k.vmcoreinfo.as_ref().and_then(|i| i.build_id()).map(str::to_string);
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
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("release           {}", k.release);
    println!("format            {}", k.format);
    println!("KASLR offset      {:#x}", k.kaslr_offset());
    println!("_text             {:#x}", k.text_start());
    println!("phys_base         {:#x}", p.phys_base);
    println!("page_offset_base  {pob:#x}");
    println!("paging levels     {levels}");
    println!("CPUs online       {} ({})", cpus.len(), cpus.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
    if let Some(b) = build_id {
        println!("build-id          {b}");
    }
    println!("vmlinux           {}", k.syms.path());
    Ok(0)
}
