//! Split BTF of kernel modules: every module of the Debian fixture kernels' packages
//! (ROOT/modules/RELEASE, fixtures/modules.sh), read on its vmlinux's BTF, prints what
//! `pahole -F btf --btf_base VMLINUX MOD.ko` prints, byte for byte; compressed modules read
//! directly; a split BTF without its base or on the wrong base is a one-line error, exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Instant;

use common::pahole::vmscope_bin;
use common::{fixtures_root, BUILD_HINT};

/// (release, the vmlinux whose .BTF is the base, every module file of the package), for
/// each kernel of fixtures/kernels.conf (the ones fixtures/modules.sh keeps modules of).
fn kernels_with_modules() -> Vec<(String, PathBuf, Vec<PathBuf>)> {
    common::configured_kernels()
        .into_iter()
        .map(|(series, _)| {
            let kdir = fixtures_root().join("kernels/by-series").join(&series);
            let vmlinux = kdir.join("vmlinux");
            assert!(vmlinux.is_file(), "{}: {BUILD_HINT}", vmlinux.display());
            let release = common::read_text(&kdir.join("release")).trim().to_string();
            let mdir = fixtures_root().join("modules").join(&release);
            assert!(
                mdir.join(".complete").is_file(),
                "modules of {release} missing at {}: {BUILD_HINT}",
                mdir.display()
            );
            let mut mods = Vec::new();
            collect_modules(&mdir, &mut mods);
            mods.sort();
            assert!(
                mods.len() > 100,
                "{}: only {} modules",
                mdir.display(),
                mods.len()
            );
            (release, vmlinux, mods)
        })
        .collect()
}

fn collect_modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            collect_modules(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".ko"))
        {
            out.push(p);
        }
    }
}

fn has_btf_section(module: &Path) -> bool {
    let out = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(module)
        .output()
        .expect("run readelf");
    String::from_utf8_lossy(&out.stdout).contains(" .BTF ")
}

fn pahole_split(module: &Path, base: &Path, extra: &[&str]) -> Output {
    Command::new("pahole")
        .args(["-F", "btf", "--btf_base"])
        .arg(base)
        .args(extra)
        .arg(module)
        .output()
        .expect("run pahole (apt-get install dwarves)")
}

fn vmscope_split(module: &Path, base: &Path, extra: &[&str]) -> Output {
    Command::new(vmscope_bin())
        .args(["layout", "--btf"])
        .arg(module)
        .arg("--btf-base")
        .arg(base)
        .args(extra)
        .output()
        .expect("run vmscope")
}

/// The first line where two outputs part, for the failure message.
fn first_difference(want: &str, got: &str) -> String {
    let n = want
        .lines()
        .zip(got.lines())
        .take_while(|(w, g)| w == g)
        .count();
    format!(
        "line {}: pahole {:?}, vmscope {:?}",
        n + 1,
        want.lines().nth(n),
        got.lines().nth(n)
    )
}

