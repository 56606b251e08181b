//! The ORC walk: from a starting ip/sp/bp, one caller at a time, across entry frames
//! (`pt_regs` saved by interrupt, exception and syscall entry), until the table says
//! the stack ends or the saved registers are user mode. Bounded: at most
//! [`MAX_FRAMES`] frames, a call frame must move sp up, a state met twice stops it.

use super::regs::{Regs, IRET_FRAME_OFFSET, PT_REGS_SIZE};
use crate::kernel::orc::{OrcEntry, OrcReg, OrcTable, OrcType};
use crate::memory::Memory;
use std::collections::HashSet;

pub const MAX_FRAMES: usize = 128;

/// Where the walk's per-address rules come from: the ORC table, or (a kernel built
/// without ORC) the vmlinux's DWARF call frame information put in ORC's terms.
pub trait UnwindRules {
    /// The rule for code at runtime address `ip`.
    fn rule(&self, ip: u64) -> Option<OrcEntry>;
    /// Kernel code without a rule: true to follow frame pointers (ORC leaves module
    /// text out); false when the rules stop where described code stops (CFI: the
    /// entry code has none), so the stack ends there.
    fn frame_pointers(&self) -> bool;
    /// What one rule is called in messages.
    fn what(&self) -> &'static str;
}

impl UnwindRules for OrcTable {
    fn rule(&self, ip: u64) -> Option<OrcEntry> {
        self.lookup(ip)
    }
    fn frame_pointers(&self) -> bool {
        true
    }
    fn what(&self) -> &'static str {
        "ORC entry"
    }
}

/// Kernel addresses start here on x86-64 (4- and 5-level paging).
const KERNEL_HALF: u64 = 0xff00_0000_0000_0000;

/// A frame-pointer frame: caller's sp = bp + 16, return address at bp + 8, caller's bp at bp.
const FP_ENTRY: OrcEntry = OrcEntry {
    sp_offset: 16,
    bp_offset: -16,
    sp_reg: OrcReg::Bp,
    bp_reg: OrcReg::PrevSp,
    kind: OrcType::Call,
};

/// Where unwinding starts.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// Where frame 0's ip was found (the switch frame's return address slot, or sp).
    pub ip_at: u64,
    /// The ip is exact (registers of a stopped CPU, a fresh task at ret_from_fork),
    /// not a return address: look it up as is, not at ip - 1.
    pub exact: bool,
    /// Every register, when the start came from a register note.
    pub regs: Option<Regs>,
    /// The task's stack (lowest address), when known: its top holds the user registers.
    pub stack: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub pc: u64,
    /// Stack address the pc was read from (the pt_regs for an interrupted frame).
    pub stack: u64,
    /// pc is where execution was (top frame, or saved by an entry frame), not a return address.
    pub exact: bool,
    /// The registers an entry frame saved, whose ip is this frame's pc.
    pub regs: Option<Regs>,
}

#[derive(Debug, Clone, Default)]
pub struct RawTrace {
    pub frames: Vec<RawFrame>,
    /// The user-mode registers at the boundary to user space.
    pub user_regs: Option<Regs>,
    /// Why unwinding stopped early (with the address), None when it reached the end.
    pub problem: Option<String>,
}

struct State {
    ip: u64,
    sp: u64,
    bp: u64,
    exact: bool,
    regs: Option<Regs>,
    stack: Option<u64>,
}

enum Step {
    Next(RawFrame),
    Done,
    User(Regs),
}

pub fn unwind(mem: &dyn Memory, orc: &dyn UnwindRules, start: Start) -> RawTrace {
    let mut t = RawTrace::default();
    if let Some(r) = start.regs.filter(Regs::user_mode) {
        t.user_regs = Some(r);
        return t;
    }
    t.frames.push(RawFrame {
        pc: start.ip,
        stack: start.ip_at,
        exact: start.exact,
        regs: None,
    });
    let mut s = State {
        ip: start.ip,
        sp: start.sp,
        bp: start.bp,
        exact: start.exact,
        regs: start.regs,
        stack: start.stack,
    };
    let mut seen = HashSet::new();
    while t.frames.len() < MAX_FRAMES {
        if !seen.insert((s.ip, s.sp)) {
            t.problem = Some(format!("unwinding loops at ip {:#x} sp {:#x}", s.ip, s.sp));
            return t;
        }
        match step(mem, orc, &mut s) {
            Ok(Step::Next(f)) => t.frames.push(f),
            Ok(Step::Done) => return t,
            Ok(Step::User(r)) => {
                t.user_regs = Some(r);
                return t;
            }
            Err(why) => {
                t.problem = Some(why);
                return t;
            }
        }
    }
    t.problem = Some(format!(
        "more than {MAX_FRAMES} frames, stopped at sp {:#x}",
        s.sp
    ));
    t
}

