//! `vtop` and `list` against drgn on the fixture dumps, with the DWARF vmlinux and with
//! BTF (dump-only). Expected values come from drgn (`follow_phys`, its list, rbtree and
//! maple tree helpers, `for_each_task`) and from the workloads' page markers.

mod common;

use common::DumpFixture;
use serde_json::Value as J;

fn hex(v: &J) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

fn ok_json(d: &DumpFixture, btf: bool, args: &[&str]) -> J {
    let (code, out, err) = common::vmscope_on(d, btf, args);
    assert_eq!(code, 0, "{} (btf {btf}): {args:?}: {err}", d.name);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn vtop(d: &DumpFixture, btf: bool, addr: u64, pid: Option<i32>) -> J {
    let a = format!("{addr:#x}");
    let p = pid.map(|p| p.to_string());
    let mut args = vec!["vtop", "--json", a.as_str()];
    if let Some(p) = &p {
        args.extend(["--pid", p.as_str()]);
    }
    ok_json(d, btf, &args)
}

/// Kernel addresses of each kind, as drgn computes them.
const KERNEL_ADDRS: &[(&str, &str)] = &[
    ("text", "prog.symbol('schedule').address + 0x10"),
    ("data", "prog['init_mm'].address_of_().value_() + 0x40"),
    ("bss", "prog.symbol('jiffies').address"),
    ("direct map", "prog['init_task'].tasks.next.value_()"),
    ("vmalloc stack", "find_task(prog, 1).stack.value_() + 0x1238"),
    (
        "per-cpu",
        "per_cpu_ptr(prog['runqueues'].address_of_(), 1).value_()",
    ),
    (
        "vmalloc area",
        "[v.va_start.value_() for v in rbtree_inorder_for_each_entry('struct vmap_area', prog['vmap_area_root'].address_of_(), 'rb_node')][-1]",
    ),
];

fn check_kernel_vtop(name: &str, btf: bool) {
    let d = common::dump(name);
    let mut exprs: Vec<String> = KERNEL_ADDRS.iter().map(|(_, e)| e.to_string()).collect();
    exprs.extend(
        KERNEL_ADDRS
            .iter()
            .map(|(_, e)| format!("phys(prog['init_mm'].address_of_(), {e})")),
    );
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let want = common::drgn_eval(&d, &exprs);
    let (addrs, phys) = want.split_at(KERNEL_ADDRS.len());
    let levels = if name.ends_with("la57") { 5 } else { 4 };
    for (((what, _), a), p) in KERNEL_ADDRS.iter().zip(addrs).zip(phys) {
        let a = a["value"].as_u64().unwrap();
        let got = vtop(&d, btf, a, None);
        let ctx = format!("{name} (btf {btf}): vtop {a:#x} ({what}): {got}");
        assert_eq!(hex(&got["physical"]), p["value"].as_u64(), "{ctx}");
        let steps = got["steps"].as_array().unwrap();
        assert_eq!(steps[0]["level"], "pgd", "{ctx}");
        // A huge page ends the walk early; a 4 KiB page takes every level.
        let page = got["page_size"].as_u64().unwrap_or(0);
        let expect = levels - page.trailing_zeros().saturating_sub(12) as usize / 9;
        assert_eq!(steps.len(), expect, "{ctx}");
        assert!(steps.iter().all(|s| s["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "present")));
    }
    // The same addresses read through the kernel's translation (the direct map ends at
    // vmalloc_base: on 5.10 the vmalloc area lies within 64 TiB of page_offset_base).
    let reads: Vec<String> = addrs
        .iter()
        .zip(phys)
        .filter(|(_, p)| p["value"].is_u64())
        .map(|(a, _)| format!("prog.read({}, 8).hex()", a["value"]))
        .collect();
    let reads: Vec<&str> = reads.iter().map(String::as_str).collect();
    let bytes = common::drgn_eval(&d, &reads);
    let mapped = addrs.iter().zip(phys).filter(|(_, p)| p["value"].is_u64());
    for ((a, _), b) in mapped.zip(&bytes) {
        let a = a["value"].as_u64().unwrap();
        let p = format!("*(unsigned long *){a:#x}");
        let got = ok_json(&d, btf, &["print", "--json", &p]);
        let v = &got["value"];
        let word = v.get("value").unwrap_or(v).as_u64().unwrap();
        let got_hex: String = word
            .to_le_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            got_hex.as_str(),
            b["value"].as_str().unwrap(),
            "{name}: {a:#x}"
        );
    }
}

/// User addresses of the workload processes: drgn's follow_phys through the task's mm,
/// and the page marker each workload wrote at the start of its marked pages.
fn check_user_vtop(name: &str, btf: bool) {
    let d = common::dump(name);
    let wl = d.workloads();
    let mut probes: Vec<(i32, u64, bool)> = Vec::new();
    for p in &wl.processes {
        for m in p.mappings.iter().filter(|m| m.marker_pages > 0) {
            let last = m.start + (m.marker_pages - 1) * 4096;
            probes.push((p.pid, m.start, true));
            probes.push((p.pid, last + 0x123, true));
        }
    }
    // Below every mapping: nothing maps it.
    probes.push((wl.role("perms").pid, 0x1000, false));
    let exprs: Vec<String> = probes
        .iter()
        .map(|(pid, a, _)| format!("phys(find_task(prog, {pid}).mm, {a})"))
        .collect();
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let want = common::drgn_eval(&d, &exprs);
    let mut marked = Vec::new();
    for ((pid, a, has_marker), w) in probes.iter().zip(&want) {
        let got = vtop(&d, btf, *a, Some(*pid));
        let ctx = format!("{name} (btf {btf}): vtop --pid {pid} {a:#x}: {got}");
        let steps = got["steps"].as_array().unwrap();
        if name.ends_with("la57") && steps.len() > 1 {
            assert_eq!(steps[1]["level"], "p4d", "{ctx}");
        }
        let leaf = steps.last().unwrap();
        let protnone = leaf["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "protnone");
        // drgn's follow_phys takes only present pages; a PROT_NONE page is still
        // mapped (pte_present()), and its marker below is the oracle.
        if !(protnone && w["value"].is_null()) {
            assert_eq!(hex(&got["physical"]), w["value"].as_u64(), "{ctx}");
        }
        match hex(&got["physical"]) {
            Some(pa) if *has_marker => marked.push((*pid, *a, pa)),
            None => assert!(got["stop"].as_str().unwrap().contains("not"), "{ctx}"),
            Some(_) => panic!("{ctx}: mapped"),
        }
    }
    assert!(marked.len() > 20, "{name}: {} marked pages", marked.len());
    // The physical page holds the marker "VMSCOPE pid=<pid> addr=0x<page>".
    let exprs: Vec<String> = marked
        .iter()
        .map(|(_, _, pa)| format!("prog.read({}, 64, True).hex()", pa & !0xfff))
        .collect();
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let pages = common::drgn_eval(&d, &exprs);
    for ((pid, a, pa), page) in marked.iter().zip(&pages) {
        let bytes: Vec<u8> = (0..64)
            .map(|i| u8::from_str_radix(&page["value"].as_str().unwrap()[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .unwrap();
        let want = common::marker(*pid, a & !0xfff);
        assert!(
            bytes.starts_with(want.as_bytes()),
            "{name}: pid {pid} {a:#x} -> {pa:#x}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn vtop_kernel_addresses_match_drgn() {
    for name in ["5.10", "6.1", "6.1-la57"] {
        check_kernel_vtop(name, false);
    }
}

#[test]
fn vtop_user_addresses_match_drgn_and_markers() {
    for name in ["5.10", "6.1", "6.1-la57"] {
        check_user_vtop(name, false);
    }
}

#[test]
fn vtop_with_btf() {
    for name in ["5.10", "6.1"] {
        check_kernel_vtop(name, true);
        check_user_vtop(name, true);
    }
}

fn entries(j: &J) -> Vec<u64> {
    j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex(&e["address"]).unwrap())
        .collect()
}

fn field_ints(j: &J, f: &str) -> Vec<u64> {
    j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let v = &e["fields"][f]["value"];
            let v = v.get("value").unwrap_or(v);
            v.as_u64()
                .or(v.as_i64().map(|x| x as u64))
                .unwrap_or_else(|| panic!("{f}: {e}"))
        })
        .collect()
}

fn ints(v: &J) -> Vec<u64> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// (vmscope list arguments, drgn list of entry addresses, drgn list of the printed
/// field's values).
fn list_cases(name: &str) -> Vec<(Vec<&'static str>, String, String)> {
    const PID1: &str = "container_of(init_task.tasks.next, struct task_struct, tasks)";
    const DPID1: &str = "container_of(prog['init_task'].tasks.next, 'struct task_struct', 'tasks')";
    let mut v = vec![
        (
            vec!["init_task.tasks", "--type", "task_struct", "--member", "tasks", "--print", "pid"],
            "[t.value_() for t in list_for_each_entry('struct task_struct', prog['init_task'].tasks.address_of_(), 'tasks')]".to_string(),
            "[t.pid.value_() for t in list_for_each_entry('struct task_struct', prog['init_task'].tasks.address_of_(), 'tasks')]".to_string(),
        ),
        (
            vec!["vmap_area_root", "--type", "vmap_area", "--member", "rb_node", "--print", "va_start"],
            "[v.value_() for v in rbtree_inorder_for_each_entry('struct vmap_area', prog['vmap_area_root'].address_of_(), 'rb_node')]".into(),
            "[v.va_start.value_() for v in rbtree_inorder_for_each_entry('struct vmap_area', prog['vmap_area_root'].address_of_(), 'rb_node')]".into(),
        ),
        (
            vec!["per_cpu(runqueues, 0).cfs.tasks_timeline", "--type", "struct sched_entity", "--member", "run_node", "--print", "on_rq"],
            "[v.value_() for v in rbtree_inorder_for_each_entry('struct sched_entity', per_cpu(prog['runqueues'], 0).cfs.tasks_timeline.rb_root.address_of_(), 'run_node')]".into(),
            "[v.on_rq.value_() for v in rbtree_inorder_for_each_entry('struct sched_entity', per_cpu(prog['runqueues'], 0).cfs.tasks_timeline.rb_root.address_of_(), 'run_node')]".into(),
        ),
    ];
    let hl = format!("{DPID1}.thread_pid.tasks[0].address_of_(), 'pid_links[0]')");
    v.push((
        vec![
            Box::leak(format!("{PID1}->thread_pid->tasks[0]").into_boxed_str()),
            "--type",
            "task_struct",
            "--member",
            "pid_links",
            "--print",
            "pid",
        ],
        format!("[t.value_() for t in hlist_for_each_entry('struct task_struct', {hl}]"),
        format!("[t.pid.value_() for t in hlist_for_each_entry('struct task_struct', {hl}]"),
    ));
    if name.starts_with("6.") {
        let mt = format!("mt_entries({DPID1}.mm.mm_mt.address_of_())");
        v.push((
            vec![
                Box::leak(format!("{PID1}->mm->mm_mt").into_boxed_str()),
                "--type",
                "vm_area_struct",
                "--print",
                "vm_start",
            ],
            mt.clone(),
            format!("[Object(prog, 'struct vm_area_struct *', e).vm_start.value_() for e in {mt}]"),
        ));
    } else {
        let rb = format!("rbtree_inorder_for_each_entry('struct vm_area_struct', {DPID1}.mm.mm_rb.address_of_(), 'vm_rb')");
        v.push((
            vec![
                Box::leak(format!("{PID1}->mm->mm_rb").into_boxed_str()),
                "--type",
                "vm_area_struct",
                "--member",
                "vm_rb",
                "--print",
                "vm_start",
            ],
            format!("[v.value_() for v in {rb}]"),
            format!("[v.vm_start.value_() for v in {rb}]"),
        ));
    }
    v
}

fn check_lists(name: &str, btf: bool) {
    let d = common::dump(name);
    let cases = list_cases(name);
    let mut exprs: Vec<&str> = Vec::new();
    for (_, a, f) in &cases {
        exprs.push(a);
        exprs.push(f);
    }
    let leaders =
        "sorted(t.pid.value_() for t in for_each_task(prog) if t.pid == t.tgid and t.pid != 0)";
    exprs.push(leaders);
    let want = common::drgn_eval(&d, &exprs);
    for (i, (args, _, _)) in cases.iter().enumerate() {
        let head = if btf {
            common::btf_expr(args[0])
        } else {
            args[0].to_string()
        };
        let mut a = vec!["list", "--json", head.as_str()];
        a.extend(args[1..].iter().copied());
        let got = ok_json(&d, btf, &a);
        let ctx = format!("{name} (btf {btf}): list {args:?}");
        assert_eq!(entries(&got), ints(&want[2 * i]), "{ctx}");
        // The CFS tree of an idle CPU may be empty; the others never are.
        let may_be_empty = args[0].contains("tasks_timeline");
        assert!(may_be_empty || !entries(&got).is_empty(), "{ctx}: empty");
        assert_eq!(
            field_ints(&got, args[args.len() - 1]),
            ints(&want[2 * i + 1]),
            "{ctx}"
        );
        assert!(got["stopped"].is_null(), "{ctx}");
    }
    // init_task.tasks holds exactly the thread-group leaders (as drgn finds every task).
    let mut pids = ints(&want[1]);
    pids.sort_unstable();
    assert_eq!(
        pids,
        ints(&want[2 * cases.len()]),
        "{name}: tasks list vs leaders"
    );
}

#[test]
fn list_matches_drgn() {
    for name in ["5.10", "6.1"] {
        check_lists(name, false);
    }
}

#[test]
fn list_with_btf() {
    for name in ["5.10", "6.1"] {
        check_lists(name, true);
    }
}

#[test]
fn list_is_bounded_and_names_the_repeated_node() {
    let d = common::dump("6.1");
    let tasks = [
        "init_task.tasks",
        "--type",
        "task_struct",
        "--member",
        "tasks",
    ];
    let mut a = vec!["list", "--max", "3"];
    a.extend(tasks);
    let (code, out, err) = common::vmscope_on(&d, false, &a);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("0x")).count(),
        3,
        "{out}"
    );
    assert!(out.contains("capped: stopped after 3 entries"), "{out}");
    // A circular list read as an hlist never meets NULL: it comes back to its first node.
    let first = common::drgn_eval(&d, &["prog['init_task'].tasks.next"])[0]["value"]
        .as_u64()
        .unwrap();
    let a = [
        "list",
        "*(struct hlist_head *)&init_task.tasks",
        "--type",
        "task_struct",
        "--member",
        "tasks",
    ];
    let (code, out, _) = common::vmscope_on(&d, false, &a);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("stopped: node {first:#x} met again")),
        "{out}"
    );
}

/// Exit 2 and one stderr line containing every `want`.
fn bad(args: &[&str], wants: &[&str]) {
    let d = common::dump("6.1");
    let (code, out, err) = common::vmscope_on(&d, false, args);
    assert_eq!(code, 2, "{args:?}: {out}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    for w in wants {
        assert!(err.contains(w), "{args:?}: want {w:?} in {err}");
    }
}

#[test]
fn bad_list_and_vtop_input_is_one_line() {
    let t = ["--type", "task_struct", "--member", "tasks"];
    let mut a = vec!["list", "init_mm"];
    a.extend(t);
    bad(&a, &["struct mm_struct is not a list head"]);
    bad(
        &[
            "list",
            "init_task.tasks",
            "--type",
            "task_struct",
            "--member",
            "taks",
        ],
        &["struct task_struct has no member 'taks'", "tasks"],
    );
    bad(
        &["list", "init_task.mm->mm_mt", "--type", "vm_area_struct"],
        &["'init_task.mm' is a NULL pointer", "mm_mt"],
    );
    bad(
        &[
            "list",
            "init_task.tasks",
            "--type",
            "no_such_type",
            "--member",
            "x",
        ],
        &["no type 'struct no_such_type'"],
    );
    bad(
        &[
            "list",
            "init_task.(tasks",
            "--type",
            "task_struct",
            "--member",
            "tasks",
        ],
        &["column 11", ": init_task.^(tasks"],
    );
    bad(&["vtop", "0x1000"], &["give --pid"]);
    bad(
        &["vtop", "0x1000", "--pid", "99999"],
        &["no task with pid 99999"],
    );
}
