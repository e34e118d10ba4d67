//! How records map onto tables: column definitions, the conversion of field values to bound
//! SQL values and back, and the DDL of a collection.

use sb_schema::{Collection, Field, FieldKind, Storage};
use sb_sql::{ColumnDef, ColumnType, CreateTable, Expr, Select, SelectItem, Stmt, Value};
use serde_json::Value as Json;

/// The column type of a field.
pub fn column_type(field: &Field) -> ColumnType {
    match field.kind.storage() {
        Storage::Text => ColumnType::Text,
        Storage::Number => ColumnType::Number,
        Storage::Bool => ColumnType::Bool,
        Storage::Json => ColumnType::Json,
    }
}

pub fn column_def(field: &Field) -> ColumnDef {
    let ty = column_type(field);
    let primary_key = matches!(&field.kind, FieldKind::Text(o) if o.primary_key);
    let (not_null, default) = match (&field.kind, ty) {
        (_, ColumnType::Json) if field.kind.is_multiple() => (true, Some(Value::Json("[]".into()))),
        (FieldKind::GeoPoint(_), _) => (true, Some(Value::Json(r#"{"lon":0,"lat":0}"#.into()))),
        (_, ColumnType::Json) => (false, None),
        (_, ColumnType::Text) if primary_key => (true, None),
        (_, ColumnType::Text) => (true, Some(Value::Text(String::new()))),
        (_, ColumnType::Number) => (true, Some(Value::Int(0))),
        (_, ColumnType::Bool) => (true, Some(Value::Bool(false))),
        (_, ColumnType::Integer) => (true, Some(Value::Int(0))),
    };
    ColumnDef { name: field.name.clone(), ty, primary_key, not_null, default }
}

/// Statements that create the table (or view) of a collection, without its indexes.
pub fn create_table(c: &Collection) -> Stmt {
    match &c.view_query {
        Some(sql) if c.is_view() => Stmt::CreateView { name: c.name.clone(), sql: sql.clone() },
        _ => Stmt::CreateTable(CreateTable {
            name: c.name.clone(),
            if_not_exists: false,
            rowid: true,
            columns: c.fields.iter().map(column_def).collect(),
        }),
    }
}

/// Parses the collection's index definitions, pointing each at the collection's table.
pub fn index_defs(c: &Collection) -> Result<Vec<sb_sql::IndexDef>, String> {
    c.indexes
        .iter()
        .map(|sql| {
            let mut def = sb_sql::parse_index(sql)?;
            def.table = c.name.clone();
            Ok(def)
        })
        .collect()
}

/// The SELECT list of a record: every field column, in field order.
pub fn select_columns(c: &Collection, alias: &str) -> Vec<SelectItem> {
    c.fields
        .iter()
        .map(|f| SelectItem::Expr { expr: Expr::col(alias, &f.name), alias: None })
        .collect()
}

/// `SELECT <fields> FROM "coll" AS alias`.
pub fn select_record(c: &Collection, alias: &str) -> Select {
    Select {
        columns: select_columns(c, alias),
        from: Some(sb_sql::FromItem::Table { name: c.name.clone(), alias: Some(alias.into()) }),
        ..Default::default()
    }
}

/// Converts a record field value (its JSON form) to the value bound into its column.
pub fn to_sql(field: &Field, value: &Json) -> Value {
    match field.kind.storage() {
        Storage::Text => match value {
            Json::String(s) => Value::Text(s.clone()),
            Json::Null => Value::Text(String::new()),
            other => Value::Text(other.to_string()),
        },
        Storage::Number => Value::Float(value.as_f64().unwrap_or(0.0)),
        Storage::Bool => Value::Bool(value.as_bool().unwrap_or(false)),
        Storage::Json => match value {
            Json::Null
                if !field.kind.is_multiple() && !matches!(field.kind, FieldKind::GeoPoint(_)) =>
            {
                Value::Null
            }
            Json::Null => Value::Json(sb_schema::record::zero_value(&field.kind).to_string()),
            other => Value::Json(other.to_string()),
        },
    }
}

/// Converts a column value read from the database to the field's JSON form.
pub fn from_sql(field: &Field, value: Value) -> Json {
    match field.kind.storage() {
        Storage::Text => match value {
            Value::Text(s) | Value::Json(s) => Json::String(s),
            Value::Null => Json::String(String::new()),
            Value::Int(i) => Json::String(i.to_string()),
            Value::Float(f) => Json::String(f.to_string()),
            Value::Bool(b) => Json::String(b.to_string()),
        },
        Storage::Number => number(
            value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .unwrap_or(0.0),
        ),
        Storage::Bool => Json::Bool(match value {
            Value::Bool(b) => b,
            Value::Int(i) => i != 0,
            Value::Float(f) => f != 0.0,
            Value::Text(s) | Value::Json(s) => matches!(s.as_str(), "1" | "true"),
            Value::Null => false,
        }),
        Storage::Json => {
            let parsed = match value {
                Value::Text(s) | Value::Json(s) => {
                    serde_json::from_str(&s).unwrap_or(Json::String(s))
                }
                Value::Int(i) => Json::from(i),
                Value::Float(f) => number(f),
                Value::Bool(b) => Json::Bool(b),
                Value::Null => Json::Null,
            };
            match (&field.kind, parsed) {
                (k, Json::Null) if k.is_multiple() || matches!(k, FieldKind::GeoPoint(_)) => {
                    sb_schema::record::zero_value(k)
                }
                (k, v) if k.is_multiple() && !v.is_array() => {
                    // Stored scalar in a multi-value column (e.g. after a schema change).
                    match v {
                        Json::String(s) if s.is_empty() => Json::Array(Vec::new()),
                        other => Json::Array(vec![other]),
                    }
                }
                (_, v) => v,
            }
        }
    }
}

/// A JSON number, printed without a fraction when it is integral (PocketBase prints `5`, not
/// `5.0`).
pub fn number(f: f64) -> Json {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Json::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::from(0))
    }
}
