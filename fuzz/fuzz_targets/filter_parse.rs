//! Feeds arbitrary text to every parser of `sb-filter`.
//!
//! Oracles: nothing panics (or overflows the stack), and a filter that parses prints as text that
//! parses back to the same tree apart from spans; the only accepted failure is the length limit,
//! since the canonical text spaces out operators and can outgrow a dense input. A successfully
//! parsed `fields` picker is also applied to a small record, and the input itself is run through
//! the `excerpt` modifier.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(expr) = sb_filter::parse_filter(src) {
        let printed = expr.to_string();
        match sb_filter::parse_filter(&printed) {
            Ok(again) => assert_eq!(
                again.without_spans(),
                expr.without_spans(),
                "{src:?} printed as {printed:?} parses differently"
            ),
            Err(_) if printed.len() > sb_filter::MAX_FILTER_LEN => {}
            Err(e) => panic!("{src:?} printed as {printed:?} does not parse: {e}"),
        }
    }

    let _ = sb_filter::parse_sort(src);
    let _ = sb_filter::parse_expand(src);

    if let Ok(picker) = sb_filter::parse_fields(src) {
        let mut record = json!({
            "id": "r1",
            "body": "<p>Hello <b>big</b> world</p>",
            "expand": {"author": {"name": "Ann"}, "tags": [{"label": "x"}, {"label": "y"}]},
        });
        picker.apply(&mut record);
    }

    if let Ok(excerpt) = sb_filter::parse_fields("body:excerpt(20,true)") {
        let mut value = json!({"body": src});
        excerpt.apply(&mut value);
    }
});
