//! Corrupt DWARF must give errors or odd output, never a panic, a hang or a stack overflow:
//! random byte flips in .debug_info / .debug_abbrev of compiled fixtures, then every lookup and
//! the full listing through the library.

use std::path::Path;
use std::process::Command;

use object::{Object, ObjectSection};
use vmscope::debuginfo::{OpenOptions, TypeDb};
use vmscope::render::pahole::{PrintOptions, Printer};
use vmscope::rng::XorShift;
use vmscope::types::model::{NameKind, TypeSource};

fn compile(name: &str, dir: &Path) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/layout")
        .join(format!("{name}.c"));
    let obj = dir.join(format!("{name}.o"));
    let st = Command::new("gcc")
        .args(["-g", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("gcc");
    assert!(st.success());
    std::fs::read(&obj).expect("read object")
}

fn section(bytes: &[u8], name: &str) -> (usize, usize) {
    let f = object::File::parse(bytes).expect("elf");
    let s = f.section_by_name(name).expect("section");
    let (off, size) = s.file_range().expect("range");
    (off as usize, size as usize)
}

/// Seeded, so a failure reproduces.
struct Rng(XorShift);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n.max(1) as u64) as usize
    }
}

#[test]
fn random_corruption_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(XorShift::new(0x9e37_79b9_7f4a_7c15));
    let mut opened = 0;
    for fixture in ["unions", "bitfields", "packed_aligned", "holes"] {
        let good = compile(fixture, dir.path());
        let info = section(&good, ".debug_info");
        let abbrev = section(&good, ".debug_abbrev");
        for round in 0..150 {
            let mut bad = good.clone();
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let (off, size) = if rng.below(4) == 0 { abbrev } else { info };
                let at = off + rng.below(size);
                bad[at] = (rng.next() & 0xff) as u8;
            }
            let path = dir.path().join(format!("{fixture}-{round}.o"));
            std::fs::write(&path, &bad).expect("write");
            let Ok(db) = TypeDb::open_with(
                &path,
                OpenOptions {
                    cache_dir: None,
                    progress: None,
                    ..OpenOptions::default()
                },
            ) else {
                continue;
            };
            opened += 1;
            let mut printer = Printer::new(&db, PrintOptions::default());
            for name in [
                "holes",
                "big",
                "bits",
                "anon_members",
                "deep",
                "packed",
                "flex",
                "simple",
                "colour",
            ] {
                if let Ok(Some(id)) = db.find(name, NameKind::Any) {
                    let _ = printer.print(id, &mut std::io::sink());
                }
            }
            if let Ok(all) = db.composites() {
                for (_, id) in all {
                    let _ = printer.print(id, &mut std::io::sink());
                }
            }
        }
    }
    assert!(
        opened > 100,
        "too few corrupted files opened ({opened}) to exercise the printer"
    );
}
