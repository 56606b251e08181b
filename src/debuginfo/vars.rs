//! Global variables by name: the type of a unit-level `DW_TAG_variable` (what
//! `vmscope print` needs to type `init_mm`, `jiffies`, ...). Not in the name index
//! (which holds types only): units are scanned in parallel, top-level DIEs only,
//! stopping at the first unit that has the variable with a type.

use gimli::constants as dw;
use rayon::prelude::*;

use super::sections::{DebugInfoError, DwarfFile, SUP_BIT};

/// `.debug_info` offset of the type of the first unit-level variable named `name`
/// (definition or declaration; both carry `DW_AT_type`).
pub(crate) fn variable_type_offset(
    db: &DwarfFile,
    name: &str,
) -> Result<Option<u64>, DebugInfoError> {
    let units = db.units()?;
    let found = units
        .par_iter()
        .map(|span| scan_unit(db, span.start, name.as_bytes()))
        .find_map_first(|r| match r {
            Ok(None) => None,
            other => Some(other),
        });
    found.unwrap_or(Ok(None))
}

fn scan_unit(db: &DwarfFile, start: u64, name: &[u8]) -> Result<Option<u64>, DebugInfoError> {
    let header = db.unit_header(start)?;
    let abbrevs = db.abbreviations_uncached(&header)?;
    let mut tree = header
        .entries_tree(&abbrevs, None)
        .map_err(|e| db.bad(start, e.to_string()))?;
    let root = tree.root().map_err(|e| db.bad(start, e.to_string()))?;
    // clang names variables through .debug_str_offsets (DW_FORM_strx*).
    let base = db.str_base_cached(&header, &abbrevs)?;
    let mut children = root.children();
    while let Some(child) = children.next().map_err(|e| db.bad(start, e.to_string()))? {
        let die = child.entry();
        if die.tag() != dw::DW_TAG_variable {
            continue;
        }
        let named = die
            .attr_value(dw::DW_AT_name)
            .ok()
            .flatten()
            .and_then(|v| db.attr_str(&v, base))
            == Some(name);
        if !named {
            continue;
        }
        let ty = match die.attr_value(dw::DW_AT_type).ok().flatten() {
            Some(gimli::AttributeValue::UnitRef(u)) => {
                u.to_debug_info_offset(&header).map(|o| o.0 as u64)
            }
            Some(gimli::AttributeValue::DebugInfoRef(d)) => Some(d.0 as u64),
            Some(gimli::AttributeValue::DebugInfoRefSup(d)) if db.sup().is_some() => {
                Some(d.0 as u64 | SUP_BIT)
            }
            _ => None,
        };
        if ty.is_some() {
            return Ok(ty);
        }
    }
    Ok(None)
}
