//! The PocketBase filter language and the other small languages of the query string.
//!
//! * [`parse_filter`]: `filter` query parameter and API rules (grammar in `filter.rs`).
//! * [`parse_sort`]: `sort` query parameter.
//! * [`parse_expand`]: `expand` query parameter.
//! * [`fields`]: the `fields` response picker with its `:excerpt` modifier.
//!
//! Syntax only: no schema, no SQL, no I/O. Every function is total on arbitrary input (it
//! returns an error instead of panicking) and errors carry byte spans into the source.
//! `Display` on [`Expr`] prints canonical filter text that parses back to the same tree.

mod ast;
mod excerpt;
pub mod fields;
mod filter;
mod lexer;
mod print;
mod sort;

pub use ast::*;
pub use fields::{FieldsPicker, parse_fields};
pub use filter::{MAX_COMPARISONS, MAX_FILTER_LEN, MAX_NESTING, parse_filter};
pub use lexer::{MAX_FUNC_DEPTH, is_identifier};
pub use sort::{
    MAX_EXPAND_DEPTH, MAX_SORT_FIELD_LEN, MAX_SORT_ITEMS, SortItem, parse_back_relation,
    parse_expand, parse_sort,
};

#[cfg(test)]
mod tests;
