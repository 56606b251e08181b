//! Issue 15 items 6 and 10 on the real fixtures: every exit 2 is one stderr line (usage
//! errors and an unusable --maps-dir included), and every command piped into `head -1`
//! ends quietly with exit 0.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

fn dump_args() -> Vec<String> {
    let d = common::fixtures_root().join("dumps/6.1");
    let core = d.join("kdump-zstd");
    assert!(core.exists(), "{}: {}", core.display(), common::BUILD_HINT);
    vec![
        "--core".into(),
        core.display().to_string(),
        "--vmlinux".into(),
        d.join("vmlinux").display().to_string(),
    ]
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

/// `vmscope CMD | head -1`: the reader closes the pipe after one line.
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
        vec!["info"],
        vec!["ps"],
        vec!["ps", "--json"],
        vec!["vmas", &pid],
        vec!["vmas", "--all"],
        vec!["tree", &pid],
        vec!["tree", &pid, "--json"],
        vec!["check", "--all"],
        vec!["check", &pid, "--verbose"],
        vec!["show", "mm_struct", "--pid", &pid],
        vec!["read", "--pid", &pid, &start, "4096"],
    ];
    for cmd in cmds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vmscope"))
            .args(&base)
            .args(&cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Read one line's worth, then close the pipe like `head -1`.
        let mut out = child.stdout.take().expect("stdout");
        let mut first = [0u8; 1];
        let _ = out.read(&mut first);
        drop(out);
        let mut err = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err);
        let st = child.wait().expect("wait");
        assert!(!err.contains("panicked"), "{cmd:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{cmd:?}: {err}");
        assert_eq!(st.code(), Some(0), "{cmd:?}: {st:?} {err}");
    }
}
