//! The dumps the backtrace and log tests share, and running one command on a dump.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

/// (name, dir) of every build.sh dump followed by each configured kernel's panic dump.
pub fn dumps_and_panic_dumps() -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = super::dumps()
        .into_iter()
        .map(|d| (d.name, d.dir))
        .collect();
    for (series, _) in super::configured_kernels() {
        let name = format!("{series}-panic");
        out.push((
            name.clone(),
            super::fixtures_root().join("dumps").join(name),
        ));
    }
    out
}

/// `vmscope CMD --core CORE --vmlinux VMLINUX EXTRA...`, which must exit 0: (stdout, stderr).
pub fn run_ok(
    cmd: &str,
    core: &Path,
    vmlinux: &Path,
    extra: &[&str],
    timeout: Duration,
) -> (String, String) {
    let mut args = vec![
        cmd,
        "--core",
        core.to_str().unwrap(),
        "--vmlinux",
        vmlinux.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = super::run_vmscope(&args, timeout);
    assert_eq!(code, 0, "vmscope {args:?}: {err}");
    (out, err)
}

/// `--core D/kdump-zstd --vmlinux D/vmlinux` for the fixture dump of `series`.
pub fn zstd_args(series: &str) -> Vec<String> {
    let d = super::dump(series).dir;
    vec![
        "--core".into(),
        d.join("kdump-zstd").display().to_string(),
        "--vmlinux".into(),
        d.join("vmlinux").display().to_string(),
    ]
}
