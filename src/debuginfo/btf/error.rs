//! Errors of the BTF loader. Every decoding error names the byte offset inside the
//! BTF blob (`BTF+0x..`); [`BtfError::File`] adds the file and, for an ELF, where the
//! `.BTF` section starts in it.

use thiserror::Error;

/// What went wrong while reading BTF.
#[derive(Debug, Error)]
pub enum BtfError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: neither raw BTF (magic 0xeb9f) nor an ELF file")]
    NotBtf { path: String },
    #[error("{path}: not a readable ELF file: {reason}")]
    Elf { path: String, reason: String },
    #[error("{path}: ELF file has no .BTF section")]
    NoBtfSection { path: String },
    /// A decoding error, with the file it came from.
    #[error("{path}{where_}: {inner}")]
    File {
        path: String,
        /// Empty for a raw BTF file, " (.BTF section at file offset 0x..)" for an ELF.
        where_: String,
        inner: Box<BtfError>,
    },

    #[error("BTF+{offset:#x}: truncated: {what} needs {need} bytes, {have} left")]
    Truncated {
        what: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("BTF+0x0: bad magic {found:#06x} (expected 0xeb9f)")]
    BadMagic { found: u16 },
    #[error("BTF+0x2: unsupported version {version} (expected 1)")]
    BadVersion { version: u8 },
    #[error("BTF+{offset:#x}: bad header: {reason}")]
    BadHeader { offset: usize, reason: String },
    #[error("BTF+{offset:#x}: bad string section: {reason}")]
    BadStrings { offset: usize, reason: &'static str },
    #[error("BTF+{offset:#x}: type id {id}: unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32, offset: usize },
    #[error("BTF+{offset:#x}: type id {id}: {what} name offset {name_off:#x} outside the string section ({str_len:#x} bytes)")]
    StringOffset {
        id: u32,
        what: &'static str,
        name_off: u32,
        str_len: usize,
        offset: usize,
    },
    #[error("BTF+{offset:#x}: string at {name_off:#x} is not valid UTF-8")]
    StringUtf8 { name_off: u32, offset: usize },
    #[error("BTF+{offset:#x}: type id {id}: {what} refers to type id {target}, but the BTF has only {count} types")]
    TypeIdOutOfRange {
        id: u32,
        what: &'static str,
        target: u32,
        count: u32,
        offset: usize,
    },
    #[error("type id {id} does not exist (the BTF has {count} types)")]
    NoSuchType { id: u32, count: u32 },
    #[error(
        "BTF+{offset:#x}: type id {id}: reference cycle (or a type chain deeper than {limit})"
    )]
    Cycle {
        id: u32,
        limit: usize,
        offset: usize,
    },
    #[error("BTF+{offset:#x}: the string section does not start with the empty string: this is split BTF (a module's); it needs the BTF it was built on as its base (--btf-base)")]
    NeedsBase { offset: usize },
    #[error("BTF+{offset:#x}: type id {id}: {what} name offset {name_off:#x} falls inside a string of the base, not at one's start: built on another base than {base}")]
    WrongBase {
        id: u32,
        what: &'static str,
        name_off: u32,
        offset: usize,
        base: String,
    },
    /// An error in a split BTF's own part, which may come from reading it on the wrong base.
    #[error("{inner} (read as split BTF on {base}: is that the BTF it was built on?)")]
    OnBase { base: String, inner: Box<BtfError> },
    #[error("BTF+{offset:#x}: type id {id}: {reason}")]
    BadType {
        id: u32,
        offset: usize,
        reason: String,
    },
}

/// `Some(f(offset))` for the variants that carry a blob offset, else None.
macro_rules! with_offset {
    ($e:expr, $o:ident => $f:expr) => {
        match $e {
            BtfError::Truncated { offset: $o, .. }
            | BtfError::BadHeader { offset: $o, .. }
            | BtfError::BadStrings { offset: $o, .. }
            | BtfError::UnknownKind { offset: $o, .. }
            | BtfError::StringOffset { offset: $o, .. }
            | BtfError::StringUtf8 { offset: $o, .. }
            | BtfError::TypeIdOutOfRange { offset: $o, .. }
            | BtfError::Cycle { offset: $o, .. }
            | BtfError::NeedsBase { offset: $o }
            | BtfError::WrongBase { offset: $o, .. }
            | BtfError::BadType { offset: $o, .. } => Some($f),
            _ => None,
        }
    };
}

impl BtfError {
    /// Whether the BTF was split BTF opened without its base.
    pub fn needs_base(&self) -> bool {
        match self {
            BtfError::File { inner, .. } => inner.needs_base(),
            e => matches!(e, BtfError::NeedsBase { .. }),
        }
    }

    /// The blob offset a decoding error names.
    pub(crate) fn offset(&self) -> Option<usize> {
        with_offset!(self, o => *o)
    }

    /// The blob offset a decoding error names, for rewriting (split BTF).
    pub(crate) fn offset_mut(&mut self) -> Option<&mut usize> {
        with_offset!(self, o => o)
    }

    /// Attach the file (and, for an ELF, the section's file offset) to a decoding error.
    pub(crate) fn in_file(self, path: &str, section_offset: Option<u64>) -> BtfError {
        match self {
            e @ (BtfError::Io { .. }
            | BtfError::NotBtf { .. }
            | BtfError::Elf { .. }
            | BtfError::NoBtfSection { .. }
            | BtfError::File { .. }) => e,
            inner => BtfError::File {
                path: path.to_string(),
                where_: section_offset
                    .map(|o| format!(" (.BTF section at file offset {o:#x})"))
                    .unwrap_or_default(),
                inner: Box::new(inner),
            },
        }
    }
}
