//! Kernel stacks: where each task's stack starts (a sleeping task's switch frame, a
//! running CPU's register note) and the frames the ORC walk finds from there.

pub mod regs;
pub mod unwind;

use super::module_syms::ModuleSymbols;
use super::offsets::{field, need_size, Field, TypeLookup};
use super::tasks::Task;
use super::{Kernel, KernelError, ReadContext};
use crate::memory::dump::Format;
use crate::memory::space::KernelSpace;
use crate::memory::Memory;
use regs::Regs;
use unwind::{RawTrace, Start, UnwindRules};

/// x86-64 THREAD_SIZE without KASAN (16 KiB): the task stack's extent.
pub const THREAD_SIZE: u64 = 16 << 10;

/// Member offsets the stack starts need.
#[derive(Debug, Clone, Copy)]
pub struct StackLayout {
    task_stack: Field,
    thread_sp: Field,
    frame_bp: Field,
    frame_ret: Field,
    frame_size: u64,
    rq_curr: Field,
}

impl StackLayout {
    pub fn probe(t: &dyn TypeLookup) -> Result<StackLayout, KernelError> {
        let frame = "inactive_task_frame";
        Ok(StackLayout {
            task_stack: field(t, "task_struct", "stack")?,
            thread_sp: field(t, "task_struct", "thread.sp")?,
            frame_bp: field(t, frame, "bp")?,
            frame_ret: field(t, frame, "ret_addr")?,
            frame_size: need_size(t, frame)?,
            rq_curr: field(t, "rq", "curr")?,
        })
    }
}

/// One task's trace.
#[derive(Debug, Clone)]
pub struct TaskTrace {
    /// The CPU whose register note the trace started from (the task was running there).
    pub cpu: Option<u32>,
    pub raw: RawTrace,
}

/// What `bt` needs besides the kernel: the layout, the ORC table and each CPU's state.
pub struct Stacks<'k> {
    k: &'k Kernel,
    /// Kernel memory: vmalloc'ed (CONFIG_VMAP_STACK) task and IRQ stacks translate
    /// through the page tables, the direct map ending at `vmalloc_base`.
    mem: &'k KernelSpace,
    layout: StackLayout,
    orc: Box<dyn UnwindRules + 'k>,
    /// (task running there, its registers from the dump's note) per CPU.
    cpus: Vec<(u64, Option<Regs>)>,
    /// Symbols of loaded modules, for frames in module text.
    modules: ModuleSymbols,
}

impl<'k> Stacks<'k> {
    pub fn new(
        k: &'k Kernel,
        layout: StackLayout,
        orc: Box<dyn UnwindRules + 'k>,
    ) -> Result<Self, KernelError> {
        let mut cpus = Vec::new();
        if k.format == Format::Kcore {
            // /proc/kcore's NT_PRSTATUS note is a placeholder: live, a running task's
            // registers are nowhere to read.
            for cpu in k.online_cpus()? {
                cpus.push((k.cpu_curr(&layout, cpu)?, None));
            }
        } else {
            // QEMU writes a note per vCPU, also for those the kernel never brought up
            // (their per-CPU offsets are unset): only CPUs below nr_cpu_ids have a runqueue.
            let nr = k
                .syms
                .address("nr_cpu_ids")
                .and_then(|a| k.mem.read_u32(a).ok())
                .map_or(usize::MAX, |n| n as usize);
            let notes = regs::cpu_registers(&k.notes);
            for (cpu, (_, r)) in notes.into_iter().enumerate().take(nr) {
                cpus.push((k.cpu_curr(&layout, cpu as u32)?, Some(r)));
            }
        }
        let mem = &k.mem;
        Ok(Stacks {
            k,
            mem,
            layout,
            orc,
            cpus,
            modules: ModuleSymbols::default(),
        })
    }

    /// Symbolize frames in module text with these symbols.
    pub fn with_modules(mut self, modules: ModuleSymbols) -> Self {
        self.modules = modules;
        self
    }

    /// CPUs known: with registers in the dump, or online (live).
    pub fn cpu_count(&self) -> u32 {
        self.cpus.len() as u32
    }

    /// The task `rq->curr` of `cpu`, if that CPU has registers in the dump.
    pub fn running_on(&self, cpu: u32) -> Option<u64> {
        self.cpus.get(cpu as usize).map(|c| c.0)
    }

    pub fn trace(&self, task: &Task) -> TaskTrace {
        if let Some(cpu) = self.cpus.iter().position(|c| c.0 == task.addr) {
            let Some(r) = self.cpus[cpu].1 else {
                let problem = format!("running on CPU {cpu}: live, its registers cannot be read");
                return TaskTrace {
                    cpu: Some(cpu as u32),
                    raw: RawTrace {
                        problem: Some(problem),
                        ..RawTrace::default()
                    },
                };
            };
            let start = Start {
                ip: r.ip(),
                sp: r.sp(),
                bp: r.bp(),
                ip_at: r.sp(),
                exact: true,
                regs: Some(r),
                stack: self
                    .mem
                    .read_u64(task.addr + self.layout.task_stack.offset)
                    .ok(),
            };
            let raw = unwind::unwind(self.mem, &*self.orc, start);
            return TaskTrace {
                cpu: Some(cpu as u32),
                raw,
            };
        }
        let raw = match self.sleeping_start(task) {
            Ok(start) => unwind::unwind(self.mem, &*self.orc, start),
            Err(why) => RawTrace {
                problem: Some(why),
                ..RawTrace::default()
            },
        };
        TaskTrace { cpu: None, raw }
    }

