//! Seeded mutation test over the real fixtures (issue 15): a few thousand corrupted copies
//! of the kernel's BTF, of small real DWARF files (userspace libraries built by gcc and clang,
//! the clang kernel's module) and of kdump-compressed dumps (headers, sub-header, VMCOREINFO and
//! bitmaps; page descriptors and payloads), each given to the release binary in a child
//! process under an address-space and a time limit. The contract, for every case:
//! exit 0, 1 or 2; exactly one stderr line on 2; no signal, no timeout; and under exit 0
//! no impossible VMA or task printed. Counts are printed (`--nocapture` shows them).
//! Reproduce a failure with MUTATION_SEED; MUTATION_SCALE multiplies the case counts.

mod common;

use common::limited::Outcome;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vmscope::rng::XorShift;

const AS_LIMIT: u64 = 4 << 30;
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// 47-bit user space; the gate VMA (vsyscall) is the one mapping above it.
const TASK_SIZE: u64 = (1 << 47) - 4096;
const GATE: u64 = 0xffff_ffff_ff60_0000;

#[derive(Default, Debug)]
struct Counts {
    cases: u64,
    exit: [u64; 3],
    warnings: u64,
    violations: Vec<String>,
    /// Cases per kind of input (`btf`, `dwarf ...`, `kdump-...`).
    per_kind: std::collections::BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.cases += other.cases;
        for i in 0..3 {
            self.exit[i] += other.exit[i];
        }
        self.warnings += other.warnings;
        self.violations.extend(other.violations);
        for (k, n) in other.per_kind {
            *self.per_kind.entry(k).or_default() += n;
        }
    }
}

fn run(args: &[String]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmscope"));
    cmd.args(args).env(
        "XDG_CACHE_HOME",
        std::env::temp_dir().join("vmscope-mutation-cache"),
    );
    common::limited::run(cmd, AS_LIMIT, TIME_LIMIT)
}

/// What is impossible in `vmas` text: an empty or unaligned range, a user VMA above the
/// user limit, one out of order. Marked lines (`[bad: ...]`) are allowed only under exit 1.
fn impossible_vma(text: &str) -> Option<String> {
    let mut prev_end = 0u64;
    for line in text.lines() {
        let range = line.split(' ').next().unwrap_or("");
        let Some((s, e)) = range.split_once('-') else {
            return Some(format!("unparsable line {line:?}"));
        };
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
            return Some(format!("unparsable range {line:?}"));
        };
        if s == GATE {
            continue;
        }
        if s >= e || s % 4096 != 0 || e % 4096 != 0 || e > TASK_SIZE || s < prev_end {
            return Some(format!("impossible VMA {line:?}"));
        }
        prev_end = e;
    }
    None
}

/// What is impossible in `ps --json`: a misaligned task or one outside the kernel's
/// half, an implausible pid, a comm with control characters.
fn impossible_task(json: &str) -> Option<String> {
    let rows: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return Some(format!("ps --json is not JSON: {e}")),
    };
    for r in rows.as_array().into_iter().flatten() {
        let addr = r["task"]
            .as_str()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        let pid = r["pid"].as_i64().unwrap_or(-1);
        let idle = r["idle"].as_bool().unwrap_or(false);
        let comm = r["task_comm"].as_str().unwrap_or("");
        let pid_ok = (if idle { 0 } else { 1 }..=(1 << 22)).contains(&pid);
        if addr % 64 != 0
            || addr < 0xffff_8000_0000_0000
            || !pid_ok
            || comm.chars().any(char::is_control)
        {
            return Some(format!("impossible task {r}"));
        }
    }
    None
}

