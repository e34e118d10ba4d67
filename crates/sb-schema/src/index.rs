//! Just enough understanding of SQLite `CREATE INDEX` statements for collection validation:
//! the index name, uniqueness, columns and `WHERE` clause (as PocketBase's `dbutils.ParseIndex`
//! extracts them). Full parsing and translation to SQL trees is `sb_sql::parse_index`'s job.

/// The parts of a `CREATE [UNIQUE] INDEX` statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedIndex {
    pub unique: bool,
    pub name: String,
    pub table: String,
    pub columns: Vec<IndexColumn>,
    pub where_clause: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexColumn {
    /// Column name without quotes, or an expression as written.
    pub name: String,
    pub collate: String,
    /// `ASC`, `DESC` or empty.
    pub sort: String,
}

impl ParsedIndex {
    /// The definition without the identifiers that do not matter for equality (index name,
    /// table), used to detect duplicated definitions.
    pub fn definition(&self, with_collate_sort_where: bool) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                if with_collate_sort_where {
                    format!("{} {} {}", c.name, c.collate.to_uppercase(), c.sort)
                } else {
                    c.name.clone()
                }
            })
            .collect();
        let where_clause = if with_collate_sort_where { self.where_clause.as_str() } else { "" };
        format!("{}({}) {}", self.unique, columns.join(","), where_clause)
    }

    /// A UNIQUE index over exactly the one column `column` (case-insensitive).
    pub fn is_single_column_unique(&self, column: &str) -> bool {
        self.unique
            && matches!(self.columns.as_slice(), [only] if only.name.eq_ignore_ascii_case(column))
    }
}

/// True when some index in `indexes` is a single-column UNIQUE index on `column`.
pub(crate) fn has_single_column_unique(indexes: &[String], column: &str) -> bool {
    indexes.iter().filter_map(|i| parse(i)).any(|p| p.is_single_column_unique(column))
}

/// Parses an index statement; `None` when it is not a valid `CREATE INDEX`.
pub(crate) fn parse(sql: &str) -> Option<ParsedIndex> {
    let mut rest = sql.trim();
    rest = keyword(rest, "CREATE")?;
    let unique = match keyword(rest, "UNIQUE") {
        Some(r) => {
            rest = r;
            true
        }
        None => false,
    };
    rest = keyword(rest, "INDEX")?;
    if let Some(r) =
        keyword(rest, "IF").and_then(|r| keyword(r, "NOT")).and_then(|r| keyword(r, "EXISTS"))
    {
        rest = r;
    }
    let (name, r) = identifier(rest)?;
    let name = name.rsplit('.').next().map(unquote).unwrap_or_default();
    rest = keyword(r, "ON")?;
    let (table, r) = identifier(rest)?;
    rest = r.trim_start();
    let body = rest.strip_prefix('(')?;
    let close = matching_paren(body)?;
    let (inside, after) = body.split_at(close);
    let after = after.get(1..).unwrap_or_default().trim();
    let where_clause =
        if after.is_empty() { String::new() } else { keyword(after, "WHERE")?.trim().to_owned() };
    let columns = split_top_level(inside)
        .into_iter()
        .map(|c| column(c.trim()))
        .collect::<Option<Vec<_>>>()?;
    if name.is_empty() || table.is_empty() || columns.is_empty() {
        return None;
    }
    Some(ParsedIndex { unique, name, table: unquote(table), columns, where_clause })
}

/// Strips a case-insensitive keyword followed by whitespace (or `(`/end) from `s`.
fn keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let s = s.trim_start();
    let head = s.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let rest = &s[kw.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() || c == '(' => Some(rest),
        _ => None,
    }
}

/// A possibly quoted (and possibly `schema.`-qualified) identifier.
fn identifier(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let mut end = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '`' | '"' | '\'') => quote = Some(c),
            None if c == '[' => quote = Some(']'),
            None if c.is_whitespace() || c == '(' => break,
            None => {}
        }
        end = i + c.len_utf8();
    }
    (end > 0 && quote.is_none()).then(|| s.split_at(end))
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    let mut chars = t.chars();
    match (chars.next(), chars.next_back()) {
        (Some('`'), Some('`'))
        | (Some('"'), Some('"'))
        | (Some('\''), Some('\''))
        | (Some('['), Some(']')) => chars.as_str().to_owned(),
        _ => t.to_owned(),
    }
}

/// Byte offset of the `)` closing the group that `s` starts inside of.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '`' | '"' | '\'' => quote = Some(c),
                '[' => quote = Some(']'),
                '(' => depth += 1,
                ')' if depth == 0 => return Some(i),
                ')' => depth -= 1,
                _ => {}
            },
        }
    }
    None
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '`' | '"' | '\'' => quote = Some(c),
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

/// `name [COLLATE x] [ASC|DESC]`.
fn column(s: &str) -> Option<IndexColumn> {
    if s.is_empty() {
        return None;
    }
    let mut words: Vec<&str> = s.split_whitespace().collect();
    let mut sort = String::new();
    if let Some(last) = words.last()
        && (last.eq_ignore_ascii_case("ASC") || last.eq_ignore_ascii_case("DESC"))
    {
        sort = last.to_uppercase();
        words.pop();
    }
    let mut collate = String::new();
    if words.len() >= 3
        && let Some(kw) = words.get(words.len() - 2)
        && kw.eq_ignore_ascii_case("COLLATE")
    {
        collate = words.pop().map(unquote).unwrap_or_default();
        words.pop();
    }
    let name = words.join(" ");
    if name.is_empty() {
        return None;
    }
    Some(IndexColumn { name: unquote(&name), collate, sort })
}
