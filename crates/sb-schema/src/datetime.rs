//! The wire date format `YYYY-MM-DD HH:MM:SS.sssZ` (UTC) and lenient input parsing (spec §1.7).
//!
//! PocketBase parses date input with its own layout first and then with the list of layouts of
//! Go's `cast.ToTime` (RFC 3339, RFC 1123, RFC 822, ANSI C, Unix date, date-only, ...). Those
//! are Go *layouts*, so this module implements the handful of Go layout elements they use
//! (with Go's rules: 1–2 digit hours, 2-digit minutes, an optional fractional second after the
//! seconds, case-insensitive month/day names) instead of approximating them with regexes.
//! Anything that does not match becomes "no date" (the empty string), never an error.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use serde_json::Value;

/// Formats `dt` in the wire format, e.g. `2024-01-02 03:04:05.000Z` (milliseconds truncated).
pub fn format(dt: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.nanosecond() / 1_000_000
    )
}

/// The current time in the wire format.
pub fn now_string() -> String {
    format(Utc::now())
}

/// Parses a date string leniently (see the module docs). Returns `None` for unparseable input
/// and for Go's zero time (`0001-01-01 00:00:00Z`), which PocketBase treats as "no date".
pub fn parse_lenient(s: &str) -> Option<DateTime<Utc>> {
    let dt = LAYOUTS.iter().find_map(|layout| parse_layout(s, layout))?;
    (dt != go_zero_time()).then_some(dt)
}

/// A date input value normalised to the wire format, or `""` (non-strings, including numbers,
/// and unparseable strings).
pub fn normalize_value(v: &Value) -> String {
    match v {
        Value::String(s) => parse_lenient(s).map(format).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Go's `time.Time.String()` of a UTC time (`2020-01-01 00:00:00 +0000 UTC`), used in the
/// messages of date range errors.
pub fn go_string(dt: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} +0000 UTC",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        trimmed_fraction(dt.nanosecond())
    )
}

/// RFC 3339 with only the significant fractional digits (`2020-01-01T00:00:00Z`), the JSON form
/// of a Go time used in error params.
pub fn rfc3339(dt: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        trimmed_fraction(dt.nanosecond())
    )
}

fn trimmed_fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

