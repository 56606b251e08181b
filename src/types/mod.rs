//! The type model (independent of DWARF/BTF) and layout computation (placement, holes,
//! padding, natural alignment). Printing it is render/'s job.

pub mod layout;
pub mod model;
