//! The name index on disk: a file under `$XDG_CACHE_HOME/vmscope/index/` keyed by build-id,
//! queried in place. A cache file is used only if its header, key and checksum all match;
//! otherwise the index is rebuilt.

use std::io::Write;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use crate::types::model::NameKind;

use super::names::{Kind, NameIndex};
use crate::debuginfo::sections::{DwarfFile, UnitSpan, SUP_BIT};

const MAGIC: &[u8; 8] = b"VMSCIDX1";
/// 7: xxh3 checksums and shape hashes; 10: a body defining a type before a member never
/// repeats. (dwz files, new in 10's time, have keys of their own: no version change.)
/// 11: types inside C++ namespaces, by their bare and their `ns::` names.
const FORMAT_VERSION: u32 = 11;

/// `${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/index`
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("vmscope").join("index"))
}

/// Cache key: build-id when present, else a hash of path, size and mtime.
fn cache_key(db: &DwarfFile) -> Vec<u8> {
    let mut key = Vec::new();
    match db.build_id() {
        Some(b) => {
            key.extend_from_slice(b"bid:");
            key.extend_from_slice(b);
        }
        None => {
            key.extend_from_slice(b"path:");
            key.extend_from_slice(db.path().to_string_lossy().as_bytes());
            if let Ok(md) = std::fs::metadata(db.path()) {
                key.extend_from_slice(&md.len().to_le_bytes());
                if let Ok(t) = md.modified() {
                    if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                        key.extend_from_slice(&d.as_nanos().to_le_bytes());
                    }
                }
            }
        }
    }
    key.extend_from_slice(&db.debug_info_len().to_le_bytes());
    // dwz: the index holds offsets into the supplementary file too
    if let Some(sup) = db.sup() {
        key.extend_from_slice(b"sup:");
        key.extend_from_slice(&cache_key(sup));
    }
    key
}

fn cache_path(db: &DwarfFile, dir: &Path) -> PathBuf {
    dir.join(format!("{:016x}.idx", checksum(&cache_key(db))))
}

/// 64-bit checksum of the cache payload (integrity against torn or damaged files, not a
/// security boundary).
fn checksum(data: &[u8]) -> u64 {
    xxh3_64(data)
}

const NONE: u64 = u64::MAX;
const REC: usize = 48;
const TOP: usize = 24;
const HEAD: usize = 9;

/// Serialise an index: records sorted by name (binary-searchable in place), then the
/// full-listing table sorted by offset, then the name bytes.
fn encode_payload(index: &NameIndex) -> Vec<u8> {
    let mut names: Vec<&str> = index
        .any
        .keys()
        .chain(index.composite.keys())
        .chain(index.enums.keys())
        .chain(index.typedefs.keys())
        .chain(index.composite_top.keys())
        .map(|k| &**k)
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut top: Vec<(u64, u64, u32)> = Vec::new();
    let mut blob = Vec::new();
    let mut recs = Vec::with_capacity(names.len() * REC);
    for (i, n) in names.iter().enumerate() {
        let (any_off, any_kind) = index
            .any
            .get(*n)
            .map(|e| (e.0, e.1 as u8))
            .unwrap_or((NONE, 0));
        let (comp_off, comp_kind) = index
            .composite
            .get(*n)
            .map(|e| (e.0, e.1 as u8))
            .unwrap_or((NONE, 0));
        recs.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        recs.extend_from_slice(&(n.len() as u32).to_le_bytes());
        recs.extend_from_slice(&any_off.to_le_bytes());
        recs.extend_from_slice(&comp_off.to_le_bytes());
        recs.extend_from_slice(&index.enums.get(*n).copied().unwrap_or(NONE).to_le_bytes());
        recs.extend_from_slice(
            &index
                .typedefs
                .get(*n)
                .copied()
                .unwrap_or(NONE)
                .to_le_bytes(),
        );
        recs.extend_from_slice(&[any_kind, comp_kind, 0, 0, 0, 0, 0, 0]);
        blob.extend_from_slice(n.as_bytes());
        if let Some(defs) = index.composite_top.get(*n) {
            for (off, shape) in defs {
                top.push((*off, *shape, i as u32));
            }
        }
    }
    top.sort_unstable();
    let mut out = Vec::with_capacity(HEAD + recs.len() + top.len() * TOP + blob.len());
    out.push(index.has_shapes as u8);
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    out.extend_from_slice(&(top.len() as u32).to_le_bytes());
    out.extend_from_slice(&recs);
    for (off, shape, rec) in top {
        out.extend_from_slice(&rec.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&shape.to_le_bytes());
    }
    out.extend_from_slice(&blob);
    out
}

