//! Sprig's date functions over a Go `time.Time`: `now`, `toDate` and `dateModify` return one
//! (it prints as Go prints a time, `typeOf` says time.Time, its methods work), the formatting
//! functions take one or a Unix time as Go `int`/`int64` and fall back to the current time for
//! anything else (a string, a float64 from values), as sprig does.
//!
//! The machine's local time zone is UTC here (helm uses the one of the machine it runs on: the
//! README lists this among the environment-dependent differences).

use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, Offset, Utc};

use super::funcs::{FuncEnv, FuncError, R, err, nargs, s};
use super::value::{Object, Value};

/// A Go time.Time: the instant with its offset, and the monotonic clock reading `time.Now`
/// attaches (printed as ` m=+0.001`).
#[derive(Debug, Clone)]
pub struct GoTime {
    pub t: DateTime<FixedOffset>,
    /// Seconds on the monotonic clock since the first `now` of this process.
    pub mono: Option<f64>,
    /// The name of its zone when it is not the one its offset gives (a TOML local date-time's
    /// `datetime-local`, a `time.FixedZone("")` printed as its offset).
    pub zone: Option<String>,
}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl GoTime {
    pub fn now() -> GoTime {
        let start = process_start();
        GoTime {
            t: Utc::now().fixed_offset(),
            mono: Some(start.elapsed().as_secs_f64().max(1e-9)),
            zone: None,
        }
    }

    /// Go's zero time (what toDate returns for text it cannot read).
    pub fn zero() -> GoTime {
        let t = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc().fixed_offset())
            .unwrap_or_default();
        GoTime {
            t,
            mono: None,
            zone: None,
        }
    }

    pub fn unix(secs: i64) -> GoTime {
        GoTime {
            t: DateTime::from_timestamp(secs, 0)
                .unwrap_or_default()
                .fixed_offset(),
            mono: None,
            zone: None,
        }
    }

    pub fn value(self) -> Value {
        Value::Object(Rc::new(self))
    }

    fn is_zero(&self) -> bool {
        self.t.naive_utc() == GoTime::zero().t.naive_utc()
    }

    /// The zone's name as Go prints it (`MST` in layouts, the last word of String()).
    fn zone_name(&self) -> String {
        if let Some(z) = &self.zone {
            return z.clone();
        }
        let off = self.t.offset().fix().local_minus_utc();
        if off == 0 {
            return "UTC".into();
        }
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
        if s != 0 {
            format!("{sign}{h:02}{m:02}{s:02}")
        } else if m != 0 {
            format!("{sign}{h:02}{m:02}")
        } else {
            format!("{sign}{h:02}")
        }
    }

    pub fn format(&self, layout: &str) -> String {
        go_format(&self.t, layout, &self.zone_name())
    }

    fn add_nanos(&self, d: i64) -> GoTime {
        GoTime {
            t: self.t + chrono::Duration::nanoseconds(d),
            mono: self.mono.map(|m| m + d as f64 / 1e9),
            zone: self.zone.clone(),
        }
    }
}

fn utc_offset() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| Utc.fix())
}

impl Object for GoTime {
    fn type_name(&self) -> &'static str {
        "time.Time"
    }

    fn field(&self, name: &str) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        Some(match name {
            "Unix" => Value::Int64(self.t.timestamp()),
            "UnixMilli" => Value::Int64(self.t.timestamp_millis()),
            "UnixNano" => Value::Int64(self.t.timestamp_nanos_opt().unwrap_or(0)),
            "Year" => Value::Int(self.t.year() as i64),
            "Month" => Value::string(self.format("January")),
            "Day" => Value::Int(self.t.day() as i64),
            "Hour" => Value::Int(self.t.hour() as i64),
            "Minute" => Value::Int(self.t.minute() as i64),
            "Second" => Value::Int(self.t.second() as i64),
            "Nanosecond" => Value::Int(self.t.nanosecond() as i64),
            "YearDay" => Value::Int(self.t.ordinal() as i64),
            "Weekday" => Value::string(self.format("Monday")),
            "IsZero" => Value::Bool(self.is_zero()),
            "String" => Value::string(self.display()),
            "UTC" | "Local" => GoTime {
                t: self.t.with_timezone(&utc_offset()),
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
                let (a, b) = (self.t, other.t);
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
    Ok(Value::string(time_arg(&a[0])?.t.timestamp().to_string()))
}

/// Only UTC (and Local, which is UTC here) are known; Go falls back to UTC for a zone it cannot
/// load, so every zone formats as UTC.
fn date_in_zone(layout: &str, d: &Value, _zone: &str) -> String {
    let t = time_or_now(d);
    GoTime {
        t: t.t.with_timezone(&utc_offset()),
        mono: None,
        zone: None,
    }
    .format(layout)
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

fn parse_in_local(layout: &str, x: &str) -> Result<GoTime, String> {
    let fmt = go_layout(layout);
    let parsed = DateTime::parse_from_str(x, &fmt)
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(x, &fmt)
                .ok()
                .map(|n| n.and_utc().fixed_offset())
        })
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(x, &fmt)
                .ok()
                .and_then(|n| n.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc().fixed_offset())
        });
    match parsed {
        Some(t) => Ok(GoTime {
            t,
            mono: None,
            zone: None,
        }),
        None => Err(parse_error(layout, x)),
    }
}

