//! Sprig's date functions over a Go `time.Time`: `now`, `toDate` and `dateModify` return one
//! (it prints as Go prints a time, `typeOf` says time.Time, its methods work), the formatting
//! functions take one or a Unix time as Go `int`/`int64` and fall back to the current time for
//! anything else (a string, a float64 from values), as sprig does.
//!
//! The machine's local time zone is UTC here (helm uses the one of the machine it runs on: the
//! README lists this among the environment-dependent differences). Named zones (`dateInZone`)
//! come from the IANA database built into the chrono-tz crate, where helm reads the machine's.

use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};

use super::funcs::{FuncEnv, FuncError, R, err, nargs, s};
use super::value::{Object, Value};

/// A Go time.Time: the instant, the zone's offset, and the monotonic clock reading `time.Now`
/// attaches (printed as ` m=+0.001`). The offset is seconds east of UTC, any size Go takes
/// (`+24:59` parses; chrono's FixedOffset stops short of 24 hours).
#[derive(Debug, Clone)]
pub struct GoTime {
    pub instant: DateTime<Utc>,
    pub offset: i32,
    /// Seconds on the monotonic clock since the first `now` of this process.
    pub mono: Option<f64>,
    /// The zone's name, when it is not the one the offset implies (a named zone, or a name a
    /// parsed time carried: `MST` parsed as a zone Go does not know keeps its name).
    pub zone: Option<Rc<str>>,
}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl GoTime {
    pub fn now() -> GoTime {
        let start = process_start();
        GoTime {
            instant: Utc::now(),
            offset: 0,
            mono: Some(start.elapsed().as_secs_f64().max(1e-9)),
            zone: None,
        }
    }

    /// Go's zero time (what toDate returns for text it cannot read).
    pub fn zero() -> GoTime {
        let t = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
            .unwrap_or_default();
        GoTime::utc(t)
    }

    /// The instant `t`, in the zone its offset implies.
    pub fn at(t: DateTime<FixedOffset>) -> GoTime {
        GoTime {
            instant: t.to_utc(),
            offset: t.offset().local_minus_utc(),
            mono: None,
            zone: None,
        }
    }

    /// The instant `t` in UTC.
    pub fn utc(t: DateTime<Utc>) -> GoTime {
        GoTime {
            instant: t,
            offset: 0,
            mono: None,
            zone: None,
        }
    }

    pub fn unix(secs: i64) -> GoTime {
        GoTime::utc(DateTime::from_timestamp(secs, 0).unwrap_or_default())
    }

    /// The wall clock in the time's zone.
    pub fn wall(&self) -> NaiveDateTime {
        self.instant
            .naive_utc()
            .checked_add_signed(chrono::Duration::seconds(self.offset.into()))
            .unwrap_or_else(|| self.instant.naive_utc())
    }

    /// Why encoding/json cannot write this time (`Time.MarshalJSON`'s refusal), if it cannot.
    pub fn json_error(&self) -> Option<&'static str> {
        use chrono::Datelike;
        if !(0..=9999).contains(&self.wall().year()) {
            Some("Time.MarshalJSON: year outside of range [0,9999]")
        } else if self.offset.abs() >= 24 * 3600 {
            Some("Time.MarshalJSON: timezone hour outside of range [0,23]")
        } else {
            None
        }
    }

    pub fn value(self) -> Value {
        Value::Object(Rc::new(self))
    }

    fn is_zero(&self) -> bool {
        self.instant == GoTime::zero().instant
    }

    /// The zone's name as Go prints it (`MST` in layouts, the last word of String()): UTC (the
    /// local zone here) at offset 0, otherwise the zone a parsed offset makes has no name, and
    /// Go prints it as `-0700`.
    fn zone_name(&self) -> String {
        if let Some(name) = &self.zone {
            return name.to_string();
        }
        let offset = self.offset;
        if offset == 0 {
            return "UTC".into();
        }
        let minutes = offset.abs() / 60;
        let sign = if offset < 0 { '-' } else { '+' };
        format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
    }

    pub fn format(&self, layout: &str) -> String {
        go_format(&self.wall(), self.offset, layout, &self.zone_name())
    }

    fn add_nanos(&self, d: i64) -> GoTime {
        GoTime {
            instant: self.instant + chrono::Duration::nanoseconds(d),
            offset: self.offset,
            mono: self.mono.map(|m| m + d as f64 / 1e9),
            zone: self.zone.clone(),
        }
    }
}

