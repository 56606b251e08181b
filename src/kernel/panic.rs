//! After a panic: which CPU panicked (`panic_cpu`), the task it was running
//! (`rq->curr`) and the message (the log's "Kernel panic - not syncing:" record).

use super::offsets::TypeLookup;
use super::printk::PrintkLayout;
use super::stack::StackLayout;
use super::{Kernel, KernelError, ReadContext};
use crate::memory::Memory;
use crate::types::model::TypeSource;

const PANIC_PREFIX: &str = "Kernel panic - not syncing: ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicInfo {
    pub cpu: u32,
    /// (task address, pid, comm) of `rq->curr` on that CPU.
    pub task: Option<(u64, i32, String)>,
    pub message: Option<String>,
}

impl Kernel {
    /// `panic_cpu`: the CPU that called panic(), None when no panic happened.
    pub fn panic_cpu(&self) -> Result<Option<u32>, KernelError> {
        let Some(a) = self.syms.address("panic_cpu") else {
            return Ok(None);
        };
        let v = self.mem.read_u32(a).ctx(|| "panic_cpu".into())? as i32;
        Ok((v >= 0).then_some(v as u32))
    }

    /// The panic, if any. Task and message are left out when the types or the log
    /// cannot tell them; only a failing `panic_cpu` read is an error.
    pub fn panic_info<T: TypeSource>(&self, types: &T) -> Result<Option<PanicInfo>, KernelError> {
        let Some(cpu) = self.panic_cpu()? else {
            return Ok(None);
        };
        let t: &dyn TypeLookup = types;
        let task = StackLayout::probe(t)
            .ok()
            .and_then(|l| self.cpu_curr(&l, cpu).ok())
            .and_then(|addr| {
                let (pid_off, _) = t.member("task_struct", "pid")?;
                let (comm_off, comm_len) = t.member("task_struct", "comm")?;
                let pid = self.mem.read_u32(addr + pid_off).ok()? as i32;
                let comm = self.mem.read_vec(addr + comm_off, comm_len as usize).ok()?;
                Some((addr, pid, crate::memory::c_string(&comm)))
            });
        let message = PrintkLayout::probe(types)
            .ok()
            .and_then(|l| self.printk_log(&l).ok())
            .and_then(|log| {
                log.records.iter().rev().find_map(|r| {
                    r.text
                        .strip_prefix(PANIC_PREFIX)
                        .map(|m| m.trim_end().to_string())
                })
            });
        Ok(Some(PanicInfo { cpu, task, message }))
    }
}
