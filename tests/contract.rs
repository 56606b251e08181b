//! Issue 15 items 6 and 10 on the real fixtures: every exit 2 is one stderr line (usage
//! errors and an unusable --maps-dir included), and every command piped into `head -1`
//! ends quietly with exit 0 and nothing on stderr (issue 18: every command, checked against
//! the list `--help` prints).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

fn dump_args() -> Vec<String> {
    common::dump_runs::zstd_args("6.1")
}

fn user_pid() -> String {
    let d = common::fixtures_root().join("dumps/6.1/proc");
    std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap_or_else(|| panic!("no pid under {}", d.display()))
        .to_string()
}

#[test]
fn exit_2_is_one_stderr_line() {
    let base = dump_args();
    let maps_null: Vec<String> = base
        .iter()
        .cloned()
        .chain(["check", "--all", "--maps-dir", "/dev/null"].map(String::from))
        .collect();
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["ps".into(), "--bogus".into()],
        vec!["nosuchcommand".into()],
        vec![
            "read".into(),
            "1".into(),
            "2".into(),
            "3".into(),
            "4".into(),
        ],
        vec!["tree".into(), "notapid".into()],
        maps_null,
    ];
    for args in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = common::run_vmscope(&a, std::time::Duration::from_secs(120));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("vmscope: error: "), "{args:?}: {err}");
    }
}

/// The commands `vmscope --help` lists (clap's own `help` left out).
fn listed_commands() -> Vec<String> {
    let (code, help, _) = common::run_vmscope(&["--help"], std::time::Duration::from_secs(60));
    assert_eq!(code, 0, "{help}");
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

/// `vmscope ARGS` with its stdout a pipe whose reader closes it after `keep` bytes
/// (0: before anything is written, 1: like `head -1`): its status and stderr.
fn closed_after(base: &[String], args: &[&str], keep: usize) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmscope"))
        .args(base)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let mut first = vec![0u8; keep];
    let _ = out.read_exact(&mut first);
    drop(out);
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    (child.wait().expect("wait").code(), err)
}

/// `vmscope CMD | head -1`, for every command: exit 0 and nothing on stderr, whether the
/// reader closes the pipe after the first byte or before the first write (which makes
/// even a short output meet the closed pipe).
#[test]
fn closed_pipe_ends_quietly() {
    let pid = user_pid();
    let base = dump_args();
    let mut vmas_args: Vec<&str> = base.iter().map(String::as_str).collect();
    vmas_args.extend(["vmas", pid.as_str()]);
    let (_, maps, _) = common::run_vmscope(&vmas_args, std::time::Duration::from_secs(120));
    // The top page of the stack: present in any dump of a running process.
    let stack_end = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| l.split(['-', ' ']).nth(1))
        .and_then(|e| u64::from_str_radix(e, 16).ok())
        .unwrap_or_else(|| panic!("no [stack] in {maps}"));
    let start = format!("{:#x}", stack_end - 4096);
    let cmds: Vec<Vec<&str>> = vec![
        vec!["layout"],
        vec!["layout", "task_struct", "--json"],
        vec!["info"],
        vec!["print", "init_task"],
        vec!["ps"],
        vec!["ps", "--json"],
        vec!["rd", "init_task", "65536", "--symbols"],
        vec!["sym", "init_task"],
        vec!["vmas", &pid],
        vec!["vmas", "--all"],
        vec!["tree", &pid],
        vec!["tree", &pid, "--json"],
        vec!["check", "--all"],
        vec!["check", &pid, "--verbose"],
        vec!["check", "--all", "--color", "always"],
        vec!["show", "mm_struct", "--pid", &pid],
        vec!["read", "--pid", &pid, &start, "4096"],
        vec!["log"],
        vec!["log", "--json"],
        vec!["bt", "--all", "--full"],
        vec!["modules"],
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["completions", "fish"],
        vec!["vtop", &start, "--pid", &pid],
        vec!["graph", "--pid", &pid, "--dot", "/dev/null"],
        vec!["costs", &pid],
        vec!["costs", &pid, "--json"],
        vec!["report", "-o", "/dev/null", "--pid", &pid],
        vec![
            "list",
            "init_task.tasks",
            "--type",
            "task_struct",
            "--member",
            "tasks",
        ],
    ];
    // A command added later must be added here too.
    for listed in listed_commands() {
        assert!(
            cmds.iter().any(|c| c[0] == listed),
            "`{listed}` is not piped into head by this test"
        );
    }
    for cmd in &cmds {
        for keep in [0, 1] {
            let (code, err) = closed_after(&base, cmd, keep);
            assert_eq!(code, Some(0), "{cmd:?} (reader kept {keep} bytes): {err}");
            assert!(err.is_empty(), "{cmd:?} (reader kept {keep} bytes): {err}");
        }
    }
}
