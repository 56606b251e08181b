//! Issue 18: vmscope ships like the Rust CLIs people install. The static binary that
//! scripts/build-static.sh builds needs no library (file, ldd, readelf) and runs in a guest
//! that has none; the completion scripts load in bash, zsh and fish and complete from the
//! clap definitions; the man pages render and list every option `--help` lists; colour
//! follows --color and NO_COLOR and never changes the plain bytes; --version names the commit.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn vmscope() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmscope"));
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    c
}

fn output(cmd: &mut Command, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (tools: ./fixtures/host-tools.sh)"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout of `vmscope ARGS`, which must succeed with nothing on stderr.
fn vmscope_ok(args: &[&str]) -> String {
    let out = output(vmscope().args(args), "vmscope");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "vmscope {args:?}: {:?} {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The commands `vmscope --help` lists (clap's own `help` left out).
fn subcommands() -> Vec<String> {
    let help = vmscope_ok(&["--help"]);
    let cmds: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect();
    assert!(cmds.len() >= 10, "commands in --help: {cmds:?}\n{help}");
    cmds
}

/// The long options a help text or rendered man page defines: the first `--name` of each
/// line that starts (after indentation and an optional `-x, `) with an option.
fn defined_flags(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = match l.as_bytes() {
                [b'-', c, b',', b' ', ..] if c.is_ascii_alphanumeric() => &l[4..],
                _ => l,
            };
            let name = l.strip_prefix("--")?;
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(name.len());
            (end > 0).then(|| name[..end].to_string())
        })
        .collect()
}

#[test]
fn static_binary_needs_no_library() {
    let bin = common::static_vmscope();
    let file = text(&output(Command::new("file").arg("-b").arg(&bin), "file").stdout);
    assert!(
        file.contains("static-pie linked") || file.contains("statically linked"),
        "file: {file}"
    );
    assert!(!file.contains("interpreter"), "file: {file}");
    let ldd = output(Command::new("ldd").arg(&bin), "ldd");
    let ldd = text(&ldd.stdout) + &text(&ldd.stderr);
    assert!(!ldd.contains("=>"), "ldd: {ldd}");
    assert!(
        ldd.contains("statically linked") || ldd.contains("not a dynamic executable"),
        "ldd: {ldd}"
    );
    // The ELF itself: no program interpreter, no needed library.
    let headers = output(
        Command::new("readelf").args(["-l", "-d"]).arg(&bin),
        "readelf",
    );
    let headers = text(&headers.stdout);
    assert!(headers.contains("Program Headers"), "readelf: {headers}");
    assert!(!headers.contains("INTERP"), "readelf: {headers}");
    assert!(!headers.contains("(NEEDED)"), "readelf: {headers}");
    // The same program as the test build: same version and commit.
    let shipped = text(&output(Command::new(&bin).arg("--version"), "static vmscope").stdout);
    assert_eq!(shipped, vmscope_ok(&["--version"]));
}

