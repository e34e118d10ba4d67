//! Record value coercion and validation; expectations captured from the reference server.

use serde_json::{Value, json};

use crate::model::*;
use crate::record::*;

/// The fields of the reference test collection `vals`.
fn vals() -> Collection {
    Collection::from_json(&json!({"name":"vals","fields":[
        {"name":"t","type":"text","min":3,"max":5,"pattern":"^[a-z]+$"},
        {"name":"t2","type":"text","required":true},
        {"name":"t3","type":"text"},
        {"name":"n","type":"number","min":1,"max":10,"onlyInt":true},
        {"name":"n2","type":"number","required":true},
        {"name":"n3","type":"number","min":1.5,"max":2.5},
        {"name":"b","type":"bool","required":true},
        {"name":"em","type":"email","exceptDomains":["bad.com"]},
        {"name":"em2","type":"email","onlyDomains":["good.com"]},
        {"name":"u","type":"url","exceptDomains":["bad.com"]},
        {"name":"u2","type":"url","onlyDomains":["good.com"]},
        {"name":"d","type":"date","min":"2020-01-01 00:00:00.000Z","max":"2021-01-01 00:00:00.000Z"},
        {"name":"s","type":"select","values":["a","b","c"],"maxSelect":2},
        {"name":"s1","type":"select","values":["a","b","c"]},
        {"name":"sm","type":"select","values":["a","b","c","a,b"],"maxSelect":3},
        {"name":"r","type":"relation","collectionId":"_pb_users_auth_","maxSelect":3,"minSelect":2},
        {"name":"r1","type":"relation","collectionId":"_pb_users_auth_"},
        {"name":"f","type":"file","maxSelect":2},
        {"name":"f1","type":"file"},
        {"name":"j","type":"json","maxSize":10},
        {"name":"jr","type":"json","required":true},
        {"name":"p","type":"password","min":3,"max":5,"pattern":"^[a-z]+$"},
        {"name":"g","type":"geoPoint"},
        {"name":"gr","type":"geoPoint","required":true},
        {"name":"ed","type":"editor","maxSize":10},
        {"name":"er","type":"editor","required":true},
        {"name":"created","type":"autodate","onCreate":true}
    ]})).unwrap()
}

fn field(name: &str) -> Field {
    vals().field(name).cloned().unwrap_or_else(|| panic!("no field {name}"))
}

/// normalize + validate_value, as JSON (`null` when valid).
fn check(name: &str, raw: Value) -> Value {
    let f = field(name);
    let v = normalize(&f, &raw);
    match validate_value(&f, &v) {
        Ok(()) => Value::Null,
        Err(e) => e.to_json(),
    }
}

