//! Bit positions of bitfield members (`printk_info.level`, `orc_entry.type`): the
//! byte-granular [`TypeLookup`](super::offsets::TypeLookup) cannot express them.

use crate::types::model::{Type, TypeSource, TypeSourceExt};

/// Where a member's bits are: offset in bits from the struct start, and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bits {
    pub bit_offset: u64,
    pub width: u32,
}

impl Bits {
    /// The member's value in `bytes` (the struct's bytes, little-endian).
    pub fn extract(&self, bytes: &[u8]) -> u64 {
        let first = (self.bit_offset / 8) as usize;
        let mut word = [0u8; 8];
        for (i, w) in word.iter_mut().enumerate() {
            *w = bytes.get(first + i).copied().unwrap_or(0);
        }
        let v = u64::from_le_bytes(word) >> (self.bit_offset % 8);
        if self.width >= 64 {
            v
        } else {
            v & ((1u64 << self.width) - 1)
        }
    }
}

/// A direct member of `struct strukt`, bitfield or not (an ordinary member spans its type).
pub fn member_bits(t: &dyn TypeSource, strukt: &str, member: &str) -> Option<Bits> {
    let id = t.find_struct(strukt).ok()??;
    let Type::Struct(c) = t.get(id).ok()? else {
        return None;
    };
    let m = c
        .members
        .iter()
        .find(|m| m.name.as_deref() == Some(member))?;
    let width = match m.bitfield_size {
        Some(w) => w,
        None => (t.size_of(m.ty?).ok()?? * 8) as u32,
    };
    Some(Bits {
        bit_offset: m.bit_offset,
        width,
    })
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn extracts_across_bytes() {
        // flags:5 then level:3 in byte 2; a 4-bit field straddling bytes 3 and 4.
        let bytes = [0, 0, 0b1010_0011, 0b1100_0000, 0b0000_0010];
        let level = Bits {
            bit_offset: 21,
            width: 3,
        };
        let flags = Bits {
            bit_offset: 16,
            width: 5,
        };
        let straddle = Bits {
            bit_offset: 30,
            width: 4,
        };
        assert_eq!(level.extract(&bytes), 0b101);
        assert_eq!(flags.extract(&bytes), 0b00011);
        assert_eq!(straddle.extract(&bytes), 0b1011);
    }
}