/// The guest's initramfs has busybox (static) and no library directory: the static binary
/// runs there against the live kernel and reports the release the guest booted.
#[test]
fn static_binary_runs_in_a_guest_without_libraries() {
    let bin = common::static_vmscope();
    let release_file = common::fixtures_root().join("dumps/6.1/release");
    let release = std::fs::read_to_string(&release_file)
        .unwrap_or_else(|e| panic!("{}: {e}: {}", release_file.display(), common::BUILD_HINT));
    let script = "for d in /lib /lib64 /usr/lib /lib/x86_64-linux-gnu; do \
                  [ -e $d ] && echo \"library dir $d\"; done; \
                  vmscope --version && vmscope info";
    let run = common::run_in_guest_with(
        "6.1",
        Path::new("/bin/busybox"),
        &["sh", "-c", script],
        false,
        &[(bin.as_path(), "/bin/vmscope")],
    );
    assert_eq!(run.status, 0, "guest: {}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("library dir"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&vmscope_ok(&["--version"])),
        "{}",
        run.stdout
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("release "))
        .unwrap_or_else(|| panic!("no release line: {}", run.stdout));
    assert_eq!(
        line.split_whitespace().nth(1),
        Some(release.trim()),
        "{line}"
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let version = vmscope_ok(&["--version"]);
    let git = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--short", "HEAD"])
        .output();
    let commit = match git {
        Ok(o) if o.status.success() => text(&o.stdout).trim().to_string(),
        // Not a checkout (a source tarball): build.rs says so.
        _ => "unknown".to_string(),
    };
    assert!(!commit.is_empty());
    assert_eq!(
        version.trim(),
        format!("vmscope {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// bash: the script loads, registers `vmscope`, and its function completes a command name
/// and a command's option to what `--help` lists.
#[test]
fn bash_completion_loads_and_completes() {
    let cmds = subcommands();
    let probe = r#"
source <("$VMSCOPE" completions bash) || exit 3
complete -p vmscope >/dev/null || exit 4
complete_line() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _vmscope vmscope "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
}
echo "== ch"; complete_line vmscope ch
echo "== tr"; complete_line vmscope tr
echo "== m"; complete_line vmscope m
echo "== check --ma"; complete_line vmscope check --ma
"#;
    let out = output(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", probe])
            .env("VMSCOPE", env!("CARGO_BIN_EXE_vmscope")),
        "bash",
    );
    assert!(out.status.success(), "bash: {out:?}");
    let stdout = text(&out.stdout);
    let section = |name: &str| -> Vec<String> {
        stdout
            .split(&format!("== {name}\n"))
            .nth(1)
            .unwrap_or("")
            .lines()
            .take_while(|l| !l.starts_with("== "))
            // printf prints one empty line for no completion.
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    // Hidden commands (`man`) are not offered.
    for prefix in ["ch", "tr", "m"] {
        let want: Vec<String> = cmds
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(section(prefix), want, "{prefix}: {stdout}");
    }
    let check_flags = defined_flags(&vmscope_ok(&["check", "--help"]));
    let want: Vec<String> = check_flags
        .iter()
        .filter(|f| f.starts_with("ma"))
        .map(|f| format!("--{f}"))
        .collect();
    assert_eq!(section("check --ma"), want, "{stdout}");
}

#[test]
fn zsh_and_fish_completions_parse_and_fish_completes() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["zsh", "fish"] {
        let script = dir.path().join(format!("vmscope.{shell}"));
        std::fs::write(&script, vmscope_ok(&["completions", shell])).unwrap();
        let out = output(Command::new(shell).arg("-n").arg(&script), shell);
        assert!(out.status.success(), "{shell} -n: {out:?}");
        assert!(out.stderr.is_empty(), "{shell} -n: {}", text(&out.stderr));
    }
    // zsh: the script registers its function with compinit's table.
    let zsh = dir.path().join("vmscope.zsh");
    let out = output(
        Command::new("zsh")
            .arg("-f")
            .arg("-c")
            .arg("autoload -Uz compinit && compinit -u -D && source \"$1\" && print -r -- $_comps[vmscope]")
            .arg("zsh")
            .arg(&zsh)
            .env("HOME", dir.path()),
        "zsh",
    );
    assert_eq!(text(&out.stdout).trim(), "_vmscope", "{out:?}");
    // fish completes a command line itself.
    let fish = dir.path().join("vmscope.fish");
    let out = output(
        Command::new("fish")
            .arg("--no-config")
            .arg("-c")
            .arg("source $argv[1]; complete -C 'vmscope ch'")
            .arg(&fish),
        "fish",
    );
    let got: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(String::from)
        .collect();
    let want: Vec<String> = subcommands()
        .into_iter()
        .filter(|c| c.starts_with("ch"))
        .collect();
    assert_eq!(got, want, "{out:?}");
}

/// scripts/man.sh writes a page per command; each renders with `man -l` without a warning
/// and defines exactly the long options `vmscope CMD --help` lists.
#[test]
fn man_pages_render_and_list_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/man.sh");
    let out = output(
        Command::new(&script)
            .arg(dir.path())
            .env("VMSCOPE", env!("CARGO_BIN_EXE_vmscope")),
        "scripts/man.sh",
    );
    assert!(out.status.success(), "man.sh: {out:?}");
    let render = |page: &Path| -> String {
        let out = output(
            Command::new("man")
                .arg("-l")
                .arg(page)
                .env("MANWIDTH", "200")
                .env_remove("MAN_KEEP_FORMATTING")
                .env_remove("MANPAGER")
                .env_remove("PAGER"),
            "man",
        );
        assert!(out.status.success(), "man -l {}: {out:?}", page.display());
        assert!(
            out.stderr.is_empty(),
            "man -l {}: {}",
            page.display(),
            text(&out.stderr)
        );
        // groff's hyphen and minus signs back to ASCII.
        text(&out.stdout).replace(['\u{2010}', '\u{2212}'], "-")
    };
    let cmds = subcommands();
    let top = render(&dir.path().join("vmscope.1"));
    assert_eq!(defined_flags(&top), defined_flags(&vmscope_ok(&["--help"])));
    for cmd in &cmds {
        assert!(top.contains(&format!("vmscope-{cmd}(1)")), "{cmd}:\n{top}");
        let page = render(&dir.path().join(format!("vmscope-{cmd}.1")));
        let help = vmscope_ok(&[cmd, "--help"]);
        let flags = defined_flags(&help);
        assert!(
            flags.contains("help") && flags.contains("color"),
            "{cmd}: {flags:?}"
        );
        assert_eq!(defined_flags(&page), flags, "vmscope-{cmd}.1\n{page}");
    }
    // Exactly one page per command, and the top page; hidden commands have none.
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(pages, cmds.len() + 1);
    assert!(!dir.path().join("vmscope-man.1").exists());
}

fn dump_args(series: &str) -> Vec<String> {
    common::dump_runs::zstd_args(series)
}

/// The highest workload pid of a fixture dump (a user process with an mm).
fn user_pid(series: &str) -> String {
    let d = common::fixtures_root()
        .join("dumps")
        .join(series)
        .join("proc");
    std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap_or_else(|| panic!("no pid under {}", d.display()))
        .to_string()
}

/// Every ANSI SGR sequence removed.
fn strip_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let end = tail.find('m').expect("unterminated escape");
        assert!(
            tail[..end].bytes().all(|b| b.is_ascii_digit() || b == b';'),
            "not a colour escape: {:?}",
            &tail[..end]
        );
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `--color always` adds escapes and nothing else; a pipe, `--color never` and
/// `NO_COLOR=1 --color auto` get the plain bytes.
fn colour_is_only_escapes(series: &str, cmd: &[&str], coloured: &[&str]) {
    let base = dump_args(series);
    let run = |extra: &[&str], no_color: bool| -> String {
        let mut c = vmscope();
        c.args(&base).args(cmd).args(extra);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = output(&mut c, "vmscope");
        assert_eq!(out.status.code(), Some(0), "{cmd:?} {extra:?}: {out:?}");
        text(&out.stdout)
    };
    let plain = run(&[], false);
    let always = run(&["--color", "always"], false);
    assert!(!plain.contains('\x1b'), "{cmd:?} in a pipe:\n{plain}");
    assert!(
        always.contains("\x1b["),
        "{cmd:?} --color always:\n{always}"
    );
    for word in coloured {
        let painted = always.split("\x1b[").any(|part| {
            part.split_once('m')
                .is_some_and(|(_, t)| t.trim_start().starts_with(word))
        });
        assert!(painted, "{cmd:?}: {word:?} is not coloured:\n{always}");
    }
    assert_eq!(strip_sgr(&always), plain, "{cmd:?}");
    assert_eq!(run(&["--color", "never"], false), plain, "{cmd:?}");
    assert_eq!(run(&["--color", "auto"], true), plain, "{cmd:?}");
}

#[test]
fn colour_check_verdicts_and_table() {
    let pid = user_pid("6.1");
    colour_is_only_escapes("6.1", &["check", &pid], &["ok"]);
    colour_is_only_escapes("6.1", &["check", &pid, "--verbose"], &["ok", "pass"]);
}

#[test]
fn colour_rb_tree_nodes() {
    let pid = user_pid("5.10");
    colour_is_only_escapes("5.10", &["tree", &pid], &["red", "black"]);
}

/// On a terminal `auto` colours; `NO_COLOR` and `--color never` turn it off there too.
/// `script` gives the command a pseudo-terminal as stdout.
#[test]
fn colour_on_a_terminal_follows_no_color() {
    let pid = user_pid("6.1");
    let args: Vec<String> = dump_args("6.1")
        .into_iter()
        .chain(["check".to_string(), pid])
        .collect();
    let on_tty = |extra: &str, no_color: bool| -> String {
        let line = format!(
            "{} {} {extra} 2>/dev/null",
            env!("CARGO_BIN_EXE_vmscope"),
            args.join(" ")
        );
        let mut c = Command::new("script");
        c.args(["-q", "-e", "-c", &line, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = output(&mut c, "script");
        assert!(out.status.success(), "script {line}: {out:?}");
        text(&out.stdout).replace('\r', "")
    };
    let coloured = on_tty("", false);
    assert!(coloured.contains("\x1b["), "{coloured}");
    let plain = strip_sgr(&coloured);
    assert!(plain.contains(": ok,"), "{plain}");
    assert_eq!(on_tty("", true), plain);
    assert_eq!(on_tty("--color never", false), plain);
}

/// The error line's label is coloured on request and plain in a pipe.
#[test]
fn colour_error_label() {
    let run = |extra: &[&str]| -> String {
        let out = output(
            vmscope()
                .args(["--core", "/nonexistent/vmcore", "ps"])
                .args(extra),
            "vmscope",
        );
        assert_eq!(out.status.code(), Some(2));
        text(&out.stderr)
    };
    let plain = run(&[]);
    assert!(plain.starts_with("vmscope: error: "), "{plain}");
    let always = run(&["--color", "always"]);
    assert!(always.contains("\x1b["), "{always:?}");
    assert_eq!(strip_sgr(&always), plain);
}

/// With stderr a terminal, `check --all` and `vmas --all` may draw a progress bar there
/// (5.10's largest process takes over a second); stdout, a file, gets exactly the bytes a
/// run without a terminal prints, and the terminal gets nothing but the bar.
#[test]
fn progress_stays_off_stdout() {
    let base = dump_args("5.10");
    let dir = tempfile::tempdir().unwrap();
    for cmd in [["check", "--all"], ["vmas", "--all"]] {
        let plain = output(vmscope().args(&base).args(cmd), "vmscope");
        assert_eq!(plain.status.code(), Some(0), "{cmd:?}: {plain:?}");
        assert!(plain.stderr.is_empty(), "{cmd:?}: {}", text(&plain.stderr));
        let file = dir.path().join("out");
        let line = format!(
            "{} {} {} >{}",
            env!("CARGO_BIN_EXE_vmscope"),
            base.join(" "),
            cmd.join(" "),
            file.display()
        );
        let tty = output(
            Command::new("script")
                .args(["-q", "-e", "-c", &line, "/dev/null"])
                .env("TERM", "xterm")
                .env("NO_COLOR", "1"),
            "script",
        );
        assert!(tty.status.success(), "{cmd:?} on a terminal: {tty:?}");
        assert_eq!(std::fs::read(&file).unwrap(), plain.stdout, "{cmd:?}");
        let shown = strip_sgr_and_cursor(&text(&tty.stdout));
        for l in shown.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(l.starts_with("vmscope: "), "{cmd:?}: terminal showed {l:?}");
        }
    }
}

/// Text with the terminal's control sequences (colour, cursor moves, line clears) and
/// carriage returns removed.
fn strip_sgr_and_cursor(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters, then one final letter.
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}
