//! Live: the running kernel's vmlinux is searched under the debug roots by its build-id
//! (/sys/kernel/notes), as a dump's is; a file of the same release but another build is
//! skipped and named. Oracle for build-ids: readelf.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use vmscope::debuginfo::select::{select, Purpose, Request, TypeFile};

/// The GNU build-id readelf reports for `file`.
fn readelf_build_id(file: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-n")
        .arg(file)
        .output()
        .expect("readelf (binutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .unwrap_or_else(|| panic!("{}: no build-id note", file.display()))
}

fn link(root: &Path, rel: &str, target: &Path) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &p).unwrap();
    p
}

fn live_request<'a>(roots: &'a [PathBuf], release: &'a str, id: &'a str) -> Request<'a> {
    Request {
        purpose: Purpose::Memory,
        vmlinux: None,
        btf: None,
        dump: false,
        running_release: Some(release),
        running_build_id: Some(id),
        dump_kernel: None,
        debug_roots: roots,
    }
}

#[test]
fn the_running_kernels_vmlinux_is_found_by_build_id() {
    let tmp = tempfile::tempdir().unwrap();
    // Two ELF files with build-ids: stand-ins for two builds of one release.
    let src = tmp.path().join("k.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let build = |name: &str, flag: &str| {
        let out = tmp.path().join(name);
        let st = Command::new("gcc")
            .args(["-Wl,--build-id=sha1", flag, "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc");
        assert!(st.success());
        out
    };
    let (this, other) = (build("this", "-O0"), build("other", "-O2"));
    let id = readelf_build_id(&this);
    assert_ne!(id, readelf_build_id(&other));
    let release = "9.9.9-test";
    let (wrong_root, good_root) = (tmp.path().join("wrong"), tmp.path().join("good"));
    let wrong = link(
        &wrong_root,
        &format!("usr/lib/debug/boot/vmlinux-{release}"),
        &other,
    );
    let by_id = link(
        &good_root,
        &format!("usr/lib/debug/.build-id/{}/{}.debug", &id[..2], &id[2..]),
        &this,
    );
    let roots = [wrong_root.clone(), good_root.clone()];
    let got = select(&live_request(&roots, release, &id)).unwrap();
    assert_eq!(got, TypeFile::Dwarf(by_id));
    // Only the wrong build: skipped and named; the running kernel's BTF serves.
    let roots = [wrong_root];
    match select(&live_request(&roots, release, &id)).unwrap() {
        TypeFile::RunningBtf { searched, .. } => {
            assert!(
                searched.contains(&format!("skipped {}", wrong.display()))
                    && searched.contains("another build"),
                "{searched}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// On this machine: a file of the running release but another build under `--debug-dir`
/// is skipped, and the note names it (whether or not /proc/kcore can then be read).
#[test]
fn live_commands_skip_a_vmlinux_of_another_build() {
    let notes = std::fs::read("/sys/kernel/notes").expect("/sys/kernel/notes readable");
    assert!(!notes.is_empty());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let release = release.trim();
    let tmp = tempfile::tempdir().unwrap();
    let other = common::fixture_vmlinuxes()[0].clone();
    let wrong = link(
        tmp.path(),
        &format!("usr/lib/debug/boot/vmlinux-{release}"),
        &other,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(["info", "--debug-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "skipped {} (build-id {}, another build)",
        wrong.display(),
        readelf_build_id(&other)
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("using the running kernel's BTF"), "{err}");
}
