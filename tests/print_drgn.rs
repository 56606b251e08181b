//! `vmscope print` against drgn on the fixture dumps: every expression is evaluated by
//! both (drgn through tests/drgn_print.py in the fixture venv) and the values and
//! addresses must agree. Bad input: one stderr line, exit 2, saying where and why.

mod common;

use serde_json::Value as J;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

/// (vmscope expression, the same in drgn's Python), valid on 5.10 and 6.1.
const CASES: &[(&str, &str)] = &[
    ("init_mm.map_count", "prog['init_mm'].map_count"),
    ("init_mm.mmap_base", "prog['init_mm'].mmap_base"),
    ("init_mm.pgd", "prog['init_mm'].pgd"),
    (
        "init_mm.mm_users.counter",
        "prog['init_mm'].mm_users.counter",
    ),
    (
        "init_mm->mm_count.counter",
        "prog['init_mm'].mm_count.counter",
    ),
    ("&init_mm", "prog['init_mm'].address_of_()"),
    ("init_mm.start_code", "prog['init_mm'].start_code"),
    ("init_mm.end_data", "prog['init_mm'].end_data"),
    ("init_mm", "prog['init_mm']"),
    ("init_task.comm", "prog['init_task'].comm"),
    ("init_task.pid", "prog['init_task'].pid"),
    ("init_task.tgid", "prog['init_task'].tgid"),
    ("init_task.prio", "prog['init_task'].prio"),
    ("init_task.flags", "prog['init_task'].flags"),
    ("init_task.policy", "prog['init_task'].policy"),
    ("init_task.tasks.next", "prog['init_task'].tasks.next"),
    (
        "init_task.tasks.next->prev",
        "prog['init_task'].tasks.next.prev",
    ),
    (
        "init_task.tasks.next->next",
        "prog['init_task'].tasks.next.next",
    ),
    ("*init_task.tasks.next", "prog['init_task'].tasks.next[0]"),
    ("init_task.active_mm", "prog['init_task'].active_mm"),
    (
        "init_task.active_mm->pgd",
        "prog['init_task'].active_mm.pgd",
    ),
    ("init_task.mm", "prog['init_task'].mm"),
    ("init_task.cred->uid.val", "prog['init_task'].cred.uid.val"),
    (
        "init_task.real_parent->pid",
        "prog['init_task'].real_parent.pid",
    ),
    ("init_task.group_leader", "prog['init_task'].group_leader"),
    (
        "init_task.signal->nr_threads",
        "prog['init_task'].signal.nr_threads",
    ),
    (
        "init_task.thread_pid->numbers[0].nr",
        "prog['init_task'].thread_pid.numbers[0].nr",
    ),
    (
        "init_task.fs->root.dentry->d_name.name",
        "prog['init_task'].fs.root.dentry.d_name.name",
    ),
    (
        "init_task.se.load.weight",
        "prog['init_task'].se.load.weight",
    ),
    (
        "init_task.sched_reset_on_fork",
        "prog['init_task'].sched_reset_on_fork",
    ),
    ("init_task.in_execve", "prog['init_task'].in_execve"),
    (
        "container_of(init_task.tasks.next, struct task_struct, tasks)->pid",
        "container_of(prog['init_task'].tasks.next, 'struct task_struct', 'tasks').pid",
    ),
    (
        "container_of(init_task.tasks.next, struct task_struct, tasks)->comm",
        "container_of(prog['init_task'].tasks.next, 'struct task_struct', 'tasks').comm",
    ),
    (
        "container_of(init_task.tasks.next, struct task_struct, tasks)->mm->map_count",
        "container_of(prog['init_task'].tasks.next, 'struct task_struct', 'tasks').mm.map_count",
    ),
    (
        "container_of(init_task.tasks.next, struct task_struct, tasks).mm.mmap_base",
        "container_of(prog['init_task'].tasks.next, 'struct task_struct', 'tasks').mm.mmap_base",
    ),
    (
        "container_of(init_task.tasks.prev, struct task_struct, tasks)->pid",
        "container_of(prog['init_task'].tasks.prev, 'struct task_struct', 'tasks').pid",
    ),
    (
        "((struct task_struct *)&init_task)->pid",
        "prog['init_task'].address_of_().pid",
    ),
    (
        "(struct task_struct *)init_task.tasks.next",
        "Object(prog, 'struct task_struct *', prog['init_task'].tasks.next.value_())",
    ),
    (
        "((struct task_struct *)(init_task.tasks.next - 0))->tgid",
        "Object(prog, 'struct task_struct *', prog['init_task'].tasks.next.value_()).tgid",
    ),
    (
        "(unsigned char)init_task.prio",
        "Object(prog, 'unsigned char', prog['init_task'].prio.value_() & 0xff)",
    ),
    (
        "per_cpu(runqueues, 0).nr_running",
        "per_cpu(prog['runqueues'], 0).nr_running",
    ),
    (
        "per_cpu(runqueues, 1).nr_running",
        "per_cpu(prog['runqueues'], 1).nr_running",
    ),
    (
        "per_cpu(runqueues, 0).curr",
        "per_cpu(prog['runqueues'], 0).curr",
    ),
    (
        "per_cpu(runqueues, 1).curr->pid",
        "per_cpu(prog['runqueues'], 1).curr.pid",
    ),
    (
        "per_cpu(runqueues, 1).cpu",
        "per_cpu(prog['runqueues'], 1).cpu",
    ),
    (
        "per_cpu(runqueues, 0).clock",
        "per_cpu(prog['runqueues'], 0).clock",
    ),
    (
        "&per_cpu(runqueues, 1)",
        "per_cpu(prog['runqueues'], 1).address_of_()",
    ),
    (
        "per_cpu_ptr(&runqueues, 1)",
        "per_cpu_ptr(prog['runqueues'].address_of_(), 1)",
    ),
    ("jiffies", "prog['jiffies']"),
    ("nr_cpu_ids", "prog['nr_cpu_ids']"),
    ("__per_cpu_offset[0]", "prog['__per_cpu_offset'][0]"),
    ("__per_cpu_offset[1]", "prog['__per_cpu_offset'][1]"),
    (
        "init_uts_ns.name.release",
        "prog['init_uts_ns'].name.release",
    ),
    (
        "init_uts_ns.name.sysname",
        "prog['init_uts_ns'].name.sysname",
    ),
    ("system_state", "prog['system_state']"),
    ("_totalram_pages.counter", "prog['_totalram_pages'].counter"),
    (
        "sizeof(struct task_struct)",
        "sizeof(prog.type('struct task_struct'))",
    ),
    (
        "sizeof(struct mm_struct)",
        "sizeof(prog.type('struct mm_struct'))",
    ),
    ("sizeof(init_task.comm)", "sizeof(prog['init_task'].comm)"),
    (
        "offsetof(struct task_struct, tasks)",
        "offsetof(prog.type('struct task_struct'), 'tasks')",
    ),
    (
        "offsetof(struct mm_struct, mmap_base)",
        "offsetof(prog.type('struct mm_struct'), 'mmap_base')",
    ),
    ("init_mm.map_count + 1", "prog['init_mm'].map_count + 1"),
    ("init_task.pid == 0", "int(prog['init_task'].pid == 0)"),
    ("init_task.prio * 2 - 1", "prog['init_task'].prio * 2 - 1"),
    (
        "init_task.tasks.next + 1",
        "prog['init_task'].tasks.next + 1",
    ),
    (
        "(init_mm.mmap_base >> 12) & 0xff",
        "(prog['init_mm'].mmap_base >> 12) & 0xff",
    ),
];

