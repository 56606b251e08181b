//! Shared helpers of the integration tests: the real-kernel fixtures built by fixtures/build.sh
//! (layout in docs/architecture.md, "Fixture contract"; contents in docs/testing.md).
//! Every accessor fails (never skips) when a fixture is missing, saying to run the build script.
#![allow(dead_code)]

/// pahole (the layout oracle) beside vmscope, on BTF.
pub mod dump_runs;
pub mod guest_files;
pub mod limited;
pub mod pahole;
/// Reading the SVG pictures: elements by id, folded counts, an in-process render.
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

pub const BUILD_HINT: &str = "run ./fixtures/build.sh (see docs/testing.md)";

/// Root of the fixture cache: $VMSCOPE_FIXTURES, else ${XDG_CACHE_HOME:-$HOME/.cache}/vmscope/fixtures.
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

/// The DWARF+BTF vmlinux of every Debian (gcc-built) fixture kernel; the clang-built ones are
/// `source_vmlinuxes()`. Fails (never skips) when there is none.
pub fn fixture_vmlinuxes() -> Vec<PathBuf> {
    let kernels = fixtures_root().join("kernels");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&kernels)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    !p.is_symlink() && p.join(".complete").exists() && p.join("vmlinux").exists()
                })
                .map(|p| p.join("vmlinux"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    assert!(
        found.len() >= 2,
        "expected the 5.10 and 6.1 fixture kernels under {}, found {found:?}: {BUILD_HINT}",
        kernels.display()
    );
    found
}

/// The kernels named in fixtures/kernels.conf: (series, has an la57 variant).
pub fn configured_kernels() -> Vec<(String, bool)> {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kernels.conf");
    let text = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f.iter().skip(4).any(|v| *v == "la57"))
        })
        .collect()
}

/// The kernels built from Debian's source, named in fixtures/source-kernels.conf (6.12-clang).
pub fn source_kernel_names() -> Vec<String> {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/source-kernels.conf");
    let text = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// ROOT/source-kernels/NAME of a built kernel: vmlinuz, vmlinux (clang's DWARF 5 and BTF),
/// vmlinux.compressed-debug, modules/, build.json. Fails (never skips) when it is not built.
pub fn source_kernel_dir(name: &str) -> PathBuf {
    let dir = fixtures_root().join("source-kernels").join(name);
    assert!(
        dir.join(".complete").is_file() && dir.join("vmlinux").is_file(),
        "built kernel {name} missing at {}: {BUILD_HINT}",
        dir.display()
    );
    dir
}

/// The vmlinux of every kernel built from source (the DWARF of these is clang's).
pub fn source_vmlinuxes() -> Vec<PathBuf> {
    let names = source_kernel_names();
    assert!(
        !names.is_empty(),
        "fixtures/source-kernels.conf names no kernel"
    );
    names
        .iter()
        .map(|n| source_kernel_dir(n).join("vmlinux"))
        .collect()
}

/// Every fixture vmlinux whose .BTF section tests may read: the Debian kernels and the built ones.
pub fn btf_vmlinuxes() -> Vec<PathBuf> {
    let mut all = fixture_vmlinuxes();
    all.extend(source_vmlinuxes());
    all
}

/// Names of every fixture dump (ROOT/dumps/NAME): each series, plus SERIES-la57 where configured,
/// plus each kernel built from source.
pub fn dump_names() -> Vec<String> {
    let mut names = Vec::new();
    for (series, la57) in configured_kernels() {
        if la57 {
            names.push(format!("{series}-la57"));
        }
        names.push(series);
    }
    names.extend(source_kernel_names());
    names
}

/// How a dump file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    Elf,
    /// makedumpfile's flattened format around zlib pages, as QEMU writes it.
    KdumpZlibFlat,
    KdumpLzo,
    KdumpSnappy,
    KdumpZstd,
    /// zlib pages, all-zero pages excluded from the dump bitmap (like makedumpfile -d 1).
    KdumpExcluded,
}

