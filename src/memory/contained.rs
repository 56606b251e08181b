//! Running third-party decoders on untrusted bytes: a panic inside one (lzokay-native indexes
//! out of bounds on some corrupt input) becomes an error, and its message is not printed. The
//! default panic hook would write it to stderr before the real, one-line error.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// `f()`, or `None` when it panicked. Panics elsewhere, and on other threads, still reach
/// the previous hook.
pub(crate) fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    out.ok()
}

#[cfg(test)]
mod tests {
    use super::contained;

    #[test]
    fn a_panic_becomes_none() {
        assert_eq!(contained(|| 7), Some(7));
        let v: Vec<u8> = Vec::new();
        let idx = v.len() + 3;
        assert_eq!(contained(|| v[idx]), None);
    }
}
