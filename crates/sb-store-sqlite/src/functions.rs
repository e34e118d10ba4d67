//! Scalar functions the SQLite rendering needs but the bundled SQLite lacks (it is built
//! without `SQLITE_ENABLE_MATH_FUNCTIONS`): the list is `sb_sql::SQLITE_FUNCTIONS`, and each is
//! registered on every connection with SQLite's own semantics.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

/// The `f64 → f64` operation behind a function name of `sb_sql::SQLITE_FUNCTIONS`.
pub(crate) fn math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "radians" => |x| x * (std::f64::consts::PI / 180.0),
        "sin" => f64::sin,
        "cos" => f64::cos,
        "acos" => f64::acos,
        _ => return None,
    })
}

/// Registers every function of `sb_sql::SQLITE_FUNCTIONS`; fails on a name without an
/// implementation here, so a new entry there cannot go unnoticed.
pub(crate) fn register(db: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    for f in sb_sql::SQLITE_FUNCTIONS {
        let Some(op) = math(f.name) else {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                Some(format!("no implementation of the SQL function {}", f.name)),
            ));
        };
        db.create_scalar_function(f.name, f.n_args, flags, move |ctx| {
            // NaN never leaves SQLite's math functions: it becomes NULL.
            Ok(numeric(ctx.get_raw(0)).map(op).filter(|r| !r.is_nan()))
        })?;
    }
    Ok(())
}

/// An argument as SQLite's math functions take it: integers and reals as numbers, text that is
/// entirely a number (surrounding whitespace allowed) as that number, anything else NULL.
pub(crate) fn numeric(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => {
            let t =
                std::str::from_utf8(t).ok()?.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
            // Rust also parses `inf`/`NaN`, which SQLite does not take for numbers.
            let plain = t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
            if plain { t.parse().ok() } else { None }
        }
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}
