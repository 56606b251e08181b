//! Compressed kernel modules (`.ko.xz`, `.ko.zst`, `.ko.gz`, as distributions ship them),
//! recognised by their magic bytes and decompressed whole into memory, bounded.
//! Pure-Rust decoders only: lzma-rs, ruzstd, flate2's Rust backend.

use std::io::{self, Read, Write};

/// Largest decompressed module accepted: the biggest in-tree modules are tens of MB.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// A compression format recognised from a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Xz,
    Zstd,
    Gzip,
}

impl Compression {
    /// The format whose magic `prefix` starts with, if any.
    pub fn sniff(prefix: &[u8]) -> Option<Compression> {
        if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if prefix.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }

    /// Decompress all of `input`; more than `limit` bytes of output is an error.
    pub fn decompress(self, input: &[u8], limit: u64) -> io::Result<Vec<u8>> {
        let mut out = Bounded {
            buf: Vec::new(),
            limit,
        };
        match self {
            Compression::Xz => {
                lzma_rs::xz_decompress(&mut &input[..], &mut out).map_err(|e| match e {
                    lzma_rs::error::Error::IoError(e) => e,
                    other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
                })?
            }
            Compression::Zstd => {
                let mut dec = ruzstd::StreamingDecoder::new(input)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                copy_into(&mut dec, &mut out)?;
            }
            Compression::Gzip => {
                copy_into(&mut flate2::read::MultiGzDecoder::new(input), &mut out)?;
            }
        }
        Ok(out.buf)
    }
}

fn copy_into(r: &mut dyn Read, out: &mut Bounded) -> io::Result<()> {
    io::copy(r, out).map(drop)
}

/// A `Vec` writer that refuses to grow past `limit` bytes.
struct Bounded {
    buf: Vec<u8>,
    limit: u64,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("decompresses to more than {} bytes", self.limit),
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_and_roundtrips_gzip_and_xz() {
        let text = b"\x7fELF a module body, repeated repeated repeated".repeat(50);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(Compression::sniff(&gz), Some(Compression::Gzip));
        assert_eq!(Compression::Gzip.decompress(&gz, 1 << 20).unwrap(), text);

        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &text[..], &mut xz).unwrap();
        assert_eq!(Compression::sniff(&xz), Some(Compression::Xz));
        assert_eq!(Compression::Xz.decompress(&xz, 1 << 20).unwrap(), text);
        // The bound holds: 100 bytes is too little for this text.
        assert!(Compression::Xz.decompress(&xz, 100).is_err());
        assert!(Compression::Gzip.decompress(&gz, 100).is_err());
        // Truncated input is an error, not a panic.
        assert!(Compression::Xz
            .decompress(&xz[..xz.len() / 2], 1 << 20)
            .is_err());
        assert!(Compression::Gzip
            .decompress(&gz[..gz.len() / 2], 1 << 20)
            .is_err());
        assert_eq!(Compression::sniff(b"\x7fELF"), None);
    }
}