fn wrap(payload: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + key.len() + 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn rd_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The name index in its serialised form, queried in place (binary search over the sorted
/// records): loading a cached index costs one read and one checksum, no hash-map building.
#[derive(Debug, PartialEq)]
pub struct IndexFile {
    payload: Vec<u8>,
    nrec: usize,
    ntop: usize,
    info_len: u64,
    /// `.debug_info` size of the supplementary file (dwz), 0 without one
    sup_len: u64,
    spans: Vec<UnitSpan>,
}

impl IndexFile {
    fn from_payload(payload: Vec<u8>, info_len: u64) -> Option<IndexFile> {
        let flag = *payload.first()?;
        if flag > 1 {
            return None;
        }
        let nrec = rd_u32(&payload, 1)? as usize;
        let ntop = rd_u32(&payload, 5)? as usize;
        let blob = HEAD
            .checked_add(nrec.checked_mul(REC)?)?
            .checked_add(ntop.checked_mul(TOP)?)?;
        // trailer: unit spans, then their count
        let nspans = rd_u32(&payload, payload.len().checked_sub(4)?)? as usize;
        let spans_at = payload
            .len()
            .checked_sub(4)?
            .checked_sub(nspans.checked_mul(16)?)?;
        if blob > spans_at {
            return None;
        }
        let mut spans = Vec::with_capacity(nspans);
        let mut prev_end = 0u64;
        for i in 0..nspans {
            let start = rd_u64(&payload, spans_at + i * 16)?;
            let end = rd_u64(&payload, spans_at + i * 16 + 8)?;
            if start < prev_end || end <= start || end > info_len {
                return None;
            }
            prev_end = end;
            spans.push(UnitSpan { start, end });
        }
        Some(IndexFile {
            payload,
            nrec,
            ntop,
            info_len,
            sup_len: 0,
            spans,
        })
    }

    pub(crate) fn from_index(
        ix: &NameIndex,
        spans: &[UnitSpan],
        info_len: u64,
    ) -> Option<IndexFile> {
        let mut payload = encode_payload(ix);
        for s in spans {
            payload.extend_from_slice(&s.start.to_le_bytes());
            payload.extend_from_slice(&s.end.to_le_bytes());
        }
        payload.extend_from_slice(&(spans.len() as u32).to_le_bytes());
        IndexFile::from_payload(payload, info_len)
    }

    /// Compilation-unit boundaries recorded with the index.
    pub(crate) fn unit_spans(&self) -> Vec<UnitSpan> {
        self.spans.clone()
    }

    pub(crate) fn has_shapes(&self) -> bool {
        self.payload.first() == Some(&1)
    }

    fn blob_start(&self) -> usize {
        HEAD + self.nrec * REC + self.ntop * TOP
    }

    fn rec(&self, i: usize) -> usize {
        HEAD + i * REC
    }

    fn name(&self, i: usize) -> Option<&str> {
        let r = self.rec(i);
        let off = rd_u32(&self.payload, r)? as usize;
        let len = rd_u32(&self.payload, r + 4)? as usize;
        let start = self.blob_start().checked_add(off)?;
        std::str::from_utf8(self.payload.get(start..start.checked_add(len)?)?).ok()
    }

    fn find_rec(&self, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.nrec);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid)?.cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn valid(&self, off: u64) -> Option<u64> {
        let ok = if off & SUP_BIT == 0 {
            off < self.info_len
        } else {
            off != NONE && off & !SUP_BIT < self.sup_len
        };
        ok.then_some(off)
    }

    /// Offsets tagged [`SUP_BIT`] are valid below `len` (the supplementary `.debug_info`).
    pub(crate) fn with_sup_len(mut self, len: u64) -> IndexFile {
        self.sup_len = len;
        self
    }

    pub(crate) fn lookup(&self, name: &str, kind: NameKind) -> Option<u64> {
        let r = self.rec(self.find_rec(name)?);
        let p = &self.payload;
        let kinds = p.get(r + 40..r + 42)?;
        let (any_kind, comp_kind) = (
            Kind::from_u8(*kinds.first()?),
            Kind::from_u8(*kinds.get(1)?),
        );
        let off = match kind {
            NameKind::Any => {
                any_kind?;
                rd_u64(p, r + 8)?
            }
            NameKind::Composite => rd_u64(p, r + 16)?,
            NameKind::Struct | NameKind::Union => {
                if !comp_kind?.matches(kind) {
                    return None;
                }
                rd_u64(p, r + 16)?
            }
            NameKind::Enum => rd_u64(p, r + 24)?,
            NameKind::Typedef => rd_u64(p, r + 32)?,
        };
        self.valid(off)
    }

    /// Unit-level struct and union definitions pahole's full listing prints, in order.
    pub fn composites_in_order(&self) -> Vec<(String, u64)> {
        let base = HEAD + self.nrec * REC;
        (0..self.ntop)
            .filter_map(|i| {
                let at = base + i * TOP;
                let rec = rd_u32(&self.payload, at)? as usize;
                let off = self.valid(rd_u64(&self.payload, at + 8)?)?;
                Some((self.name(rec)?.to_string(), off))
            })
            .collect()
    }

    /// Every name of any kind (for "did you mean" suggestions).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        (0..self.nrec).filter_map(|i| self.name(i))
    }

    pub fn len(&self) -> usize {
        self.nrec
    }

    pub fn is_empty(&self) -> bool {
        self.nrec == 0
    }
}

