//! Corrupted copies of real dumps: a helper copies the ELF dump (sparse, into a
//! tempdir; the original is never opened for writing), finds the physical
//! address and file offset of a tree node field and patches the copy. Each
//! corruption must be reported by `vmscope check` as a finding naming that node
//! and field, with exit status 1, no panic and no hang.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmscope::kernel::vma::VmaTree;
use vmscope::kernel::vma_layout::{VmaLayout, VmaTreeLayout};
use vmscope::kernel::Kernel;
use vmscope::memory::Memory;
use vmscope::trees::maple::{MapleSnapshot, MapleType};
use vmscope::trees::rbtree::{RbSnapshot, RB_BLACK, RB_RED};

const WORKLOAD: &str = "wl-many";

/// A sparse copy of one fixture dump, opened through vmscope's library to find
/// where tree nodes live in the file.
struct Copy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    vmlinux: PathBuf,
    kernel: Kernel,
    layout: VmaLayout,
    pid: i32,
    mm: u64,
    /// (file offset, paddr, filesz) of every PT_LOAD.
    loads: Vec<(u64, u64, u64)>,
}

fn elf_loads(path: &Path) -> Vec<(u64, u64, u64)> {
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh)
        .unwrap_or_else(|e| panic!("ELF header: {e}"));
    assert_eq!(&eh[..4], b"\x7fELF");
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let phoff = u64_at(&eh, 0x20);
    let phentsize = u64::from(u16::from_le_bytes([eh[0x36], eh[0x37]]));
    let phnum = u16::from_le_bytes([eh[0x38], eh[0x39]]);
    assert_ne!(
        phnum, 0xffff,
        "PN_XNUM dumps are not handled by this helper"
    );
    let mut out = Vec::new();
    for i in 0..u64::from(phnum) {
        let mut ph = [0u8; 56];
        f.seek(SeekFrom::Start(phoff + i * phentsize))
            .unwrap_or_else(|e| panic!("{e}"));
        f.read_exact(&mut ph).unwrap_or_else(|e| panic!("{e}"));
        if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == 1 {
            out.push((u64_at(&ph, 8), u64_at(&ph, 24), u64_at(&ph, 32)));
        }
    }
    out
}

