//! The one way vmscope prints a table (ps, tree, costs, check), and the one way
//! it puts text read from a dump into a cell: control bytes escaped, so a task
//! name or path cannot break a row or move the terminal's cursor.

use super::style::{Paint, Role};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Attribute, Cell, CellAlignment, Color, Table};
use std::borrow::Cow;

/// How a column's cells line up: text left, numbers and addresses right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table with vmscope's look and these column headers.
pub fn new(columns: &[(&str, Align)]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(columns.iter().map(|(name, _)| *name));
    for (i, (_, align)) in columns.iter().enumerate() {
        if let (Some(c), Align::Right) = (t.column_mut(i), align) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// A cell coloured for `role` when `paint` is on (the table must be [`styled`] too);
/// comfy-table measures the text, not its escapes, so the columns stay aligned.
pub fn cell(paint: Paint, role: Role, text: String) -> Cell {
    let c = Cell::new(text);
    if !paint.is_on() {
        return c;
    }
    let (colour, bold) = role.ansi();
    let c = c.fg(Color::AnsiValue(colour as u8));
    if bold {
        c.add_attribute(Attribute::Bold)
    } else {
        c
    }
}

/// Let `t` draw its coloured cells when `paint` is on, a terminal or not; comfy-table
/// would otherwise colour only on a terminal, whatever `--color` said.
pub fn styled(t: &mut Table, paint: Paint) {
    if paint.is_on() {
        t.enforce_styling();
        t.style_text_only();
    } else {
        t.force_no_tty();
    }
}

/// `s` with `\n`, `\t`, other control bytes as `\xNN` and a backslash as `\\`;
/// borrowed unchanged when there is nothing to escape.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || c.is_control()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_bytes_and_backslash() {
        assert_eq!(escape("bash"), "bash");
        assert!(matches!(escape("bash"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(escape("\x1b[2J\x7f"), "\\x1b[2J\\x7f");
        assert_eq!(escape("C:\\x"), "C:\\\\x");
        assert_eq!(escape("\u{85}"), "\\x85");
    }

    #[test]
    fn one_row_per_line_even_with_newlines_in_cells() {
        let mut t = new(&[("pid", Align::Right), ("comm", Align::Left)]);
        t.add_row(vec!["1".to_string(), escape("evil\nname").into_owned()]);
        let text = t.to_string();
        // Header, separator, one row, top and bottom borders.
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("evil\\nname"));
    }
}
