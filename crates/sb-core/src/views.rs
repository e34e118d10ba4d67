//! View collections: their fields are derived from the SELECT (spec §2.3, "View collections").
//!
//! The query runs on the active backend as written. Column names come from the database; each
//! column that is a plain reference to a source collection's field keeps that field's type and
//! options, `count(...)` becomes an integer number, anything else becomes a `json` field.

use sb_schema::{Collection, ErrorMap, FieldError};
use sb_sql::Stmt;
use sb_store::Tx;
use serde_json::{Value as Json, json};

use crate::error::{CoreError, CoreResult};

/// Derives the fields of a view collection by running its query (with `LIMIT 0`).
pub(crate) async fn derive_fields(
    tx: &mut dyn Tx,
    view: &Collection,
    others: &[Collection],
) -> CoreResult<Vec<sb_schema::Field>> {
    let query = view.view_query.as_deref().unwrap_or("").trim().trim_end_matches(';').trim();
    if query.is_empty() {
        return Err(invalid("Cannot be blank.", "validation_required"));
    }
    let probe = Stmt::Raw {
        sql: format!("SELECT * FROM ({query}) AS _sb_view_probe LIMIT 0"),
        params: Vec::new(),
    };
    let rows = tx.query(&probe).await.map_err(|e| {
        invalid(&format!("Invalid query - {}", e.message), "validation_invalid_view_query")
    })?;
    let columns: Vec<String> = rows.columns.iter().cloned().collect();
    if !columns.iter().any(|c| c == "id") {
        return Err(invalid(
            "The view query must return an id column.",
            "validation_invalid_view_query",
        ));
    }
    let items = select_items(query);
    let sources = from_tables(query);
    let mut fields = Vec::with_capacity(columns.len());
    for column in &columns {
        let expr =
            items.iter().find(|(_, name)| name == column).map(|(e, _)| e.as_str()).unwrap_or("");
        fields.push(derive_field(column, expr, &sources, others));
    }
    let def = json!({"name": "_sb_view", "type": "view", "viewQuery": query, "fields": fields});
    let parsed = Collection::from_json(&def).map_err(|e| CoreError::internal(format!("{e:?}")))?;
    Ok(parsed.fields)
}

fn invalid(message: &str, code: &'static str) -> CoreError {
    let mut data = ErrorMap::new();
    data.insert("viewQuery", FieldError::new(code, message));
    CoreError::validation("Failed to create collection.", data)
}

fn derive_field(
    column: &str,
    expr: &str,
    sources: &[(String, String)],
    others: &[Collection],
) -> Json {
    let clone_id = format!("_clone_{}", crc(&format!("{column}{expr}")));
    if column == "id" {
        return json!({
            "id": clone_id, "name": "id", "type": "text", "system": true, "primaryKey": true,
            "required": true, "min": 0, "max": 0, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "",
        });
    }
    let plain = unquote_path(expr);
    if let Some((table, field_name)) = plain {
        let table = match table {
            Some(alias) => {
                sources.iter().find(|(a, _)| a.eq_ignore_ascii_case(&alias)).map(|(_, t)| t.clone())
            }
            None => sources.first().map(|(_, t)| t.clone()),
        };
        if let Some(source) =
            table.and_then(|t| others.iter().find(|c| c.name.eq_ignore_ascii_case(&t)))
            && let Some(field) = source.field(&field_name)
        {
            let mut json = field_json(source, &field.id);
            if let Json::Object(m) = &mut json {
                m.insert("id".into(), Json::String(clone_id));
                m.insert("name".into(), Json::String(column.to_owned()));
                m.insert("system".into(), Json::Bool(false));
            }
            return json;
        }
    }
    let lower = expr.trim().to_ascii_lowercase();
    if lower.starts_with("count(") {
        return json!({"id": clone_id, "name": column, "type": "number", "onlyInt": true});
    }
    if ["sum(", "avg(", "total(", "min(", "max("].iter().any(|p| lower.starts_with(p)) {
        return json!({"id": clone_id, "name": column, "type": "number"});
    }
    json!({"id": clone_id, "name": column, "type": "json", "maxSize": 1})
}

fn field_json(c: &Collection, field_id: &str) -> Json {
    c.to_json()
        .get("fields")
        .and_then(Json::as_array)
        .and_then(|fields| {
            fields.iter().find(|f| f.get("id").and_then(Json::as_str) == Some(field_id)).cloned()
        })
        .unwrap_or(Json::Null)
}

fn crc(s: &str) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(s.as_bytes());
    h.finalize()
}

