//! Module symbols as `bt` reads them (each loaded module's in-memory ELF symbol table,
//! `struct module`'s kallsyms), on every fixture dump. Oracle: drgn's `module_kallsyms`
//! of the same dump (drgn-modules/modules.json, fixtures/module_oracle.py).

mod common;

use serde::Deserialize;
use vmscope::kernel::offsets::TypeLookup;
use vmscope::kernel::Kernel;

#[derive(Deserialize)]
struct DrgnSymbol {
    name: String,
    address: String,
    size: u64,
}

#[derive(Deserialize)]
struct DrgnModule {
    module: String,
    symbols: Vec<DrgnSymbol>,
}

#[test]
fn every_modules_symbols_are_drgns() {
    for (name, dir) in common::dump_runs::dumps_and_panic_dumps() {
        let oracle = dir.join("drgn-modules/modules.json");
        assert!(
            oracle.is_file(),
            "{name}: no {}: run ./fixtures/build-source.sh",
            oracle.display()
        );
        let drgn: Vec<DrgnModule> = common::read_json(&oracle);
        let vmlinux = dir.join("vmlinux");
        let db = vmscope::debuginfo::dwarf::open(&vmlinux).expect("DWARF of the fixture vmlinux");
        let types: &dyn TypeLookup = &db;
        let d = vmscope::memory::dump::open(dir.join("elf.core").to_str().unwrap()).unwrap();
        let k = Kernel::open(d, vmlinux.to_str().unwrap(), Some(types)).expect("open kernel");
        let (ours, warnings) = k.module_symbols(types).expect("module symbols");
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        let names: Vec<&str> = drgn.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(ours.modules, names, "{name}");
        let want: Vec<(usize, &str, u64, u64)> = drgn
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m.symbols.iter().map(move |s| {
                    let addr = u64::from_str_radix(s.address.trim_start_matches("0x"), 16).unwrap();
                    (i, s.name.as_str(), addr, s.size)
                })
            })
            .collect();
        let got: Vec<(usize, &str, u64, u64)> = ours
            .symbols
            .iter()
            .map(|s| (s.module, s.name.as_str(), s.addr, s.size))
            .collect();
        assert!(
            want.len() > 10,
            "{name}: drgn has {} module symbols",
            want.len()
        );
        assert_eq!(got, want, "{name}");
        // A pc inside each sized symbol is shown as that symbol of that module, unless a
        // later-starting symbol covers it too (then that one, the innermost).
        for (i, sym, addr, size) in want.iter().filter(|s| s.3 > 1) {
            let pc = addr + size / 2;
            let (n, off, sz, m) = ours.symbolize(pc).expect("a symbol");
            assert_eq!(m, names[*i], "{name}: {pc:#x}");
            assert!(
                off < sz && pc - off >= *addr,
                "{name}: {pc:#x} {sym} -> {n}"
            );
        }
    }
}
