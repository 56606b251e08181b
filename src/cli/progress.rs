//! Progress bars: the DWARF name-index build, and the processes of `check --all` and
//! `vmas --all`. Drawn on stderr only when stderr is a terminal and the work has already
//! taken more than a second (indicatif lives here only).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::debuginfo::{IndexProgress, OpenOptions};
use indicatif::ProgressDrawTarget;

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
            .get_or_insert_with(|| {
                new_bar(
                    total,
                    "indexing DWARF",
                    "units",
                    ProgressDrawTarget::stderr(),
                )
            })
            .set_position(done);
    }))
}

/// `vmscope: WHAT [=====>   ] DONE/TOTAL UNIT`.
fn new_bar(
    total: u64,
    what: &str,
    unit: &'static str,
    target: ProgressDrawTarget,
) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::with_draw_target(Some(total), target);
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
/// work has taken a second, even when one item takes longer than that (a thread reveals it).
/// Output written while it runs goes through [`Counter::suspend`], so a line and the bar
/// never share a terminal row. Cleared when dropped, errors included.
pub struct Counter {
    /// None when stderr is not a terminal.
    bar: Option<indicatif::ProgressBar>,
    /// Set when the run is over, so a late reveal cannot redraw a cleared bar.
    over: Arc<Mutex<bool>>,
}

impl Counter {
    pub fn new(what: &str, total: usize) -> Self {
        use std::io::IsTerminal;
        let over = Arc::new(Mutex::new(false));
        if !std::io::stderr().is_terminal() {
            return Counter { bar: None, over };
        }
        let bar = new_bar(
            total as u64,
            what,
            "processes",
            ProgressDrawTarget::hidden(),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        let (b, o) = (bar.clone(), Arc::clone(&over));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(over) = o.lock() {
                if !*over {
                    b.set_draw_target(ProgressDrawTarget::stderr());
                }
            }
        });
        Counter {
            bar: Some(bar),
            over,
        }
    }

    /// `done` items finished.
    pub fn set(&self, done: usize) {
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
        }
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
        let over = self.over.lock();
        if let Ok(mut o) = over {
            *o = true;
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