/// Splits the top-level SELECT list into `(expression, output name)` pairs.
fn select_items(query: &str) -> Vec<(String, String)> {
    let tokens = tokenize(query);
    let Some(start) = tokens.iter().position(|t| t.eq_ignore_ascii_case("select")) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut depth = 0usize;
    for t in &tokens[start + 1..] {
        match t.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && (t == "," || t.eq_ignore_ascii_case("from")) {
            items.push(std::mem::take(&mut current));
            if t.eq_ignore_ascii_case("from") {
                break;
            }
            continue;
        }
        if depth == 0 && current.is_empty() && t.eq_ignore_ascii_case("distinct") {
            continue;
        }
        current.push(t.clone());
    }
    items
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(|mut tokens| {
            let n = tokens.len();
            let name = if n >= 3 && tokens[n - 2].eq_ignore_ascii_case("as") {
                let name = unquote(&tokens[n - 1]);
                tokens.truncate(n - 2);
                name
            } else if n >= 2
                && is_identifier(&tokens[n - 1])
                && !tokens[n - 2].ends_with('.')
                && tokens[n - 2] != "."
                && !is_operator(&tokens[n - 2])
            {
                let name = unquote(&tokens[n - 1]);
                tokens.truncate(n - 1);
                name
            } else {
                let last = tokens.last().map(|t| unquote(t)).unwrap_or_default();
                last.rsplit('.').next().unwrap_or("").to_owned()
            };
            (tokens.join(""), name)
        })
        .collect()
}

/// `(alias, table)` pairs of the FROM / JOIN clauses.
fn from_tables(query: &str) -> Vec<(String, String)> {
    let tokens = tokenize(query);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            t if depth == 0
                && (t.eq_ignore_ascii_case("from") || t.eq_ignore_ascii_case("join")) =>
            {
                if let Some(table) = tokens.get(i + 1).filter(|t| is_identifier(t)) {
                    let table = unquote(table);
                    let mut alias = table.clone();
                    let mut j = i + 2;
                    if tokens.get(j).is_some_and(|t| t.eq_ignore_ascii_case("as")) {
                        j += 1;
                    }
                    if let Some(a) = tokens.get(j).filter(|t| is_identifier(t) && !is_keyword(t)) {
                        alias = unquote(a);
                    }
                    out.push((alias, table));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// True when `query` refers to a table named `table` (case-insensitive).
pub(crate) fn mentions_table(query: &str, table: &str) -> bool {
    tokenize(query).iter().any(|t| is_identifier(t) && unquote(t).eq_ignore_ascii_case(table))
}

/// `[alias.]column` of a plain column reference.
fn unquote_path(expr: &str) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = split_dots(expr);
    match parts.as_slice() {
        [col] if is_identifier(col) => Some((None, unquote(col))),
        [table, col] if is_identifier(table) && is_identifier(col) => {
            Some((Some(unquote(table)), unquote(col)))
        }
        _ => None,
    }
}

fn split_dots(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, ch) in expr.char_indices() {
        match (quote, ch) {
            (None, '`' | '"' | '[') => quote = Some(if ch == '[' { ']' } else { ch }),
            (Some(q), c) if c == q => quote = None,
            (None, '.') => {
                parts.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&expr[start..]);
    parts
}

fn is_identifier(t: &str) -> bool {
    let first = t.chars().next();
    matches!(first, Some('`' | '"' | '['))
        || first.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_keyword(t: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "on", "where", "join", "left", "right", "inner", "outer", "cross", "group", "order",
        "limit", "union", "natural", "using", "having",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(t))
}

fn is_operator(t: &str) -> bool {
    t.chars().all(|c| "+-*/%<>=!|&".contains(c))
}

fn unquote(t: &str) -> String {
    let t = t.trim();
    for (open, close) in [('`', '`'), ('"', '"'), ('[', ']')] {
        if t.starts_with(open) && t.ends_with(close) && t.len() >= 2 {
            return t[1..t.len() - 1].to_owned();
        }
    }
    t.to_owned()
}

/// A small SQL tokenizer: quoted identifiers and strings stay whole; `a.b` stays one token.
fn tokenize(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if matches!(c, '\'' | '"' | '`' | '[') {
            let close = if c == '[' { ']' } else { c };
            i += 1;
            while i < chars.len() && chars[i] != close {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            // Quoted identifiers may be followed by `.column`.
            while i < chars.len() && chars[i] == '.' {
                i += 1;
                i = scan_word(&chars, i);
            }
        } else if c.is_alphanumeric() || c == '_' {
            i = scan_word(&chars, i);
            while i < chars.len() && chars[i] == '.' {
                i += 1;
                i = scan_word(&chars, i);
            }
        } else {
            i += 1;
        }
        tokens.push(chars[start..i].iter().collect());
    }
    tokens
}

fn scan_word(chars: &[char], mut i: usize) -> usize {
    if i < chars.len() && matches!(chars[i], '"' | '`' | '[') {
        let close = if chars[i] == '[' { ']' } else { chars[i] };
        i += 1;
        while i < chars.len() && chars[i] != close {
            i += 1;
        }
        return (i + 1).min(chars.len());
    }
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '*') {
        i += 1;
    }
    i
}
