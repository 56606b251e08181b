//! Colour in text output: which words get which style. Whether a stream is coloured at
//! all (`--color`, `NO_COLOR`, a terminal) is the CLI's decision, handed in as a `Paint`;
//! without colour every function here returns its text unchanged, so output in a pipe
//! stays byte for byte what it was.

use anstyle::{AnsiColor, Style};
use std::borrow::Cow;

/// What a piece of text says, and so its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A passed check, an ok verdict.
    Good,
    /// A failed check, a violation, an impossible record.
    Bad,
    /// A warning's label.
    Warn,
    /// An error's label or an ERROR verdict.
    Error,
    /// A red rb-tree node.
    Red,
    /// A black rb-tree node (grey: black text vanishes on a dark terminal).
    Black,
}

impl Role {
    /// The colour and whether it is bold; tables (render/table.rs) take the same pair.
    pub fn ansi(self) -> (AnsiColor, bool) {
        match self {
            Role::Good => (AnsiColor::Green, false),
            Role::Bad => (AnsiColor::Red, true),
            Role::Warn => (AnsiColor::Yellow, true),
            Role::Error => (AnsiColor::Red, true),
            Role::Red => (AnsiColor::Red, false),
            Role::Black => (AnsiColor::BrightBlack, true),
        }
    }

    fn style(self) -> Style {
        let (colour, bold) = self.ansi();
        let s = Style::new().fg_color(Some(colour.into()));
        if bold {
            s.bold()
        } else {
            s
        }
    }
}

/// Whether one output stream is coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// No colour: the default, and what every pipe gets unless told otherwise.
    pub const PLAIN: Paint = Paint { on: false };

    pub fn new(on: bool) -> Self {
        Paint { on }
    }

    pub fn is_on(self) -> bool {
        self.on
    }

    /// `text` in the style of `role`, or unchanged without colour.
    pub fn paint(self, role: Role, text: &str) -> Cow<'_, str> {
        if !self.on {
            return Cow::Borrowed(text);
        }
        let s = role.style();
        Cow::Owned(format!("{}{text}{}", s.render(), s.render_reset()))
    }

    /// As [`Self::paint`], owning the text (for text built on the spot).
    pub fn paint_owned(self, role: Role, text: String) -> String {
        if !self.on {
            return text;
        }
        self.paint(role, &text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_the_text_itself() {
        for role in [Role::Good, Role::Bad, Role::Warn, Role::Error, Role::Red] {
            assert_eq!(Paint::PLAIN.paint(role, "FAIL"), "FAIL");
        }
        assert_eq!(Paint::PLAIN.paint_owned(Role::Bad, "x".into()), "x");
    }

    #[test]
    fn colour_wraps_the_text_in_escapes_that_reset() {
        let p = Paint::new(true).paint(Role::Bad, "FAIL").into_owned();
        assert!(p.starts_with("\x1b["), "{p:?}");
        assert!(p.contains("FAIL"));
        assert!(p.ends_with("\x1b[0m"), "{p:?}");
        assert_ne!(
            Paint::new(true).paint(Role::Red, "red"),
            Paint::new(true).paint(Role::Black, "red")
        );
    }
}
