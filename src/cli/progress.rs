//! Progress bars: the DWARF name-index build, and the processes of `check --all` and
//! `vmas --all`. Drawn on stderr only when stderr is a terminal and the work has already
//! taken more than a second (indicatif lives here only).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::debuginfo::{IndexProgress, OpenOptions};

/// Default DWARF open options with the index progress bar attached.
pub fn dwarf_options() -> OpenOptions {
    OpenOptions {
        progress: index_bar(),
        ..OpenOptions::default()
    }
}

struct Bar {
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

fn index_bar() -> Option<IndexProgress> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let state = Mutex::new(Bar {
        started: Instant::now(),
        bar: None,
    });
    Some(Arc::new(move |done: u64, total: u64| {
        let Ok(mut s) = state.lock() else { return };
        if done == 0 {
            s.started = Instant::now();
        }
        if done >= total {
            if let Some(b) = s.bar.take() {
                b.finish_and_clear();
            }
            return;
        }
        if s.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        s.bar
            .get_or_insert_with(|| new_bar(total, "indexing DWARF", "units"))
            .set_position(done);
    }))
}

/// `vmscope: WHAT [=====>   ] DONE/TOTAL UNIT`.
fn new_bar(total: u64, what: &str, unit: &'static str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {prefix}")
    {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(format!("vmscope: {what}"));
    b.set_prefix(unit);
    b
}

/// Items done out of a known total (`check --all`, `vmas --all`), shown as a bar once the
/// work has taken a second. Output written while it runs goes through [`Counter::suspend`],
/// so a line and the bar never share a terminal row. Cleared when dropped, errors included.
pub struct Counter {
    label: &'static str,
    total: u64,
    started: Instant,
    /// None until the bar is due; never on a stderr that is not a terminal.
    bar: Option<indicatif::ProgressBar>,
    tty: bool,
}

impl Counter {
    pub fn new(label: &'static str, total: usize) -> Self {
        use std::io::IsTerminal;
        Counter {
            label,
            total: total as u64,
            started: Instant::now(),
            bar: None,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// `done` items finished.
    pub fn set(&mut self, done: usize) {
        if !self.tty || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let (label, total) = (self.label, self.total);
        self.bar
            .get_or_insert_with(|| new_bar(total, label, "processes"))
            .set_position(done as u64);
    }

    /// Run `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
