//! Live reads of address spaces that never stop changing (issue 19). Inside each fixture
//! guest, two churners run (fixtures/workloads/churn.c: one thread, and four threads
//! changing one mm at once) while `vmscope check`, `vmas` and `tree` read them again and
//! again, and `check --all` reads the whole guest. A healthy kernel must never be called
//! corrupt: `check` never exits 1; `vmas` and `tree` print one coherent state (exit 0) or
//! say in one line that no stable read could be had (exit 2), and succeed in most runs.
//!
//! The churners are not part of the dump guests' workloads (a dump must not move); they
//! are compiled here and copied into the guest, and the script starts them after the
//! guest's /proc was captured. One boot per kernel: a shell loop runs every command.

mod common;

use common::{parse_hex, parse_maps, run_in_guest_with, static_vmscope, MapsLine};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs of each command against each churner.
const RUNS: usize = 20;
/// The churners, one after the other: arguments, and whether `vmas` and `tree` must
/// read a stable state in most runs. At full speed a churner changes its tree several
/// times during one read of its ~1,500 VMAs in a TCG guest (measured here: `vmas`
/// 2-3 of 20 runs, `tree` 2 of 20 on 5.10's rb-tree + list, 20 of 20 on 6.1), so there
/// they must only refuse cleanly; four threads that pause 20 ms between changes still
/// change the mm ~150 times a second.
const CHURNERS: [(&str, bool); 2] = [("", false), ("-t 4 -p 20000", true)];
/// Runs of `check --all` (slow: the whole guest, the 60,000-VMA workload included).
const ALL_RUNS: usize = 3;

/// Runs inside the guest; $RUNS, $ALL_RUNS and $CHURNERS (one argument list a line)
/// are set in front of it. `check --all` runs while the first churner runs.
const SCRIPT: &str = r#"
O=/tmp/churn-out
busybox mkdir -p $O
export XDG_CACHE_HOME=/tmp/cache
# One churner at a time (two vCPUs: one for it, one for vmscope), its runs, then the next.
echo "$CHURNERS" | while IFS= read -r args; do
  churn $args & p=$!
  while [ ! -e /run/wl/churn-$p.ready ]; do sleep 0.1; done
  echo "$p $args" >>$O/pids
  cat /run/wl/churn-$p.ready >$O/$p.region
  cat /proc/$p/maps >$O/$p.maps
  i=0
  while [ $i -lt $RUNS ]; do
    vmscope check $p >$O/check.$p.$i.out 2>$O/check.$p.$i.err
    echo $? >$O/check.$p.$i.status
    vmscope vmas $p >$O/vmas.$p.$i.out 2>$O/vmas.$p.$i.err
    echo $? >$O/vmas.$p.$i.status
    vmscope tree $p >$O/tree.out 2>$O/tree.$p.$i.err
    echo $? >$O/tree.$p.$i.status
    head -1 $O/tree.out >$O/tree.$p.$i.head
    grep -c ISSUE $O/tree.out >$O/tree.$p.$i.issues
    i=$((i + 1))
  done
  if [ ! -e $O/all.0.status ]; then
    i=0
    while [ $i -lt $ALL_RUNS ]; do
      vmscope check --all >$O/all.$i.out 2>$O/all.$i.err
      echo $? >$O/all.$i.status
      i=$((i + 1))
    done
  fi
  kill $p
  wait $p 2>/dev/null
done
busybox rm -f $O/tree.out
busybox tar -czf - -C $O . | busybox base64
"#;

/// The churner, compiled once per test process (static, like the guest's other programs).
fn churn_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/workloads/churn.c");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("churn");
            let st = Command::new("gcc")
                .args(["-O2", "-Wall", "-Wextra", "-static", "-pthread", "-o"])
                .arg(&out)
                .arg(&src)
                .status()
                .unwrap_or_else(|e| panic!("gcc (needed for {}): {e}", src.display()));
            assert!(st.success(), "compiling {} failed", src.display());
            out
        })
        .clone()
}

/// What one kernel's guest returned.
struct Results(common::guest_files::GuestFiles);