impl DumpFormat {
    pub const ALL: [DumpFormat; 6] = [
        DumpFormat::Elf,
        DumpFormat::KdumpZlibFlat,
        DumpFormat::KdumpLzo,
        DumpFormat::KdumpSnappy,
        DumpFormat::KdumpZstd,
        DumpFormat::KdumpExcluded,
    ];
    pub fn file_name(self) -> &'static str {
        match self {
            DumpFormat::Elf => "elf.core",
            DumpFormat::KdumpZlibFlat => "kdump-zlib.flat",
            DumpFormat::KdumpLzo => "kdump-lzo",
            DumpFormat::KdumpSnappy => "kdump-snappy",
            DumpFormat::KdumpZstd => "kdump-zstd",
            DumpFormat::KdumpExcluded => "kdump-excluded",
        }
    }
    /// The disk_dump_header status bit of the page compression (DUMP_DH_COMPRESSED_*).
    pub fn kdump_status_flag(self) -> Option<u32> {
        match self {
            DumpFormat::Elf => None,
            DumpFormat::KdumpZlibFlat | DumpFormat::KdumpExcluded => Some(0x1),
            DumpFormat::KdumpLzo => Some(0x2),
            DumpFormat::KdumpSnappy => Some(0x4),
            DumpFormat::KdumpZstd => Some(0x20),
        }
    }
}

/// One fixture dump directory, ROOT/dumps/NAME.
#[derive(Clone, Debug)]
pub struct DumpFixture {
    pub name: String,
    pub dir: PathBuf,
    /// uname -r of the booted kernel (the `release` file).
    pub release: String,
    /// The matching DWARF vmlinux (the `vmlinux` symlink, resolved).
    pub vmlinux: PathBuf,
    /// Whether the guest ran with 5-level paging.
    pub la57: bool,
}

impl DumpFixture {
    pub fn file(&self, format: DumpFormat) -> PathBuf {
        self.dir.join(format.file_name())
    }
    /// Every dump file of this fixture with its format.
    pub fn files(&self) -> Vec<(DumpFormat, PathBuf)> {
        DumpFormat::ALL
            .iter()
            .map(|f| (*f, self.file(*f)))
            .collect()
    }
    /// The guest's /proc as captured just before the dump (DIR/PID/maps, ...): `--maps-dir` input.
    pub fn proc_dir(&self) -> PathBuf {
        self.dir.join("proc")
    }
    pub fn proc(&self) -> ProcTree {
        ProcTree::new(self.proc_dir())
    }
    /// The guest's maps of `pid` minus the gate VMA ([vsyscall] is no tree entry).
    pub fn tree_maps(&self, pid: i32) -> Vec<MapsLine> {
        let text = read_text(&self.proc_dir().join(format!("{pid}/maps")));
        parse_maps(&text)
            .into_iter()
            .filter(|l| l.path != "[vsyscall]")
            .collect()
    }
    pub fn workloads(&self) -> Workloads {
        read_json(&self.dir.join("workloads.json"))
    }
    pub fn drgn_ps(&self) -> Vec<DrgnTask> {
        read_json(&self.dir.join("drgn/ps.json"))
    }
    /// drgn's VMAs per thread-group leader pid.
    pub fn drgn_vmas(&self) -> BTreeMap<i32, DrgnMm> {
        let raw: BTreeMap<String, DrgnMm> = read_json(&self.dir.join("drgn/vmas.json"));
        raw.into_iter()
            .map(|(k, v)| {
                (
                    k.parse()
                        .unwrap_or_else(|_| panic!("drgn/vmas.json: bad pid key {k}")),
                    v,
                )
            })
            .collect()
    }
}

/// One fixture dump by name; fails with the build hint when it is missing or incomplete.
pub fn dump(name: &str) -> DumpFixture {
    let dir = fixtures_root().join("dumps").join(name);
    assert!(
        dir.join(".stamp").is_file(),
        "fixture dump {name} missing or incomplete at {}: {BUILD_HINT}",
        dir.display()
    );
    let release = read_text(&dir.join("release")).trim().to_string();
    let vmlinux = std::fs::canonicalize(dir.join("vmlinux"))
        .unwrap_or_else(|e| panic!("{}/vmlinux: {e}: {BUILD_HINT}", dir.display()));
    DumpFixture {
        name: name.to_string(),
        dir,
        release,
        vmlinux,
        la57: name.ends_with("-la57"),
    }
}

