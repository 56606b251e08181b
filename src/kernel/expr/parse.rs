//! Lexer and recursive-descent parser of the C expression subset `vmscope print`
//! evaluates. No kernel dependency: it can be fuzzed on its own.

use thiserror::Error;

/// Longest expression accepted (bounds the recursion too).
const MAX_LEN: usize = 4096;
/// Nesting depth of sub-expressions.
const MAX_NEST: usize = 64;

#[derive(Debug, Error, Clone, PartialEq)]
#[error("1:{col}: {msg}{}", caret(.source_text, *.col))]
pub struct SyntaxError {
    /// 1-based column of the offending character.
    pub col: usize,
    pub msg: String,
    /// The expression, to show the column in (set by [`parse`]).
    pub source_text: String,
}

/// `: EXPR` with a `^` inserted before column `col`: the error stays one line.
fn caret(src: &str, col: usize) -> String {
    if src.is_empty() {
        return String::new();
    }
    // Columns count bytes (the lexer's); a column inside a character moves back to it.
    let mut at = col.saturating_sub(1).min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    format!(": {}^{}", &src[..at], &src[at..])
}

/// A C type name as written: `struct task_struct *`, `unsigned long`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub base: String,
    pub pointers: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    And,
    Or,
    Xor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogAnd,
    LogOr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
    Deref,
    AddrOf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(u64),
    Ident(String),
    /// `base.name` or `base->name` (the same once evaluated: `.` on a pointer follows it).
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cast(TypeName, Box<Expr>),
    SizeofType(TypeName),
    SizeofExpr(Box<Expr>),
    /// `offsetof(type, a.b)`
    Offsetof(TypeName, String),
    /// `container_of(ptr, type, member)`
    ContainerOf(Box<Expr>, TypeName, String),
    PerCpu(Box<Expr>, Box<Expr>),
    PerCpuPtr(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(u64),
    Ident(String),
    Punct(&'static str),
    End,
}

/// Punctuators, longest first.
const PUNCT: &[&str] = &[
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "[", "]", ".", ",", "+", "-",
    "*", "/", "%", "&", "|", "^", "~", "!", "<", ">",
];

const TYPE_WORDS: &[&str] = &[
    "struct", "union", "enum", "unsigned", "signed", "int", "long", "short", "char", "void",
    "_Bool", "const", "volatile",
];

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    if src.len() > MAX_LEN {
        return Err(SyntaxError {
            col: MAX_LEN,
            msg: format!("expression longer than {MAX_LEN} characters"),
            source_text: String::new(),
        });
    }
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let col = i + 1;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let text = &src[start..i];
            let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
            let v = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16),
                None => digits.parse(),
            };
            let v = v.map_err(|_| SyntaxError {
                col,
                msg: format!("bad number '{text}'"),
                source_text: String::new(),
            })?;
            out.push((Tok::Num(v), col));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), col));
        } else if let Some(p) = PUNCT.iter().find(|p| src[i..].starts_with(**p)) {
            out.push((Tok::Punct(p), col));
            i += p.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(SyntaxError {
                col,
                msg: format!("unexpected character '{ch}'"),
                source_text: String::new(),
            });
        }
    }
    out.push((Tok::End, src.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

/// Binary operators by precedence level, loosest first.
const LEVELS: &[&[(&str, BinOp)]] = &[
    &[("||", BinOp::LogOr)],
    &[("&&", BinOp::LogAnd)],
    &[("|", BinOp::Or)],
    &[("^", BinOp::Xor)],
    &[("&", BinOp::And)],
    &[("==", BinOp::Eq), ("!=", BinOp::Ne)],
    &[
        ("<", BinOp::Lt),
        ("<=", BinOp::Le),
        (">", BinOp::Gt),
        (">=", BinOp::Ge),
    ],
    &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
    &[("+", BinOp::Add), ("-", BinOp::Sub)],
    &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
];

/// Parse a whole expression.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    parse_expr(src).map_err(|e| SyntaxError {
        source_text: src.chars().take(MAX_SHOWN).collect(),
        ..e
    })
}

/// Longest expression quoted back in a syntax error.
const MAX_SHOWN: usize = 200;