    /// A task off CPU: `thread.sp` points at the frame `__switch_to_asm` pushed.
    fn sleeping_start(&self, task: &Task) -> Result<Start, String> {
        let l = &self.layout;
        let mem = self.mem;
        let rd = |a: u64, what: &str| {
            mem.read_u64(a)
                .map_err(|e| format!("{what} of task {:#x}: {e}", task.addr))
        };
        let stack = rd(task.addr + l.task_stack.offset, "stack")?;
        let sp = rd(task.addr + l.thread_sp.offset, "thread.sp")?;
        check_saved_sp(stack, sp, l.frame_size)?;
        let ip_at = sp + l.frame_ret.offset;
        let ip = rd(ip_at, "switch frame return address")?;
        let fresh = self.k.syms.address("ret_from_fork") == Some(ip);
        Ok(Start {
            ip,
            sp: sp + l.frame_size,
            bp: rd(sp + l.frame_bp.offset, "switch frame bp")?,
            ip_at,
            exact: fresh,
            regs: None,
            stack: Some(stack),
        })
    }
}

/// A switch frame must lie inside the task's stack.
fn check_saved_sp(stack: u64, sp: u64, frame_size: u64) -> Result<(), String> {
    let top = stack.wrapping_add(THREAD_SIZE);
    if sp < stack || sp.saturating_add(frame_size) > top {
        return Err(format!(
            "saved stack pointer {sp:#x} outside the task's stack {stack:#x}..{top:#x}"
        ));
    }
    Ok(())
}

impl Kernel {
    /// `rq->curr` of `cpu`.
    pub fn cpu_curr(&self, l: &StackLayout, cpu: u32) -> Result<u64, KernelError> {
        let rq = self.per_cpu("runqueues", cpu)?;
        self.mem
            .read_u64(rq + l.rq_curr.offset)
            .ctx(|| format!("runqueues[{cpu}].curr"))
    }
}

/// A frame with its symbol.
#[derive(Debug, Clone)]
pub struct Frame {
    pub stack: u64,
    pub pc: u64,
    /// (function, offset of pc, function size; 0 when unknown).
    pub symbol: Option<(String, u64, u64)>,
    /// The module whose symbol that is (None: the kernel image).
    pub module: Option<String>,
    /// pc was saved by an entry frame (or is a stopped CPU's ip), not a return address.
    pub exact: bool,
    pub regs: Option<Regs>,
}

/// One stack word for `--full`: address, value, symbol of the value if it is kernel text.
pub type Word = (u64, u64, Option<String>);

/// Bound on the words shown between two frames.
const MAX_WORDS_BETWEEN: u64 = 512;

impl Stacks<'_> {
    /// Symbolize the frames: a return address is looked up one byte back (it may
    /// be past a noreturn call at the function's end), then shown as itself.
    pub fn frames(&self, raw: &RawTrace) -> Vec<Frame> {
        raw.frames
            .iter()
            .map(|f| {
                let back = u64::from(!f.exact);
                let (symbol, module) = match self.symbolize(f.pc.wrapping_sub(back)) {
                    Some(((n, off, size), m)) => (Some((n, off + back, size)), m),
                    None => (None, None),
                };
                Frame {
                    stack: f.stack,
                    pc: f.pc,
                    symbol,
                    module,
                    exact: f.exact,
                    regs: f.regs,
                }
            })
            .collect()
    }

    /// A module's symbol covering `addr`, else the kernel's.
    #[allow(clippy::type_complexity)]
    fn symbolize(&self, addr: u64) -> Option<((String, u64, u64), Option<String>)> {
        if let Some((n, off, size, m)) = self.modules.symbolize(addr) {
            return Some(((n.to_string(), off, size), Some(m.to_string())));
        }
        self.k.syms.symbolize(addr).map(|s| (s, None))
    }

    /// The stack words in `lo..hi` (at most [`MAX_WORDS_BETWEEN`]), values symbolized.
    pub fn words(&self, lo: u64, hi: u64) -> Vec<Word> {
        let mut out = Vec::new();
        let mut a = lo & !7;
        while a < hi && out.len() < MAX_WORDS_BETWEEN as usize {
            let Ok(v) = self.mem.read_u64(a) else { break };
            let sym =
                self.k
                    .syms
                    .symbolize(v)
                    .map(|(n, off, _)| if off == 0 { n } else { format!("{n}+{off:#x}") });
            out.push((a, v, sym));
            a += 8;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_saved_sp_outside_the_task_stack_is_named() {
        let stack = 0xffff_c900_0001_0000;
        assert!(super::check_saved_sp(stack, stack + 0x3f00, 56).is_ok());
        let e = super::check_saved_sp(stack, stack + 0x3ff0, 56).unwrap_err();
        assert!(
            e.contains("0xffffc90000013ff0")
                && e.contains("0xffffc90000010000..0xffffc90000014000"),
            "{e}"
        );
        assert!(super::check_saved_sp(stack, 0x1234, 56).is_err());
    }
}
