//! x86-64 register sets: `struct pt_regs` as the entry code saves it on the stack, and
//! the `pr_reg` array of an `NT_PRSTATUS` note (its first 21 words are the same
//! registers in the same order). Both layouts are user-space ABI, fixed since 2.6.

/// `pt_regs` word order.
pub const NAMES: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];
pub const PT_REGS_SIZE: u64 = 21 * 8;
/// Offset of `ip` in `pt_regs`: a partial (iret-only) frame starts here.
pub const IRET_FRAME_OFFSET: u64 = 16 * 8;
/// `elf_prstatus.pr_pid` and `pr_reg` on x86-64.
const PRSTATUS_PID: usize = 32;
const PRSTATUS_REG: usize = 112;
const NT_PRSTATUS: u32 = 1;

/// Saved registers; `valid` says which words were actually saved (a partial frame
/// holds only ip, cs, flags, sp, ss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    pub words: [u64; 21],
    pub full: bool,
}

impl Regs {
    pub fn from_words(bytes: &[u8], full: bool) -> Regs {
        let mut words = [0u64; 21];
        for (i, w) in words.iter_mut().enumerate() {
            if let Some(b) = bytes.get(i * 8..i * 8 + 8) {
                *w = u64::from_le_bytes(b.try_into().unwrap_or_default());
            }
        }
        Regs { words, full }
    }

    /// From the hardware iret frame (ip, cs, flags, sp, ss) only.
    pub fn from_iret(bytes: &[u8]) -> Regs {
        let mut r = Regs::from_words(&[], false);
        for i in 0..5 {
            if let Some(b) = bytes.get(i * 8..i * 8 + 8) {
                r.words[16 + i] = u64::from_le_bytes(b.try_into().unwrap_or_default());
            }
        }
        r
    }

    pub fn get(&self, name: &str) -> u64 {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.words[i])
    }
    pub fn ip(&self) -> u64 {
        self.words[16]
    }
    pub fn sp(&self) -> u64 {
        self.words[19]
    }
    pub fn bp(&self) -> u64 {
        self.words[4]
    }
    /// Saved in user mode: the low two bits of cs are the privilege level.
    pub fn user_mode(&self) -> bool {
        self.words[17] & 3 != 0
    }
}

/// The registers of each CPU from the dump's `NT_PRSTATUS` notes, in note order
/// (QEMU and the kdump kernel both write one per CPU, in CPU order; QEMU's pr_pid is
/// the CPU index + 1, not a task). Returns (pr_pid, registers).
pub fn cpu_registers(notes: &[crate::memory::elf::Note]) -> Vec<(u32, Regs)> {
    notes
        .iter()
        .filter(|n| n.name == "CORE" && n.ntype == NT_PRSTATUS)
        .filter(|n| n.desc.len() >= PRSTATUS_REG + PT_REGS_SIZE as usize)
        .map(|n| {
            let pid = u32::from_le_bytes(
                n.desc[PRSTATUS_PID..PRSTATUS_PID + 4]
                    .try_into()
                    .unwrap_or_default(),
            );
            (pid, Regs::from_words(&n.desc[PRSTATUS_REG..], true))
        })
        .collect()
}
