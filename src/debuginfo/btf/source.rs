//! Where the BTF bytes come from: a raw BTF file (read whole: /sys/kernel/btf/vmlinux is
//! a few MB and sysfs files are not always mappable) or the `.BTF` section of an ELF.
//! The ELF is memory-mapped to find its sections, so a 600 MB vmlinux is never read
//! whole; the few-MB section itself is then read with pread, which costs a third of
//! the time of faulting it in page by page through the mapping. A compressed module
//! (`.ko.xz`, `.ko.zst`, `.ko.gz`) is decompressed whole first.

use super::error::BtfError;
use crate::debuginfo::decompress::{Compression, MAX_DECOMPRESSED};
use object::{Object, ObjectSection};
use std::path::Path;

pub enum Blob {
    Owned(Vec<u8>),
    /// The `.BTF` section of an ELF, read from file offset `start`.
    Section {
        bytes: Vec<u8>,
        start: u64,
    },
}

impl Blob {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Blob::Owned(v) | Blob::Section { bytes: v, .. } => v,
        }
    }

    /// File offset of the BTF inside its ELF, for error messages.
    pub fn file_offset(&self) -> Option<u64> {
        match self {
            Blob::Owned(_) => None,
            Blob::Section { start, .. } => Some(*start),
        }
    }
}

/// Load the BTF of `path`, and the pointer size its ELF class implies (None for raw BTF).
pub fn load(path: &Path) -> Result<(Blob, Option<u32>), BtfError> {
    let shown = || path.display().to_string();
    let io = |source| BtfError::Io {
        path: shown(),
        source,
    };
    let file = crate::input::open_regular(path).map_err(io)?;
    let mut magic = [0u8; 6];
    let got = read_prefix(&file, &mut magic).map_err(io)?;
    let magic = magic.get(..got).unwrap_or(&[]);
    if magic.starts_with(b"\x7fELF") {
        return load_elf(path, &file);
    }
    if let Some(c) = Compression::sniff(magic) {
        return load_compressed(path, c);
    }
    if magic.starts_with(&[0x9f, 0xeb]) || magic.starts_with(&[0xeb, 0x9f]) {
        return Ok((
            Blob::Owned(crate::input::read_regular(path).map_err(io)?),
            None,
        ));
    }
    Err(BtfError::NotBtf { path: shown() })
}

fn read_prefix(mut file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn load_elf(path: &Path, file: &std::fs::File) -> Result<(Blob, Option<u32>), BtfError> {
    let shown = || path.display().to_string();
    // SAFETY: the file is opened read-only; vmscope never writes it, and a file changed
    // under us yields wrong bytes that the bounds-checked parser rejects, not UB in Rust code.
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(|source| BtfError::Io {
        path: shown(),
        source,
    })?;
    let (start, len, pointer_size) = btf_section(&map, &shown())?;
    drop(map);
    let mut bytes = vec![0u8; len as usize];
    std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, start).map_err(|source| {
        BtfError::Io {
            path: shown(),
            source,
        }
    })?;
    Ok((Blob::Section { bytes, start }, Some(pointer_size)))
}

/// File range of the `.BTF` section of the ELF image `data`, and the pointer size.
fn btf_section(data: &[u8], shown: &str) -> Result<(u64, u64, u32), BtfError> {
    let elf_error = |reason: String| BtfError::Elf {
        path: shown.to_string(),
        reason,
    };
    let elf = object::File::parse(data).map_err(|e| elf_error(e.to_string()))?;
    let section = elf
        .section_by_name(".BTF")
        .ok_or_else(|| BtfError::NoBtfSection {
            path: shown.to_string(),
        })?;
    let (start, len) = section
        .file_range()
        .ok_or_else(|| elf_error(".BTF section has no file data".into()))?;
    if start.checked_add(len).is_none_or(|e| e > data.len() as u64) {
        return Err(elf_error(format!(
            ".BTF section [{start:#x}, +{len:#x}) runs past the end of the file"
        )));
    }
    Ok((start, len, if elf.is_64() { 8 } else { 4 }))
}

/// A compressed ELF (a distribution's `.ko.xz` and friends): decompressed in memory, then
/// its `.BTF` section copied out. Offsets in errors are offsets in the decompressed file.
fn load_compressed(path: &Path, c: Compression) -> Result<(Blob, Option<u32>), BtfError> {
    let shown = format!("{} ({}-decompressed)", path.display(), c.name());
    let raw = crate::input::read_regular(path).map_err(|source| BtfError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let data = c
        .decompress(&raw, MAX_DECOMPRESSED)
        .map_err(|e| BtfError::Elf {
            path: path.display().to_string(),
            reason: format!("cannot {}-decompress: {e}", c.name()),
        })?;
    drop(raw);
    if !data.starts_with(b"\x7fELF") {
        return Err(BtfError::NotBtf { path: shown });
    }
    let (start, len, pointer_size) = btf_section(&data, &shown)?;
    let bytes = data[start as usize..(start + len) as usize].to_vec();
    Ok((Blob::Section { bytes, start }, Some(pointer_size)))
}