impl std::ops::Deref for Results {
    type Target = common::guest_files::GuestFiles;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Results {
    /// Each churner's pid and arguments, in the order they ran.
    fn churners(&self) -> Vec<(i32, String)> {
        self.text("pids")
            .lines()
            .map(|l| {
                let (pid, args) = l.split_once(' ').unwrap_or((l, ""));
                (pid.parse().unwrap(), args.trim().to_string())
            })
            .collect()
    }
    /// The churned region [start, end) of a churner.
    fn region(&self, pid: i32) -> (u64, u64) {
        let t = self.text(&format!("{pid}.region"));
        let v: Vec<u64> = t
            .split_whitespace()
            .map(|x| parse_hex(x).unwrap())
            .collect();
        (v[0], v[1])
    }
}

fn boot(kernel: &str) -> Results {
    let vmscope = static_vmscope();
    let churn = churn_binary();
    let churners: Vec<&str> = CHURNERS.iter().map(|c| c.0).collect();
    let script = format!(
        "RUNS={RUNS}\nALL_RUNS={ALL_RUNS}\nCHURNERS='{}'\n{SCRIPT}",
        churners.join("\n")
    );
    let run = run_in_guest_with(
        kernel,
        Path::new("/bin/busybox"),
        &["sh", "-c", &script],
        false,
        &[
            (vmscope.as_path(), "/bin/vmscope"),
            (churn.as_path(), "/bin/churn"),
        ],
    );
    Results(common::guest_files::GuestFiles::unpack(kernel, &run))
}

/// Exit 2 is allowed only as the one line that says no stable read could be had.
fn is_unstable_line(stdout: &str, stderr: &str) -> bool {
    stdout.is_empty() && stderr.lines().count() == 1 && stderr.contains("changed on every one of")
}

/// `check` keeps its report format: the process says it could not be read stably.
fn unstable_report(out: &str, err: &str) -> bool {
    out.contains("changed on every one of") || err.contains("changed on every one of")
}

/// A listing is sane when it is sorted and non-overlapping, the lines outside the churned
/// region are those /proc/PID/maps showed before the runs (they never change), and the
/// lines inside are anonymous private mappings with one of the churner's protections.
fn listing_problem(out: &str, before: &[MapsLine], (lo, hi): (u64, u64)) -> Option<String> {
    let lines = parse_maps(out);
    for w in lines.windows(2) {
        if w[0].start >= w[0].end || w[0].end > w[1].start {
            return Some(format!(
                "unsorted or overlapping: {:?} then {:?}",
                w[0], w[1]
            ));
        }
    }
    let outside = |l: &&MapsLine| l.end <= lo || l.start >= hi;
    let (got, want): (Vec<_>, Vec<_>) = (
        lines.iter().filter(outside).collect(),
        before.iter().filter(outside).collect(),
    );
    if got != want {
        return Some(format!(
            "lines outside the churned region differ from /proc: {got:?} vs {want:?}"
        ));
    }
    let inside: Vec<&MapsLine> = lines
        .iter()
        .filter(|l| l.start < hi && l.end > lo)
        .collect();
    if inside.is_empty() {
        return Some("nothing listed in the churned region".into());
    }
    inside
        .iter()
        .find(|l| {
            l.start < lo
                || l.end > hi
                || !["r--p", "rw-p", "---p"].contains(&l.perms.as_str())
                || (l.offset, l.inode, l.dev.as_str(), l.path.as_str()) != (0, 0, "00:00", "")
        })
        .map(|l| format!("not a churned mapping: {l:?}"))
}

/// Exit statuses of one command over the runs, and the problems seen.
#[derive(Default)]
struct Tally {
    ok: usize,
    unstable: usize,
    violations: usize,
    problems: Vec<String>,
}

impl Tally {
    fn summary(&self) -> String {
        format!(
            "{} exit 0, {} exit 2 (unstable), {} exit 1",
            self.ok, self.unstable, self.violations
        )
    }
}

/// `check PID`: never exit 1; exit 2 only with the one line.
fn tally_check(r: &Results, pid: i32) -> Tally {
    let mut t = Tally::default();
    for i in 0..RUNS {
        let (out, err) = (
            r.text(&format!("check.{pid}.{i}.out")),
            r.text(&format!("check.{pid}.{i}.err")),
        );
        match r.status(&format!("check.{pid}.{i}.status")) {
            0 => t.ok += 1,
            1 => {
                t.violations += 1;
                let tail: Vec<&str> = out.lines().rev().take(2).collect();
                t.problems
                    .push(format!("check run {i}: exit 1 ({})", tail.join(" / ")));
            }
            2 if unstable_report(&out, &err) => t.unstable += 1,
            s => t.problems.push(format!("check run {i}: exit {s}: {err}")),
        }
    }
    t
}

/// `vmas PID`: exit 0 with a sane listing, or exit 2 with the one line.
fn tally_vmas(r: &Results, pid: i32) -> Tally {
    let before = parse_maps(&r.text(&format!("{pid}.maps")));
    let region = r.region(pid);
    let mut t = Tally::default();
    for i in 0..RUNS {
        let (out, err) = (
            r.text(&format!("vmas.{pid}.{i}.out")),
            r.text(&format!("vmas.{pid}.{i}.err")),
        );
        match r.status(&format!("vmas.{pid}.{i}.status")) {
            0 => match listing_problem(&out, &before, region) {
                None => t.ok += 1,
                Some(p) => t.problems.push(format!("vmas run {i}: {p}")),
            },
            2 if is_unstable_line(&out, &err) => t.unstable += 1,
            s => t
                .problems
                .push(format!("vmas run {i}: exit {s}: {}", err.trim())),
        }
    }
    t
}

/// `tree PID`: exit 0 with a whole tree (no ISSUE line), or exit 2 with the one line.
fn tally_tree(r: &Results, pid: i32) -> Tally {
    let mut t = Tally::default();
    for i in 0..RUNS {
        let err = r.text(&format!("tree.{pid}.{i}.err"));
        let head = r.text(&format!("tree.{pid}.{i}.head"));
        let issues = r.text(&format!("tree.{pid}.{i}.issues"));
        match r.status(&format!("tree.{pid}.{i}.status")) {
            0 if head.starts_with(&format!("pid {pid} ")) && issues.trim() == "0" => t.ok += 1,
            2 if is_unstable_line("", &err) => t.unstable += 1,
            s => t.problems.push(format!(
                "tree run {i}: exit {s}, {} ISSUE lines: {}",
                issues.trim(),
                err.trim()
            )),
        }
    }
    t
}

fn churn(kernel: &str) {
    let r = boot(kernel);
    let mut problems = Vec::new();
    let churners = r.churners();
    assert_eq!(churners.len(), CHURNERS.len(), "{kernel}: churners run");
    for ((pid, args), (_, stable_most)) in churners.into_iter().zip(CHURNERS) {
        for (what, t) in [
            ("check", tally_check(&r, pid)),
            ("vmas", tally_vmas(&r, pid)),
            ("tree", tally_tree(&r, pid)),
        ] {
            eprintln!("{kernel}: {what} {pid} (churn {args}): {}", t.summary());
            problems.extend(t.problems.iter().map(|p| format!("{what} {pid}: {p}")));
            let most = what != "check" && stable_most;
            if most && t.ok * 2 <= RUNS {
                problems.push(format!(
                    "{what} {pid} (churn {args}): exit 0 in only {} of {RUNS} runs",
                    t.ok
                ));
            }
        }
    }
    for i in 0..ALL_RUNS {
        let s = r.status(&format!("all.{i}.status"));
        let out = r.text(&format!("all.{i}.out"));
        let last = out.lines().last().unwrap_or("").to_string();
        eprintln!("{kernel}: check --all run {i}: exit {s}: {last}");
        if s != 0 && !(s == 2 && unstable_report(&out, &r.text(&format!("all.{i}.err")))) {
            problems.push(format!("check --all run {i}: exit {s}: {last}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{kernel}: {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn churn_5_10() {
    churn("5.10");
}

#[test]
fn churn_6_1() {
    churn("6.1");
}

/// 5-level paging (LA57) in the guest.
#[test]
fn churn_6_1_la57() {
    churn("6.1-la57");
}
