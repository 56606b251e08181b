//! `vmscope bt [PID... | --all | --cpu N | --panic] [--json] [--full]`: kernel stacks,
//! unwound with the kernel's ORC tables from each task's switch frame or, for a
//! task running on a CPU, from that CPU's registers in the dump.

use super::target::TargetArgs;
use crate::debuginfo::cfi::{CallFrames, CfaBase};
use crate::debuginfo::lines::Sources;
use crate::debuginfo::KernelTypes;
use crate::kernel::orc::{OrcEntry, OrcReg, OrcType};
use crate::kernel::stack::unwind::UnwindRules;
use crate::kernel::stack::{Frame, StackLayout, Stacks, TaskTrace};
use crate::kernel::tasks::Task;
use crate::kernel::Kernel;
use crate::render::bt::{self as render, FrameSource, TaskBt};
use anyhow::{bail, Result};
use clap::Args;
use std::io::Write as _;

#[derive(Args, Debug)]
pub struct BtArgs {
    /// Tasks by pid (thread id; 0 = every CPU's idle task)
    pub pids: Vec<i32>,
    /// Every task, idle tasks included
    #[arg(long, conflicts_with_all = ["pids", "cpu", "panic"])]
    pub all: bool,
    /// The task running on this CPU
    #[arg(long, value_name = "N", conflicts_with_all = ["pids", "panic"])]
    pub cpu: Option<u32>,
    /// The CPU that panicked, its task and the panic message (the default after a panic)
    #[arg(long, conflicts_with = "pids")]
    pub panic: bool,
    /// Print a JSON array, one object per task
    #[arg(long)]
    pub json: bool,
    /// Add the raw stack words between frames, symbolized
    #[arg(long)]
    pub full: bool,
    /// Leave out source file:line and inlined calls (read from the vmlinux's DWARF)
    #[arg(long)]
    pub no_source: bool,
}

pub fn run(a: &BtArgs, t: &TargetArgs) -> Result<i32> {
    let (types, k) = t.open_typed()?;
    let arch = k.paging().arch();
    if arch != crate::kernel::Arch::X86_64 {
        bail!(
            "bt unwinds with x86-64 ORC tables; this dump is {}",
            arch.name()
        );
    }
    let layout = StackLayout::probe(&types)?;
    // Without module symbols the kernel's frames are still worth printing.
    let (modules, warnings) = k
        .module_symbols(&types)
        .unwrap_or_else(|e| (Default::default(), vec![e.to_string()]));
    for w in warnings {
        eprintln!("vmscope: warning: module symbols: {w}");
    }
    let stacks = Stacks::new(&k, layout, unwind_rules(&k, &types)?)?.with_modules(modules);
    let tasks = all_tasks(&k, &stacks)?;
    let panic_cpu = k.panic_cpu()?;
    let mut out = std::io::stdout().lock();
    let chosen: Vec<&Task> = if a.all {
        tasks.iter().collect()
    } else if !a.pids.is_empty() {
        let mut v = Vec::new();
        for pid in &a.pids {
            let found: Vec<&Task> = tasks.iter().filter(|t| t.pid == *pid).collect();
            if found.is_empty() {
                bail!("no task with pid {pid}");
            }
            v.extend(found);
        }
        v
    } else if let Some(cpu) = a.cpu.or(if a.panic { panic_cpu } else { None }) {
        vec![on_cpu(&stacks, &tasks, cpu)?]
    } else if a.panic {
        bail!("no panic in this dump (panic_cpu is -1)");
    } else if let Some(cpu) = panic_cpu {
        vec![on_cpu(&stacks, &tasks, cpu)?]
    } else {
        let cpus = 0..stacks.cpu_count();
        let v: Result<Vec<_>> = cpus.map(|c| on_cpu(&stacks, &tasks, c)).collect();
        v?
    };
    let mut traces: Vec<TaskBt> = chosen.iter().map(|t| task_bt(&stacks, t, a.full)).collect();
    if let (KernelTypes::Dwarf(db), false) = (&types, a.no_source) {
        let lines = FrameLines {
            sources: db.sources(),
            kaslr_offset: k.syms.kaslr_offset,
        };
        for t in &mut traces {
            t.sources = t.frames.iter().map(|f| lines.at(f)).collect();
        }
        if let Some(e) = lines.sources.first_error() {
            eprintln!("vmscope: warning: source lines: {e}");
        }
    }
    for t in &traces {
        if let Some(p) = &t.problem {
            eprintln!(
                "{} pid {} (task {:#x}): {p}",
                super::color::warning_prefix(),
                t.pid,
                t.task
            );
        }
    }
    if a.json {
        writeln!(out, "{}", render::json(&traces)?)?;
        return Ok(0);
    }
    if let (Some(p), false) = (k.panic_info(&types)?, a.all || !a.pids.is_empty()) {
        writeln!(out, "{}\n", render::panic_line(&p))?;
    }
    out.write_all(render::text(&traces, a.full).as_bytes())?;
    Ok(0)
}

