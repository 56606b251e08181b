//! `--color auto|always|never`: whether stdout and stderr are coloured. `auto` colours a
//! terminal unless `NO_COLOR` is set (anstream's reading of NO_COLOR, CLICOLOR and TERM),
//! so a pipe gets the plain bytes; what is coloured is decided in render/style.rs.

use crate::render::style::{Paint, Role};
use anstream::{AutoStream, ColorChoice};
use clap::ValueEnum;

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorWhen {
    /// Colour a terminal, unless NO_COLOR is set
    #[default]
    Auto,
    /// Colour even into a pipe or file
    Always,
    /// Never colour
    Never,
}

/// Record the choice for the whole run (anstream keeps it process-wide).
pub fn init(when: ColorWhen) {
    match when {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    }
    .write_global();
}

fn resolved(choice: ColorChoice) -> Paint {
    Paint::new(matches!(
        choice,
        ColorChoice::Always | ColorChoice::AlwaysAnsi
    ))
}

/// Whether stdout is coloured.
pub fn stdout() -> Paint {
    resolved(AutoStream::choice(&std::io::stdout()))
}

/// Whether stderr is coloured (warnings and errors).
pub fn stderr() -> Paint {
    resolved(AutoStream::choice(&std::io::stderr()))
}

/// `vmscope: warning:` with its label coloured for stderr.
pub fn warning_prefix() -> String {
    format!("vmscope: {}", stderr().paint(Role::Warn, "warning:"))
}

/// `vmscope: error:` with its label coloured for stderr.
pub fn error_prefix() -> String {
    format!("vmscope: {}", stderr().paint(Role::Error, "error:"))
}
