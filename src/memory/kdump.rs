//! makedumpfile's kdump-compressed ("diskdump") format, raw and flattened.
//!
//! Layout (all little-endian on x86_64): `disk_dump_header` in block 0,
//! `kdump_sub_header` in block 1, then two bitmaps (PFN exists / PFN dumped),
//! then one 24-byte `page_desc` per dumped PFN in PFN order, then page data.
//!
//! The flattened variant (`makedumpfile -F`, QEMU's `kdump-*` output) is a stream of
//! big-endian `{offset, size}` records that together describe the raw file; we index
//! the records once and read through the index, never rewriting the file.

use super::bytes::{be_i64, le_u32, le_u64, range};
use super::contained::contained;
use super::elf::{parse_notes, Note};
use super::page_cache::PageCache;
use super::{MemError, OpenError, PhysMemory};
use memmap2::Mmap;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

pub const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
pub const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
pub const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
pub const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;

const FLAT_HEADER_SIZE: u64 = 4096;
const PAGE_DESC_SIZE: u64 = 24;
const PAGE_CACHE_PAGES: usize = 512;
/// Bound on the bitmap we copy into memory (covers 2^35 PFNs = 128 TiB of RAM).
const MAX_BITMAP_BYTES: u64 = 4 << 30;

/// One contiguous run of the logical (raw) file stored in the flattened file.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    file_off: u64,
}

/// The raw diskdump byte stream, either the file itself or rebuilt from flattened records.
struct Backing {
    path: String,
    map: Mmap,
    /// None: the file is the raw layout. Some: sorted, disjoint pieces.
    pieces: Option<Vec<Piece>>,
}

