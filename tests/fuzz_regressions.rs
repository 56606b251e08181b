//! The inputs `scripts/fuzz.sh` kept because a fuzz target crashed, timed out or ran out of
//! memory on them (fuzz/regressions/TARGET/*, issue 15), replayed on the stable toolchain in
//! the normal test command through the very functions the targets call
//! (fuzz/fuzz_targets/common.rs). Each input must return within the time limit, without a
//! panic. Every target must also survive its seeds here: the empty input and short runs of
//! 0x00 and 0xff, so a target whose body stopped compiling or running shows up even with
//! no kept input.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod targets;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// libFuzzer's per-input timeout in fuzz.sh is 10 s; a debug build gets more.
const LIMIT: Duration = Duration::from_secs(60);

/// Run `f(input)` on its own thread; `Err` says why it failed (panic or still running).
fn replay(f: fn(&[u8]), input: Vec<u8>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| f(&input));
        let _ = tx.send(r.is_ok());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(true) => Ok(()),
        Ok(false) => Err("panicked".into()),
        Err(_) => Err(format!("still running after {LIMIT:?}")),
    }
}

#[test]
fn kept_fuzz_inputs_run_clean_through_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let (mut replayed, mut failures) = (0, Vec::new());
    for (name, f) in targets::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        inputs.sort();
        for path in inputs {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replayed += 1;
            if let Err(why) = replay(f, bytes) {
                failures.push(format!("{name} {}: {why}", path.display()));
            }
        }
        for seed in [vec![], vec![0u8; 4096], vec![0xffu8; 4096]] {
            if let Err(why) = replay(f, seed.clone()) {
                failures.push(format!("{name} seed of {} bytes: {why}", seed.len()));
            }
        }
    }
    println!(
        "fuzz regressions: {replayed} kept inputs replayed over {} targets",
        targets::TARGETS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The test and the fuzz crate name the same targets: a target added to one is replayed here.
#[test]
fn every_fuzz_target_has_an_entry_point_here() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .unwrap_or_else(|e| panic!("fuzz/Cargo.toml: {e}"));
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "vmscope-fuzz")
        .collect();
    bins.sort_unstable();
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(bins, names);
}