impl Copy {
    fn new(name: &str) -> Copy {
        let d = common::fixtures_root().join("dumps").join(name);
        let src = d.join("elf.core");
        assert!(
            src.exists(),
            "{} missing: run ./fixtures/build.sh",
            src.display()
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("elf.core");
        let st = Command::new("cp")
            .args(["--reflink=auto", "--sparse=always"])
            .arg(&src)
            .arg(&path)
            .status()
            .unwrap_or_else(|e| panic!("cp: {e}"));
        assert!(st.success(), "cp failed");
        // The fixture files are read-only; the copy must be writable.
        let mut perm = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&path, perm).unwrap_or_else(|e| panic!("{e}"));

        let vmlinux = d.join("vmlinux");
        let types = vmscope::debuginfo::dwarf::open(&vmlinux).unwrap_or_else(|e| panic!("{e}"));
        let dump = vmscope::memory::dump::open(&path.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let kernel = Kernel::open(dump, &vmlinux.display().to_string(), Some(&types))
            .unwrap_or_else(|e| panic!("{e}"));
        let layout = VmaLayout::probe(&types).unwrap_or_else(|e| panic!("{e}"));
        let t = kernel
            .tasks()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .find(|t| t.comm == WORKLOAD && t.pid == t.tgid)
            .unwrap_or_else(|| panic!("no {WORKLOAD} process in {name}"));
        let loads = elf_loads(&path);
        Copy {
            _dir: dir,
            path,
            vmlinux,
            kernel,
            layout,
            pid: t.pid,
            mm: t.mm.unwrap_or(0),
            loads,
        }
    }

    fn tree(&self) -> VmaTree {
        let r = self.kernel.vma_reader().unwrap_or_else(|e| panic!("{e}"));
        r.walk_tree(self.mm).unwrap_or_else(|e| panic!("{e}"))
    }

    fn file_offset(&self, va: u64) -> u64 {
        let pa = self
            .kernel
            .mem
            .to_phys(va)
            .unwrap_or_else(|e| panic!("{va:#x}: {e}"));
        self.loads
            .iter()
            .find(|&&(_, p, n)| pa >= p && pa + 8 <= p + n)
            .map(|&(o, p, _)| o + (pa - p))
            .unwrap_or_else(|| panic!("paddr {pa:#x} not in any PT_LOAD"))
    }

    /// Write `v` at kernel virtual address `va` in the copy; returns the old bytes.
    fn poke(&self, va: u64, v: u64) -> [u8; 8] {
        let old = self
            .kernel
            .mem
            .read_u64(va)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_le_bytes();
        self.write_at(va, &v.to_le_bytes());
        old
    }

    fn write_at(&self, va: u64, bytes: &[u8; 8]) {
        let off = self.file_offset(va);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap_or_else(|e| panic!("{e}"));
        f.seek(SeekFrom::Start(off))
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Run `vmscope check PID --json` on the copy, at most two minutes.
    fn check(&self) -> (Option<i32>, serde_json::Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .arg("check")
            .arg("--core")
            .arg(&self.path)
            .arg("--vmlinux")
            .arg(&self.vmlinux)
            .arg(self.pid.to_string())
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                break st;
            }
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!("vmscope check hung on the corrupted dump");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = reader.join().unwrap_or_default();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(!err.contains("panicked"), "vmscope panicked: {err}");
        let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {err}"));
        (status.code(), doc)
    }

    /// Patch, check, expect a finding `check` at `node` whose field starts with `field`, restore.
    fn expect(&self, what: &str, patches: &[(u64, u64)], check: &str, node: u64, field: &str) {
        let olds: Vec<(u64, [u8; 8])> = patches
            .iter()
            .map(|&(va, v)| (va, self.poke(va, v)))
            .collect();
        let (code, doc) = self.check();
        for (va, old) in olds.iter().rev() {
            self.write_at(*va, old);
        }
        let findings: Vec<&serde_json::Value> = doc["processes"][0]["findings"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let want_node = format!("{node:#x}");
        let hit = findings.iter().any(|f| {
            f["check"] == check
                && f["node"] == want_node.as_str()
                && f["field"].as_str().is_some_and(|s| s.starts_with(field))
        });
        assert!(
            hit,
            "{what}: no {check} finding at {want_node} {field}; got {findings:#?}"
        );
        assert_eq!(code, Some(1), "{what}: exit status");
        println!(
            "{what}: reported as {check} at {want_node} {field} ({} findings)",
            findings.len()
        );
    }
}

fn maple(tree: &VmaTree) -> &MapleSnapshot {
    match tree {
        VmaTree::Maple(s) => s,
        VmaTree::Rb { .. } => panic!("expected a maple tree"),
    }
}

fn rb(tree: &VmaTree) -> (&RbSnapshot, &vmscope::trees::list::ListSnapshot) {
    match tree {
        VmaTree::Rb { tree, list } => (tree, list),
        VmaTree::Maple(_) => panic!("expected an rb-tree"),
    }
}

#[test]
fn corrupted_maple_tree_6_1() {
    let c = Copy::new("6.1");
    // The unmodified copy passes.
    let (code, _) = c.check();
    assert_eq!(code, Some(0), "clean copy");
    let tree = c.tree();
    let s = maple(&tree);
    assert!(s.height >= 3, "{WORKLOAD} tree height {}", s.height);
    let VmaTreeLayout::Maple { maple: o, .. } = &c.layout.tree else {
        panic!("layout")
    };

    // A pivot out of order in a leaf.
    let leaf = s
        .nodes
        .iter()
        .find(|n| n.node_type == MapleType::Leaf64 && n.came_from.is_some() && n.slots.len() >= 4)
        .unwrap_or_else(|| panic!("no leaf"));
    c.expect(
        "pivot out of order",
        &[
            (leaf.addr + o.range64_pivot, leaf.pivots[1]),
            (leaf.addr + o.range64_pivot + 8, leaf.pivots[0]),
        ],
        "maple.pivots",
        leaf.addr,
        "pivot[1]",
    );

    // A wrong gap in the root.
    let root = &s.nodes[0];
    c.expect(
        "wrong gap",
        &[(root.addr + o.arange64_gap, root.gaps[0] + 0x1000)],
        "maple.gaps",
        root.addr,
        "gap[0]",
    );

    // A broken parent pointer: the leaf claims another slot of its parent.
    let (p, slot) = leaf.came_from.unwrap_or((0, 0));
    let bogus = p | (u64::from((slot + 1) % 10) << 3) | 6;
    c.expect(
        "broken parent pointer",
        &[(leaf.addr, bogus)],
        "maple.parent",
        leaf.addr,
        "parent",
    );

    // A node pointing back at its ancestor (the root).
    let inner = s
        .nodes
        .iter()
        .find(|n| n.node_type == MapleType::Arange64 && n.came_from.is_some())
        .unwrap_or_else(|| panic!("no inner node"));
    c.expect(
        "node pointing at its ancestor",
        &[(inner.addr + o.arange64_slot, s.ma_root & !2)],
        "maple.cycle",
        inner.addr,
        "slot[0]",
    );

    // A dead node: its parent points at itself.
    c.expect(
        "dead node",
        &[(leaf.addr, leaf.addr)],
        "maple.dead",
        leaf.addr,
        "parent",
    );
}

#[test]
fn corrupted_rb_tree_5_10() {
    let c = Copy::new("5.10");
    let (code, _) = c.check();
    assert_eq!(code, Some(0), "clean copy");
    let tree = c.tree();
    let (t, list) = rb(&tree);
    let VmaTreeLayout::RbTree {
        rb: ro,
        vma: vo,
        list: lo,
        ..
    } = &c.layout.tree
    else {
        panic!("layout")
    };
    let by: std::collections::HashMap<u64, &vmscope::trees::rbtree::RbNodeSnap> =
        t.nodes.iter().map(|n| (n.node, n)).collect();
    let red = |a: u64| by.get(&a).is_some_and(|n| n.color == RB_RED);

    // Wrong colour making a red-red edge: a black node with a black parent and a red child.
    let x = t
        .nodes
        .iter()
        .find(|n| {
            n.color == RB_BLACK && n.parent != 0 && !red(n.parent) && (red(n.left) || red(n.right))
        })
        .unwrap_or_else(|| panic!("no candidate node"));
    c.expect(
        "red-red edge",
        &[(x.node + ro.rb_parent_color, x.parent_color & !1)],
        "rb.color",
        x.node,
        "__rb_parent_color",
    );

    // A wrong rb_subtree_gap.
    let v = t.nodes[t.nodes.len() / 2]
        .vma
        .unwrap_or_else(|| panic!("no vma"));
    let gap_off = vo
        .rb_subtree_gap
        .unwrap_or_else(|| panic!("no rb_subtree_gap"));
    let g = v.rb_subtree_gap.unwrap_or(0);
    c.expect(
        "wrong rb_subtree_gap",
        &[(v.vma + gap_off, g + 0x1000)],
        "rb.subtree_gap",
        v.vma,
        "rb_subtree_gap",
    );

    // A list link skipping a VMA.
    let k = list.entries.len() / 3;
    let (a, skip) = (list.entries[k].addr, list.entries[k + 2].addr);
    c.expect(
        "list link skipping a VMA",
        &[(a + lo.next, skip)],
        "rb.list",
        a,
        "vm_next",
    );

    // A broken parent pointer.
    let y = t
        .nodes
        .iter()
        .find(|n| n.parent != 0 && n.parent != t.nodes[0].node)
        .unwrap_or_else(|| panic!("no node"));
    c.expect(
        "broken parent pointer",
        &[(
            y.node + ro.rb_parent_color,
            t.nodes[0].node | (y.parent_color & 1),
        )],
        "rb.parent",
        y.node,
        "__rb_parent_color",
    );

    // A node pointing back at its ancestor (the root).
    let leaf = t
        .nodes
        .iter()
        .find(|n| n.left == 0 && n.depth > 2)
        .unwrap_or_else(|| panic!("no leaf"));
    c.expect(
        "node pointing at its ancestor",
        &[(leaf.node + ro.rb_left, t.root)],
        "rb.cycle",
        leaf.node,
        "rb_left",
    );
}

impl Copy {
    /// Run vmscope on the copy with `args` (at most two minutes): (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let core = self.path.display().to_string();
        let vmlinux = self.vmlinux.display().to_string();
        let mut all = vec!["--core", core.as_str(), "--vmlinux", vmlinux.as_str()];
        all.extend_from_slice(args);
        let (code, out, err) = common::run_vmscope(&all, Duration::from_secs(120));
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        (code, out, err)
    }
}

/// Issue 15 item 7: one patched `vm_end` (the issue's `200000b0e000-00000001`) was printed by
/// `vmas` and `tree` with exit 0. Now the VMA is printed marked, each finding is one warning
/// line on stderr, JSON carries it under `warnings`, and the exit status is 1 — the finding
/// `check` reports too.
#[test]
fn impossible_vma_is_marked_and_warned_6_1() {
    impossible_vma_is_marked_and_warned("6.1");
}

/// The same on the rb-tree kernel (VMAs found through the rb-tree and the vm_next list).
#[test]
fn impossible_vma_is_marked_and_warned_5_10() {
    impossible_vma_is_marked_and_warned("5.10");
}

/// The third user VMA of the copy's workload, from whichever tree the kernel has.
fn third_vma(tree: &VmaTree) -> u64 {
    match tree {
        VmaTree::Maple(s) => {
            s.user_entries()
                .nth(2)
                .unwrap_or_else(|| panic!("fewer than 3 VMAs"))
                .entry
        }
        VmaTree::Rb { list, .. } => {
            list.entries
                .get(2)
                .unwrap_or_else(|| panic!("fewer than 3 VMAs"))
                .addr
        }
    }
}

fn impossible_vma_is_marked_and_warned(name: &str) {
    let c = Copy::new(name);
    let pid = c.pid.to_string();
    let (code, clean, err) = c.run(&["vmas", &pid]);
    assert_eq!((code, err.as_str()), (0, ""), "clean copy");
    let victim = third_vma(&c.tree());
    let start = c
        .kernel
        .mem
        .read_u64(victim + c.layout.vm_start)
        .unwrap_or(0);
    c.poke(victim + c.layout.vm_end, 1);
    let victim_hex = format!("{victim:#x}");

    let (code, out, err) = c.run(&["vmas", &pid]);
    assert_eq!(code, 1, "vmas exit status; stderr: {err}");
    let bad_line = format!("{start:08x}-00000001 ");
    let line = out
        .lines()
        .find(|l| l.starts_with(&bad_line))
        .unwrap_or_else(|| panic!("no {bad_line} line in {out}"));
    assert!(
        line.ends_with("]") && line.contains("[bad: vma.range"),
        "{line}"
    );
    assert_eq!(
        out.lines().count(),
        clean.lines().count(),
        "every VMA still printed"
    );
    assert!(!err.is_empty(), "no warning");
    for l in err.lines() {
        assert!(
            l.starts_with(&format!("vmscope: warning: pid {pid}: ")),
            "{l}"
        );
        assert!(l.contains(&victim_hex), "{l}");
    }
    assert!(err.contains("vma.range"), "{err}");

    let (code, out, _) = c.run(&["vmas", &pid, "--json"]);
    assert_eq!(code, 1);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let flagged: Vec<&serde_json::Value> = rows
        .as_array()
        .map(|a| a.iter().filter(|r| r.get("warnings").is_some()).collect())
        .unwrap_or_default();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    assert_eq!(flagged[0]["vma"], victim_hex.as_str());
    assert_eq!(flagged[0]["end"], "0x1");

    let (code, out, err) = c.run(&["tree", &pid]);
    assert_eq!(code, 1, "tree exit status; stderr: {err}");
    assert!(
        err.contains("vma.range") && err.contains(&victim_hex),
        "{err}"
    );
    assert!(
        out.contains(&format!("{victim_hex} {start:08x}-00000001")),
        "{out}"
    );

    let (code, doc) = c.check();
    assert_eq!(code, Some(1));
    let findings = doc["processes"][0]["findings"].to_string();
    assert!(
        findings.contains("vma.range") && findings.contains(&victim_hex),
        "{findings}"
    );
}

/// Issue 15 items 7 and 9: a task whose comm holds a newline (`prctl(PR_SET_NAME)` allows it)
/// is a warning in `ps` (exit 1); JSON keeps the exact bytes.
#[test]
fn task_comm_with_newline_6_1() {
    let c = Copy::new("6.1");
    let task = c
        .kernel
        .tasks()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|t| t.pid == c.pid)
        .unwrap_or_else(|| panic!("no task {}", c.pid));
    let comm_off = c
        .kernel
        .off()
        .unwrap_or_else(|e| panic!("{e}"))
        .task
        .comm
        .offset;
    c.write_at(task.addr + comm_off, b"evil\nrow");
    let (code, out, err) = c.run(&["ps", "--json"]);
    assert_eq!(code, 1, "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("task.comm") && err.contains(&format!("{:#x}", task.addr)),
        "{err}"
    );
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let row = rows
        .as_array()
        .and_then(|a| a.iter().find(|r| r["pid"] == c.pid))
        .unwrap_or_else(|| panic!("pid {} not in ps --json", c.pid));
    assert_eq!(row["task_comm"].as_str(), Some("evil\nrow"));
    assert_eq!(row["warnings"][0]["check"], "task.comm");

    let (code, out, _) = c.run(&["ps"]);
    assert_eq!(code, 1);
    assert!(
        !out.lines().any(|l| l.starts_with("row")),
        "a fake row: {out}"
    );
}

/// Issue 15 item 8: one corrupted `tasks.next` hid a process from `ps` and `check --all`.
/// The pid IDR of init_pid_ns still holds it, and the skipped node's successor's `prev`
/// no longer leads back: both are warnings, exit 1.
#[test]
fn task_hidden_from_the_list_is_found_in_the_pid_idr_6_1() {
    task_hidden_from_the_list_is_found_in_the_pid_idr("6.1");
}

/// The same on 5.10, the rb-tree kernel (its task list and pid IDR read through its own layout).
#[test]
fn task_hidden_from_the_list_is_found_in_the_pid_idr_5_10() {
    task_hidden_from_the_list_is_found_in_the_pid_idr("5.10");
}

fn task_hidden_from_the_list_is_found_in_the_pid_idr(name: &str) {
    let c = Copy::new(name);
    let (code, _, err) = c.run(&["ps"]);
    assert_eq!((code, err.as_str()), (0, ""), "clean copy");
    let toff = c
        .kernel
        .off()
        .unwrap_or_else(|e| panic!("{e}"))
        .task
        .tasks
        .offset;
    let tasks = c.kernel.tasks().unwrap_or_else(|e| panic!("{e}"));
    let victim = tasks
        .iter()
        .find(|t| t.pid == c.pid)
        .unwrap_or_else(|| panic!("no task {}", c.pid));
    let node = victim.addr + toff;
    let rd = |a: u64| c.kernel.mem.read_u64(a).unwrap_or_else(|e| panic!("{e}"));
    let (next, prev) = (rd(node), rd(node + 8));
    c.poke(prev, next);
    let victim_hex = format!("{:#x}", victim.addr);

    let (code, out, err) = c.run(&["ps"]);
    assert_eq!(code, 1, "ps exit status; stderr: {err}");
    assert!(
        err.lines()
            .any(|l| l.contains("tasks.list") && l.contains(&victim_hex)),
        "{err}"
    );
    assert!(err.contains("tasks.prev"), "{err}");
    assert!(
        !out.contains(&victim_hex),
        "the hidden task is not listed: {out}"
    );

    let (code, out, err) = c.run(&["check", "--all", "--json"]);
    assert_eq!(code, 1, "check --all exit status; stderr: {err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let w = doc["warnings"].to_string();
    assert!(w.contains("tasks.list") && w.contains(&victim_hex), "{w}");
}

/// `report` on a copy whose wl-many tree points back at its root and whose comm is
/// markup with a newline: the section says why the tree could not be drawn, stderr says
/// so in a line, the exit status is 2, and the name is text in the page, never markup.
#[test]
fn report_names_an_unreadable_process_and_escapes_its_comm_6_1() {
    let c = Copy::new("6.1");
    let tree = c.tree();
    let s = maple(&tree);
    let VmaTreeLayout::Maple { maple: o, .. } = &c.layout.tree else {
        panic!("layout")
    };
    let inner = s
        .nodes
        .iter()
        .find(|n| n.node_type == MapleType::Arange64 && n.came_from.is_some())
        .unwrap_or_else(|| panic!("no inner node"));
    c.poke(inner.addr + o.arange64_slot, s.ma_root & !2);
    let task = c
        .kernel
        .tasks()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|t| t.pid == c.pid)
        .unwrap_or_else(|| panic!("no task {}", c.pid));
    let comm_off = c
        .kernel
        .off()
        .unwrap_or_else(|e| panic!("{e}"))
        .task
        .comm
        .offset;
    c.write_at(task.addr + comm_off, b"<i>\n</i>");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let html = dir.path().join("r.html");
    let pid = c.pid.to_string();
    let (code, _, err) = c.run(&["report", "-o", html.to_str().unwrap_or(""), "--pid", &pid]);
    assert_eq!(code, 2, "{err}");
    let line = format!("vmscope: pid {pid}: tree: pid {pid}: the walk met");
    assert!(err.lines().any(|l| l.starts_with(&line)), "{err}");
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{e}"));
    let section = page
        .split(&format!("id=\"pid-{pid}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section for pid {pid}"));
    assert!(
        section.contains("<ul class=\"errors\"><li>tree: pid ") && section.contains("the walk met"),
        "{section:.3000}"
    );
    assert!(
        !page.contains("<i>") && !page.contains("</i>"),
        "markup from memory in the page"
    );
    assert!(
        page.contains("&lt;i&gt;\\n&lt;/i&gt;"),
        "the comm is not shown escaped"
    );
}
