//! `vmscope modules`: loaded modules as a table (like lsmod / crash's `mod`) or JSON.

use super::table::{self, Align};
use crate::kernel::modules::Module;
use serde::Serialize;

/// One row; these key names are a stable interface for scripts.
#[derive(Serialize, Debug)]
pub struct ModuleRow {
    pub name: String,
    /// `struct module` address.
    pub module: String,
    /// Start of the core mapping, as /proc/modules shows it.
    pub address: String,
    pub size: u64,
    /// Size of the module's registered BTF, when it has one.
    pub btf_size: Option<u64>,
    pub taints: String,
}

impl From<&Module> for ModuleRow {
    fn from(m: &Module) -> ModuleRow {
        ModuleRow {
            name: m.name.clone(),
            module: format!("{:#x}", m.addr),
            address: format!("{:#x}", m.base),
            size: m.size,
            btf_size: m.btf.map(|(_, size)| size),
            taints: m.taints.clone(),
        }
    }
}

pub fn table(rows: &[ModuleRow]) -> String {
    use Align::{Left, Right};
    let mut t = table::new(&[
        ("MODULE", Right),
        ("NAME", Left),
        ("ADDRESS", Right),
        ("SIZE", Right),
        ("BTF", Right),
        ("TAINTS", Left),
    ]);
    for r in rows {
        t.add_row(vec![
            r.module.clone(),
            table::escape(&r.name).into_owned(),
            r.address.clone(),
            r.size.to_string(),
            r.btf_size.map_or_else(|| "-".into(), |s| s.to_string()),
            r.taints.clone(),
        ]);
    }
    format!("{t}\n")
}
