//! The progress bar of a DWARF name-index build, drawn on stderr only when stderr is a
//! terminal and the build has already taken more than a second (indicatif lives here only).

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
            .get_or_insert_with(|| new_bar(total))
            .set_position(done);
    }))
}

fn new_bar(total: u64) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} units")
    {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message("vmscope: indexing DWARF");
    b
}
