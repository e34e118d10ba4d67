//! View collections: their fields are derived from the SELECT (spec §2.3, "View collections").
//!
//! The query runs on the active backend as written: its output columns come from the database
//! (a `LIMIT 0` probe), so whatever the backend accepts works. To give each column a type, the
//! query is also read by a small SQL scanner, the way PocketBase reads it: a column that is a
//! plain reference to a source collection's field clones that field (with a `_clone_` id), a
//! reference to a source `id` becomes a single relation to that collection, `count(...)` and
//! `total(...)` become numbers, `CAST(... AS type)` picks the type, anything else is a `json`
//! field. The scanner only classifies; it never decides what SQL runs.
//!
//! The same scanner finds the collections a view reads from (to refuse deleting them and to
//! re-derive the view when they change) and rewrites table references when a source collection
//! is renamed, so dependent views keep working.

use std::collections::HashSet;

use sb_schema::{Collection, Field};
use sb_sql::Stmt;
use sb_store::Tx;
use serde_json::{Value as Json, json};

/// Message of a query whose SELECT list has `*` or `table.*`.
const WILDCARD: &str = "wildcard columns (*) are not supported - manually type the collection field names you want the view query to have";
/// Message of a query without an `id` column.
const MISSING_ID: &str =
    "missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don't have one)";
/// Alias of the sub-query that probes a view query's columns.
const PROBE_ALIAS: &str = "_sb_view_probe";

/// The fields derived from a view query and, when the query is unusable, why (the text after
/// `"Invalid query - "`). On failure `fields` holds what could be derived, so that the
/// collection validation reports on them as PocketBase does (nothing for SQL errors, the
/// columns without `id` for a missing id).
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub fields: Vec<Field>,
    pub error: Option<String>,
}

/// The SQL a view is created from: the query with surrounding blanks and `;` removed.
pub(crate) fn normalize_query(query: &str) -> &str {
    query.trim().trim_matches(';')
}

/// `CREATE VIEW` of a view collection.
pub(crate) fn create_view(c: &Collection) -> Stmt {
    Stmt::CreateView {
        name: c.name.clone(),
        sql: normalize_query(c.view_query.as_deref().unwrap_or_default()).to_owned(),
    }
}

/// Derives the fields of a view query by running it (inside `tx`, with `LIMIT 0`) and reading
/// its SELECT list. `others` are the collections the query may read from.
pub(crate) async fn derive_fields(tx: &mut dyn Tx, query: &str, others: &[Collection]) -> Derived {
    let query = normalize_query(query);
    if query.trim().is_empty() {
        return Derived::default();
    }
    let tokens = tokenize(query);
    if tokens.iter().any(|t| t.text == ";") {
        return failure("multiple statements are not supported");
    }
    let items = select_items(query, &tokens);
    if items.iter().any(|i| i.expr == "*" || i.expr.ends_with(".*")) {
        return failure(WILDCARD);
    }
    let columns = match probe_columns(tx, query).await {
        Ok(columns) => columns,
        Err(message) => return failure(&message),
    };
    let sources = from_tables(&tokens, true);
    let mut ids = HashSet::new();
    let json_fields: Vec<Json> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            // Columns come back in SELECT-list order; names are the fallback when the scanner
            // split the list differently.
            let item = if items.len() == columns.len() {
                items.get(i)
            } else {
                items.iter().find(|it| it.name.eq_ignore_ascii_case(column))
            };
            let expr = item.map(|it| it.expr.as_str()).unwrap_or_default();
            let mut field = derive_field(column, expr, &sources, others);
            if let Some(id) = field.get("id").and_then(Json::as_str).map(str::to_owned)
                && !ids.insert(id.clone())
                && let Json::Object(m) = &mut field
            {
                m.insert("id".into(), Json::String(format!("{id}_{i}")));
            }
            field
        })
        .collect();
    let fields = match sb_schema::json::parse_fields(&Json::Array(json_fields)) {
        Ok(fields) => fields,
        Err(e) => return failure(&e.to_string()),
    };
    let error = if !fields.iter().any(|f| f.name == sb_schema::names::ID) {
        Some(MISSING_ID.to_owned())
    } else {
        fields.iter().enumerate().find(|(_, f)| !is_word(&f.name)).map(|(i, f)| {
            format!("invalid field {:?} ({i}): name: must be in a valid format", f.name)
        })
    };
    Derived { fields, error }
}

