//! The kernel's compressed symbol table, as the build writes it into the image
//! and VMCOREINFO announces it (6.0+): `kallsyms_num_syms` names, each a length
//! (one byte, or two when the high bit is set: 6.1+ "big" names, little-endian
//! 7-bit groups) and that many token numbers; `kallsyms_token_index[256]` (u16)
//! points each token into the NUL-separated `kallsyms_token_table`. The first
//! character of an expanded name is its type letter. Addresses are s32
//! `kallsyms_offsets` against `kallsyms_relative_base`: with absolute per-CPU
//! symbols (x86_64 SMP before 6.15) a non-negative entry is the value itself and
//! a negative one is `base - 1 - entry`; otherwise every entry is `base + (u32)entry`.
//! Which one applies is not announced, so both are tried against VMCOREINFO's `_stext`.

use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum KallsymsError {
    #[error(
        "kallsyms_names at {addr:#x}: symbol {index} of {count} runs past the table ({len} bytes)"
    )]
    Truncated {
        addr: u64,
        index: u32,
        count: u32,
        len: usize,
    },
    #[error("kallsyms_names at {addr:#x}: symbol {index} is empty")]
    Empty { addr: u64, index: u32 },
    #[error("kallsyms_token_table: token {token} at offset {offset} lies outside the table ({len} bytes)")]
    Token {
        token: u8,
        offset: usize,
        len: usize,
    },
    #[error("kallsyms_num_syms = {0}: not a plausible symbol count")]
    Count(u32),
    #[error("kallsyms tables decode no _stext")]
    NoStext,
    #[error("kallsyms tables decode _stext as {absolute:#x} (absolute per-CPU) or {relative:#x} (relative), VMCOREINFO says {want:#x}: corrupt tables")]
    StextMismatch {
        absolute: u64,
        relative: u64,
        want: u64,
    },
}

/// Most symbols a kernel has (a few hundred thousand with every option built in).
pub const MAX_SYMS: u32 = 4_000_000;

/// The raw tables, read from the image.
pub struct Tables<'a> {
    /// Address of `kallsyms_names`, for messages.
    pub names_addr: u64,
    pub names: &'a [u8],
    pub token_table: &'a [u8],
    /// 256 little-endian u16.
    pub token_index: &'a [u8],
    /// `num_syms` little-endian s32.
    pub offsets: &'a [u8],
    pub num_syms: u32,
    pub relative_base: u64,
}

/// The decoded table: every name back to back, each led by its type letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: Vec<u8>,
    /// Per symbol in table order: (address, start of its type letter in `text`, length
    /// with the letter).
    pub syms: Vec<(u64, u32, u32)>,
    /// Every name is printable ASCII (as real kernels' are).
    pub plain: bool,
}

impl Decoded {
    /// (address, type letter, name) of every symbol, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u8, &[u8])> + '_ {
        self.syms.iter().map(|&(addr, at, len)| {
            let e = &self.text[at as usize..(at + len) as usize];
            (addr, e[0], &e[1..])
        })
    }
}

/// One entry's header: (token count, header bytes). None when the table ends.
fn entry_len(names: &[u8], pos: usize) -> Option<(usize, usize)> {
    let b0 = *names.get(pos)?;
    if b0 & 0x80 == 0 {
        return Some((b0 as usize, 1));
    }
    let b1 = *names.get(pos + 1)?;
    Some(((b0 & 0x7f) as usize | (b1 as usize) << 7, 2))
}

/// Bytes of `kallsyms_names` that `count` entries take, or None when `names` is
/// too short to tell (the reader then reads more).
pub fn names_len(names: &[u8], count: u32) -> Option<usize> {
    let mut pos = 0usize;
    for _ in 0..count {
        let (n, h) = entry_len(names, pos)?;
        pos += h + n;
    }
    (pos <= names.len()).then_some(pos)
}

fn token<'t>(t: &Tables<'t>, tok: u8) -> Result<&'t [u8], KallsymsError> {
    let i = tok as usize * 2;
    let bad = |offset| KallsymsError::Token {
        token: tok,
        offset,
        len: t.token_table.len(),
    };
    let off = t
        .token_index
        .get(i..i + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .ok_or(bad(usize::MAX))?;
    let rest = t.token_table.get(off..).ok_or(bad(off))?;
    let end = rest.iter().position(|&b| b == 0).ok_or(bad(off))?;
    Ok(&rest[..end])
}

