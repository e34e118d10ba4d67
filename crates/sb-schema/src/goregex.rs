//! Go (RE2) regular expressions on top of the `regex` crate.
//!
//! PocketBase stores `pattern` and `autogeneratePattern` options in Go syntax. The two dialects
//! agree on almost everything; the one difference users hit is that Go's Perl classes (`\d`,
//! `\w`, `\s`) are ASCII-only while the `regex` crate makes them Unicode-aware. [`translate`]
//! rewrites those classes to explicit ASCII sets so both matching and value generation behave
//! like PocketBase.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use regex::Regex;

/// A process-wide memo of work derived from a pattern's text (compiled regexes, parsed
/// generators). Patterns come from collection definitions, so the set in use is small and
/// every record write would otherwise recompile the same ones; the memo is emptied when it
/// reaches `MEMO_LIMIT` entries so that many distinct patterns cannot grow it without bound.
pub(crate) struct Memo<T> {
    entries: LazyLock<RwLock<HashMap<String, T>>>,
}

const MEMO_LIMIT: usize = 1024;

impl<T: Clone> Memo<T> {
    pub(crate) const fn new() -> Memo<T> {
        Memo { entries: LazyLock::new(|| RwLock::new(HashMap::new())) }
    }

    /// The value for `pattern`, made by `make` on first use.
    pub(crate) fn get(&self, pattern: &str, make: impl FnOnce(&str) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-insert; the map is intact.
        if let Some(hit) = self.entries.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
            return hit.clone();
        }
        let value = make(pattern);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MEMO_LIMIT {
            entries.clear();
        }
        entries.insert(pattern.to_owned(), value.clone());
        value
    }
}

static COMPILED: Memo<Result<Regex, String>> = Memo::new();

/// Rewrites Go's ASCII Perl classes into explicit sets understood identically by `regex`.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Depth of `[...]` nesting; `[:alpha:]` inside a class does not count.
    let mut in_class = false;
    // True right after `[` or `[^`, where a `]` is a literal.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                class_start = false;
                let replacement = match (next, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\f\\r ]"),
                    ('S', false) => Some("[^\\t\\n\\f\\r ]"),
                    ('d', true) => Some("0-9"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('s', true) => Some("\\t\\n\\f\\r "),
                    _ => None,
                };
                match replacement {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // POSIX class `[:name:]`: copy through to the closing `:]`.
                out.push('[');
                class_start = false;
                let mut prev = '\0';
                for p in chars.by_ref() {
                    out.push(p);
                    if prev == ':' && p == ']' {
                        break;
                    }
                    prev = p;
                }
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(']');
            }
            _ => {
                class_start = false;
                out.push(c);
            }
        }
    }
    out
}

/// Compiles a Go pattern; the error is a one-line message in the style of Go's
/// `Error parsing regexp: ...` (the reason text itself comes from the `regex` crate).
/// Compiled regexes are memoised (a clone shares the compiled program).
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    COMPILED.get(pattern, compile_uncached)
}

fn compile_uncached(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern)).map_err(|e| {
        let text = e.to_string();
        let reason = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or("invalid pattern")
            .to_owned();
        format!("Error parsing regexp: {reason}: `{pattern}`.")
    })
}
