//! Go's fmt verbs for `printf`: %s %d %v %q %t %f %e %g %x %X %o %b %c %%, with flags, width
//! and precision, printing `%!d(float64=1)` for mismatched operands like Go does.

use super::value::{Value, format_float_g, go_sprint, shortest_digits};

pub fn sprintf(format: &str, args: &[Value]) -> String {
    sprintf_typed(format, args, &Value::type_name)
}

/// `sprintf` where `type_name` names each operand's Go type (for %T and the `%!verb(TYPE=...)`
/// of a mismatched operand): helm's own types are known to the caller only.
pub fn sprintf_typed(
    format: &str,
    args: &[Value],
    type_name: &dyn Fn(&Value) -> &'static str,
) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut plus = false;
        let mut zero = false;
        let mut space = false;
        let mut sharp = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width: Option<usize> = None;
        if chars.peek() == Some(&'*') {
            chars.next();
            match args.get(argi) {
                Some(Value::Int(w) | Value::Int64(w)) => width = Some((*w).unsigned_abs() as usize),
                Some(Value::Uint64(w)) => width = Some(*w as usize),
                _ => {}
            }
            argi += 1;
        }
        while let Some(&d) = chars.peek() {
            if let Some(v) = d.to_digit(10) {
                width = Some(
                    width
                        .unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(v as usize),
                );
                chars.next();
            } else {
                break;
            }
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            prec = Some(0);
            while let Some(&d) = chars.peek() {
                if let Some(v) = d.to_digit(10) {
                    prec = Some(
                        prec.unwrap_or(0)
                            .saturating_mul(10)
                            .saturating_add(v as usize),
                    );
                    chars.next();
                } else {
                    break;
                }
            }
        }
        // Widths and precisions beyond any sensible output would only exhaust memory.
        if width.is_some_and(|w| w > 1 << 20) || prec.is_some_and(|p| p > 1 << 10) {
            out.push_str("%!(BADWIDTH)");
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let spec = Spec {
            verb,
            width,
            prec,
            minus,
            plus,
            zero,
            space,
            sharp,
        };
        if verb == 'T' {
            out.push_str(&pad(type_name(arg), width, minus, false));
        } else {
            format_arg(&mut out, &spec, arg, type_name);
        }
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), go_sprint(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// One verb with its flags, width and precision.
struct Spec {
    verb: char,
    width: Option<usize>,
    prec: Option<usize>,
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
}

/// One operand: a slice or map element by element with the same verb (Go's printValue), the
/// others by `format_one`, padded to the width.
fn format_arg(out: &mut String, f: &Spec, arg: &Value, type_name: &dyn Fn(&Value) -> &'static str) {
    if f.verb == 'v' && f.sharp {
        out.push_str(&pad(
            &go_syntax(arg, type_name, false),
            f.width,
            f.minus,
            false,
        ));
        return;
    }
    // %v prints lists and maps itself (go_sprint) unless a width pads each element
    if f.verb != 'v' || f.width.is_some() {
        match arg {
            Value::List(l) => {
                out.push('[');
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    format_arg(out, f, e, type_name);
                }
                out.push(']');
                return;
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, e)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    format_arg(out, f, &Value::str(k), type_name);
                    out.push(':');
                    format_arg(out, f, e, type_name);
                }
                out.push(']');
                return;
            }
            // a typed slice or map ([]string, []int, map[string]string): element by element
            // too; a []byte is text to %s and %x
            Value::Object(o)
                if matches!(o.kind_name(), "slice" | "map")
                    && !o.as_any().is_some_and(|a| a.is::<super::value::GoBytes>()) =>
            {
                if let Some(d @ (Value::List(_) | Value::Map(_))) = o.as_data() {
                    format_arg(out, f, &d, type_name);
                    return;
                }
            }
            _ => {}
        }
    }
    match format_one(f.verb, arg, f.prec, f.plus, f.space, f.sharp) {
        Some(body) => out.push_str(&pad(
            &body,
            f.width,
            f.minus,
            f.zero && !f.minus && f.verb != 's' && f.verb != 'q' && f.verb != 'v',
        )),
        None => out.push_str(&bad_verb(f.verb, arg, type_name)),
    }
}

