//! Datetime macros (`@now`, `@todayStart`, `@year`, ...), evaluated once per compilation from
//! `Scope::now` (spec §4.3). Dates are text in the wire format, so they compare with date
//! columns as text; the numeric macros are integers.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use sb_sql::Value;

/// The value of a macro identifier, or `None` when `name` is not a macro.
pub(crate) fn resolve(name: &str, now: DateTime<Utc>) -> Option<Value> {
    let date = |d: DateTime<Utc>| Some(Value::Text(d.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()));
    let int = |i: u32| Some(Value::Int(i64::from(i)));
    let day_start = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    let day_end = |d: NaiveDate| {
        let end = NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or(NaiveTime::MIN);
        Utc.from_utc_datetime(&d.and_time(end))
    };
    let today = now.date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    match name {
        "@now" => date(now),
        "@yesterday" => date(now - Duration::days(1)),
        "@tomorrow" => date(now + Duration::days(1)),
        "@todayStart" => date(day_start(today)),
        "@todayEnd" => date(day_end(today)),
        "@monthStart" => date(day_start(month_start)),
        "@monthEnd" => {
            let next = month_start.checked_add_months(chrono::Months::new(1)).unwrap_or(today);
            date(day_end(next.pred_opt().unwrap_or(today)))
        }
        "@yearStart" => date(day_start(year_start)),
        "@yearEnd" => date(day_end(NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today))),
        "@second" => int(now.second()),
        "@minute" => int(now.minute()),
        "@hour" => int(now.hour()),
        "@day" => int(now.day()),
        "@month" => int(now.month()),
        "@weekday" => int(now.weekday().num_days_from_sunday()),
        "@year" => Some(Value::Int(i64::from(now.year()))),
        _ => None,
    }
}
