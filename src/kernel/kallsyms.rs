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

/// One decoded symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub addr: u64,
    pub kind: u8,
    pub name: String,
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

/// Expand every name (type letter first).
fn expand_names(t: &Tables<'_>) -> Result<Vec<Vec<u8>>, KallsymsError> {
    let mut out = Vec::with_capacity(t.num_syms as usize);
    let mut pos = 0usize;
    for index in 0..t.num_syms {
        let truncated = KallsymsError::Truncated {
            addr: t.names_addr,
            index,
            count: t.num_syms,
            len: t.names.len(),
        };
        let (n, h) = entry_len(t.names, pos).ok_or(truncated.clone())?;
        let toks = t.names.get(pos + h..pos + h + n).ok_or(truncated)?;
        pos += h + n;
        let mut name = Vec::with_capacity(n * 3);
        for &tok in toks {
            name.extend_from_slice(token(t, tok)?);
        }
        if name.len() < 2 {
            return Err(KallsymsError::Empty {
                addr: t.names_addr,
                index,
            });
        }
        out.push(name);
    }
    Ok(out)
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
pub fn decode(t: &Tables<'_>, stext: u64) -> Result<Vec<Decoded>, KallsymsError> {
    if t.num_syms == 0 || t.num_syms > MAX_SYMS || t.offsets.len() < t.num_syms as usize * 4 {
        return Err(KallsymsError::Count(t.num_syms));
    }
    let names = expand_names(t)?;
    let i = names
        .iter()
        .position(|n| &n[1..] == b"_stext")
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
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, n)| Decoded {
            addr: addr_of(t.relative_base, offset(t, i)),
            kind: n[0],
            name: String::from_utf8_lossy(&n[1..]).into_owned(),
        })
        .collect())
}

/// The symbols as /proc/kallsyms text (`ADDR TYPE NAME` lines).
pub fn to_text(syms: &[Decoded]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(syms.len() * 40);
    for s in syms {
        let _ = writeln!(out, "{:016x} {} {}", s.addr, s.kind as char, s.name);
    }
    out
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
        assert_eq!(
            got,
            vec![
                Decoded {
                    addr: BASE,
                    kind: b'T',
                    name: "_stext".into()
                },
                Decoded {
                    addr: 0x32280,
                    kind: b'A',
                    name: "runqueues".into()
                },
                Decoded {
                    addr: BASE + 0x10,
                    kind: b't',
                    name: "x".repeat(300)
                },
            ]
        );
        assert_eq!(names_len(&b.names, 3), Some(b.names.len()));
        assert_eq!(names_len(&b.names[..b.names.len() - 1], 3), None);
        // Relative: every entry is base + u32.
        let b = build(&[("Dinit_task", 0x20), ("T_stext", 0x10)]);
        let got = decode(&tables(&b, 2, BASE), BASE + 0x10).unwrap();
        assert_eq!(got[0].addr, BASE + 0x20);
        assert_eq!(
            to_text(&got),
            format!(
                "{:016x} D init_task\n{:016x} T _stext\n",
                BASE + 0x20,
                BASE + 0x10
            )
            .into_bytes()
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