/// `%#v`: a Go-syntax representation (`[]string{"a"}`, `map[string]interface {}{"a":1}`); a
/// nil inside a slice or map of interfaces is `interface {}(nil)`.
fn go_syntax(v: &Value, type_name: &dyn Fn(&Value) -> &'static str, in_interface: bool) -> String {
    let elements = |l: &[Value]| -> String {
        l.iter()
            .map(|e| go_syntax(e, type_name, true))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let members = |m: &std::collections::BTreeMap<String, Value>| -> String {
        m.iter()
            .map(|(k, e)| format!("{}:{}", go_quote(k), go_syntax(e, type_name, true)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v {
        Value::Nil if in_interface => "interface {}(nil)".into(),
        Value::Str(s) => go_quote(s),
        Value::Uint64(u) => format!("0x{u:x}"),
        Value::List(l) => format!("{}{{{}}}", type_name(v), elements(l)),
        Value::Map(m) => format!("{}{{{}}}", type_name(v), members(&m.borrow())),
        Value::Object(o) if o.as_any().is_some_and(|a| a.is::<crate::objects::GoNil>()) => {
            format!("{}(nil)", type_name(v))
        }
        Value::Object(o) if o.as_any().is_some_and(|a| a.is::<super::value::GoTyped>()) => {
            match o.as_data() {
                Some(Value::List(l)) => format!("{}{{{}}}", type_name(v), elements(&l)),
                Some(Value::Map(m)) => format!("{}{{{}}}", type_name(v), members(&m.borrow())),
                _ => go_sprint(v),
            }
        }
        other => go_sprint(other),
    }
}

/// strconv's 'x' format of |f| with the shortest precision (`%x` of a float64): `0x1.8p+01`.
fn hex_float(f: f64) -> String {
    if !f.is_finite() {
        return format_float_g(f.abs());
    }
    let bits = f.abs().to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1u64 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    let lead = (mant >> 60) & 1;
    let mut frac = mant & ((1u64 << 60) - 1);
    let mut digits = String::new();
    while frac != 0 {
        let d = ((frac >> 56) & 0xf) as u32;
        digits.push(char::from_digit(d, 16).unwrap_or('0'));
        frac = (frac << 4) & ((1u64 << 60) - 1);
    }
    let dot = if digits.is_empty() { "" } else { "." };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("0x{lead}{dot}{digits}p{esign}{:02}", exp.abs())
}

fn bad_verb(verb: char, arg: &Value, type_name: &dyn Fn(&Value) -> &'static str) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", type_name(arg), go_sprint(arg)),
    }
}

fn pad(s: &str, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s.to_string() };
    let n = s.chars().count();
    if n >= w {
        return s.to_string();
    }
    let fill = w - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => ("-", r),
            None => ("", s),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn format_one(
    verb: char,
    arg: &Value,
    prec: Option<usize>,
    plus: bool,
    space: bool,
    sharp: bool,
) -> Option<String> {
    let sign = |neg: bool, s: String| -> String {
        if neg {
            format!("-{s}")
        } else if plus {
            format!("+{s}")
        } else if space {
            format!(" {s}")
        } else {
            s
        }
    };
    match verb {
        // Go clears `+` for %v (it asks for field names): `%+v` of 3 is `3`
        'v' => Some(match arg {
            Value::Str(s) if sharp => go_quote(s),
            _ => go_sprint(arg),
        }),
        's' => match arg {
            Value::Str(s) => Some(truncate(s, prec)),
            Value::Object(o) if o.as_any().is_some_and(|a| a.is::<super::value::GoBytes>()) => o
                .as_any()
                .and_then(|a| a.downcast_ref::<super::value::GoBytes>())
                .map(|b| truncate(&super::value::string_from_go_bytes(&b.0), prec)),
            Value::List(_) | Value::Map(_) | Value::Object(_) => Some(go_sprint(arg)),
            _ => None,
        },
        'q' => match arg {
            Value::Str(s) => {
                let s = truncate(s, prec);
                Some(if sharp && can_backquote(&s) {
                    format!("`{s}`")
                } else {
                    quote_with(&s, '"', plus)
                })
            }
            Value::Int(i) | Value::Int64(i) => Some(quote_rune(go_rune(*i as u64), plus)),
            Value::Uint64(u) => Some(quote_rune(go_rune(*u), plus)),
            _ => None,
        },
        't' => match arg {
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        },
        'd' => match arg {
            Value::Int(i) | Value::Int64(i) => Some(sign(*i < 0, i.unsigned_abs().to_string())),
            Value::Uint64(u) => Some(sign(false, u.to_string())),
            _ => None,
        },
        'b' => match arg {
            Value::Int(i) | Value::Int64(i) => {
                Some(sign(*i < 0, format!("{:b}", i.unsigned_abs())))
            }
            Value::Uint64(u) => Some(sign(false, format!("{u:b}"))),
            _ => None,
        },
        'o' => match arg {
            Value::Int(i) | Value::Int64(i) => {
                Some(sign(*i < 0, format!("{:o}", i.unsigned_abs())))
            }
            Value::Uint64(u) => Some(sign(false, format!("{u:o}"))),
            _ => None,
        },
        'c' => match arg {
            Value::Int(i) | Value::Int64(i) => Some(go_rune(*i as u64).to_string()),
            Value::Uint64(u) => Some(go_rune(*u).to_string()),
            _ => None,
        },
        'x' | 'X' => {
            let prefix = if sharp { "0x" } else { "" };
            let s = match arg {
                Value::Int(i) | Value::Int64(i) => {
                    sign(*i < 0, format!("{prefix}{:x}", i.unsigned_abs()))
                }
                Value::Uint64(u) => sign(false, format!("{prefix}{u:x}")),
                Value::Float(x) => sign(x.is_sign_negative(), hex_float(*x)),
                Value::Str(s) => {
                    // fmtSbx: the precision counts bytes; ' ' separates them, '#' adds 0x
                    // (to each with ' ')
                    let b = s.as_bytes();
                    let b = &b[..prec.map_or(b.len(), |p| p.min(b.len()))];
                    let mut out = String::new();
                    for (i, byte) in b.iter().enumerate() {
                        if space && i > 0 {
                            out.push(' ');
                        }
                        if sharp && (space || i == 0) {
                            out.push_str("0x");
                        }
                        out.push_str(&format!("{byte:02x}"));
                    }
                    out
                }
                _ => return None,
            };
            Some(if verb == 'X' { s.to_uppercase() } else { s })
        }
        'f' | 'F' => match arg {
            Value::Float(f) => Some(sign(*f < 0.0, format!("{:.*}", prec.unwrap_or(6), f.abs()))),
            _ => None,
        },
        'e' | 'E' => match arg {
            Value::Float(f) => {
                let s = format_e(f.abs(), prec.unwrap_or(6));
                let s = sign(*f < 0.0, s);
                Some(if verb == 'E' { s.to_uppercase() } else { s })
            }
            _ => None,
        },
        'g' | 'G' => match arg {
            Value::Float(f) => {
                let s = match prec {
                    None => format_float_g(f.abs()),
                    Some(p) => format_g_prec(f.abs(), p.max(1)),
                };
                Some(sign(*f < 0.0, s))
            }
            _ => None,
        },
        _ => None,
    }
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn format_e(f: f64, prec: usize) -> String {
    let s = format!("{:.*e}", prec, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn format_g_prec(f: f64, p: usize) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let e = format!("{:.*e}", p - 1, f);
    let exp: i32 = e
        .split_once('e')
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let s = format_e(f, p - 1);
        let (m, x) = s.split_once('e').unwrap_or((&s, ""));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{x}")
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, f);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// strconv.Quote: double-quoted with Go escapes, non-printable characters escaped.
pub fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// strconv's quoteWith: `s` between `quote`s, each rune as appendEscapedRune writes it
/// (`ascii`: QuoteToASCII, every rune past ASCII escaped).
fn quote_with(s: &str, quote: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        escaped_rune(&mut out, c, quote, ascii);
    }
    out.push(quote);
    out
}

/// strconv.QuoteRune (QuoteRuneToASCII with `ascii`).
pub(super) fn quote_rune(c: char, ascii: bool) -> String {
    quote_with(c.encode_utf8(&mut [0; 4]), '\'', ascii)
}

/// fmt's rune of an integer operand: past the last code point (or a surrogate) it is U+FFFD.
fn go_rune(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

/// strconv's appendEscapedRune.
fn escaped_rune(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    let printable = if ascii {
        c.is_ascii() && go_is_print(c)
    } else {
        go_is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    let u = c as u32;
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ if u < 0x20 || u == 0x7f => out.push_str(&format!("\\x{u:02x}")),
        _ if u < 0x10000 => out.push_str(&format!("\\u{u:04x}")),
        _ => out.push_str(&format!("\\U{u:08x}")),
    }
}

/// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub fn go_is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    matches!(
        go_category(c).as_bytes()[0],
        b'L' | b'M' | b'N' | b'P' | b'S'
    )
}

/// The two-letter Unicode general category Go's package unicode gives `c` (Cn for none).
pub fn go_category(c: char) -> &'static str {
    let u = c as u32;
    let runs = super::go_unicode::CATEGORY_RUNS;
    let i = runs.partition_point(|r| r.1 < u);
    match runs.get(i) {
        Some(&(lo, _, cat)) if lo <= u => super::go_unicode::CATEGORIES[cat as usize],
        _ => "Cn",
    }
}

/// strconv.CanBackquote: no control characters but tab, no backquote, no BOM.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        !(((c as u32) < 0x20 && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}')
    })
}

