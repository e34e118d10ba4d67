use serde_json::{Value, json};

use super::{fixture, load, text};
use crate::errors::LoadError;
use crate::json::merge_patch;
use crate::model::*;
use crate::validate::prepare;

#[test]
fn reference_collections_round_trip_with_identical_key_order() {
    for name in ["all_fields", "auth_created", "auth_oauth2", "users", "superusers", "view"] {
        let reference = fixture(name);
        let c = Collection::from_json(&reference).unwrap();
        assert_eq!(text(&c.to_json()), text(&reference), "fixture {name}");
    }
}

#[test]
fn storage_form_keeps_secrets_and_reloads_them() {
    let mut c = load("auth_oauth2");
    let auth = c.auth.as_mut().unwrap();
    auth.oauth2.providers[0].client_secret = "s3cret".into();
    let stored = c.to_storage_json();
    assert_eq!(stored["authToken"]["secret"].as_str().map(str::len), Some(50));
    assert_eq!(stored["oauth2"]["providers"][0]["clientSecret"], "s3cret");
    let api = c.to_json();
    assert!(api["authToken"].get("secret").is_none());
    assert!(api["oauth2"]["providers"][0].get("clientSecret").is_none());
    let reloaded = Collection::from_json(&stored).unwrap();
    assert_eq!(reloaded, c);
}

#[test]
fn partial_create_body_gets_reference_defaults() {
    let body = json!({"name":"allf","fields":[
        {"name":"t","type":"text"},{"name":"ed","type":"editor"},{"name":"n","type":"number"},
        {"name":"b","type":"bool"},{"name":"em","type":"email"},{"name":"u","type":"url"},
        {"name":"d","type":"date"},{"name":"ad","type":"autodate","onCreate":true},
        {"name":"s","type":"select","values":["a","b"]},
        {"name":"r","type":"relation","collectionId":"_pb_users_auth_"},
        {"name":"f","type":"file"},{"name":"j","type":"json"},{"name":"p","type":"password"},
        {"name":"g","type":"geoPoint"}]});
    let mut c = Collection::from_json(&body).unwrap();
    assert_eq!(c.id, "");
    prepare(&mut c, None, &[]);
    let reference = fixture("all_fields");
    let out = c.to_json();
    assert_eq!(out["id"], reference["id"]);
    assert_eq!(text(&out["fields"]), text(&reference["fields"]));
    assert_eq!(out["indexes"], json!([]));
    assert!(!c.created.is_empty() && c.created == c.updated);
}

#[test]
fn partial_auth_body_gets_system_fields_indexes_and_options() {
    let body =
        json!({"name":"members","type":"auth","fields":[{"name":"nick","type":"text","max":50}]});
    let mut c = Collection::from_json(&body).unwrap();
    prepare(&mut c, None, &[]);
    let reference = fixture("auth_created");
    let out = c.to_json();
    for key in
        ["id", "fields", "indexes", "authRule", "manageRule", "oauth2", "passwordAuth", "mfa"]
    {
        assert_eq!(text(&out[key]), text(&reference[key]), "key {key}");
    }
    for key in
        ["authToken", "passwordResetToken", "emailChangeToken", "verificationToken", "fileToken"]
    {
        assert_eq!(out[key], reference[key], "key {key}");
    }
    assert_eq!(out["otp"]["duration"], 180);
    assert_eq!(out["otp"]["length"], 8);
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    let ref_keys: Vec<&String> = reference.as_object().unwrap().keys().collect();
    assert_eq!(keys, ref_keys);
    // Templates: own wording, same placeholders and subjects.
    let auth = c.auth.as_ref().unwrap();
    assert_eq!(auth.verification_template.subject, "Verify your {APP_NAME} email");
    assert!(
        auth.verification_template.body.contains("{APP_URL}/_/#/auth/confirm-verification/{TOKEN}")
    );
    assert!(auth.reset_password_template.body.contains("/confirm-password-reset/{TOKEN}"));
    assert!(auth.confirm_email_change_template.body.contains("/confirm-email-change/{TOKEN}"));
    assert!(auth.otp.email_template.body.contains("{OTP}"));
    assert!(auth.auth_alert.email_template.body.contains("{ALERT_INFO}"));
    assert_ne!(auth.auth_token.secret, auth.file_token.secret);
}

