//! Live mode: `log` and `bt` run as root inside the 6.1 and 5.10 guests, against
//! /proc/kcore with the kernel's own BTF and /proc/kallsyms (no vmlinux). Oracles, read
//! by the same script right after each command: the kernel's own formatting of its log
//! (`busybox dmesg`, the syslog interface) and the kernel's own unwinder
//! (/proc/TID/stack, which leaves out scheduler functions, `.sched.text`).

mod common;

use serde_json::Value as J;
use std::collections::BTreeMap;

const SCRIPT: &str = r#"
V=/bin/vmscope
echo @@LOG; $V log
echo @@DMESG; /bin/busybox dmesg
echo @@SCHED; grep -E ' __sched_text_(start|end)$' /proc/kallsyms
echo @@BT; $V bt --all --json
echo @@STACKS
for s in /proc/[0-9]*/task/[0-9]*/stack; do t=${s%/stack}; echo "== ${t##*/}"; cat $s; done
echo @@END
"#;

fn sections(out: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut cur: Option<(String, String)> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            if let Some((n, body)) = cur.take() {
                m.insert(n, body);
            }
            cur = Some((name.to_string(), String::new()));
        } else if let Some((_, body)) = cur.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, body)) = cur {
        m.insert(n, body);
    }
    m
}

/// /proc/TID/stack: `function+offset/size` per tid ("[<0>] do_wait+0x1cb/0x230").
fn kernel_stacks(text: &str) -> BTreeMap<i64, Vec<String>> {
    let mut m: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut tid = None;
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("== ") {
            tid = t.trim().parse().ok();
            m.entry(tid.unwrap_or(-1)).or_default();
        } else if let (Some(t), Some((_, f))) = (tid, line.split_once("] ")) {
            m.entry(t).or_default().push(f.trim().to_string());
        }
    }
    m
}

#[test]
fn live_log_and_bt_agree_with_the_kernel_itself() {
    let bin = common::static_vmscope();
    let busybox = std::path::Path::new("/bin/busybox");
    for kernel in ["6.1", "5.10"] {
        let run = common::run_in_guest_with(
            kernel,
            busybox,
            &["sh", "-c", SCRIPT],
            false,
            &[(&bin, "/bin/vmscope")],
        );
        assert_eq!(run.status, 0, "{kernel}: {}", run.stderr);
        let s = sections(&run.stdout);
        assert!(
            s.contains_key("END"),
            "{kernel}: script did not finish: {}\n{}",
            run.stdout,
            run.stderr
        );

        // log: the kernel's own syslog text, which may have grown since vmscope read it.
        let ours: Vec<&str> = s["LOG"].lines().collect();
        let dmesg: Vec<&str> = s["DMESG"].lines().collect();
        assert!(ours.len() > 100, "{kernel}: only {} log lines", ours.len());
        assert!(dmesg.len() >= ours.len(), "{kernel}: dmesg has fewer lines");
        assert_eq!(
            ours[..],
            dmesg[..ours.len()],
            "{kernel}: log differs from dmesg"
        );

        // bt: every workload thread and init, sleeping throughout, against /proc/TID/stack.
        let sched: Vec<u64> = s["SCHED"]
            .lines()
            .map(|l| u64::from_str_radix(l.split_whitespace().next().unwrap(), 16).unwrap())
            .collect();
        let (lo, hi) = (sched[0].min(sched[1]), sched[0].max(sched[1]));
        let bt: Vec<J> =
            serde_json::from_str(&s["BT"]).unwrap_or_else(|e| panic!("{kernel}: {e}: {}", s["BT"]));
        let kernel_says = kernel_stacks(&s["STACKS"]);
        let mut tids: Vec<i64> = vec![1];
        for p in &run.workloads().processes {
            tids.extend(p.tids.iter().map(|t| *t as i64));
        }
        assert!(tids.len() > 10, "{kernel}: {tids:?}");
        for tid in tids {
            let o = bt
                .iter()
                .find(|t| t["pid"] == tid)
                .unwrap_or_else(|| panic!("{kernel}: bt has no tid {tid}"));
            let got: Vec<String> = o["frames"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| {
                    let pc =
                        u64::from_str_radix(f["pc"].as_str().unwrap().trim_start_matches("0x"), 16)
                            .unwrap();
                    !(lo..hi).contains(&pc)
                })
                .map(|f| {
                    let off = f["offset"].as_u64().unwrap_or(0);
                    let size = f["size"].as_u64().unwrap_or(0);
                    format!(
                        "{}+{off:#x}/{size:#x}",
                        f["function"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            let want = &kernel_says[&tid];
            assert!(!want.is_empty(), "{kernel}: /proc/{tid}/stack is empty");
            assert_eq!(got, *want, "{kernel}: tid {tid}");
            assert!(
                o["error"].is_null() && !o["user_regs"].is_null(),
                "{kernel}: tid {tid}: {o}"
            );
        }
    }
}
