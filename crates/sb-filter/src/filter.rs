//! Filter grammar (spec §4.2):
//!
//! ```text
//! expression_list := item ( join item )*
//! item            := comparison | '(' expression_list ')'
//! comparison      := operand sign operand
//! operand         := identifier | number | text | function_call
//! ```
//!
//! A group is lexed as one token covering its parentheses and its inside is parsed on its own
//! (the way PocketBase does it); the nesting depth is checked before recursing, so deeply nested
//! input yields an error instead of exhausting the stack.
//!
//! PocketBase's parser is more lenient than this grammar in two places, which we reject on
//! purpose: a group directly after another group (`(a=1)(b=2)`, silently joined with the
//! previous join) and a group in place of a comparison's operand or operator (`x = (a=1)`, where
//! `x =` is silently dropped). Both look like typos and PocketBase's reading of them is
//! surprising.

use crate::lexer::{self, Join, Lexer, TokenKind, error};
use crate::{Comparison, Expr, Operand, ParseError};

/// Maximum filter length in bytes.
pub const MAX_FILTER_LEN: usize = 3500;
/// Maximum number of comparisons in one filter.
pub const MAX_COMPARISONS: usize = 200;
/// Maximum parenthesis nesting depth (function calls are limited by [`crate::MAX_FUNC_DEPTH`]).
pub const MAX_NESTING: usize = 64;

/// Parses a filter expression (the `filter` query parameter or an API rule).
///
/// Empty, whitespace-only and comment-only input is an error; callers treat an absent or empty
/// `filter` parameter as "no filter" before calling this.
pub fn parse_filter(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_FILTER_LEN {
        return Err(error(
            format!("filter is longer than {MAX_FILTER_LEN} bytes"),
            MAX_FILTER_LEN,
            src.len(),
        ));
    }
    // PocketBase's scanner treats NUL as the end of input and silently ignores what follows; we
    // refuse it instead.
    if let Some(at) = src.find('\0') {
        return Err(error("unexpected character '\\0'", at, at + 1));
    }
    let mut parser = Parser { src, comparisons: 0 };
    parser.parse_list(0, src.len(), 0)
}

struct Parser<'a> {
    src: &'a str,
    comparisons: usize,
}

/// What the state machine expects next.
enum Step {
    /// A comparison's left operand or a group.
    Item,
    /// The operator of a comparison whose left operand was read.
    Sign(Operand),
    /// The right operand of a comparison.
    Right(Operand, crate::Op),
    /// A join or the end.
    Join,
}

impl Parser<'_> {
    /// Parses the expression list in `src[start..end]`; `depth` is the number of enclosing groups.
    fn parse_list(&mut self, start: usize, end: usize, depth: usize) -> Result<Expr, ParseError> {
        let mut lexer = Lexer::new(self.src, start, end);
        let mut items: Vec<(Join, Expr)> = Vec::new();
        let mut join = Join::And;
        let mut step = Step::Item;
        while let Some(token) = lexer.next_token()? {
            let (s, e) = (token.span.start as usize, token.span.end as usize);
            step = match (step, token.kind) {
                (Step::Item, TokenKind::Group { inner }) => {
                    if depth >= MAX_NESTING {
                        return Err(error(
                            format!("parentheses nested deeper than {MAX_NESTING} levels"),
                            s,
                            e,
                        ));
                    }
                    items.push((join, self.parse_list(inner.0, inner.1, depth + 1)?));
                    Step::Join
                }
                (Step::Item, TokenKind::Operand(left)) => Step::Sign(left),
                (Step::Sign(left), TokenKind::Sign(op)) => Step::Right(left, op),
                (Step::Right(left, op), TokenKind::Operand(right)) => {
                    self.comparisons += 1;
                    let span = lexer::span(left.span().start as usize, right.span().end as usize);
                    if self.comparisons > MAX_COMPARISONS {
                        return Err(ParseError {
                            message: format!("more than {MAX_COMPARISONS} comparisons"),
                            span,
                        });
                    }
                    items.push((join, Expr::Cmp(Comparison { left, op, right, span })));
                    Step::Join
                }
                (Step::Join, TokenKind::Join(j)) => {
                    join = j;
                    Step::Item
                }
                (step, _) => {
                    let expected = match step {
                        Step::Item => "expected an operand or '('",
                        Step::Sign(_) => "expected an operator (=, !=, >, >=, <, <=, ~, !~)",
                        Step::Right(..) => "expected the right operand",
                        Step::Join => "expected && or ||",
                    };
                    return Err(error(expected, s, e));
                }
            };
        }
        match step {
            Step::Join => Ok(build(items)),
            Step::Item if items.is_empty() => Err(error("empty filter expression", start, end)),
            _ => Err(error("incomplete filter expression", lexer.end(), lexer.end())),
        }
    }
}

/// Builds the tree from items and the joins before them: `&&` binds tighter than `||`, and
/// nested joins of the same kind are flattened.
fn build(items: Vec<(Join, Expr)>) -> Expr {
    let mut terms: Vec<Expr> = Vec::new();
    let mut run: Vec<Expr> = Vec::new();
    for (join, item) in items {
        if join == Join::Or && !run.is_empty() {
            push_flat(&mut terms, single_or(std::mem::take(&mut run), Expr::And), true);
        }
        push_flat(&mut run, item, false);
    }
    if !run.is_empty() {
        push_flat(&mut terms, single_or(run, Expr::And), true);
    }
    single_or(terms, Expr::Or)
}

/// One item stays itself; several become a join node.
fn single_or(mut items: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if items.len() == 1
        && let Some(item) = items.pop()
    {
        return item;
    }
    join(items)
}

/// Appends `item`, splicing in its children when it is a join of the same kind.
fn push_flat(list: &mut Vec<Expr>, item: Expr, or: bool) {
    match item {
        Expr::Or(children) if or => list.extend(children),
        Expr::And(children) if !or => list.extend(children),
        other => list.push(other),
    }
}
