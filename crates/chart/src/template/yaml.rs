//! YAML and JSON as Helm produces and reads them: `toYaml` writes like sigs.k8s.io/yaml (go-yaml
//! v2 emitter: sorted keys, 2-space indent, sequences flush with their key, quoting strings that
//! would read back as another type); `toJson` writes like encoding/json (sorted keys, HTML-safe
//! escapes); YAML input turns numbers into float64 and map keys into strings.

use std::collections::BTreeMap;

use super::value::{
    GoBytes, GoJson, GoRune, Value, format_float_g, format_float_json, go_bytes, go_chars_view,
    go_lossy, go_runes, has_markers, push_go_char,
};

/// `toYaml`: the YAML text of `v`, with the trailing newline Helm trims. sigs.k8s.io/yaml
/// marshals `v` to JSON, reads that JSON back with go-yaml v2 and emits it with go-yaml v2: so
/// numbers come out as encoding/json prints them (integral ones as ints), strings as the
/// JSON-quoted scalar reads back. When any step fails, helm's toYaml swallows the error: "".
pub fn to_yaml(v: &Value) -> String {
    let mut e = Emitter::new(false);
    if e.node(v, true, false, false, false).is_err() {
        return String::new();
    }
    e.write_indent();
    e.out
}

/// `toYamlPretty`: go-yaml v3 with a 2-space indent, which indents a sequence under its key and
/// writes float64 numbers as strconv's 'g' (not through JSON).
pub fn to_yaml_pretty(v: &Value) -> String {
    let mut e = Emitter::new(true);
    if e.node(v, true, false, false, false).is_err() {
        return String::new();
    }
    e.write_indent();
    e.out
}

fn plain(v: &Value) -> Value {
    match v {
        Value::Object(o) => match o.json() {
            Some(GoJson::Null) => Value::Nil,
            Some(GoJson::Fields(f)) => Value::map(f.into_iter().collect()),
            Some(GoJson::Str(s)) => Value::string(s),
            None => o.as_data().unwrap_or_else(|| Value::string(o.display())),
        },
        other => other.clone(),
    }
}

/// A step of the marshalling that fails in Go (json.Marshal of NaN, go-yaml reading back a
/// JSON string with a control character or a document marker after a NEL).
struct Unencodable;

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What yaml_emitter_analyze_scalar finds in a scalar.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

const BEST_WIDTH: usize = 80;
const BEST_INDENT: isize = 2;