/// Judge one outcome against the contract.
fn judge(what: &str, args: &[String], o: &Outcome, c: &mut Counts) {
    c.cases += 1;
    *c.per_kind.entry(what.to_string()).or_default() += 1;
    c.warnings += o
        .err
        .lines()
        .filter(|l| l.starts_with("vmscope: warning:"))
        .count() as u64;
    let fail = |c: &mut Counts, why: String| c.violations.push(format!("{what} {args:?}: {why}"));
    if o.timed_out {
        return fail(c, format!("still running after {TIME_LIMIT:?}"));
    }
    if let Some(sig) = o.signal {
        return fail(c, format!("killed by signal {sig}; stderr: {}", o.err));
    }
    match o.code {
        Some(n @ 0..=2) => c.exit[n as usize] += 1,
        other => return fail(c, format!("exit status {other:?}; stderr: {}", o.err)),
    }
    if o.err.contains("panicked") {
        return fail(c, format!("panic: {}", o.err));
    }
    if o.code == Some(2) && o.err.lines().count() != 1 {
        return fail(
            c,
            format!(
                "exit 2 with {} stderr lines: {}",
                o.err.lines().count(),
                o.err
            ),
        );
    }
    if o.code == Some(0) {
        let verdict = match args.iter().find(|a| *a == "vmas" || *a == "ps") {
            Some(a) if a == "vmas" => impossible_vma(&o.out),
            Some(_) if args.iter().any(|a| a == "--json") => impossible_task(&o.out),
            _ => None,
        };
        if let Some(why) = verdict {
            fail(c, format!("exit 0 but {why}"));
        }
    }
}

fn mutate(
    bytes: &mut [u8],
    region: std::ops::Range<usize>,
    rng: &mut XorShift,
) -> Vec<(usize, u8)> {
    let n = 1 + rng.below(8) as usize;
    let span = region
        .end
        .min(bytes.len())
        .saturating_sub(region.start)
        .max(1);
    let mut undo = Vec::with_capacity(n);
    for _ in 0..n {
        let at = region.start + rng.below(span as u64) as usize;
        let Some(b) = bytes.get_mut(at) else { continue };
        undo.push((at, *b));
        *b = match rng.below(4) {
            0 => *b ^ (1 << rng.below(8)),
            1 => 0,
            2 => 0xff,
            _ => rng.below(256) as u8,
        };
    }
    undo
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// `.BTF` of a fixture vmlinux, as a raw BTF file's bytes.
fn kernel_btf(vmlinux: &Path) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(vmlinux).unwrap_or_else(|e| panic!("{}: {e}", vmlinux.display()));
    let obj = object::File::parse(&*data).unwrap_or_else(|e| panic!("{e}"));
    let sec = obj.section_by_name(".BTF").expect(".BTF section");
    sec.data().expect(".BTF data").to_vec()
}

/// Small real DWARF files: libyaml built by gcc (DWARF 4) and by clang (DWARF 5) and lua by gcc
/// (DWARF 5), from ROOT/userspace, and each built kernel's guest module (relocatable: clang's
/// DWARF 5 in sections with relocations, plus .BTF).
fn dwarf_inputs() -> Vec<PathBuf> {
    let u = common::fixtures_root().join("userspace");
    let mut v: Vec<PathBuf> = [
        "yaml.gcc.dwarf4.so",
        "yaml.clang.dwarf5.so",
        "lua.gcc.dwarf5.so",
    ]
    .iter()
    .map(|n| u.join(n))
    .collect();
    for name in common::source_kernel_names() {
        let mods = common::source_kernel_dir(&name).join("modules");
        let order = std::fs::read_to_string(mods.join("load-order")).expect("load-order");
        v.extend(
            order
                .split_whitespace()
                .map(|m| mods.join(format!("{m}.ko"))),
        );
    }
    for p in &v {
        assert!(p.is_file(), "{}: {}", p.display(), common::BUILD_HINT);
    }
    v
}