fn drgn(d: &common::DumpFixture, exprs: &[&str]) -> Vec<J> {
    common::drgn_eval(d, exprs)
}

fn target(d: &common::DumpFixture) -> Vec<String> {
    vec![
        "--core".into(),
        d.dir.join("elf.core").display().to_string(),
        "--vmlinux".into(),
        d.vmlinux.display().to_string(),
    ]
}

fn print_json(d: &common::DumpFixture, expr: &str) -> J {
    print_json_in(d, false, expr)
}

/// `print --json EXPR`, with the DWARF vmlinux or (`btf`) with BTF and kallsyms only.
fn print_json_in(d: &common::DumpFixture, btf: bool, expr: &str) -> J {
    let (code, out, err) = common::vmscope_on(d, btf, &["print", "--json", expr]);
    assert_eq!(code, 0, "{} (btf {btf}): print {expr}: {err}", d.name);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{expr}: {e}: {out}"))
}

fn hex(v: &J) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// An integer as vmscope prints it in JSON: a number, an enum or a bool.
fn int(v: &J) -> Option<i128> {
    match v {
        J::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        J::Bool(b) => Some(i128::from(*b)),
        J::Object(o) => int(o.get("value")?),
        _ => None,
    }
}

fn check_dump(name: &str) -> usize {
    check_dump_in(name, false)
}