impl Backing {
    fn corrupt(&self, offset: u64, what: impl Into<String>) -> MemError {
        MemError::Corrupt {
            file: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    /// Bytes at logical offset `off`, borrowed when they are contiguous in the file.
    fn slice(&self, off: u64, len: u64) -> Result<Cow<'_, [u8]>, MemError> {
        let Some(pieces) = &self.pieces else {
            return range(off, len)
                .and_then(|r| self.map.get(r))
                .map(Cow::Borrowed)
                .ok_or_else(|| {
                    self.corrupt(
                        off,
                        format!("{len} bytes needed past the end of the file (truncated dump?)"),
                    )
                });
        };
        let mut out: Vec<u8> = Vec::new();
        let mut pos = off;
        let end = off
            .checked_add(len)
            .ok_or_else(|| self.corrupt(off, "offset overflow"))?;
        while pos < end {
            let i = pieces.partition_point(|p| p.start <= pos);
            let p = i
                .checked_sub(1)
                .and_then(|j| pieces.get(j))
                .filter(|p| pos < p.end)
                .ok_or_else(|| {
                    self.corrupt(
                        pos,
                        "no flattened record covers this offset (truncated dump?)",
                    )
                })?;
            let n = (p.end - pos).min(end - pos);
            let src = range(p.file_off + (pos - p.start), n)
                .and_then(|r| self.map.get(r))
                .ok_or_else(|| {
                    self.corrupt(pos, "flattened record data past the end of the file")
                })?;
            if pos == off && n == len {
                return Ok(Cow::Borrowed(src));
            }
            out.extend_from_slice(src);
            pos += n;
        }
        Ok(Cow::Owned(out))
    }

    fn read_u64(&self, off: u64) -> Result<u64, MemError> {
        let s = self.slice(off, 8)?;
        le_u64(&s, 0).ok_or_else(|| self.corrupt(off, "short read"))
    }
}

/// Index the records of a flattened file. Later records win where they overlap,
/// as when `makedumpfile -R` replays them in order.
fn index_flattened(path: &str, map: &[u8]) -> Result<Vec<Piece>, OpenError> {
    let bad = |offset: u64, what: String| OpenError::Corrupt {
        file: path.into(),
        offset,
        what,
    };
    let flen = map.len() as u64;
    let mut painted: BTreeMap<u64, (u64, u64)> = BTreeMap::new(); // start -> (end, file_off)
    let mut pos = FLAT_HEADER_SIZE;
    loop {
        let off = be_i64(map, pos as usize).ok_or_else(|| {
            bad(
                pos,
                "flattened file ends without its end marker (truncated dump?)".into(),
            )
        })?;
        if off == -1 {
            break;
        }
        let size = be_i64(map, pos as usize + 8).ok_or_else(|| {
            bad(
                pos,
                "flattened file ends inside a record header (truncated dump?)".into(),
            )
        })?;
        if off < 0 || size < 0 {
            return Err(bad(
                pos,
                format!("flattened record with offset {off} size {size}"),
            ));
        }
        let (s, e) = (
            off as u64,
            (off as u64)
                .checked_add(size as u64)
                .ok_or_else(|| bad(pos, "record overflows".into()))?,
        );
        let data = pos + 16;
        if data.checked_add(size as u64).is_none_or(|end| end > flen) {
            return Err(bad(pos, format!("flattened record of {size} bytes runs past the end of the file (truncated dump?)")));
        }
        if e > s {
            // Cut away whatever earlier records this one overwrites.
            let overlapping: Vec<u64> = painted
                .range(..e)
                .rev()
                .take_while(|(_, (pe, _))| *pe > s)
                .map(|(k, _)| *k)
                .collect();
            for k in overlapping {
                if let Some((pe, pf)) = painted.remove(&k) {
                    if k < s {
                        painted.insert(k, (s, pf));
                    }
                    if pe > e {
                        painted.insert(e, (pe, pf + (e - k)));
                    }
                }
            }
            painted.insert(s, (e, data));
        }
        pos = data + size as u64;
    }
    Ok(painted
        .into_iter()
        .map(|(start, (end, file_off))| Piece {
            start,
            end,
            file_off,
        })
        .collect())
}

/// Fields of `disk_dump_header` + `kdump_sub_header` that a reader needs.
#[derive(Debug, Clone)]
pub struct KdumpHeader {
    pub signature: String,
    pub header_version: u32,
    pub release: String,
    pub machine: String,
    pub status: u32,
    pub block_size: u32,
    pub sub_hdr_size: u32,
    pub bitmap_blocks: u32,
    pub max_mapnr: u64,
    pub nr_cpus: u32,
    pub phys_base: u64,
}

/// An open kdump-compressed file.
pub struct KdumpFile {
    back: Backing,
    pub header: KdumpHeader,
    pub flattened: bool,
    /// 1st bitmap: the PFN existed in the dumped machine.
    exists: Vec<u8>,
    /// 2nd bitmap: the PFN was written to the dump.
    dumped: Vec<u8>,
    /// Set bits of `dumped` before each 64-bit word: descriptor index = rank.
    rank: Vec<u64>,
    desc_base: u64,
    pub notes: Vec<Note>,
    /// Raw VMCOREINFO text from the sub-header, if present.
    pub vmcoreinfo: Option<Vec<u8>>,
    /// Union of the compression flags of the first descriptors (what the pages use).
    pub page_compression: u32,
    cache: PageCache,
}

fn utsname_field(h: &[u8], idx: usize) -> String {
    let start = 12 + idx * 65;
    super::c_string(h.get(start..start + 65).unwrap_or_default())
}

impl KdumpFile {
    pub fn open(path: &str, map: Mmap) -> Result<KdumpFile, OpenError> {
        let flattened = map.get(..12) == Some(b"makedumpfile".as_slice());
        let pieces = if flattened {
            let ty = be_i64(&map, 16).unwrap_or(0);
            let ver = be_i64(&map, 24).unwrap_or(0);
            if ty != 1 || ver != 1 {
                return Err(OpenError::Unsupported {
                    file: path.into(),
                    what: format!("flattened type {ty} version {ver}"),
                });
            }
            Some(index_flattened(path, &map)?)
        } else {
            None
        };
        let back = Backing {
            path: path.into(),
            map,
            pieces,
        };
        let h = back.slice(0, 464)?.into_owned();
        let signature = super::c_string(h.get(..8).unwrap_or_default());
        if signature != "KDUMP   " && signature != "DISKDUMP" {
            return Err(OpenError::NotADump {
                file: path.into(),
                what: format!("kdump signature {signature:?}"),
            });
        }
        let u32_at = |o: usize| le_u32(&h, o).unwrap_or(0);
        let block_size = u32_at(428);
        if !(512..=(1 << 20)).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: 428,
                what: format!("block size {block_size}"),
            });
        }
        let bs = u64::from(block_size);
        let header_version = u32_at(8);
        let sub = bs;
        let sub_len = u64::from(u32_at(432)) * bs;
        let phys_base = back.read_u64(sub)?;
        let mut max_mapnr = u64::from(u32_at(440));
        if header_version >= 6 && sub_len >= 104 {
            let m64 = back.read_u64(sub + 96)?;
            if m64 != 0 {
                max_mapnr = m64;
            }
        }
        let header = KdumpHeader {
            signature,
            header_version,
            release: utsname_field(&h, 2),
            machine: utsname_field(&h, 4),
            status: u32_at(424),
            block_size,
            sub_hdr_size: u32_at(432),
            bitmap_blocks: u32_at(436),
            max_mapnr,
            nr_cpus: u32_at(460),
            phys_base,
        };

        let mut vmcoreinfo = None;
        let mut notes = Vec::new();
        if header_version >= 3 {
            let (o, n) = (back.read_u64(sub + 32)?, back.read_u64(sub + 40)?);
            if o != 0 && n != 0 && n < (1 << 20) {
                vmcoreinfo = Some(back.slice(o, n)?.into_owned());
            }
        }
        if header_version >= 4 {
            let (o, n) = (back.read_u64(sub + 48)?, back.read_u64(sub + 56)?);
            if o != 0 && n != 0 && n < (64 << 20) {
                let buf = back.slice(o, n)?;
                notes = parse_notes(path, o, &buf)?;
            }
        }

        // Bitmaps: first half "exists", second half "dumped".
        let bitmap_off = bs * (1 + u64::from(header.sub_hdr_size));
        let bitmap_len = u64::from(header.bitmap_blocks) * bs;
        if !(2..=MAX_BITMAP_BYTES).contains(&bitmap_len) {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: 436,
                what: format!("bitmap of {bitmap_len} bytes"),
            });
        }
        let half = bitmap_len / 2;
        if max_mapnr.div_ceil(8) > half {
            return Err(OpenError::Corrupt {
                file: path.into(),
                offset: 440,
                what: format!("max_mapnr {max_mapnr} does not fit a bitmap of {half} bytes"),
            });
        }
        let exists = back.slice(bitmap_off, half)?.into_owned();
        let dumped = back.slice(bitmap_off + half, half)?.into_owned();
        let mut rank = Vec::with_capacity(dumped.len() / 8 + 1);
        let mut total = 0u64;
        for chunk in dumped.chunks(8) {
            rank.push(total);
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            total += u64::from(u64::from_le_bytes(w).count_ones());
        }
        let desc_base = bitmap_off + bitmap_len;

        let mut kd = KdumpFile {
            back,
            header,
            flattened,
            exists,
            dumped,
            rank,
            desc_base,
            notes,
            vmcoreinfo,
            page_compression: 0,
            cache: PageCache::new(PAGE_CACHE_PAGES),
        };
        // Check that the descriptor table and the last page are present: a truncated
        // dump fails here, at open, rather than on some later read.
        if total > 0 {
            let last = kd.desc_base + (total - 1) * PAGE_DESC_SIZE;
            let (doff, dsize, _) = kd.desc_at(last)?;
            kd.back.slice(doff, u64::from(dsize))?;
            let mut flags = 0;
            for i in 0..total.min(256) {
                flags |= kd.desc_at(kd.desc_base + i * PAGE_DESC_SIZE)?.2;
            }
            kd.page_compression = flags;
        }
        Ok(kd)
    }

    fn desc_at(&self, at: u64) -> Result<(u64, u32, u32), MemError> {
        let d = self.back.slice(at, PAGE_DESC_SIZE)?;
        let bad = || self.back.corrupt(at, "short page descriptor");
        Ok((
            le_u64(&d, 0).ok_or_else(bad)?,
            le_u32(&d, 8).ok_or_else(bad)?,
            le_u32(&d, 12).ok_or_else(bad)?,
        ))
    }

    fn bit(map: &[u8], pfn: u64) -> bool {
        usize::try_from(pfn / 8)
            .ok()
            .and_then(|i| map.get(i))
            .is_some_and(|b| b & (1 << (pfn % 8)) != 0)
    }

    pub fn page_size(&self) -> u64 {
        u64::from(self.header.block_size)
    }

    /// Decompressed contents of page `pfn`.
    fn page(&self, pfn: u64) -> Result<Arc<[u8]>, MemError> {
        let paddr = pfn.saturating_mul(self.page_size());
        if pfn >= self.header.max_mapnr {
            return Err(MemError::PhysNotInDump { paddr });
        }
        if !Self::bit(&self.dumped, pfn) {
            return Err(if Self::bit(&self.exists, pfn) {
                MemError::Excluded { paddr }
            } else {
                MemError::PhysNotInDump { paddr }
            });
        }
        if let Some(p) = self.cache.get(pfn) {
            return Ok(p);
        }
        let word = (pfn / 64) as usize;
        let below = self.rank.get(word).copied().unwrap_or(0);
        let mut w = [0u8; 8];
        let wstart = word * 8;
        if let Some(bytes) = self.dumped.get(wstart..(wstart + 8).min(self.dumped.len())) {
            w[..bytes.len()].copy_from_slice(bytes);
        }
        let mask = (1u64 << (pfn % 64)) - 1;
        let idx = below + u64::from((u64::from_le_bytes(w) & mask).count_ones());
        let at = self.desc_base + idx * PAGE_DESC_SIZE;
        let (off, size, flags) = self.desc_at(at)?;
        let bs = self.page_size() as usize;
        if size as usize > bs || size == 0 {
            return Err(self.back.corrupt(
                at,
                format!("page descriptor for PFN {pfn:#x} has size {size}"),
            ));
        }
        let data = self.back.slice(off, u64::from(size))?;
        let page = self.decompress(&data, flags, bs).map_err(|what| {
            self.back.corrupt(
                off,
                format!("page at physical {paddr:#x} (descriptor flags {flags:#x}): {what}"),
            )
        })?;
        let page: Arc<[u8]> = Arc::from(page);
        self.cache.insert(pfn, page.clone());
        Ok(page)
    }

    fn decompress(&self, data: &[u8], flags: u32, bs: usize) -> Result<Vec<u8>, String> {
        // Third-party decoders fed with untrusted bytes: any panic becomes an error, silently.
        let run = || -> Result<Vec<u8>, String> {
            let out = if flags & DUMP_DH_COMPRESSED_ZLIB != 0 {
                let mut out = Vec::with_capacity(bs);
                flate2::read::ZlibDecoder::new(data)
                    .take(bs as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("zlib: {e}"))?;
                out
            } else if flags & DUMP_DH_COMPRESSED_LZO != 0 {
                lzokay_native::decompress_all(data, Some(bs)).map_err(|e| format!("lzo: {e:?}"))?
            } else if flags & DUMP_DH_COMPRESSED_SNAPPY != 0 {
                let n = snap::raw::decompress_len(data).map_err(|e| format!("snappy: {e}"))?;
                if n != bs {
                    return Err(format!("snappy: page decompresses to {n} bytes"));
                }
                let mut out = vec![0u8; bs];
                snap::raw::Decoder::new()
                    .decompress(data, &mut out)
                    .map_err(|e| format!("snappy: {e}"))?;
                out
            } else if flags & DUMP_DH_COMPRESSED_ZSTD != 0 {
                let mut out = vec![0u8; bs];
                let n = ruzstd::FrameDecoder::new()
                    .decode_all(data, &mut out)
                    .map_err(|e| format!("zstd: {e}"))?;
                out.truncate(n);
                out
            } else {
                data.to_vec()
            };
            Ok(out)
        };
        let out = contained(run).ok_or("decompressor failed on corrupt data")??;
        if out.len() != bs {
            return Err(format!(
                "page decompresses to {} bytes, expected {bs}",
                out.len()
            ));
        }
        Ok(out)
    }

    /// Number of PFNs (physical pages) the dumped machine had.
    pub fn max_mapnr(&self) -> u64 {
        self.header.max_mapnr
    }
}

