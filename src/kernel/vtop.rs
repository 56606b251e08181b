//! Page walks for `vmscope vtop`: a kernel address through the kernel's page tables
//! (`init_top_pgt`), a user address through its process's `mm->pgd`.

use super::{Kernel, KernelError};
use crate::memory::x86_64::{walk_trace, PageWalk};

/// A walk and the table it started from.
#[derive(Debug, Clone)]
pub struct Vtop {
    /// Physical address of the top-level table.
    pub pgd: u64,
    /// Whose tables: "kernel (init_top_pgt)" or "pid N (comm)".
    pub tables: String,
    pub walk: PageWalk,
}

/// User addresses have the top bit clear (both 4- and 5-level layouts).
pub fn is_user(va: u64) -> bool {
    va >> 63 == 0
}

impl Kernel {
    /// Walk `va` step by step; `pid` picks the process whose tables map a user address.
    pub fn vtop(&self, va: u64, pid: Option<i32>) -> Result<Vtop, KernelError> {
        // The step-by-step trace is x86-64's walker; arm64 translates but does not trace yet.
        let Some(paging) = self.mem.paging.x86_64() else {
            return Err(KernelError::Walk {
                what: "vtop".into(),
                addr: va,
                why: format!(
                    "{} page-table traces are not implemented (x86-64 only)",
                    self.mem.paging.arch().name()
                ),
            });
        };
        let kernel = || Vtop {
            pgd: paging.kernel_pgd,
            tables: "kernel (init_top_pgt)".into(),
            walk: walk_trace(&**self.mem.phys(), paging, paging.kernel_pgd, va),
        };
        let Some(pid) = pid else {
            if is_user(va) {
                return Err(KernelError::Walk {
                    what: "user address".into(),
                    addr: va,
                    why: "give --pid N: user addresses translate through a process's page tables"
                        .into(),
                });
            }
            return Ok(kernel());
        };
        let task = self.task_by_pid(pid)?;
        let Some(mm) = task.mm else {
            if is_user(va) {
                return Err(KernelError::Walk {
                    what: format!("pid {pid} ({})", task.comm),
                    addr: va,
                    why: "a kernel thread has no user address space".into(),
                });
            }
            return Ok(kernel());
        };
        let pgd_va = self.read_mm(mm)?.pgd;
        let pgd = self
            .mem
            .pgd_phys(pgd_va)
            .map_err(|source| KernelError::Read {
                what: format!("pid {pid}: mm->pgd {pgd_va:#x}"),
                source,
            })?;
        Ok(Vtop {
            pgd,
            tables: format!("pid {pid} ({})", task.comm),
            walk: walk_trace(&**self.mem.phys(), paging, pgd, va),
        })
    }
}
