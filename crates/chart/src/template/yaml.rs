//! YAML and JSON as Helm produces and reads them: `toYaml` writes like sigs.k8s.io/yaml (go-yaml
//! v2 emitter: sorted keys, 2-space indent, sequences flush with their key, quoting strings that
//! would read back as another type); `toJson` writes like encoding/json (sorted keys, HTML-safe
//! escapes); YAML input turns numbers into float64 and map keys into strings.

use std::collections::BTreeMap;

use super::value::{GoJson, Value, format_float_g, format_float_json};

/// `toYaml`: the YAML text of `v`, with the trailing newline Helm trims.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit_block(&mut out, &plain(v), 0, true, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `toYamlPretty`: go-yaml v3 with a 2-space indent, which indents a sequence under its key and
/// writes float64 numbers as strconv's 'g' (not through JSON).
pub fn to_yaml_pretty(v: &Value) -> String {
    let mut out = String::new();
    emit_block(&mut out, &plain(v), 0, true, true);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn plain(v: &Value) -> Value {
    match v {
        Value::Object(o) => match o.json() {
            Some(GoJson::Null) => Value::Nil,
            Some(GoJson::Fields(f)) => Value::map(f.into_iter().collect()),
            None => o.as_data().unwrap_or_else(|| Value::string(o.display())),
        },
        other => other.clone(),
    }
}

/// Emit `v` at `indent`; `inline` means the cursor already sits where the first line goes
/// (document start, or after `- `).
fn emit_block(out: &mut String, v: &Value, indent: usize, inline: bool, pretty: bool) {
    match v {
        Value::Map(m) if !m.borrow().is_empty() => {
            for (i, (k, item)) in m.borrow().iter().enumerate() {
                if i > 0 || !inline {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&scalar_string(k, true));
                out.push(':');
                let item = plain(item);
                match &item {
                    Value::Map(cm) if !cm.borrow().is_empty() => {
                        out.push('\n');
                        emit_block(out, &item, indent + 2, false, pretty);
                    }
                    // go-yaml v2 puts a sequence under a key at the key's own indentation.
                    Value::List(cl) if !cl.is_empty() => {
                        out.push('\n');
                        let at = if pretty { indent + 2 } else { indent };
                        emit_block(out, &item, at, false, pretty);
                    }
                    _ => emit_scalar_after(out, &item, indent + 2, pretty),
                }
            }
        }
        Value::List(l) if !l.is_empty() => {
            for (i, item) in l.iter().enumerate() {
                if i > 0 || !inline {
                    out.push_str(&" ".repeat(indent));
                }
                out.push('-');
                let item = plain(item);
                match &item {
                    Value::Map(cm) if !cm.borrow().is_empty() => {
                        out.push(' ');
                        emit_block(out, &item, indent + 2, true, pretty);
                    }
                    Value::List(cl) if !cl.is_empty() => {
                        out.push(' ');
                        emit_block(out, &item, indent + 2, true, pretty);
                    }
                    _ => emit_scalar_after(out, &item, indent + 2, pretty),
                }
            }
        }
        other => emit_scalar_inline(out, other, indent, pretty),
    }
}

/// ` scalar\n` after a `key:` or `-`.
fn emit_scalar_after(out: &mut String, v: &Value, indent: usize, pretty: bool) {
    out.push(' ');
    emit_scalar_inline(out, v, indent, pretty);
}

fn emit_scalar_inline(out: &mut String, v: &Value, indent: usize, pretty: bool) {
    match v {
        Value::Str(s) if s.contains('\n') && literal_ok(s) => {
            let chomp = if s.ends_with("\n\n") || &**s == "\n" {
                "+"
            } else if s.ends_with('\n') {
                ""
            } else {
                "-"
            };
            let ind_indicator = if s.starts_with(' ') || s.starts_with('\n') {
                "2"
            } else {
                ""
            };
            out.push('|');
            out.push_str(ind_indicator);
            out.push_str(chomp);
            out.push('\n');
            let body = s.strip_suffix('\n').unwrap_or(s);
            let pad = " ".repeat(indent.max(2));
            let pad = if indent == 0 { "  ".to_string() } else { pad };
            for line in body.split('\n') {
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
                out.push('\n');
            }
            return;
        }
        Value::Str(s) => {
            let repr = scalar_string(s, false);
            push_folded(out, &repr, indent);
        }
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) if pretty && f.is_finite() => out.push_str(&format_float_g(*f)),
        // go-yaml v3's floats past the finite ones
        Value::Float(f) if pretty => out.push_str(if f.is_nan() {
            ".nan"
        } else if *f > 0.0 {
            ".inf"
        } else {
            "-.inf"
        }),
        Value::Float(f) => out.push_str(&yaml_float(*f)),
        Value::Map(_) => out.push_str("{}"),
        Value::List(_) => out.push_str("[]"),
        Value::Object(o) => out.push_str(&scalar_string(&o.display(), false)),
    }
    out.push('\n');
}

