//! What the two migration tools (`import.rs`, `migrate.rs`) share: the kinds of target columns
//! and the conversion of source values to them, the per-table checksum, paged reads of a table
//! in insertion order, and progress bars.
//!
//! A checksum is computed the same way on both sides of a copy: each value is first brought to
//! the kind of its target column with [`convert`] (the very conversion the copy binds), then
//! encoded with a type tag and a length prefix, and the rows are hashed with SHA-256 in
//! insertion order. Reading the target back and hashing it through the same function therefore
//! checks that every row arrived, in order, with the value that was sent.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sb_sql::{CmpOp, Expr, FromItem, OrderBy, Select, SelectItem, Stmt, Ty, Typed, Value};
use sb_store::{Rows, Store, Tx};
use sha2::{Digest, Sha256};

/// Rows read per page.
pub const PAGE: u64 = 500;

/// What a target column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Float,
    Bool,
    Json,
    Int,
}

impl Kind {
    /// The column kind of a field (its storage in Scalebase's tables).
    pub fn of_storage(storage: sb_schema::Storage) -> Kind {
        match storage {
            sb_schema::Storage::Text => Kind::Text,
            sb_schema::Storage::Number => Kind::Float,
            sb_schema::Storage::Bool => Kind::Bool,
            sb_schema::Storage::Json => Kind::Json,
        }
    }

    /// The kind of a PostgreSQL column from its `information_schema.columns.data_type`.
    pub fn of_pg_type(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "text" | "character varying" => Kind::Text,
            "double precision" | "real" | "numeric" => Kind::Float,
            "boolean" => Kind::Bool,
            "json" | "jsonb" => Kind::Json,
            "bigint" | "integer" | "smallint" => Kind::Int,
            _ => return None,
        })
    }
}

/// Converts a value read from a source database to the value of `kind` that the target column
/// receives. SQLite's storage classes are loose (a `JSON` column has NUMERIC affinity, booleans
/// are integers), so each kind accepts the forms SQLite may hand back; anything else is an
/// error naming the value, never a silent change. NULL stays NULL.
pub fn convert(kind: Kind, value: Value) -> Result<Value, String> {
    let bad = |v: &Value| format!("{v:?} cannot be stored as {kind:?}");
    Ok(match (kind, value) {
        (_, Value::Null) => Value::Null,
        (Kind::Text, Value::Text(s) | Value::Json(s)) => Value::Text(s),
        (Kind::Text, Value::Int(i)) => Value::Text(i.to_string()),
        (Kind::Text, Value::Float(f)) => Value::Text(float_text(f)),
        (Kind::Text, Value::Bool(b)) => Value::Text(b.to_string()),
        (Kind::Float, Value::Float(f)) => Value::Float(f),
        (Kind::Float, Value::Int(i)) => Value::Float(i as f64),
        (Kind::Float, Value::Bool(b)) => Value::Float(if b { 1.0 } else { 0.0 }),
        (Kind::Float, v @ (Value::Text(_) | Value::Json(_))) => {
            match v.as_str().and_then(|s| s.trim().parse::<f64>().ok()) {
                Some(f) if f.is_finite() => Value::Float(f),
                _ => return Err(bad(&v)),
            }
        }
        (Kind::Bool, Value::Bool(b)) => Value::Bool(b),
        (Kind::Bool, Value::Int(i)) => Value::Bool(i != 0),
        (Kind::Bool, Value::Float(f)) => Value::Bool(f != 0.0),
        (Kind::Bool, v @ (Value::Text(_) | Value::Json(_))) => {
            match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                Some("1" | "true" | "t") => Value::Bool(true),
                Some("0" | "false" | "f" | "") => Value::Bool(false),
                _ => return Err(bad(&v)),
            }
        }
        (Kind::Json, Value::Text(s) | Value::Json(s)) => {
            if serde_json::from_str::<serde_json::Value>(&s).is_err() {
                return Err(bad(&Value::Text(s)));
            }
            Value::Json(s)
        }
        (Kind::Json, Value::Int(i)) => Value::Json(i.to_string()),
        (Kind::Json, Value::Float(f)) => Value::Json(float_text(f)),
        (Kind::Json, Value::Bool(b)) => Value::Json(b.to_string()),
        (Kind::Int, Value::Int(i)) => Value::Int(i),
        (Kind::Int, Value::Bool(b)) => Value::Int(i64::from(b)),
        (Kind::Int, v @ Value::Float(_)) => match v {
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Int(f as i64),
            other => return Err(bad(&other)),
        },
        (Kind::Int, v @ (Value::Text(_) | Value::Json(_))) => {
            match v.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                Some(i) => Value::Int(i),
                None => return Err(bad(&v)),
            }
        }
    })
}