/// Where to corrupt a file with DWARF: its ELF header, its section header table and each
/// debug section (with its relocations) and .BTF, each region equally likely, so most
/// mutations land in what the DWARF reader walks rather than in code.
fn dwarf_regions(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    use object::{Object, ObjectSection};
    let obj = object::File::parse(bytes).unwrap_or_else(|e| panic!("not ELF: {e}"));
    let le = |at: usize, n: usize| {
        bytes[at..at + n]
            .iter()
            .rev()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
    };
    let (shoff, shentsize, shnum) = (le(0x28, 8), le(0x3a, 2), le(0x3c, 2));
    let mut regions = vec![0..64, shoff..shoff + shentsize * shnum];
    for sec in obj.sections() {
        let name = sec.name().unwrap_or("");
        let wanted =
            name.starts_with(".debug_") || name.starts_with(".rela.debug_") || name == ".BTF";
        if let (true, Some((off, size))) = (wanted, sec.file_range()) {
            regions.push(off as usize..(off + size) as usize);
        }
    }
    regions
}

/// `layout` of mutated copies of `file`: the whole listing, or one struct with every member
/// type expanded (`-E`), without the index cache (a mutated copy keeps the build-id).
fn mutate_dwarf(dir: &Path, file: &Path, cases: u64, rng: &mut XorShift, c: &mut Counts) {
    let orig = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let regions = dwarf_regions(&orig);
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("dwarf");
    let path = dir.join(name).display().to_string();
    let base = ["layout", "--no-cache", "--vmlinux", &path].map(String::from);
    write_file(Path::new(&path), &orig);
    let clean = run(&base);
    assert_eq!(clean.code, Some(0), "layout of {name}: {}", clean.err);
    let first = clean
        .out
        .lines()
        .find_map(|l| l.strip_prefix("struct ")?.strip_suffix(" {"))
        .unwrap_or_else(|| panic!("no struct in the layout of {name}"))
        .to_string();
    let mut b = orig;
    for i in 0..cases {
        let region = regions[rng.below(regions.len() as u64) as usize].clone();
        let undo = mutate(&mut b, region, rng);
        write_file(Path::new(&path), &b);
        let mut args = base.to_vec();
        if i % 2 == 1 {
            args.extend(["-E", "-C", &first].map(String::from));
        }
        judge(&format!("dwarf {name}"), &args, &run(&args), c);
        for (at, v) in undo.into_iter().rev() {
            b[at] = v;
        }
    }
}

/// One worker: its own copies in `dir`, `cases` of each kind, seeded by `seed`.
#[allow(clippy::too_many_arguments)]
fn worker(
    dir: &Path,
    dump: &Path,
    btf: &[u8],
    dwarf: &[PathBuf],
    pid: i32,
    seed: u64,
    scale: u64,
    counts: &Mutex<Counts>,
) {
    let mut rng = XorShift::new(seed);
    let mut local = Counts::default();
    let vmlinux = dump.parent().expect("dump dir").join("vmlinux");
    let vml = vmlinux.display().to_string();

    // BTF: layout of a few central structs.
    let btf_path = dir.join("vmlinux.btf");
    let mut b = btf.to_vec();
    for i in 0..500 * scale {
        let len = b.len();
        let undo = mutate(&mut b, 0..len, &mut rng);
        write_file(&btf_path, &b);
        let ty = ["task_struct", "mm_struct", "maple_node", "vm_area_struct"][i as usize % 4];
        let args: Vec<String> = ["layout", "--btf", &btf_path.display().to_string(), ty]
            .iter()
            .map(|s| s.to_string())
            .collect();
        judge("btf", &args, &run(&args), &mut local);
        for (at, v) in undo.into_iter().rev() {
            b[at] = v;
        }
    }

    // DWARF: small real files, whole and in part.
    for file in dwarf {
        mutate_dwarf(dir, file, 150 * scale, &mut rng, &mut local);
    }

    // kdump: one writable copy, mutated in place and restored after each case.
    let core = dir.join("kdump");
    std::fs::copy(dump, &core).unwrap_or_else(|e| panic!("copy {}: {e}", dump.display()));
    let mut perm = std::fs::metadata(&core).expect("metadata").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&core, perm).expect("chmod");
    let mut image = std::fs::read(&core).expect("read copy");
    let core_s = core.display().to_string();
    let pid_s = pid.to_string();
    let kinds: [(&str, u64, std::ops::Range<usize>, &[&str]); 4] = [
        ("kdump-header", 250, 0..16 << 10, &["info"]),
        ("kdump-bitmap", 60, 0..1 << 20, &["ps", "--json"]),
        ("kdump-pages", 20, 0..image.len(), &["vmas", &pid_s]),
        ("kdump-pages", 20, 0..image.len(), &["ps", "--json"]),
    ];
    for (what, n, region, cmd) in kinds {
        for _ in 0..n * scale {
            let undo = mutate(&mut image, region.clone(), &mut rng);
            patch(&core, &image, &undo);
            let mut args: Vec<String> = ["--core", &core_s, "--vmlinux", &vml]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.extend(cmd.iter().map(|s| s.to_string()));
            judge(what, &args, &run(&args), &mut local);
            for &(at, v) in undo.iter().rev() {
                image[at] = v;
            }
            patch(&core, &image, &undo);
        }
    }
    counts.lock().expect("counts").add(local);
}

