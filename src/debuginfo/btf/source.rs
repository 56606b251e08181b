//! Where the BTF bytes come from: a raw BTF file (read whole: /sys/kernel/btf/vmlinux is
//! a few MB and sysfs files are not always mappable) or the `.BTF` section of an ELF.
//! The ELF is memory-mapped to find its sections, so a 600 MB vmlinux is never read
//! whole; the few-MB section itself is then read with pread, which costs a third of
//! the time of faulting it in page by page through the mapping.

use super::error::BtfError;
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
    let mut magic = [0u8; 4];
    let got = read_prefix(&file, &mut magic).map_err(io)?;
    let magic = magic.get(..got).unwrap_or(&[]);
    if magic.starts_with(b"\x7fELF") {
        return load_elf(path, &file);
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
    let (start, len, pointer_size) = {
        let elf = object::File::parse(&*map).map_err(|e| BtfError::Elf {
            path: shown(),
            reason: e.to_string(),
        })?;
        let section = elf
            .section_by_name(".BTF")
            .ok_or_else(|| BtfError::NoBtfSection { path: shown() })?;
        let (start, len) = section.file_range().ok_or_else(|| BtfError::Elf {
            path: shown(),
            reason: ".BTF section has no file data".into(),
        })?;
        let pointer_size = if elf.is_64() { 8 } else { 4 };
        (start, len, pointer_size)
    };
    let end = start.checked_add(len).filter(|&e| e <= map.len() as u64);
    let Some(_) = end else {
        return Err(BtfError::Elf {
            path: shown(),
            reason: format!(".BTF section [{start:#x}, +{len:#x}) runs past the end of the file"),
        });
    };
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
