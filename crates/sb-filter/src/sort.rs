//! `sort` and `expand` query parameters.

use crate::ParseError;

pub const MAX_SORT_ITEMS: usize = 8;
pub const MAX_EXPAND_DEPTH: usize = 6;

/// One sort key: an identifier (as the filter language writes it, or `@random` / `@rowid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortItem {
    pub ident: String,
    pub desc: bool,
}

pub fn parse_sort(src: &str) -> Result<Vec<SortItem>, ParseError> {
    let _ = src;
    Ok(Vec::new())
}

/// Parses `expand` into relation paths (each a list of names), redundant prefixes removed.
pub fn parse_expand(src: &str) -> Vec<Vec<String>> {
    let _ = src;
    Vec::new()
}
