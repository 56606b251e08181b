//! Shared helpers of the integration tests: fixture paths, oracle runners.
#![allow(dead_code)]

pub mod pahole;

use std::path::PathBuf;

/// Root of the fixture cache (docs/architecture.md, "Fixture contract").
pub fn fixtures_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("VMSCOPE_FIXTURES") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    cache.join("vmscope/fixtures")
}

/// The DWARF+BTF vmlinux of every fixture kernel. Fails (never skips) when there is none.
pub fn fixture_vmlinuxes() -> Vec<PathBuf> {
    let kernels = fixtures_root().join("kernels");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&kernels)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| !p.is_symlink() && p.join(".complete").exists() && p.join("vmlinux").exists())
                .map(|p| p.join("vmlinux"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    assert!(
        found.len() >= 2,
        "expected the 5.10 and 6.1 fixture kernels under {}, found {found:?}: run ./fixtures/build.sh",
        kernels.display()
    );
    found
}