/// Validate a cache file: magic, version, key, length and checksum; `None` if anything is off
/// (then the index is rebuilt).
/// Decode a cache file's bytes made for `key` (the vmlinux identity) and a
/// `.debug_info` of `info_len` bytes; `None` for anything not a sound cache.
/// Public for the fuzz target.
pub fn decode(buf: &[u8], key: &[u8], info_len: u64) -> Option<IndexFile> {
    if buf.get(0..8)? != MAGIC || rd_u32(buf, 8)? != FORMAT_VERSION {
        return None;
    }
    let klen = rd_u32(buf, 12)? as usize;
    let kend = 16usize.checked_add(klen)?;
    if buf.get(16..kend)? != key {
        return None;
    }
    let plen = usize::try_from(rd_u64(buf, kend)?).ok()?;
    let sum = rd_u64(buf, kend + 8)?;
    let pstart = kend + 16;
    let payload = buf.get(pstart..pstart.checked_add(plen)?)?;
    if pstart + plen != buf.len() || checksum(payload) != sum {
        return None;
    }
    IndexFile::from_payload(payload.to_vec(), info_len)
}

pub(crate) fn try_load_cache(db: &DwarfFile, dir: &Path) -> Option<IndexFile> {
    let buf = crate::input::read_regular(&cache_path(db, dir)).ok()?;
    let sup_len = db.sup().map_or(0, DwarfFile::debug_info_len);
    decode(&buf, &cache_key(db), db.debug_info_len()).map(|ix| ix.with_sup_len(sup_len))
}

