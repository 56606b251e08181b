//! Name index of a DWARF file: for every type name, its first definition in unit order.
//!
//! - `scan`: the parallel DIE scan that builds it (and the early-exit scans used before it
//!   exists);
//! - `names`: the index in memory as the scan fills it;
//! - `cache`: its on-disk form, keyed by build-id and queried in place.

mod cache;
mod names;
mod scan;

use std::path::Path;

pub use cache::{decode as decode_cache, IndexFile};
pub(crate) use cache::{default_cache_dir, try_load_cache};
pub use scan::IndexProgress;
pub(crate) use scan::{early_scan, scan_from};

use super::sections::{DebugInfoError, DwarfFile};

/// Cached index if valid (and with shapes when those are needed), else build it and cache it
/// (a failing cache write is not an error).
pub(crate) fn load_or_build(
    db: &DwarfFile,
    cache_dir: Option<&Path>,
    progress: Option<&IndexProgress>,
    shapes: bool,
) -> Result<IndexFile, DebugInfoError> {
    if let Some(ix) = cache_dir.and_then(|dir| try_load_cache(db, dir)) {
        if ix.has_shapes() || !shapes {
            db.set_units(ix.unit_spans());
            return Ok(ix);
        }
    }
    let built = scan::build(db, shapes, progress)?;
    if built.any.is_empty() {
        // DWARF is there but nothing in it could be named: say so rather than list nothing.
        return Err(db.bad(
            0,
            format!(
                "{} units but no named type could be read from them",
                db.units()?.len()
            ),
        ));
    }
    let ix = IndexFile::from_index(&built, db.units()?, db.debug_info_len())
        .ok_or_else(|| db.bad(0, "index too large"))?
        .with_sup_len(db.sup().map_or(0, DwarfFile::debug_info_len));
    if let Some(dir) = cache_dir {
        cache::store_cache(db, dir, &ix);
    }
    Ok(ix)
}
