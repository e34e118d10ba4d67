//! The canonical printer: `Display` for the syntax tree.
//!
//! Printing a parsed tree and parsing the text again gives an equal tree apart from spans (the
//! fuzz target checks this). An `||` inside an `&&` is parenthesised, operators are surrounded
//! by single spaces and comments are gone. The printed text can be longer than the source (the
//! spaces), so it may exceed [`crate::MAX_FILTER_LEN`]; its parenthesis nesting is never deeper.
//!
//! Texts are written in `"` when they contain a `'` but no `"`, else in `'`. The quote in use is
//! escaped, and so is a backslash that would otherwise form an escape with the next character
//! (or with the closing quote); every other character is written as it is.
//! Only hand-built `And`/`Or` nodes with fewer than two items print as text that does not parse
//! back.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::{Comparison, Expr, Op, Operand, Span};

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, sep) = match self {
            Expr::Cmp(cmp) => return cmp.fmt(f),
            Expr::And(items) => (items, " && "),
            Expr::Or(items) => (items, " || "),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            // `&&` binds tighter, so only an `||` inside an `&&` needs parentheses; this keeps the
            // printed nesting no deeper than the source's.
            match item {
                Expr::Or(_) => write!(f, "({item})")?,
                _ => item.fmt(f)?,
            }
        }
        Ok(())
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Ident { name, .. } => f.write_str(name),
            Operand::Number { raw, .. } => f.write_str(raw),
            Operand::Text { value, .. } => write_text(f, value),
            Operand::Func { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    arg.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

fn write_text(f: &mut Formatter<'_>, value: &str) -> fmt::Result {
    let quote = if value.contains('\'') && !value.contains('"') { '"' } else { '\'' };
    f.write_char(quote)?;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        // A backslash stays single unless it would read as an escape with what follows.
        let escape = c == quote
            || (c == '\\'
                && chars
                    .peek()
                    .is_none_or(|next| matches!(next, '\\' | '\'' | '"' | 'n' | 't' | 'r')));
        if escape {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char(quote)
}

impl Expr {
    /// A copy with every span reset to the default, for comparing trees by content.
    pub fn without_spans(&self) -> Expr {
        match self {
            Expr::Or(items) => Expr::Or(items.iter().map(Expr::without_spans).collect()),
            Expr::And(items) => Expr::And(items.iter().map(Expr::without_spans).collect()),
            Expr::Cmp(cmp) => Expr::Cmp(Comparison {
                left: cmp.left.without_spans(),
                op: cmp.op,
                right: cmp.right.without_spans(),
                span: Span::default(),
            }),
        }
    }
}

impl Operand {
    /// A copy with every span reset to the default, for comparing trees by content.
    pub fn without_spans(&self) -> Operand {
        let span = Span::default();
        match self {
            Operand::Ident { name, .. } => Operand::Ident { name: name.clone(), span },
            Operand::Number { value, raw, .. } => {
                Operand::Number { value: *value, raw: raw.clone(), span }
            }
            Operand::Text { value, .. } => Operand::Text { value: value.clone(), span },
            Operand::Func { name, args, .. } => Operand::Func {
                name: name.clone(),
                args: args.iter().map(Operand::without_spans).collect(),
                span,
            },
        }
    }
}