fn failure(message: &str) -> Derived {
    Derived { fields: Vec::new(), error: Some(message.to_owned()) }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The output column names of a query, or the database's error text.
async fn probe_columns(tx: &mut dyn Tx, query: &str) -> Result<Vec<String>, String> {
    let sql = format!("SELECT * FROM ({query}) AS {PROBE_ALIAS} LIMIT 0");
    match tx.query(&Stmt::Raw { sql, params: Vec::new() }).await {
        Ok(rows) => Ok(rows.columns.iter().cloned().collect()),
        Err(e) => Err(driver_message(&e.message)),
    }
}

/// A driver error without the probe statement some drivers quote (`... in SELECT * FROM (...)
/// at offset N`).
fn driver_message(message: &str) -> String {
    let cut = message.find(" in SELECT * FROM (").unwrap_or(message.len());
    message.get(..cut).unwrap_or(message).trim().to_owned()
}

/// Up to `limit` rows of a view query as record-like objects of the derived `fields` (the
/// `sample` of `POST /api/collections/meta/dry-run-view`).
pub(crate) async fn sample_rows(
    tx: &mut dyn Tx,
    query: &str,
    fields: &[Field],
    limit: u64,
) -> Result<Vec<serde_json::Map<String, Json>>, String> {
    let query = normalize_query(query);
    let sql = format!("SELECT * FROM ({query}) AS {PROBE_ALIAS} LIMIT {limit}");
    let rows = tx
        .query(&Stmt::Raw { sql, params: Vec::new() })
        .await
        .map_err(|e| driver_message(&e.message))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.rows {
        let mut record = serde_json::Map::new();
        for (column, value) in rows.columns.iter().zip(row) {
            if let Some(field) = fields.iter().find(|f| f.name == *column) {
                record.insert(column.clone(), crate::storage::from_sql(field, value));
            }
        }
        out.push(record);
    }
    Ok(out)
}

/// The base collection and field that a view's output `column` reads straight from (through
/// views of views), as PocketBase resolves a view record's files: `None` when the column is an
/// expression, or its source is not a plain column of a collection.
pub(crate) fn column_source<'a>(
    view: &Collection,
    column: &str,
    catalog: &'a [std::sync::Arc<Collection>],
) -> Option<(&'a std::sync::Arc<Collection>, String)> {
    let mut view = view;
    let mut column = column.to_owned();
    // A bound on the depth of views over views (their definitions cannot form cycles).
    for _ in 0..16 {
        let query = normalize_query(view.view_query.as_deref()?);
        let tokens = tokenize(query);
        let items = select_items(query, &tokens);
        let item = items.iter().find(|it| it.name.eq_ignore_ascii_case(&column))?;
        let (qualifier, field) = column_path(&item.expr)?;
        let sources = from_tables(&tokens, true);
        let source = match &qualifier {
            Some(q) => sources.iter().find(|s| s.alias.eq_ignore_ascii_case(q))?,
            None => sources.first()?,
        };
        let table = source.table.as_deref()?;
        let collection = catalog.iter().find(|c| c.name.eq_ignore_ascii_case(table))?;
        let field = collection.fields.iter().find(|f| f.name.eq_ignore_ascii_case(&field))?;
        if !collection.is_view() {
            return Some((collection, field.name.clone()));
        }
        view = collection;
        column = field.name.clone();
    }
    None
}

/// The field of one output column.
fn derive_field(column: &str, expr: &str, sources: &[TableRef], others: &[Collection]) -> Json {
    if column == sb_schema::names::ID {
        return json!({
            "name": column, "type": "text", "system": true, "required": true, "primaryKey": true,
            "pattern": "^[a-z0-9]+$",
        });
    }
    let lower = expr.trim().to_ascii_lowercase();
    if lower.starts_with("count(") {
        return json!({"name": column, "type": "number", "onlyInt": true});
    }
    if lower.starts_with("total(") {
        return json!({"name": column, "type": "number"});
    }
    if let Some(ty) = cast_type(&lower) {
        match ty {
            "real" | "integer" | "int" | "decimal" | "numeric" | "smallint" | "bigint"
            | "double" | "float" => return json!({"name": column, "type": "number"}),
            "text" => return json!({"name": column, "type": "text"}),
            "boolean" | "bool" => return json!({"name": column, "type": "bool"}),
            _ => {}
        }
    }
    if let Some((qualifier, field_name)) = column_path(expr) {
        let source = match &qualifier {
            Some(q) => sources.iter().find(|s| s.alias.eq_ignore_ascii_case(q)),
            None => sources.first(),
        };
        let collection = source.and_then(|s| {
            s.table.as_deref().and_then(|t| others.iter().find(|c| c.name.eq_ignore_ascii_case(t)))
        });
        if let Some(collection) = collection
            && let Some(field) =
                collection.fields.iter().find(|f| f.name.eq_ignore_ascii_case(&field_name))
        {
            if field.name == sb_schema::names::ID {
                return json!({
                    "name": column, "type": "relation", "collectionId": collection.id,
                    "maxSelect": 1,
                });
            }
            let mut json = field.to_json();
            if let Json::Object(m) = &mut json {
                let key = format!("{}\u{0}{column}\u{0}{expr}", collection.id);
                m.insert("id".into(), Json::String(format!("_clone_{:08x}", crc(&key))));
                m.insert("name".into(), Json::String(column.to_owned()));
            }
            return json;
        }
    }
    json!({"name": column, "type": "json", "maxSize": 1})
}