/// Every fixture dump (5.10, 6.1, 6.1-la57 and 6.12-clang with the shipped conf files).
pub fn dumps() -> Vec<DumpFixture> {
    dump_names().iter().map(|n| dump(n)).collect()
}

pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}: {BUILD_HINT}", path.display()))
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn de_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    parse_hex(&s).map_err(serde::de::Error::custom)
}

fn de_opt_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_hex(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

pub fn parse_hex(s: &str) -> Result<u64, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("{s:?}: expected 0x..."))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("{s:?}: {e}"))
}

/// workloads.json: the workload processes the guest ran and the mappings each made.
#[derive(Debug, Deserialize)]
pub struct Workloads {
    pub release: String,
    pub marker_format: String,
    pub processes: Vec<WorkloadProcess>,
}

impl Workloads {
    /// The (first) process of a role: perms, split, shared-anon, shared-anon-child, file, deleted,
    /// anon-name, many, threads, exec.
    pub fn role(&self, role: &str) -> &WorkloadProcess {
        self.processes
            .iter()
            .find(|p| p.role == role)
            .unwrap_or_else(|| panic!("workloads.json has no role {role}"))
    }
}

#[derive(Debug, Deserialize)]
pub struct WorkloadProcess {
    pub pid: i32,
    pub role: String,
    pub comm: String,
    /// Every thread id of the process (the process itself included).
    pub tids: Vec<i32>,
    pub mappings: Vec<WorkloadMapping>,
    /// Role-specific facts (e.g. many: region_start/region_end/vmas_in_region; threads: threads).
    pub extra: serde_json::Value,
}

/// A mapping as /proc/PID/maps must show it.
#[derive(Debug, Deserialize)]
pub struct WorkloadMapping {
    #[serde(deserialize_with = "de_hex")]
    pub start: u64,
    #[serde(deserialize_with = "de_hex")]
    pub end: u64,
    pub perms: String,
    #[serde(deserialize_with = "de_hex")]
    pub offset: u64,
    /// The path column exactly ("" for anonymous, "/dev/zero (deleted)" for shared anonymous, ...).
    pub path: String,
    /// How many pages from `start` begin with the marker of `marker()`.
    pub marker_pages: u64,
    pub what: String,
}

/// The marker a workload wrote at the start of a page: "VMSCOPE pid=<pid> addr=0x<hex>" + NUL.
/// For the shared-anon child, the pid is the parent's (the parent wrote the shared pages).
pub fn marker(pid: i32, addr: u64) -> String {
    format!("VMSCOPE pid={pid} addr={addr:#x}")
}

/// One line of /proc/PID/maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapsLine {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    pub dev: String,
    pub inode: u64,
    pub path: String,
}

pub fn parse_maps(text: &str) -> Vec<MapsLine> {
    text.lines()
        .map(|line| {
            let mut f = line.splitn(6, ' ');
            let mut next = || {
                f.next()
                    .unwrap_or_else(|| panic!("short maps line {line:?}"))
            };
            let range = next();
            let (s, e) = range
                .split_once('-')
                .unwrap_or_else(|| panic!("maps line {line:?}"));
            let perms = next().to_string();
            let offset = next();
            let dev = next().to_string();
            let inode = next();
            let path = f.next().unwrap_or("").trim_start().to_string();
            let hex = |x: &str| {
                u64::from_str_radix(x, 16).unwrap_or_else(|_| panic!("maps line {line:?}"))
            };
            MapsLine {
                start: hex(s),
                end: hex(e),
                perms,
                offset: hex(offset),
                dev,
                inode: inode
                    .parse()
                    .unwrap_or_else(|_| panic!("maps line {line:?}")),
                path,
            }
        })
        .collect()
}

/// The fields of /proc/PID/stat that tests compare (the comm is between the outer parentheses).
#[derive(Clone, Debug)]
pub struct ProcStat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    /// Every field after the comm, starting with the state (field 3 of proc(5) is rest[0]).
    pub rest: Vec<String>,
}