#[test]
fn scaffolds_match_reference() {
    let reference = fixture("scaffolds");
    for (kind, key) in [(CollectionType::Base, "base"), (CollectionType::View, "view")] {
        assert_eq!(text(&scaffold(kind).to_json()), text(&reference[key]), "{key}");
    }
    let auth = scaffold(CollectionType::Auth).to_json();
    let ref_auth = &reference["auth"];
    assert_eq!(text(&auth["fields"]), text(&ref_auth["fields"]));
    assert_eq!(auth["id"], "");
    assert_eq!(auth["created"], "");
    let indexes: Vec<&str> =
        auth["indexes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let suffix = indexes[0].strip_prefix("CREATE UNIQUE INDEX `idx_tokenKey_").unwrap();
    let suffix = &suffix[..10];
    assert!(suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(
        indexes,
        [
            format!("CREATE UNIQUE INDEX `idx_tokenKey_{suffix}` ON `` (`tokenKey`)"),
            format!("CREATE UNIQUE INDEX `idx_email_{suffix}` ON `` (`email`) WHERE `email` != ''"),
        ]
    );
    let keys: Vec<&String> = auth.as_object().unwrap().keys().collect();
    let ref_keys: Vec<&String> = ref_auth.as_object().unwrap().keys().collect();
    assert_eq!(keys, ref_keys);
}

#[test]
fn type_and_name_are_read_case_insensitively_on_create() {
    let c = Collection::from_json(&json!({"NAME":"x","Type":"auth","LISTRULE":"", "ID":"abc"}))
        .unwrap();
    assert_eq!((c.name.as_str(), c.kind), ("x", CollectionType::Auth));
    assert_eq!(c.list_rule, None, "other keys are case-sensitive");
    assert_eq!(c.id, "");
}

#[test]
fn load_errors() {
    use LoadError::*;
    let cases: Vec<(Value, LoadError)> = vec![
        (json!([]), InvalidTypeData),
        (json!("x"), InvalidTypeData),
        (json!({"name":"a","Name":"b"}), InvalidTypeData),
        (json!({"type":"base","Type":"auth"}), InvalidTypeData),
        (json!({"name":5}), InvalidTypeData),
        (json!({"type":5}), InvalidTypeData),
        (json!({"name":"x","type":"xyz"}), UnknownCollectionType),
        (json!({"name":"x","fields":5}), InvalidFormat),
        (json!({"name":"x","listRule":5}), InvalidFormat),
        (json!({"name":"x","system":"true"}), InvalidFormat),
        (json!({"name":"x","indexes":[1]}), InvalidFormat),
        (json!({"name":"x","fields":[{"name":"a","type":"Bool"}]}), InvalidFormat),
        (json!({"name":"x","fields":[{"name":"a","Type":"bool"}]}), InvalidFormat),
        (json!({"name":"x","fields":[{"name":"a"}]}), InvalidFormat),
        (json!({"name":"x","fields":[null]}), InvalidFormat),
        (json!({"name":"x","fields":[{"name":"a","type":"date","min":5}]}), InvalidFormat),
        (json!({"name":"x","type":"auth","otp":{"length":"8"}}), InvalidFormat),
        (json!({"name":"x","type":"auth","oauth2":{"providers":[{"pkce":"yes"}]}}), InvalidFormat),
        (json!({"name":"x","mfa":{"duration":1.5}}), InvalidFormat),
    ];
    for (body, want) in cases {
        assert_eq!(Collection::from_json(&body), Err(want), "body {body}");
    }
    for (v, ok) in [
        ("5", true),
        ("-3", true),
        ("5.5", false),
        ("5.0", false),
        ("1e2", false),
        ("\"5\"", false),
        ("true", false),
        ("9999999999999999999", false),
        ("null", true),
    ] {
        let body: Value = serde_json::from_str(&format!(
            r#"{{"name":"x","fields":[{{"name":"t","type":"text","max":{v}}}]}}"#
        ))
        .unwrap();
        assert_eq!(Collection::from_json(&body).is_ok(), ok, "max={v}");
    }
    assert_eq!(
        LoadError::UnknownCollectionType.errors().to_json(),
        json!({"type":{"code":"validation_in_invalid","message":"Must be a valid value."}})
    );
    assert_eq!(
        LoadError::InvalidFormat.message(),
        "Failed to load the submitted data due to invalid formatting."
    );
    assert_eq!(
        LoadError::InvalidTypeData.message(),
        "Failed to load the collection type data due to invalid formatting."
    );
}

#[test]
fn null_body_and_null_values_mean_zero_values() {
    let c = Collection::from_json(&Value::Null).unwrap();
    assert_eq!((c.name.as_str(), c.kind), ("", CollectionType::Base));
    let c = Collection::from_json(
        &json!({"name":null,"type":null,"fields":[{"name":"t","type":"text","max":null}]}),
    )
    .unwrap();
    assert_eq!(c.name, "");
    assert_eq!(c.fields[0].kind, FieldKind::Text(TextOptions::default()));
}

#[test]
fn fields_list_replaces_by_name_and_by_id_in_place() {
    // reference: [('text3208210256','id'), ('text3904355907','a','number')]
    let mut c = Collection::from_json(&json!({"name":"dup1","fields":[
        {"name":"a","type":"text"},{"name":"a","type":"number"}]}))
    .unwrap();
    prepare(&mut c, None, &[]);
    let got: Vec<(&str, &str, &str)> =
        c.fields.iter().map(|f| (f.id.as_str(), f.name.as_str(), f.type_name())).collect();
    assert_eq!(got, [("text3208210256", "id", "text"), ("text3904355907", "a", "number")]);

    // reference: [id, ('x1','b','number'), ('i2','A','text')] for a / A / b(x1)
    let mut c = Collection::from_json(&json!({"name":"f3","fields":[
        {"name":"a","id":"i1","type":"text"},{"name":"A","id":"i2","type":"text"},
        {"name":"b","id":"i1","type":"bool"}]}))
    .unwrap();
    prepare(&mut c, None, &[]);
    let got: Vec<(&str, &str, &str)> =
        c.fields.iter().map(|f| (f.id.as_str(), f.name.as_str(), f.type_name())).collect();
    assert_eq!(got, [("text3208210256", "id", "text"), ("i1", "b", "bool"), ("i2", "A", "text")]);
}

#[test]
fn field_ids_get_a_suffix_on_collision() {
    let mut list = Vec::new();
    crate::json::add_field(
        &mut list,
        Field {
            id: "text3904355907".into(),
            ..Field::new("other", FieldKind::Text(TextOptions::default()))
        },
    );
    crate::json::add_field(&mut list, Field::new("a", FieldKind::Text(TextOptions::default())));
    assert_eq!(list[1].id, "text39043559072");
}

#[test]
fn date_options_are_normalised_and_help_is_absent_on_autodate() {
    let c = Collection::from_json(&json!({"name":"x","fields":[
        {"name":"d","type":"date","min":"garbage","max":"2020-01-01T10:00:00+02:00"},
        {"name":"c","type":"autodate","onCreate":true,"help":"ignored"}]}))
    .unwrap();
    let out = c.to_json();
    assert_eq!(out["fields"][0]["min"], "");
    assert_eq!(out["fields"][0]["max"], "2020-01-01 08:00:00.000Z");
    assert!(out["fields"][1].get("help").is_none());
    assert!(out["fields"][1].get("required").is_none());
}

#[test]
fn merge_patch_merges_nested_options_and_replaces_lists() {
    let stored = load("auth_oauth2");
    let patched = merge_patch(
        &stored,
        &json!({
            "oauth2":{"mappedFields":{"username":"nick"}},
            "otp":{"length":6},
            "authToken":{"duration":1000},
            "listRule":"id != ''",
            "id":"ignored",
            "Name":"ignored"
        }),
    )
    .unwrap();
    let a = patched.auth.as_ref().unwrap();
    let old = stored.auth.as_ref().unwrap();
    assert_eq!(patched.id, stored.id);
    assert_eq!(patched.name, stored.name);
    assert_eq!(a.oauth2.mapped_fields.name, "nick");
    assert_eq!(a.oauth2.mapped_fields.username, "nick");
    assert_eq!(a.oauth2.providers, old.oauth2.providers);
    assert_eq!((a.otp.length, a.otp.duration), (6, 180));
    assert_eq!(a.otp.email_template, old.otp.email_template);
    assert_eq!((a.auth_token.duration, &a.auth_token.secret), (1000, &old.auth_token.secret));
    assert_eq!(patched.list_rule.as_deref(), Some("id != ''"));
    assert_eq!(patched.fields, stored.fields);

    // null resets a nested object to its zero value
    let patched = merge_patch(&stored, &json!({"otp":null,"mfa":{"duration":null}})).unwrap();
    let a = patched.auth.as_ref().unwrap();
    assert_eq!(a.otp, Otp::default());
    assert_eq!(a.mfa.duration, 0);

    // fields replaced wholesale, ids generated from type + name (no reuse by name)
    let mut stored = Collection::from_json(&json!({"name":"dup3","fields":[
        {"id":"customid1","name":"a","type":"text"},{"name":"b","type":"text"}]}))
    .unwrap();
    prepare(&mut stored, None, &[]);
    let mut patched = merge_patch(
        &stored,
        &json!({"fields":[
        {"name":"a","type":"text","max":7},{"name":"b","type":"bool"}]}),
    )
    .unwrap();
    prepare(&mut patched, Some(&stored), &[]);
    let got: Vec<(&str, &str)> =
        patched.fields.iter().map(|f| (f.id.as_str(), f.name.as_str())).collect();
    assert_eq!(got, [("text3208210256", "id"), ("text3904355907", "a"), ("bool1908338681", "b")]);
    assert_eq!(patched.created, stored.created);

    assert_eq!(merge_patch(&stored, &json!([1])), Err(LoadError::InvalidFormat));
    assert_eq!(merge_patch(&stored, &json!({"fields":5})), Err(LoadError::InvalidFormat));
}

#[test]
fn merge_patch_merges_providers_by_name() {
    let mut stored = load("auth_oauth2");
    for p in &mut stored.auth.as_mut().unwrap().oauth2.providers {
        p.client_secret = format!("secret-{}", p.name);
    }
    let patched = merge_patch(
        &stored,
        &json!({"oauth2":{"providers":[
        {"name":"gitlab","clientId":"z","clientSecret":"s"},
        {"name":"google","clientId":"z2"}]}}),
    )
    .unwrap();
    let providers = &patched.auth.as_ref().unwrap().oauth2.providers;
    assert_eq!(providers.len(), 2);
    assert_eq!(
        (providers[0].name.as_str(), providers[0].pkce, providers[0].extra.len()),
        ("gitlab", None, 0)
    );
    assert_eq!(providers[1].client_id, "z2");
    assert_eq!(providers[1].client_secret, "secret-google");
    assert_eq!(providers[1].pkce, Some(false));
    assert_eq!(Value::Object(providers[1].extra.clone()), json!({"k":"v"}));
}

#[test]
fn type_change_is_kept_for_validation() {
    let stored = load("all_fields");
    let patched = merge_patch(&stored, &json!({"type":"auth"})).unwrap();
    assert_eq!(patched.kind, CollectionType::Auth);
    assert!(patched.auth.is_some());
    assert_eq!(
        merge_patch(&stored, &json!({"type":"nope"})),
        Err(LoadError::UnknownCollectionType)
    );
}

#[test]
fn collection_constructor_matches_builtin_ids() {
    let c = Collection::new(CollectionType::Auth, "_superusers");
    assert_eq!(c.id, "pbc_3142635823");
    let reference = load("superusers");
    let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "password", "tokenKey", "email", "emailVisibility", "verified"]);
    for f in &c.fields {
        assert_eq!(Some(f), reference.field(&f.name), "{}", f.name);
    }
    assert_eq!(c.indexes, reference.indexes);
    let system = |f: Field| Field { system: true, ..f };
    assert_eq!(
        system(Field::autodate("created", true, false)),
        *reference.field("created").unwrap()
    );
    assert_eq!(
        system(Field::autodate("updated", true, true)),
        *reference.field("updated").unwrap()
    );
}