/// A float64 as it comes out of toYaml: via JSON, so integral values print as integers.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+.inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f == 0.0 {
        // JSON's -0 reads back as the YAML integer 0
        return "0".into();
    }
    let j = format_float_json(f);
    if j.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
        j
    } else {
        format_float_g(f)
    }
}

/// go-yaml v2 folds plain and quoted scalars at spaces once the line is past 80 columns
/// (yaml_emitter_write_*_scalar with best_width 80); the break replaces one space.
fn push_folded(out: &mut String, repr: &str, indent: usize) {
    const BEST_WIDTH: usize = 80;
    let mut column = out
        .rfind('\n')
        .map(|i| out[i + 1..].chars().count())
        .unwrap_or_else(|| out.chars().count());
    let double = repr.starts_with('"');
    let chars: Vec<char> = repr.chars().collect();
    let quoted = double || repr.starts_with('\'');
    let (first, last) = if quoted {
        (1, chars.len().saturating_sub(2))
    } else {
        (0, chars.len().saturating_sub(1))
    };
    let mut prev_space = false;
    for (i, c) in chars.iter().enumerate() {
        if *c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            let inside = i > first && i < last;
            let may_break = !prev_space && column > BEST_WIDTH && inside && (double || !next_space);
            if may_break {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
                if double && next_space {
                    out.push('\\');
                    column += 1;
                }
            } else {
                out.push(' ');
                column += 1;
            }
            prev_space = true;
        } else {
            out.push(*c);
            column += 1;
            prev_space = false;
        }
    }
}

fn literal_ok(s: &str) -> bool {
    // go-yaml falls back to double quotes when a line ends in a space or holds control chars.
    !s.split('\n').any(|l| l.ends_with(' ') || l.ends_with('\t'))
        && !s
            .chars()
            .any(|c| (c as u32) < 0x20 && c != '\n' && c != '\t' || unprintable(c))
        && !s.contains('\r')
}

/// A character go-yaml's emitter (v2 and v3 alike) does not count as printable past the ASCII
/// controls, and so double-quotes and escapes: DEL, the C1 controls, the BOM, U+FFFE, U+FFFF
/// and, as its test reads only up to three UTF-8 bytes, every character past U+FFFF.
fn unprintable(c: char) -> bool {
    let u = c as u32;
    u == 0x7f || (0x80..0xa0).contains(&u) || u == 0xfeff || u >= 0xfffe
}

/// Would a plain scalar read back as something other than this string (YAML 1.1 rules as
/// go-yaml v2 resolves them)?
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if s.is_empty() || SPECIAL.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' {
        let plain: String = s.chars().filter(|c| *c != '_').collect();
        if plain.parse::<i64>().is_ok() || plain.parse::<f64>().is_ok() {
            return true;
        }
        let body = plain.trim_start_matches(['-', '+']);
        if let Some(h) = body.strip_prefix("0x")
            && !h.is_empty()
            && h.bytes().all(|c| c.is_ascii_hexdigit())
        {
            return true;
        }
        if let Some(b) = body.strip_prefix("0b")
            && !b.is_empty()
            && b.bytes().all(|c| c == b'0' || c == b'1')
        {
            return true;
        }
        // base 60: 1:20
        if body.contains(':')
            && body
                .split(':')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        {
            return true;
        }
        // timestamps resolve too
        if looks_like_timestamp(s) {
            return true;
        }
    }
    false
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn plain_allowed(s: &str, is_key: bool) -> bool {
    let _ = is_key;
    if s.is_empty() {
        return false;
    }
    let b = s.as_bytes();
    let first = b[0];
    if b" \t".contains(&first) || b" \t".contains(&b[b.len() - 1]) {
        return false;
    }
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        // "-x" is fine as plain when followed by non-space, except for "- " and ": "
        let ok = (first == b'-' || first == b'?' || first == b':')
            && b.len() > 1
            && !b" \t".contains(&b[1]);
        if !ok {
            return false;
        }
        if s == "---" {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars().any(|c| (c as u32) < 0x20 || unprintable(c)) {
        return false;
    }
    // flow indicators inside are fine in block context, but go-yaml quotes them anyway
    true
}

fn scalar_string(s: &str, is_key: bool) -> String {
    if resolves_to_non_string(s) {
        return double_quote(s);
    }
    if plain_allowed(s, is_key) {
        return s.to_string();
    }
    if s.chars().any(|c| (c as u32) < 0x20 || unprintable(c)) {
        return double_quote(s);
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn double_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || (c as u32) >= 0x80 && unprintable(c) => {
                let u = c as u32;
                out.push_str(&match u {
                    ..=0xff => format!("\\x{u:02X}"),
                    0x100..=0xffff => format!("\\u{u:04X}"),
                    _ => format!("\\U{u:08X}"),
                })
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `toJson`: compact JSON like Go's encoding/json.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, None, true, 0);
    out
}

/// `toRawJson`: encoding/json's Encoder with SetEscapeHTML(false).
pub fn to_raw_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, None, false, 0);
    out
}

/// `toPrettyJson`: json.MarshalIndent with two spaces.
pub fn to_pretty_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, Some("  "), true, 0);
    out
}