/// Write the bytes of `image` at each offset in `undo` into the file.
fn patch(path: &Path, image: &[u8], undo: &[(usize, u8)]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open copy");
    for &(at, _) in undo {
        f.seek(SeekFrom::Start(at as u64)).expect("seek");
        f.write_all(&image[at..at + 1]).expect("write");
    }
}

#[test]
fn mutated_fixtures_keep_the_contract() {
    let seed: u64 = std::env::var("MUTATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x15_2026);
    let scale: u64 = std::env::var("MUTATION_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let started = Instant::now();
    let counts = Mutex::new(Counts::default());
    let names = ["6.1", "5.10"];
    let inputs: Vec<(PathBuf, Vec<u8>, i32)> = names
        .iter()
        .map(|n| {
            let d = common::fixtures_root().join("dumps").join(n);
            let dump = d.join("kdump-zstd");
            assert!(dump.exists(), "{}: {}", dump.display(), common::BUILD_HINT);
            let pid = std::fs::read_dir(d.join("proc"))
                .expect("proc dir")
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .max()
                .expect("a pid");
            (dump, kernel_btf(&d.join("vmlinux")), pid)
        })
        .collect();
    // The DWARF files dealt out to the workers in turn.
    let dwarf = dwarf_inputs();
    let shares: Vec<Vec<PathBuf>> = (0..inputs.len())
        .map(|i| {
            dwarf
                .iter()
                .skip(i)
                .step_by(inputs.len())
                .cloned()
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        for (i, ((dump, btf, pid), share)) in inputs.iter().zip(&shares).enumerate() {
            let counts = &counts;
            s.spawn(move || {
                let dir = tempfile::tempdir().expect("tempdir");
                worker(
                    dir.path(),
                    dump,
                    btf,
                    share,
                    *pid,
                    seed.wrapping_add(i as u64),
                    scale,
                    counts,
                );
            });
        }
    });
    let c = counts.into_inner().expect("counts");
    println!(
        "mutation (seed {seed:#x}): {} cases in {:.0} s: exit 0 {}, exit 1 {}, exit 2 {}; {} warning lines; {} contract violations",
        c.cases,
        started.elapsed().as_secs_f64(),
        c.exit[0],
        c.exit[1],
        c.exit[2],
        c.warnings,
        c.violations.len()
    );
    for (kind, n) in &c.per_kind {
        println!("mutation:   {kind}: {n} cases");
    }
    assert!(c.cases >= 1000, "too few cases: {}", c.cases);
    assert!(
        c.violations.is_empty(),
        "{} contract violations, first ones:\n{}",
        c.violations.len(),
        c.violations
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