/// Every task, plus the idle tasks of CPUs that left the online mask (a panic's
/// stop IPI takes them out) but still have registers in the dump.
fn all_tasks(k: &Kernel, stacks: &Stacks) -> Result<Vec<Task>> {
    let mut tasks = k.tasks()?;
    for cpu in 0..stacks.cpu_count() {
        let Some(addr) = stacks.running_on(cpu) else {
            continue;
        };
        if !tasks.iter().any(|t| t.addr == addr) {
            let mut t = k.read_task(addr)?;
            if t.pid == 0 {
                t.idle_cpu = Some(cpu);
            }
            tasks.push(t);
        }
    }
    Ok(tasks)
}

fn on_cpu<'t>(stacks: &Stacks, tasks: &'t [Task], cpu: u32) -> Result<&'t Task> {
    let Some(addr) = stacks.running_on(cpu) else {
        bail!(
            "CPU {cpu}: no registers in this dump ({} CPUs have)",
            stacks.cpu_count()
        );
    };
    tasks
        .iter()
        .find(|t| t.addr == addr)
        .ok_or_else(|| anyhow::anyhow!("CPU {cpu}: its task {addr:#x} is not in the task list"))
}

fn task_bt(stacks: &Stacks, t: &Task, full: bool) -> TaskBt {
    let TaskTrace { cpu, raw } = stacks.trace(t);
    let frames = stacks.frames(&raw);
    let words = if full {
        let mut w = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let hi = frames.get(i + 1).map_or(f.stack + 8, |n| n.stack);
            w.push(if hi > f.stack {
                stacks.words(f.stack + 8, hi)
            } else {
                Vec::new()
            });
        }
        w
    } else {
        Vec::new()
    };
    TaskBt {
        pid: t.pid,
        comm: t.comm.clone(),
        task: t.addr,
        cpu,
        frames,
        user_regs: raw.user_regs,
        problem: raw.problem,
        words,
        sources: Vec::new(),
    }
}

/// Source positions of frames: runtime pcs made link-time ones for the DWARF.
struct FrameLines<'a> {
    sources: Sources<'a>,
    kaslr_offset: u64,
}

impl FrameLines<'_> {
    fn at(&self, f: &Frame) -> Option<FrameSource> {
        // A return address belongs to the call before it.
        let pc = if f.exact { f.pc } else { f.pc.wrapping_sub(1) };
        let s = self.sources.source_at(pc.wrapping_sub(self.kaslr_offset))?;
        let line = |l: Option<crate::debuginfo::lines::SourceLoc>| l.map(|l| (l.file, l.line));
        Some(FrameSource {
            inlined: s.inlined.into_iter().map(|(n, l)| (n, line(l))).collect(),
            line: line(s.loc),
        })
    }
}

/// The ORC table; for a kernel built without ORC, the vmlinux's DWARF call frames.
fn unwind_rules<'a>(k: &'a Kernel, types: &'a KernelTypes) -> Result<Box<dyn UnwindRules + 'a>> {
    let no_orc = k.syms.address("__start_orc_unwind_ip").is_none();
    if let (true, KernelTypes::Dwarf(db)) = (no_orc, types) {
        if let Some(frames) = db.call_frames()? {
            return Ok(Box::new(CfiRules {
                frames,
                kaslr_offset: k.syms.kaslr_offset,
            }));
        }
    }
    Ok(Box::new(k.orc_table(Some(types))?))
}

/// DWARF call frame rows as ORC call entries: the caller's sp is the CFA, the return
/// address just below it, bp saved at an offset from it or left as it was.
struct CfiRules<'a> {
    frames: CallFrames<'a>,
    kaslr_offset: u64,
}

impl UnwindRules for CfiRules<'_> {
    fn rule(&self, ip: u64) -> Option<OrcEntry> {
        let r = self.frames.rule(ip.wrapping_sub(self.kaslr_offset))?;
        if r.ra_offset != -8 {
            return None;
        }
        Some(OrcEntry {
            sp_offset: i16::try_from(r.cfa.1).ok()?,
            bp_offset: i16::try_from(r.bp_offset.unwrap_or(0)).ok()?,
            sp_reg: match r.cfa.0 {
                CfaBase::Sp => OrcReg::Sp,
                CfaBase::Bp => OrcReg::Bp,
            },
            bp_reg: if r.bp_offset.is_some() {
                OrcReg::PrevSp
            } else {
                OrcReg::Undefined
            },
            kind: OrcType::Call,
        })
    }
    fn frame_pointers(&self) -> bool {
        false
    }
    fn what(&self) -> &'static str {
        "DWARF call frame row"
    }
}