/// encoding/json's error for `v`, if it holds a float64 JSON has no number for (NaN, ±Inf):
/// the first one in the order json.Marshal writes.
pub fn json_unsupported(v: &Value) -> Option<String> {
    match v {
        Value::Float(f) if !f.is_finite() => {
            Some(format!("json: unsupported value: {}", format_float_g(*f)))
        }
        Value::List(l) => l.iter().find_map(json_unsupported),
        Value::Map(m) => m.borrow().values().find_map(json_unsupported),
        Value::Object(o) => match (o.json(), o.as_data()) {
            (Some(GoJson::Fields(f)), _) => f.iter().find_map(|(_, v)| json_unsupported(v)),
            (None, Some(d)) => json_unsupported(&d),
            _ => None,
        },
        _ => None,
    }
}

/// Whether toYaml's YAML reading of its own JSON (sigs.k8s.io/yaml) stops at a character
/// go-yaml's reader refuses, which encoding/json writes as it is (DEL, C1 controls, U+FFFE,
/// U+FFFF): toYaml then gives nothing.
pub fn yaml_unreadable(v: &Value) -> bool {
    let bad = |s: &str| {
        s.chars().any(|c| {
            let u = c as u32;
            u == 0x7f || (0x80..=0x9f).contains(&u) && u != 0x85 || u == 0xfffe || u == 0xffff
        })
    };
    match v {
        Value::Str(s) => bad(s),
        Value::List(l) => l.iter().any(yaml_unreadable),
        Value::Map(m) => m.borrow().iter().any(|(k, v)| bad(k) || yaml_unreadable(v)),
        Value::Object(o) => match (o.json(), o.as_data()) {
            (Some(GoJson::Fields(f)), _) => f.iter().any(|(k, v)| bad(k) || yaml_unreadable(v)),
            (None, Some(d)) => yaml_unreadable(&d),
            (None, None) => bad(&o.display()),
            _ => false,
        },
        _ => false,
    }
}

/// A newline and `depth` indents, when indenting.
fn nl(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(i) = indent {
        out.push('\n');
        out.push_str(&i.repeat(depth));
    }
}

fn write_json(out: &mut String, v: &Value, indent: Option<&str>, html: bool, depth: usize) {
    let nl = |out: &mut String, d: usize| nl(out, indent, d);
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&format_float_json(*f)),
        Value::Str(s) => json_string(out, s, html),
        Value::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                write_json(out, item, indent, html, depth + 1);
            }
            nl(out, depth);
            out.push(']');
        }
        Value::Map(m) => write_json_object(out, m.borrow().iter(), indent, html, depth),
        Value::Object(o) => match (o.json(), o.as_data()) {
            (Some(GoJson::Null), _) => out.push_str("null"),
            (Some(GoJson::Fields(f)), _) => {
                write_json_object(out, f.iter().map(|(k, v)| (k, v)), indent, html, depth)
            }
            (None, Some(d)) => write_json(out, &d, indent, html, depth),
            (None, None) => json_string(out, &o.display(), html),
        },
    }
}

/// A JSON object's members, `{}` when there are none (a map and a Go struct alike).
fn write_json_object<'a, K: AsRef<str> + 'a>(
    out: &mut String,
    members: impl Iterator<Item = (&'a K, &'a Value)>,
    indent: Option<&str>,
    html: bool,
    depth: usize,
) {
    out.push('{');
    let mut any = false;
    for (k, item) in members {
        if any {
            out.push(',');
        }
        any = true;
        nl(out, indent, depth + 1);
        json_string(out, k.as_ref(), html);
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        write_json(out, item, indent, html, depth + 1);
    }
    if any {
        nl(out, indent, depth);
    }
    out.push('}');
}

