use bytes::BytesMut;
use sb_store::Value;
use tokio_postgres::types::{ToSql, Type};

use crate::error::key_columns;
use crate::replicas::{Positions, describe, format_lsn, parse_lsn};
use crate::types::{Param, date_text, decode, numeric_text, timestamp_text};

fn encode(v: &Value, ty: &Type) -> Result<BytesMut, String> {
    let mut out = BytesMut::new();
    Param(v).to_sql(ty, &mut out).map(|_| out).map_err(|e| e.to_string())
}

/// Encodes as `numeric` and reads it back as decimal text.
fn numeric_round_trip(v: Value) -> String {
    let bytes = encode(&v, &Type::NUMERIC).expect("encodes");
    numeric_text(&bytes).expect("decodes")
}

#[test]
fn numerics_round_trip_exactly() {
    let cases = [
        (Value::Int(0), "0"),
        (Value::Int(-42), "-42"),
        (Value::Int(10_000), "10000"),
        (Value::Int(i64::MAX), "9223372036854775807"),
        (Value::Float(1.5), "1.5"),
        (Value::Float(-0.000_12), "-0.00012"),
        (Value::Float(1e20), "100000000000000000000"),
        (Value::Text("123.456".into()), "123.456"),
        (Value::Text(" 7 ".into()), "7"),
        (Value::Text("1e3".into()), "1000"),
        (Value::Text("0.000".into()), "0.000"),
        (Value::Text("-0.5".into()), "-0.5"),
        (Value::Float(f64::NAN), "NaN"),
        (Value::Float(f64::NEG_INFINITY), "-Infinity"),
    ];
    for (v, text) in cases {
        assert_eq!(numeric_round_trip(v.clone()), text, "{v:?}");
    }
}

#[test]
fn numerics_decode_to_floats() {
    let bytes = encode(&Value::Text("-12345.6789".into()), &Type::NUMERIC).expect("encodes");
    assert_eq!(decode(&Type::NUMERIC, &bytes).expect("decodes"), Value::Float(-12345.6789));
}

#[test]
fn lenient_binding_converts_sensible_values() {
    assert_eq!(&encode(&Value::Float(3.0), &Type::INT8).unwrap()[..], &3i64.to_be_bytes());
    assert_eq!(&encode(&Value::Float(2.5), &Type::INT4).unwrap()[..], &3i32.to_be_bytes());
    assert_eq!(&encode(&Value::Int(2), &Type::FLOAT4).unwrap()[..], &2f32.to_be_bytes());
    assert_eq!(&encode(&Value::Float(1.5), &Type::VARCHAR).unwrap()[..], b"1.5");
    assert_eq!(&encode(&Value::Bool(true), &Type::INT2).unwrap()[..], &1i16.to_be_bytes());
    assert_eq!(&encode(&Value::Text("t".into()), &Type::BOOL).unwrap()[..], &[1]);
    assert_eq!(&encode(&Value::Json("[1]".into()), &Type::JSONB).unwrap()[..], b"\x01[1]");
    assert_eq!(&encode(&Value::Text("{}".into()), &Type::JSON).unwrap()[..], b"{}");
    assert_eq!(&encode(&Value::Text("x".into()), &Type::NAME).unwrap()[..], b"x");
}

#[test]
fn binding_without_a_conversion_fails() {
    assert!(encode(&Value::Text("abc".into()), &Type::INT8).is_err());
    assert!(encode(&Value::Int(70_000), &Type::INT2).is_err());
    assert!(encode(&Value::Float(f64::NAN), &Type::INT8).is_err());
    assert!(encode(&Value::Text("x".into()), &Type::UUID).is_err());
}

#[test]
fn timestamps_use_the_pocketbase_wire_format() {
    assert_eq!(timestamp_text(0), "2000-01-01 00:00:00.000Z");
    // 2024-02-29 12:34:56.789123 UTC.
    let micros: i64 = 1_709_210_096_789_123 - 946_684_800_000_000;
    assert_eq!(timestamp_text(micros), "2024-02-29 12:34:56.789Z");
    assert_eq!(timestamp_text(-1), "1999-12-31 23:59:59.999Z");
    assert_eq!(timestamp_text(i64::MAX), "infinity");
    assert_eq!(date_text(-1), "1999-12-31");
    assert_eq!(date_text(366), "2001-01-01");
}

#[test]
fn other_cells_decode_by_type() {
    assert_eq!(decode(&Type::INT2, &[0xff, 0xfe]).unwrap(), Value::Int(-2));
    assert_eq!(decode(&Type::BOOL, &[1]).unwrap(), Value::Bool(true));
    assert_eq!(decode(&Type::JSONB, b"\x01{\"a\":1}").unwrap(), Value::Json("{\"a\":1}".into()));
    assert_eq!(
        decode(&Type::UUID, &[0xab; 16]).unwrap(),
        Value::Text("abababab-abab-abab-abab-abababababab".into())
    );
    assert_eq!(decode(&Type::INT4_ARRAY, &[0; 12]).unwrap(), Value::Null);
    assert!(decode(&Type::INT8, &[1, 2]).is_err());
    assert!(numeric_text(&[0, 5]).is_err());
}

#[test]
fn unique_detail_gives_plain_columns() {
    assert_eq!(key_columns("Key (a, b)=(1, 2) already exists."), ["a", "b"]);
    assert_eq!(key_columns("Key (\"Mixed Case\")=(x) already exists."), ["Mixed Case"]);
    assert_eq!(key_columns("Key (lower(email::text))=(x) already exists."), Vec::<String>::new());
    assert_eq!(key_columns("Key (a, lower(b))=(1, x) already exists."), ["a"]);
    assert!(key_columns("something else").is_empty());
}

#[test]
fn wal_positions_parse_and_print_as_postgresql_does() {
    assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    assert_eq!(parse_lsn(" 0/0 "), Some(0));
    assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
    assert_eq!(format_lsn(parse_lsn("FFFFFFFF/1").unwrap()), "FFFFFFFF/1");
    for bad in ["", "16", "16/", "/1", "x/1", "1/100000000", "1/2/3"] {
        assert_eq!(parse_lsn(bad), None, "{bad}");
    }
}

#[test]
fn required_positions_only_rise() {
    let p = Positions::default();
    assert_eq!(p.written(), None);
    p.require("0/100");
    assert_eq!(p.required(), 0x100);
    assert_eq!(p.written(), None, "another node's write is not this store's");
    p.committed(0x80);
    assert_eq!(p.written().as_deref(), Some("0/80"));
    assert_eq!(p.required(), 0x100);
    p.require("0/50");
    p.require("garbage");
    assert_eq!(p.required(), 0x100);
    p.committed(0x200);
    assert_eq!((p.written().as_deref(), p.required()), (Some("0/200"), 0x200));
    p.committed(0x180);
    assert_eq!((p.written().as_deref(), p.required()), (Some("0/200"), 0x200));
}

#[test]
fn replica_names_leave_credentials_out() {
    assert_eq!(describe("postgres://u:secret@h1:5432,h2:5433/db?x=1"), "h1:5432,h2:5433");
    assert_eq!(describe("postgresql://h/db"), "h");
    assert_eq!(describe("postgres:///db"), "(default host)");
}