impl ProcStat {
    /// Field N as numbered in proc(5) (1 = pid, 2 = comm, 3 = state, ...), for N >= 3.
    pub fn field(&self, n: usize) -> &str {
        &self.rest[n - 3]
    }
}

pub fn parse_stat(text: &str) -> ProcStat {
    let open = text.find('(').unwrap_or_else(|| panic!("stat {text:?}"));
    let close = text.rfind(')').unwrap_or_else(|| panic!("stat {text:?}"));
    let rest: Vec<String> = text[close + 1..]
        .split_whitespace()
        .map(String::from)
        .collect();
    ProcStat {
        pid: text[..open]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("stat {text:?}")),
        comm: text[open + 1..close].to_string(),
        state: rest[0].chars().next().unwrap_or('?'),
        ppid: rest[1].parse().unwrap_or_else(|_| panic!("stat {text:?}")),
        rest,
    }
}

/// A copy of /proc as the guest saw it: DIR/PID/{maps,stat,status,comm}, DIR/PID/task/TID/{stat,status,comm}.
pub struct ProcTree {
    pub dir: PathBuf,
}

impl ProcTree {
    pub fn new(dir: PathBuf) -> Self {
        assert!(
            dir.is_dir(),
            "no /proc capture at {}: {BUILD_HINT}",
            dir.display()
        );
        ProcTree { dir }
    }
    /// Every process (thread-group leader) pid, ascending.
    pub fn pids(&self) -> Vec<i32> {
        numeric_entries(&self.dir)
    }
    /// Every thread id of a process, ascending.
    pub fn tids(&self, pid: i32) -> Vec<i32> {
        numeric_entries(&self.dir.join(pid.to_string()).join("task"))
    }
    pub fn file(&self, pid: i32, name: &str) -> String {
        read_text(&self.dir.join(pid.to_string()).join(name))
    }
    pub fn maps_text(&self, pid: i32) -> String {
        self.file(pid, "maps")
    }
    pub fn maps(&self, pid: i32) -> Vec<MapsLine> {
        parse_maps(&self.maps_text(pid))
    }
    pub fn stat(&self, pid: i32) -> ProcStat {
        parse_stat(&self.file(pid, "stat"))
    }
    pub fn task_stat(&self, pid: i32, tid: i32) -> ProcStat {
        parse_stat(&read_text(&self.dir.join(format!("{pid}/task/{tid}/stat"))))
    }
    pub fn comm(&self, pid: i32) -> String {
        self.file(pid, "comm").trim_end_matches('\n').to_string()
    }
    /// A kernel thread has no mm: its status has no VmSize line (and its maps file is empty).
    pub fn is_kernel_thread(&self, pid: i32) -> bool {
        !self
            .file(pid, "status")
            .lines()
            .any(|l| l.starts_with("VmSize:"))
    }
}

fn numeric_entries(dir: &Path) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}: {BUILD_HINT}", dir.display()))
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    v.sort_unstable();
    v
}