/// A token, also padded to 16 bytes: a short one is copied with one fixed-size store
/// instead of a memcpy call per token (half the cost of decoding otherwise).
#[derive(Clone, Copy)]
struct Tok<'a> {
    bytes: &'a [u8],
    pad: [u8; 16],
    /// Printable ASCII only.
    plain: bool,
}

/// The names expanded into one buffer (type letter first): (text, (start, len) per name,
/// every name printable ASCII). Each token is looked up once; a bad one is an error only
/// when a name uses it.
#[allow(clippy::type_complexity)]
fn expand_names(t: &Tables<'_>) -> Result<(Vec<u8>, Vec<(u32, u32)>, bool), KallsymsError> {
    let tokens: Vec<Option<Tok<'_>>> = (0..=255u8)
        .map(|tok| {
            let bytes = token(t, tok).ok()?;
            let mut pad = [0u8; 16];
            let n = bytes.len().min(16);
            pad[..n].copy_from_slice(&bytes[..n]);
            let plain = bytes.iter().all(u8::is_ascii_graphic);
            Some(Tok { bytes, pad, plain })
        })
        .collect();
    let mut text = vec![0u8; (t.names.len() * 4).max(64)];
    let mut end = 0usize;
    let mut all_plain = true;
    let mut spans = Vec::with_capacity(t.num_syms as usize);
    let mut pos = 0usize;
    for index in 0..t.num_syms {
        let truncated = || KallsymsError::Truncated {
            addr: t.names_addr,
            index,
            count: t.num_syms,
            len: t.names.len(),
        };
        let (n, h) = entry_len(t.names, pos).ok_or_else(truncated)?;
        let toks = t.names.get(pos + h..pos + h + n).ok_or_else(truncated)?;
        pos += h + n;
        let start = end;
        for &tok in toks {
            let Some(k) = tokens[tok as usize] else {
                return Err(token(t, tok).err().unwrap_or(KallsymsError::NoStext));
            };
            let len = k.bytes.len();
            if end + len.max(16) > text.len() {
                text.resize((text.len() * 2).max(end + len + 16), 0);
            }
            if len <= 16 {
                text[end..end + 16].copy_from_slice(&k.pad);
            } else {
                text[end..end + len].copy_from_slice(k.bytes);
            }
            end += len;
            all_plain &= k.plain;
        }
        let len = end - start;
        if len < 2 {
            return Err(KallsymsError::Empty {
                addr: t.names_addr,
                index,
            });
        }
        let too_long = || KallsymsError::Count(t.num_syms);
        spans.push((
            u32::try_from(start).map_err(|_| too_long())?,
            u32::try_from(len).map_err(|_| too_long())?,
        ));
    }
    text.truncate(end);
    Ok((text, spans, all_plain))
}