fn json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' if html => out.push_str("\\u003c"),
            '>' if html => out.push_str("\\u003e"),
            '&' if html => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // a byte of invalid UTF-8 (a Go string cut inside a character): encoding/json
            // writes U+FFFD for it
            c if (c as u32) >= 0x10FF00 => out.push_str("\\ufffd"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parse the first YAML document of `text` the way Helm reads values and `fromYaml` input.
pub fn from_yaml_str(text: &str) -> Result<Value, String> {
    super::yaml_load::load(text).map_err(|e| e.to_string())
}

pub fn from_yaml(y: &serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match y {
        Y::Null => Value::Nil,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        Y::String(s) => Value::str(s),
        Y::Sequence(seq) => Value::list(seq.iter().map(from_yaml).collect()),
        Y::Mapping(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                // Merge keys (<<) expand like go-yaml does.
                if k.as_str() == Some("<<") {
                    let sources: Vec<&Y> = match v {
                        Y::Sequence(s) => s.iter().collect(),
                        other => vec![other],
                    };
                    for src in sources {
                        if let Value::Map(sm) = from_yaml(src) {
                            for (sk, sv) in sm.borrow().iter() {
                                out.entry(sk.clone()).or_insert_with(|| sv.clone());
                            }
                        }
                    }
                    continue;
                }
                out.insert(yaml_key(k), from_yaml(v));
            }
            Value::map(out)
        }
        Y::Tagged(t) => from_yaml(&t.value),
    }
}

fn yaml_key(k: &serde_yaml_ng::Value) -> String {
    use serde_yaml_ng::Value as Y;
    match k {
        Y::String(s) => s.clone(),
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::Null => "null".into(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(yaml: &str) -> Value {
        from_yaml_str(yaml).unwrap()
    }

    #[test]
    fn to_yaml_matches_go_yaml_v2_layout() {
        let val = v("b: [1, two]\na: {x: 1, \"y\": {}}\nc: []\nd: null\ne: 1.5\nf: 1000000\n");
        assert_eq!(
            to_yaml(&val),
            "a:\n  x: 1\n  \"y\": {}\nb:\n- 1\n- two\nc: []\nd: null\ne: 1.5\nf: 1000000\n"
        );
    }

    #[test]
    fn to_yaml_quotes_strings_that_would_change_type() {
        let val = v("a: 'true'\nb: '8080'\nc: ''\nd: 'x: y'\ne: '*'\nf: plain text\ng: 'yes'\n");
        assert_eq!(
            to_yaml(&val),
            "a: \"true\"\nb: \"8080\"\nc: \"\"\nd: 'x: y'\ne: '*'\nf: plain text\ng: \"yes\"\n"
        );
    }

    #[test]
    fn to_yaml_lists_of_maps_and_multiline() {
        let val = v("l:\n- name: a\n  port: 80\n- name: b\ns: \"line1\\nline2\\n\"\n");
        assert_eq!(
            to_yaml(&val),
            "l:\n- name: a\n  port: 80\n- name: b\ns: |\n  line1\n  line2\n"
        );
    }

    #[test]
    fn to_yaml_round_trips() {
        let src = "a:\n  b:\n  - c: [1, 2]\n    d: {e: 'f'}\n  - - x\n    - y\n";
        let val = v(src);
        let again = v(&to_yaml(&val));
        assert_eq!(val.to_json(), again.to_json());
    }

    #[test]
    fn long_scalars_fold_past_eighty_columns_like_go_yaml() {
        let long = "this is a very long string with many words that goes well past eighty columns in width for sure yes";
        let val = Value::map(BTreeMap::from([("long".to_string(), Value::str(long))]));
        let y = to_yaml(&val);
        assert_eq!(
            y,
            "long: this is a very long string with many words that goes well past eighty columns\n  in width for sure yes\n"
        );
        assert_eq!(from_yaml_str(&y).unwrap().to_json(), val.to_json());
        let quoted = format!("{long}: x");
        let val = Value::map(BTreeMap::from([(
            "q".to_string(),
            Value::string(quoted.clone()),
        )]));
        let back = from_yaml_str(&to_yaml(&val)).unwrap();
        assert_eq!(back.to_json(), val.to_json());
    }

    #[test]
    fn to_json_is_compact_sorted_and_html_safe() {
        let val = v("b: '<a&b>'\na: [1, 2.5]\n");
        assert_eq!(to_json(&val), r#"{"a":[1,2.5],"b":"\u003ca\u0026b\u003e"}"#);
    }
}
