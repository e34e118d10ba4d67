//! Binding [`Value`]s as parameters and decoding result cells (binary wire format).
//!
//! Parameters: the PostgreSQL rendering casts every placeholder by value variant (`$1::text`,
//! `::float8`, `::int8`, `::bool`, `::json`), so the server asks for exactly those types.
//! Binding is lenient beyond that, for hand-written SQL whose parameter types the server infers
//! from context: any value binds into text-like, JSON, boolean, integer, float and numeric
//! parameters when it has a sensible conversion (numbers ↔ text, 0/1 ↔ bool, floats rounded to
//! integers); a value without one (e.g. the text `abc` into `int8`) is an error.
//!
//! Result cells, by column type:
//! - `text`, `varchar`, `bpchar`, `name`, `"char"`, `citext`, enums, `unknown` → `Text`;
//! - `int2`/`int4`/`int8`/`oid` → `Int`; `float4`/`float8`/`numeric` → `Float` (numeric through
//!   its exact decimal text, so the `f64` is correctly rounded; `NaN`/`±Infinity` kept);
//! - `bool` → `Bool`; `json`/`jsonb` → `Json` (the text);
//! - `timestamptz`/`timestamp` → `Text` in PocketBase's wire format `YYYY-MM-DD HH:MM:SS.sssZ`
//!   (UTC, milliseconds truncated; `infinity` / `-infinity` as such); `date` → `YYYY-MM-DD`;
//!   `uuid` → its hyphenated text;
//! - domains decode as their base type; anything else (arrays, ranges, geometric types...) →
//!   `Null`.

use std::error::Error;
use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use sb_store::Value;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn Error + Sync + Send>;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
const PG_EPOCH_UNIX_DAYS: i64 = 10_957;

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// How a parameter or column type is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Text,
    Json,
    Jsonb,
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Timestamp,
    Date,
    Uuid,
    Other,
}

fn class(ty: &Type) -> Class {
    match *ty {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::CHAR => {
            Class::Text
        }
        Type::JSON => Class::Json,
        Type::JSONB => Class::Jsonb,
        Type::BOOL => Class::Bool,
        Type::INT2 => Class::Int2,
        Type::INT4 => Class::Int4,
        Type::INT8 => Class::Int8,
        Type::OID => Class::Oid,
        Type::FLOAT4 => Class::Float4,
        Type::FLOAT8 => Class::Float8,
        Type::NUMERIC => Class::Numeric,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => Class::Timestamp,
        Type::DATE => Class::Date,
        Type::UUID => Class::Uuid,
        _ => match ty.kind() {
            Kind::Domain(base) => class(base),
            Kind::Enum(_) => Class::Text,
            _ if ty.name() == "citext" => Class::Text,
            _ => Class::Other,
        },
    }
}

/// A [`Value`] bound as a statement parameter.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let v = self.0;
        if v.is_null() {
            return Ok(IsNull::Yes);
        }
        let mismatch = || -> BoxError { format!("cannot bind {v:?} as {ty}").into() };
        match class(ty) {
            Class::Text | Class::Json => out.put_slice(text_of(v).as_bytes()),
            Class::Jsonb => {
                out.put_u8(1);
                out.put_slice(text_of(v).as_bytes());
            }
            Class::Bool => out.put_u8(u8::from(bool_of(v).ok_or_else(mismatch)?)),
            Class::Int2 => {
                let i = int_of(v).and_then(|i| i16::try_from(i).ok()).ok_or_else(mismatch)?;
                out.put_i16(i);
            }
            Class::Int4 => {
                let i = int_of(v).and_then(|i| i32::try_from(i).ok()).ok_or_else(mismatch)?;
                out.put_i32(i);
            }
            Class::Oid => {
                let i = int_of(v).and_then(|i| u32::try_from(i).ok()).ok_or_else(mismatch)?;
                out.put_u32(i);
            }
            Class::Int8 => out.put_i64(int_of(v).ok_or_else(mismatch)?),
            Class::Float4 => out.put_f32(float_of(v).ok_or_else(mismatch)? as f32),
            Class::Float8 => out.put_f64(float_of(v).ok_or_else(mismatch)?),
            Class::Numeric => encode_numeric(v, out).ok_or_else(mismatch)?,
            Class::Timestamp | Class::Date | Class::Uuid | Class::Other => return Err(mismatch()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which reports a precise error.
        true
    }

    to_sql_checked!();
}

