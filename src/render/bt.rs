//! Backtraces as text (crash's `bt` layout: `#N [stack address] function+offset/size`,
//! entry frames with the registers they saved, the user-space boundary with the user
//! registers) or JSON.

use crate::kernel::panic::PanicInfo;
use crate::kernel::stack::regs::{Regs, NAMES};
use crate::kernel::stack::{Frame, Word};
use serde::Serialize;
use std::fmt::Write as _;

/// One task's backtrace, ready to print.
pub struct TaskBt {
    pub pid: i32,
    pub comm: String,
    pub task: u64,
    pub cpu: Option<u32>,
    pub frames: Vec<Frame>,
    pub user_regs: Option<Regs>,
    pub problem: Option<String>,
    /// For `--full`: the stack words after each frame, up to the next one.
    pub words: Vec<Vec<Word>>,
    /// With DWARF: each frame's source position and inlined calls (empty without).
    pub sources: Vec<Option<FrameSource>>,
}

/// A source file and line.
pub type Line = (String, u64);

/// What the line tables say about a frame's pc.
#[derive(Debug, Clone, Default)]
pub struct FrameSource {
    /// The functions inlined at the pc, innermost first, each with its position.
    pub inlined: Vec<(String, Option<Line>)>,
    /// The position in the frame's own function.
    pub line: Option<Line>,
}

fn at(line: &Option<Line>) -> String {
    line.as_ref()
        .map_or_else(String::new, |(f, l)| format!(" at {f}:{l}"))
}

/// `PANIC on CPU 0, task busybox (pid 101): sysrq triggered crash`
pub fn panic_line(p: &PanicInfo) -> String {
    let who = p.task.as_ref().map_or_else(String::new, |(_, pid, comm)| {
        format!(", task {comm} (pid {pid})")
    });
    let msg = p
        .message
        .as_deref()
        .unwrap_or("(no panic message in the log)");
    format!("PANIC on CPU {}{who}: {msg}", p.cpu)
}

pub fn function(f: &Frame) -> String {
    let module = f
        .module
        .as_ref()
        .map_or_else(String::new, |m| format!(" [{m}]"));
    match &f.symbol {
        Some((name, off, size)) if *size > 0 => format!("{name}+{off:#x}/{size:#x}{module}"),
        Some((name, off, _)) => format!("{name}+{off:#x}{module}"),
        None => format!("{:#x}", f.pc),
    }
}

/// Registers three to a line, as crash prints an exception frame.
fn regs_lines(out: &mut String, r: &Regs) {
    let order = [
        "ip", "sp", "flags", "ax", "bx", "cx", "dx", "si", "di", "bp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "orig_ax", "cs", "ss",
    ];
    let shown: Vec<&str> = if r.full {
        order.to_vec()
    } else {
        vec!["ip", "sp", "flags", "cs", "ss"]
    };
    for chunk in shown.chunks(3) {
        let mut line = String::from("   ");
        for n in chunk {
            debug_assert!(NAMES.contains(n));
            let _ = write!(line, " {:>7}: {:016x}", n.to_uppercase(), r.get(n));
        }
        let _ = writeln!(out, "{line}");
    }
}

pub fn text(traces: &[TaskBt], full: bool) -> String {
    let mut out = String::new();
    for (i, t) in traces.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let cpu = t.cpu.map_or_else(|| "-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "PID: {:<7} TASK: {:x}  CPU: {cpu:<3} COMMAND: \"{}\"",
            t.pid, t.task, t.comm
        );
        for (n, f) in t.frames.iter().enumerate() {
            if let Some(r) = &f.regs {
                let _ = writeln!(out, "    --- entry frame at {:x} ---", f.stack);
                regs_lines(&mut out, r);
            }
            let src = t.sources.get(n).and_then(Option::as_ref);
            let _ = writeln!(
                out,
                "{:>3} [{:x}] {}{}",
                format!("#{n}"),
                f.stack,
                function(f),
                src.map_or_else(String::new, |s| at(&s.line))
            );
            // Outermost first, reading down into the innermost call.
            for (name, line) in src.iter().flat_map(|s| s.inlined.iter().rev()) {
                let _ = writeln!(out, "        inlined {name}{}", at(line));
            }
            if full {
                for (a, v, sym) in t.words.get(n).into_iter().flatten() {
                    match sym {
                        Some(s) => {
                            let _ = writeln!(out, "    {a:x}: {v:016x} {s}");
                        }
                        None => {
                            let _ = writeln!(out, "    {a:x}: {v:016x}");
                        }
                    }
                }
            }
        }
        if let Some(r) = &t.user_regs {
            let _ = writeln!(out, "    --- user space ---");
            regs_lines(&mut out, r);
        }
        if let Some(p) = &t.problem {
            let _ = writeln!(out, "    <unwinding stopped: {p}>");
        }
    }
    out
}

