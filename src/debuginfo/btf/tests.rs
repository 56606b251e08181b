//! Hand-assembled BTF blobs: one valid, and one corruption per error class.

use super::*;

/// Assembles a little-endian BTF blob: records are pushed as u32 words.
#[derive(Default)]
struct Builder {
    words: Vec<u32>,
    strings: Vec<u8>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            words: Vec::new(),
            strings: vec![0],
        }
    }
    fn str(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }
    fn head(&mut self, name: u32, kind: u32, vlen: u32, kflag: bool, size_or_type: u32) {
        self.words.extend([
            name,
            (u32::from(kflag) << 31) | (kind << 24) | vlen,
            size_or_type,
        ]);
    }
    fn build(&self) -> Vec<u8> {
        let types: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// int (1), struct s { int a:3; int b:5; long *p; } (2), long (3), ptr (4), typedef t (5)
fn sample() -> Builder {
    let mut b = Builder::new();
    let int = b.str("int");
    b.head(int, 1, 0, false, 4);
    b.words.push((1 << 24) | 32);
    let s = b.str("s");
    let (a, bb, p) = (b.str("a"), b.str("b"), b.str("p"));
    b.head(s, 4, 3, true, 16);
    b.words
        .extend([a, 1, (3 << 24), bb, 1, (5 << 24) | 3, p, 4, 64]);
    let long = b.str("long int");
    b.head(long, 1, 0, false, 8);
    b.words.push((1 << 24) | 64);
    b.head(0, 2, 0, false, 3);
    let t = b.str("t");
    b.head(t, 8, 0, false, 2);
    b
}

#[test]
fn sample_decodes() {
    let btf = Btf::from_bytes(sample().build()).expect("valid sample");
    assert_eq!(btf.type_count(), 6);
    assert_eq!(btf.pointer_size(), 8);
    let s = btf.type_by_id(2).expect("struct");
    assert_eq!(s.kind, BtfKind::Struct);
    let members: Vec<_> = s.members().collect();
    assert_eq!(
        members[1],
        BtfMember {
            name_off: members[1].name_off,
            type_id: 1,
            bit_offset: 3,
            bitfield_size: 5
        }
    );
    assert_eq!(members[2].bit_offset, 64);
    assert_eq!(btf.find_by_name("s", &[BtfKind::Struct]), vec![2]);
    assert_eq!(btf.find_by_name("t", &[]), vec![5]);
    assert!(btf.find_by_name("s", &[BtfKind::Union]).is_empty());
    assert_eq!(btf.strip_typedefs_and_modifiers(5).ok(), Some(2));
    assert_eq!(btf.type_size(5).ok(), Some(16));
}

fn err_of(bytes: Vec<u8>) -> String {
    match Btf::from_bytes(bytes) {
        Ok(_) => panic!("corrupt BTF accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_magic() {
    let mut bytes = sample().build();
    bytes[0] = 0x12;
    assert!(err_of(bytes).contains("bad magic"));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().build();
    for len in 0..bytes.len() {
        let msg = err_of(bytes[..len].to_vec());
        assert!(msg.starts_with("BTF+"), "{len}: {msg}");
    }
}

#[test]
fn record_running_into_strings_is_truncated() {
    let mut b = sample();
    // Claim 9 members on the struct: its tail then reaches past the type section.
    b.words[5] = (1 << 31) | (4 << 24) | 9;
    let msg = err_of(b.build());
    assert!(msg.contains("truncated: type record tail"), "{msg}");
}

#[test]
fn string_offset_out_of_range() {
    let mut b = sample();
    b.words[7] = 0x10000; // first member's name
    let msg = err_of(b.build());
    assert!(
        msg.contains("member name offset 0x10000 outside the string section"),
        "{msg}"
    );
    assert!(msg.starts_with("BTF+0x28:"), "{msg}");
}

#[test]
fn type_id_out_of_range() {
    let mut b = sample();
    b.words[8] = 77; // first member's type
    let msg = err_of(b.build());
    assert!(
        msg.contains("member type refers to type id 77, but the BTF has only 6 types"),
        "{msg}"
    );
}

#[test]
fn unknown_kind() {
    let mut b = sample();
    b.words[1] = 25 << 24;
    assert!(err_of(b.build()).contains("unknown kind 25"));
}

#[test]
fn unterminated_strings() {
    let mut b = sample();
    b.strings.push(b'x');
    assert!(err_of(b.build()).contains("not NUL-terminated"));
}

#[test]
fn typedef_cycle_is_an_error_not_a_hang() {
    let mut b = sample();
    let last = b.words.len() - 1;
    b.words[last] = 5; // typedef t -> t
    let btf = Btf::from_bytes(b.build()).expect("cycles are found when types are followed");
    let msg = btf.type_size(5).map(|_| ()).expect_err("cycle").to_string();
    assert!(msg.contains("reference cycle"), "{msg}");
    assert!(btf.strip_typedefs_and_modifiers(5).is_err());
}

#[test]
fn big_endian_blob() {
    let le = sample().build();
    // Re-encode every 32-bit word of header and types big-endian; strings are bytes.
    let mut be = le.clone();
    be[0] = 0xeb;
    be[1] = 0x9f;
    let types_end = 24 + sample().words.len() * 4;
    for chunk in be[4..types_end].chunks_mut(4) {
        chunk.reverse();
    }
    let btf = Btf::from_bytes(be).expect("big-endian sample");
    assert_eq!(btf.type_by_id(2).map(|t| t.members().count()).ok(), Some(3));
}

proptest::proptest! {
    /// Any byte flipped anywhere: an error or a usable Btf, never a panic or a hang.
    #[test]
    fn mutated_blobs_never_panic(pos in 0usize..400, byte in 0u8..=255, cut in 0usize..400) {
        let mut bytes = sample().build();
        let n = bytes.len();
        bytes[pos % n] = byte;
        bytes.truncate(n - cut % 8);
        if let Ok(btf) = Btf::from_bytes(bytes) {
            for id in 0..btf.type_count() + 2 {
                let _ = btf.type_size(id);
                let _ = btf.strip_typedefs_and_modifiers(id);
                if let Ok(t) = btf.type_by_id(id) {
                    let _ = btf.name(t.name_off);
                    for m in t.members() {
                        let _ = btf.name(m.name_off);
                    }
                }
            }
            let _ = btf.find_by_name("s", &[]);
        }
    }
}