/// go-yaml's emitter (emitterc.go) for the events a Go value produces: block mappings and
/// sequences, `{}` and `[]` for empty ones, scalars; with its column, whitespace and
/// indentation state, so that breaks and folding fall where go-yaml puts them.
struct Emitter {
    out: String,
    /// go-yaml v3 (toYamlPretty): sequences indented under their key, v3's key order, floats
    /// as 'g'.
    v3: bool,
    column: usize,
    indent: isize,
    indents: Vec<isize>,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn new(v3: bool) -> Self {
        Emitter {
            out: String::new(),
            v3,
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    /// yaml_emitter_emit_node for one Go value.
    fn node(
        &mut self,
        v: &Value,
        _root: bool,
        sequence: bool,
        mapping: bool,
        simple_key: bool,
    ) -> Result<(), Unencodable> {
        let _ = sequence;
        match v {
            // helm's toYaml goes through encoding/json, which refuses some times
            Value::Object(_) if !self.v3 && time_json_error(v).is_some() => Err(Unencodable),
            // go-yaml v3 writes a time as a plain RFC 3339 scalar, never quoted
            Value::Object(_) if self.v3 && super::dates::as_time(v).is_some() => {
                let t = super::dates::as_time(v)
                    .map(|t| t.format("2006-01-02T15:04:05.999999999Z07:00"));
                self.plain_scalar(&t.unwrap_or_default(), simple_key)
            }
            // go-yaml v3 writes a []byte as the list of its numbers (`[]` when nil), not
            // through JSON
            Value::Object(o) if self.v3 && GoBytes::of(v).is_some() => {
                let items = o.as_data().unwrap_or_else(|| Value::list(Vec::new()));
                self.node(&items, _root, sequence, mapping, simple_key)
            }
            Value::Object(_) => self.node(&plain(v), _root, sequence, mapping, simple_key),
            Value::Map(m) if !m.borrow().is_empty() => {
                let m = m.borrow();
                let mut keys: Vec<(std::borrow::Cow<'_, str>, &Value)> =
                    Vec::with_capacity(m.len());
                for (k, item) in m.iter() {
                    let k = if self.v3 {
                        go_chars_view(k)
                    } else {
                        json_round_trip(k, true)?
                    };
                    keys.push((k, item));
                }
                let v3 = self.v3;
                if keys.windows(2).any(|w| !key_less(&w[0].0, &w[1].0, v3)) {
                    keys.sort_by(|a, b| key_order(&a.0, &b.0, v3));
                }
                self.increase_indent(false, false);
                for (k, item) in keys {
                    self.write_indent();
                    let (style, an) = string_style(&k);
                    if !an.multiline && k.len() <= 128 {
                        self.scalar(&k, style, &an, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(&k, style, &an, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, false, false, true, false)?;
                }
                self.pop_indent();
                Ok(())
            }
            Value::List(l) if !l.is_empty() => {
                let indentless = !self.v3 && mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in l.iter() {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, false, true, false, false)?;
                }
                self.pop_indent();
                Ok(())
            }
            Value::Map(_) => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
                Ok(())
            }
            Value::List(_) => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
                Ok(())
            }
            // go-yaml v3 writes a string that is not valid UTF-8 as !!binary base64 (lines of 70)
            Value::Str(s)
                if self.v3
                    && has_markers(s)
                    && go_runes(s).any(|r| matches!(r, GoRune::Byte(_))) =>
            {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD.encode(go_bytes(s));
                let lines = b64.len() / 70 + 1;
                let mut enc = String::with_capacity(b64.len() + lines);
                for chunk in b64.as_bytes().chunks(70) {
                    enc.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                    if lines > 1 {
                        enc.push('\n');
                    }
                }
                self.write_indicator("!!binary", true, false, false);
                let an = analyze(&enc);
                let style = if enc.contains('\n') {
                    Style::Literal
                } else {
                    Style::Plain
                };
                self.scalar(&enc, style, &an, simple_key);
                Ok(())
            }
            Value::Str(s) => {
                let s = if self.v3 {
                    go_chars_view(s)
                } else {
                    json_round_trip(s, false)?
                };
                let (style, an) = string_style(&s);
                self.scalar(&s, style, &an, simple_key);
                Ok(())
            }
            Value::Nil => self.plain_scalar("null", simple_key),
            Value::Bool(b) => self.plain_scalar(if *b { "true" } else { "false" }, simple_key),
            Value::Int(i) | Value::Int64(i) => self.plain_scalar(&i.to_string(), simple_key),
            Value::Uint64(u) => self.plain_scalar(&u.to_string(), simple_key),
            Value::Uint8(u) => self.plain_scalar(&u.to_string(), simple_key),
            Value::Float(f) if self.v3 => {
                let s = match format_float_g(*f).as_str() {
                    "+Inf" => ".inf".to_string(),
                    "-Inf" => "-.inf".to_string(),
                    "NaN" => ".nan".to_string(),
                    s => s.to_string(),
                };
                self.plain_scalar(&s, simple_key)
            }
            Value::Float(f) => {
                if !f.is_finite() {
                    return Err(Unencodable); // json: unsupported value
                }
                // encoding/json's text, read back by go-yaml: an int when it fits one.
                let j = format_float_json(*f);
                let s = if j == "-0" {
                    // JSON's -0 reads back as the YAML integer 0
                    "0".to_string()
                } else if j.parse::<i64>().is_ok() || j.parse::<u64>().is_ok() {
                    j
                } else {
                    format_float_g(*f)
                };
                self.plain_scalar(&s, simple_key)
            }
        }
    }

    fn plain_scalar(&mut self, s: &str, simple_key: bool) -> Result<(), Unencodable> {
        let an = analyze(s);
        self.scalar(s, Style::Plain, &an, simple_key);
        Ok(())
    }

    /// yaml_emitter_emit_scalar: select the style, then write it one indent deeper.
    fn scalar(&mut self, s: &str, style: Style, an: &Analysis, simple_key: bool) {
        let mut style = style;
        if simple_key && an.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!an.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !an.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!an.block_allowed || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks),
            Style::Single => self.write_single(s, allow_breaks),
            Style::Double => self.write_double(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && it.peek() != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let n = s.chars().count();
        let mut it = s.chars().enumerate().peekable();
        while let Some((i, c)) = it.next() {
            if c == ' ' {
                let next_space = it.peek().map(|p| p.1) == Some(' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < n
                    && !next_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let bom = s.starts_with('\u{feff}');
        let mut spaces = false;
        let n = s.chars().count();
        let mut it = s.chars().enumerate().peekable();
        while let Some((i, c)) = it.next() {
            if !is_printable(c) || bom || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    c => {
                        let v = c as u32;
                        let (ind, w) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(ind);
                        for k in (0..w).rev() {
                            let d = (v >> (k * 4)) & 0xF;
                            self.put(char::from_digit(d, 16).unwrap_or('0').to_ascii_uppercase());
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i + 1 < n {
                    self.write_indent();
                    if it.peek().map(|p| p.1) == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_indicator("2", false, false, false);
        }
        let mut rev = s.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        if let Some(c) = chomp {
            self.write_indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml's is_printable: no tab, no C1 control but NEL is not printable either, nothing
/// outside the BMP.
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// yaml_emitter_analyze_scalar (with unicode output on), for a block context.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let b = s.as_bytes();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let next = it.peek().map(|p| p.1);
        let followed_by_whitespace = next.is_none_or(|n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        let last = i + c.len_utf8() == b.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t') || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// encode.go's stringv: literal with a newline, plain when it resolves to a string, else
/// double-quoted; with the analysis the emitter makes of it.
fn string_style(s: &str) -> (Style, Analysis) {
    let style = if s.contains('\n') {
        Style::Literal
    } else if super::yaml_load::resolves_as_str(s) && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::Double
    };
    (style, analyze(s))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i < start + 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            // [0-5]?[0-9] backtracks to one digit when the first is past 5: then a digit
            // follows, which only a third group or the end could take; it cannot.
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// A string as go-yaml v2 reads it back from encoding/json's text: a byte of invalid UTF-8
/// became U+FFFD; a raw C1 control (but NEL), U+FFFE or U+FFFF fails go-yaml's reader; a raw
/// NEL is a line break inside the quoted scalar, folded with the spaces around it; in a key it
/// fails the flow mapping (a simple key cannot span lines: "did not find expected ',' or '}'").
fn json_round_trip(s: &str, key: bool) -> Result<std::borrow::Cow<'_, str>, Unencodable> {
    // the runes Go's bytes spell, a byte of invalid UTF-8 as U+FFFD
    let s = go_lossy(s);
    if !s
        .chars()
        .any(|c| matches!(c as u32, 0x7F..=0x9F | 0xFFFE | 0xFFFF))
    {
        return Ok(s);
    }
    if key && s.contains('\u{85}') {
        return Err(Unencodable);
    }
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c as u32 {
            0x85 | 0x20 => {
                // a run of spaces and NELs
                let start = i;
                while i < chars.len() && matches!(chars[i], ' ' | '\u{85}') {
                    i += 1;
                }
                let run = &chars[start..i];
                let nels = run.iter().filter(|c| **c == '\u{85}').count();
                if nels == 0 {
                    out.extend(run);
                } else {
                    // a document marker at the start of a line ends the scalar: an error
                    if run.last() == Some(&'\u{85}') {
                        let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
                        let marker = rest.starts_with("---") || rest.starts_with("...");
                        let after = rest.chars().nth(3);
                        if marker && matches!(after, Some(' ' | '\u{85}')) {
                            return Err(Unencodable);
                        }
                    }
                    if nels == 1 {
                        out.push(' ');
                    } else {
                        out.extend(std::iter::repeat_n('\n', nels - 1));
                    }
                }
                continue;
            }
            0x7F..=0x9F | 0xFFFE | 0xFFFF => return Err(Unencodable),
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out.into())
}

fn key_less(a: &str, b: &str, v3: bool) -> bool {
    key_order(a, b, v3) == std::cmp::Ordering::Less
}

/// go-yaml's keyList.Less on two string keys (sorter.go; v3's differs when a letter meets a
/// non-letter after digits): letters before other characters, runs of digits by value.
fn key_order(a: &str, b: &str, v3: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    if a == b {
        return Equal;
    }
    let less = |a: &str, b: &str| -> bool {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        let mut digits = false;
        for i in 0..ar.len().min(br.len()) {
            if ar[i] == br[i] {
                digits = super::go_unicode::is_digit(ar[i]);
                continue;
            }
            let al = super::go_unicode::is_letter(ar[i]);
            let bl = super::go_unicode::is_letter(br[i]);
            if al && bl {
                return ar[i] < br[i];
            }
            if al || bl {
                return if v3 && digits { al } else { bl };
            }
            let (mut an, mut bn) = (0i64, 0i64);
            if ar[i] == '0' || br[i] == '0' {
                let mut j = i;
                while j > 0 && super::go_unicode::is_digit(ar[j - 1]) {
                    if ar[j - 1] != '0' {
                        an = 1;
                        bn = 1;
                        break;
                    }
                    j -= 1;
                }
            }
            let mut ai = i;
            while ai < ar.len() && super::go_unicode::is_digit(ar[ai]) {
                an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
                ai += 1;
            }
            let mut bi = i;
            while bi < br.len() && super::go_unicode::is_digit(br[bi]) {
                bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
                bi += 1;
            }
            if an != bn {
                return an < bn;
            }
            if ai != bi {
                return ai < bi;
            }
            return ar[i] < br[i];
        }
        ar.len() < br.len()
    };
    if less(a, b) {
        Less
    } else if less(b, a) {
        Greater
    } else {
        a.cmp(b)
    }
}

/// `toJson`: compact JSON like Go's encoding/json.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    write_json::<true>(&mut out, v, None, 0);
    out
}

/// `toRawJson`: encoding/json with SetEscapeHTML(false).
pub fn to_raw_json(v: &Value) -> String {
    let mut out = String::new();
    write_json::<false>(&mut out, v, None, 0);
    out
}

/// `toPrettyJson`: json.MarshalIndent with two spaces.
pub fn to_pretty_json(v: &Value) -> String {
    let mut out = String::new();
    write_json::<true>(&mut out, v, Some("  "), 0);
    out
}

/// encoding/json's error for `v`, if it holds a float64 JSON has no number for (NaN, ±Inf):
/// the first one in the order json.Marshal writes.
/// Time.MarshalJSON's refusal of a time (a year past 9999, an offset of 24 hours or more).
fn time_json_error(v: &Value) -> Option<&'static str> {
    super::dates::as_time(v)?.json_error()
}

pub fn json_unsupported(v: &Value) -> Option<String> {
    match v {
        Value::Float(f) if !f.is_finite() => {
            Some(format!("json: unsupported value: {}", format_float_g(*f)))
        }
        Value::List(l) => l.iter().find_map(json_unsupported),
        Value::Map(m) => m.borrow().values().find_map(json_unsupported),
        Value::Object(_) if time_json_error(v).is_some() => time_json_error(v)
            .map(|e| format!("json: error calling MarshalJSON for type time.Time: {e}")),
        Value::Object(o) => match (o.json(), o.as_data()) {
            (Some(GoJson::Fields(f)), _) => f.iter().find_map(|(_, v)| json_unsupported(v)),
            (None, Some(d)) => json_unsupported(&d),
            _ => None,
        },
        _ => None,
    }
}

/// A newline and `depth` indents, when indenting.
fn nl(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(i) = indent {
        out.push('\n');
        out.push_str(&i.repeat(depth));
    }
}

fn write_json<const HTML: bool>(out: &mut String, v: &Value, indent: Option<&str>, depth: usize) {
    let nl = |out: &mut String, d: usize| nl(out, indent, d);
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Uint8(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&format_float_json(*f)),
        Value::Str(s) => json_string::<HTML>(out, s),
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
                write_json::<HTML>(out, item, indent, depth + 1);
            }
            nl(out, depth);
            out.push(']');
        }
        Value::Map(m) => write_json_object::<HTML, _>(out, m.borrow().iter(), indent, depth),
        Value::Object(o) => match (o.json(), o.as_data()) {
            (Some(GoJson::Null), _) => out.push_str("null"),
            (Some(GoJson::Str(s)), _) => json_string::<HTML>(out, &s),
            (Some(GoJson::Fields(f)), _) => {
                write_json_object::<HTML, _>(out, f.iter().map(|(k, v)| (k, v)), indent, depth)
            }
            (None, Some(d)) => write_json::<HTML>(out, &d, indent, depth),
            (None, None) => json_string::<HTML>(out, &o.display()),
        },
    }
}

/// A JSON object's members, `{}` when there are none (a map and a Go struct alike).
fn write_json_object<'a, const HTML: bool, K: AsRef<str> + 'a>(
    out: &mut String,
    members: impl Iterator<Item = (&'a K, &'a Value)>,
    indent: Option<&str>,
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
        json_string::<HTML>(out, k.as_ref());
        out.push(':');
        if indent.is_some() {
            out.push(' ');
        }
        write_json::<HTML>(out, item, indent, depth + 1);
    }
    if any {
        nl(out, indent, depth);
    }
    out.push('}');
}

fn json_string<const HTML: bool>(out: &mut String, s: &str) {
    out.push('"');
    for r in go_runes(s) {
        let c = match r {
            // a byte of invalid UTF-8 (a Go string cut inside a character): encoding/json
            // writes U+FFFD for it
            GoRune::Byte(_) => {
                out.push_str("\\ufffd");
                continue;
            }
            GoRune::Char(c) => c,
        };
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' if HTML => out.push_str("\\u003c"),
            '>' if HTML => out.push_str("\\u003e"),
            '&' if HTML => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => push_go_char(out, c),
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