/// Every case against drgn; with `btf`, globals BTF leaves untyped are cast first
/// (`init_mm` becomes `(*(struct mm_struct *)&init_mm)`), the values expected unchanged.
fn check_dump_in(name: &str, btf: bool) -> usize {
    let d = common::dump(name);
    let drgn_exprs: Vec<&str> = CASES.iter().map(|c| c.1).collect();
    let expected = drgn(&d, &drgn_exprs);
    let mut checked = 0;
    for ((expr, _), want) in CASES.iter().zip(&expected) {
        let expr = &if btf {
            common::btf_expr(expr)
        } else {
            expr.to_string()
        };
        let got = print_json_in(&d, btf, expr);
        let ctx = format!("{name}: print {expr}: vmscope {got} drgn {want}");
        let v = &got["value"];
        match want["kind"].as_str().unwrap() {
            "int" => assert_eq!(
                int(v),
                want["value"]
                    .as_i64()
                    .map(i128::from)
                    .or(want["value"].as_u64().map(i128::from)),
                "{ctx}"
            ),
            "ptr" => assert_eq!(hex(v), want["value"].as_u64(), "{ctx}"),
            "str" => assert_eq!(v.as_str(), want["value"].as_str(), "{ctx}"),
            _ => assert!(v.is_object(), "{ctx}"),
        }
        if let Some(a) = want["address"].as_u64() {
            assert_eq!(hex(&got["address"]), Some(a), "{ctx}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn print_matches_drgn_on_5_10() {
    assert!(check_dump("5.10") >= 40);
}

#[test]
fn print_matches_drgn_on_6_1() {
    assert!(check_dump("6.1") >= 40);
}

#[test]
fn print_with_btf_matches_drgn() {
    for name in ["5.10", "6.1"] {
        assert!(check_dump_in(name, true) >= 40);
    }
}

/// Exit 2 with exactly one stderr line containing every `want`.
fn bad(expr: &str, wants: &[&str]) {
    let d = common::dump("6.1");
    let mut args = target(&d);
    args.extend(["print".into(), expr.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = common::run_vmscope(&args, TIMEOUT);
    assert_eq!(code, 2, "print {expr}: {out}");
    assert_eq!(err.lines().count(), 1, "print {expr}: {err}");
    for w in wants {
        assert!(err.contains(w), "print {expr}: want {w:?} in {err}");
    }
}

#[test]
fn bad_input_is_one_line_naming_where() {
    bad("init_mm.(map_count", &["1:9:", "column 9", "near '('"]);
    bad(
        "init_mm.map_cont",
        &["struct mm_struct has no member 'map_cont'", "map_count"],
    );
    bad(
        "init_task.mm->mmap_base",
        &["'init_task.mm' is a NULL pointer", "mmap_base"],
    );
    bad(
        "((struct task_struct *)0x10)->mm->pgd",
        &["reading '", ".mm' at 0x", "not mapped"],
    );
    bad("no_such_symbol_xyz", &["no symbol 'no_such_symbol_xyz'"]);
    bad(
        "(struct no_such_type *)0",
        &["no type 'struct no_such_type'"],
    );
    bad("per_cpu(runqueues, 9999)", &["CPU 9999 out of range"]);
    // No struct or type id numbers (`#27`) in any message.
    bad(
        "init_task.tasks.nxt",
        &["struct list_head has no member 'nxt'", "next"],
    );
}

#[test]
fn huge_arrays_are_capped_and_say_so() {
    let d = common::dump("6.1");
    let got = print_json(&d, "__per_cpu_offset");
    let total = got["value"]["total"]
        .as_u64()
        .expect("a capped array says its total");
    let shown = got["value"]["elements"].as_array().unwrap().len() as u64;
    assert!(shown < total, "{got}");
    let mut args = target(&d);
    args.extend(["print".into(), "__per_cpu_offset".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = common::run_vmscope(&args, TIMEOUT);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("... {} more", total - shown)),
        "{out}"
    );
}

/// `show TYPE --pid N PATH` follows pointers in PATH; values agree with drgn.
#[test]
fn show_paths_cross_pointers() {
    for name in ["5.10", "6.1"] {
        let d = common::dump(name);
        let paths = [
            "mm.mmap_base",
            "mm->map_count",
            "mm->pgd",
            "real_parent->pid",
        ];
        let exprs: Vec<String> = paths
            .iter()
            .map(|p| format!("find_task(prog, 1).{}", p.replace("->", ".")))
            .collect();
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let want = drgn(&d, &exprs);
        for (path, w) in paths.iter().zip(&want) {
            let mut args = target(&d);
            args.extend(["show", "task_struct", "--pid", "1", path, "--json"].map(String::from));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = common::run_vmscope(&args, TIMEOUT);
            assert_eq!(code, 0, "{name}: show {path}: {err}");
            let j: J = serde_json::from_str(&out).unwrap();
            let v = &j["node"]["value"];
            let got = v["value"]
                .as_u64()
                .or_else(|| v["value"].as_i64().map(|x| x as u64))
                .or_else(|| hex(&v["address"]));
            assert_eq!(got, w["value"].as_u64(), "{name}: show {path}: {j}");
            assert_eq!(
                hex(&j["address"]),
                w["address"].as_u64(),
                "{name}: show {path}"
            );
        }
        let mut args = target(&d);
        args.extend(["show", "task_struct", "--pid", "1", "mm.mmap_bas"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = common::run_vmscope(&args, TIMEOUT);
        assert_eq!(code, 2);
        assert!(
            err.contains("struct mm_struct has no member 'mmap_bas'") && err.contains("mmap_base"),
            "{err}"
        );
        assert!(!err.contains('#'), "an internal type id in {err}");
    }
}

fn sym_json(d: &common::DumpFixture, btf: bool, what: &str) -> J {
    let (code, out, err) = common::vmscope_on(d, btf, &["sym", what, "--json"]);
    assert_eq!(code, 0, "sym {what} (btf {btf}): {err}");
    serde_json::from_str(&out).unwrap()
}

/// `sym NAME` and `sym ADDR` agree with drgn's symbol lookups.
#[test]
fn sym_matches_drgn() {
    sym_against_drgn(false);
}

/// The same from the dump's kallsyms (6.1) or a System.map (5.10).
#[test]
fn sym_with_btf_matches_drgn() {
    sym_against_drgn(true);
}

fn sym_against_drgn(btf: bool) {
    const NAMES: &[&str] = &[
        "init_task",
        "init_mm",
        "schedule",
        "init_uts_ns",
        "linux_banner",
        "do_exit",
    ];
    for name in ["5.10", "6.1"] {
        let d = common::dump(name);
        let exprs: Vec<String> = NAMES
            .iter()
            .map(|n| format!("prog.symbol('{n}').address"))
            .collect();
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let addrs = drgn(&d, &exprs);
        let probes: Vec<u64> = addrs
            .iter()
            .flat_map(|a| {
                let a = a["value"].as_u64().unwrap();
                [a, a + 4]
            })
            .collect();
        let exprs: Vec<String> = probes.iter().map(|a| format!("sym_at({a})")).collect();
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let names = drgn(&d, &exprs);
        for (n, a) in NAMES.iter().zip(&addrs) {
            let got = sym_json(&d, btf, n);
            assert_eq!(hex(&got["address"]), a["value"].as_u64(), "{name}: sym {n}");
        }
        for (p, w) in probes.iter().zip(&names) {
            let got = sym_json(&d, btf, &format!("{p:#x}"));
            assert_eq!(
                got["symbol"].as_str(),
                w["value"].as_str(),
                "{name}: sym {p:#x}"
            );
        }
    }
}

/// Bytes of a `rd` hexdump.
fn hexdump_bytes(out: &str) -> Vec<u8> {
    out.lines()
        .flat_map(|l| {
            let hex = l.split('|').next().unwrap_or("");
            hex.split_whitespace()
                .skip(1)
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `rd` bytes, virtual (by symbol) and physical, equal drgn's `prog.read`.
#[test]
fn rd_matches_drgn_read() {
    const SYMS: &[&str] = &["init_task", "init_mm", "linux_banner", "__per_cpu_offset"];
    const PHYS: &[u64] = &[0x1000, 0x100000, 0x1234560];
    for name in ["5.10", "6.1"] {
        let d = common::dump(name);
        let mut exprs: Vec<String> = SYMS
            .iter()
            .map(|s| format!("prog.read(prog.symbol('{s}').address, 100).hex()"))
            .collect();
        exprs.extend(
            PHYS.iter()
                .map(|p| format!("prog.read({p}, 100, True).hex()")),
        );
        let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let want = drgn(&d, &exprs);
        let runs = SYMS
            .iter()
            .map(|s| vec![s.to_string(), "100".into()])
            .chain(
                PHYS.iter()
                    .map(|p| vec![format!("{p:#x}"), "100".into(), "--phys".into()]),
            );
        for (extra, w) in runs.zip(&want) {
            let mut args = target(&d);
            args.push("rd".into());
            args.extend(extra.iter().cloned());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = common::run_vmscope(&args, TIMEOUT);
            assert_eq!(code, 0, "{name}: rd {extra:?}: {err}");
            let got: String = hexdump_bytes(&out)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                got.as_str(),
                w["value"].as_str().unwrap(),
                "{name}: rd {extra:?}"
            );
        }
    }
}