fn go_zero_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy)]
enum Tok {
    Lit(&'static str),
    /// `2006`
    Year4,
    /// `06`
    Year2,
    /// `01`
    Month2,
    /// `Jan`
    MonthName,
    /// `02`
    Day2,
    /// `_2`
    DayPadded,
    /// `Mon`
    Weekday,
    /// `Monday`
    WeekdayLong,
    /// `15`
    Hour,
    /// `3`
    Hour12,
    /// `04`
    Minute,
    /// `05`
    Second,
    /// `.000`: exactly three fractional digits.
    Millis,
    /// `.999999999`: optional fractional digits.
    FracOpt,
    /// `PM`
    Pm,
    /// `Z07:00`
    ZoneZ,
    /// `-0700`
    ZoneNum,
    /// `-07:00`
    ZoneColon,
    /// `MST`
    ZoneAbbr,
}

use Tok::*;

const YMD: [Tok; 5] = [Year4, Lit("-"), Month2, Lit("-"), Day2];
const HMS: [Tok; 5] = [Hour, Lit(":"), Minute, Lit(":"), Second];

macro_rules! layout {
    ($($part:expr),* $(,)?) => {{
        const L: &[Tok] = &concat_toks!($($part),*);
        L
    }};
}

/// Concatenates token arrays at compile time (layouts are built from shared pieces).
macro_rules! concat_toks {
    ($($part:expr),*) => {{
        const N: usize = 0 $(+ $part.len())*;
        const OUT: [Tok; N] = {
            let mut out = [Lit(""); N];
            let mut i = 0;
            $(
                let part = $part;
                let mut j = 0;
                while j < part.len() {
                    out[i] = part[j];
                    i += 1;
                    j += 1;
                }
            )*
            let _ = i;
            out
        };
        OUT
    }};
}

/// PocketBase's own layout, then `cast.ToTime`'s list, in order.
const LAYOUTS: &[&[Tok]] = &[
    layout!(YMD, [Lit(" ")], HMS, [Millis, Lit("Z")]),
    layout!(YMD, [Lit("T")], HMS, [ZoneZ]),
    layout!(YMD, [Lit("T")], HMS),
    layout!(
        [Weekday, Lit(", "), Day2, Lit(" "), MonthName, Lit(" "), Year4, Lit(" ")],
        HMS,
        [Lit(" "), ZoneNum]
    ),
    layout!(
        [Weekday, Lit(", "), Day2, Lit(" "), MonthName, Lit(" "), Year4, Lit(" ")],
        HMS,
        [Lit(" "), ZoneAbbr]
    ),
    layout!([
        Day2,
        Lit(" "),
        MonthName,
        Lit(" "),
        Year2,
        Lit(" "),
        Hour,
        Lit(":"),
        Minute,
        Lit(" "),
        ZoneNum
    ]),
    layout!([
        Day2,
        Lit(" "),
        MonthName,
        Lit(" "),
        Year2,
        Lit(" "),
        Hour,
        Lit(":"),
        Minute,
        Lit(" "),
        ZoneAbbr
    ]),
    layout!(
        [WeekdayLong, Lit(", "), Day2, Lit("-"), MonthName, Lit("-"), Year2, Lit(" ")],
        HMS,
        [Lit(" "), ZoneAbbr]
    ),
    layout!([Weekday, Lit(" "), MonthName, Lit(" "), DayPadded, Lit(" ")], HMS, [Lit(" "), Year4]),
    layout!(
        [Weekday, Lit(" "), MonthName, Lit(" "), DayPadded, Lit(" ")],
        HMS,
        [Lit(" "), ZoneAbbr, Lit(" "), Year4]
    ),
    layout!(
        [Weekday, Lit(" "), MonthName, Lit(" "), Day2, Lit(" ")],
        HMS,
        [Lit(" "), ZoneNum, Lit(" "), Year4]
    ),
    layout!(YMD, [Lit(" ")], HMS, [FracOpt, Lit(" "), ZoneNum, Lit(" "), ZoneAbbr]),
    layout!(YMD),
    layout!([Day2, Lit(" "), MonthName, Lit(" "), Year4]),
    layout!(YMD, [Lit("T")], HMS, [ZoneNum]),
    layout!(YMD, [Lit(" ")], HMS, [Lit(" "), ZoneColon]),
    layout!(YMD, [Lit(" ")], HMS, [Lit(" "), ZoneNum]),
    layout!(YMD, [Lit(" ")], HMS, [ZoneZ]),
    layout!(YMD, [Lit(" ")], HMS),
    layout!([Hour12, Lit(":"), Minute, Pm]),
    layout!([MonthName, Lit(" "), DayPadded, Lit(" ")], HMS),
];

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] =
    ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/// The fields collected while matching a layout (Go's defaults: year 0, January 1st).
#[derive(Default)]
struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    pm: Option<bool>,
    offset_secs: i64,
}

struct Input<'a> {
    rest: &'a str,
}

impl<'a> Input<'a> {
    fn literal(&mut self, lit: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(lit)?;
        Some(())
    }

    /// Between `min` and `max` ASCII digits (greedy).
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self.rest.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let (num, rest) = self.rest.split_at(n);
        self.rest = rest;
        num.parse().ok()
    }

    /// A fractional second: `.` or `,` followed by at least one digit; nanoseconds.
    fn fraction(&mut self, exact: Option<usize>) -> Option<u32> {
        let after = self.rest.strip_prefix(['.', ','])?;
        let available = after.bytes().take_while(u8::is_ascii_digit).count();
        let n = exact.unwrap_or(available);
        if n == 0 || n > available {
            return None;
        }
        let (digits, rest) = after.split_at(n);
        self.rest = rest;
        // Nanoseconds: the first nine digits, right-padded with zeros.
        let nanos: String = digits.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos.parse().ok()
    }

    /// A case-insensitive name from `names` (longest form when `long`, else 3 letters).
    fn name(&mut self, names: &[&str], long: bool) -> Option<usize> {
        for (i, full) in names.iter().enumerate() {
            let want = if long { full } else { &full[..3] };
            let Some(head) = self.rest.get(..want.len()) else { continue };
            if head.eq_ignore_ascii_case(want) {
                self.rest = &self.rest[want.len()..];
                return Some(i);
            }
        }
        None
    }

    /// `±hh:mm` (with `colon`) or `±hhmm`, in seconds east of UTC.
    fn offset(&mut self, colon: bool) -> Option<i64> {
        let sign = match self.rest.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.rest = &self.rest[1..];
        let hours = self.digits(2, 2)?;
        if colon {
            self.literal(":")?;
        }
        let minutes = self.digits(2, 2)?;
        if hours > 24 || minutes > 60 {
            return None;
        }
        Some(sign * i64::from(hours * 3600 + minutes * 60))
    }

    /// A zone abbreviation as Go's `parseTimeZone` accepts it; unknown abbreviations count
    /// as UTC (Go fabricates a zero-offset location for them).
    fn zone_abbr(&mut self) -> Option<i64> {
        if let Some(rest) = self.rest.strip_prefix("GMT") {
            self.rest = rest;
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Some(0),
            };
            self.rest = &rest[1..];
            let hours = self.digits(1, 2)?;
            return Some(sign * i64::from(hours) * 3600);
        }
        for special in ["ChST", "MeST", "WITA"] {
            if let Some(rest) = self.rest.strip_prefix(special) {
                self.rest = rest;
                return Some(0);
            }
        }
        let upper = self.rest.bytes().take(6).take_while(u8::is_ascii_uppercase).count();
        let bytes = self.rest.as_bytes();
        let ok = match upper {
            3 => true,
            4 => bytes.get(3) == Some(&b'T'),
            5 => bytes.get(4) == Some(&b'T'),
            _ => false,
        };
        if !ok {
            return None;
        }
        self.rest = &self.rest[upper..];
        Some(0)
    }
}

