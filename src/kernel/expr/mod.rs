//! C expressions over a kernel (`vmscope print`): [`parse`] turns text into an
//! [`parse::Expr`] with no kernel in sight; [`eval`] evaluates it with the type model,
//! the symbols and the kernel's memory.

pub mod eval;
pub mod list;
pub mod object;
pub mod parse;

pub use eval::{EvalError, Evaluator, Val};
pub use parse::{parse, SyntaxError};