/// One task as drgn lists it (drgn/ps.json).
#[derive(Clone, Debug, Deserialize)]
pub struct DrgnTask {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub comm: String,
    pub state: String,
    #[serde(deserialize_with = "de_hex")]
    pub task: u64,
    #[serde(deserialize_with = "de_opt_hex")]
    pub mm: Option<u64>,
    pub map_count: Option<u64>,
    /// A per-CPU idle task (pid 0).
    pub idle: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DrgnMm {
    #[serde(deserialize_with = "de_hex")]
    pub mm: u64,
    pub vmas: Vec<DrgnVma>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DrgnVma {
    #[serde(deserialize_with = "de_hex")]
    pub start: u64,
    #[serde(deserialize_with = "de_hex")]
    pub end: u64,
    pub flags: u64,
}

/// What `fixtures/run-in-guest.sh` returned.
pub struct GuestRun {
    pub stdout: String,
    pub stderr: String,
    /// The binary's exit status (125: the guest could not run it).
    pub status: i32,
    /// The guest's /proc captured just before the binary ran (proc/, workloads.json, wl/).
    pub capture: tempfile::TempDir,
}

impl GuestRun {
    pub fn proc(&self) -> ProcTree {
        ProcTree::new(self.capture.path().join("proc"))
    }
    pub fn workloads(&self) -> Workloads {
        read_json(&self.capture.path().join("workloads.json"))
    }
}

/// Boot KERNEL (a series, or SERIES-la57) with the workloads and run `binary args` as root inside.
/// with_vmlinux puts the kernel's DWARF vmlinux at /vmlinux in the guest (2 GB guest).
pub fn run_in_guest(kernel: &str, binary: &Path, args: &[&str], with_vmlinux: bool) -> GuestRun {
    run_in_guest_with(kernel, binary, args, with_vmlinux, &[])
}

/// As `run_in_guest`, with extra files (host path, guest path) in the guest, so that one boot can
/// run several commands: binary /bin/busybox, args ["sh", "-c", "vmscope ps; vmscope vmas 1"].
pub fn run_in_guest_with(
    kernel: &str,
    binary: &Path,
    args: &[&str],
    with_vmlinux: bool,
    files: &[(&Path, &str)],
) -> GuestRun {
    let capture = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run-in-guest.sh");
    let mut cmd = Command::new(&script);
    if with_vmlinux {
        cmd.arg("--with-vmlinux");
    }
    for (host, guest) in files {
        cmd.arg("--file").arg(format!("{}:{guest}", host.display()));
    }
    cmd.arg("--proc-out")
        .arg(capture.path())
        .arg(kernel)
        .arg(binary)
        .args(args);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let status = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(
        status,
        125,
        "run-in-guest.sh {kernel} {} failed: {stderr}\n{BUILD_HINT}",
        binary.display()
    );
    GuestRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        status,
        capture,
    }
}

/// The statically linked release build of vmscope that ships, built once per test binary by
/// scripts/build-static.sh (the same recipe, and its `file`/`ldd` checks), for running
/// inside the guest, whose initramfs has no shared libraries.
pub fn static_vmscope() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-static.sh");
            let out = Command::new(&script)
                .stderr(std::process::Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
            assert!(out.status.success(), "{} failed", script.display());
            let stdout = String::from_utf8_lossy(&out.stdout);
            let bin = PathBuf::from(stdout.lines().last().unwrap_or_default());
            assert!(bin.is_file(), "no static vmscope at {:?}", bin);
            bin
        })
        .clone()
}

/// Run the vmscope under test with a deadline: (status, stdout, stderr). A run past the
/// deadline is killed and fails the test as a hang.
pub fn run_vmscope(args: &[&str], timeout: std::time::Duration) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmscope"));
    cmd.args(args);
    let o = limited::run(cmd, libc::RLIM_INFINITY, timeout);
    assert!(!o.timed_out, "vmscope {args:?} hung for {timeout:?}");
    (o.code.unwrap_or(-1), o.out, o.err)
}

/// (processes, VMAs) from the guest's own /proc/PID/maps files.
pub fn guest_counts(proc_dir: &Path) -> (u64, u64) {
    let mut procs = 0;
    let mut vmas = 0;
    for e in std::fs::read_dir(proc_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", proc_dir.display()))
        .flatten()
    {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let text = std::fs::read_to_string(e.path().join("maps")).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        procs += 1;
        vmas += text.lines().filter(|l| !l.ends_with("[vsyscall]")).count() as u64;
    }
    (procs, vmas)
}

/// Unpack what a guest script printed with `busybox tar -czf - -C DIR . | busybox base64`.
pub fn unpack_tar_b64(b64: &str, dest: &Path) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("base64 -d | tar -xzf - -C \"$0\"")
        .arg(dest)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b64.as_bytes()).unwrap();
    let st = child.wait().unwrap();
    assert!(
        st.success(),
        "could not unpack the guest's results ({} bytes of base64)",
        b64.len()
    );
}

/// drgn (0.3, in the fixture venv) evaluating Python expressions on a dump through
/// tests/drgn_print.py: one `{"kind","value","address"}` per expression, in order.
pub fn drgn_eval(d: &DumpFixture, exprs: &[&str]) -> Vec<serde_json::Value> {
    let out = drgn_json(d, "tests/drgn_print.py", &[], &serde_json::json!(exprs));
    serde_json::from_value(out).expect("drgn: a JSON array")
}