/// Keep `shortest_digits` reachable for callers formatting JSON-ish numbers.
pub fn float_digits(f: f64) -> (bool, String, i32) {
    shortest_digits(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_format_like_go() {
        let s = |x: &str| Value::str(x);
        assert_eq!(sprintf("%s-%d", &[s("a"), Value::Int(5)]), "a-5");
        assert_eq!(sprintf("%d", &[Value::Float(80.0)]), "%!d(float64=80)");
        assert_eq!(sprintf("%v", &[Value::Float(1e6)]), "1e+06");
        assert_eq!(sprintf("%q", &[s("a\"b")]), "\"a\\\"b\"");
        assert_eq!(
            sprintf("%05d|%-4s|%4s", &[Value::Int(42), s("ab"), s("cd")]),
            "00042|ab  |  cd"
        );
        assert_eq!(sprintf("%.2f", &[Value::Float(1.23456)]), "1.23");
        assert_eq!(sprintf("%t", &[Value::Bool(true)]), "true");
        assert_eq!(sprintf("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(sprintf("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("a"), s("b")]), "a%!(EXTRA string=b)");
        assert_eq!(sprintf("%x", &[Value::Int(255)]), "ff");
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%e", &[Value::Float(1234.5)]), "1.234500e+03");
        assert!(sprintf("%999999999999d", &[Value::Int(1)]).starts_with("%!(BADWIDTH)"));
        assert!(
            sprintf("%.99999999999999999999999f", &[Value::Float(1.0)]).starts_with("%!(BADWIDTH)")
        );
    }
}