impl PhysMemory for KdumpFile {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let ps = self.page_size();
        let mut done = 0usize;
        while done < buf.len() {
            let pa = paddr
                .checked_add(done as u64)
                .ok_or(MemError::PhysNotInDump { paddr })?;
            let page = self.page(pa / ps)?;
            let in_page = (pa % ps) as usize;
            let n = (ps as usize - in_page).min(buf.len() - done);
            let src = page
                .get(in_page..in_page + n)
                .ok_or(MemError::PhysNotInDump { paddr: pa })?;
            buf[done..done + n].copy_from_slice(src);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(out: &mut Vec<u8>, off: i64, data: &[u8]) {
        out.extend_from_slice(&off.to_be_bytes());
        out.extend_from_slice(&(data.len() as i64).to_be_bytes());
        out.extend_from_slice(data);
    }

    fn flat(records: &[(i64, &[u8])]) -> Vec<u8> {
        let mut f = vec![0u8; FLAT_HEADER_SIZE as usize];
        f[..12].copy_from_slice(b"makedumpfile");
        f[16..24].copy_from_slice(&1i64.to_be_bytes());
        f[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (o, d) in records {
            rec(&mut f, *o, d);
        }
        f.extend_from_slice(&(-1i64).to_be_bytes());
        f.extend_from_slice(&0i64.to_be_bytes());
        f
    }

    fn backing(bytes: Vec<u8>) -> Backing {
        let mut t = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut t, &bytes).unwrap();
        let map = unsafe { Mmap::map(&t) }.unwrap();
        let pieces = index_flattened("t", &map).unwrap();
        Backing {
            path: "t".into(),
            map,
            pieces: Some(pieces),
        }
    }

    #[test]
    fn later_records_overwrite_earlier_ones() {
        // A makedumpfile -R replay of these records would give "aXYdeZ".
        let b = backing(flat(&[(0, b"abcdef"), (1, b"XY"), (5, b"Z")]));
        assert_eq!(&*b.slice(0, 6).unwrap(), b"aXYdeZ");
        assert_eq!(&*b.slice(2, 3).unwrap(), b"Yde");
    }

    #[test]
    fn gaps_and_truncation_are_errors() {
        let b = backing(flat(&[(0, b"ab"), (10, b"cd")]));
        assert!(b.slice(1, 4).is_err());
        let mut f = flat(&[(0, b"abcd")]);
        f.truncate(f.len() - 20);
        let mut t = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut t, &f).unwrap();
        let map = unsafe { Mmap::map(&t) }.unwrap();
        assert!(index_flattened("t", &map).is_err());
    }
}
