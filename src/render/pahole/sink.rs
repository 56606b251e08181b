//! Where the printer's text goes: an `io::Write` with pahole's column bookkeeping, a cap on
//! the bytes one type may produce, and a record of the types being expanded, so a corrupt
//! input whose types contain each other stops with an error instead of growing without end.

use std::io::{self, Write};

use super::{MemberLine, MemberVisitor};
use crate::types::model::TypeId;

/// Bytes one printed type may produce. pahole's largest kernel type expanded with `-E` is
/// well under a megabyte; more than this means types that refer to each other many times.
pub const OUTPUT_BUDGET: u64 = 32 << 20;

/// Deeper nesting than this is treated as a cycle in the input (printed as a marker, as
/// pahole would never reach it).
const MAX_DEPTH: usize = 256;

/// printf's cap on tabs in pahole's indentation.
pub const MAX_TABS: usize = 16;

pub struct Sink<'w> {
    writer: &'w mut dyn Write,
    /// Open captures (text rendered into a string first, e.g. a function type's name).
    captures: Vec<Vec<u8>>,
    /// Bytes of printer text so far: pahole's column arithmetic counts these.
    written: usize,
    /// Bytes left before the budget runs out (annotations count too).
    remaining: u64,
    /// Nesting of declarators and bodies being printed.
    depth: usize,
    /// Types whose bodies or declarators are being printed, outermost first.
    expanding: Vec<TypeId>,
    /// The first failure; once set, nothing more is written.
    error: Option<Failure>,
    /// Told about each member line, and given the chance to add to it.
    visitor: Option<&'w mut dyn MemberVisitor>,
    /// Names of the members being printed (kept only for a visitor).
    path: Vec<String>,
    /// Struct, union and enum bodies begun so far.
    bodies: usize,
}

/// Why a sink stopped.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    /// This type was to be printed inside itself.
    Cycle(TypeId),
    /// [`OUTPUT_BUDGET`] ran out.
    Budget,
}

impl<'w> Sink<'w> {
    pub fn new(
        writer: &'w mut dyn Write,
        budget: u64,
        visitor: Option<&'w mut dyn MemberVisitor>,
    ) -> Self {
        Sink {
            writer,
            captures: Vec::new(),
            written: 0,
            remaining: budget,
            depth: 0,
            expanding: Vec::new(),
            error: None,
            visitor,
            path: Vec::new(),
            bodies: 0,
        }
    }

    /// Bytes of printer text written so far (a position to measure spans from).
    pub fn pos(&self) -> usize {
        self.written
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The first failure, if any, and the sink's end.
    pub fn finish(mut self) -> Result<(), Failure> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn emit(&mut self, bytes: &[u8]) -> bool {
        if self.error.is_some() {
            return false;
        }
        let len = bytes.len() as u64;
        if len > self.remaining {
            self.error = Some(Failure::Budget);
            return false;
        }
        self.remaining -= len;
        let res = match self.captures.last_mut() {
            Some(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
            None => self.writer.write_all(bytes),
        };
        if let Err(e) = res {
            self.error = Some(Failure::Io(e));
            return false;
        }
        true
    }

    pub fn put(&mut self, s: &str) {
        if self.emit(s.as_bytes()) {
            self.written += s.len();
        }
    }

    pub fn ch(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.put(c.encode_utf8(&mut b));
    }

    pub fn fmt(&mut self, args: std::fmt::Arguments<'_>) {
        match args.as_str() {
            Some(s) => self.put(s),
            None => self.put(&args.to_string()),
        }
    }

    /// Text that is not pahole's (a value beside a member line): it uses the budget but
    /// leaves the column arithmetic alone.
    fn annotate(&mut self, s: &str) {
        self.emit(s.as_bytes());
    }

    /// Render `f`'s output into a string instead of the writer.
    pub fn capture(&mut self, f: impl FnOnce(&mut Self)) -> String {
        // captured text is not yet printed: the column arithmetic counts it when it is
        let written = self.written;
        self.captures.push(Vec::new());
        f(self);
        self.written = written;
        let bytes = self.captures.pop().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Start printing a declarator or body one level deeper; `id` names the type whose
    /// body it is (None for a declarator, which may legitimately print its own type's
    /// body next). False, and nothing is to be printed, if the sink failed, if `id` is
    /// already being printed further out (only a corrupt input can make a type contain
    /// itself), or if the nesting is absurdly deep (a marker is printed then).
    pub fn enter(&mut self, id: Option<TypeId>) -> bool {
        if self.failed() {
            return false;
        }
        if let Some(id) = id {
            if self.expanding.contains(&id) {
                self.error.get_or_insert(Failure::Cycle(id));
                return false;
            }
        }
        if self.too_deep() {
            self.put("<ERROR: type nesting too deep>");
            return false;
        }
        self.depth += 1;
        self.expanding.extend(id);
        true
    }

    /// End what the matching successful `enter(id)` started.
    pub fn leave(&mut self, id: Option<TypeId>) {
        self.depth -= 1;
        if id.is_some() {
            self.expanding.pop();
        }
    }

    /// Whether the nesting limit is reached (names print a marker instead of recursing).
    pub fn too_deep(&self) -> bool {
        self.depth >= MAX_DEPTH
    }

    /// A struct, union or enum body begins.
    pub fn begin_body(&mut self) {
        self.bodies += 1;
    }

    /// Bodies begun so far (compare two counts to learn whether a body was printed between).
    pub fn bodies(&self) -> usize {
        self.bodies
    }

    /// A member's declaration begins; its name (if any) extends the path told to the visitor.
    /// Returns what [`Sink::end_member`] needs.
    pub fn begin_member(&mut self, name: Option<&str>) -> bool {
        match (&self.visitor, name) {
            (Some(_), Some(n)) => {
                self.path.push(n.to_string());
                true
            }
            _ => false,
        }
    }

    pub fn end_member(&mut self, named: bool) {
        if named {
            self.path.pop();
        }
    }

    /// A member line is complete (before its newline): let the visitor add to it.
    pub fn member_line(&mut self, line: impl FnOnce(&[String]) -> MemberLine<'_>) {
        if self.failed() {
            return;
        }
        let Some(v) = self.visitor.as_mut() else {
            return;
        };
        if let Some(text) = v.member(&line(&self.path)) {
            self.annotate(&text);
        }
    }

    /// `n` tabs, at most [`MAX_TABS`].
    pub fn tabs(&mut self, n: u8) {
        let n = (n as usize).min(MAX_TABS);
        self.put(&"\t".repeat(n));
    }

    /// printf `%-*s`: left-justified in |width| columns.
    pub fn left(&mut self, s: &str, width: i32) {
        self.put(s);
        let pad = (width.unsigned_abs() as usize).saturating_sub(s.len());
        if pad > 0 {
            self.put(&" ".repeat(pad));
        }
    }

    /// printf `%*s` with a one-space argument: |width| spaces, at least one.
    pub fn spaces(&mut self, width: i32) {
        let w = (width.unsigned_abs() as usize).max(1);
        self.put(&" ".repeat(w));
    }
}

/// printf `%#x` (no `0x` for zero), right-justified in `width`.
pub fn hash_x(v: u64, width: usize) -> String {
    let s = if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    };
    format!("{s:>width$}")
}

pub fn plural(n: i64) -> &'static str {
    if n != 1 {
        "s"
    } else {
        ""
    }
}
