//! The kernel's ORC unwind tables (x86-64): for each instruction range, how to find
//! the caller's stack pointer, frame pointer and return address.
//!
//! Read from the vmlinux file (`__start_orc_unwind_ip`..`__stop_orc_unwind_ip`, then
//! `__start_orc_unwind`), or from the dump's memory at the same symbols when the file
//! does not hold them, so no DWARF is needed. `.orc_unwind_ip` holds 32-bit offsets
//! relative to each entry's own address; the table is sorted at build time.

use super::bitfield::{member_bits, Bits};
use super::{Kernel, KernelError, ReadContext};
use crate::memory::Memory;
use crate::types::model::TypeSource;

/// Registers an ORC entry can name as the base of the previous sp or bp
/// (arch/x86/include/asm/orc_types.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcReg {
    Undefined,
    PrevSp,
    Dx,
    Di,
    Bp,
    Sp,
    R10,
    R13,
    BpIndirect,
    SpIndirect,
    Other(u8),
}

impl OrcReg {
    fn from(v: u64) -> OrcReg {
        match v {
            0 => OrcReg::Undefined,
            1 => OrcReg::PrevSp,
            2 => OrcReg::Dx,
            3 => OrcReg::Di,
            4 => OrcReg::Bp,
            5 => OrcReg::Sp,
            6 => OrcReg::R10,
            7 => OrcReg::R13,
            8 => OrcReg::BpIndirect,
            9 => OrcReg::SpIndirect,
            o => OrcReg::Other(o as u8),
        }
    }
}

/// What sits at the computed sp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcType {
    /// A return address just below sp (an ordinary call).
    Call,
    /// A full `pt_regs` at sp (entry code after saving every register).
    Regs,
    /// Only the hardware iret frame (ip, cs, flags, sp, ss), ending at sp.
    RegsPartial,
    /// No more frames: the bottom of a stack (ret_from_fork, the entry stubs).
    End,
    /// Unwinding is not possible from here.
    Undefined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: OrcReg,
    pub bp_reg: OrcReg,
    pub kind: OrcType,
}

/// Bit positions of `struct orc_entry`'s fields. Before 6.4 an `end` bit marks the
/// stack bottom and `type` is 0 call, 1 regs, 2 partial regs; since, `type` is 0
/// undefined, 1 end of stack, 2 call, 3 regs, 4 partial regs.
#[derive(Debug, Clone, Copy)]
pub struct OrcFormat {
    size: u64,
    sp_reg: Bits,
    bp_reg: Bits,
    kind: Bits,
    end: Option<Bits>,
}

impl OrcFormat {
    /// From the type model; without `struct orc_entry` there, the 5.x-6.3 layout.
    pub fn probe(t: Option<&dyn TypeSource>) -> OrcFormat {
        let bits = |m: &str| t.and_then(|t| member_bits(t, "orc_entry", m));
        let b = |bit_offset, width| Bits { bit_offset, width };
        match (bits("sp_reg"), bits("bp_reg"), bits("type")) {
            (Some(sp_reg), Some(bp_reg), Some(kind)) => OrcFormat {
                size: 6,
                sp_reg,
                bp_reg,
                kind,
                end: bits("end"),
            },
            _ => OrcFormat {
                size: 6,
                sp_reg: b(32, 4),
                bp_reg: b(36, 4),
                kind: b(40, 2),
                end: Some(b(42, 1)),
            },
        }
    }

    pub fn decode(&self, e: &[u8]) -> OrcEntry {
        let s16 = |at: usize| i16::from_le_bytes([e[at], e[at + 1]]);
        let kind = self.kind.extract(e);
        let kind = match self.end {
            Some(end) if end.extract(e) != 0 => OrcType::End,
            Some(_) => match kind {
                0 => OrcType::Call,
                1 => OrcType::Regs,
                2 => OrcType::RegsPartial,
                _ => OrcType::Undefined,
            },
            None => match kind {
                1 => OrcType::End,
                2 => OrcType::Call,
                3 => OrcType::Regs,
                4 => OrcType::RegsPartial,
                _ => OrcType::Undefined,
            },
        };
        OrcEntry {
            sp_offset: s16(0),
            bp_offset: s16(2),
            sp_reg: OrcReg::from(self.sp_reg.extract(e)),
            bp_reg: OrcReg::from(self.bp_reg.extract(e)),
            kind,
        }
    }
}