pub(crate) fn store_cache(db: &DwarfFile, dir: &Path, index: &IndexFile) {
    let path = cache_path(db, dir);
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let data = wrap(&index.payload, &cache_key(db));
    // write to a private temp file, then rename: readers never see a half-written file
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|f| f.to_str()).unwrap_or("idx"),
        std::process::id()
    ));
    let ok = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&data))
        .is_ok();
    if ok {
        let _ = std::fs::rename(&tmp, &path);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NameIndex {
        let mut ix = NameIndex {
            has_shapes: true,
            ..NameIndex::default()
        };
        ix.insert("local", Kind::Struct, 0x10, None);
        ix.insert("task_struct", Kind::Struct, 0x100, Some(7));
        ix.insert("task_struct", Kind::Struct, 0x900, Some(7));
        ix.insert("pid_t", Kind::Typedef, 0x200, Some(0));
        ix.insert("maple_type", Kind::Enum, 0x300, Some(0));
        ix.insert("u", Kind::Union, 0x50, Some(1));
        ix.insert("local", Kind::Struct, 0x1000, Some(2));
        ix.insert("u", Kind::Union, 0x2000, Some(3));
        ix
    }

    #[test]
    fn first_definition_wins_and_order_is_by_offset() {
        let ix = IndexFile::from_index(&sample(), &[], 1 << 20).expect("encode");
        assert_eq!(ix.lookup("task_struct", NameKind::Composite), Some(0x100));
        assert_eq!(ix.lookup("u", NameKind::Struct), None);
        assert_eq!(ix.lookup("u", NameKind::Union), Some(0x50));
        let order: Vec<String> = ix
            .composites_in_order()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        // a second definition of another shape is listed again, a same-shape one is not
        assert_eq!(order, vec!["u", "task_struct", "local", "u"]);
        // -C finds the function-local definition first, the full dump lists the unit-level one
        assert_eq!(ix.lookup("local", NameKind::Composite), Some(0x10));
        assert_eq!(ix.composites_in_order()[2].1, 0x1000);
    }

    #[test]
    fn cache_roundtrip_and_corruption_is_rejected() {
        let spans = [
            UnitSpan {
                start: 0,
                end: 0x800,
            },
            UnitSpan {
                start: 0x800,
                end: 0x3000,
            },
        ];
        let ix = IndexFile::from_index(&sample(), &spans, 1 << 20).expect("encode");
        assert_eq!(ix.unit_spans().len(), 2);
        let key = b"bid:abc".to_vec();
        let enc = wrap(&ix.payload, &key);
        assert_eq!(decode(&enc, &key, 1 << 20).as_ref(), Some(&ix));
        assert_eq!(ix.lookup("pid_t", NameKind::Typedef), Some(0x200));
        assert_eq!(ix.lookup("pid_t", NameKind::Any), Some(0x200));
        assert_eq!(ix.lookup("nope", NameKind::Any), None);
        assert_eq!(ix.all_names().count(), 5);
        // wrong key (stale cache for another build)
        assert_eq!(decode(&enc, b"bid:abd", 1 << 20), None);
        // every single-byte flip and every truncation is rejected, never a panic
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x41;
            assert_eq!(decode(&bad, &key, 1 << 20), None, "flip at {i}");
            assert_eq!(decode(&enc[..i], &key, 1 << 20), None, "truncated at {i}");
        }
        // offsets beyond .debug_info are never returned
        let small = decode(&enc, &key, 0x3000).expect("valid file");
        assert_eq!(
            decode(&enc, &key, 0x2fff),
            None,
            "unit spans past .debug_info"
        );
        assert_eq!(
            small.lookup("task_struct", NameKind::Composite),
            Some(0x100)
        );
        assert_eq!(small.lookup("local", NameKind::Composite), Some(0x10));
        assert_eq!(small.lookup("maple_type", NameKind::Enum), Some(0x300));
    }
}