/// The target type of `CAST(... AS type)` or PostgreSQL's `...::type`, lower-cased.
fn cast_type(lower: &str) -> Option<&str> {
    if let Some(inner) = lower.strip_prefix("cast") {
        let inner = inner.trim_start().strip_prefix('(')?.strip_suffix(')')?.trim_end();
        let (_, ty) = inner.rsplit_once(char::is_whitespace)?;
        let before = inner.get(..inner.len() - ty.len())?.trim_end();
        let is_as = before.len() >= 2
            && before.get(before.len() - 2..).is_some_and(|k| k.eq_ignore_ascii_case("as"));
        return (is_as && is_word(ty)).then_some(ty);
    }
    let (_, ty) = lower.rsplit_once("::")?;
    let ty = ty.trim();
    is_word(ty).then_some(ty)
}

fn crc(s: &str) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(s.as_bytes());
    h.finalize()
}

// ---------------------------------------------------------------------------------------------
// Dependencies and renames
// ---------------------------------------------------------------------------------------------

/// True when `query` may read from the table `table` (case-insensitive): any identifier that
/// is not a column qualifier's column part names it. Conservative on purpose.
pub(crate) fn mentions_table(query: &str, table: &str) -> bool {
    let tokens = tokenize(query);
    tokens.iter().enumerate().any(|(i, t)| {
        t.is_identifier()
            && unquote(t.text).eq_ignore_ascii_case(table)
            && !(i > 0 && tokens.get(i - 1).is_some_and(|p| p.text == "."))
    })
}

/// Rewrites references to the table `from` into `to`: table names after `FROM`/`JOIN` (at any
/// depth) and qualifiers of column references (`from.col`). Quoting is kept.
pub(crate) fn rename_table(query: &str, from: &str, to: &str) -> String {
    let tokens = tokenize(query);
    let mut positions: Vec<usize> =
        from_tables(&tokens, false).into_iter().filter_map(|r| r.table_token).collect();
    for (i, t) in tokens.iter().enumerate() {
        let qualifier = tokens.get(i + 1).is_some_and(|n| n.text == ".")
            && !(i > 0 && tokens.get(i - 1).is_some_and(|p| p.text == "."));
        if qualifier && t.is_identifier() {
            positions.push(i);
        }
    }
    positions.sort_unstable();
    positions.dedup();
    let mut out = String::with_capacity(query.len());
    let mut last = 0;
    for i in positions {
        let Some(t) = tokens.get(i) else { continue };
        if !unquote(t.text).eq_ignore_ascii_case(from) {
            continue;
        }
        out.push_str(query.get(last..t.start).unwrap_or_default());
        match t.text.chars().next() {
            Some(q @ ('"' | '`')) => {
                out.push(q);
                out.push_str(to);
                out.push(q);
            }
            Some('[') => {
                out.push('[');
                out.push_str(to);
                out.push(']');
            }
            _ => out.push_str(to),
        }
        last = t.start + t.text.len();
    }
    out.push_str(query.get(last..).unwrap_or_default());
    out
}

// ---------------------------------------------------------------------------------------------
// A small SQL scanner
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A bare word: keyword, identifier or number.
    Word,
    /// `"x"`, `` `x` `` or `[x]`.
    Quoted,
    /// `'text'`.
    Str,
    /// Any other character (operators are split into single characters).
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    kind: Kind,
}

impl Token<'_> {
    fn is_keyword(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    fn is_identifier(&self) -> bool {
        match self.kind {
            Kind::Quoted => true,
            Kind::Word => {
                self.text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && !is_reserved(self.text)
            }
            _ => false,
        }
    }
}