impl Object for GoTime {
    fn type_name(&self) -> &'static str {
        "time.Time"
    }

    fn field(&self, name: &str) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let wall = self.wall();
        Some(match name {
            "Unix" => Value::Int64(self.instant.timestamp()),
            "UnixMilli" => Value::Int64(self.instant.timestamp_millis()),
            "UnixNano" => Value::Int64(self.instant.timestamp_nanos_opt().unwrap_or(0)),
            "Year" => Value::Int(wall.year() as i64),
            "Month" => Value::string(self.format("January")),
            "Day" => Value::Int(wall.day() as i64),
            "Hour" => Value::Int(wall.hour() as i64),
            "Minute" => Value::Int(wall.minute() as i64),
            "Second" => Value::Int(wall.second() as i64),
            "Nanosecond" => Value::Int(wall.nanosecond() as i64),
            "YearDay" => Value::Int(wall.ordinal() as i64),
            "Weekday" => Value::string(self.format("Monday")),
            "IsZero" => Value::Bool(self.is_zero()),
            "String" => Value::string(self.display()),
            "UTC" | "Local" => GoTime {
                instant: self.instant,
                offset: 0,
                mono: self.mono,
                zone: None,
            }
            .value(),
            _ => return None,
        })
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match (name, args) {
            ("Format", [Value::Str(l)]) => Ok(Value::string(self.format(l))),
            ("Add", [Value::Int(d)]) => Ok(self.add_nanos(*d).value()),
            ("After" | "Before" | "Equal", [Value::Object(o)]) => {
                let Some(other) = as_time(&Value::Object(o.clone())) else {
                    return Some(Err(format!(
                        "wrong type for value; expected time.Time; got {}",
                        o.type_name()
                    )));
                };
                let (a, b) = (self.instant, other.instant);
                Ok(Value::Bool(match name {
                    "After" => a > b,
                    "Before" => a < b,
                    _ => a == b,
                }))
            }
            (_, [a, ..]) if matches!(name, "Format" | "Add" | "After" | "Before" | "Equal") => {
                Err(format!(
                    "wrong type for value; expected {}; got {}",
                    match name {
                        "Format" => "string",
                        "Add" => "time.Duration",
                        _ => "time.Time",
                    },
                    a.type_name()
                ))
            }
            _ => return None,
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    /// What encoding/json writes for a time (toJson, toYaml): RFC 3339 with nanoseconds.
    fn as_data(&self) -> Option<Value> {
        Some(Value::string(
            self.format("2006-01-02T15:04:05.999999999Z07:00"),
        ))
    }

    /// Go's Time.String(): `2006-01-02 15:04:05.999999999 -0700 MST`, with the monotonic reading.
    fn display(&self) -> String {
        let mut out = self.format("2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(m) = self.mono {
            out.push_str(&format!(" m=+{m:.9}"));
        }
        out
    }
}

/// The time in a template value, if it holds one.
pub fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) => o.as_any()?.downcast_ref::<GoTime>().cloned(),
        _ => None,
    }
}

/// sprig's `date`, `dateInZone`, `htmlDate`, `ago` argument: a time, or a Unix time as Go
/// int/int64 (int32 too); anything else is the current time.
fn time_or_now(v: &Value) -> GoTime {
    match v {
        Value::Int(n) | Value::Int64(n) => GoTime::unix(*n),
        other => as_time(other).unwrap_or_else(GoTime::now),
    }
}

/// A Go `time.Time` parameter.
fn time_arg(v: &Value) -> Result<GoTime, FuncError> {
    as_time(v).ok_or_else(|| super::funcs::wrong("time.Time", v))
}

pub fn f_now(_: &FuncEnv, a: &[Value]) -> R {
    nargs("now", a, 0)?;
    Ok(GoTime::now().value())
}

pub fn f_unix_epoch(_: &FuncEnv, a: &[Value]) -> R {
    nargs("unixEpoch", a, 1)?;
    Ok(Value::string(
        time_arg(&a[0])?.instant.timestamp().to_string(),
    ))
}

/// `d` formatted in `zone` as sprig does it: the zone is loaded as Go's `time.LoadLocation`
/// loads it ("" and "UTC" are UTC, "Local" is the machine's zone, UTC here; any other name is
/// looked up in the IANA time zone database, built in), and a name it cannot load falls back
/// to UTC, as sprig does. The zone's abbreviation (`MST` in a layout) is the database's.
fn date_in_zone(layout: &str, d: &Value, zone: &str) -> String {
    use chrono_tz::OffsetName;
    let t = time_or_now(d);
    let named = match zone {
        "" | "UTC" | "Local" => None,
        name => name.parse::<chrono_tz::Tz>().ok(),
    };
    let there = match named {
        Some(tz) => {
            let there = t.instant.with_timezone(&tz);
            let offset = there.offset().fix().local_minus_utc();
            // The database's abbreviation; zones it gives none have a numeric one (`-03`,
            // `+0530`), as the database's own files spell it.
            let name = there.offset().abbreviation().map_or_else(
                || {
                    let minutes = offset.abs() / 60;
                    let sign = if offset < 0 { '-' } else { '+' };
                    match minutes % 60 {
                        0 => format!("{sign}{:02}", minutes / 60),
                        m => format!("{sign}{:02}{m:02}", minutes / 60),
                    }
                },
                str::to_string,
            );
            GoTime {
                instant: t.instant,
                offset,
                mono: None,
                zone: Some(Rc::from(name)),
            }
        }
        None => GoTime::utc(t.instant),
    };
    there.format(layout)
}

