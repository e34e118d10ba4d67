//! Collection validation against error bodies captured from the reference server.

use serde_json::{Map, Value, json};

use super::load;
use crate::json::merge_patch;
use crate::model::*;
use crate::validate::{prepare, validate};

/// The collections that existed on the reference server when the errors were captured.
fn others() -> Vec<Collection> {
    let mut vals = Collection::new(CollectionType::Base, "vals");
    vals.id = "pbc_21816022".into();
    let mut au1 = Collection::from_json(&json!({"name":"au1","type":"auth"})).unwrap();
    prepare(&mut au1, None, &[]);
    assert_eq!(au1.id, "pbc_1392619808");
    vec![load("users"), load("superusers"), load("view"), vals, au1]
}

fn refs(list: &[Collection]) -> Vec<&Collection> {
    list.iter().collect()
}

fn create_errors(body: Value) -> Value {
    let others = others();
    let others = refs(&others);
    let mut c = Collection::from_json(&body).unwrap();
    prepare(&mut c, None, &others);
    validate(&c, None, &others).to_json()
}

fn update_errors(name: &str, patch: Value) -> Value {
    let all = others();
    let stored = all.iter().find(|c| c.name == name).unwrap().clone();
    let others = refs(&all);
    let mut c = merge_patch(&stored, &patch).unwrap();
    prepare(&mut c, Some(&stored), &others);
    validate(&c, Some(&stored), &others).to_json()
}

/// The error tree with every leaf reduced to its code (for messages that embed random or
/// engine-specific text).
fn codes(v: &Value) -> Value {
    match v.get("code") {
        Some(code) => code.clone(),
        None => Value::Object(
            v.as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), codes(v))).collect::<Map<_, _>>())
                .unwrap_or_default(),
        ),
    }
}