/// Text form of a value (for text and JSON parameters).
fn text_of(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::Text(s) | Value::Json(s) => s.into(),
        Value::Int(i) => i.to_string().into(),
        Value::Float(f) => float_text(*f).into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Null => "null".into(),
    }
}

/// A float as decimal text without exponent (`3`, `1.5`); non-finite values as PostgreSQL
/// spells them.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f}")
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Float(f) => Some(*f != 0.0),
        Value::Text(s) | Value::Json(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Some(true),
            "false" | "f" | "0" => Some(false),
            _ => None,
        },
        Value::Null => None,
    }
}

fn int_of(v: &Value) -> Option<i64> {
    let round = |f: f64| {
        // `as` saturates; reject what does not fit instead.
        let r = f.round();
        (r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64).then_some(r as i64)
    };
    match v {
        Value::Int(i) => Some(*i),
        Value::Float(f) => round(*f),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Text(s) | Value::Json(s) => {
            let s = s.trim();
            s.parse().ok().or_else(|| s.parse().ok().and_then(round))
        }
        Value::Null => None,
    }
}

fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Text(s) | Value::Json(s) => s.trim().parse().ok(),
        other => other.as_f64(),
    }
}

/// Writes a value in `numeric`'s binary form: digit count, weight (in base-10000 digits),
/// sign, display scale, then the base-10000 digits.
fn encode_numeric(v: &Value, out: &mut BytesMut) -> Option<()> {
    let text = match v {
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => i64::from(*b).to_string(),
        Value::Float(f) => float_text(*f),
        Value::Text(s) | Value::Json(s) => {
            let s = s.trim();
            if is_plain_decimal(s) { s.to_owned() } else { float_text(s.parse::<f64>().ok()?) }
        }
        Value::Null => return None,
    };
    let special = match text.as_str() {
        "NaN" => Some(NUMERIC_NAN),
        "Infinity" => Some(NUMERIC_PINF),
        "-Infinity" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_u16(0);
        return Some(());
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_part = int_part.trim_start_matches('0');
    let dscale = u16::try_from(frac_part.len()).ok()?;

    // Align on the decimal point: pad the integer part on the left and the fraction on the
    // right to whole groups of four digits.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let digits: Vec<u8> = std::iter::repeat_n(b'0', int_pad)
        .chain(int_part.bytes())
        .chain(frac_part.bytes())
        .chain(std::iter::repeat_n(b'0', frac_pad))
        .collect();
    let mut groups: Vec<i16> = digits
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = i32::try_from((int_pad + int_part.len()) / 4).ok()? - 1;
    // Drop leading zero groups (each lowers the weight) and trailing ones.
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= i32::try_from(leading).ok()?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(i16::try_from(groups.len()).ok()?);
    out.put_i16(i16::try_from(weight).ok()?);
    out.put_u16(if negative && !groups.is_empty() { NUMERIC_NEG } else { NUMERIC_POS });
    out.put_u16(dscale);
    for g in groups {
        out.put_i16(g);
    }
    Some(())
}

/// `[+-]digits[.digits]` with at least one digit.
fn is_plain_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int_part, frac_part) = s.split_once('.').unwrap_or((s, ""));
    !(int_part.is_empty() && frac_part.is_empty())
        && int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
}