pub fn f_date(_: &FuncEnv, a: &[Value]) -> R {
    nargs("date", a, 2)?;
    Ok(Value::string(date_in_zone(s(&a[0])?, &a[1], "Local")))
}

pub fn f_date_in_zone(_: &FuncEnv, a: &[Value]) -> R {
    nargs("dateInZone", a, 3)?;
    let (layout, zone) = (s(&a[0])?, s(&a[2])?);
    Ok(Value::string(date_in_zone(layout, &a[1], zone)))
}

pub fn f_html_date(_: &FuncEnv, a: &[Value]) -> R {
    nargs("htmlDate", a, 1)?;
    Ok(Value::string(date_in_zone("2006-01-02", &a[0], "Local")))
}

pub fn f_html_date_in_zone(_: &FuncEnv, a: &[Value]) -> R {
    nargs("htmlDateInZone", a, 2)?;
    let zone = s(&a[1])?;
    Ok(Value::string(date_in_zone("2006-01-02", &a[0], zone)))
}

/// Go's `time.ParseInLocation(layout, value, time.Local)` (sprig's `toDate`), with the local
/// zone UTC: every layout element, Go's leniencies (runs of spaces, a fraction after seconds
/// the layout does not name, any one- or two-digit day) and its `*time.ParseError` texts.
fn parse_in_local(layout: &str, value: &str) -> Result<GoTime, String> {
    let (full_layout, full_value) = (layout, value);
    let fail = |layout_elem: &str, value_elem: &[u8]| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(full_value.as_bytes()),
            time_quote(full_layout.as_bytes()),
            time_quote(value_elem),
            time_quote(layout_elem.as_bytes())
        )
    };
    let message = |text: &str| format!("parsing time {}{text}", time_quote(full_value.as_bytes()));
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut am, mut pm) = (false, false);
    let mut utc = false;
    let mut zone_offset: Option<i32> = None;
    let mut zone_name = String::new();
    let mut layout = layout;
    let mut value = value;
    loop {
        let (prefix, element) = next_std_chunk(layout);
        value = skip_prefix(value, prefix).map_err(|rest| fail(prefix, rest))?;
        let Some((std, suffix)) = element else {
            if !value.is_empty() {
                return Err(message(&format!(
                    ": extra text: {}",
                    time_quote(value.as_bytes())
                )));
            }
            break;
        };
        let element_text = &layout[prefix.len()..layout.len() - suffix.len()];
        layout = suffix;
        let hold = value;
        let mut range = "";
        let ok: Result<(), ()> = (|| {
            match std {
                Std::Year => {
                    let digits = value.get(..2).ok_or(())?;
                    value = &value[2..];
                    year = go_atoi(digits)?;
                    year += if year >= 69 { 1900 } else { 2000 };
                }
                Std::LongYear => {
                    if value.len() < 4 || !value.as_bytes()[0].is_ascii_digit() {
                        return Err(());
                    }
                    let digits = value.get(..4).ok_or(())?;
                    value = &value[4..];
                    year = go_atoi(digits)?;
                }
                Std::Month | Std::LongMonth => {
                    let (i, rest) = lookup_name(&MONTHS, std == Std::Month, value)?;
                    month = i as i64 + 1;
                    value = rest;
                }
                Std::WeekDay | Std::LongWeekDay => {
                    value = lookup_name(&WEEKDAYS, std == Std::WeekDay, value)?.1;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    (month, value) = get_num(value, std == Std::ZeroMonth)?;
                    if !(1..=12).contains(&month) {
                        range = "month";
                    }
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay {
                        value = value.strip_prefix(' ').unwrap_or(value);
                    }
                    (day, value) = get_num(value, std == Std::ZeroDay)?;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    if std == Std::UnderYearDay {
                        for _ in 0..2 {
                            value = value.strip_prefix(' ').unwrap_or(value);
                        }
                    }
                    (yday, value) = get_num3(value, std == Std::ZeroYearDay)?;
                }
                Std::Hour => {
                    (hour, value) = get_num(value, false)?;
                    if hour >= 24 {
                        range = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    (hour, value) = get_num(value, std == Std::ZeroHour12)?;
                    if hour > 12 {
                        range = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    (min, value) = get_num(value, std == Std::ZeroMinute)?;
                    if min >= 60 {
                        range = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    (sec, value) = get_num(value, std == Std::ZeroSecond)?;
                    if sec >= 60 {
                        range = "second";
                        return Ok(());
                    }
                    // A fraction in the value the layout does not name is read too.
                    let b = value.as_bytes();
                    if b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
                        if matches!(next_std_chunk(layout).1, Some((Std::Fraction { .. }, _))) {
                            return Ok(());
                        }
                        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                        nsec = parse_nanoseconds(&value[..n])?;
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    let text = value.get(..2).ok_or(())?;
                    value = &value[2..];
                    let (p, a) = if std == Std::PM {
                        ("PM", "AM")
                    } else {
                        ("pm", "am")
                    };
                    if text == p {
                        pm = true;
                    } else if text == a {
                        am = true;
                    } else {
                        return Err(());
                    }
                }
                Std::Offset {
                    iso,
                    colon,
                    seconds,
                    hours_only,
                } => {
                    if iso && value.starts_with('Z') {
                        value = &value[1..];
                        utc = true;
                        return Ok(());
                    }
                    let b = value.as_bytes();
                    let (h, m, s, len) = match (colon, seconds, hours_only) {
                        (_, _, true) => (1..3, None, None, 3),
                        (true, false, _) => {
                            if b.len() < 6 || b[3] != b':' {
                                return Err(());
                            }
                            (1..3, Some(4..6), None, 6)
                        }
                        (true, true, _) => {
                            if b.len() < 9 || b[3] != b':' || b[6] != b':' {
                                return Err(());
                            }
                            (1..3, Some(4..6), Some(7..9), 9)
                        }
                        (false, true, _) => (1..3, Some(3..5), Some(5..7), 7),
                        (false, false, _) => (1..3, Some(3..5), None, 5),
                    };
                    if b.len() < len {
                        return Err(());
                    }
                    let num = |r: Option<std::ops::Range<usize>>| -> Result<i64, ()> {
                        match r {
                            Some(r) => get_num(value.get(r).ok_or(())?, true).map(|(n, _)| n),
                            None => Ok(0),
                        }
                    };
                    let (hr, mm, ss) = (num(Some(h))?, num(m)?, num(s)?);
                    if hr > 24 {
                        range = "time zone offset hour";
                    }
                    if mm > 60 {
                        range = "time zone offset minute";
                    }
                    if ss > 60 {
                        range = "time zone offset second";
                    }
                    let offset = ((hr * 60 + mm) * 60 + ss) as i32;
                    let sign = b[0];
                    value = &value[len..];
                    zone_offset = Some(match sign {
                        b'+' => offset,
                        b'-' => -offset,
                        _ => return Err(()),
                    });
                }
                Std::Tz => {
                    if value.starts_with("UTC") {
                        utc = true;
                        value = &value[3..];
                        return Ok(());
                    }
                    let n = time_zone_length(value).ok_or(())?;
                    zone_name = value[..n].to_string();
                    value = &value[n..];
                }
                Std::Fraction { digits, trim, .. } => {
                    let b = value.as_bytes();
                    if trim {
                        if b.len() < 2 || !matches!(b[0], b'.' | b',') || !b[1].is_ascii_digit() {
                            return Ok(());
                        }
                        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                        nsec = parse_nanoseconds(&value[..n])?;
                        value = &value[n..];
                    } else {
                        let n = 1 + digits;
                        if b.len() < n {
                            return Err(());
                        }
                        nsec = parse_nanoseconds(value.get(..n).ok_or(())?)?;
                        value = &value[n..];
                    }
                }
            }
            Ok(())
        })();
        if !range.is_empty() {
            return Err(message(&format!(": {range} out of range")));
        }
        if ok.is_err() {
            return Err(fail(element_text, hold.as_bytes()));
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    if yday >= 0 {
        let (mut m, mut d) = (0, 0);
        if leap {
            if yday == 31 + 29 {
                (m, d) = (2, 29);
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(message(": day-of-year out of range"));
        }
        if m == 0 {
            m = (yday - 1) / 31 + 1;
            if days_before[m as usize] < yday {
                m += 1;
            }
            d = yday - days_before[m as usize - 1];
        }
        if month >= 0 && month != m {
            return Err(message(": day-of-year does not match month"));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(message(": day-of-year does not match day"));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let days_in_month = match month {
        2 if leap => 29,
        m => days_before[m as usize] - days_before[m as usize - 1],
    };
    if day < 1 || day > days_in_month {
        return Err(message(": day out of range"));
    }
    let wall = chrono::NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .and_then(|d| d.and_hms_nano_opt(hour as u32, min as u32, sec as u32, nsec as u32))
        .ok_or_else(|| message(": out of range"))?;
    // Local is UTC here: an offset of 0 or the name UTC is the local zone; another offset
    // makes an unnamed fixed zone (or one named as parsed). A name Go does not know keeps its
    // name, and the wall clock is read as UTC and shown in that zone (at offset 0; GMT+N at
    // N hours), as Go does.
    let utc_wall = |offset: i32| {
        wall.checked_sub_signed(chrono::Duration::seconds(offset.into()))
            .ok_or_else(|| message(": out of range"))
    };
    let (instant, offset, zone) = match zone_offset {
        _ if utc => (utc_wall(0)?, 0, None),
        Some(0) if zone_name.is_empty() || zone_name == "UTC" => (utc_wall(0)?, 0, None),
        Some(offset) => (
            utc_wall(offset)?,
            offset,
            (!zone_name.is_empty()).then(|| zone_name.clone()),
        ),
        None if zone_name.is_empty() => (utc_wall(0)?, 0, None),
        None => {
            let hours = zone_name
                .strip_prefix("GMT")
                .filter(|h| !h.is_empty())
                .and_then(|h| h.parse::<i32>().ok())
                .unwrap_or(0);
            (utc_wall(0)?, hours * 3600, Some(zone_name.clone()))
        }
    };
    Ok(GoTime {
        instant: instant.and_utc(),
        offset,
        mono: None,
        zone: zone.map(Rc::from),
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `lookup`: the first of `names` (their first three letters when `short`) that `value`
/// starts with, ASCII case ignored; its index and the rest of `value`.
fn lookup_name<'v>(names: &[&str], short: bool, value: &'v str) -> Result<(usize, &'v str), ()> {
    for (i, name) in names.iter().enumerate() {
        let name = if short { &name[..3] } else { name };
        if let Some(head) = value.get(..name.len())
            && head.eq_ignore_ascii_case(name)
        {
            return Ok((i, &value[name.len()..]));
        }
    }
    Err(())
}

/// Go's `getnum`: one or two digits (`fixed`: exactly two).
fn get_num(value: &str, fixed: bool) -> Result<(i64, &str), ()> {
    let b = value.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    match (digit(0), digit(1)) {
        (None, _) => Err(()),
        (Some(_), None) if fixed => Err(()),
        (Some(a), None) => Ok((a, &value[1..])),
        (Some(a), Some(b)) => Ok((a * 10 + b, &value[2..])),
    }
}

/// Go's `getnum3`: one to three digits (`fixed`: exactly three).
fn get_num3(value: &str, fixed: bool) -> Result<(i64, &str), ()> {
    let n = value.bytes().take(3).take_while(u8::is_ascii_digit).count();
    if n == 0 || (fixed && n != 3) {
        return Err(());
    }
    Ok((value[..n].parse().map_err(|_| ())?, &value[n..]))
}

/// Go's time-package `atoi`: an optional sign and digits only.
fn go_atoi(text: &str) -> Result<i64, ()> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(());
    }
    let n: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| ())?
    };
    Ok(if negative { -n } else { n })
}

/// Go's `parseNanoseconds`: `.` or `,` and digits (at most nine count), scaled to nanoseconds.
fn parse_nanoseconds(text: &str) -> Result<i64, ()> {
    if !matches!(text.as_bytes().first(), Some(b'.' | b',')) {
        return Err(());
    }
    let digits = &text[1..text.len().min(10)];
    let n = go_atoi(digits)?;
    Ok(n * 10i64.pow(9 - digits.len() as u32))
}

/// Go's `skip`: `prefix` off `value`, a run of spaces in `prefix` matching any run (or none at
/// the end) in `value`; on a mismatch, the bytes of `value` left (Go compares bytes, so that
/// may start inside a character).
fn skip_prefix<'v>(value: &'v str, prefix: &str) -> Result<&'v str, &'v [u8]> {
    let (v, p) = (value.as_bytes(), prefix.as_bytes());
    let (mut i, mut j) = (0, 0);
    while j < p.len() {
        if p[j] == b' ' {
            if i < v.len() && v[i] != b' ' {
                return Err(&v[i..]);
            }
            while j < p.len() && p[j] == b' ' {
                j += 1;
            }
            while i < v.len() && v[i] == b' ' {
                i += 1;
            }
            continue;
        }
        if i >= v.len() || v[i] != p[j] {
            return Err(&v[i..]);
        }
        i += 1;
        j += 1;
    }
    // Every byte of `prefix` matched, so `i` ends a character as `prefix` does.
    Ok(value.get(i..).unwrap_or(""))
}

/// Go's `parseTimeZone`: the length of the zone name `value` starts with, if it looks like one.
fn time_zone_length(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        return Some(
            3 + if rest.is_empty() {
                0
            } else {
                signed_offset_length(rest)
            },
        );
    }
    if matches!(b[0], b'+' | b'-') {
        return Some(signed_offset_length(value)).filter(|n| *n > 0);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if b[4] == b'T' => Some(5),
        _ => None,
    }
}

/// Go's `parseSignedOffset`: `+N`/`-N` with N at most 23; its length, 0 when it is not one.
fn signed_offset_length(value: &str) -> usize {
    if !matches!(value.as_bytes().first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = value[1..].bytes().take_while(u8::is_ascii_digit).count();
    match value[1..1 + digits].parse::<u64>() {
        Ok(n) if digits > 0 && n <= 23 => 1 + digits,
        _ => 0,
    }
}

/// The time package's own `quote`: bytes past ASCII and control characters as `\xNN`.
fn time_quote(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        if !(0x20..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(b as char);
        }
    }
    out.push('"');
    out
}

pub fn f_to_date(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toDate", a, 2)?;
    Ok(parse_in_local(s(&a[0])?, s(&a[1])?)
        .unwrap_or_else(|_| GoTime::zero())
        .value())
}

pub fn f_must_to_date(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustToDate", a, 2)?;
    match parse_in_local(s(&a[0])?, s(&a[1])?) {
        Ok(t) => Ok(t.value()),
        Err(e) => err(e),
    }
}

pub fn f_date_modify(_: &FuncEnv, a: &[Value]) -> R {
    nargs("dateModify", a, 2)?;
    let (d, t) = (s(&a[0])?, time_arg(&a[1])?);
    Ok(match parse_duration(d) {
        Ok(n) => t.add_nanos(n),
        Err(_) => t,
    }
    .value())
}

pub fn f_must_date_modify(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustDateModify", a, 2)?;
    let (d, t) = (s(&a[0])?, time_arg(&a[1])?);
    match parse_duration(d) {
        Ok(n) => Ok(t.add_nanos(n).value()),
        Err(e) => err(e),
    }
}

fn since_nanos(t: &GoTime) -> i64 {
    let now = Utc::now();
    (now - t.instant).num_nanoseconds().unwrap_or(i64::MAX)
}

pub fn f_ago(_: &FuncEnv, a: &[Value]) -> R {
    nargs("ago", a, 1)?;
    let t = time_or_now(&a[0]);
    let d = since_nanos(&t);
    // Round(time.Second): halves away from zero
    let sec = 1_000_000_000i64;
    let r = d % sec;
    let mut q = d - r;
    if r.abs() * 2 >= sec {
        q += if d < 0 { -sec } else { sec };
    }
    Ok(Value::string(duration_string(q)))
}

/// sprig's duration: seconds given as a string or int64 (any other value is 0).
pub fn f_duration(_: &FuncEnv, a: &[Value]) -> R {
    nargs("duration", a, 1)?;
    let n: i64 = match &a[0] {
        Value::Str(x) => x.parse().unwrap_or(0),
        Value::Int64(n) => *n,
        _ => 0,
    };
    Ok(Value::string(duration_string(
        n.saturating_mul(1_000_000_000),
    )))
}

pub fn f_duration_round(_: &FuncEnv, a: &[Value]) -> R {
    nargs("durationRound", a, 1)?;
    let d: i64 = match &a[0] {
        Value::Str(x) => parse_duration(x).unwrap_or(0),
        Value::Int64(n) => *n,
        other => match as_time(other) {
            Some(t) => since_nanos(&t),
            None => 0,
        },
    };
    let u = d.unsigned_abs();
    let hour = 3_600_000_000_000u64;
    let units = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ];
    for (size, unit) in units {
        if u > size {
            return Ok(Value::string(format!("{}{unit}", u / size)));
        }
    }
    Ok(Value::str("0s"))
}

/// Go's time.ParseDuration, in nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let orig = text;
    let bad = || format!("time: invalid duration {}", super::gofmt::go_quote(orig));
    let mut s = text;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let num = &s[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(bad());
        }
        s = &s[num_end..];
        let unit_end = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    super::gofmt::go_quote(orig)
                ));
            }
            u => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    super::gofmt::go_quote(u),
                    super::gofmt::go_quote(orig)
                ));
            }
        };
        let v: f64 = num.parse().map_err(|_| bad())?;
        total += v * scale;
        if total > i64::MAX as f64 {
            return Err(bad());
        }
    }
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