/// A float as JSON writes it (`3` for 3.0, as SQLite's NUMERIC affinity would store it).
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        (f as i64).to_string()
    } else {
        serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
    }
}

/// Appends the checksum encoding of one (converted) value: a type tag, then the payload with a
/// length prefix where it varies, so that concatenated rows cannot collide.
fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0),
        Value::Text(s) => {
            out.push(1);
            out.extend((s.len() as u64).to_be_bytes());
            out.extend(s.as_bytes());
        }
        Value::Float(f) => {
            out.push(2);
            // -0.0 and 0.0 are one number to both databases' comparisons.
            let f = if *f == 0.0 { 0.0 } else { *f };
            out.extend(f.to_bits().to_be_bytes());
        }
        Value::Bool(b) => out.extend([3, u8::from(*b)]),
        Value::Json(s) => {
            out.push(4);
            out.extend((s.len() as u64).to_be_bytes());
            out.extend(s.as_bytes());
        }
        Value::Int(i) => {
            out.push(5);
            out.extend(i.to_be_bytes());
        }
    }
}

/// The row count and SHA-256 of one table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    pub sha256: String,
}

impl TableSum {
    /// The first 16 hex digits, for reports.
    pub fn short(&self) -> &str {
        &self.sha256[..16]
    }
}

/// Hashes rows in the order they are added ([`Checksum::add`]), or in sorted order for tables
/// without an insertion order on one side ([`Checksum::unordered`]).
#[derive(Default)]
pub struct Checksum {
    rows: u64,
    hasher: Sha256,
    /// Encoded rows kept for sorting (unordered checksums only).
    kept: Option<Vec<Vec<u8>>>,
}

impl Checksum {
    /// A checksum over rows in the order they are added.
    pub fn ordered() -> Checksum {
        Checksum::default()
    }

    /// A checksum over the sorted row encodings (the order rows are added does not matter).
    pub fn unordered() -> Checksum {
        Checksum { kept: Some(Vec::new()), ..Checksum::default() }
    }

    /// Adds one row of converted values.
    pub fn add(&mut self, row: &[Value]) {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend((row.len() as u32).to_be_bytes());
        for v in row {
            encode(v, &mut bytes);
        }
        self.rows += 1;
        match &mut self.kept {
            Some(kept) => kept.push(bytes),
            None => self.hasher.update(&bytes),
        }
    }

    pub fn finish(mut self) -> TableSum {
        if let Some(mut kept) = self.kept.take() {
            kept.sort();
            for bytes in kept {
                self.hasher.update(&bytes);
            }
        }
        let digest = self.hasher.finalize();
        let mut sha256 = String::with_capacity(64);
        for b in digest {
            let _ = write!(sha256, "{b:02x}");
        }
        TableSum { rows: self.rows, sha256 }
    }
}

/// Where reads go: a store's read connections, or an open transaction (which sees its own
/// writes, and one snapshot throughout).
pub enum Reader<'a> {
    Store(&'a dyn Store),
    Tx(&'a mut dyn Tx),
}

impl Reader<'_> {
    pub async fn query(&mut self, stmt: &Stmt) -> sb_store::Result<Rows> {
        match self {
            Reader::Store(s) => s.query(stmt).await,
            Reader::Tx(tx) => tx.query(stmt).await,
        }
    }
}

/// One page of `table` in insertion order: the rows (values of `columns`, in that order) whose
/// insertion key is above `after`, and the key of the last one. `ordered` false reads a table
/// without an insertion key (PostgreSQL system tables) in one go, in no particular order.
pub async fn read_page(
    reader: &mut Reader<'_>,
    table: &str,
    columns: &[String],
    after: i64,
    ordered: bool,
) -> anyhow::Result<(Vec<Vec<Value>>, i64)> {
    let rowid = Expr::RowId { table: Some("t".into()) };
    let mut items: Vec<SelectItem> =
        columns.iter().map(|c| SelectItem::Expr { expr: Expr::col("t", c), alias: None }).collect();
    let mut select = Select {
        from: Some(FromItem::Table { name: table.into(), alias: Some("t".into()) }),
        ..Default::default()
    };
    if ordered {
        items.insert(0, SelectItem::Expr { expr: rowid.clone(), alias: None });
        select.where_ = Some(Expr::Cmp {
            op: CmpOp::Gt,
            lhs: Box::new(Typed::new(rowid.clone(), Ty::Number)),
            rhs: Box::new(Typed::new(Expr::param(after), Ty::Number)),
        });
        select.order_by = vec![OrderBy { expr: rowid, desc: false }];
        select.limit = Some(PAGE);
    }
    select.columns = items;
    let rows = reader
        .query(&Stmt::Select(select))
        .await
        .with_context(|| format!("cannot read table {table:?}"))?;
    let mut last = after;
    let mut out = Vec::with_capacity(rows.rows.len());
    for mut row in rows.rows {
        if ordered {
            let key = row.remove(0);
            last = match key.as_i64() {
                Some(k) => k,
                None => bail!("table {table:?}: unexpected insertion key {key:?}"),
            };
        }
        out.push(row);
    }
    Ok((out, last))
}