fn parse_expr(src: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    match p.peek() {
        Tok::End => Ok(e),
        _ => Err(p.error("unexpected text after the expression")),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::End, |t| &t.0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map_or(&Tok::End, |t| &t.0)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(1, |t| t.1)
    }

    fn error(&self, what: &str) -> SyntaxError {
        let near = match self.peek() {
            Tok::Num(n) => format!("near '{n}'"),
            Tok::Ident(s) => format!("near '{s}'"),
            Tok::Punct(p) => format!("near '{p}'"),
            Tok::End => "at the end".into(),
        };
        SyntaxError {
            col: self.col(),
            msg: format!("{what} {near} (column {})", self.col()),
            source_text: String::new(),
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), SyntaxError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{p}'")))
        }
    }

    fn ident(&mut self) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error("expected a name")),
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NEST {
            return Err(self.error("expression nested too deeply"));
        }
        let e = self.binary(0);
        self.depth -= 1;
        e
    }

    fn binary(&mut self, level: usize) -> Result<Expr, SyntaxError> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut lhs = self.binary(level + 1)?;
        'outer: loop {
            for (text, op) in *ops {
                if self.eat(text) {
                    let rhs = self.binary(level + 1)?;
                    lhs = Expr::Binary(*op, Box::new(lhs), Box::new(rhs));
                    continue 'outer;
                }
            }
            return Ok(lhs);
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        const UNARY: &[(&str, UnOp)] = &[
            ("-", UnOp::Neg),
            ("!", UnOp::Not),
            ("~", UnOp::BitNot),
            ("*", UnOp::Deref),
            ("&", UnOp::AddrOf),
        ];
        for (text, op) in UNARY {
            if self.eat(text) {
                self.depth += 1;
                if self.depth > MAX_NEST {
                    return Err(self.error("expression nested too deeply"));
                }
                let e = self.unary()?;
                self.depth -= 1;
                return Ok(Expr::Unary(*op, Box::new(e)));
            }
        }
        if self.eat("+") {
            return self.unary();
        }
        if matches!(self.peek(), Tok::Punct("(")) && self.cast_ahead() {
            self.pos += 1;
            let ty = self.type_name()?;
            self.expect(")")?;
            let e = self.unary()?;
            return Ok(Expr::Cast(ty, Box::new(e)));
        }
        self.postfix()
    }

    /// After `(`: a type name, not a parenthesised expression (a type keyword, or
    /// `name *...)` as with a typedef).
    fn cast_ahead(&self) -> bool {
        match self.peek_at(1) {
            Tok::Ident(w) if TYPE_WORDS.contains(&w.as_str()) => true,
            Tok::Ident(_) => {
                let mut n = 2;
                while matches!(self.peek_at(n), Tok::Punct("*")) {
                    n += 1;
                }
                n > 2 && matches!(self.peek_at(n), Tok::Punct(")"))
            }
            _ => false,
        }
    }

    fn type_name(&mut self) -> Result<TypeName, SyntaxError> {
        let mut words: Vec<String> = Vec::new();
        while let Tok::Ident(w) = self.peek().clone() {
            if w == "const" || w == "volatile" {
                self.pos += 1;
                continue;
            }
            let tagged = matches!(
                words.first().map(String::as_str),
                Some("struct" | "union" | "enum")
            );
            if tagged && words.len() == 2 {
                break;
            }
            if !words.is_empty() && !tagged && !TYPE_WORDS.contains(&w.as_str()) {
                break;
            }
            self.pos += 1;
            words.push(w);
        }
        if words.is_empty() {
            return Err(self.error("expected a type name"));
        }
        if matches!(words[0].as_str(), "struct" | "union" | "enum") && words.len() < 2 {
            return Err(self.error(&format!("expected a name after '{}'", words[0])));
        }
        let mut pointers = 0;
        while self.eat("*") {
            pointers += 1;
        }
        Ok(TypeName {
            base: words.join(" "),
            pointers,
        })
    }

    /// `a.b.c` after offsetof/container_of's type.
    fn member_path(&mut self) -> Result<String, SyntaxError> {
        let mut path = self.ident()?;
        while self.eat(".") {
            path.push('.');
            path.push_str(&self.ident()?);
        }
        Ok(path)
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") || self.eat("->") {
                e = Expr::Member(Box::new(e), self.ident()?);
            } else if self.eat("[") {
                let i = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        match self.peek().clone() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Tok::Punct("(") => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                self.pos += 1;
                if matches!(self.peek(), Tok::Punct("(")) {
                    if let Some(e) = self.builtin(&name)? {
                        return Ok(e);
                    }
                }
                Ok(Expr::Ident(name))
            }
            _ => Err(self.error("expected an expression")),
        }
    }

    /// sizeof, offsetof, container_of, per_cpu, per_cpu_ptr (the `(` is next).
    fn builtin(&mut self, name: &str) -> Result<Option<Expr>, SyntaxError> {
        let e = match name {
            "sizeof" => {
                self.expect("(")?;
                let e = if self.type_ahead() {
                    Expr::SizeofType(self.type_name()?)
                } else {
                    Expr::SizeofExpr(Box::new(self.expr()?))
                };
                self.expect(")")?;
                return Ok(Some(e));
            }
            "offsetof" => {
                self.expect("(")?;
                let ty = self.type_name()?;
                self.expect(",")?;
                let path = self.member_path()?;
                Expr::Offsetof(ty, path)
            }
            "container_of" => {
                self.expect("(")?;
                let p = self.expr()?;
                self.expect(",")?;
                let ty = self.type_name()?;
                self.expect(",")?;
                let path = self.member_path()?;
                Expr::ContainerOf(Box::new(p), ty, path)
            }
            "per_cpu" | "per_cpu_ptr" => {
                self.expect("(")?;
                let v = self.expr()?;
                self.expect(",")?;
                let cpu = self.expr()?;
                if name == "per_cpu" {
                    Expr::PerCpu(Box::new(v), Box::new(cpu))
                } else {
                    Expr::PerCpuPtr(Box::new(v), Box::new(cpu))
                }
            }
            _ => return Ok(None),
        };
        self.expect(")")?;
        Ok(Some(e))
    }

    fn type_ahead(&self) -> bool {
        matches!(self.peek(), Tok::Ident(w) if TYPE_WORDS.contains(&w.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_indexes_and_casts() {
        let e = parse("((struct task_struct *)0x10)->mm.mmap_base").unwrap();
        let Expr::Member(inner, m) = e else {
            panic!("{e:?}")
        };
        assert_eq!(m, "mmap_base");
        assert!(matches!(*inner, Expr::Member(_, ref n) if n == "mm"));
        let e = parse("a[1 + 2] == 3").unwrap();
        assert!(matches!(e, Expr::Binary(BinOp::Eq, _, _)));
        assert_eq!(
            parse("sizeof(unsigned long)").unwrap(),
            Expr::SizeofType(TypeName {
                base: "unsigned long".into(),
                pointers: 0
            })
        );
        assert!(matches!(
            parse("container_of(p, struct task_struct, tasks)").unwrap(),
            Expr::ContainerOf(_, _, _)
        ));
        assert!(matches!(
            parse("(u64 *)x").unwrap(),
            Expr::Cast(TypeName { pointers: 1, .. }, _)
        ));
        assert!(matches!(parse("(x)").unwrap(), Expr::Ident(_)));
    }

    #[test]
    fn precedence() {
        let e = parse("1 + 2 * 3").unwrap();
        let Expr::Binary(BinOp::Add, _, r) = e else {
            panic!()
        };
        assert!(matches!(*r, Expr::Binary(BinOp::Mul, _, _)));
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse("foo(1").unwrap_err();
        assert_eq!(e.col, 4, "{e}");
        let e = parse("init_mm.").unwrap_err();
        assert_eq!(e.col, 9, "{e}");
        assert!(e.to_string().contains("column 9"), "{e}");
        assert!(e.to_string().ends_with(": init_mm.^"), "{e}");
        let e = parse("a $ b").unwrap_err();
        assert_eq!(e.col, 3);
        assert!(e.to_string().ends_with(": a ^$ b"), "{e}");
        // Columns count bytes; the caret goes before a multi-byte character.
        let e = parse("aé").unwrap_err();
        assert_eq!(e.col, 2);
        assert!(e.to_string().ends_with(": a^é"), "{e}");
        assert!(parse(&"(".repeat(500)).is_err());
        assert!(parse(&"-".repeat(500)).is_err());
    }

    #[test]
    fn never_panics_on_junk() {
        let mut rng = crate::rng::XorShift::new(7);
        let alphabet = b"()[]*&.->a1x_ ,+sizeofstruct";
        for _ in 0..2000 {
            let n = (rng.next_u64() % 24) as usize;
            let s: String = (0..n)
                .map(|_| alphabet[(rng.next_u64() as usize) % alphabet.len()] as char)
                .collect();
            let _ = parse(&s);
        }
    }
}
