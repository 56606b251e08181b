//! `tree --svg/--dot` and `vmas --svg/--dot` on the fixture dumps (5.10 rb-tree, 6.1 maple
//! tree), against the guest's own /proc/PID/maps (every VMA once, with its range and
//! permissions; the gaps between them), `tree --json` (every node once), Graphviz's `dot`
//! (accepts the DOT and keeps its ids) and an in-process render (the picture is not blank);
//! `graph --pid` against drgn's addresses, `costs` against `tree --json`'s rows and counts
//! (the insert, erase and fork counts are checked in tests/costs.rs).

mod common;

use common::svg::{check_renders, count_before, elements, folded_counts, ids, Element};
use common::{parse_maps, run_vmscope, DumpFixture, MapsLine};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use vmscope::render::svg::strip::human;

const LONG: Duration = Duration::from_secs(120);

fn core_args(d: &DumpFixture) -> Vec<String> {
    vec![
        "--core".into(),
        d.dir.join("elf.core").display().to_string(),
        "--vmlinux".into(),
        d.vmlinux.display().to_string(),
    ]
}

/// Runs `tree PID` with `extra` args; returns (svg, dot) text and the wall time.
fn pictures(d: &DumpFixture, pid: i32, extra: &[&str], dir: &Path) -> (String, String, Duration) {
    let svg = dir.join(format!("{}-{pid}.svg", d.name));
    let dot = dir.join(format!("{}-{pid}.dot", d.name));
    let mut args = core_args(d);
    args.extend(["tree".into(), pid.to_string(), "--svg".into()]);
    args.push(svg.display().to_string());
    args.push("--dot".into());
    args.push(dot.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    let (code, out, err) = run_vmscope(&argv, LONG);
    let took = t.elapsed();
    assert_eq!(code, 0, "tree {pid} on {}: {err}", d.name);
    assert!(out.is_empty(), "a picture run prints no text: {out}");
    (common::read_text(&svg), common::read_text(&dot), took)
}

/// Node addresses of the tree as `tree --json` reports them.
fn json_nodes(d: &DumpFixture, pid: i32) -> Vec<String> {
    let mut args = core_args(d);
    args.extend(["tree".into(), pid.to_string(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_vmscope(&argv, LONG);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("tree --json");
    let (list, key) = match v["kind"].as_str() {
        Some("maple") => (&v["maple"]["nodes"], "addr"),
        _ => (&v["rb"]["nodes"], "node"),
    };
    list.as_array()
        .expect("nodes")
        .iter()
        .map(|n| n[key].as_str().expect("address").to_string())
        .collect()
}

/// The range a VMA box shows: the last word of its first line.
fn range_of(e: &Element) -> &str {
    let first = e.texts.first().map(String::as_str).unwrap_or("");
    first.split_whitespace().last().unwrap_or("")
}

/// Every VMA of maps exactly once with its range and permissions, every node once.
fn check_whole(svg: &str, maps: &[MapsLine], nodes: &[String], what: &str) {
    let els = elements(svg);
    let vmas = ids(&els, "vma-0x");
    let mut want: Vec<String> = maps
        .iter()
        .map(|l| format!("{:08x}-{:08x} {}", l.start, l.end, l.perms))
        .collect();
    let mut got: Vec<String> = vmas
        .values()
        .map(|e| {
            let perms = e
                .texts
                .get(1)
                .and_then(|t| t.split_whitespace().next())
                .unwrap_or("");
            format!("{} {perms}", range_of(e))
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{what}: VMA boxes vs /proc/PID/maps");
    let drawn: BTreeSet<String> = ids(&els, "node-0x")
        .keys()
        .map(|k| k[5..].to_string())
        .collect();
    let walked: BTreeSet<String> = nodes.iter().cloned().collect();
    assert_eq!(
        walked.len(),
        nodes.len(),
        "{what}: tree --json repeats a node"
    );
    assert_eq!(drawn, walked, "{what}: node boxes vs tree --json");
    assert!(
        ids(&els, "fold-").is_empty(),
        "{what}: a whole picture folds nothing"
    );
}

/// Graphviz accepts the DOT, and its SVG carries the same node and VMA ids.
fn check_dot(dot: &str, svg: &str, dir: &Path, what: &str) {
    let input = dir.join("graph.dot");
    std::fs::write(&input, dot).unwrap();
    let out = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(&input)
        .output()
        .expect("Graphviz's dot: install it with ./fixtures/host-tools.sh");
    assert!(
        out.status.success(),
        "{what}: dot rejected the graph: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gv = String::from_utf8(out.stdout).unwrap();
    let (gv_els, our_els) = (elements(&gv), elements(svg));
    for prefix in ["node-0x", "vma-0x", "fold-0x"] {
        let a: BTreeSet<&str> = ids(&gv_els, prefix).into_keys().collect();
        let b: BTreeSet<&str> = ids(&our_els, prefix).into_keys().collect();
        assert_eq!(a, b, "{what}: {prefix} ids of dot's rendering vs our SVG");
    }
}

/// The workload processes of a dump with fewer VMAs than a picture folds at.
fn small_pids(d: &DumpFixture) -> Vec<i32> {
    let w = d.workloads();
    let pids: Vec<i32> = w
        .processes
        .iter()
        .map(|p| p.pid)
        .filter(|&pid| d.tree_maps(pid).len() < 400)
        .collect();
    assert!(pids.len() >= 5, "{}: workloads {pids:?}", d.name);
    pids
}

fn whole_pictures(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    for pid in small_pids(&d) {
        let what = format!("{name} pid {pid}");
        let (svg, dot, _) = pictures(&d, pid, &[], dir.path());
        check_whole(&svg, &d.tree_maps(pid), &json_nodes(&d, pid), &what);
        check_dot(&dot, &svg, dir.path(), &what);
        check_renders(&svg, &what);
    }
}

#[test]
fn whole_pictures_5_10_rbtree() {
    whole_pictures("5.10");
}

#[test]
fn whole_pictures_6_1_maple() {
    whole_pictures("6.1");
}

/// The 60,000-VMA workload: the default picture is small and quick, shows the heap (or
/// `--focus`) and accounts for every node and VMA; `--full` draws each once.
fn big_picture(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    let pid = d
        .workloads()
        .processes
        .iter()
        .find(|p| p.role == "many")
        .expect("the many-VMA workload")
        .pid;
    let maps = d.tree_maps(pid);
    assert!(maps.len() > 50_000, "{name}: {} VMAs", maps.len());
    let nodes = json_nodes(&d, pid);
    let what = format!("{name} pid {pid}");

    let best = (0..3)
        .map(|_| pictures(&d, pid, &[], dir.path()))
        .min_by_key(|p| p.2)
        .unwrap();
    let (svg, dot, took) = best;
    assert!(
        svg.len() < 5 << 20,
        "{what}: default SVG is {} bytes",
        svg.len()
    );
    assert!(
        took < Duration::from_secs(1),
        "{what}: tree --svg --dot took {took:?}"
    );
    let els = elements(&svg);
    assert!(!ids(&els, "fold-0x").is_empty(), "{what}: nothing folded");
    assert_eq!(
        folded_counts(&els),
        (nodes.len(), maps.len()),
        "{what}: drawn + folded vs the tree"
    );
    let heap = maps
        .iter()
        .find(|l| l.path == "[heap]")
        .expect("the workload has a heap");
    let shown = |els: &[Element], l: &MapsLine| {
        let r = format!("{:08x}-{:08x}", l.start, l.end);
        ids(els, "vma-0x").values().any(|e| range_of(e) == r)
    };
    assert!(
        shown(&els, heap),
        "{what}: the heap is not drawn by default"
    );
    check_dot(&dot, &svg, dir.path(), &what);
    check_renders(&svg, &what);

    // --focus: a VMA in the middle of the address space comes into view.
    let mid = &maps[maps.len() / 2];
    let (svg, _, _) = pictures(
        &d,
        pid,
        &["--focus", &format!("{:#x}", mid.start)],
        dir.path(),
    );
    let els = elements(&svg);
    assert!(
        shown(&els, mid),
        "{what}: --focus {:#x} not drawn",
        mid.start
    );
    assert_eq!(
        folded_counts(&els),
        (nodes.len(), maps.len()),
        "{what} --focus"
    );

    let (svg, _, _) = pictures(&d, pid, &["--full"], dir.path());
    check_whole(&svg, &maps, &nodes, &format!("{what} --full"));
}

#[test]
fn big_picture_5_10_rbtree() {
    big_picture("5.10");
}

#[test]
fn big_picture_6_1_maple() {
    big_picture("6.1");
}

/// Runs `vmas PID --svg --dot`; returns (svg, dot).
fn strip(d: &DumpFixture, pid: i32, dir: &Path) -> (String, String) {
    let svg = dir.join(format!("{}-{pid}-strip.svg", d.name));
    let dot = dir.join(format!("{}-{pid}-strip.dot", d.name));
    let mut args = core_args(d);
    args.extend(["vmas".into(), pid.to_string(), "--svg".into()]);
    args.push(svg.display().to_string());
    args.push("--dot".into());
    args.push(dot.display().to_string());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_vmscope(&argv, LONG);
    assert_eq!(code, 0, "vmas {pid} on {}: {err}", d.name);
    assert!(out.is_empty(), "a picture run prints no text: {out}");
    (common::read_text(&svg), common::read_text(&dot))
}

/// Every line of maps once (range, permissions, path; heap and stack by kind), and a
/// band for every hole between them with its size.
fn check_strip(svg: &str, maps: &[MapsLine], what: &str) {
    let els = elements(svg);
    let vmas = ids(&els, "vma-0x");
    let mut got: Vec<&str> = vmas.values().map(|e| e.texts[1].as_str()).collect();
    let mut want: Vec<String> = maps
        .iter()
        .map(|l| format!("{:08x}-{:08x} {} {}", l.start, l.end, l.perms, l.path))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{what}: strip labels vs /proc/PID/maps");
    let doc = roxmltree::Document::parse(svg).unwrap();
    let class_of = |path: &str| {
        let l = maps.iter().find(|l| l.path == path)?;
        let r = format!("{:08x}-{:08x}", l.start, l.end);
        let g = doc.descendants().find(|n| {
            n.attribute("class").is_some_and(|c| c.starts_with("vma"))
                && n.children()
                    .any(|c| c.text().is_some_and(|t| t.starts_with(&r)))
        })?;
        g.attribute("class").map(str::to_string)
    };
    for (path, class) in [("[heap]", "vma heap"), ("[stack]", "vma stack")] {
        if maps.iter().any(|l| l.path == path) {
            assert_eq!(class_of(path).as_deref(), Some(class), "{what}: {path}");
        }
    }
    // The holes of maps, from 0 to the top of user space (47-bit on these dumps).
    let mut want_gaps = Vec::new();
    let mut at = 0u64;
    for l in maps {
        if l.start > at {
            want_gaps.push(format!("gap {}", human(l.start - at)));
        }
        at = at.max(l.end);
    }
    if at < 0x7fff_ffff_f000 {
        want_gaps.push(format!("gap {}", human(0x7fff_ffff_f000 - at)));
    }
    let gaps: Vec<&str> = doc
        .descendants()
        .filter_map(|n| {
            n.text()
                .filter(|t| n.has_tag_name("text") && t.starts_with("gap "))
        })
        .collect();
    assert_eq!(gaps, want_gaps, "{what}: gap bands vs the holes of maps");
}

fn strips(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    for pid in small_pids(&d) {
        let what = format!("{name} pid {pid} strip");
        let text = common::read_text(&d.proc_dir().join(format!("{pid}/maps")));
        let (svg, dot) = strip(&d, pid, dir.path());
        check_strip(&svg, &parse_maps(&text), &what);
        check_dot(&dot, &svg, dir.path(), &what);
        check_renders(&svg, &what);
    }
}

#[test]
fn strips_5_10() {
    strips("5.10");
}

#[test]
fn strips_6_1() {
    strips("6.1");
}

/// pahole's top-level named members of one struct: name -> (offset, size, bit offset).
fn pahole_members(text: &str) -> BTreeMap<String, (u64, u64, Option<u64>)> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        if rest.starts_with(['\t', ' ', '/', '}']) {
            continue;
        }
        let (Some(c), Some(e)) = (line.rfind("/*"), line.rfind("*/")) else {
            continue;
        };
        let Some(decl) = line[..c].trim_end().strip_suffix(';') else {
            continue;
        };
        // A forced alignment follows the name: `se __attribute__((__aligned__(64)))`.
        let decl = decl.split(" __attribute__").next().unwrap_or(decl);
        let name = decl.rsplit([' ', '\t', '*']).next().unwrap_or("");
        let name = name.split([':', '[']).next().unwrap_or("").to_string();
        // "offset size" or, for a bitfield, "offset:bit size" (":" may touch the bit).
        let comment = line[c + 2..e].replace(':', ": ");
        let nums: Vec<&str> = comment.split_whitespace().collect();
        let (off, bit) = match nums.first().and_then(|n| n.strip_suffix(':')) {
            Some(o) => (o, nums.get(1).map(|b| b.parse().unwrap())),
            None => (nums[0], None),
        };
        let size = nums.last().unwrap().parse().unwrap();
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            m.insert(name, (off.parse().unwrap(), size, bit));
        }
    }
    m
}

/// `layout NAME --svg`: each member box where pahole puts the member, holes as pahole counts them.
#[test]
fn layout_grids_match_pahole() {
    let d = common::dump("6.1");
    let dir = tempfile::tempdir().unwrap();
    for name in ["task_struct", "vm_area_struct", "file", "inode"] {
        let want_text = common::pahole::pahole_btf(&d.vmlinux, &["-C", name]);
        let want = pahole_members(&want_text);
        assert!(want.len() > 5, "{name}: pahole printed {want_text}");
        let out = dir.path().join(format!("{name}.svg"));
        let btf = d.vmlinux.display().to_string();
        let (code, _, err) = run_vmscope(
            &[
                "layout",
                "--btf",
                &btf,
                name,
                "--svg",
                out.to_str().unwrap(),
            ],
            LONG,
        );
        assert_eq!(code, 0, "{err}");
        let svg = common::read_text(&out);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let num = |n: roxmltree::Node, a: &str| n.attribute(a).map(|v| v.parse::<u64>().unwrap());
        let got: BTreeMap<String, (u64, u64, Option<u64>)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("member"))
            .filter_map(|n| {
                let name = n.attribute("data-name")?;
                (!name.starts_with('(')).then(|| {
                    (
                        name.to_string(),
                        (
                            num(n, "data-offset").unwrap(),
                            num(n, "data-size").unwrap(),
                            num(n, "data-bit-offset"),
                        ),
                    )
                })
            })
            .collect();
        assert_eq!(got, want, "{name}: member boxes vs pahole");
        // pahole's "holes: N, sum holes: M" against the hatched holes.
        let holes: Vec<u64> = doc
            .descendants()
            .filter(|n| n.attribute("id").is_some_and(|i| i.starts_with("hole-")))
            .map(|n| {
                n.children()
                    .find(|c| c.has_tag_name("text"))
                    .and_then(|t| t.text())
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        let field = |key: &str| {
            want_text.split(key).nth(1).map(|r| {
                r.trim_start()
                    .split([',', ' '])
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
        };
        assert_eq!(
            holes.len() as u64,
            field("holes:").unwrap_or(0),
            "{name}: hole count"
        );
        assert_eq!(
            holes.iter().sum::<u64>(),
            field("sum holes:").unwrap_or(0),
            "{name}: hole bytes"
        );
        check_renders(&svg, &format!("layout {name}"));
    }
}

/// Runs `graph --pid PID --svg --dot`; returns (svg, dot).
fn graph_files(d: &DumpFixture, pid: i32, dir: &Path) -> (String, String) {
    let svg = dir.join(format!("graph-{}-{pid}.svg", d.name));
    let dot = dir.join(format!("graph-{}-{pid}.dot", d.name));
    let mut args = core_args(d);
    args.extend(["graph".into(), "--pid".into(), pid.to_string()]);
    args.extend(["--svg".into(), svg.display().to_string()]);
    args.extend(["--dot".into(), dot.display().to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_vmscope(&argv, LONG);
    assert_eq!(code, 0, "graph --pid {pid} on {}: {err}", d.name);
    assert!(out.is_empty(), "a picture run prints no text: {out}");
    (common::read_text(&svg), common::read_text(&dot))
}

/// The member names on the links from `from` to objects whose id starts with `to`.
fn links<'a>(els: &'a [Element], from: &str, to: &str) -> Vec<(&'a str, &'a str)> {
    let head = format!("edge-{from}-{to}");
    els.iter()
        .filter(|e| e.id.starts_with(&head))
        .map(|e| {
            let target = &e.id[format!("edge-{from}-").len()..];
            (target, e.texts.first().map(String::as_str).unwrap_or(""))
        })
        .collect()
}

/// `graph --pid`: task and mm at drgn's addresses, the pgd and the tree root at the
/// addresses drgn reads from that mm, every VMA drawn or folded in the guest's maps
/// order with its range, permissions and path, files linked by `vm_file`.
fn graphs(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    let ps = d.drgn_ps();
    let maple = name != "5.10";
    let pids: Vec<i32> = small_pids(&d).into_iter().take(4).collect();
    let root = if maple { "mm_mt" } else { "mm_rb" };
    let exprs: Vec<String> = pids
        .iter()
        .flat_map(|p| {
            [
                format!("find_task(prog, {p}).mm.pgd"),
                format!("find_task(prog, {p}).mm.{root}.address_of_()"),
            ]
        })
        .collect();
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let want = common::drgn_eval(&d, &exprs);
    let mut folded = 0;
    for (pid, oracle) in pids.iter().zip(want.chunks(2)) {
        let what = format!("{name} graph pid {pid}");
        let (svg, dot) = graph_files(&d, *pid, dir.path());
        let els = elements(&svg);
        let t = ps
            .iter()
            .find(|t| t.pid == *pid)
            .expect("drgn ps has the pid");
        let (task, mm) = (
            format!("task-{:#x}", t.task),
            format!("mm-{:#x}", t.mm.unwrap()),
        );
        assert_eq!(links(&els, &task, "mm-"), [(mm.as_str(), "mm")], "{what}");
        let pgd = format!("pgd-{:#x}", oracle[0]["value"].as_u64().unwrap());
        assert_eq!(links(&els, &mm, "pgd-"), [(pgd.as_str(), "pgd")], "{what}");
        let kind = if maple { "maple_tree" } else { "rb_root" };
        let r = format!("{kind}-{:#x}", oracle[1]["value"].as_u64().unwrap());
        let to_root = links(&els, &mm, kind);
        assert_eq!(to_root.len(), 1, "{what}: {to_root:?}");
        assert_eq!(to_root[0].0, r, "{what}");
        assert!(to_root[0].1.starts_with(root), "{what}: {to_root:?}");

        // The drawn VMAs are the first of maps, each linked from the root; the rest folded.
        let maps = d.tree_maps(*pid);
        let drawn: Vec<&Element> = els.iter().filter(|e| e.id.starts_with("vma-")).collect();
        let fold = els.iter().find(|e| e.id == "fold-vmas");
        let rest = fold.map_or(0, |f| count_before(&f.texts[0], "more"));
        assert_eq!(drawn.len() + rest, maps.len(), "{what}");
        folded += usize::from(fold.is_some());
        for (e, m) in drawn.iter().zip(&maps) {
            let range = format!("{:08x}-{:08x} {}", m.start, m.end, m.perms);
            assert_eq!(e.texts[1], range, "{what}: {}", e.id);
            assert_eq!(e.texts[2], m.path, "{what}: {}", e.id);
            assert_eq!(links(&els, &r, &e.id).len(), 1, "{what}: {r} -> {}", e.id);
            let files = links(&els, &e.id, "file-");
            let file_backed = m.inode != 0;
            assert_eq!(files.len(), usize::from(file_backed), "{what}: {}", e.id);
            for (f, member) in files {
                assert_eq!(member, "vm_file");
                let fe = els.iter().find(|x| x.id == f).expect("file box");
                assert_eq!(fe.texts[1], m.path, "{what}: {f}");
            }
        }
        if !maple {
            // mm->mmap to the first VMA, then vm_next down the column.
            let first = drawn.first().map(|e| e.id.as_str()).unwrap();
            assert_eq!(links(&els, &mm, "vma-")[0].0, first, "{what}");
            let next = els
                .iter()
                .filter(|e| e.texts.first().map(String::as_str) == Some("vm_next"));
            assert_eq!(
                next.count(),
                drawn.len() - 1 + usize::from(fold.is_some()),
                "{what}"
            );
        }
        check_dot(&dot, &svg, dir.path(), &what);
        check_renders(&svg, &what);
    }
    assert!(folded > 0, "{name}: no process had VMAs folded");
}

#[test]
fn graphs_5_10_rbtree() {
    graphs("5.10");
}

#[test]
fn graphs_6_1_maple() {
    graphs("6.1");
}

/// `costs PID --json` (and `tree PID --json`) parsed.
fn json_of(d: &DumpFixture, cmd: &[&str]) -> serde_json::Value {
    let mut args = core_args(d);
    args.extend(cmd.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_vmscope(&argv, LONG);
    assert_eq!(code, 0, "{cmd:?} on {}: {err}", d.name);
    serde_json::from_str(&out).expect("JSON")
}

/// `costs`: the rows `tree` prints plus the rb-tree + list pairing; the counts agree
/// with the tree's own (VMAs = the guest's maps, nodes, height); the chart's bars carry
/// the table's values.
fn costs(name: &str) {
    let d = common::dump(name);
    let dir = tempfile::tempdir().unwrap();
    for pid in small_pids(&d).into_iter().take(3) {
        let what = format!("{name} costs pid {pid}");
        let p = pid.to_string();
        let c = json_of(&d, &["costs", &p, "--json"]);
        let t = json_of(&d, &["tree", &p, "--json"]);
        let rows = c["rows"].as_array().unwrap();
        let tree_rows = t["cost"].as_array().unwrap();
        assert_eq!(rows.len(), 4, "{what}");
        let mut without = rows.clone();
        let both = without.remove(2);
        assert_eq!(&without, tree_rows, "{what}: the rows tree prints");
        for k in ["avg_steps", "max_steps", "avg_cache_lines"] {
            assert_eq!(both[k], rows[1][k], "{what}: {k} from the rb-tree");
        }
        for k in ["iterate_steps", "iterate_cache_lines"] {
            assert_eq!(both[k], rows[0][k], "{what}: {k} from the list");
        }
        let n = d.tree_maps(pid).len() as u64;
        assert_eq!(c["vmas"].as_u64(), Some(n), "{what}");
        assert_eq!(rows[0]["iterate_steps"].as_u64(), Some(n), "{what}: list");
        if t["kind"] == "maple" {
            let nodes = t["maple"]["nodes"].as_array().unwrap().len() as u64;
            assert_eq!(rows[3]["basis"], "measured", "{what}");
            assert_eq!(rows[3]["iterate_steps"].as_u64(), Some(nodes), "{what}");
            assert_eq!(rows[3]["max_steps"], t["maple"]["height"], "{what}");
        } else {
            let nodes = t["rb"]["nodes"].as_array().unwrap();
            let deepest = nodes.iter().filter_map(|x| x["depth"].as_u64()).max();
            assert_eq!(nodes.len() as u64, n, "{what}: one rb node per VMA");
            assert_eq!(rows[1]["basis"], "measured", "{what}");
            assert_eq!(rows[1]["iterate_steps"].as_u64(), Some(2 * n), "{what}");
            assert_eq!(rows[1]["max_steps"].as_u64(), deepest, "{what}");
        }

        let svg_path = dir.path().join(format!("costs-{pid}.svg"));
        let mut args = core_args(&d);
        args.extend(["costs".into(), p.clone(), "--svg".into()]);
        args.push(svg_path.display().to_string());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run_vmscope(&argv, LONG);
        assert_eq!((code, out.as_str()), (0, ""), "{what}: {err}");
        let svg = common::read_text(&svg_path);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let mut bars = 0;
        for b in doc
            .descendants()
            .filter(|x| x.attribute("class") == Some("bar"))
        {
            let id = b.attribute("id").unwrap();
            let (measure, row) = id["bar-".len()..].rsplit_once('-').unwrap();
            let row: usize = row.parse().unwrap();
            // `insert.avg_nodes`: a later section of the JSON; a bare name: `rows`.
            let want = match measure.split_once('.') {
                Some((sec, m)) => c[sec][row][m].as_f64().unwrap(),
                None => rows[row][measure].as_f64().unwrap(),
            };
            let got: f64 = b.attribute("data-value").unwrap().parse().unwrap();
            assert!((got - want).abs() < 1e-9, "{what}: {id} {got} vs {want}");
            bars += 1;
        }
        // Lookups 5, random 2, insert 3, erase 3, fork 1: a bar per measure and row.
        assert_eq!(bars, 14 * rows.len(), "{what}: a bar per measure and row");
        check_renders(&svg, &what);
    }
}

#[test]
fn costs_5_10_rbtree() {
    costs("5.10");
}

#[test]
fn costs_6_1_maple() {
    costs("6.1");
}