/// Go's time.Duration.String().
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // fractional seconds: ns, µs, ms
        let (unit, scale) = if u < 1_000 {
            ("ns", 1u64)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac(u, scale));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let m = rem / 60_000_000_000;
        let sns = rem % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac(sns, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / scale` with the fraction's trailing zeros dropped.
fn frac(v: u64, scale: u64) -> String {
    let whole = v / scale;
    let f = v % scale;
    if f == 0 {
        return whole.to_string();
    }
    let digits = scale.to_string().len() - 1;
    let fs = format!("{f:0digits$}");
    format!("{whole}.{}", fs.trim_end_matches('0'))
}

/// One element of a Go time layout (time/format.go's `std*` constants).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    /// `MST`: the zone's name, or -0700 when it has none.
    Tz,
    /// A numeric offset: `Z` first prints `Z` for UTC (ISO 8601); with a colon; with seconds;
    /// hours only.
    Offset {
        iso: bool,
        colon: bool,
        seconds: bool,
        hours_only: bool,
    },
    /// Fractional seconds: the separator, the number of digits, and whether trailing zeros
    /// (and then the separator) are dropped (`.999`) or kept (`.000`).
    Fraction {
        separator: u8,
        digits: usize,
        trim: bool,
    },
}

/// The text before the next layout element, the element, and the rest: Go's `nextStdChunk`.
fn next_std_chunk(layout: &str) -> (&str, Option<(Std, &str)>) {
    let b = layout.as_bytes();
    let at = |i: usize, text: &str| layout.get(i..).is_some_and(|r| r.starts_with(text));
    let lower_after = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    let offset = |iso, colon, seconds, hours_only| Std::Offset {
        iso,
        colon,
        seconds,
        hours_only,
    };
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") && !lower_after(i + 3) => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !lower_after(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' if matches!(b.get(i + 1), Some(b'1'..=b'6')) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            // `_2006` is a literal `_` and the year.
            b'_' if at(i, "_2006") => {
                return (&layout[..i + 1], Some((Std::LongYear, &layout[i + 5..])));
            }
            b'_' if at(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, 2)),
            b'-' if at(i, "-070000") => Some((offset(false, false, true, false), 7)),
            b'-' if at(i, "-07:00:00") => Some((offset(false, true, true, false), 9)),
            b'-' if at(i, "-0700") => Some((offset(false, false, false, false), 5)),
            b'-' if at(i, "-07:00") => Some((offset(false, true, false, false), 6)),
            b'-' if at(i, "-07") => Some((offset(false, false, false, true), 3)),
            b'Z' if at(i, "Z070000") => Some((offset(true, false, true, false), 7)),
            b'Z' if at(i, "Z07:00:00") => Some((offset(true, true, true, false), 9)),
            b'Z' if at(i, "Z0700") => Some((offset(true, false, false, false), 5)),
            b'Z' if at(i, "Z07:00") => Some((offset(true, true, false, false), 6)),
            b'Z' if at(i, "Z07") => Some((offset(true, false, false, true), 3)),
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let digit = b[i + 1];
                let end = i + 1 + b[i + 1..].iter().take_while(|c| **c == digit).count();
                // Only a run of one digit that ends the number is a fraction.
                if b.get(end).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((
                        Std::Fraction {
                            separator: b[i],
                            digits: end - i - 1,
                            trim: digit == b'9',
                        },
                        end - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some((std, &layout[i + len..])));
        }
    }
    (layout, None)
}

/// Go's `appendInt`: `x` in decimal, zero-padded to `width` digits, a `-` before when negative.
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", x.unsigned_abs()));
}

/// Go's Time.Format: every layout element of time/format.go; `MST` prints `zone`.
fn go_format(t: &NaiveDateTime, offset: i32, layout: &str, zone: &str) -> String {
    use chrono::{Datelike, Timelike};
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    loop {
        let (prefix, element) = next_std_chunk(rest);
        out.push_str(prefix);
        let Some((std, after)) = element else {
            return out;
        };
        rest = after;
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        match std {
            Std::LongMonth => out.push_str(&t.format("%B").to_string()),
            Std::Month => out.push_str(&t.format("%b").to_string()),
            Std::NumMonth => push_int(&mut out, t.month().into(), 0),
            Std::ZeroMonth => push_int(&mut out, t.month().into(), 2),
            Std::LongWeekDay => out.push_str(&t.format("%A").to_string()),
            Std::WeekDay => out.push_str(&t.format("%a").to_string()),
            Std::Day => push_int(&mut out, t.day().into(), 0),
            Std::UnderDay => {
                if t.day() < 10 {
                    out.push(' ');
                }
                push_int(&mut out, t.day().into(), 0);
            }
            Std::ZeroDay => push_int(&mut out, t.day().into(), 2),
            Std::UnderYearDay => out.push_str(&format!("{:>3}", t.ordinal())),
            Std::ZeroYearDay => push_int(&mut out, t.ordinal().into(), 3),
            Std::Hour => push_int(&mut out, t.hour().into(), 2),
            Std::Hour12 => push_int(&mut out, hour12.into(), 0),
            Std::ZeroHour12 => push_int(&mut out, hour12.into(), 2),
            Std::Minute => push_int(&mut out, t.minute().into(), 0),
            Std::ZeroMinute => push_int(&mut out, t.minute().into(), 2),
            Std::Second => push_int(&mut out, t.second().into(), 0),
            Std::ZeroSecond => push_int(&mut out, t.second().into(), 2),
            Std::LongYear => push_int(&mut out, t.year().into(), 4),
            Std::Year => push_int(&mut out, (t.year() % 100).into(), 2),
            Std::PM => out.push_str(if t.hour() >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if t.hour() >= 12 { "pm" } else { "am" }),
            Std::Tz => out.push_str(zone),
            Std::Offset {
                iso,
                colon,
                seconds,
                hours_only,
            } => {
                if iso && offset == 0 {
                    out.push('Z');
                    continue;
                }
                let minutes = offset.abs() / 60;
                out.push(if offset < 0 { '-' } else { '+' });
                push_int(&mut out, (minutes / 60).into(), 2);
                if !hours_only {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, (minutes % 60).into(), 2);
                }
                if seconds {
                    if colon {
                        out.push(':');
                    }
                    push_int(&mut out, (offset.abs() % 60).into(), 2);
                }
            }
            Std::Fraction {
                separator,
                digits,
                trim,
            } => {
                let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                let shown = &nanos[..digits.min(9)];
                let shown = if trim {
                    shown.trim_end_matches('0')
                } else {
                    shown
                };
                if !shown.is_empty() {
                    out.push(separator as char);
                    out.push_str(shown);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_and_parse_as_go() {
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(61_000_000_000), "1m1s");
        assert_eq!(duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration_string(1_500_000), "1.5ms");
        assert_eq!(duration_string(-5_000_000_000), "-5s");
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("-24h").unwrap(), -86_400_000_000_000);
        assert_eq!(parse_duration("2h5s").unwrap(), 7_205_000_000_000);
        assert!(parse_duration("bad").is_err());
        assert!(parse_duration("").is_err());
    }

    fn layout_piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let elements = [
            "2006",
            "06",
            "01",
            "1",
            "Jan",
            "January",
            "02",
            "2",
            "_2",
            "002",
            "__2",
            "15",
            "03",
            "3",
            "04",
            "4",
            "05",
            "5",
            "PM",
            "pm",
            "MST",
            "-0700",
            "-07:00",
            "-07",
            "-070000",
            "-07:00:00",
            "Z0700",
            "Z07:00",
            "Z07",
            ".000",
            ".999",
            ",9",
            "Mon",
            "Monday",
            " ",
            "-",
            ":",
            "T",
            "_",
        ];
        prop_oneof![
            proptest::sample::select(elements.to_vec()).prop_map(str::to_string),
            any::<char>().prop_map(String::from),
        ]
    }

    proptest::proptest! {
        /// No layout and no value makes parsing or formatting panic (byte slicing inside a
        /// multi-byte character, an offset out of range, a day past the month).
        #[test]
        fn no_layout_or_value_panics(
            layout in proptest::collection::vec(layout_piece(), 0..8),
            value in proptest::collection::vec(layout_piece(), 0..8),
            digits in "[0-9+\\-:. A-Za-z]{0,30}",
            secs in -62_135_596_800i64..253_402_300_799,
        ) {
            let layout = layout.concat();
            let _ = parse_in_local(&layout, &value.concat());
            let _ = parse_in_local(&layout, &digits);
            let _ = GoTime::unix(secs).format(&layout);
        }

        /// What a layout that keeps every field prints, it reads back as the same instant.
        #[test]
        fn a_formatted_time_parses_back(
            // Two-digit years read 69..99 as 19xx and 00..68 as 20xx.
            secs in 0i64..3_100_000_000,
            nanos in 0u32..1_000_000_000,
            offset_minutes in -12 * 60i32..14 * 60,
            layout in proptest::sample::select(vec![
                "2006-01-02T15:04:05.999999999Z07:00",
                "Mon Jan _2 15:04:05.000000000 -0700 2006",
                "2006-002 3:04:05.999999999PM -07:00",
                "January 2 06 15:04:05,000000000 Z0700",
            ]),
        ) {
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let t = GoTime::at(
                DateTime::from_timestamp(secs, nanos).unwrap().with_timezone(&offset),
            );
            let text = t.format(layout);
            let back = parse_in_local(layout, &text).unwrap();
            proptest::prop_assert_eq!(back.instant, t.instant, "{} -> {}", layout, text);
            proptest::prop_assert_eq!(back.offset, t.offset, "{} -> {}", layout, text);
        }
    }

    #[test]
    fn times_print_as_go_prints_them() {
        let t = GoTime::unix(1_560_458_379);
        assert_eq!(t.display(), "2019-06-13 20:39:39 +0000 UTC");
        assert_eq!(t.format("02 Jan 06 15:04 -0700"), "13 Jun 19 20:39 +0000");
        assert_eq!(GoTime::zero().display(), "0001-01-01 00:00:00 +0000 UTC");
        let back = as_time(&t.clone().value()).unwrap();
        assert_eq!(back.instant, t.instant);
    }
}
