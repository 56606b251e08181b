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

pub(crate) fn tmark(what: &str) {
    use std::sync::OnceLock;
    static T0: OnceLock<std::time::Instant> = OnceLock::new();
    let t0 = T0.get_or_init(std::time::Instant::now);
    if std::env::var_os("VMSCOPE_TMARK").is_some() {
        eprintln!("[{:8.3}] {what}", t0.elapsed().as_secs_f64());
    }
}

/// The model's traits and ids, for the layers above that only consume types.
pub use crate::types::model::{NameKind, TypeId, TypeSource, TypeSourceExt};
pub use dwarf::{open, DebugInfoError, OpenOptions, TypeDb};
pub use index::{decode_cache, IndexFile, IndexProgress};
pub use select::KernelTypes;
