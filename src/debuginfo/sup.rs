//! The supplementary file of a dwz-processed file: what its `.gnu_debugaltlink` (GNU) or
//! `.debug_sup` (DWARF 5) names, and where to find it. dwz moves DIEs and strings shared by
//! several files into one such file; the others point into it with `DW_FORM_GNU_ref_alt` /
//! `DW_FORM_ref_sup*` and `DW_FORM_GNU_strp_alt` / `DW_FORM_strp_sup`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The link a file carries to its supplementary file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SupLink {
    /// The path as recorded (often absolute, under /usr/lib/debug/.dwz/).
    pub name: PathBuf,
    /// The supplementary file's build-id (`.debug_sup`: its checksum); may be empty.
    pub build_id: Vec<u8>,
}

impl SupLink {
    /// `.gnu_debugaltlink`: a NUL-terminated path, then the build-id bytes.
    pub(crate) fn from_altlink(data: &[u8]) -> Option<SupLink> {
        let nul = data.iter().position(|b| *b == 0)?;
        let name = data.get(..nul).filter(|n| !n.is_empty())?;
        Some(SupLink {
            name: PathBuf::from(OsStr::from_bytes(name)),
            build_id: data.get(nul + 1..).unwrap_or(&[]).to_vec(),
        })
    }

    /// `.debug_sup` (DWARF 5) of a file using a supplementary file: where it is and its
    /// checksum. `None` for the supplementary file itself (see [`sup_checksum`]).
    pub(crate) fn from_debug_sup(data: &[u8]) -> Option<SupLink> {
        let (is_sup, name, checksum) = parse_debug_sup(data)?;
        (!is_sup && !name.is_empty()).then(|| SupLink {
            name: PathBuf::from(OsStr::from_bytes(name)),
            build_id: checksum.to_vec(),
        })
    }

    pub(crate) fn build_id_hex(&self) -> String {
        self.build_id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Where the supplementary file of `file` may be, in the order tried: the recorded path
    /// (relative to the file's directory when relative), its base name next to the file, under
    /// `usr/lib/debug/.dwz/` of each debug root (by the part after `.dwz/` and by base name),
    /// and by build-id under `usr/lib/debug/.build-id/`.
    pub(crate) fn candidates(&self, file: &Path, roots: &[PathBuf]) -> Vec<PathBuf> {
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut v = vec![dir.join(&self.name)];
        let base = self.name.file_name().map(PathBuf::from);
        if let Some(b) = &base {
            v.push(dir.join(b));
        }
        let after_dwz = self
            .name
            .to_str()
            .and_then(|s| s.split_once("/.dwz/"))
            .map(|(_, tail)| PathBuf::from(tail));
        let id = self.build_id_hex();
        for root in roots {
            let debug = root.join("usr/lib/debug");
            if let Some(t) = &after_dwz {
                v.push(debug.join(".dwz").join(t));
            }
            if let Some(b) = &base {
                v.push(debug.join(".dwz").join(b));
            }
            if id.len() > 2 {
                v.push(debug.join(format!(".build-id/{}/{}.debug", &id[..2], &id[2..])));
            }
        }
        let mut seen = Vec::with_capacity(v.len());
        v.retain(|p| {
            let new = !seen.contains(p);
            seen.push(p.clone());
            new
        });
        v
    }
}

/// The checksum a supplementary file's own `.debug_sup` gives it (dwz writes no build-id
/// note there): what the files using it name it by.
pub(crate) fn sup_checksum(data: &[u8]) -> Option<Vec<u8>> {
    let (is_sup, _, checksum) = parse_debug_sup(data)?;
    is_sup.then(|| checksum.to_vec())
}

/// `.debug_sup`: version (2 bytes, 5), is_supplementary (1), NUL-terminated file name,
/// ULEB128 checksum length, checksum.
fn parse_debug_sup(data: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let version = u16::from_le_bytes(data.get(..2)?.try_into().ok()?);
    if version != 5 {
        return None;
    }
    let is_sup = *data.get(2)? != 0;
    let rest = data.get(3..)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    let mut at = nul + 1;
    let mut len = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *rest.get(at)?;
        at += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    Some((is_sup, rest.get(..nul)?, rest.get(at..end)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn altlink_and_debug_sup_parse() {
        let l = SupLink::from_altlink(b"/usr/lib/debug/.dwz/x86_64-linux-gnu/p.debug\0\xab\xcd")
            .unwrap();
        assert_eq!(
            l.name,
            Path::new("/usr/lib/debug/.dwz/x86_64-linux-gnu/p.debug")
        );
        assert_eq!(l.build_id_hex(), "abcd");
        assert_eq!(SupLink::from_altlink(b"\0\x01"), None);
        let sup = b"\x05\x00\x00alt.debug\0\x02\x12\x34";
        let s = SupLink::from_debug_sup(sup).unwrap();
        assert_eq!(
            (s.name.to_str(), s.build_id_hex()),
            (Some("alt.debug"), "1234".into())
        );
        // the supplementary file's own section points nowhere, but names its checksum
        assert_eq!(SupLink::from_debug_sup(b"\x05\x00\x01\0\x01\x7f"), None);
        assert_eq!(sup_checksum(b"\x05\x00\x01\0\x01\x7f"), Some(vec![0x7f]));
        assert_eq!(SupLink::from_debug_sup(b"\x05\x00\x00a\0\x05\x01"), None);
    }

    #[test]
    fn candidates_cover_next_to_dwz_dir_and_build_id() {
        let l = SupLink {
            name: "/usr/lib/debug/.dwz/x86_64-linux-gnu/p.debug".into(),
            build_id: vec![0xab, 0xcd, 0xef],
        };
        let c = l.candidates(Path::new("/d/bin.debug"), &[PathBuf::from("/r")]);
        let want: Vec<PathBuf> = [
            "/usr/lib/debug/.dwz/x86_64-linux-gnu/p.debug",
            "/d/p.debug",
            "/r/usr/lib/debug/.dwz/x86_64-linux-gnu/p.debug",
            "/r/usr/lib/debug/.dwz/p.debug",
            "/r/usr/lib/debug/.build-id/ab/cdef.debug",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(c, want);
    }
}