/// vmscope with no vmlinux to find (empty HOME, no VMSCOPE_DEBUG_DIRS): types from BTF,
/// symbols from the dump's kallsyms or `--kallsyms`. (status, stdout, stderr)
pub fn run_vmscope_btf(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(args)
        .env("HOME", home.path())
        .env_remove("VMSCOPE_DEBUG_DIRS")
        .output()
        .expect("run vmscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A System.map (`nm -n` of the vmlinux) for dumps whose VMCOREINFO has no kallsyms
/// tables (5.10), written once per test process.
pub fn system_map(d: &DumpFixture) -> PathBuf {
    use std::sync::{Mutex, OnceLock};
    static MAPS: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let mut maps = MAPS.get_or_init(Default::default).lock().unwrap();
    maps.entry(d.name.clone())
        .or_insert_with(|| {
            let out = Command::new("nm")
                .arg("-n")
                .arg(&d.vmlinux)
                .output()
                .expect("nm (binutils)");
            assert!(out.status.success(), "nm {}", d.vmlinux.display());
            let p = std::env::temp_dir().join(format!(
                "vmscope-test-{}-{}.map",
                std::process::id(),
                d.name
            ));
            std::fs::write(&p, out.stdout).unwrap();
            p
        })
        .clone()
}

/// vmscope on a dump's elf.core: with its DWARF vmlinux, or (`btf`) with types from
/// the dump's BTF and symbols from its kallsyms (a System.map before 6.0).
pub fn vmscope_on(d: &DumpFixture, btf: bool, args: &[&str]) -> (i32, String, String) {
    let core = d.dir.join("elf.core").display().to_string();
    let mut all: Vec<String> = vec!["--core".into(), core];
    if !btf {
        all.extend(["--vmlinux".into(), d.vmlinux.display().to_string()]);
    } else if d.name.starts_with("5.") {
        all.extend(["--kallsyms".into(), system_map(d).display().to_string()]);
    }
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    if btf {
        run_vmscope_btf(&all)
    } else {
        run_vmscope(&all, std::time::Duration::from_secs(120))
    }
}

/// Globals kernel BTF gives no type (it types per-CPU variables only) and their C types.
const BTF_UNTYPED: &[(&str, &str)] = &[
    ("init_task", "struct task_struct"),
    ("init_mm", "struct mm_struct"),
    ("init_uts_ns", "struct uts_namespace"),
    ("vmap_area_root", "struct rb_root"),
    // Per-CPU, but 5.10's BTF has no variables at all.
    ("runqueues", "struct rq"),
    ("jiffies", "unsigned long"),
    ("nr_cpu_ids", "unsigned int"),
    ("system_state", "enum system_states"),
    ("_totalram_pages", "atomic_long_t"),
];

/// An expression rewritten for BTF: each untyped global `g` of type T used as a whole
/// becomes `(*(T *)&g)`, and `__per_cpu_offset[i]` indexes an `unsigned long *`.
pub fn btf_expr(e: &str) -> String {
    let b = e.as_bytes();
    let (mut out, mut i) = (String::new(), 0);
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphabetic() || c == b'_') {
            out.push(c as char);
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let word = &e[start..i];
        let before = e[..start].trim_end();
        let member = before.ends_with('.') || before.ends_with("->");
        match BTF_UNTYPED.iter().find(|(g, _)| *g == word) {
            Some((g, t)) if !member => out.push_str(&format!("(*({t} *)&{g})")),
            _ if word == "__per_cpu_offset" && !member => {
                out.push_str("((unsigned long *)&__per_cpu_offset)")
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// A drgn script of tests/ (fixtures venv) on `d`'s ELF dump and vmlinux, then `extra`
/// arguments, with `input` as JSON on stdin: its stdout, parsed.
pub fn drgn_json(
    d: &DumpFixture,
    script: &str,
    extra: &[&Path],
    input: &serde_json::Value,
) -> serde_json::Value {
    use std::io::Write as _;
    let python = fixtures_root().join("venv/bin/python");
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .arg(d.dir.join("elf.core"))
        .arg(&d.vmlinux)
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run drgn");
    let bytes = serde_json::to_vec(input).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "drgn {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("drgn JSON")
}
