//! The `fields` response picker (spec §1.10).
//!
//! `fields=id,title,expand.author.name,*,body:excerpt(10,true)` keeps only the listed dotted
//! paths of a JSON object, descending into arrays of objects, with `*` keeping every key of its
//! level and `path:modifier(args)` transforming the picked value.
//!
//! Splitting and matching follow PocketBase (`tools/picker` and `tools/tokenizer`): the list is
//! split on commas outside parentheses and quotes, items are trimmed and empty ones skipped, a
//! path matches a key when `path + "."` starts with `key + "."`, and an exact match keeps the
//! whole value. Modifier arguments are split on `(`, `)`, `,` and spaces and converted the way
//! Go's `cast` package does (`excerpt(010)` is 8, `excerpt(10, yes)` has no ellipsis).

use serde_json::{Map, Value};

use crate::ParseError;
use crate::excerpt::excerpt;
use crate::lexer::error;

/// A parsed `fields` parameter. The default (empty) picker keeps everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldsPicker {
    fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
struct Field {
    path: String,
    modifier: Option<Modifier>,
}

/// A value transformation applied to a picked value.
#[derive(Debug, Clone, PartialEq)]
enum Modifier {
    /// Plain-text excerpt of an HTML string: at most `max` characters, `...` appended when cut
    /// and `ellipsis` is set.
    Excerpt { max: usize, ellipsis: bool },
}

/// Parses the `fields` parameter.
pub fn parse_fields(src: &str) -> Result<FieldsPicker, ParseError> {
    let mut fields: Vec<Field> = Vec::new();
    for (start, item) in split_tokens(src, &[','], false)? {
        let item = item.trim();
        let (path, modifier) = match item.split_once(':') {
            Some((path, raw)) => {
                let modifier = parse_modifier(raw)
                    .map_err(|message| error(message, start, start + item.len()))?;
                (path, Some(modifier))
            }
            None => (item, None),
        };
        // A repeated path replaces the earlier one, as in PocketBase's map.
        fields.retain(|f| f.path != path);
        fields.push(Field { path: path.to_owned(), modifier });
    }
    Ok(FieldsPicker { fields })
}

impl FieldsPicker {
    /// True when the picker keeps everything (empty `fields` parameter).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Picks the listed paths of `value`: an object, or an array whose first element is an
    /// object (each object element is picked). Other values are left alone.
    pub fn apply(&self, value: &mut Value) {
        pick(value, &self.fields);
    }
}

fn pick(value: &mut Value, fields: &[Field]) {
    match value {
        Value::Object(map) => pick_map(map, fields),
        Value::Array(items) if items.first().is_some_and(Value::is_object) => {
            for item in items {
                if let Value::Object(map) = item {
                    pick_map(map, fields);
                }
            }
        }
        _ => {}
    }
}

/// Whether `path` selects `key` or something below it.
fn covers(path: &str, key: &str) -> bool {
    path.strip_prefix(key).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The rest of `path` below `key` (`""` for the key itself); `path` must cover `key`.
fn remains<'p>(path: &'p str, key: &str) -> &'p str {
    // So `a.` ends up picking `a` itself, as in PocketBase.
    let rest = path.get(key.len()..).unwrap_or_default();
    rest.strip_prefix('.').unwrap_or(rest)
}

fn pick_map(map: &mut Map<String, Value>, fields: &[Field]) {
    if fields.is_empty() {
        return;
    }
    let mut fields = fields.to_vec();
    if let Some(star) = fields.iter().find(|f| f.path == "*").map(|f| f.modifier.clone()) {
        for key in map.keys() {
            if !fields.iter().any(|f| covers(&f.path, key)) {
                fields.push(Field { path: key.clone(), modifier: star.clone() });
            }
        }
    }
    map.retain(|key, _| fields.iter().any(|f| covers(&f.path, key)));
    for (key, value) in map.iter_mut() {
        let matching = fields.iter().filter(|f| covers(&f.path, key));
        if let Some(exact) = matching.clone().find(|f| remains(&f.path, key).is_empty()) {
            if let Some(modifier) = &exact.modifier {
                modifier.apply(value);
            }
            continue;
        }
        let mut nested: Vec<Field> = Vec::new();
        for f in matching {
            let path = remains(&f.path, key);
            nested.retain(|n| n.path != path);
            nested.push(Field { path: path.to_owned(), modifier: f.modifier.clone() });
        }
        pick(value, &nested);
    }
}

impl Modifier {
    fn apply(&self, value: &mut Value) {
        match self {
            Modifier::Excerpt { max, ellipsis } => {
                if let Value::String(text) = value {
                    *text = excerpt(text, *max, *ellipsis);
                }
            }
        }
    }
}