/// Splits SQL into tokens, dropping whitespace and comments. Unterminated quotes run to the end.
fn tokenize(sql: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let end_of = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                      close: char,
                      doubled: bool| {
            while let Some((i, c)) = chars.next() {
                if c == close {
                    if doubled && chars.peek().map(|p| p.1) == Some(close) {
                        chars.next();
                        continue;
                    }
                    return i + c.len_utf8();
                }
            }
            sql.len()
        };
        let (end, kind) = match c {
            c if c.is_whitespace() => continue,
            '-' if chars.peek().map(|p| p.1) == Some('-') => {
                while chars.next_if(|p| p.1 != '\n').is_some() {}
                continue;
            }
            '/' if chars.peek().map(|p| p.1) == Some('*') => {
                chars.next();
                let mut prev = ' ';
                for (_, c) in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                continue;
            }
            '\'' => (end_of(&mut chars, '\'', true), Kind::Str),
            '"' | '`' => (end_of(&mut chars, c, true), Kind::Quoted),
            '[' => (end_of(&mut chars, ']', false), Kind::Quoted),
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut end = start + c.len_utf8();
                while let Some((i, c)) =
                    chars.next_if(|p| p.1.is_alphanumeric() || p.1 == '_' || p.1 == '$')
                {
                    end = i + c.len_utf8();
                }
                (end, Kind::Word)
            }
            c => (start + c.len_utf8(), Kind::Punct),
        };
        tokens.push(Token { text: sql.get(start..end).unwrap_or_default(), start, kind });
    }
    tokens
}