/// A result cell decoded by column type; see the module docs.
pub(crate) struct Cell(pub(crate) Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        decode(ty, raw).map(Cell)
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.try_into().map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

fn utf8(raw: &[u8]) -> Result<String, BoxError> {
    Ok(std::str::from_utf8(raw)?.to_owned())
}

pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    Ok(match class(ty) {
        Class::Text => Value::Text(utf8(raw)?),
        Class::Json => Value::Json(utf8(raw)?),
        Class::Jsonb => match raw.split_first() {
            Some((1, text)) => Value::Json(utf8(text)?),
            _ => return Err("unsupported jsonb version".into()),
        },
        Class::Bool => Value::Bool(fixed::<1>(raw)?[0] != 0),
        Class::Int2 => Value::Int(i16::from_be_bytes(fixed(raw)?).into()),
        Class::Int4 => Value::Int(i32::from_be_bytes(fixed(raw)?).into()),
        Class::Oid => Value::Int(u32::from_be_bytes(fixed(raw)?).into()),
        Class::Int8 => Value::Int(i64::from_be_bytes(fixed(raw)?)),
        Class::Float4 => Value::Float(f32::from_be_bytes(fixed(raw)?).into()),
        Class::Float8 => Value::Float(f64::from_be_bytes(fixed(raw)?)),
        Class::Numeric => Value::Float(numeric_text(raw)?.parse()?),
        Class::Timestamp => Value::Text(timestamp_text(i64::from_be_bytes(fixed(raw)?))),
        Class::Date => Value::Text(date_text(i32::from_be_bytes(fixed(raw)?))),
        Class::Uuid => Value::Text(uuid_text(&fixed::<16>(raw)?)),
        Class::Other => Value::Null,
    })
}

/// The exact decimal text of a binary `numeric` (`NaN`, `Infinity`, `-Infinity` included).
pub(crate) fn numeric_text(raw: &[u8]) -> Result<String, BoxError> {
    let header = raw.get(..8).ok_or("numeric too short")?;
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let ndigits = usize::from(word(0));
    let weight = i32::from(word(2) as i16);
    let sign = word(4);
    let body = raw.get(8..8 + 2 * ndigits).ok_or("numeric digits missing")?;
    let digit = |i: i32| -> u16 {
        usize::try_from(i)
            .ok()
            .filter(|i| *i < ndigits)
            .map_or(0, |i| u16::from_be_bytes([body[2 * i], body[2 * i + 1]]))
    };
    match sign {
        NUMERIC_NAN => return Ok("NaN".into()),
        NUMERIC_PINF => return Ok("Infinity".into()),
        NUMERIC_NINF => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut out = String::with_capacity(4 * ndigits + 4);
    if sign == NUMERIC_NEG {
        out.push('-');
    }
    // Digit `i` (0-based) is worth 10000^(weight - i).
    if weight < 0 {
        out.push('0');
    } else {
        for w in (0..=weight).rev() {
            let d = digit(weight - w);
            let _ = if w == weight { write!(out, "{d}") } else { write!(out, "{d:04}") };
        }
    }
    // The fraction has exactly `dscale` digits (trailing zero groups are not transmitted).
    let dscale = usize::from(word(6));
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        let mut i = weight + 1;
        while out.len() - start < dscale {
            let _ = write!(out, "{:04}", digit(i));
            i += 1;
        }
        out.truncate(start + dscale);
    }
    Ok(out)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Microseconds since 2000-01-01 UTC → `YYYY-MM-DD HH:MM:SS.sssZ`.
pub(crate) fn timestamp_text(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let Some(unix) = micros.checked_add(PG_EPOCH_UNIX_MICROS) else {
        return "infinity".into();
    };
    let secs = unix.div_euclid(1_000_000);
    let millis = unix.rem_euclid(1_000_000) / 1000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 2000-01-01 → `YYYY-MM-DD`.
pub(crate) fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => {
            let (y, m, d) = civil_from_days(i64::from(days) + PG_EPOCH_UNIX_DAYS);
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

fn uuid_text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}
