//! Split BTF (a module's `.BTF`, `/sys/kernel/btf/MOD`): its type ids continue after the
//! base's last id and its string offsets continue past the base's string section. So the
//! base's types, then the split's, then the base's strings, then the split's, form one
//! ordinary BTF blob with every id and offset unchanged: that is what is opened.
//! Errors found in the split's part are mapped back to offsets in the split's own blob.

use super::header::BtfHeader;
use super::BtfError;
use std::ops::Range;

/// Where the split's sections went in the merged blob.
#[derive(Debug, Clone)]
pub struct SplitLayout {
    /// Merged and original ranges of the split's type section, then of its strings.
    types: (Range<usize>, usize),
    strings: (Range<usize>, usize),
    /// End of the base's types in the merged blob: the first split record starts there.
    pub split_types_start: usize,
    /// Length of the base's string section.
    pub base_str_len: usize,
}

impl SplitLayout {
    /// Whether the merged-blob `offset` lies in the split's part.
    pub fn in_split(&self, offset: usize) -> bool {
        self.types.0.contains(&offset) || self.strings.0.contains(&offset)
    }

    /// The split blob's own offset for a merged-blob offset in its part.
    fn original(&self, offset: usize) -> Option<usize> {
        [&self.types, &self.strings]
            .into_iter()
            .find(|(r, _)| r.contains(&offset))
            .map(|(r, at)| at + (offset - r.start))
    }

    /// Rewrite an error's offset to the split blob's own, when it lies in the split's part.
    pub fn to_split(&self, mut e: BtfError) -> BtfError {
        if let Some(off) = e.offset_mut() {
            if let Some(o) = self.original(*off) {
                *off = o;
            }
        }
        e
    }
}

/// The base's and the split's sections in one blob (see the module comment).
pub fn merge(base: &[u8], split: &[u8]) -> Result<(Vec<u8>, SplitLayout), BtfError> {
    let bh = BtfHeader::parse(base)?;
    let sh = BtfHeader::parse(split)?;
    if bh.big_endian != sh.big_endian {
        return Err(BtfError::BadHeader {
            offset: 0,
            reason: "split BTF and its base differ in byte order".into(),
        });
    }
    let part = |data: &[u8], r: Range<u64>| data[r.start as usize..r.end as usize].to_vec();
    let (bt, st) = (part(base, bh.types_range()), part(split, sh.types_range()));
    let (bs, ss) = (
        part(base, bh.strings_range()),
        part(split, sh.strings_range()),
    );
    const HDR: usize = super::header::BTF_HEADER_MIN_LEN;
    let types_len = bt.len() + st.len();
    let strs_len = bs.len() + ss.len();
    let too_big = |what: &str| BtfError::BadHeader {
        offset: 0,
        reason: format!("{what} of base and split together exceed 4 GiB"),
    };
    let types_len32 = u32::try_from(types_len).map_err(|_| too_big("types"))?;
    let strs_len32 = u32::try_from(strs_len).map_err(|_| too_big("strings"))?;
    let word = |v: u32| {
        if bh.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::with_capacity(HDR + types_len + strs_len);
    out.extend_from_slice(&base[..4]); // magic, version, flags
    for v in [HDR as u32, 0, types_len32, types_len32, strs_len32] {
        out.extend_from_slice(&word(v));
    }
    let split_types_start = HDR + bt.len();
    let split_strs_start = HDR + types_len + bs.len();
    let layout = SplitLayout {
        types: (
            split_types_start..split_types_start + st.len(),
            sh.types_range().start as usize,
        ),
        strings: (
            split_strs_start..split_strs_start + ss.len(),
            sh.strings_range().start as usize,
        ),
        split_types_start,
        base_str_len: bs.len(),
    };
    for p in [bt, st, bs, ss] {
        out.extend_from_slice(&p);
    }
    Ok((out, layout))
}
