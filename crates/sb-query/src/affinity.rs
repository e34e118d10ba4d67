//! SQLite's type affinity, applied statically to bound parameters.
//!
//! PocketBase compares a column with a bound parameter directly (`score = '1.5'`), and SQLite
//! then converts the parameter to the column's affinity before comparing: a numeric-looking
//! text becomes a number next to a NUMERIC column, and a number becomes text (printed the way
//! SQLite prints a REAL) next to a TEXT column. Doing that conversion here, on the parameter
//! value, gives both dialects same-typed operands, so PostgreSQL compares natively and only the
//! remaining mixed cases need emulation by the renderer (guided by the `Ty` annotations).

use sb_sql::{Ty, Value};

/// The affinity of an operand: only plain column references have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affinity {
    None,
    /// TEXT columns (text-like fields).
    Text,
    /// NUMERIC columns (numbers, booleans, and JSON-declared columns).
    Numeric,
}

/// The static type of a parameter value.
pub(crate) fn value_ty(v: &Value) -> Ty {
    match v {
        Value::Null => Ty::Null,
        Value::Int(_) | Value::Float(_) => Ty::Number,
        Value::Text(_) => Ty::Text,
        Value::Bool(_) => Ty::Bool,
        Value::Json(_) => Ty::JsonText,
    }
}

/// Converts a parameter compared directly with a column of the given affinity and type, as
/// SQLite would before comparing. Returns `None` when nothing changes.
pub(crate) fn convert_param(v: &Value, affinity: Affinity, column_ty: Ty) -> Option<Value> {
    match affinity {
        Affinity::None => None,
        Affinity::Text => match v {
            Value::Float(f) => Some(Value::Text(real_to_text(*f))),
            Value::Int(i) => Some(Value::Text(i.to_string())),
            Value::Bool(b) => Some(Value::Text(if *b { "1" } else { "0" }.to_owned())),
            _ => None,
        },
        Affinity::Numeric => {
            let number = match v {
                Value::Text(s) => numeric_text(s)?,
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::Bool(b) if column_ty != Ty::Bool => f64::from(u8::from(*b)),
                _ => return None,
            };
            if column_ty == Ty::Bool && (number == 0.0 || number == 1.0) {
                Some(Value::Bool(number == 1.0))
            } else {
                Some(Value::Float(number))
            }
        }
    }
}

/// The number a text converts to under NUMERIC affinity: a well-formed integer or real literal,
/// optionally signed and surrounded by whitespace (no hex, no `inf`/`nan`).
pub(crate) fn numeric_text(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse().ok()
}

/// How SQLite prints a REAL as text (`printf("%!.15g")`): 15 significant digits, at least
/// one digit after the decimal point (`5.0`, `1.0e+20`, `1.0e-05`).
pub(crate) fn real_to_text(f: f64) -> String {
    if f.is_nan() {
        return String::new();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return "0.0".to_owned();
    }
    // Round to 15 significant digits first; the exponent of the rounded value decides
    // between fixed and exponential notation, as %g does.
    let sci = format!("{f:.14e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if negative { "-" } else { "" };
    if !(-4..15).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}.{rest}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point (may be <= 0)
    let (int_part, frac_part) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else {
        let p = usize::try_from(point).unwrap_or(0);
        if digits.len() <= p {
            (format!("{digits}{}", "0".repeat(p - digits.len())), String::new())
        } else {
            let (a, b) = digits.split_at(p);
            (a.to_owned(), b.to_owned())
        }
    };
    let frac_part = if frac_part.is_empty() { "0".to_owned() } else { frac_part };
    format!("{sign}{int_part}.{frac_part}")
}

/// How Go's `cast.ToString` prints a parameter (used for LIKE patterns).
pub(crate) fn value_to_pattern_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f}"),
        Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
    }
}