#[derive(Serialize)]
struct JsonFrame {
    level: usize,
    stack: String,
    pc: String,
    function: Option<String>,
    offset: Option<u64>,
    size: Option<u64>,
    /// pc saved by an entry frame or a stopped CPU (not a return address).
    exact: bool,
    regs: Option<serde_json::Value>,
    /// The module holding the function (absent: the kernel image).
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    /// With DWARF only.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Option<JsonLine>>,
    /// With DWARF only: innermost first.
    #[serde(skip_serializing_if = "Option::is_none")]
    inlined: Option<Vec<JsonInline>>,
}

#[derive(Serialize)]
struct JsonLine {
    file: String,
    line: u64,
}

#[derive(Serialize)]
struct JsonInline {
    function: String,
    file: Option<String>,
    line: Option<u64>,
}

fn json_line(l: &Option<Line>) -> Option<JsonLine> {
    l.as_ref().map(|(file, line)| JsonLine {
        file: file.clone(),
        line: *line,
    })
}

fn json_inlined(s: &FrameSource) -> Vec<JsonInline> {
    s.inlined
        .iter()
        .map(|(function, l)| JsonInline {
            function: function.clone(),
            file: l.as_ref().map(|l| l.0.clone()),
            line: l.as_ref().map(|l| l.1),
        })
        .collect()
}

#[derive(Serialize)]
struct JsonBt {
    pid: i32,
    comm: String,
    task: String,
    cpu: Option<u32>,
    frames: Vec<JsonFrame>,
    user_regs: Option<serde_json::Value>,
    error: Option<String>,
}

fn regs_json(r: &Regs) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (i, n) in NAMES.iter().enumerate() {
        if r.full || i >= 16 && *n != "orig_ax" {
            m.insert((*n).into(), format!("{:#x}", r.words[i]).into());
        }
    }
    m.into()
}

pub fn json(traces: &[TaskBt]) -> Result<String, serde_json::Error> {
    let rows: Vec<JsonBt> = traces
        .iter()
        .map(|t| JsonBt {
            pid: t.pid,
            comm: t.comm.clone(),
            task: format!("{:#x}", t.task),
            cpu: t.cpu,
            frames: t
                .frames
                .iter()
                .enumerate()
                .map(|(level, f)| {
                    let src = t.sources.get(level).map(Option::as_ref);
                    JsonFrame {
                        level,
                        stack: format!("{:#x}", f.stack),
                        pc: format!("{:#x}", f.pc),
                        function: f.symbol.as_ref().map(|s| s.0.clone()),
                        offset: f.symbol.as_ref().map(|s| s.1),
                        size: f.symbol.as_ref().map(|s| s.2),
                        exact: f.exact,
                        regs: f.regs.as_ref().map(regs_json),
                        module: f.module.clone(),
                        source: src.map(|s| s.and_then(|s| json_line(&s.line))),
                        inlined: src.map(|s| s.map(json_inlined).unwrap_or_default()),
                    }
                })
                .collect(),
            user_regs: t.user_regs.as_ref().map(regs_json),
            error: t.problem.clone(),
        })
        .collect();
    serde_json::to_string_pretty(&rows)
}
