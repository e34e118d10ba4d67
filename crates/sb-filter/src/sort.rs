//! `sort` and `expand` query parameters (spec §3.4, §3.5).
//!
//! Both follow PocketBase's string handling rather than a grammar of their own: sort items are
//! split on commas and trimmed, expand paths are split on commas with spaces removed.

use crate::ParseError;
use crate::lexer::{error, is_identifier};

pub const MAX_SORT_ITEMS: usize = 8;
pub const MAX_EXPAND_DEPTH: usize = 6;
/// Maximum length in bytes of one sort key (without its `-`/`+` prefix).
pub const MAX_SORT_FIELD_LEN: usize = 255;

/// One sort key: an identifier (as the filter language writes it, or `@random` / `@rowid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortItem {
    pub ident: String,
    pub desc: bool,
}

/// Parses `sort`: comma-separated keys, `-key` descending, `+key` or `key` ascending, each
/// trimmed of whitespace.
///
/// An empty string means "no sort". Like PocketBase, an empty item (`a,`, `,a`, `a,,b`, or a
/// whitespace-only string) is an error, as is a key that is not an identifier of the filter
/// language (`@random` and `@rowid` are identifiers too). Whether the key names a real field is
/// for the resolver to decide.
pub fn parse_sort(src: &str) -> Result<Vec<SortItem>, ParseError> {
    if src.is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    let mut offset = 0;
    for part in src.split(',') {
        let start = offset;
        let end = start + part.len();
        offset = end + 1;
        if items.len() == MAX_SORT_ITEMS {
            return Err(error(format!("more than {MAX_SORT_ITEMS} sort items"), start, src.len()));
        }
        let key = part.trim();
        let (ident, desc) = match key.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (key.strip_prefix('+').unwrap_or(key), false),
        };
        if ident.len() > MAX_SORT_FIELD_LEN {
            return Err(error(
                format!("sort key is longer than {MAX_SORT_FIELD_LEN} bytes"),
                start,
                end,
            ));
        }
        if !is_identifier(ident) {
            let message = if key.is_empty() {
                "empty sort item".to_owned()
            } else {
                format!("invalid sort key {key:?}")
            };
            return Err(error(message, start, end));
        }
        items.push(SortItem { ident: ident.to_owned(), desc });
    }
    Ok(items)
}

/// Parses `expand` into relation paths (each a list of names), redundant prefixes removed.
///
/// Following PocketBase: items are split on commas, spaces are removed, leading and trailing
/// dots are trimmed and empty items dropped; a path that is a prefix of another (`a` beside
/// `a.b`) is dropped. Paths are then cut to [`MAX_EXPAND_DEPTH`] names (PocketBase ignores
/// deeper levels) and duplicates removed, keeping the first occurrence's position.
///
/// Names are kept as written: an inner empty name (`a..b`) stays, so the whole path fails to
/// resolve as in PocketBase, and the legacy back-relation form `collection(field)` stays as
/// written because PocketBase uses the name as written as the key under `expand`; see
/// [`parse_back_relation`].
pub fn parse_expand(src: &str) -> Vec<Vec<String>> {
    let normalized: Vec<String> = src
        .split(',')
        .map(|part| part.replace(' ', "").trim_matches('.').to_owned())
        .filter(|part| !part.is_empty())
        .collect();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for (i, path) in normalized.iter().enumerate() {
        let dotted = format!("{path}.");
        let redundant =
            normalized.iter().enumerate().any(|(j, other)| i != j && other.starts_with(&dotted));
        if redundant {
            continue;
        }
        let names: Vec<String> =
            path.split('.').take(MAX_EXPAND_DEPTH).map(str::to_owned).collect();
        if !paths.contains(&names) {
            paths.push(names);
        }
    }
    paths
}

/// Recognises a back-relation expand name: `collection_via_field` or the legacy
/// `collection(field)`, both made of ASCII letters, digits and `_`. Returns
/// `(collection, field)`. For `_via_` the last occurrence splits, as PocketBase's greedy pattern
/// does (`a_via_b_via_c` is collection `a_via_b`, field `c`).
pub fn parse_back_relation(name: &str) -> Option<(&str, &str)> {
    let is_word =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if let Some(call) = name.strip_suffix(')') {
        let (collection, field) = call.split_once('(')?;
        return (is_word(collection) && is_word(field)).then_some((collection, field));
    }
    const VIA: &str = "_via_";
    name.rmatch_indices(VIA).find_map(|(at, _)| {
        let (collection, field) = (name.get(..at)?, name.get(at + VIA.len()..)?);
        (is_word(collection) && is_word(field)).then_some((collection, field))
    })
}
