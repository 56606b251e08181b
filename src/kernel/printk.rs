//! The kernel log: the lockless printk ring buffer (5.10+), read through `prb`.
//!
//! Three arrays make it up: descriptors (`desc_ring.descs`: a state word carrying the
//! record id and its state, and the record's text block position), the record
//! metadata (`desc_ring.infos`: sequence number, timestamp, level, caller, device) and
//! the text data ring (blocks that start with the owning descriptor's id). Every
//! offset is probed from the type model; a record whose descriptor, id or block
//! disagrees is kept as a marked record and named in a warning, the rest is read.

use super::bitfield::{member_bits, Bits};
use super::offsets::{field as need, need_size as size, probe, Field, OffsetError, TypeLookup};
use super::{Kernel, KernelError, ReadContext};
use crate::memory::{MemError, Memory};
use crate::types::model::TypeSource;

/// The two top bits of a descriptor's state word hold its state, the rest the id.
const STATE_SHIFT: u32 = 62;
const ID_MASK: u64 = (1 << STATE_SHIFT) - 1;
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;
/// Text block positions with bit 0 set carry no data (failed or empty line).
const LPOS_DATALESS: u64 = 1;
/// Bounds on what a sane ring holds (the kernel's maximum log_buf_len is 2^25).
const MAX_COUNT_BITS: u32 = 24;
const MAX_DATA_BITS: u32 = 28;

/// Where the ring buffer's pieces are, for this kernel.
#[derive(Debug, Clone, Copy)]
pub struct PrintkLayout {
    count_bits: Field,
    descs: Field,
    infos: Field,
    head_id: Field,
    tail_id: Field,
    size_bits: Field,
    data: Field,
    desc_size: u64,
    state_var: Field,
    blk_begin: Field,
    blk_next: Field,
    info_size: u64,
    seq: Field,
    ts_nsec: Field,
    text_len: Field,
    facility: Field,
    level: Bits,
    flags: Bits,
    caller_id: Field,
    subsystem: Option<Field>,
    device: Option<Field>,
}

fn need_bits(t: &dyn TypeSource, strukt: &str, member: &str) -> Result<Bits, OffsetError> {
    member_bits(t, strukt, member).ok_or_else(|| OffsetError::MissingMember {
        strukt: strukt.into(),
        member: member.into(),
    })
}

