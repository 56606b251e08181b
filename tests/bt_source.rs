//! `vmscope bt --json` with the vmlinux's DWARF: each frame's source file:line and the
//! functions inlined at its pc, for every task of every fixture dump. Oracle: drgn's
//! stack traces with their inline frames and `source()` (drgn-source/bt.json,
//! fixtures/source_oracle.py). Files are compared by basename: drgn joins the unit's
//! directory where vmscope keeps the path as the line table names it.

mod common;

use serde::Deserialize;
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct DrgnFrame {
    name: String,
    inline: bool,
    file: Option<String>,
    line: u64,
    user: bool,
}

#[derive(Deserialize)]
struct DrgnTrace {
    task: String,
    pid: i64,
    error: Option<String>,
    frames: Vec<DrgnFrame>,
}

/// `basename:line`, None when the line is unknown.
type Pos = Option<String>;

fn pos(file: Option<&str>, line: u64) -> Pos {
    let file = file?;
    (line > 0).then(|| format!("{}:{line}", file.rsplit('/').next().unwrap_or(file)))
}

/// One frame as both sides describe it: the inlined functions at its pc (innermost
/// first) with their positions, then the position in the frame's own function.
#[derive(Debug, PartialEq)]
struct Group {
    inlined: Vec<(String, Pos)>,
    own: Pos,
}

/// drgn's frames grouped by pc: inline frames, then the function holding them; up to
/// the first user-space frame or the first frame without a function (drgn goes on
/// past the end of the kernel stack).
fn drgn_groups(t: &DrgnTrace) -> Vec<Group> {
    let mut out = Vec::new();
    let mut inlined = Vec::new();
    for f in &t.frames {
        if f.user || f.name.starts_with("0x") {
            break;
        }
        let p = pos(f.file.as_deref(), f.line);
        if f.inline {
            inlined.push((f.name.clone(), p));
        } else {
            out.push(Group {
                inlined: std::mem::take(&mut inlined),
                own: p,
            });
        }
    }
    out
}

fn our_groups(t: &J) -> Vec<Group> {
    let text = |v: &J| v.as_str().map(str::to_string);
    t["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let own = &f["source"];
            Group {
                inlined: f["inlined"]
                    .as_array()
                    .expect("inlined: DWARF given")
                    .iter()
                    .map(|i| {
                        let p = pos(text(&i["file"]).as_deref(), i["line"].as_u64().unwrap_or(0));
                        (text(&i["function"]).unwrap(), p)
                    })
                    .collect(),
                own: pos(
                    text(&own["file"]).as_deref(),
                    own["line"].as_u64().unwrap_or(0),
                ),
            }
        })
        .collect()
}

/// Every dump with drgn's source oracle: build.sh's dumps and the panic dumps.
fn dumps() -> Vec<(String, PathBuf)> {
    let out = common::dump_runs::dumps_and_panic_dumps();
    for (name, dir) in &out {
        assert!(
            dir.join("drgn-source/.stamp").is_file(),
            "{name}: no drgn-source oracle in {}: run ./fixtures/build-source.sh",
            dir.display()
        );
    }
    out
}

fn bt_json(dir: &Path, extra: &[&str]) -> Vec<J> {
    let args = [&["--all", "--json"], extra].concat();
    let (out, err) = common::dump_runs::run_ok(
        "bt",
        &dir.join("elf.core"),
        &dir.join("vmlinux"),
        &args,
        TIMEOUT,
    );
    assert!(err.is_empty(), "{}: warnings: {err}", dir.display());
    serde_json::from_str(&out).unwrap()
}

#[test]
fn every_frame_has_drgns_inlined_calls_and_source_lines() {
    for (name, dir) in dumps() {
        let drgn: Vec<DrgnTrace> = common::read_json(&dir.join("drgn-source/bt.json"));
        let ours = bt_json(&dir, &[]);
        let by_task: BTreeMap<&str, &J> = ours
            .iter()
            .map(|t| (t["task"].as_str().unwrap(), t))
            .collect();
        let (mut frames, mut inlined) = (0, 0);
        for d in drgn.iter().filter(|d| d.error.is_none()) {
            let o = by_task
                .get(d.task.as_str())
                .unwrap_or_else(|| panic!("{name}: no task {} (pid {})", d.task, d.pid));
            let want = drgn_groups(d);
            let got = our_groups(o);
            assert_eq!(got, want, "{name}: pid {} ({})", d.pid, d.task);
            frames += want.len();
            inlined += want.iter().map(|g| g.inlined.len()).sum::<usize>();
        }
        // The comparison is not vacuous: positions and inlined calls were there to compare.
        assert!(
            frames > 100 && inlined > 20,
            "{name}: {frames} frames, {inlined} inlined"
        );
    }
}

#[test]
fn no_source_leaves_the_frames_as_they_were() {
    let (name, dir) = dumps().into_iter().next().unwrap();
    let with = bt_json(&dir, &[]);
    let without = bt_json(&dir, &["--no-source"]);
    assert_eq!(with.len(), without.len(), "{name}");
    for (a, b) in with.iter().zip(&without) {
        let fa = a["frames"].as_array().unwrap();
        let fb = b["frames"].as_array().unwrap();
        assert_eq!(fa.len(), fb.len(), "{name}");
        for (x, y) in fa.iter().zip(fb) {
            assert!(y.get("source").is_none() && y.get("inlined").is_none());
            assert!(x.get("inlined").is_some(), "{name}: {x}");
            assert_eq!((&x["function"], &x["pc"]), (&y["function"], &y["pc"]));
        }
    }
}
