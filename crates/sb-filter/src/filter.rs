//! Filter grammar (spec §4.2):
//!
//! ```text
//! expression_list := item ( join item )*
//! item            := comparison | '(' expression_list ')'
//! comparison      := operand sign operand
//! operand         := identifier | number | text | function_call
//! ```

use crate::{Expr, ParseError, Span};

/// Maximum filter length in bytes.
pub const MAX_FILTER_LEN: usize = 3500;
/// Maximum number of comparisons in one filter.
pub const MAX_COMPARISONS: usize = 200;
/// Maximum parenthesis / function nesting depth.
pub const MAX_NESTING: usize = 64;

pub fn parse_filter(src: &str) -> Result<Expr, ParseError> {
    let _ = src;
    Err(ParseError { message: "not implemented yet".into(), span: Span::default() })
}
