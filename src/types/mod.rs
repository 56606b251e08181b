//! The type model (independent of DWARF/BTF), layout computation and the pahole printer.

pub mod json;
pub mod layout;
pub mod model;
pub mod pahole;
