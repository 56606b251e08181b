//! Stamps the binary with the git commit it was built from (`vmscope --version`).
//! Outside a git checkout of this crate (a crates.io tarball, a copy) the commit is "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

/// `git ARGS` in the crate's directory: its trimmed stdout, or None when git is missing,
/// fails, or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// A path git prints relative to `dir` (older gits do for `--git-path`) made absolute.
fn absolute(dir: &Path, p: String) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        dir.join(p)
    }
}

/// The files whose change means a new commit is checked out: HEAD and the branch it
/// names, loose or packed. Asked of git so a worktree (where `.git` is a file naming
/// the real git directory) resolves like a plain clone.
fn watched_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut path_of = |name: &str| {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", name]) {
            files.push(absolute(dir, p));
        }
    };
    path_of("HEAD");
    path_of("packed-refs");
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        path_of(&branch);
    }
    files
}

/// The short commit, only when this crate's directory is the top of the checkout
/// (not a copy of it unpacked inside some other repository).
fn commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = Path::new(&top).canonicalize().ok()? == dir.canonicalize().ok()?;
    if !same {
        return None;
    }
    git(dir, &["rev-parse", "--short", "HEAD"])
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    // Only existing files: cargo reruns the script on every build for a missing one.
    for f in watched_files(&dir).into_iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let commit = commit(&dir).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=VMSCOPE_GIT_COMMIT={commit}");
}
