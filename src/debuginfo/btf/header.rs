//! The BTF header (`struct btf_header` of include/uapi/linux/btf.h) and an
//! endian-aware, bounds-checked reader of the blob.

use super::error::BtfError;

/// Magic number, as stored by a little-endian producer it reads 9f eb.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of the version-1 header; a newer producer may append fields (hdr_len says how many).
pub const BTF_HEADER_MIN_LEN: usize = 24;

/// Bounds-checked reads of the BTF blob in the producer's byte order.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub data: &'a [u8],
    pub big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn u32_at(&self, offset: usize, what: &'static str) -> Result<u32, BtfError> {
        self.get_u32(offset).ok_or_else(|| BtfError::Truncated {
            what,
            offset,
            need: 4,
            have: self.data.len().saturating_sub(offset),
        })
    }

    /// The u32 at `offset`, None when it does not fit: the hot path of every walk.
    #[inline]
    pub fn get_u32(&self, offset: usize) -> Option<u32> {
        let bytes: [u8; 4] = self
            .data
            .get(offset..offset.checked_add(4)?)?
            .try_into()
            .ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }

    /// `len` bytes at `offset`, or a `Truncated` error naming the offset.
    pub fn bytes_at(
        &self,
        offset: usize,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], BtfError> {
        offset
            .checked_add(len)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| BtfError::Truncated {
                what,
                offset,
                need: len,
                have: self.data.len().saturating_sub(offset),
            })
    }
}

/// The decoded header, with absolute offsets of the two sections inside the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfHeader {
    pub version: u8,
    pub flags: u8,
    pub hdr_len: u32,
    pub type_off: u32,
    pub type_len: u32,
    pub str_off: u32,
    pub str_len: u32,
    pub big_endian: bool,
}

impl BtfHeader {
    /// Parse and validate the header of `data`: magic, version, and both sections inside the blob.
    pub fn parse(data: &[u8]) -> Result<BtfHeader, BtfError> {
        let magic = data.get(0..2).ok_or_else(|| BtfError::Truncated {
            what: "BTF magic",
            offset: 0,
            need: 2,
            have: data.len(),
        })?;
        let big_endian = match (magic[0], magic[1]) {
            (0x9f, 0xeb) => false,
            (0xeb, 0x9f) => true,
            (a, b) => {
                return Err(BtfError::BadMagic {
                    found: u16::from_le_bytes([a, b]),
                })
            }
        };
        let r = Reader { data, big_endian };
        let fixed = r.bytes_at(0, BTF_HEADER_MIN_LEN, "BTF header")?;
        let version = fixed[2];
        if version != 1 {
            return Err(BtfError::BadVersion { version });
        }
        let hdr = BtfHeader {
            version,
            flags: fixed[3],
            hdr_len: r.u32_at(4, "hdr_len")?,
            type_off: r.u32_at(8, "type_off")?,
            type_len: r.u32_at(12, "type_len")?,
            str_off: r.u32_at(16, "str_off")?,
            str_len: r.u32_at(20, "str_len")?,
            big_endian,
        };
        hdr.check_bounds(data.len())?;
        Ok(hdr)
    }

    fn check_bounds(&self, blob_len: usize) -> Result<(), BtfError> {
        let bad = |offset: usize, reason: String| Err(BtfError::BadHeader { offset, reason });
        let hdr_len = self.hdr_len as usize;
        if hdr_len < BTF_HEADER_MIN_LEN {
            return bad(
                4,
                format!("hdr_len {hdr_len} is shorter than the {BTF_HEADER_MIN_LEN}-byte header"),
            );
        }
        if hdr_len > blob_len {
            return bad(
                4,
                format!("hdr_len {hdr_len} exceeds the {blob_len}-byte blob"),
            );
        }
        let (types, strs) = (self.types_range(), self.strings_range());
        let end_types = types.end;
        let end_strs = strs.end;
        if end_types > blob_len as u64 {
            return bad(
                8,
                format!(
                    "type section [{:#x}, {:#x}) runs past the end of the {blob_len}-byte blob",
                    types.start, end_types
                ),
            );
        }
        if end_strs > blob_len as u64 {
            return bad(
                16,
                format!(
                    "string section [{:#x}, {:#x}) runs past the end of the {blob_len}-byte blob",
                    strs.start, end_strs
                ),
            );
        }
        if end_types > u64::from(u32::MAX) {
            // Record offsets are kept as u32.
            return bad(
                8,
                format!("type section ends at {end_types:#x}, beyond 4 GiB"),
            );
        }
        if !self.type_off.is_multiple_of(4) {
            return bad(
                8,
                format!("type_off {:#x} is not 4-byte aligned", self.type_off),
            );
        }
        if types.start < end_strs && strs.start < end_types {
            return bad(8, "type and string sections overlap".to_string());
        }
        Ok(())
    }

    /// Absolute [start, end) of the type section (u64: cannot overflow).
    pub fn types_range(&self) -> std::ops::Range<u64> {
        let start = self.hdr_len as u64 + self.type_off as u64;
        start..start + self.type_len as u64
    }

    /// Absolute [start, end) of the string section.
    pub fn strings_range(&self) -> std::ops::Range<u64> {
        let start = self.hdr_len as u64 + self.str_off as u64;
        start..start + self.str_len as u64
    }
}