fn offset(t: &Tables<'_>, i: usize) -> i32 {
    t.offsets
        .get(i * 4..i * 4 + 4)
        .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn absolute_percpu(base: u64, off: i32) -> u64 {
    if off >= 0 {
        off as u64
    } else {
        base.wrapping_add((-1i64 - i64::from(off)) as u64)
    }
}

fn relative(base: u64, off: i32) -> u64 {
    base.wrapping_add(u64::from(off as u32))
}

/// Decode the tables; `stext` (VMCOREINFO's `SYMBOL(_stext)`) picks the address
/// encoding and proves the decoding right.
pub fn decode(t: &Tables<'_>, stext: u64) -> Result<Decoded, KallsymsError> {
    if t.num_syms == 0 || t.num_syms > MAX_SYMS || t.offsets.len() < t.num_syms as usize * 4 {
        return Err(KallsymsError::Count(t.num_syms));
    }
    let (text, spans, plain) = expand_names(t)?;
    let name = |&(at, len): &(u32, u32)| &text[at as usize + 1..(at + len) as usize];
    let i = spans
        .iter()
        .position(|sp| name(sp) == b"_stext")
        .ok_or(KallsymsError::NoStext)?;
    let (absolute, rel) = (
        absolute_percpu(t.relative_base, offset(t, i)),
        relative(t.relative_base, offset(t, i)),
    );
    let addr_of: fn(u64, i32) -> u64 = if absolute == stext {
        absolute_percpu
    } else if rel == stext {
        relative
    } else {
        return Err(KallsymsError::StextMismatch {
            absolute,
            relative: rel,
            want: stext,
        });
    };
    let syms = spans
        .iter()
        .enumerate()
        .map(|(i, &(at, len))| (addr_of(t.relative_base, offset(t, i)), at, len))
        .collect();
    Ok(Decoded { text, syms, plain })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables as the build would write them for `syms` with one token per byte
    /// except token 0x80 = "_st" (so compression is exercised).
    struct Built {
        names: Vec<u8>,
        table: Vec<u8>,
        index: Vec<u8>,
        offsets: Vec<u8>,
    }

    fn build(syms: &[(&str, i32)]) -> Built {
        let mut table = Vec::new();
        let mut index = Vec::new();
        for t in 0..256u32 {
            index.extend_from_slice(&(table.len() as u16).to_le_bytes());
            if t == 0x80 {
                table.extend_from_slice(b"_st");
            } else if t > 0 {
                table.push(t as u8);
            }
            table.push(0);
        }
        let mut names = Vec::new();
        let mut offsets = Vec::new();
        for (n, off) in syms {
            let s = n.replace("_st", "\u{80}");
            let toks: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
            if toks.len() > 127 {
                names.push(0x80 | (toks.len() & 0x7f) as u8);
                names.push((toks.len() >> 7) as u8);
            } else {
                names.push(toks.len() as u8);
            }
            names.extend_from_slice(&toks);
            offsets.extend_from_slice(&off.to_le_bytes());
        }
        Built {
            names,
            table,
            index,
            offsets,
        }
    }

    fn tables<'a>(b: &'a Built, n: u32, base: u64) -> Tables<'a> {
        Tables {
            names_addr: 0x1000,
            names: &b.names,
            token_table: &b.table,
            token_index: &b.index,
            offsets: &b.offsets,
            num_syms: n,
            relative_base: base,
        }
    }

    const BASE: u64 = 0xffff_ffff_8100_0000;

    #[test]
    fn absolute_percpu_and_relative_encodings() {
        let long = format!("t{}", "x".repeat(300));
        // Absolute per-CPU: text symbols negative, per-CPU offsets positive.
        let b = build(&[("T_stext", -1), ("Arunqueues", 0x32280), (&long, -0x11)]);
        let got = decode(&tables(&b, 3, BASE), BASE).unwrap();
        let long_name = "x".repeat(300);
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            vec![
                (BASE, b'T', &b"_stext"[..]),
                (0x32280, b'A', &b"runqueues"[..]),
                (BASE + 0x10, b't', long_name.as_bytes()),
            ]
        );
        assert_eq!(names_len(&b.names, 3), Some(b.names.len()));
        assert_eq!(names_len(&b.names[..b.names.len() - 1], 3), None);
        // Relative: every entry is base + u32.
        let b = build(&[("Dinit_task", 0x20), ("T_stext", 0x10)]);
        let got = decode(&tables(&b, 2, BASE), BASE + 0x10).unwrap();
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            vec![
                (BASE + 0x20, b'D', &b"init_task"[..]),
                (BASE + 0x10, b'T', &b"_stext"[..]),
            ]
        );
    }

    #[test]
    fn corrupt_tables_are_errors() {
        let b = build(&[("T_stext", -1), ("Dinit_task", -5)]);
        // More symbols announced than the names hold.
        assert!(matches!(
            decode(&tables(&b, 2, BASE), BASE).map(|_| ()),
            Ok(())
        ));
        let mut short = build(&[("T_stext", -1), ("Dinit_task", -5)]);
        short.offsets.extend_from_slice(&[0; 4]);
        assert!(matches!(
            decode(&tables(&short, 3, BASE), BASE),
            Err(KallsymsError::Truncated { index: 2, .. })
        ));
        // A token index pointing past the table.
        let mut bad = build(&[("T_stext", -1)]);
        bad.index[b'T' as usize * 2..][..2].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(matches!(
            decode(&tables(&bad, 1, BASE), BASE),
            Err(KallsymsError::Token { token: b'T', .. })
        ));
        // Wrong base: _stext lands elsewhere.
        assert!(matches!(
            decode(&tables(&b, 2, BASE + 0x1000), BASE),
            Err(KallsymsError::StextMismatch { want: BASE, .. })
        ));
        // Garbage count, and no _stext at all.
        assert_eq!(
            decode(&tables(&b, 0, BASE), BASE).err(),
            Some(KallsymsError::Count(0))
        );
        let none = build(&[("Dinit_task", -5)]);
        assert_eq!(
            decode(&tables(&none, 1, BASE), BASE).err(),
            Some(KallsymsError::NoStext)
        );
        let empty = Built {
            names: vec![0],
            ..build(&[("T_stext", -1)])
        };
        assert!(matches!(
            decode(&tables(&empty, 1, BASE), BASE),
            Err(KallsymsError::Empty { index: 0, .. })
        ));
    }
}
