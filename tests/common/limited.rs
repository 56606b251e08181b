//! vmscope in a child process under an address-space and a wall-time limit, for the tests
//! that feed it hostile input: a run that would allocate without bound fails its allocation
//! instead of taking the machine, and one that hangs is killed and reported as timed out.
#![allow(dead_code)]

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a limited run ended.
pub struct Outcome {
    pub code: Option<i32>,
    /// The signal that ended it, unless it was our kill after the time limit.
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub out: String,
    pub err: String,
}

/// Runs `cmd` (its arguments and environment already set) with RLIMIT_AS at `as_limit`
/// bytes, killing it after `time_limit`. Both output streams are captured.
pub fn run(mut cmd: Command, as_limit: u64, time_limit: Duration) -> Outcome {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: as_limit,
                rlim_max: as_limit,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn vmscope");
    let out_pipe = child.stdout.take().expect("stdout");
    let err_pipe = child.stderr.take().expect("stderr");
    // Drained on threads so a chatty child never blocks on a full pipe.
    let out_t = std::thread::spawn(move || std::io::read_to_string(out_pipe).unwrap_or_default());
    let err_t = std::thread::spawn(move || std::io::read_to_string(err_pipe).unwrap_or_default());
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > time_limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code(),
        signal: if timed_out { None } else { status.signal() },
        timed_out,
        out: out_t.join().unwrap_or_default(),
        err: err_t.join().unwrap_or_default(),
    }
}