/// Parses `name(arg, ...)` after the `:` of a field.
fn parse_modifier(raw: &str) -> Result<Modifier, String> {
    let parts = split_tokens(raw, &['(', ')', ',', ' '], true).map_err(|e| e.message)?;
    let mut parts = parts.into_iter().map(|(_, part)| part);
    let Some(name) = parts.next() else {
        return Err(format!("invalid or empty modifier expression {raw:?}"));
    };
    let args: Vec<String> = parts.collect();
    match name.as_str() {
        "excerpt" => {
            let (max, ellipsis) = match args.as_slice() {
                [max] => (max, None),
                [max, ellipsis] => (max, Some(ellipsis)),
                [] => return Err("excerpt: max argument is required".into()),
                _ => {
                    return Err("excerpt: too many arguments, expected (max, withEllipsis?)".into());
                }
            };
            let max = go_to_int(max)
                .and_then(|max| usize::try_from(max).ok())
                .filter(|&max| max > 0)
                .ok_or("excerpt: max argument must be > 0")?;
            let ellipsis = ellipsis.is_some_and(|arg| go_parse_bool(arg));
            Ok(Modifier::Excerpt { max, ellipsis })
        }
        _ => Err(format!("missing or invalid modifier {name:?}")),
    }
}

/// Splits like PocketBase's tokenizer: on `separators` outside quotes (`'`, `"`, `` ` ``) and,
/// unless `ignore_parens`, outside parentheses; a character after a backslash is never a quote
/// or parenthesis. Tokens are trimmed and empty ones dropped. Returns `(byte offset, token)`.
fn split_tokens(
    src: &str,
    separators: &[char],
    ignore_parens: bool,
) -> Result<Vec<(usize, String)>, ParseError> {
    const TRIM: &[char] = &['\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}'];
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut parens = 0usize;
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    let mut push = |start: usize, end: usize| {
        let token = src.get(start..end).unwrap_or_default();
        let trimmed = token.trim_matches(|c| TRIM.contains(&c) && !separators.contains(&c));
        if !trimmed.is_empty() {
            tokens.push((start, trimmed.to_owned()));
        }
    };
    for (i, ch) in src.char_indices() {
        if prev != Some('\\') {
            if !ignore_parens && ch == '(' && quote.is_none() {
                parens += 1;
            } else if !ignore_parens && ch == ')' && parens > 0 && quote.is_none() {
                parens -= 1;
            } else if matches!(ch, '\'' | '"' | '`') {
                if quote == Some(ch) {
                    quote = None;
                } else if quote.is_none() {
                    quote = Some(ch);
                }
            }
        }
        if separators.contains(&ch) && parens == 0 && quote.is_none() {
            push(start, i);
            start = i + ch.len_utf8();
            prev = None;
            continue;
        }
        prev = Some(ch);
    }
    if parens > 0 || quote.is_some() {
        return Err(error("unbalanced parenthesis or quoted expression", start, src.len()));
    }
    push(start, src.len());
    Ok(tokens)
}

/// `strconv.ParseBool` as used by `cast.ToBool`: anything unrecognised is false.
fn go_parse_bool(s: &str) -> bool {
    matches!(s, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// `cast.ToInt` for strings: a trailing `.0…` is dropped, then Go's `strconv.ParseInt(s, 0, 64)`
/// (sign, `0x`/`0o`/`0b` prefixes, a leading `0` meaning octal, `_` between digits).
fn go_to_int(s: &str) -> Option<i64> {
    let s = trim_zero_decimal(s);
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, prefixed) = match lower.as_deref() {
        Some("0x") => (16, unsigned.get(2..)?, true),
        Some("0o") => (8, unsigned.get(2..)?, true),
        Some("0b") => (2, unsigned.get(2..)?, true),
        _ if unsigned.len() > 1 && unsigned.starts_with('0') => (8, unsigned.get(1..)?, true),
        _ => (10, unsigned, false),
    };
    if !underscores_ok(digits, prefixed) {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Go allows `_` only between digits, or right after a base prefix.
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    let mut prev_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return false;
            }
            prev_digit = false;
            prev_underscore = true;
        } else {
            prev_digit = true;
            prev_underscore = false;
        }
    }
    !prev_underscore
}

/// `cast`'s `trimZeroDecimal`: `"10.00"` → `"10"`, anything else unchanged.
fn trim_zero_decimal(s: &str) -> &str {
    let mut found_zero = false;
    for (i, b) in s.bytes().enumerate().rev() {
        match b {
            b'.' if found_zero => return s.get(..i).unwrap_or(s),
            b'.' => {}
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}