/// Run `f` over `items` on every core; the failures it returns, collected.
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if let Some(msg) = f(item) {
                    failures.lock().unwrap().push(msg);
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

#[test]
fn every_module_prints_as_pahole_with_btf_base() {
    let started = Instant::now();
    let (mut with_btf, mut without) = (0usize, 0usize);
    let mut failures = Vec::new();
    for (release, vmlinux, mods) in kernels_with_modules() {
        let (split, plain): (Vec<PathBuf>, Vec<PathBuf>) =
            mods.into_iter().partition(|m| has_btf_section(m));
        with_btf += split.len();
        without += plain.len();
        failures.extend(parallel(&split, |m| {
            let want = pahole_split(m, &vmlinux, &[]);
            let got = vmscope_split(m, &vmlinux, &[]);
            let (w, g) = (
                String::from_utf8_lossy(&want.stdout),
                String::from_utf8_lossy(&got.stdout),
            );
            let err = String::from_utf8_lossy(&got.stderr);
            if !want.status.success() || !want.stderr.is_empty() {
                return Some(format!(
                    "{}: pahole failed: {}",
                    m.display(),
                    String::from_utf8_lossy(&want.stderr)
                ));
            }
            (!got.status.success() || w != g).then(|| {
                format!(
                    "{} ({release}): {} {err}",
                    m.display(),
                    first_difference(&w, &g)
                )
            })
        }));
        // A module without .BTF (5.10 has no CONFIG_DEBUG_INFO_BTF_MODULES) is refused in
        // one line that says so.
        failures.extend(parallel(&plain, |m| {
            let got = vmscope_split(m, &vmlinux, &[]);
            let err = String::from_utf8_lossy(&got.stderr);
            let ok = got.status.code() == Some(2)
                && err.lines().count() == 1
                && err.contains("no .BTF section");
            (!ok).then(|| format!("{}: without .BTF: {err}", m.display()))
        }));
    }
    eprintln!(
        "split BTF: {with_btf} modules compared with pahole --btf_base, {without} without .BTF refused, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(with_btf > 500, "only {with_btf} modules with .BTF");
    assert!(
        failures.is_empty(),
        "{} modules differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The modules tested compressed: a spread of the 6.1 package (sizes small to large).
fn sample_split_modules() -> (PathBuf, Vec<PathBuf>) {
    let (_, vmlinux, mods) = kernels_with_modules()
        .into_iter()
        .find(|(_, _, mods)| mods.iter().any(|m| has_btf_section(m)))
        .expect("a fixture kernel with module BTF");
    let split: Vec<PathBuf> = mods.into_iter().filter(|m| has_btf_section(m)).collect();
    let step = (split.len() / 12).max(1);
    (vmlinux, split.into_iter().step_by(step).collect())
}

#[test]
fn compressed_modules_print_as_the_uncompressed_ones() {
    let (vmlinux, sample) = sample_split_modules();
    let dir = tempfile::tempdir().expect("tempdir");
    // How kbuild compresses modules (scripts/Makefile.modinst), and plain gzip.
    let tools: [(&str, &[&str]); 3] = [
        ("xz", &["--check=crc32", "--lzma2=dict=1MiB", "-c"]),
        ("zst", &["-q", "-c", "--ultra", "-22"]),
        ("gz", &["-n", "-9", "-c"]),
    ];
    let failures = parallel(&sample, |m| {
        let want = pahole_split(m, &vmlinux, &[]);
        let stem = m.file_name().unwrap().to_string_lossy().to_string();
        for (ext, args) in tools {
            let tool = match ext {
                "zst" => "zstd",
                "gz" => "gzip",
                _ => "xz",
            };
            let packed = dir.path().join(format!("{stem}.{ext}"));
            let out = Command::new(tool).args(args).arg(m).output().expect(tool);
            std::fs::write(&packed, &out.stdout).expect("write");
            let got = vmscope_split(&packed, &vmlinux, &[]);
            if !got.status.success() || got.stdout != want.stdout {
                return Some(format!(
                    "{}: {}",
                    packed.display(),
                    String::from_utf8_lossy(&got.stderr)
                ));
            }
        }
        None
    });
    assert!(sample.len() >= 10, "sample of {}", sample.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn split_btf_without_its_base_says_so() {
    let (_, sample) = sample_split_modules();
    let e = vmscope::debuginfo::btf::Btf::open(&sample[0]).expect_err("split BTF alone");
    assert!(e.needs_base(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("split BTF") && msg.contains("--btf-base"),
        "{msg}"
    );
    assert!(msg.contains(&sample[0].display().to_string()), "{msg}");
}

#[test]
fn split_btf_on_the_wrong_base_is_one_line_exit_2() {
    let (vmlinux, sample) = sample_split_modules();
    // Every other fixture kernel is a wrong base for the 6.1 modules.
    let mut others: Vec<PathBuf> = common::btf_vmlinuxes();
    let same = |v: &PathBuf| v.canonicalize().ok() == vmlinux.canonicalize().ok();
    others.retain(|v| !same(v));
    assert!(!others.is_empty());
    for wrong in &others {
        for m in &sample {
            let got = vmscope_split(m, wrong, &[]);
            let err = String::from_utf8_lossy(&got.stderr);
            assert_eq!(
                got.status.code(),
                Some(2),
                "{} on {}: {err}",
                m.display(),
                wrong.display()
            );
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(&m.display().to_string()), "{err}");
            assert!(err.contains(&wrong.display().to_string()), "{err}");
            assert!(got.stdout.is_empty());
        }
    }
}

/// One module type looked up by name matches `pahole -C` on the same module.
#[test]
fn module_types_by_name_match_pahole() {
    let (vmlinux, sample) = sample_split_modules();
    let failures = parallel(&sample, |m| {
        let sizes = vmscope_split(m, &vmlinux, &["--sizes"]);
        let base_sizes = Command::new(vmscope_bin())
            .args(["layout", "--sizes", "--btf"])
            .arg(&vmlinux)
            .output()
            .expect("run vmscope");
        let base: std::collections::HashSet<&[u8]> =
            base_sizes.stdout.split(|&b| b == b'\n').collect();
        let own: Vec<String> = sizes
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !base.contains(l))
            .filter_map(|l| {
                String::from_utf8_lossy(l)
                    .split('\t')
                    .next()
                    .map(String::from)
            })
            .collect();
        if own.is_empty() {
            return None;
        }
        let list = own.join(",");
        let want = pahole_split(m, &vmlinux, &["-C", &list]);
        let got = vmscope_split(m, &vmlinux, &["-C", &list]);
        (want.stdout != got.stdout).then(|| {
            format!(
                "{}: {}",
                m.display(),
                first_difference(
                    &String::from_utf8_lossy(&want.stdout),
                    &String::from_utf8_lossy(&got.stdout)
                )
            )
        })
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