/// The table, ips sorted.
pub struct OrcTable {
    ips: Vec<u64>,
    entries: Vec<u8>,
    format: OrcFormat,
    /// End of the text the table covers (`_einittext`): beyond it no entry applies.
    end: u64,
}

/// A bound on the table (6.1 has about 480,000 entries).
const MAX_ENTRIES: u64 = 1 << 23;

impl OrcTable {
    /// Build from the raw sections: `ip_bytes` holds the relative ips, the first at
    /// runtime address `ip_base`.
    pub fn from_raw(
        ip_base: u64,
        ip_bytes: &[u8],
        entries: Vec<u8>,
        format: OrcFormat,
    ) -> OrcTable {
        let mut ips: Vec<u64> = ip_bytes
            .chunks_exact(4)
            .enumerate()
            .map(|(i, c)| {
                let rel = i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64;
                (ip_base + i as u64 * 4).wrapping_add_signed(rel)
            })
            .collect();
        let n = ips.len().min(entries.len() / format.size as usize);
        ips.truncate(n);
        let mut table = OrcTable {
            ips,
            entries,
            format,
            end: u64::MAX,
        };
        if !table.ips.is_sorted() {
            table.sort();
        }
        table
    }

    /// Not sorted at build time (CONFIG_BUILDTIME_TABLE_SORT off): sort ip and entry together.
    fn sort(&mut self) {
        let sz = self.format.size as usize;
        let mut order: Vec<usize> = (0..self.ips.len()).collect();
        order.sort_by_key(|&i| self.ips[i]);
        let ips = order.iter().map(|&i| self.ips[i]).collect();
        let mut entries = Vec::with_capacity(order.len() * sz);
        for &i in &order {
            entries.extend_from_slice(&self.entries[i * sz..(i + 1) * sz]);
        }
        self.ips = ips;
        self.entries = entries;
    }

    /// Limit lookups to ips below `end`.
    pub fn with_end(mut self, end: u64) -> OrcTable {
        self.end = end;
        self
    }