/// Most rows in one [`insert_rows`] statement (fewer for wide tables: at most
/// [`MAX_PARAMS`] bound values).
const BATCH_ROWS: usize = 100;
const MAX_PARAMS: usize = 30_000;

/// Rows per [`insert_rows`] statement for a table of `columns` columns.
pub fn batch_rows(columns: usize) -> usize {
    (MAX_PARAMS / columns.max(1)).clamp(1, BATCH_ROWS)
}

/// One `INSERT INTO "table" ("c1", …) VALUES (?, …), (?, …)` for many rows: the copy tools'
/// bulk form (`sb_sql`'s `Insert` writes one row, a round trip per row to PostgreSQL).
/// Identifiers are double-quoted, which SQLite and PostgreSQL both read as identifiers, and
/// every value is bound.
pub fn insert_rows(table: &str, columns: &[String], rows: Vec<Vec<Value>>) -> Stmt {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote(table),
        names.join(", "),
        vec![row.as_str(); rows.len()].join(", ")
    );
    Stmt::Raw { sql, params: rows.into_iter().flatten().collect() }
}

/// A progress bar on standard error for `len` units (hidden when standard error is not a
/// terminal, so logs and tests get only the final report).
pub fn bar(len: u64, message: impl Into<String>, bytes: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let template = if bytes {
        "{msg:24} [{bar:40}] {bytes}/{total_bytes} ({eta})"
    } else {
        "{msg:24} [{bar:40}] {pos}/{len} ({eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.into());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_to_their_column_kinds() {
        assert_eq!(convert(Kind::Bool, Value::Int(1)), Ok(Value::Bool(true)));
        assert_eq!(convert(Kind::Bool, Value::Text("0".into())), Ok(Value::Bool(false)));
        assert_eq!(convert(Kind::Float, Value::Int(3)), Ok(Value::Float(3.0)));
        assert_eq!(convert(Kind::Float, Value::Text("2.5".into())), Ok(Value::Float(2.5)));
        assert_eq!(convert(Kind::Json, Value::Int(5)), Ok(Value::Json("5".into())));
        assert_eq!(convert(Kind::Json, Value::Float(2.5)), Ok(Value::Json("2.5".into())));
        assert_eq!(convert(Kind::Json, Value::Float(4.0)), Ok(Value::Json("4".into())));
        assert_eq!(convert(Kind::Json, Value::Text("[1]".into())), Ok(Value::Json("[1]".into())));
        assert_eq!(convert(Kind::Text, Value::Int(7)), Ok(Value::Text("7".into())));
        assert_eq!(convert(Kind::Int, Value::Float(2.0)), Ok(Value::Int(2)));
        assert_eq!(convert(Kind::Text, Value::Null), Ok(Value::Null));
        assert!(convert(Kind::Json, Value::Text("{oops".into())).is_err());
        assert!(convert(Kind::Bool, Value::Text("maybe".into())).is_err());
        assert!(convert(Kind::Float, Value::Text("abc".into())).is_err());
    }

    #[test]
    fn checksums_see_order_values_and_types() {
        let sum = |rows: &[Vec<Value>]| {
            let mut c = Checksum::ordered();
            rows.iter().for_each(|r| c.add(r));
            c.finish()
        };
        let a = vec![Value::Text("a".into()), Value::Float(1.0)];
        let b = vec![Value::Text("b".into()), Value::Float(2.0)];
        assert_eq!(sum(&[a.clone(), b.clone()]), sum(&[a.clone(), b.clone()]));
        assert_ne!(sum(&[a.clone(), b.clone()]).sha256, sum(&[b.clone(), a.clone()]).sha256);
        let json = vec![Value::Json("a".into()), Value::Float(1.0)];
        assert_ne!(sum(std::slice::from_ref(&a)).sha256, sum(&[json]).sha256);
        // Value boundaries are part of the encoding.
        let split = vec![Value::Text("ab".into()), Value::Text("c".into())];
        let joined = vec![Value::Text("a".into()), Value::Text("bc".into())];
        assert_ne!(sum(&[split]).sha256, sum(&[joined]).sha256);
        // Unordered checksums ignore the order rows come in.
        let mut x = Checksum::unordered();
        x.add(&a);
        x.add(&b);
        let mut y = Checksum::unordered();
        y.add(&b);
        y.add(&a);
        assert_eq!(x.finish(), y.finish());
    }
}