fn read(mem: &dyn Memory, addr: u64) -> Result<u64, String> {
    mem.read_u64(addr)
        .map_err(|e| format!("stack read at {addr:#x}: {e}"))
}

/// A register the entry code named as the base of sp: only known from full saved registers.
fn saved(s: &State, name: &str, ip: u64) -> Result<u64, String> {
    match s.regs {
        Some(r) if r.full => Ok(r.get(name)),
        _ => Err(format!(
            "ORC entry at {ip:#x} needs {name}, which no frame saved"
        )),
    }
}

/// The caller's sp, per the entry; true when it came through a saved pointer (a
/// switch between stacks, which may move sp down).
fn prev_sp(mem: &dyn Memory, s: &State, o: &OrcEntry, ip: u64) -> Result<(u64, bool), String> {
    let off = o.sp_offset as i64;
    Ok(match o.sp_reg {
        OrcReg::Sp => (s.sp.wrapping_add_signed(off), false),
        OrcReg::Bp => (s.bp.wrapping_add_signed(off), false),
        OrcReg::SpIndirect => (read(mem, s.sp)?.wrapping_add_signed(off), true),
        OrcReg::BpIndirect => (read(mem, s.bp.wrapping_add_signed(off))?, true),
        OrcReg::R10 => (saved(s, "r10", ip)?, true),
        OrcReg::R13 => (saved(s, "r13", ip)?, true),
        OrcReg::Di => (saved(s, "di", ip)?, true),
        OrcReg::Dx => (saved(s, "dx", ip)?, true),
        other => {
            return Err(format!(
                "ORC entry at {ip:#x}: sp base {other:?}, cannot unwind"
            ))
        }
    })
}

/// The end of described code: the stack's top holds the user registers of a task
/// that entered the kernel from user space (`task_pt_regs`), else the stack ends here.
fn stack_end(mem: &dyn Memory, s: &State) -> Step {
    let Some(base) = s.stack else {
        return Step::Done;
    };
    let top = base.wrapping_add(super::THREAD_SIZE);
    if s.sp < base || s.sp > top {
        return Step::Done;
    }
    match mem.read_vec(top - PT_REGS_SIZE, PT_REGS_SIZE as usize) {
        Ok(b) => {
            let r = Regs::from_words(&b, true);
            if r.user_mode() {
                Step::User(r)
            } else {
                Step::Done
            }
        }
        Err(_) => Step::Done,
    }
}

