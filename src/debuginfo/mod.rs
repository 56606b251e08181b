//! Debug-information loaders: DWARF (`dwarf`) and BTF (`btf`). Both produce the
//! source-independent model of `crate::types::model` through its `TypeSource` trait.
//!
//! Entry points for other layers:
//! - [`open`] / [`dwarf::TypeDb::open`]: a memory-mapped vmlinux with DWARF. Types are
//!   materialised lazily; a name index (parallel scan of unit-level DIEs, cached on disk by
//!   build-id) answers `find`.
//! - [`btf::BtfDb::open`]: raw BTF (`/sys/kernel/btf/vmlinux`) or an ELF's `.BTF` section;
//!   validated once, types converted on first `get`.
//! - [`select::select`]: which of them a command reads (BTF or DWARF, default paths).
//! - Use the `TypeSource` / `TypeSourceExt` traits (`get`, `find`, `find_struct`, `size_of`,
//!   `member_offset`, `enumerator_value`) so code works for DWARF and BTF alike.

pub mod btf;
pub mod cfi;
mod decompress;
pub mod dwarf;
pub mod find;
mod index;
mod inflate;
pub mod lines;
mod sections;
pub mod select;
mod split;
mod sup;
mod vars;

/// The model's traits and ids, for the layers above that only consume types.
pub use crate::types::model::{NameKind, TypeId, TypeSource, TypeSourceExt};
pub use dwarf::{open, DebugInfoError, OpenOptions, TypeDb};
pub use index::{decode_cache, IndexFile, IndexProgress};
pub use select::KernelTypes;