fn parse_layout(s: &str, layout: &[Tok]) -> Option<DateTime<Utc>> {
    let mut input = Input { rest: s };
    let mut p = Parts { month: 1, day: 1, ..Parts::default() };
    for (i, tok) in layout.iter().enumerate() {
        match *tok {
            Lit(l) => input.literal(l)?,
            Year4 => p.year = i32::try_from(input.digits(4, 4)?).ok()?,
            Year2 => {
                let yy = i32::try_from(input.digits(2, 2)?).ok()?;
                p.year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
            }
            Month2 => p.month = input.digits(2, 2)?,
            MonthName => p.month = u32::try_from(input.name(&MONTHS, false)?).ok()? + 1,
            Day2 => p.day = input.digits(2, 2)?,
            DayPadded => {
                if let Some(rest) = input.rest.strip_prefix(' ') {
                    input.rest = rest;
                }
                p.day = input.digits(1, 2)?;
            }
            Weekday => {
                input.name(&WEEKDAYS, false)?;
            }
            WeekdayLong => {
                input.name(&WEEKDAYS, true)?;
            }
            Hour => p.hour = input.digits(1, 2)?,
            Hour12 => {
                p.hour = input.digits(1, 2)?;
                if p.hour > 12 {
                    return None;
                }
            }
            Minute => p.minute = input.digits(2, 2)?,
            Second => {
                p.second = input.digits(2, 2)?;
                // Go accepts a fractional second after the seconds even when the layout has
                // none, unless the layout itself continues with one.
                let next_is_fraction = matches!(layout.get(i + 1), Some(Millis | FracOpt));
                if !next_is_fraction {
                    let before = input.rest;
                    match input.fraction(None) {
                        Some(n) => p.nanos = n,
                        None => input.rest = before,
                    }
                }
            }
            Millis => p.nanos = input.fraction(Some(3))?,
            FracOpt => {
                let before = input.rest;
                match input.fraction(None) {
                    Some(n) => p.nanos = n,
                    None => input.rest = before,
                }
            }
            Pm => {
                if input.literal("PM").is_some() {
                    p.pm = Some(true);
                } else {
                    input.literal("AM")?;
                    p.pm = Some(false);
                }
            }
            ZoneZ => {
                if input.literal("Z").is_none() {
                    p.offset_secs = input.offset(true)?;
                }
            }
            ZoneNum => p.offset_secs = input.offset(false)?,
            ZoneColon => p.offset_secs = input.offset(true)?,
            ZoneAbbr => {
                // A numeric offset seen earlier in the same layout wins over the abbreviation.
                let offset = input.zone_abbr()?;
                if p.offset_secs == 0 {
                    p.offset_secs = offset;
                }
            }
        }
    }
    if !input.rest.is_empty() {
        return None;
    }
    match p.pm {
        Some(true) if p.hour < 12 => p.hour += 12,
        Some(false) if p.hour == 12 => p.hour = 0,
        _ => {}
    }
    if p.hour > 23 || p.minute > 59 || p.second > 59 {
        return None;
    }
    let naive = NaiveDate::from_ymd_opt(p.year, p.month, p.day)?
        .and_hms_nano_opt(p.hour, p.minute, p.second, p.nanos)?;
    naive.and_utc().checked_sub_signed(TimeDelta::seconds(p.offset_secs))
}
