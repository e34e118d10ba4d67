//! Parsing of SQLite-dialect `CREATE [UNIQUE] INDEX` statements, as collections store them,
//! and printing them back.
//!
//! PocketBase keeps index definitions as SQLite SQL on the collection and rewrites the table
//! name inside each of them when a collection is saved, so we need a faithful parser (any of
//! SQLite's quoting styles, any whitespace, case-insensitive keywords) and a printer in
//! PocketBase's layout. Expressions (expression columns, the WHERE clause) are kept as written;
//! PostgreSQL only needs their identifier quoting translated ([`sqlite_quotes_to_pg`]).

use crate::{IndexColumn, IndexDef};

/// Parses an index definition; the error text is for the `validation_invalid_index_expression`
/// message.
pub fn parse_index(sql: &str) -> Result<IndexDef, String> {
    let mut p = Parser { src: sql, pos: 0 };
    p.keyword("CREATE")?;
    let unique = p.try_keyword("UNIQUE");
    p.keyword("INDEX")?;
    let if_not_exists = if p.try_keyword("IF") {
        p.keyword("NOT")?;
        p.keyword("EXISTS")?;
        true
    } else {
        false
    };
    let mut name = p.ident()?;
    p.skip_ws();
    if p.rest().starts_with('.') {
        // `schema.name`: the schema is dropped (collections live in the main schema).
        p.pos += 1;
        name = p.ident()?;
    }
    p.keyword("ON")?;
    let table = p.ident()?;
    p.skip_ws();
    if !p.rest().starts_with('(') {
        return Err("expected a column list".into());
    }
    let body = p.parenthesized()?;
    let columns =
        split_top_level(body).into_iter().map(parse_column).collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err("the index has no columns".into());
    }
    p.skip_ws();
    let where_ = if p.try_keyword("WHERE") {
        let cond = p.rest().trim().trim_end_matches(';').trim_end();
        if cond.is_empty() {
            return Err("empty WHERE clause".into());
        }
        Some(cond.to_owned())
    } else {
        let rest = p.rest().trim();
        if !rest.is_empty() && rest != ";" {
            return Err(format!("unexpected text after the column list: {rest:?}"));
        }
        None
    };
    Ok(IndexDef { name, table, unique, if_not_exists, columns, where_ })
}

impl IndexDef {
    /// Prints the definition as SQLite SQL, in PocketBase's layout (backtick quoting; one column
    /// per line when there are several).
    pub fn to_sqlite(&self) -> String {
        let mut s = String::from("CREATE ");
        if self.unique {
            s.push_str("UNIQUE ");
        }
        s.push_str("INDEX ");
        if self.if_not_exists {
            s.push_str("IF NOT EXISTS ");
        }
        s.push_str(&backtick(&self.name));
        s.push_str(" ON ");
        s.push_str(&backtick(&self.table));
        s.push_str(" (");
        let multi = self.columns.len() > 1;
        if multi {
            s.push_str("\n  ");
        }
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                s.push_str(",\n  ");
            }
            if c.is_expr {
                s.push_str(&c.name);
            } else {
                s.push_str(&backtick(&c.name));
            }
            if c.nocase {
                s.push_str(" COLLATE NOCASE");
            }
            if c.desc {
                s.push_str(" DESC");
            }
        }
        if multi {
            s.push('\n');
        }
        s.push(')');
        if let Some(w) = &self.where_ {
            s.push_str(" WHERE ");
            s.push_str(w);
        }
        s
    }
}

fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn try_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        let word_len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
        if rest[..word_len].eq_ignore_ascii_case(kw) {
            self.pos += word_len;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, kw: &str) -> Result<(), String> {
        if self.try_keyword(kw) { Ok(()) } else { Err(format!("expected {kw}")) }
    }

    /// An identifier in any SQLite quoting style, unquoted.
    fn ident(&mut self) -> Result<String, String> {
        self.skip_ws();
        let rest = self.rest();
        let (name, len) = read_ident(rest).ok_or_else(|| "expected a name".to_owned())?;
        self.pos += len;
        Ok(name)
    }

    /// The text between a `(` at the current position and its matching `)`.
    fn parenthesized(&mut self) -> Result<&'a str, String> {
        let rest = self.rest();
        let end = matching_paren(rest).ok_or_else(|| "unbalanced parentheses".to_owned())?;
        self.pos += end + 1;
        Ok(&rest[1..end])
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Reads one identifier at the start of `s`; returns it unquoted and the bytes consumed.
fn read_ident(s: &str) -> Option<(String, usize)> {
    let first = s.chars().next()?;
    let close = match first {
        '`' => '`',
        '"' => '"',
        '[' => ']',
        c if c.is_alphabetic() || c == '_' => {
            let len = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
            return Some((s[..len].to_owned(), len));
        }
        _ => return None,
    };
    let mut name = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == close {
            // Doubled quote characters escape themselves (not inside brackets).
            if close != ']' && chars.peek().map(|p| p.1) == Some(close) {
                chars.next();
                name.push(c);
                continue;
            }
            return Some((name, i + c.len_utf8()));
        }
        name.push(c);
    }
    None
}

/// The byte offset of the `)` matching the `(` at the start of `s`, skipping quoted text.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                // A doubled quote closes and reopens: the net effect is the same.
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '[' => quote = Some(']'),
                '(' => depth += 1,
                ')' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// Splits a column list on commas outside parentheses and quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '[' => quote = Some(']'),
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One indexed column: `name|expr [COLLATE x] [ASC|DESC]`.
fn parse_column(raw: &str) -> Result<IndexColumn, String> {
    let mut head = raw.trim();
    if head.is_empty() {
        return Err("empty index column".into());
    }
    let mut desc = false;
    if let Some(h) = strip_last_word(head, "DESC") {
        desc = true;
        head = h;
    } else if let Some(h) = strip_last_word(head, "ASC") {
        head = h;
    }
    let mut nocase = false;
    if let Some((h, collation)) = strip_collate(head) {
        if collation.eq_ignore_ascii_case("NOCASE") {
            nocase = true;
        } else if !collation.eq_ignore_ascii_case("BINARY") {
            return Err(format!("unsupported collation {collation:?}"));
        }
        head = h;
    }
    if head.is_empty() {
        return Err("empty index column".into());
    }
    match read_ident(head) {
        Some((name, len)) if len == head.len() => {
            Ok(IndexColumn { name, is_expr: false, nocase, desc })
        }
        _ => Ok(IndexColumn { name: head.to_owned(), is_expr: true, nocase, desc }),
    }
}

/// `s` without a trailing whole word `word` (case-insensitive) and the whitespace before it.
fn strip_last_word<'s>(s: &'s str, word: &str) -> Option<&'s str> {
    let split = s.len().checked_sub(word.len())?;
    let (head, tail) = (s.get(..split)?, s.get(split..)?);
    if !tail.eq_ignore_ascii_case(word) || !head.ends_with(char::is_whitespace) {
        return None;
    }
    Some(head.trim_end())
}

/// Splits `expr COLLATE name` into the expression and the (unquoted) collation name.
fn strip_collate(s: &str) -> Option<(&str, String)> {
    let name_start = s.rfind(char::is_whitespace)? + 1;
    let tail = s.get(name_start..)?;
    let (name, len) = read_ident(tail)?;
    if len != tail.len() {
        return None;
    }
    let head = strip_last_word(s.get(..name_start)?.trim_end(), "COLLATE")?;
    Some((head, name))
}

/// Translates SQLite identifier quoting (backticks, brackets) to PostgreSQL double quotes,
/// leaving string literals and double-quoted identifiers as they are.
pub(crate) fn sqlite_quotes_to_pg(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '`' | '[' => {
                let close = if c == '`' { '`' } else { ']' };
                out.push('"');
                while let Some(d) = chars.next() {
                    if d == close {
                        if close == '`' && chars.peek() == Some(&'`') {
                            chars.next();
                            out.push('`');
                            continue;
                        }
                        break;
                    }
                    if d == '"' {
                        out.push('"');
                    }
                    out.push(d);
                }
                out.push('"');
            }
            _ => out.push(c),
        }
    }
    out
}
