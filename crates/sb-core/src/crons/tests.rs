use chrono::{TimeZone, Utc};

use super::Schedule;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[test]
fn parses_what_the_settings_validation_accepts() {
    for ok in [
        "* * * * *",
        "0 */6 * * *",
        "5,10-20/5 1 1-31 1-12 0-6",
        "@daily",
        "@hourly",
        "@yearly",
        "5/15 * * * *",
    ] {
        assert!(Schedule::parse(ok).is_some(), "{ok}");
    }
    for bad in [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "@often",
    ] {
        assert!(Schedule::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn matches_minutes_hours_and_days() {
    let every_6h = Schedule::parse("0 */6 * * *").unwrap();
    assert!(every_6h.matches(at(2026, 11, 29, 0, 0)));
    assert!(every_6h.matches(at(2026, 11, 29, 18, 0)));
    assert!(!every_6h.matches(at(2026, 11, 29, 18, 1)));
    assert!(!every_6h.matches(at(2026, 11, 29, 5, 0)));
    let steps = Schedule::parse("5/15 * * * *").unwrap();
    let fired: Vec<u32> = (0..60).filter(|m| steps.matches(at(2026, 1, 1, 3, *m))).collect();
    assert_eq!(fired, vec![5, 20, 35, 50]);
    // 2026-11-29 is a Sunday.
    let sundays = Schedule::parse("0 0 * * 0").unwrap();
    assert!(sundays.matches(at(2026, 11, 29, 0, 0)));
    assert!(!sundays.matches(at(2026, 11, 30, 0, 0)));
    // Day of month and day of week both given: either matches.
    let either = Schedule::parse("0 0 1 * 1").unwrap();
    assert!(either.matches(at(2026, 12, 1, 0, 0)), "the 1st (a Tuesday)");
    assert!(either.matches(at(2026, 11, 30, 0, 0)), "a Monday");
    assert!(!either.matches(at(2026, 12, 2, 0, 0)));
    let yearly = Schedule::parse("@yearly").unwrap();
    assert!(yearly.matches(at(2027, 1, 1, 0, 0)));
    assert!(!yearly.matches(at(2027, 2, 1, 0, 0)));
}