    pub fn len(&self) -> usize {
        self.ips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// The entry covering `ip`: the last one starting at or below it.
    pub fn lookup(&self, ip: u64) -> Option<OrcEntry> {
        if ip >= self.end {
            return None;
        }
        let i = self.ips.partition_point(|&a| a <= ip).checked_sub(1)?;
        let sz = self.format.size as usize;
        let e = self.entries.get(i * sz..(i + 1) * sz)?;
        Some(self.format.decode(e))
    }
}

impl Kernel {
    /// The ORC table of the running kernel: from the vmlinux file when it holds the
    /// sections, else from the dump's memory.
    pub fn orc_table<T: TypeSource>(&self, types: Option<&T>) -> Result<OrcTable, KernelError> {
        let format = OrcFormat::probe(types.map(|t| t as &dyn TypeSource));
        let ip_start = self.syms.require("__start_orc_unwind_ip")?;
        let ip_stop = self.syms.require("__stop_orc_unwind_ip")?;
        let orc_start = self.syms.require("__start_orc_unwind")?;
        let n = ip_stop.saturating_sub(ip_start) / 4;
        if n == 0 || n > MAX_ENTRIES {
            return Err(KernelError::Walk {
                what: "ORC table (__start_orc_unwind_ip..__stop_orc_unwind_ip)".into(),
                addr: ip_start,
                why: format!("{n} entries"),
            });
        }
        let (ip_len, e_len) = (n * 4, n * format.size);
        let from_file = self
            .syms
            .link_address("__start_orc_unwind_ip")
            .zip(self.syms.link_address("__start_orc_unwind"))
            .and_then(|(ip_link, orc_link)| {
                Some((
                    self.syms.file_bytes(ip_link, ip_len)?,
                    self.syms.file_bytes(orc_link, e_len)?,
                ))
            });
        let (ips, entries) = match from_file {
            Some(pair) => pair,
            None => (
                self.mem
                    .read_vec(ip_start, ip_len as usize)
                    .ctx(|| format!(".orc_unwind_ip at {ip_start:#x}"))?,
                self.mem
                    .read_vec(orc_start, e_len as usize)
                    .ctx(|| format!(".orc_unwind at {orc_start:#x}"))?,
            ),
        };
        let table = OrcTable::from_raw(ip_start, &ips, entries, format);
        // The table covers the kernel text and the init text after it.
        let end = self
            .syms
            .address("_einittext")
            .or_else(|| self.syms.address("_etext"));
        Ok(match end {
            Some(end) => table.with_end(end),
            None => table,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sp_off: i16, bp_off: i16, sp_reg: u8, bp_reg: u8, kind: u8, end: u8) -> [u8; 6] {
        let s = sp_off.to_le_bytes();
        let b = bp_off.to_le_bytes();
        [
            s[0],
            s[1],
            b[0],
            b[1],
            sp_reg | (bp_reg << 4),
            kind | (end << 2),
        ]
    }

    #[test]
    fn decodes_the_pre_6_4_layout_and_looks_up_by_range() {
        let f = OrcFormat::probe(None);
        // ips 0x1000, 0x1010, 0x1030, stored relative to their own slots at 0x500.
        let rel =
            |slot: u64, ip: u64| ((ip as i64 - (0x500 + slot * 4) as i64) as i32).to_le_bytes();
        let mut ips = Vec::new();
        for (i, ip) in [0x1000u64, 0x1010, 0x1030].iter().enumerate() {
            ips.extend_from_slice(&rel(i as u64, *ip));
        }
        let mut e = Vec::new();
        e.extend_from_slice(&entry(8, 0, 5, 0, 0, 0)); // sp+8, call
        e.extend_from_slice(&entry(16, -16, 4, 1, 1, 0)); // bp+16, regs
        e.extend_from_slice(&entry(0, 0, 0, 0, 0, 1)); // end
        let t = OrcTable::from_raw(0x500, &ips, e, f);
        assert_eq!(t.len(), 3);
        assert!(t.lookup(0xfff).is_none());
        let a = t.lookup(0x100f).unwrap();
        assert_eq!(
            (a.sp_reg, a.sp_offset, a.kind),
            (OrcReg::Sp, 8, OrcType::Call)
        );
        let b = t.lookup(0x1010).unwrap();
        assert_eq!(
            (b.sp_reg, b.bp_reg, b.bp_offset, b.kind),
            (OrcReg::Bp, OrcReg::PrevSp, -16, OrcType::Regs)
        );
        assert_eq!(t.lookup(0x9999).unwrap().kind, OrcType::End);
    }

    #[test]
    fn sorts_an_unsorted_table() {
        let f = OrcFormat::probe(None);
        let mut ips = Vec::new();
        for (i, ip) in [0x2000i64, 0x1000].iter().enumerate() {
            ips.extend_from_slice(&((ip - i as i64 * 4) as i32).to_le_bytes());
        }
        let mut e = entry(24, 0, 5, 0, 0, 0).to_vec();
        e.extend_from_slice(&entry(8, 0, 5, 0, 0, 0));
        let t = OrcTable::from_raw(0, &ips, e, f);
        assert_eq!(t.lookup(0x1800).unwrap().sp_offset, 8);
        assert_eq!(t.lookup(0x2800).unwrap().sp_offset, 24);
    }
}
