//! The PocketBase filter language and the other small languages of the query string.
//!
//! * [`parse_filter`]: `filter` query parameter and API rules (grammar in `filter.rs`).
//! * [`parse_sort`]: `sort` query parameter.
//! * [`parse_expand`]: `expand` query parameter.
//! * [`fields`]: the `fields` response picker with its `:excerpt` modifier.
//!
//! Syntax only: no schema, no SQL, no I/O. Every function is total on arbitrary input (it
//! returns an error instead of panicking) and errors carry byte spans into the source.

mod ast;
pub mod fields;
mod filter;
mod lexer;
mod sort;

pub use ast::*;
pub use filter::{parse_filter, MAX_FILTER_LEN, MAX_COMPARISONS, MAX_NESTING};
pub use sort::{parse_expand, parse_sort, SortItem, MAX_SORT_ITEMS, MAX_EXPAND_DEPTH};

#[cfg(test)]
mod tests;