/// Go's time.Parse error for the common cases: a field out of range, or text that does not
/// match the layout.
fn parse_error(layout: &str, x: &str) -> String {
    let q = super::gofmt::go_quote;
    // A numeric date that only fails on a field's range.
    if layout.starts_with("2006-01-02") && x.len() >= 10 {
        let month = x.get(5..7).and_then(|m| m.parse::<u32>().ok());
        let day = x.get(8..10).and_then(|d| d.parse::<u32>().ok());
        if let (Some(m), Some(d)) = (month, day)
            && x.as_bytes()[4] == b'-'
            && x.as_bytes()[7] == b'-'
        {
            if !(1..=12).contains(&m) {
                return format!("parsing time {}: month out of range", q(x));
            }
            if !(1..=31).contains(&d) {
                return format!("parsing time {}: day out of range", q(x));
            }
        }
    }
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        q(x),
        q(layout),
        q(x),
        q(layout)
    )
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
    (now.fixed_offset() - t.t)
        .num_nanoseconds()
        .unwrap_or(i64::MAX)
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

/// Go's reference-time layout ("2006-01-02 15:04:05") translated to chrono.
pub fn go_layout(layout: &str) -> String {
    let map = [
        ("2006", "%Y"),
        ("January", "%B"),
        ("Jan", "%b"),
        ("Monday", "%A"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("PM", "%p"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("Z07:00", "%:z"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (g, c) in map {
            if let Some(r) = rest.strip_prefix(g) {
                out.push_str(c);
                rest = r;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if ch == '%' {
            out.push_str("%%");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Go's Time.Format for the layout elements charts use; `.999…` drops trailing zeros, `MST`
/// prints `zone`.
fn go_format(t: &DateTime<FixedOffset>, layout: &str, zone: &str) -> String {
    use chrono::Timelike;
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("MST") {
            out.push_str(zone);
            rest = r;
            continue;
        }
        if rest.starts_with(".9") || rest.starts_with(",9") {
            let n = rest[1..].bytes().take_while(|c| *c == b'9').count();
            let ns = t.nanosecond() % 1_000_000_000;
            let digits = format!("{ns:09}");
            let d = digits[..n.min(9)].trim_end_matches('0');
            if !d.is_empty() {
                out.push(rest.as_bytes()[0] as char);
                out.push_str(d);
            }
            rest = &rest[1 + n..];
            continue;
        }
        if rest.starts_with("Z07:00") || rest.starts_with("Z0700") {
            let long = rest.starts_with("Z07:00");
            if t.offset().local_minus_utc() == 0 {
                out.push('Z');
            } else {
                out.push_str(&t.format(if long { "%:z" } else { "%z" }).to_string());
            }
            rest = &rest[if long { 6 } else { 5 }..];
            continue;
        }
        // The next layout element (up to the next one of the above).
        let cut = ["MST", ".9", ",9", "Z07"]
            .iter()
            .filter_map(|p| rest[1..].find(p).map(|k| k + 1))
            .min()
            .unwrap_or(rest.len());
        let piece = &rest[..cut];
        out.push_str(&t.format(&go_layout(piece)).to_string());
        rest = &rest[cut..];
    }
    out
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

    #[test]
    fn times_print_as_go_prints_them() {
        let t = GoTime::unix(1_560_458_379);
        assert_eq!(t.display(), "2019-06-13 20:39:39 +0000 UTC");
        assert_eq!(t.format("02 Jan 06 15:04 -0700"), "13 Jun 19 20:39 +0000");
        assert_eq!(GoTime::zero().display(), "0001-01-01 00:00:00 +0000 UTC");
        let back = as_time(&t.clone().value()).unwrap();
        assert_eq!(back.t, t.t);
    }
}