impl PrintkLayout {
    /// Probe the layout: fails (naming the member) on kernels without the lockless
    /// ring buffer (before 5.10).
    pub fn probe<T: TypeSource>(t: &T) -> Result<PrintkLayout, KernelError> {
        let l: &dyn TypeLookup = t;
        let rb = "printk_ringbuffer";
        let info = "printk_info";
        let dev = |m: &str| probe(l, info, &format!("dev_info.{m}"));
        Ok(PrintkLayout {
            count_bits: need(l, rb, "desc_ring.count_bits")?,
            descs: need(l, rb, "desc_ring.descs")?,
            infos: need(l, rb, "desc_ring.infos")?,
            head_id: need(l, rb, "desc_ring.head_id")?,
            tail_id: need(l, rb, "desc_ring.tail_id")?,
            size_bits: need(l, rb, "text_data_ring.size_bits")?,
            data: need(l, rb, "text_data_ring.data")?,
            desc_size: size(l, "prb_desc")?,
            state_var: need(l, "prb_desc", "state_var")?,
            blk_begin: need(l, "prb_desc", "text_blk_lpos.begin")?,
            blk_next: need(l, "prb_desc", "text_blk_lpos.next")?,
            info_size: size(l, info)?,
            seq: need(l, info, "seq")?,
            ts_nsec: need(l, info, "ts_nsec")?,
            text_len: need(l, info, "text_len")?,
            facility: need(l, info, "facility")?,
            level: need_bits(t, info, "level")?,
            flags: need_bits(t, info, "flags")?,
            caller_id: need(l, info, "caller_id")?,
            subsystem: dev("subsystem"),
            device: dev("device"),
        })
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub ts_nsec: u64,
    pub level: u8,
    pub facility: u8,
    /// `LOG_NEWLINE`, `LOG_CONT` ... as stored.
    pub flags: u8,
    /// Thread id, or CPU number with bit 31 set (printk from interrupt context).
    pub caller_id: u32,
    pub text: String,
    pub subsystem: String,
    pub device: String,
    /// Why the record could not be read as stored (the text is then empty).
    pub problem: Option<String>,
}

/// The records in sequence order, and one warning per inconsistency met.
#[derive(Debug, Default)]
pub struct PrintkLog {
    pub records: Vec<LogRecord>,
    pub warnings: Vec<String>,
}

/// Little-endian unsigned value of a field inside `buf` (0 past its end).
fn get(buf: &[u8], base: u64, f: Field) -> u64 {
    let start = (base + f.offset) as usize;
    let mut w = [0u8; 8];
    let n = (f.size as usize).min(8);
    if let Some(src) = buf.get(start..start + n) {
        w[..n].copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

fn c_str_at(buf: &[u8], base: u64, f: Option<Field>) -> String {
    let Some(f) = f else { return String::new() };
    let start = (base + f.offset) as usize;
    buf.get(start..start + f.size as usize)
        .map(crate::memory::c_string)
        .unwrap_or_default()
}

/// `len` bytes at `addr`, pages the dump's filter left out read as zeros: a
/// filtered dump (makedumpfile -d 1) drops exactly the all-zero pages, and an unused
/// part of the ring is zero.
fn read_zero_filled(mem: &dyn Memory, addr: u64, len: usize) -> Result<Vec<u8>, MemError> {
    const PAGE: u64 = 4096;
    let mut out = vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let at = addr + done as u64;
        let n = ((PAGE - at % PAGE) as usize).min(len - done);
        match mem.read(at, &mut out[done..done + n]) {
            Ok(()) | Err(MemError::Excluded { .. }) => {}
            Err(e) => return Err(e),
        }
        done += n;
    }
    Ok(out)
}

/// The ring's arrays, copied out of memory once.
struct Ring {
    count: u64,
    descs: Vec<u8>,
    infos: Vec<u8>,
    data_addr: u64,
    data_bits: u32,
    data: Vec<u8>,
    head: u64,
    tail: u64,
}

impl Kernel {
    /// Read the whole printk ring buffer.
    pub fn printk_log(&self, l: &PrintkLayout) -> Result<PrintkLog, KernelError> {
        let prb_sym = self.syms.require("prb")?;
        let prb = self.mem.read_u64(prb_sym).ctx(|| "prb".into())?;
        let ring = self.read_ring(l, prb)?;
        let mut log = PrintkLog::default();
        let mut id = ring.tail;
        // At most one lap of the descriptor ring, even if head and tail are garbage.
        for _ in 0..ring.count {
            if let Some(r) = ring.record(l, id, &mut log.warnings) {
                log.records.push(r);
            }
            if id == ring.head {
                break;
            }
            id = (id + 1) & ID_MASK;
        }
        if id != ring.head {
            log.warnings.push(format!(
                "printk ring at {prb:#x}: head id {:#x} not reached from tail id {:#x} within {} descriptors",
                ring.head, ring.tail, ring.count
            ));
        }
        log.records.sort_by_key(|r| r.seq);
        Ok(log)
    }

    fn read_ring(&self, l: &PrintkLayout, prb: u64) -> Result<Ring, KernelError> {
        let hdr_len = [
            l.count_bits,
            l.descs,
            l.infos,
            l.head_id,
            l.tail_id,
            l.size_bits,
            l.data,
        ]
        .iter()
        .map(|f| f.offset + f.size)
        .max()
        .unwrap_or(0);
        let hdr = self
            .mem
            .read_vec(prb, hdr_len as usize)
            .ctx(|| format!("printk_ringbuffer at {prb:#x}"))?;
        let count_bits = get(&hdr, 0, l.count_bits) as u32;
        let data_bits = get(&hdr, 0, l.size_bits) as u32;
        if count_bits > MAX_COUNT_BITS || !(3..=MAX_DATA_BITS).contains(&data_bits) {
            return Err(KernelError::Walk {
                what: "printk_ringbuffer".into(),
                addr: prb,
                why: format!("implausible sizes: count_bits {count_bits}, size_bits {data_bits}"),
            });
        }
        let count = 1u64 << count_bits;
        let (descs_addr, infos_addr) = (get(&hdr, 0, l.descs), get(&hdr, 0, l.infos));
        let data_addr = get(&hdr, 0, l.data);
        let array = |addr: u64, len: u64, what: &str| {
            read_zero_filled(&self.mem, addr, len as usize)
                .ctx(|| format!("printk {what} at {addr:#x}"))
        };
        Ok(Ring {
            count,
            descs: array(descs_addr, count * l.desc_size, "descriptors")?,
            infos: array(infos_addr, count * l.info_size, "infos")?,
            data: array(data_addr, 1 << data_bits, "text data ring")?,
            data_addr,
            data_bits,
            head: get(&hdr, 0, l.head_id) & ID_MASK,
            tail: get(&hdr, 0, l.tail_id) & ID_MASK,
        })
    }
}

impl Ring {
    /// The record of descriptor `id`, None when it is not (or no longer) readable.
    fn record(&self, l: &PrintkLayout, id: u64, warnings: &mut Vec<String>) -> Option<LogRecord> {
        let slot = id & (self.count - 1);
        let d = slot * l.desc_size;
        let sv = get(&self.descs, d, l.state_var);
        let state = sv >> STATE_SHIFT;
        if state != DESC_COMMITTED && state != DESC_FINALIZED {
            return None; // being written, or already recycled
        }
        let i = slot * l.info_size;
        let info = self.infos.get(i as usize..(i + l.info_size) as usize)?;
        let mut rec = LogRecord {
            seq: get(info, 0, l.seq),
            ts_nsec: get(info, 0, l.ts_nsec),
            level: l.level.extract(info) as u8,
            facility: get(info, 0, l.facility) as u8,
            flags: l.flags.extract(info) as u8,
            caller_id: get(info, 0, l.caller_id) as u32,
            text: String::new(),
            subsystem: c_str_at(info, 0, l.subsystem),
            device: c_str_at(info, 0, l.device),
            problem: None,
        };
        if sv & ID_MASK != id {
            // The slot belongs to another lap: the tail moved while the dump was taken.
            let why = format!(
                "descriptor {slot} holds id {:#x}, expected {id:#x}",
                sv & ID_MASK
            );
            return Some(self.marked(rec, why, warnings));
        }
        let text_len = get(info, 0, l.text_len);
        let begin = get(&self.descs, d, l.blk_begin);
        let next = get(&self.descs, d, l.blk_next);
        match self.text(id, begin, next, text_len) {
            Ok(t) => rec.text = t,
            Err(why) => return Some(self.marked(rec, why, warnings)),
        }
        Some(rec)
    }

    fn marked(&self, mut rec: LogRecord, why: String, warnings: &mut Vec<String>) -> LogRecord {
        warnings.push(format!("printk record seq {}: {why}", rec.seq));
        rec.problem = Some(why);
        rec
    }

    /// The text of the data block at logical positions `begin..next`.
    fn text(&self, id: u64, begin: u64, next: u64, text_len: u64) -> Result<String, String> {
        if begin & LPOS_DATALESS != 0 && next & LPOS_DATALESS != 0 {
            return Ok(String::new());
        }
        let size = 1u64 << self.data_bits;
        let (wb, wn) = (begin >> self.data_bits, next >> self.data_bits);
        let idx = |lpos: u64| lpos & (size - 1);
        // A block that would cross the end of the ring is stored whole at its start.
        let (start, len) = if wb == wn {
            (idx(begin), next.wrapping_sub(begin))
        } else if wb.wrapping_add(1) == wn {
            (0, idx(next))
        } else {
            return Err(format!(
                "text block {begin:#x}..{next:#x} spans more than one lap"
            ));
        };
        let block_addr = self.data_addr + start;
        let block = self
            .data
            .get(start as usize..start.saturating_add(len) as usize)
            .filter(|b| b.len() >= 8)
            .ok_or_else(|| {
                format!("text block at {block_addr:#x} ({begin:#x}..{next:#x}) outside the ring")
            })?;
        let owner = u64::from_le_bytes(block[..8].try_into().unwrap_or_default());
        if owner & ID_MASK != id {
            return Err(format!(
                "text block at {block_addr:#x} belongs to id {owner:#x}, expected {id:#x}"
            ));
        }
        let body = &block[8..];
        let n = (text_len as usize).min(body.len());
        Ok(String::from_utf8_lossy(&body[..n]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn f(offset: u64, size: u64) -> Field {
        Field { offset, size }
    }

    /// The 6.1 x86-64 layout (descriptor 24 bytes, info 88 bytes).
    fn layout() -> PrintkLayout {
        PrintkLayout {
            count_bits: f(0, 4),
            descs: f(8, 8),
            infos: f(16, 8),
            head_id: f(24, 8),
            tail_id: f(32, 8),
            size_bits: f(48, 4),
            data: f(56, 8),
            desc_size: 24,
            state_var: f(0, 8),
            blk_begin: f(8, 8),
            blk_next: f(16, 8),
            info_size: 88,
            seq: f(0, 8),
            ts_nsec: f(8, 8),
            text_len: f(16, 2),
            facility: f(18, 1),
            flags: Bits {
                bit_offset: 19 * 8,
                width: 5,
            },
            level: Bits {
                bit_offset: 19 * 8 + 5,
                width: 3,
            },
            caller_id: f(20, 4),
            subsystem: Some(f(24, 16)),
            device: Some(f(40, 48)),
        }
    }

    /// A ring of 4 descriptors and 64 data bytes.
    fn ring() -> Ring {
        Ring {
            count: 4,
            descs: vec![0; 4 * 24],
            infos: vec![0; 4 * 88],
            data_addr: 0x1000,
            data_bits: 6,
            data: vec![0; 64],
            head: 0,
            tail: 0,
        }
    }

    fn put(buf: &mut [u8], at: usize, v: &[u8]) {
        buf[at..at + v.len()].copy_from_slice(v);
    }

    /// Descriptor `id` finalized, its text block at `begin..next`, its info filled in.
    fn write(r: &mut Ring, id: u64, begin: u64, next: u64, text: &str) {
        let slot = (id & 3) as usize;
        let d = slot * 24;
        put(
            &mut r.descs,
            d,
            &((DESC_FINALIZED << STATE_SHIFT) | id).to_le_bytes(),
        );
        put(&mut r.descs, d + 8, &begin.to_le_bytes());
        put(&mut r.descs, d + 16, &next.to_le_bytes());
        let i = slot * 88;
        put(&mut r.infos, i, &(id + 100).to_le_bytes());
        put(&mut r.infos, i + 8, &1_500_000_000u64.to_le_bytes());
        put(&mut r.infos, i + 16, &(text.len() as u16).to_le_bytes());
        r.infos[i + 19] = 6 << 5; // level info, no flags
        put(&mut r.infos, i + 24, b"pci");
        let start = if begin >> 6 == next >> 6 {
            begin & 63
        } else {
            0
        } as usize;
        put(&mut r.data, start, &id.to_le_bytes());
        put(&mut r.data, start + 8, text.as_bytes());
    }

    #[test]
    fn reads_plain_and_wrapped_blocks() {
        let (l, mut r) = (layout(), ring());
        write(&mut r, 5, 64 + 24, 64 + 40, "hello");
        // Would cross the ring's end at 64+48: stored whole at offset 0 of the next lap.
        write(&mut r, 6, 64 + 48, 128 + 16, "wrap");
        let mut w = Vec::new();
        let a = r.record(&l, 5, &mut w).unwrap();
        let b = r.record(&l, 6, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (a.text.as_str(), a.seq, a.level, a.subsystem.as_str()),
            ("hello", 105, 6, "pci")
        );
        assert_eq!((b.text.as_str(), b.ts_nsec), ("wrap", 1_500_000_000));
    }

    #[test]
    fn disagreeing_descriptors_and_blocks_are_marked_with_the_address() {
        let (l, mut r) = (layout(), ring());
        write(&mut r, 5, 64 + 8, 64 + 24, "hello");
        let mut w = Vec::new();
        // The slot holds id 5, not 9: marked, warned, not read as 9's text.
        let m = r.record(&l, 9, &mut w).unwrap();
        assert!(
            m.problem.as_deref().unwrap().contains("holds id 0x5"),
            "{m:?}"
        );
        assert!(m.text.is_empty() && w.len() == 1);
        // The block's owner id disagrees with its descriptor.
        put(&mut r.data, 8, &7u64.to_le_bytes());
        let m = r.record(&l, 5, &mut w).unwrap();
        assert!(
            m.problem
                .as_deref()
                .unwrap()
                .contains("at 0x1008 belongs to id 0x7"),
            "{m:?}"
        );
        // A block spanning laps, and one past the ring's end.
        write(&mut r, 6, 8, 200, "x");
        assert!(r
            .record(&l, 6, &mut w)
            .unwrap()
            .problem
            .unwrap()
            .contains("more than one lap"));
        write(&mut r, 7, 64 + 40, 64 + 8, "");
        assert!(r
            .record(&l, 7, &mut w)
            .unwrap()
            .problem
            .unwrap()
            .contains("outside the ring"));
        assert_eq!(w.len(), 4);
    }

    #[test]
    fn records_not_committed_are_skipped() {
        let (l, mut r) = (layout(), ring());
        write(&mut r, 5, 64 + 8, 64 + 24, "hello");
        put(&mut r.descs, 24, &5u64.to_le_bytes()); // state reserved
        assert!(r.record(&l, 5, &mut Vec::new()).is_none());
    }
}
