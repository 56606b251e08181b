//! The type model (independent of DWARF/BTF), layout computation and the pahole printer.

pub mod model;