/// Words that end a clause or cannot be an alias.
fn is_reserved(word: &str) -> bool {
    const RESERVED: &[&str] = &[
        "select",
        "from",
        "where",
        "group",
        "order",
        "by",
        "having",
        "limit",
        "offset",
        "union",
        "except",
        "intersect",
        "window",
        "join",
        "inner",
        "left",
        "right",
        "full",
        "outer",
        "cross",
        "natural",
        "on",
        "using",
        "as",
        "and",
        "or",
        "not",
        "is",
        "in",
        "like",
        "between",
        "case",
        "when",
        "then",
        "else",
        "end",
        "null",
        "true",
        "false",
        "distinct",
        "all",
        "collate",
        "asc",
        "desc",
        "with",
        "values",
        "exists",
        "escape",
        "glob",
        "regexp",
        "ilike",
        "over",
        "filter",
        "returning",
    ];
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn unquote(t: &str) -> String {
    let t = t.trim();
    for (open, close) in [('`', '`'), ('"', '"'), ('[', ']')] {
        if t.len() >= 2 && t.starts_with(open) && t.ends_with(close) {
            let inner = t.get(1..t.len() - 1).unwrap_or_default();
            return if open == '[' {
                inner.to_owned()
            } else {
                inner.replace(&format!("{open}{open}"), &open.to_string())
            };
        }
    }
    t.to_owned()
}

/// One item of the top-level SELECT list.
#[derive(Debug)]
struct SelectItem {
    /// The expression as written (without the alias).
    expr: String,
    /// The alias, or the column of a plain reference, or the expression.
    name: String,
}

/// The items of the outermost SELECT list.
fn select_items(sql: &str, tokens: &[Token<'_>]) -> Vec<SelectItem> {
    let mut depth = 0usize;
    let mut start = None;
    for (i, t) in tokens.iter().enumerate() {
        match t.text {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ if depth == 0 && t.is_keyword("select") => {
                start = Some(i + 1);
                break;
            }
            _ => {}
        }
    }
    let Some(mut i) = start else { return Vec::new() };
    while tokens.get(i).is_some_and(|t| t.is_keyword("distinct") || t.is_keyword("all")) {
        i += 1;
    }
    let mut items = Vec::new();
    let mut current: Vec<Token<'_>> = Vec::new();
    let mut depth = 0usize;
    for t in tokens.get(i..).unwrap_or_default() {
        match t.text {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        let ends_list = depth == 0
            && [
                "from",
                "where",
                "group",
                "order",
                "limit",
                "union",
                "except",
                "intersect",
                "window",
            ]
            .iter()
            .any(|k| t.is_keyword(k));
        if depth == 0 && (t.text == "," || ends_list) {
            items.extend(select_item(sql, &current));
            current.clear();
            if ends_list {
                return items;
            }
            continue;
        }
        current.push(*t);
    }
    items.extend(select_item(sql, &current));
    items
}

fn select_item(sql: &str, tokens: &[Token<'_>]) -> Option<SelectItem> {
    let (first, last) = (tokens.first()?, tokens.last()?);
    let text = |from: &Token<'_>, to: &Token<'_>| {
        sql.get(from.start..to.start + to.text.len()).unwrap_or_default().trim().to_owned()
    };
    let n = tokens.len();
    let before_last = n.checked_sub(2).and_then(|i| tokens.get(i));
    let alias = match before_last {
        Some(prev) if prev.is_keyword("as") => true,
        Some(prev) => {
            last.is_identifier()
                && prev.text != "."
                && !prev.is_keyword("collate")
                && (prev.kind != Kind::Punct || prev.text == ")")
        }
        None => false,
    };
    if alias {
        let back = if before_last.is_some_and(|p| p.is_keyword("as")) { 3 } else { 2 };
        let end = tokens.get(n.checked_sub(back)?)?;
        return Some(SelectItem { expr: text(first, end), name: unquote(last.text) });
    }
    let expr = text(first, last);
    let name = match column_path(&expr) {
        Some((_, column)) => column,
        None => expr.clone(),
    };
    Some(SelectItem { expr, name })
}

/// `[qualifier.]column` of a plain column reference, unquoted.
fn column_path(expr: &str) -> Option<(Option<String>, String)> {
    let tokens = tokenize(expr);
    match tokens.as_slice() {
        [col] if col.is_identifier() => Some((None, unquote(col.text))),
        [table, dot, col] if dot.text == "." && table.is_identifier() && col.is_identifier() => {
            Some((Some(unquote(table.text)), unquote(col.text)))
        }
        _ => None,
    }
}

/// A table (or sub-query) of a FROM clause.
#[derive(Debug)]
struct TableRef {
    /// Unquoted table name; `None` for a sub-query.
    table: Option<String>,
    /// The alias, or the table name.
    alias: String,
    /// Index of the table name token.
    table_token: Option<usize>,
}

/// The tables after `FROM`, `JOIN` and commas of a FROM list: only those of the outermost
/// SELECT (with the aliases of sub-queries) when `top_level_only`, else those of every nesting
/// level.
fn from_tables(tokens: &[Token<'_>], top_level_only: bool) -> Vec<TableRef> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    // Nesting levels at which a FROM list is open (commas there separate tables).
    let mut from_lists: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        i += 1;
        match t.text {
            "(" => {
                depth += 1;
                continue;
            }
            ")" => {
                depth = depth.saturating_sub(1);
                from_lists.retain(|&d| d <= depth);
                continue;
            }
            _ => {}
        }
        if top_level_only && depth > 0 {
            continue;
        }
        let in_from_list = from_lists.last() == Some(&depth);
        let starts_table =
            t.is_keyword("from") || t.is_keyword("join") || (t.text == "," && in_from_list);
        if !starts_table {
            if t.kind == Kind::Word && is_clause_end(t.text) && in_from_list {
                from_lists.pop();
            }
            continue;
        }
        if t.is_keyword("from") && !in_from_list {
            from_lists.push(depth);
        }
        let Some(next) = tokens.get(i) else { break };
        let (table, table_token) = if next.text == "(" {
            if !top_level_only {
                // Tables of the sub-query are found by the main loop.
                continue;
            }
            let mut level = 0usize;
            while let Some(t) = tokens.get(i) {
                i += 1;
                match t.text {
                    "(" => level += 1,
                    ")" => {
                        level = level.saturating_sub(1);
                        if level == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            (None, None)
        } else if next.is_identifier() {
            i += 1;
            // `schema.table`: keep the last part.
            let mut index = i - 1;
            while tokens.get(i).is_some_and(|d| d.text == ".")
                && tokens.get(i + 1).is_some_and(Token::is_identifier)
            {
                index = i + 1;
                i += 2;
            }
            (tokens.get(index).map(|t| unquote(t.text)), Some(index))
        } else {
            continue;
        };
        if tokens.get(i).is_some_and(|t| t.is_keyword("as")) {
            i += 1;
        }
        let alias = match tokens.get(i) {
            Some(a) if a.is_identifier() => {
                i += 1;
                unquote(a.text)
            }
            _ => table.clone().unwrap_or_default(),
        };
        out.push(TableRef { table, alias, table_token });
    }
    out
}

/// Keywords after which a FROM list is over.
fn is_clause_end(word: &str) -> bool {
    ["where", "group", "having", "order", "limit", "union", "except", "intersect", "window"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests;