fn step(mem: &dyn Memory, orc: &dyn UnwindRules, s: &mut State) -> Result<Step, String> {
    // A return address points past the call, which may be a function's last instruction.
    let ip = if s.exact { s.ip } else { s.ip.wrapping_sub(1) };
    let o = match orc.rule(ip) {
        Some(o) => o,
        // Kernel code without ORC (module text): frame pointers, as the kernel's own
        // unwinder falls back to (`orc_fp_entry`).
        None if ip >= KERNEL_HALF && orc.frame_pointers() => FP_ENTRY,
        None if ip >= KERNEL_HALF => return Ok(stack_end(mem, s)),
        None => return Err(format!("no {} for ip {:#x}", orc.what(), s.ip)),
    };
    match o.kind {
        OrcType::End => return Ok(Step::Done),
        OrcType::Undefined => return Err(format!("ORC entry at {:#x} is undefined", s.ip)),
        _ => {}
    }
    let (sp, switched) = prev_sp(mem, s, &o, s.ip)?;
    let old_sp = s.sp;
    let frame = match o.kind {
        OrcType::Call => {
            let ret_at = sp.wrapping_sub(8);
            let ip = read(mem, ret_at)?;
            *s = State {
                ip,
                sp,
                bp: s.bp,
                exact: false,
                regs: None,
                stack: s.stack,
            };
            RawFrame {
                pc: ip,
                stack: ret_at,
                exact: false,
                regs: None,
            }
        }
        OrcType::Regs | OrcType::RegsPartial => {
            let full = o.kind == OrcType::Regs;
            let at = if full {
                sp
            } else {
                sp.wrapping_sub(IRET_FRAME_OFFSET)
            };
            let r = if full {
                let b = mem.read_vec(at, PT_REGS_SIZE as usize);
                Regs::from_words(&b.map_err(|e| format!("pt_regs at {at:#x}: {e}"))?, true)
            } else {
                let b = mem.read_vec(sp, 40);
                Regs::from_iret(&b.map_err(|e| format!("iret frame at {sp:#x}: {e}"))?)
            };
            if r.user_mode() {
                return Ok(Step::User(r));
            }
            *s = State {
                ip: r.ip(),
                sp: r.sp(),
                bp: s.bp,
                exact: true,
                regs: Some(r),
                stack: s.stack,
            };
            RawFrame {
                pc: r.ip(),
                stack: at,
                exact: true,
                regs: Some(r),
            }
        }
        OrcType::End | OrcType::Undefined => unreachable!("handled above"),
    };
    s.bp = match o.bp_reg {
        OrcReg::Undefined => s.regs.filter(|r| r.full).map_or(s.bp, |r| r.bp()),
        OrcReg::PrevSp => read(mem, sp.wrapping_add_signed(o.bp_offset as i64))?,
        OrcReg::Bp => read(mem, s.bp.wrapping_add_signed(o.bp_offset as i64))?,
        other => return Err(format!("ORC entry at {:#x}: bp base {other:?}", frame.pc)),
    };
    // Within one stack a caller's frame is above its callee's. A move down by a
    // stack's size or more is a switch (the IRQ stack back to the task stack).
    let same_stack = old_sp.wrapping_sub(s.sp) < crate::kernel::stack::THREAD_SIZE;
    if o.kind == OrcType::Call && !switched && s.sp <= old_sp && same_stack {
        return Err(format!(
            "ORC entry for ip {ip:#x} does not make progress (sp {old_sp:#x} -> {:#x})",
            s.sp
        ));
    }
    Ok(Step::Next(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::orc::OrcFormat;
    use crate::memory::MemError;
    use std::collections::HashMap;

    /// Sparse memory of 8-byte words.
    struct Words(HashMap<u64, u64>);
    impl Memory for Words {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                let a = addr + i as u64 * 8;
                let v = self.0.get(&a).ok_or(MemError::NotMapped { addr: a })?;
                chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
            }
            Ok(())
        }
    }

    /// An ORC table: (ip, sp_offset, sp_reg, kind, end), pre-6.4 encoding, ips stored
    /// relative to slot addresses starting at 0.
    fn table(rows: &[(u64, i16, u8, u8, u8)]) -> OrcTable {
        let mut ips = Vec::new();
        let mut e = Vec::new();
        for (i, (ip, sp_off, sp_reg, kind, end)) in rows.iter().enumerate() {
            ips.extend_from_slice(&((*ip as i64 - i as i64 * 4) as i32).to_le_bytes());
            let s = sp_off.to_le_bytes();
            e.extend_from_slice(&[s[0], s[1], 0, 0, *sp_reg, kind | (end << 2)]);
        }
        OrcTable::from_raw(0, &ips, e, OrcFormat::probe(None))
    }

    const SP: u8 = 5;
    const CALL: u8 = 0;
    const REGS: u8 = 1;

    fn start(ip: u64, sp: u64) -> Start {
        Start {
            ip,
            sp,
            bp: 0,
            ip_at: sp,
            exact: true,
            regs: None,
            stack: None,
        }
    }

    #[test]
    fn walks_calls_and_an_entry_frame_to_user_space() {
        // f at 0x1000 (sp+16: its return address at sp+8), g at 0x2000 (sp+8), entry
        // stub at 0x3000 with pt_regs at sp; the pt_regs hold a user-mode ip.
        let orc = table(&[
            (0x1000, 16, SP, CALL, 0),
            (0x2000, 8, SP, CALL, 0),
            (0x3000, 0, SP, REGS, 0),
            (0x4000, 0, 0, 0, 1),
        ]);
        let mut m = HashMap::new();
        m.insert(0x9008, 0x2010); // f's caller: g+0x10
        m.insert(0x9010, 0x3008); // g's caller: the entry stub
        for i in 0..21u64 {
            m.insert(0x9018 + i * 8, 0);
        }
        m.insert(0x9018 + 16 * 8, 0x40_0000); // ip
        m.insert(0x9018 + 17 * 8, 0x33); // cs: user
        let t = unwind(&Words(m), &orc, start(0x1004, 0x9000));
        let pcs: Vec<u64> = t.frames.iter().map(|f| f.pc).collect();
        assert_eq!(pcs, [0x1004, 0x2010, 0x3008]);
        assert_eq!(t.frames[1].stack, 0x9008);
        assert_eq!(t.user_regs.map(|r| r.ip()), Some(0x40_0000));
        assert!(t.problem.is_none(), "{:?}", t.problem);
    }

    #[test]
    fn an_entry_that_does_not_move_sp_up_is_reported_with_its_address() {
        // sp_offset 0: the "return address" is read below sp and sp stays where it is.
        let orc = table(&[(0x1000, 0, SP, CALL, 0), (0x2000, 0, 0, 0, 1)]);
        let mut m = HashMap::new();
        m.insert(0x8ff8, 0x1010);
        let t = unwind(&Words(m), &orc, start(0x1004, 0x9000));
        let p = t.problem.unwrap();
        assert!(
            p.contains("0x1004") && p.contains("does not make progress"),
            "{p}"
        );
        assert_eq!(t.frames.len(), 1);
    }

    #[test]
    fn kernel_code_without_orc_falls_back_to_frame_pointers() {
        // The table covers only 0xffffffff81000000..; the ip below it is module text.
        let orc = table(&[
            (0xffff_ffff_8100_0000, 8, SP, CALL, 0),
            (0xffff_ffff_8200_0000, 0, 0, 0, 1),
        ])
        .with_end(0xffff_ffff_8300_0000);
        let module_ip = 0xffff_ffff_c000_1234;
        let mut m = HashMap::new();
        // bp = 0x9100: saved bp at 0x9100, return address at 0x9108, caller's sp 0x9110.
        m.insert(0x9100, 0x9200);
        m.insert(0x9108, 0xffff_ffff_8100_0010);
        m.insert(0x9110, 0xffff_ffff_8200_0010); // the kernel caller's own return address
        let mut st = start(module_ip, 0x9000);
        st.bp = 0x9100;
        let t = unwind(&Words(m), &orc, st);
        let pcs: Vec<u64> = t.frames.iter().map(|f| f.pc).collect();
        assert_eq!(
            pcs,
            [module_ip, 0xffff_ffff_8100_0010, 0xffff_ffff_8200_0010]
        );
        assert!(t.problem.is_none(), "{:?}", t.problem);
    }

    #[test]
    fn bad_stack_pointers_and_missing_entries_stop_with_a_message() {
        let orc = table(&[(0x1000, 16, SP, CALL, 0)]);
        let t = unwind(&Words(HashMap::new()), &orc, start(0x1004, 0xdead_0000));
        assert!(t.problem.unwrap().contains("stack read at 0xdead0008"));
        let t = unwind(&Words(HashMap::new()), &orc, start(0x10, 0x9000));
        assert!(t.problem.unwrap().contains("no ORC entry for ip 0x10"));
    }

    /// Rules that end where described code ends (as DWARF CFI does at entry code).
    struct NoFallback(OrcTable);
    impl UnwindRules for NoFallback {
        fn rule(&self, ip: u64) -> Option<OrcEntry> {
            self.0.lookup(ip)
        }
        fn frame_pointers(&self) -> bool {
            false
        }
        fn what(&self) -> &'static str {
            "row"
        }
    }

    #[test]
    fn without_a_rule_the_stack_ends_with_the_user_registers_at_its_top() {
        // f at 0xffffffff81000000 calls from code with no rule (the entry stub); the
        // task's stack is 0x10000..0x14000, pt_regs at its top hold a user-mode ip.
        let k = 0xffff_ffff_8100_0000u64;
        let rules = NoFallback(table(&[(k, 16, SP, CALL, 0)]).with_end(k + 0x1000));
        let (base, top) = (0x10000u64, 0x14000u64);
        let mut m = HashMap::new();
        m.insert(0x13e08, k + 0x2000); // f's caller: beyond the rules
        let regs = top - PT_REGS_SIZE;
        for i in 0..21u64 {
            m.insert(regs + i * 8, 0);
        }
        m.insert(regs + 16 * 8, 0x40_1000); // ip
        m.insert(regs + 17 * 8, 0x33); // cs: user
        let mut st = start(k + 4, 0x13e00);
        st.stack = Some(base);
        let t = unwind(&Words(m.clone()), &rules, st);
        let pcs: Vec<u64> = t.frames.iter().map(|f| f.pc).collect();
        assert_eq!(pcs, [k + 4, k + 0x2000]);
        assert_eq!(t.user_regs.map(|r| r.ip()), Some(0x40_1000));
        assert!(t.problem.is_none(), "{:?}", t.problem);
        // A kernel thread's top holds no user registers: the stack just ends.
        m.insert(regs + 17 * 8, 0);
        let t = unwind(&Words(m), &rules, st);
        assert_eq!((t.frames.len(), t.user_regs, t.problem), (2, None, None));
    }
}
