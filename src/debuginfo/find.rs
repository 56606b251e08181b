//! Find the DWARF vmlinux of a dumped kernel by itself: the places distributions
//! install it, under each debug root, accepted only when its build-id is the dump's.

use super::sections::file_build_id;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the dump says about its kernel.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// OSRELEASE.
    pub release: &'a str,
    /// BUILD-ID (5.x+ VMCOREINFO); without it a file is taken on its release alone.
    pub build_id: Option<&'a str>,
}

/// The outcome of a search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub found: Option<PathBuf>,
    /// Candidates that exist but belong to another build: (file, its build-id).
    pub skipped: Vec<(PathBuf, String)>,
    /// Every place looked at.
    pub tried: Vec<PathBuf>,
}

/// The places under `root` where a vmlinux of `w` may be.
pub fn candidates(root: &Path, w: &Wanted<'_>) -> Vec<PathBuf> {
    let r = w.release;
    let mut v = vec![
        root.join(format!("usr/lib/debug/boot/vmlinux-{r}")),
        root.join(format!("usr/lib/debug/lib/modules/{r}/vmlinux")),
        root.join(format!("boot/vmlinux-{r}")),
        root.join(format!("lib/modules/{r}/build/vmlinux")),
    ];
    if let Some(id) = w.build_id.filter(|id| id.len() > 2) {
        v.push(root.join(format!(
            "usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        )));
    }
    v
}

/// Look under every root in order; the first file with the dump's build-id wins.
pub fn find_vmlinux(roots: &[PathBuf], w: &Wanted<'_>) -> Search {
    let mut s = Search::default();
    for root in roots {
        for c in candidates(root, w) {
            s.tried.push(c.clone());
            if !c.is_file() {
                continue;
            }
            let id = file_build_id(&c);
            match (w.build_id, id) {
                (None, _) => {}
                (Some(want), Some(have)) if want.eq_ignore_ascii_case(&have) => {}
                (Some(_), have) => {
                    let have = have.unwrap_or_else(|| "none".into());
                    if !s.skipped.iter().any(|(p, _)| *p == c) {
                        s.skipped.push((c, have));
                    }
                    continue;
                }
            }
            s.found = Some(c);
            return s;
        }
    }
    s
}

impl Search {
    /// One line for messages: what was looked at and what was skipped.
    pub fn summary(&self) -> String {
        let mut out = format!("no matching vmlinux in {} places", self.tried.len());
        let roots: Vec<String> = self
            .tried
            .iter()
            .filter_map(|p| p.to_str())
            .filter(|p| p.ends_with("/vmlinux") || p.contains("boot/vmlinux-"))
            .take(4)
            .map(str::to_string)
            .collect();
        if !roots.is_empty() {
            let _ = write!(out, " ({}, ...)", roots.join(", "));
        }
        for (p, id) in &self.skipped {
            let _ = write!(
                out,
                "; skipped {} (build-id {id}, another build)",
                p.display()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_distribution_layout() {
        let w = Wanted {
            release: "6.1.0-57-cloud-amd64",
            build_id: Some("01d2640d3a"),
        };
        let c = candidates(Path::new("/r"), &w);
        assert_eq!(
            c.last().unwrap(),
            Path::new("/r/usr/lib/debug/.build-id/01/d2640d3a.debug")
        );
        assert_eq!(
            c[0],
            Path::new("/r/usr/lib/debug/boot/vmlinux-6.1.0-57-cloud-amd64")
        );
        let s = find_vmlinux(&[PathBuf::from("/nonexistent-root")], &w);
        assert_eq!(s.found, None);
        assert_eq!(s.tried.len(), 5);
        assert!(s.summary().starts_with("no matching vmlinux in 5 places"));
    }
}