#[test]
fn collection_names() {
    let long = "a".repeat(256);
    let cases = [
        (
            json!({"name":""}),
            json!({"name":{"code":"validation_required","message":"Cannot be blank."}}),
        ),
        (
            json!({"name":"a b"}),
            json!({"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}}),
        ),
        (
            json!({"name":"aé"}),
            json!({"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}}),
        ),
        (
            json!({"name":"x_via_y"}),
            json!({"name":{"code":"validation_found_via","message":"The value cannot contain \"_via_\"."}}),
        ),
        (
            json!({"name":"_via_"}),
            json!({"name":{"code":"validation_found_via","message":"The value cannot contain \"_via_\"."}}),
        ),
        (
            json!({"name":long}),
            json!({"name":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 255.","params":{"max":255,"min":1}}}),
        ),
        (
            json!({"name":"USERS"}),
            json!({"name":{"code":"validation_collection_name_exists","message":"Collection name must be unique (case insensitive)."}}),
        ),
        (
            json!({"name":"pbc_21816022"}),
            json!({"name":{"code":"validation_collection_name_id_duplicate","message":"The name must not match an existing collection id."}}),
        ),
        (
            json!({"name":"_params"}),
            json!({"name":{"code":"validation_collection_name_invalid","message":"The name shouldn't match with an existing internal table."}}),
        ),
        (
            json!({"name":"_collections"}),
            json!({"name":{"code":"validation_collection_name_invalid","message":"The name shouldn't match with an existing internal table."}}),
        ),
        (json!({"name":"_foo"}), json!({})),
        (json!({"name":"bare","type":"auth"}), json!({})),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
}

#[test]
fn collection_ids() {
    let cases = [
        (
            json!({"name":"id1","id":"a b"}),
            json!({"id":{"code":"validation_match_invalid","message":"Must be in a valid format."}}),
        ),
        (
            json!({"name":"id2","id":"_pb_users_auth_"}),
            json!({"id":{"code":"validation_invalid_or_existing_id","message":"The model id is invalid or already exists."}}),
        ),
        (
            json!({"name":"id3","id":"a".repeat(101)}),
            json!({"id":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 100.","params":{"max":100,"min":1}}}),
        ),
        (json!({"name":"id4","id":"USERS"}), json!({})),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
}

#[test]
fn generated_collection_id_avoids_collisions() {
    let taken = Collection::from_json(&json!({"name":"x","id":"pbc_1392619808"})).unwrap();
    let mut c = Collection::from_json(&json!({"name":"au1","type":"auth"})).unwrap();
    prepare(&mut c, None, &[&taken]);
    assert_eq!(c.id, "pbc_13926198082");
    assert_eq!(
        c.indexes[0],
        "CREATE UNIQUE INDEX `idx_tokenKey_pbc_13926198082` ON `au1` (`tokenKey`)"
    );
}

#[test]
fn field_names_ids_and_help() {
    let body = json!({"name":"f1","fields":[{"name":"","type":"text"},{"name":"a b","type":"text"},{"name":"null","type":"text"},{"name":"expand","type":"text"},{"name":"collectionId","type":"text"},{"name":"a_via_b","type":"text"},{"name":"_rowid_","type":"text"},{"name":"id2","id":"","type":"text"}]});
    let want = json!({"fields":{"1":{"name":{"code":"validation_required","message":"Cannot be blank."}},"2":{"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}},"3":{"name":{"code":"validation_not_in_invalid","message":"Must not be in list."}},"4":{"name":{"code":"validation_not_in_invalid","message":"Must not be in list."}},"5":{"name":{"code":"validation_not_in_invalid","message":"Must not be in list."}},"6":{"name":{"code":"validation_found_via","message":"The value cannot contain \"_via_\"."}},"7":{"name":{"code":"validation_not_in_invalid","message":"Must not be in list."}}}});
    assert_eq!(create_errors(body), want);

    let body = json!({"name":"f2","fields":[{"name":"a".repeat(101),"type":"text"},{"name":"ok","id":"a".repeat(101),"type":"text"},{"name":"ok2","help":"a".repeat(301),"type":"text"}]});
    let want = json!({"fields":{"1":{"name":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 100.","params":{"max":100,"min":1}}},"2":{"id":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 100.","params":{"max":100,"min":1}}},"3":{"help":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 300.","params":{"max":300,"min":1}}}}});
    assert_eq!(create_errors(body), want);
}

#[test]
fn duplicated_and_reserved_field_names() {
    let cases = [
        (
            json!({"name":"f4","fields":[{"name":"aa","id":"i1","type":"text"},{"name":"AA","id":"i2","type":"text"}]}),
            json!({"fields":{"2":{"name":{"code":"validation_duplicated_field_name","message":"Duplicated or invalid field name AA.","params":{"fieldName":"AA"}}}}}),
        ),
        (
            json!({"name":"f6","fields":[{"name":"True","type":"text"},{"name":"ID","type":"text"}]}),
            json!({"fields":{"2":{"name":{"code":"validation_duplicated_field_name","message":"Duplicated or invalid field name ID.","params":{"fieldName":"ID"}}}}}),
        ),
        (
            json!({"name":"f5","type":"auth","fields":[{"name":"passwordConfirm","type":"text"},{"name":"oldPassword","type":"text"}]}),
            json!({"fields":{"1":{"name":{"code":"validation_reserved_field_name","message":"The field name is reserved and cannot be used."}},"2":{"name":{"code":"validation_reserved_field_name","message":"The field name is reserved and cannot be used."}}}}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
}

#[test]
fn text_field_settings() {
    let body = json!({"name":"o1","fields":[{"name":"a","type":"text","min":-1},{"name":"b","type":"text","min":5,"max":3},{"name":"c","type":"text","pattern":"("},{"name":"d","type":"text","autogeneratePattern":"("},{"name":"e","type":"text","primaryKey":true},{"name":"f","type":"text","autogeneratePattern":"[a-z]{3}","max":2},{"name":"g","type":"text","autogeneratePattern":"\\d{5}","pattern":"^[a-z]+$"}]});
    let got = create_errors(body);
    // reference (messages of regex errors and generated samples differ by engine/randomness)
    let want = json!({"fields": {"0": {"primaryKey": {"code": "validation_unsupported_composite_pk", "message": "Composite PKs are not supported and the collection must have only 1 PK."}}, "1": {"min": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "2": {"max": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 5.", "params": {"threshold": 5}}}, "3": {"pattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ): `(`."}}, "4": {"autogeneratePattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ): `(`."}}, "5": {"name": {"code": "validation_in_invalid", "message": "The primary key must be named \"id\"."}, "pattern": {"code": "validation_required", "message": "Cannot be blank."}, "primaryKey": {"code": "validation_unsupported_composite_pk", "message": "Composite PKs are not supported and the collection must have only 1 PK."}, "required": {"code": "validation_required", "message": "Cannot be blank."}}, "6": {"autogeneratePattern": {"code": "validation_invalid_autogenerate_pattern_value", "message": "The provided autogenerate pattern could produce invalid field values, ex.: \"wtj\"."}}, "7": {"autogeneratePattern": {"code": "validation_invalid_autogenerate_pattern_value", "message": "The provided autogenerate pattern could produce invalid field values, ex.: \"66775\"."}}}});
    assert_eq!(codes(&got), codes(&want));
    assert_eq!(got["fields"]["5"], want["fields"]["5"]);
    assert_eq!(got["fields"]["2"], want["fields"]["2"]);
    let sample = got["fields"]["7"]["autogeneratePattern"]["message"].as_str().unwrap();
    assert!(
        sample.starts_with(
            "The provided autogenerate pattern could produce invalid field values, ex.: \""
        ),
        "{sample}"
    );
    assert!(
        got["fields"]["3"]["pattern"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Error parsing regexp: ")
    );
}

#[test]
fn autogenerate_patterns() {
    let check = |pattern: &str| {
        let got = create_errors(
            json!({"name":"ag","fields":[{"name":"a","type":"text","autogeneratePattern":pattern}]}),
        );
        got["fields"]["1"]["autogeneratePattern"].clone()
    };
    let unsupported = |n: u8| json!({"code":"validation_invalid_autogenerate_pattern","message":format!("Unsupported pattern operator {n}.")});
    assert_eq!(check("^[a-z]{5}$"), unsupported(9));
    assert_eq!(check("\\bx"), unsupported(11));
    assert_eq!(check("$a"), unsupported(10));
    for ok in [
        "a*",
        "(a|b){3}",
        "[^a]{3}",
        ".{5}",
        "\\w{5}",
        "x+",
        "(?i)ab",
        "[[:alpha:]]{4}",
        "\\d{2,4}",
        "\\pL{3}",
        "(?P<n>a)b",
    ] {
        assert_eq!(check(ok), Value::Null, "{ok}");
    }
}

#[test]
fn number_select_relation_settings() {
    let cases = [
        (
            json!({"name":"o2","fields":[{"name":"a","type":"number","min":5,"max":3},{"name":"b","type":"number","onlyInt":true,"min":1.5,"max":2.5},{"name":"c","type":"number","onlyInt":true,"max":2.5}]}),
            json!({"fields": {"1": {"max": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 5.", "params": {"min": 5}}}, "2": {"max": {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}, "min": {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}}, "3": {"max": {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."}}}}),
        ),
        (
            json!({"name":"nm1","fields":[{"name":"a","type":"number","min":5,"max":0},{"name":"b","type":"number","min":-5,"max":-10},{"name":"c","type":"text","min":0,"max":0},{"name":"d","type":"number","min":0,"max":-1}]}),
            json!({"fields":{"1":{"max":{"code":"validation_min_number_constraint","message":"Must be greater or equal than 5.","params":{"min":5}}},"2":{"max":{"code":"validation_min_number_constraint","message":"Must be greater or equal than -5.","params":{"min":-5}}},"4":{"max":{"code":"validation_min_number_constraint","message":"Must be greater or equal than 0.","params":{"min":0}}}}}),
        ),
        (
            json!({"name":"o3","fields":[{"name":"a","type":"select"},{"name":"b","type":"select","values":["x"],"maxSelect":2},{"name":"c","type":"select","values":["x"],"maxSelect":-1},{"name":"d","type":"select","values":["x","x"]},{"name":"e","type":"select","values":[""]}]}),
            json!({"fields": {"1": {"values": {"code": "validation_required", "message": "Cannot be blank."}}, "2": {"maxSelect": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 1.", "params": {"threshold": 1}}}, "3": {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}}}),
        ),
        (
            json!({"name":"o4","fields":[{"name":"a","type":"relation"},{"name":"b","type":"relation","collectionId":"nope"},{"name":"c","type":"relation","collectionId":"_pb_users_auth_","minSelect":3,"maxSelect":2},{"name":"d","type":"relation","collectionId":"_pb_users_auth_","maxSelect":-1},{"name":"e","type":"relation","collectionId":"_pb_users_auth_","minSelect":-1},{"name":"f","type":"relation","collectionId":"_pb_users_auth_","minSelect":2}]}),
            json!({"fields": {"1": {"collectionId": {"code": "validation_required", "message": "Cannot be blank."}}, "2": {"collectionId": {"code": "validation_field_relation_missing_collection", "message": "The relation collection doesn't exist."}}, "3": {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 3.", "params": {"threshold": 3}}}, "4": {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "5": {"minSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "6": {"maxSelect": {"code": "validation_required", "message": "Cannot be blank."}}}}),
        ),
        // relation targets must be collection ids (not names) of other collections, not views
        (
            json!({"name":"selfref","id":"selfref1","fields":[{"name":"r","type":"relation","collectionId":"selfref1"}]}),
            json!({"fields":{"1":{"collectionId":{"code":"validation_field_relation_missing_collection","message":"The relation collection doesn't exist."}}}}),
        ),
        (
            json!({"name":"r2","fields":[{"name":"r","type":"relation","collectionId":"users"}]}),
            json!({"fields":{"1":{"collectionId":{"code":"validation_field_relation_missing_collection","message":"The relation collection doesn't exist."}}}}),
        ),
        (
            json!({"name":"r3","fields":[{"name":"r","type":"relation","collectionId":"pbc_1709058526"}]}),
            json!({"fields":{"1":{"collectionId":{"code":"validation_relation_field_non_view_base_collection","message":"Only view collections are allowed to have relations to other views."}}}}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
}

#[test]
fn file_json_editor_password_email_date_autodate_settings() {
    let cases = [
        (
            json!({"name":"p1","fields":[{"name":"a","type":"file","maxSelect":-1},{"name":"b","type":"file","maxSize":-1},{"name":"c","type":"file","thumbs":["0x0","100x100","abc","0x0t","10x0f","0x10b","100x100x"]},{"name":"d","type":"file","mimeTypes":["", "image/png"]}]}),
            json!({"fields": {"1": {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "2": {"maxSize": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "3": {"thumbs": {"0": {"code": "validation_not_in_invalid", "message": "Must not be in list."}, "2": {"code": "validation_match_invalid", "message": "Must be in a valid format."}, "3": {"code": "validation_not_in_invalid", "message": "Must not be in list."}, "6": {"code": "validation_match_invalid", "message": "Must be in a valid format."}}}}}),
        ),
        (
            json!({"name":"p3","fields":[{"name":"a","type":"email","onlyDomains":["a.com"],"exceptDomains":["b.com"]},{"name":"b","type":"email","onlyDomains":["not a domain","x"]},{"name":"c","type":"url","exceptDomains":["-x.com"]},{"name":"d","type":"date","min":"garbage","max":"2020-01-01"},{"name":"e","type":"date","min":"2021-01-01","max":"2020-01-01"},{"name":"f","type":"autodate"},{"name":"g","type":"geoPoint","required":true}]}),
            json!({"fields": {"1": {"exceptDomains": {"code": "validation_empty", "message": "Must be blank."}, "onlyDomains": {"code": "validation_empty", "message": "Must be blank."}}, "2": {"onlyDomains": {"0": {"code": "validation_is_domain", "message": "Must be a valid domain."}, "1": {"code": "validation_is_domain", "message": "Must be a valid domain."}}}, "3": {"exceptDomains": {"0": {"code": "validation_is_domain", "message": "Must be a valid domain."}}}, "6": {"onCreate": {"code": "validation_required", "message": "Either onCreate or onUpdate must be enabled."}, "onUpdate": {"code": "validation_required", "message": "Either onCreate or onUpdate must be enabled."}}}}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
    let body = json!({"name":"p2","fields":[{"name":"a","type":"json","maxSize":-1},{"name":"b","type":"editor","maxSize":-1},{"name":"c","type":"password","min":0,"max":72,"cost":3},{"name":"d","type":"password","cost":32,"min":72},{"name":"e","type":"password","min":10,"max":5,"pattern":"("}]});
    let want = json!({"fields": {"1": {"maxSize": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "2": {"maxSize": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "3": {"cost": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 4.", "params": {"threshold": 4}}, "max": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 71.", "params": {"threshold": 71}}}, "4": {"cost": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 31.", "params": {"threshold": 31}}, "min": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 71.", "params": {"threshold": 71}}}, "5": {"max": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 10.", "params": {"threshold": 10}}, "pattern": {"code": "validation_invalid_regex", "message": "Error parsing regexp: missing closing ): `(`."}}}});
    let got = create_errors(body);
    assert_eq!(codes(&got), codes(&want));
    assert_eq!(got["fields"]["3"], want["fields"]["3"]);
}

#[test]
fn indexes() {
    let cases = [
        (
            json!({"name":"i1","fields":[{"name":"a","type":"text"}],"indexes":["bad"]}),
            json!({"indexes": {"0": {"code": "validation_invalid_index_expression", "message": "Invalid CREATE INDEX expression."}}}),
        ),
        (
            json!({"name":"i2","fields":[{"name":"a","type":"text"}],"indexes":["CREATE INDEX idx_a ON x (a)","CREATE INDEX IDX_A ON x (a)"]}),
            json!({"indexes": {"1": {"code": "validation_duplicated_index_name", "message": "The index name already exists."}}}),
        ),
        (
            json!({"name":"i3","fields":[{"name":"a","type":"text"}],"indexes":["CREATE INDEX idx_a ON x (a)","CREATE INDEX idx_b ON y (a)"]}),
            json!({"indexes": {"1": {"code": "validation_duplicated_index_definition", "message": "The index definition already exists."}}}),
        ),
        (
            json!({"name":"i4","fields":[{"name":"a","type":"text"}],"indexes":["CREATE INDEX `idx_tokenKey_pbc_1392619808` ON x (a)"]}),
            json!({"indexes": {"0": {"code": "validation_existing_index_name", "message": "The index name is already used in au1 collection.", "params": {"usedTableName": "au1"}}}}),
        ),
        (
            json!({"name":"i6","fields":[{"name":"a","type":"text"}],"indexes":["CREATE INDEX idx_q ON x (a)","create unique index idx_r on x (`a`)"]}),
            json!({}),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(create_errors(body.clone()), want, "{body}");
    }
}

#[test]
fn view_collections() {
    let mut view = Collection::from_json(&json!({"name":"i5","type":"view","viewQuery":"select id from users","indexes":["CREATE INDEX idx_v ON x (id)"],"createRule":"","deleteRule":"id=1","listRule":""})).unwrap();
    view.fields = load("view").fields;
    prepare(&mut view, None, &[]);
    assert_eq!(
        validate(&view, None, &[]).to_json(),
        json!({"createRule": {"code": "validation_nil", "message": "Must be blank."}, "deleteRule": {"code": "validation_nil", "message": "Must be blank."}, "indexes": {"code": "validation_indexes_not_supported", "message": "View collections don't support indexes."}})
    );
    assert_eq!(
        create_errors(json!({"name":"v2","type":"view"})),
        json!({"fields": {"code": "validation_required", "message": "Cannot be blank."}, "viewQuery": {"code": "validation_required", "message": "Cannot be blank."}})
    );
}

#[test]
fn system_collection_and_field_changes() {
    assert_eq!(
        update_errors(
            "_superusers",
            json!({"name":"renamed","listRule":"","system":false,"authRule":"id!=\"\""})
        ),
        json!({"authRule": {"code": "validation_collection_system_rule_change", "message": "System collection API rule cannot be changed."}, "listRule": {"code": "validation_collection_system_rule_change", "message": "System collection API rule cannot be changed."}, "name": {"code": "validation_collection_system_name_change", "message": "System collection name cannot be changed."}, "system": {"code": "validation_collection_system_flag_change", "message": "System collection state cannot be changed."}})
    );
    assert_eq!(
        update_errors("au1", json!({"type":"base"})),
        json!({"type": {"code": "validation_collection_type_change", "message": "Collection type cannot be changed."}})
    );
    assert_eq!(
        update_errors("au1", json!({"system":true})),
        json!({"system": {"code": "validation_collection_system_flag_change", "message": "System collection state cannot be changed."}})
    );
    assert_eq!(
        update_errors(
            "au1",
            json!({"fields":[{"name":"id","type":"text","id":"text3208210256","min":15,"max":15,"pattern":"^[a-z0-9]+$","autogeneratePattern":"[a-z0-9]{15}","primaryKey":true},{"id":"password901924565","name":"pass2","type":"password"}]})
        ),
        json!({"fields": {"code": "validation_system_field_change", "message": "System fields cannot be deleted or renamed."}})
    );
    // omitted system fields and indexes are re-added, so an empty list is fine
    assert_eq!(update_errors("au1", json!({"fields":[],"indexes":[]})), json!({}));
    assert_eq!(
        update_errors(
            "users",
            json!({"fields":[{"id":"text1579384326","name":"name","type":"number"}]})
        ),
        json!({"fields":{"1":{"code":"validation_field_type_change","message":"Field type cannot be changed."}}})
    );
    assert_eq!(
        update_errors(
            "users",
            json!({"fields":[{"id":"file376926767","name":"avatar","type":"file","maxSelect":1}],
            "indexes":["CREATE UNIQUE INDEX idx_tk ON users (tokenKey)", "CREATE UNIQUE INDEX idx_em ON users (email COLLATE NOCASE)"]})
        ),
        json!({})
    );
}

#[test]
fn auth_options() {
    let cases = [
        (
            json!({"manageRule":"","authToken":{"duration":5,"secret":"short"},"passwordResetToken":{"duration":94670857},"fileToken":{"duration":0},"mfa":{"enabled":true},"otp":{"length":3,"duration":5}}),
            json!({"authToken": {"duration": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 10.", "params": {"threshold": 10}}, "secret": {"code": "validation_length_out_of_range", "message": "The length must be between 30 and 255.", "params": {"max": 255, "min": 30}}}, "fileToken": {"duration": {"code": "validation_required", "message": "Cannot be blank."}}, "manageRule": {"code": "validation_nil_or_not_empty_required", "message": "Cannot be blank."}, "passwordResetToken": {"duration": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 94670856.", "params": {"threshold": 94670856}}}}),
        ),
        (
            json!({"mfa":{"enabled":true,"duration":5},"otp":{"enabled":true,"length":3,"duration":86401}}),
            json!({"mfa": {"duration": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 10.", "params": {"threshold": 10}}}, "otp": {"duration": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 86400.", "params": {"threshold": 86400}}, "length": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 4.", "params": {"threshold": 4}}}}),
        ),
        (
            json!({"mfa":{"enabled":true,"duration":0},"otp":{"enabled":true,"length":0,"duration":0}}),
            json!({"mfa": {"duration": {"code": "validation_required", "message": "Cannot be blank."}}, "otp": {"duration": {"code": "validation_required", "message": "Cannot be blank."}, "length": {"code": "validation_required", "message": "Cannot be blank."}}}),
        ),
        (
            json!({"passwordAuth":{"identityFields":["nope"]}}),
            json!({"passwordAuth": {"identityFields": {"code": "validation_missing_field", "message": "Invalid or missing field nope.", "params": {"fieldName": "nope"}}}}),
        ),
        (
            json!({"passwordAuth":{"identityFields":["email","tokenKey","id"]}}),
            json!({"passwordAuth": {"identityFields": {"code": "validation_missing_unique_constraint", "message": "The field id doesn't have a UNIQUE constraint.", "params": {"fieldName": "id"}}}}),
        ),
        (
            json!({"passwordAuth":{"identityFields":null}}),
            json!({"passwordAuth": {"identityFields": {"code": "validation_required", "message": "Cannot be blank."}}}),
        ),
        (json!({"passwordAuth":{"enabled":false,"identityFields":[]}}), json!({})),
        (
            json!({"passwordAuth":{"enabled":false},"mfa":{"enabled":true},"otp":{"enabled":true}}),
            json!({"mfa": {"enabled": {"code": "validation_mfa_not_enough_auths", "message": "MFA requires at least 2 auth methods to be enabled."}}}),
        ),
        (json!({"mfa":{"enabled":true},"otp":{"enabled":true}}), json!({})),
        (
            json!({"oauth2":{"enabled":true,"providers":[{"name":"nope"},{"name":"google","authURL":"bad url"},{"name":"google","clientId":"x","clientSecret":"y"}]}}),
            json!({"oauth2": {"providers": {"2": {"name": {"code": "validation_duplicated_provider", "message": "The provider google is already registered.", "params": {"name": "google"}}}}}}),
        ),
        (
            json!({"oauth2":{"enabled":true,"providers":[{"name":"nope"},{"name":"google","authURL":"bad url","tokenURL":"x.com"},{"name":""}]}}),
            json!({"oauth2": {"providers": {"0": {"clientId": {"code": "validation_required", "message": "Cannot be blank."}, "clientSecret": {"code": "validation_required", "message": "Cannot be blank."}, "name": {"code": "validation_missing_provider", "message": "Invalid or missing provider with name nope.", "params": {"name": "nope"}}}, "1": {"authURL": {"code": "validation_is_url", "message": "Must be a valid URL."}, "clientId": {"code": "validation_required", "message": "Cannot be blank."}, "clientSecret": {"code": "validation_required", "message": "Cannot be blank."}}, "2": {"clientId": {"code": "validation_required", "message": "Cannot be blank."}, "clientSecret": {"code": "validation_required", "message": "Cannot be blank."}, "name": {"code": "validation_required", "message": "Cannot be blank."}}}}}),
        ),
        (json!({"oauth2":{"enabled":false,"providers":[{"name":"nope"}]}}), json!({})),
        (
            json!({"oauth2":{"enabled":true,"providers":[{"name":"google","clientId":"x","clientSecret":"y","pkce":true,"extra":{"a":1}}]}}),
            json!({}),
        ),
        (
            json!({"verificationTemplate":{"subject":"","body":""},"authAlert":{"enabled":false,"emailTemplate":{"subject":"x","body":""}}}),
            json!({"authAlert": {"emailTemplate": {"body": {"code": "validation_required", "message": "Cannot be blank."}}}, "verificationTemplate": {"body": {"code": "validation_required", "message": "Cannot be blank."}, "subject": {"code": "validation_required", "message": "Cannot be blank."}}}),
        ),
        (
            json!({"authToken":{"secret":"a".repeat(256)}}),
            json!({"authToken": {"secret": {"code": "validation_length_out_of_range", "message": "The length must be between 30 and 255.", "params": {"max": 255, "min": 30}}}}),
        ),
        (
            json!({"otp":null}),
            json!({"otp": {"emailTemplate": {"body": {"code": "validation_required", "message": "Cannot be blank."}, "subject": {"code": "validation_required", "message": "Cannot be blank."}}}}),
        ),
    ];
    for (patch, want) in cases {
        assert_eq!(update_errors("au1", patch.clone()), want, "{patch}");
    }
}

#[test]
fn oauth2_mapped_fields_naming_missing_fields_are_blanked() {
    let mut c = Collection::from_json(
        &json!({"name":"m","type":"auth","fields":[{"name":"nick","type":"text"}],
        "oauth2":{"mappedFields":{"name":"nick","username":"nope","avatarURL":"email"}}}),
    )
    .unwrap();
    prepare(&mut c, None, &[]);
    let m = &c.auth.as_ref().unwrap().oauth2.mapped_fields;
    assert_eq!(
        (m.name.as_str(), m.username.as_str(), m.avatar_url.as_str()),
        ("nick", "", "email")
    );
}

#[test]
fn system_fields_are_enforced_and_missing_ones_added() {
    let mut c = Collection::from_json(&json!({"name":"m","type":"auth","fields":[
        {"name":"email","type":"email","hidden":true,"required":false},
        {"name":"id","type":"text","hidden":true,"pattern":""},
        {"name":"tokenKey","type":"number"}]}))
    .unwrap();
    prepare(&mut c, None, &[]);
    let names: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["email", "id", "tokenKey", "password", "emailVisibility", "verified"]);
    let id = c.field("id").unwrap();
    assert!(id.system && !id.hidden);
    assert!(
        matches!(&id.kind, FieldKind::Text(o) if o.primary_key && o.required && o.pattern == "^[a-z0-9]+$")
    );
    let email = c.field("email").unwrap();
    assert!(email.system && !email.hidden);
    assert!(
        matches!(&email.kind, FieldKind::Email(o) if !o.required),
        "email stays optional when configured so"
    );
    // a non-text tokenKey is replaced in place by the system field
    assert_eq!(c.field("tokenKey").unwrap().type_name(), "text");
    assert_eq!(validate(&c, None, &[]).to_json(), json!({}));
}

#[test]
fn required_system_fields_checks() {
    let mut c = Collection::from_json(&json!({"name":"m","type":"auth"})).unwrap();
    prepare(&mut c, None, &[]);
    c.field_mut("password").unwrap().hidden = false;
    assert_eq!(
        validate(&c, None, &[]).to_json(),
        json!({"fields":{"password":{"code":"validation_must_be_system_and_hidden","message":"The field must be marked as \"System\" and \"Hidden\"."}}})
    );
    c.fields.retain(|f| f.name != "verified");
    c.field_mut("password").unwrap().hidden = true;
    assert_eq!(
        validate(&c, None, &[]).to_json()["fields"],
        json!({"code":"validation_missing_verified_field","message":"System \"verified\" field is required."})
    );
    c.fields.retain(|f| f.name != "id");
    assert_eq!(
        validate(&c, None, &[]).to_json()["fields"],
        json!({"code":"validation_missing_primary_key","message":"Missing or invalid \"id\" PK field."})
    );
    c.indexes.clear();
    assert_eq!(
        validate(&c, None, &[]).to_json()["indexes"],
        json!({"code":"validation_missing_required_unique_index","message":"Missing required unique index for field \"tokenKey\".","params":{"fieldName":"tokenKey"}})
    );
}

#[test]
fn duplicated_field_ids_are_reported() {
    let mut c = Collection::new(CollectionType::Base, "d");
    c.fields.push(Field {
        id: "same".into(),
        ..Field::new("a", FieldKind::Bool(BoolOptions::default()))
    });
    c.fields.push(Field {
        id: "same".into(),
        ..Field::new("b", FieldKind::Bool(BoolOptions::default()))
    });
    assert_eq!(
        validate(&c, None, &[]).to_json(),
        json!({"fields":{"2":{"id":{"code":"validation_duplicated_field_id","message":"Duplicated or invalid field id \"same\"."}}}})
    );
}

#[test]
fn relation_collection_cannot_change_and_may_point_to_itself_after_creation() {
    let mut stored = Collection::from_json(&json!({"name":"posts","id":"posts1","fields":[
        {"name":"r","type":"relation","collectionId":"_pb_users_auth_"}]}))
    .unwrap();
    let users = load("users");
    prepare(&mut stored, None, &[&users]);
    assert_eq!(validate(&stored, None, &[&users]).to_json(), json!({}));
    let rel_id = stored.field("r").unwrap().id.clone();
    let mut c = merge_patch(
        &stored,
        &json!({"fields":[
        {"id":rel_id,"name":"r","type":"relation","collectionId":"posts1"},
        {"name":"parent","type":"relation","collectionId":"posts1"}]}),
    )
    .unwrap();
    prepare(&mut c, Some(&stored), &[&users]);
    assert_eq!(
        validate(&c, Some(&stored), &[&users, &stored]).to_json(),
        json!({"fields":{"1":{"collectionId":{"code":"validation_field_relation_change","message":"The relation collection cannot be changed."}}}})
    );
}