#[test]
fn zero_values() {
    let c = vals();
    let got: Vec<(&str, Value)> =
        c.fields.iter().map(|f| (f.name.as_str(), zero_value(&f.kind))).collect();
    // reference record created with an empty body (keys t..u2 etc.)
    let want = json!({"id":"","t":"","t2":"","t3":"","n":0,"n2":0,"n3":0,"b":false,"em":"","em2":"","u":"","u2":"","d":"",
        "s":[],"s1":"","sm":[],"r":[],"r1":"","f":[],"f1":"","j":null,"jr":null,"p":"","g":{"lon":0,"lat":0},"gr":{"lon":0,"lat":0},
        "ed":"","er":"","created":""});
    for (name, v) in got {
        assert_eq!(v, want[name], "{name}");
    }
    assert_eq!(super::text(&zero_value(&c.field("g").unwrap().kind)), r#"{"lon":0,"lat":0}"#);
}

#[test]
fn value_errors_match_reference() {
    let min_text = |n: i64| json!({"code":"validation_min_text_constraint","message":format!("Must be at least {n} character(s)."),"params":{"min":n}});
    let required = json!({"code":"validation_required","message":"Cannot be blank."});
    let only_int = json!({"code":"validation_only_int_constraint","message":"Decimal numbers are not allowed."});
    let not_a_number = json!({"code":"validation_not_a_number","message":"The submitted number is not properly formatted."});
    let n3_min = json!({"code":"validation_min_number_constraint","message":"Must be greater or equal than 1.5.","params":{"min":1.5}});
    let n3_max = json!({"code":"validation_max_number_constraint","message":"Must be less or equal than 2.5.","params":{"max":2.5}});
    let email_domain = json!({"code":"validation_email_domain_not_allowed","message":"Email domain is not allowed."});
    let url_domain =
        json!({"code":"validation_url_domain_not_allowed","message":"Url domain is not allowed."});
    let latitude = json!({"code":"validation_invalid_latitude","message":"Latitude must be between -90 and 90 degrees."});
    let cases: Vec<(&str, Value, Value)> = vec![
        ("t", json!("ab"), min_text(3)),
        (
            "t",
            json!("abcdef"),
            json!({"code":"validation_max_text_constraint","message":"Must be no more than 5 character(s).","params":{"max":5}}),
        ),
        (
            "t",
            json!("ab1"),
            json!({"code":"validation_invalid_format","message":"Invalid value format."}),
        ),
        ("t", json!("abc"), Value::Null),
        ("t", json!(""), Value::Null),
        ("t2", json!(""), required.clone()),
        ("t2", Value::Null, required.clone()),
        ("t3", json!("é".repeat(5000)), Value::Null),
        (
            "t3",
            json!("é".repeat(5001)),
            json!({"code":"validation_max_text_constraint","message":"Must be no more than 5000 character(s).","params":{"max":5000}}),
        ),
        ("n", json!(0.5), only_int.clone()),
        ("n", json!(5.5), only_int),
        (
            "n",
            json!(11),
            json!({"code":"validation_max_number_constraint","message":"Must be less or equal than 10.","params":{"max":10}}),
        ),
        ("n", json!(0), Value::Null),
        (
            "n",
            json!(-3),
            json!({"code":"validation_min_number_constraint","message":"Must be greater or equal than 1.","params":{"min":1}}),
        ),
        ("n2", json!("abc"), required.clone()),
        ("n2", json!(0), required.clone()),
        ("n2", json!("0"), required.clone()),
        ("n2", json!(""), required.clone()),
        ("n2", Value::Null, required.clone()),
        ("n3", json!(1), n3_min.clone()),
        ("n3", json!(true), n3_min),
        ("n3", json!(3), n3_max.clone()),
        ("n3", json!("12"), n3_max.clone()),
        ("n3", json!("1e3"), n3_max),
        ("n3", json!("inf"), not_a_number.clone()),
        ("n3", json!("NaN"), not_a_number),
        ("n3", json!(" 12 "), Value::Null),
        ("n3", json!("0x10"), Value::Null),
        ("n3", json!([5]), Value::Null),
        ("n3", json!({"a":1}), Value::Null),
        ("n3", json!("12abc"), Value::Null),
        ("b", json!(false), required.clone()),
        ("b", json!("yes"), required.clone()),
        ("b", json!(true), Value::Null),
        ("em", json!("a@bad.com"), email_domain.clone()),
        ("em2", json!("a@x.com"), email_domain),
        ("em2", json!("a@good.com"), Value::Null),
        (
            "em",
            json!("notanemail"),
            json!({"code":"validation_is_email","message":"Must be a valid email address."}),
        ),
        ("u", json!("http://bad.com/x"), url_domain.clone()),
        ("u2", json!("http://x.com"), url_domain.clone()),
        ("u2", json!("x.com"), url_domain),
        ("u2", json!("http://good.com"), Value::Null),
        (
            "u",
            json!("notaurl"),
            json!({"code":"validation_invalid_url","message":"Must be a valid url."}),
        ),
        (
            "d",
            json!("2019-01-01"),
            json!({"code":"validation_min_greater_equal_than_required","message":"Must be no less than 2020-01-01 00:00:00 +0000 UTC.","params":{"threshold":"2020-01-01T00:00:00Z"}}),
        ),
        (
            "d",
            json!("2022-01-01"),
            json!({"code":"validation_max_less_equal_than_required","message":"Must be no greater than 2021-01-01 00:00:00 +0000 UTC.","params":{"threshold":"2021-01-01T00:00:00Z"}}),
        ),
        ("d", json!("2020-06-01"), Value::Null),
        ("d", json!("garbage"), Value::Null),
        (
            "s",
            json!(["a", "b", "c"]),
            json!({"code":"validation_too_many_values","message":"Select no more than 2.","params":{"maxSelect":2}}),
        ),
        (
            "s",
            json!(["z", "a", "b"]),
            json!({"code":"validation_too_many_values","message":"Select no more than 2.","params":{"maxSelect":2}}),
        ),
        (
            "s",
            json!(["a", "z"]),
            json!({"code":"validation_invalid_value","message":"Invalid value z.","params":{"value":"z"}}),
        ),
        (
            "s1",
            json!("z"),
            json!({"code":"validation_invalid_value","message":"Invalid value z.","params":{"value":"z"}}),
        ),
        ("s1", json!(["a", "b"]), Value::Null),
        (
            "s1",
            json!(5),
            json!({"code":"validation_invalid_value","message":"Invalid value 5.","params":{"value":"5"}}),
        ),
        (
            "sm",
            json!(true),
            json!({"code":"validation_invalid_value","message":"Invalid value true.","params":{"value":"true"}}),
        ),
        (
            "sm",
            json!("[\"a\""),
            json!({"code":"validation_invalid_value","message":"Invalid value [\"a\".","params":{"value":"[\"a\""}}),
        ),
        (
            "sm",
            json!(["c", "b", "a", "a,b"]),
            json!({"code":"validation_too_many_values","message":"Select no more than 3.","params":{"maxSelect":3}}),
        ),
        (
            "r",
            json!("abc"),
            json!({"code":"validation_not_enough_values","message":"Select at least 2.","params":{"minSelect":2}}),
        ),
        (
            "r",
            json!(["a", "b", "c", "d"]),
            json!({"code":"validation_too_many_values","message":"Select no more than 3.","params":{"maxSelect":3}}),
        ),
        ("r", json!([]), Value::Null),
        (
            "f",
            json!(["a.txt", "b.txt", "c.txt"]),
            json!({"code":"validation_too_many_files","message":"The maximum allowed files is 2.","params":{"maxSelect":2}}),
        ),
        (
            "j",
            json!("12345678901"),
            json!({"code":"validation_json_size_limit","message":"The maximum allowed JSON size is 10 bytes.","params":{"maxSize":10}}),
        ),
        ("j", json!("1234567890"), Value::Null),
        ("jr", Value::Null, required.clone()),
        ("jr", json!([]), required.clone()),
        ("jr", json!({}), required.clone()),
        ("jr", json!(""), required.clone()),
        ("jr", json!("\"\""), required.clone()),
        ("jr", json!(0), Value::Null),
        ("jr", json!(false), Value::Null),
        ("jr", json!(" "), Value::Null),
        (
            "p",
            json!("ab"),
            json!({"code":"validation_min_text_constraint","message":"Must be at least 3 character(s)."}),
        ),
        (
            "p",
            json!("abcdef"),
            json!({"code":"validation_max_text_constraint","message":"Must be less than 5 character(s)."}),
        ),
        (
            "p",
            json!("ab1"),
            json!({"code":"validation_invalid_format","message":"Invalid value format."}),
        ),
        ("g", json!({"lon":200,"lat":100}), latitude.clone()),
        ("g", json!({"lon":10,"lat":100}), latitude),
        (
            "g",
            json!({"lon":-181,"lat":0}),
            json!({"code":"validation_invalid_longitude","message":"Longitude must be between -180 and 180 degrees."}),
        ),
        ("gr", json!({"lon":0,"lat":0}), required.clone()),
        ("gr", json!({"lon":0,"lat":1}), Value::Null),
        (
            "ed",
            json!("12345678901"),
            json!({"code":"validation_content_size_limit","message":"The maximum allowed content size is 10 bytes.","params":{"maxSize":10}}),
        ),
        ("er", json!(""), required),
        ("created", json!("x"), Value::Null),
    ];
    for (name, raw, want) in cases {
        assert_eq!(check(name, raw.clone()), want, "{name} = {raw}");
    }
}

#[test]
fn text_coercion() {
    let f = field("t3");
    for (raw, want) in [
        (json!(12), "12"),
        (json!(1.5), "1.5"),
        (json!(1e20), "100000000000000000000"),
        (json!(1e-7), "0.0000001"),
        (json!(true), "true"),
        (Value::Null, ""),
        (json!([1, 2]), ""),
        (json!(["a"]), ""),
        (json!({"a":1}), ""),
        (json!(12.0), "12"),
        (json!(123456789012345678_i64), "123456789012345680"),
    ] {
        assert_eq!(normalize(&f, &raw), json!(want), "{raw}");
    }
}

#[test]
fn number_and_bool_coercion() {
    let n = field("n3");
    for (raw, want) in [
        (json!("12"), json!(12)),
        (Value::Null, json!(0)),
        (json!(""), json!(0)),
        (json!(true), json!(1)),
        (json!("1e3"), json!(1000)),
        (json!(" 12 "), json!(0)),
        (json!("0x10"), json!(0)),
        (json!("-2.5"), json!(-2.5)),
        (json!(5.0), json!(5)),
        (json!("inf"), Value::Null),
    ] {
        assert_eq!(normalize(&n, &raw), want, "{raw}");
    }
    assert_eq!(super::text(&normalize(&n, &json!(5.0))), "5");
    let b = field("b");
    for raw in ["1", "t", "T", "true", "TRUE", "True"] {
        assert_eq!(normalize(&b, &json!(raw)), json!(true), "{raw}");
    }
    for raw in [
        json!("yes"),
        json!("0"),
        json!(" true"),
        json!("tRUE"),
        json!(0),
        Value::Null,
        json!([true]),
    ] {
        assert_eq!(normalize(&b, &raw), json!(false), "{raw}");
    }
    assert_eq!(normalize(&b, &json!(2)), json!(true));
}

#[test]
fn multi_value_coercion() {
    let sm = field("sm");
    for (raw, want) in [
        (json!("a"), json!(["a"])),
        (json!(["a", "b", "a"]), json!(["a", "b"])),
        (json!("a,b"), json!(["a,b"])),
        (json!([1, "a"]), json!(["1", "a"])),
        (Value::Null, json!([])),
        (json!(""), json!([])),
        (json!(["", "a"]), json!(["a"])),
        (json!([["a"]]), json!([])),
        (json!(true), json!(["true"])),
        (json!([]), json!([])),
        (json!("[\"a\",\"b\"]"), json!(["a", "b"])),
        (json!("[\"a\""), json!(["[\"a\""])),
        (json!("[1]"), json!(["[1]"])),
        (json!(" [\"a\"]"), json!(["a"])),
        (json!({"a":1}), json!([])),
    ] {
        assert_eq!(normalize(&sm, &raw), want, "{raw}");
    }
    let s1 = field("s1");
    for (raw, want) in [
        (json!("a"), "a"),
        (json!(["a", "b"]), "b"),
        (json!([]), ""),
        (json!(["b", ""]), "b"),
        (json!(["a", "", ""]), "a"),
        (json!([1]), "1"),
        (json!(5), "5"),
        (json!(["", ""]), ""),
    ] {
        assert_eq!(normalize(&s1, &raw), json!(want), "{raw}");
    }
    assert_eq!(normalize(&field("r1"), &json!(["x", "y"])), json!("y"));
    assert_eq!(normalize(&field("f"), &json!("a.txt")), json!(["a.txt"]));
}

#[test]
fn json_coercion() {
    let j = field("j");
    for (raw, want) in [
        ("123", json!(123)),
        (" 123", json!(" 123")),
        ("123 ", json!(123)),
        ("[1,2", json!("[1,2")),
        ("[1, 2]", json!([1, 2])),
        ("1e5", json!(100000.0)),
        ("-5", json!(-5)),
        ("01", json!("01")),
        ("\"x\"", json!("x")),
        ("null", Value::Null),
        ("true", json!(true)),
        ("false", json!(false)),
        ("hello", json!("hello")),
        ("", json!("")),
        ("{\"a\": 1}", json!({"a": 1})),
        (" {\"a\":1}", json!(" {\"a\":1}")),
        ("NaN", json!("NaN")),
        ("-", json!("-")),
        ("1.50", json!(1.5)),
        ("  ", json!("  ")),
        ("nul", json!("nul")),
        ("True", json!("True")),
        ("[]", json!([])),
        ("{}", json!({})),
        ("\n[1]", json!("\n[1]")),
        ("[1]\n", json!([1])),
    ] {
        assert_eq!(normalize(&j, &json!(raw)), want, "{raw:?}");
    }
    for raw in [json!({"b":2,"a":1}), json!([1, "x"]), json!(1.5), Value::Null, json!(false)] {
        assert_eq!(normalize(&j, &raw), raw);
    }
}

#[test]
fn geo_point_coercion() {
    let g = field("g");
    for (raw, want) in [
        (json!({"lon":"1","lat":2}), (0, 2)),
        (json!("{\"lon\":1,\"lat\":2}"), (1, 2)),
        (json!([1, 2]), (0, 0)),
        (Value::Null, (0, 0)),
        (json!({"lat":5}), (0, 5)),
        (json!({"lon":1,"lat":2,"x":3}), (1, 2)),
        (json!("abc"), (0, 0)),
        (json!(5), (0, 0)),
        (json!({"LON":3,"lat":1}), (0, 1)),
        (json!({"lon":true,"lat":1}), (0, 0)),
        (json!({"lon":null,"lat":1}), (0, 1)),
    ] {
        let got = normalize(&g, &raw);
        assert_eq!(got, json!({"lon": want.0, "lat": want.1}), "{raw}");
        assert_eq!(super::text(&got), format!(r#"{{"lon":{},"lat":{}}}"#, want.0, want.1));
    }
    assert_eq!(normalize(&g, &json!({"lon":1.5e1,"lat":-2.25})), json!({"lon":15,"lat":-2.25}));
}

#[test]
fn date_coercion() {
    let d = field("d");
    assert_eq!(
        normalize(&d, &json!("2024-01-02T03:04:05.123456+02:00")),
        json!("2024-01-02 01:04:05.123Z")
    );
    for raw in [
        json!(1700000000),
        json!(0),
        json!(true),
        Value::Null,
        json!([]),
        json!("1700000000"),
        json!("garbage"),
    ] {
        assert_eq!(normalize(&d, &raw), json!(""), "{raw}");
    }
}

#[test]
fn modifier_keys() {
    for (key, want) in [
        ("tags+", ("tags", Some(Modifier::Add))),
        ("+tags", ("tags", Some(Modifier::Prepend))),
        ("tags-", ("tags", Some(Modifier::Remove))),
        ("slug:autogenerate", ("slug", Some(Modifier::Autogenerate))),
        ("title", ("title", None)),
        ("a_b", ("a_b", None)),
    ] {
        assert_eq!(parse_modifier_key(key), want, "{key}");
    }
}

#[test]
fn modifiers() {
    let n = field("n3");
    assert_eq!(apply_modifier(&n, &json!(5), Modifier::Add, &json!(10)), Some(json!(15)));
    assert_eq!(apply_modifier(&n, &json!(5), Modifier::Remove, &json!("3")), Some(json!(2)));
    assert_eq!(apply_modifier(&n, &json!(0.1), Modifier::Add, &json!(0.2)), Some(json!(0.1 + 0.2)));
    assert_eq!(apply_modifier(&n, &json!(5), Modifier::Prepend, &json!(1)), None);

    let sm = field("sm");
    let cur = json!(["a", "b"]);
    assert_eq!(
        apply_modifier(&sm, &cur, Modifier::Add, &json!(["c", "a"])),
        Some(json!(["a", "b", "c"]))
    );
    assert_eq!(
        apply_modifier(&sm, &cur, Modifier::Prepend, &json!("c")),
        Some(json!(["c", "a", "b"]))
    );
    assert_eq!(apply_modifier(&sm, &cur, Modifier::Remove, &json!(["a", "d"])), Some(json!(["b"])));
    assert_eq!(apply_modifier(&sm, &json!([]), Modifier::Remove, &json!("x")), Some(json!([])));
    assert_eq!(apply_modifier(&sm, &cur, Modifier::Autogenerate, &json!("x")), None);

    let s1 = field("s1");
    assert_eq!(apply_modifier(&s1, &json!("a"), Modifier::Add, &json!("b")), Some(json!("b")));
    assert_eq!(apply_modifier(&s1, &json!("a"), Modifier::Prepend, &json!("b")), Some(json!("a")));
    assert_eq!(apply_modifier(&s1, &json!("a"), Modifier::Remove, &json!("a")), Some(json!("")));
    let f = field("f");
    assert_eq!(
        apply_modifier(&f, &json!(["x.txt", "y.txt"]), Modifier::Remove, &json!("x.txt")),
        Some(json!(["y.txt"]))
    );

    let mut slug = Field::new(
        "slug",
        FieldKind::Text(TextOptions {
            autogenerate_pattern: "[0-9]{4}".into(),
            ..Default::default()
        }),
    );
    let v = apply_modifier(&slug, &json!(""), Modifier::Autogenerate, &json!("abc-")).unwrap();
    let v = v.as_str().unwrap();
    assert!(
        v.len() == 8 && v.starts_with("abc-") && v[4..].bytes().all(|b| b.is_ascii_digit()),
        "{v}"
    );
    slug.kind = FieldKind::Text(TextOptions::default());
    assert_eq!(
        apply_modifier(&slug, &json!("old"), Modifier::Autogenerate, &json!(12)),
        Some(json!("12"))
    );
    assert_eq!(apply_modifier(&slug, &json!("old"), Modifier::Add, &json!("x")), None);
    assert_eq!(apply_modifier(&field("b"), &json!(true), Modifier::Add, &json!(true)), None);
    assert_eq!(apply_modifier(&field("j"), &json!([1]), Modifier::Add, &json!(2)), None);
}

#[test]
fn email_syntax() {
    for (email, ok) in [
        ("a@b", false),
        ("a@b.c", true),
        ("a@b.co", true),
        ("a.b@c.d", true),
        (".a@b.co", false),
        ("a..b@c.co", false),
        ("a@b..co", false),
        ("a@-b.co", false),
        ("a@b-.co", false),
        ("a@b_c.co", true),
        ("a@1.co", true),
        ("a@b.c1", false),
        ("a@b.1c", false),
        ("a+b@c.co", true),
        ("A@B.CO", true),
        ("a@b.co.", true),
        ("ü@b.co", true),
        ("a@ü.co", true),
        ("\"a b\"@c.co", false),
        ("a b@c.co", false),
        ("a@b.c_o", true),
        ("a@b.c-o", true),
        ("a@[1.2.3.4]", false),
        ("a@b~c.co", true),
        ("a@b.co~", false),
    ] {
        assert_eq!(crate::formats::is_email(email), ok, "{email}");
    }
}

#[test]
fn url_syntax_and_hosts() {
    for (url, ok) in [
        ("http://x.com", true),
        ("https://x.com/a?b=c#d", true),
        ("x.com", true),
        ("ftp://x.com", true),
        ("http://localhost", true),
        ("http://localhost:8080/x", true),
        ("http://127.0.0.1", true),
        ("http://[::1]", true),
        ("mailto:a@b.co", true),
        ("http://x", true),
        ("http://x.c", true),
        ("http:/x.com", false),
        ("//x.com", false),
        ("http://user:pass@x.com", true),
        ("http://x_y.com", true),
        ("http://-x.com", false),
        ("http://x.com:99999", true),
        ("javascript:alert(1)", false),
        ("HTTP://X.COM", false),
        ("http://ü.com", true),
        ("http://x.com/a b", false),
        ("www.x.com", true),
        ("http://x..com", false),
        ("custom://x.com", false),
        ("http://300.1.1.1", false),
        ("http://x.com.", true),
        ("a://b", false),
        ("localhost", false),
    ] {
        assert_eq!(crate::formats::is_url(url), ok, "{url}");
    }
    for (url, host) in [
        ("https://user:pw@Host.com:8080/x?y#z", "Host.com"),
        ("http://[::1]:80/", "::1"),
        ("x.com", ""),
        ("mailto:a@b.co", ""),
        ("http://good.com", "good.com"),
    ] {
        assert_eq!(crate::formats::url_host(url), host, "{url}");
    }
    for (d, ok) in [
        ("a.com", true),
        ("x", false),
        ("not a domain", false),
        ("-x.com", false),
        ("A.com", false),
        ("xn--bcher-kva.example", true),
    ] {
        assert_eq!(crate::formats::is_domain(d), ok, "{d}");
    }
}
