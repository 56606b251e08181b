//! `costs PID`: lookups at random addresses, insert, erase and fork on the fixture dumps
//! (5.10 rb-tree + list, 6.1 maple tree), against facts the counters cannot invent:
//! the guest's own /proc/PID/maps (one insert and one erase per VMA; the list walks
//! computed here from the maps), the red-black bounds (at most 2 rotations per insert,
//! 3 per erase; height at most 2 log2(n + 1)), the tree `tree --json` walked (maple
//! height, rb depth), and, in-process, the reimplemented trees after erasing and
//! re-inserting every VMA against the kernel's own walk and its stored gaps.

mod common;

use common::{run_vmscope, DumpFixture, MapsLine};
use serde_json::Value;
use std::time::{Duration, Instant};
use vmscope::check::maple::WalkedVma;
use vmscope::kernel::vma::VmaTree;
use vmscope::kernel::vma_layout::{VmaLayout, VmaTreeLayout};
use vmscope::kernel::Kernel;
use vmscope::memory::Memory;
use vmscope::trees::maple::MapleType;

const LONG: Duration = Duration::from_secs(300);

fn json_of(d: &DumpFixture, cmd: &[&str]) -> (Value, Duration) {
    let mut args: Vec<String> = vec![
        "--core".into(),
        d.dir.join("elf.core").display().to_string(),
        "--vmlinux".into(),
        d.vmlinux.display().to_string(),
    ];
    args.extend(cmd.iter().map(|s| s.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    let (code, out, err) = run_vmscope(&argv, LONG);
    let took = t.elapsed();
    assert_eq!(code, 0, "{cmd:?} on {}: {err}", d.name);
    (serde_json::from_str(&out).expect("JSON"), took)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}");
}

/// The list walks `find_vma()` and the churn make, from the maps alone: erasing VMA i
/// reads i + 1 entries; inserting it back reads up to its successor (i + 1 entries),
/// the last one all n - 1 others; a random address reads up to the first VMA ending
/// above it.
fn check_list(c: &Value, maps: &[MapsLine], what: &str) {
    let n = maps.len() as f64;
    close(
        f(&c["erase"][0]["avg_steps"]),
        (n + 1.0) / 2.0,
        &format!("{what}: list erase"),
    );
    let ins: f64 = (0..maps.len())
        .map(|i| if i + 1 < maps.len() { i + 1 } else { i })
        .sum::<usize>() as f64;
    close(
        f(&c["insert"][0]["avg_steps"]),
        ins / n,
        &format!("{what}: list insert"),
    );
    let ends: Vec<u64> = maps.iter().map(|m| m.end).collect();
    let addrs = vmscope::check::probes::probe_addrs(
        u(&c["seed"]),
        &ends,
        c["probes"].as_u64().unwrap() as usize,
    );
    let steps: Vec<u64> = addrs
        .iter()
        .map(|&a| (maps.iter().filter(|m| m.end <= a).count() as u64 + 1).min(maps.len() as u64))
        .collect();
    let mean = steps.iter().sum::<u64>() as f64 / steps.len() as f64;
    close(
        f(&c["random"][0]["avg_steps"]),
        mean,
        &format!("{what}: list random"),
    );
    assert_eq!(
        c["random"][0]["max_steps"].as_u64(),
        steps.iter().max().copied(),
        "{what}: list random worst"
    );
}

/// Red-black bounds on the reimplementation's counts.
fn check_rb(c: &Value, n: u64, what: &str) {
    let bound = (2.0 * ((n + 1) as f64).log2()).floor() as u64;
    for (sec, rot) in [("insert", 2), ("erase", 3)] {
        let r = &c[sec][1];
        assert_eq!(r["basis"], "model", "{what}");
        assert!(
            u(&r["max"]["rotations"]) <= rot,
            "{what}: {sec} rotations {}",
            r["max"]
        );
        assert!(
            u(&r["max_steps"]) <= bound,
            "{what}: {sec} search {} > {bound}",
            r["max_steps"]
        );
        // The pairing searches and rebalances the rb-tree, and only links the list.
        for k in ["avg_steps", "max_steps", "avg_rebalance"] {
            assert_eq!(c[sec][2][k], r[k], "{what}: {sec} pairing {k}");
        }
        // Unlinking writes both neighbours but at the ends; linking also the VMA's own two.
        let links = if sec == "erase" { 2 * n - 2 } else { 4 * n - 2 };
        assert_eq!(
            u(&c[sec][2]["total"]["links"]),
            links,
            "{what}: {sec} links"
        );
        assert_eq!(
            c[sec][2]["total"]["links"], c[sec][0]["total"]["links"],
            "{what}"
        );
    }
    assert!(
        u(&c["random"][1]["max_steps"]) <= bound,
        "{what}: rb lookup depth"
    );
}

fn check_fork(c: &Value, n: u64, what: &str) {
    let fork = c["fork"].as_array().unwrap();
    assert_eq!(fork.len(), 4, "{what}");
    for (r, row) in fork.iter().zip(c["rows"].as_array().unwrap()) {
        assert_eq!(
            r["iterate_steps"], row["iterate_steps"],
            "{what}: fork iterates"
        );
        assert_eq!(
            u(&r["total_steps"]),
            u(&r["iterate_steps"]) + u(&r["build"]["nodes"]),
            "{what}"
        );
    }
    // Before 6.1 each copy is linked after the previous one: no search, n nodes.
    for (k, r) in fork.iter().take(3).enumerate() {
        assert_eq!(u(&r["build"]["search_steps"]), 0, "{what}: fork {k}");
        assert_eq!(u(&r["build"]["nodes"]), n, "{what}: fork {k}");
    }
    // From 6.1 each store walks from the root: one node at least, but into the empty tree.
    assert!(
        u(&fork[3]["build"]["search_steps"]) >= n - 1,
        "{what}: maple stores"
    );
}

fn check_process(d: &DumpFixture, pid: i32) -> Duration {
    let what = format!("{} costs pid {pid}", d.name);
    let p = pid.to_string();
    let (c, took) = json_of(d, &["costs", &p, "--json"]);
    let (t, _) = json_of(d, &["tree", &p, "--json"]);
    let maps = d.tree_maps(pid);
    let n = maps.len() as u64;
    let mm = common::parse_hex(t["mm"].as_str().expect("mm in hex")).unwrap();
    assert_eq!(u(&c["seed"]), mm, "{what}: the default seed is the mm");
    for sec in ["random", "insert", "erase", "fork"] {
        assert_eq!(c[sec].as_array().map(Vec::len), Some(4), "{what}: {sec}");
    }
    for sec in ["insert", "erase"] {
        for r in c[sec].as_array().unwrap() {
            assert_eq!(u(&r["ops"]), n, "{what}: one {sec} per VMA of the maps");
        }
    }
    check_list(&c, &maps, &what);
    check_rb(&c, n, &what);
    check_fork(&c, n, &what);
    if t["kind"] == "maple" {
        let h = u(&t["maple"]["height"]);
        let r = &c["random"][3];
        assert_eq!(r["basis"], "measured", "{what}");
        // Every descent is the height; a hole that ends its leaf costs a second one.
        assert!(f(&r["avg_steps"]) >= h as f64, "{what}: maple random mean");
        assert!(
            [h, 2 * h].contains(&u(&r["max_steps"])),
            "{what}: maple random worst"
        );
        assert!(
            c["insert"][3]["avg_cache_lines"].is_number(),
            "{what}: maple lines"
        );
    } else {
        let deepest = t["rb"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| u(&x["depth"]))
            .max()
            .unwrap();
        let r = &c["random"][1];
        assert_eq!(r["basis"], "measured", "{what}");
        assert!(u(&r["max_steps"]) <= deepest, "{what}: rb random depth");
        assert!(
            c["insert"][1]["avg_cache_lines"].is_number(),
            "{what}: rb lines"
        );
    }
    took
}

/// Pids of the workloads: the small ones (three of them) and the 60,000-VMA one.
fn pids(d: &DumpFixture) -> (Vec<i32>, i32) {
    let w = d.workloads();
    let many = w
        .processes
        .iter()
        .find(|p| p.role == "many")
        .map(|p| p.pid)
        .expect("the many-VMA workload");
    let small = w
        .processes
        .iter()
        .map(|p| p.pid)
        .filter(|&p| p != many)
        .take(3)
        .collect();
    (small, many)
}

fn costs(name: &str) {
    let d = common::dump(name);
    let (small, many) = pids(&d);
    for pid in small {
        check_process(&d, pid);
    }
    let took = check_process(&d, many);
    eprintln!(
        "{name}: costs of the {}-VMA process took {took:?}",
        d.tree_maps(many).len()
    );
}

#[test]
fn costs_5_10_counts() {
    costs("5.10");
}

#[test]
fn costs_6_1_counts() {
    costs("6.1");
}

/// The same seed gives the same table; another seed other random addresses.
#[test]
fn costs_seed_reproducible() {
    let d = common::dump("6.1");
    let (small, _) = pids(&d);
    let p = small[0].to_string();
    let (a, _) = json_of(
        &d,
        &["costs", &p, "--json", "--seed", "7", "--probes", "500"],
    );
    let (b, _) = json_of(
        &d,
        &["costs", &p, "--json", "--seed", "7", "--probes", "500"],
    );
    assert_eq!(a, b);
    assert_eq!((u(&a["seed"]), u(&a["probes"])), (7, 500));
    check_list(&a, &d.tree_maps(small[0]), "seed 7");
}

/// The kernel's walk of one process as the check layer's VMAs, with its VMA flags.
fn walked(k: &Kernel, l: &VmaLayout, tree: &VmaTree) -> Vec<WalkedVma> {
    let pairs: Vec<(u64, u64, u64)> = match tree {
        VmaTree::Maple(s) => s
            .user_entries()
            .map(|e| (e.entry, e.first, e.last + 1))
            .collect(),
        VmaTree::Rb { list, .. } => list
            .entries
            .iter()
            .map(|e| {
                let (s, x) = e.range.expect("ranges requested");
                (e.addr, s, x)
            })
            .collect(),
    };
    pairs
        .into_iter()
        .map(|(vma, start, end)| WalkedVma {
            vma,
            start,
            end,
            flags: k.mem.read_u64(vma + l.vm_flags).expect("vm_flags"),
        })
        .collect()
}

/// Erase and re-insert every VMA of the 60,000-VMA process and the small ones: the
/// reimplementations end as they began, in the kernel's order with the kernel's gaps.
fn replay(name: &str) {
    let d = common::dump(name);
    let types = vmscope::debuginfo::dwarf::open(&d.vmlinux).unwrap_or_else(|e| panic!("{e}"));
    let dump = vmscope::memory::dump::open(&d.dir.join("elf.core").display().to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let k = Kernel::open(dump, &d.vmlinux.display().to_string(), Some(&types))
        .unwrap_or_else(|e| panic!("{e}"));
    let l = VmaLayout::probe(&types).unwrap_or_else(|e| panic!("{e}"));
    let guard = k.stack_guard_gap().unwrap();
    let (mut all, many) = pids(&d);
    all.push(many);
    for pid in all {
        let what = format!("{name} replay pid {pid}");
        let (_, mm) = k.mm_of_pid(pid).unwrap_or_else(|e| panic!("{e}"));
        let tree = k.vma_reader().unwrap().walk_tree(mm.unwrap()).unwrap();
        let vmas = walked(&k, &l, &tree);
        let maps: Vec<(u64, u64)> = d.tree_maps(pid).iter().map(|m| (m.start, m.end)).collect();
        let order: Vec<(u64, u64)> = vmas.iter().map(|v| (v.start, v.end)).collect();
        assert_eq!(order, maps, "{what}: the walk is the guest's maps");
        let ch = vmscope::check::cost_table::replay(&vmas, guard);
        ch.rb.validate().unwrap_or_else(|e| panic!("{what}: {e}"));
        ch.maple
            .validate()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let rb: Vec<(u64, u64)> = ch.rb.iter().map(|i| (i.start, i.end)).collect();
        let mt: Vec<(u64, u64)> = ch
            .maple
            .entries()
            .iter()
            .map(|r| (r.first, r.last + 1))
            .collect();
        assert_eq!(rb, order, "{what}: rb-tree order");
        assert_eq!(mt, order, "{what}: maple order");
        assert_eq!(
            ch.list,
            maps.iter().map(|m| m.0).collect::<Vec<_>>(),
            "{what}: list"
        );
        // The holes: every gap between the maps is one NULL range of the maple tree.
        let mut holes = Vec::new();
        ch.maple.for_each_range(|r| {
            if r.entry.is_none() {
                holes.push((r.first, r.last));
            }
        });
        let mut want = Vec::new();
        let mut prev = 0;
        for &(s, e) in &maps {
            if s > prev {
                want.push((prev, s - 1));
            }
            prev = e;
        }
        want.push((prev, u64::MAX));
        assert_eq!(holes, want, "{what}: maple holes");
        match (&tree, &l.tree) {
            (VmaTree::Rb { tree: t, .. }, VmaTreeLayout::RbTree { vma, .. }) => {
                let off = vma.rb_subtree_gap.expect("5.10 has rb_subtree_gap");
                let root_vma = t.root - vma.vm_rb;
                let stored = k.mem.read_u64(root_vma + off).unwrap();
                assert_eq!(
                    ch.rb.root_subtree_gap(),
                    stored,
                    "{what}: the kernel's root gap"
                );
            }
            (VmaTree::Maple(s), _) => {
                let root = s.nodes.first().expect("a root node");
                assert_eq!(root.node_type, MapleType::Arange64, "{what}: root type");
                let stored = root.gaps.iter().copied().max().expect("gaps");
                let ours = holes.iter().map(|(a, b)| (b - a).saturating_add(1)).max();
                assert_eq!(ours, Some(stored), "{what}: the kernel's largest gap");
            }
            _ => panic!("{what}: tree and layout disagree"),
        }
    }
}

#[test]
fn replay_5_10_matches_kernel() {
    replay("5.10");
}

#[test]
fn replay_6_1_matches_kernel() {
    replay("6.1");
}
