//! Helm's `toToml`: github.com/BurntSushi/toml v1.4.0's Encoder (`toml.NewEncoder(b).Encode(v)`)
//! over the Go value a template holds, written from its behaviour (encode.go):
//!
//! - a table's keys sorted (Go's byte order), the plain values first, then the sub-tables
//!   (maps, structs) and arrays of tables (non-empty lists whose elements are all tables);
//!   a Go struct's fields in their declaration order, plain ones first, an embedded struct's
//!   fields promoted;
//! - `[a.b]` headers indented two spaces per level below the first, their keys as well, a
//!   blank line before each top-level table and each `[[array.of.tables]]`;
//! - nil map values and struct fields left out, a nil in any list refused;
//! - lists that are not arrays of tables inline (`[1, [2], {k = 1}]`), maps in them inline
//!   tables, with the encoder's trailing comma where a left-out nil was the last plain key;
//! - integers as Go prints them, floats with `strconv.FormatFloat(f, 'f', -1, 64)` plus `.0`
//!   when it has no dot (so a values.yaml `1` is `1.0`), `nan`, `inf`, `-inf`, `-0.0`;
//! - strings and keys in double quotes with the encoder's own escapes (`\uXXXX` for the other
//!   control characters and DEL), keys bare when they are made of `A-Za-z0-9_-` only;
//! - a time.Time in RFC 3339 with nanoseconds (the local date-times, dates and times fromToml
//!   brings in their own form), a *semver.Version quoted (its MarshalText);
//! - a value that is not a table at the top written alone (`[1, 2]`, `"x"`), nothing for a nil
//!   map, and the encoder's errors as the text `toToml` returns.

use std::rc::Rc;

use super::dates::GoTime;
use super::value::{GoBytes, Object, Value, go_bytes};

/// Why the encoder stopped.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// One of the encoder's errors: helm's toToml returns its text.
    Toml(String),
    /// A Go panic outside the encoder's recover (reflect on a nil interface): the template
    /// call fails with it.
    Panic(String),
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

/// toToml's text for `v`: the document, or the encoder's error.
pub fn to_toml(v: &Value) -> Result<String, Failure> {
    let mut e = Encoder {
        out: String::new(),
        written: false,
    };
    e.encode(&[], v)?;
    Ok(e.out)
}

/// The Go value behind a template value, as the encoder's reflection sees it.
enum Go {
    /// A nil interface (a missing key, `nil`).
    Nil,
    NilSlice,
    NilMap,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Rc<str>),
    /// A time.Time, formatted.
    Time(String),
    /// An encoding.TextMarshaler's text (written quoted).
    Text(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// A struct's fields: name, index of the top-level field it comes from (an embedded
    /// struct's fields share its index), value.
    Struct(Vec<(String, usize, Value)>),
}

impl Go {
    fn is_nil(&self) -> bool {
        matches!(self, Go::Nil | Go::NilSlice | Go::NilMap)
    }
}

/// The kinds of TOML value tomlTypeOfGo tells apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TomlType {
    Integer,
    Float,
    Datetime,
    String,
    Bool,
    Array,
    Hash,
    ArrayHash,
}

#[derive(Clone, Copy)]
enum FieldKind {
    /// A string field: a missing value is "".
    Str,
    /// A bool field: a missing value is false.
    Bool,
    /// A slice, map or struct field: a missing value is nil.
    Other,
}

use FieldKind::{Bool as B, Other as O, Str as S};

/// A struct's fields: name and Go type.
type Fields = &'static [(&'static str, FieldKind)];

const METADATA: Fields = &[
    ("Name", S),
    ("Home", S),
    ("Sources", O),
    ("Version", S),
    ("Description", S),
    ("Keywords", O),
    ("Maintainers", O),
    ("Icon", S),
    ("APIVersion", S),
    ("Condition", S),
    ("Tags", S),
    ("AppVersion", S),
    ("Deprecated", B),
    ("Annotations", O),
    ("KubeVersion", S),
    ("Dependencies", O),
    ("Type", S),
];

/// The Go structs todoplan models, by type name: their fields in declaration order (the
/// first list is an embedded struct's, promoted).
fn struct_layout(type_name: &str) -> Option<(Fields, Fields)> {
    Some(match type_name {
        "struct { chart.Metadata; IsRoot bool }" => (METADATA, &[("IsRoot", B)]),
        "chart.Metadata" | "*chart.Metadata" => (&[], METADATA),
        "*chart.Maintainer" | "chart.Maintainer" => (&[], &[("Name", S), ("Email", S), ("URL", S)]),
        "*chart.Dependency" | "chart.Dependency" => (
            &[],
            &[
                ("Name", S),
                ("Version", S),
                ("Repository", S),
                ("Condition", S),
                ("Tags", O),
                ("Enabled", B),
                ("ImportValues", O),
                ("Alias", S),
            ],
        ),
        "*chartutil.Capabilities" | "chartutil.Capabilities" => (
            &[],
            &[("KubeVersion", O), ("APIVersions", O), ("HelmVersion", O)],
        ),
        "version.BuildInfo" => (
            &[],
            &[
                ("Version", S),
                ("GitCommit", S),
                ("GitTreeState", S),
                ("GoVersion", S),
            ],
        ),
        "chartutil.KubeVersion" => (&[], &[("Version", S), ("Major", S), ("Minor", S)]),
        "sprig.certificate" => (&[], &[("Cert", S), ("Key", S)]),
        _ => return None,
    })
}

fn struct_fields(o: &dyn Object) -> Option<Vec<(String, usize, Value)>> {
    let (embedded, own) = struct_layout(o.type_name())?;
    let field = |(name, kind): &(&str, FieldKind), index: usize| {
        let v = match (o.field(name), kind) {
            (Some(Value::Nil) | None, S) => Value::str(""),
            (Some(Value::Nil) | None, B) => Value::Bool(false),
            (Some(v), _) => v,
            (None, O) => Value::Nil,
        };
        (name.to_string(), index, v)
    };
    let offset = usize::from(!embedded.is_empty());
    let mut out: Vec<_> = embedded.iter().map(|f| field(f, 0)).collect();
    out.extend(own.iter().enumerate().map(|(i, f)| field(f, i + offset)));
    Some(out)
}

fn bytes_list(b: &[u8]) -> Go {
    Go::List(b.iter().map(|x| Value::Int(i64::from(*x))).collect())
}

fn time_text(t: &GoTime) -> String {
    let layout = match t.zone.as_deref() {
        Some("datetime-local") => "2006-01-02T15:04:05.999999999",
        Some("date-local") => "2006-01-02",
        Some("time-local") => "15:04:05.999999999",
        _ => "2006-01-02T15:04:05.999999999Z07:00",
    };
    t.format(layout)
}

fn go(v: &Value) -> Go {
    match v {
        Value::Nil => Go::Nil,
        Value::Bool(b) => Go::Bool(*b),
        Value::Int(i) | Value::Int64(i) => Go::Int(*i),
        Value::Uint64(u) => Go::Uint(*u),
        Value::Uint8(u) => Go::Uint(u64::from(*u)),
        Value::Float(f) => Go::Float(*f),
        Value::Str(s) => Go::Str(s.clone()),
        Value::List(l) => Go::List(l.to_vec()),
        Value::Map(m) => Go::Map(
            m.borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Object(o) => object(o.as_ref()),
    }
}

fn object(o: &dyn Object) -> Go {
    let any = o.as_any();
    if let Some(t) = any.and_then(|a| a.downcast_ref::<GoTime>()) {
        return Go::Time(time_text(t));
    }
    if let Some(b) = any.and_then(|a| a.downcast_ref::<GoBytes>()) {
        if b.is_nil() {
            return Go::NilSlice;
        }
        return bytes_list(b.bytes());
    }
    let t = o.type_name();
    if t == "*semver.Version" {
        return Go::Text(o.display());
    }
    if let Some(fields) = struct_fields(o) {
        return Go::Struct(fields);
    }
    let data = o.as_data();
    if matches!(o.json(), Some(super::value::GoJson::Null)) {
        // a typed nil slice or map
        return if t.starts_with("map[") {
            Go::NilMap
        } else {
            Go::NilSlice
        };
    }
    match data {
        Some(d) => go(&d),
        None => Go::Text(o.display()),
    }
}

/// tomlTypeOfGo: None for nil; a list's elements are all looked at (isTableArray), so a nil
/// anywhere in nested lists is refused here.
fn toml_type(v: &Go) -> Result<Option<TomlType>, Failure> {
    Ok(Some(match v {
        Go::Nil | Go::NilSlice | Go::NilMap => return Ok(None),
        Go::Bool(_) => TomlType::Bool,
        Go::Int(_) | Go::Uint(_) => TomlType::Integer,
        Go::Float(_) => TomlType::Float,
        Go::Str(_) | Go::Text(_) => TomlType::String,
        Go::Time(_) => TomlType::Datetime,
        Go::List(l) => {
            if is_table_array(l)? {
                TomlType::ArrayHash
            } else {
                TomlType::Array
            }
        }
        Go::Map(_) | Go::Struct(_) => TomlType::Hash,
    }))
}

fn is_table_array(l: &[Value]) -> Result<bool, Failure> {
    if l.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for x in l {
        match toml_type(&go(x))? {
            None => return Err(Failure::Toml(NIL_ELEMENT.into())),
            Some(t) => all &= t == TomlType::Hash,
        }
    }
    Ok(all)
}

fn is_table(t: Option<TomlType>) -> bool {
    matches!(t, Some(TomlType::Hash | TomlType::ArrayHash))
}

/// The encoder's string quoting (its dblQuotedReplacer, byte by byte).
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A key bare when it is all `A-Za-z0-9_-`, `""` when empty, else quoted.
fn key_part(out: &mut String, k: &str) {
    if k.is_empty() {
        out.push_str("\"\"");
    } else if k
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        out.push_str(k);
    } else {
        quoted(out, k);
    }
}

/// BurntSushi's Key.String(), which its encoder and its decoder's errors both write.
pub(super) fn key_string(key: &[String]) -> String {
    let mut out = String::new();
    for (i, k) in key.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        key_part(&mut out, k);
    }
    out
}

/// strconv.FormatFloat(f, 'f', -1, 64), with `.0` added when it has no dot.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    let s = super::gofmt::format_float(f, b'f', -1);
    if s.contains('.') { s } else { s + ".0" }
}

/// Sorted as Go's sort.Strings: by the strings' bytes.
fn sort_keys(keys: &mut [(String, Go)]) {
    keys.sort_by(|a, b| go_bytes(&a.0).cmp(&go_bytes(&b.0)));
}

struct Encoder {
    out: String,
    written: bool,
}

impl Encoder {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.out.push('\n');
        }
    }

    fn indent(&mut self, key: &[String]) {
        let n = key.len().saturating_sub(1);
        self.w(&"  ".repeat(n));
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), Failure> {
        let g = go(v);
        match &g {
            Go::Nil if key.is_empty() => Err(Failure::Panic(
                "reflect: call of reflect.Value.Type on zero Value".into(),
            )),
            Go::Nil | Go::NilMap => Ok(()),
            Go::List(l) => {
                if is_table_array(l)? {
                    self.array_of_tables(key, l)
                } else {
                    self.key_value(key, &g, false)
                }
            }
            Go::Map(_) | Go::Struct(_) => self.table(key, g),
            _ => self.key_value(key, &g, false),
        }
    }

    fn key_value(&mut self, key: &[String], v: &Go, inline: bool) -> Result<(), Failure> {
        let Some(last) = key.last() else {
            return self.element(v);
        };
        self.indent(key);
        let mut k = String::new();
        key_part(&mut k, last);
        k.push_str(" = ");
        self.w(&k);
        self.element(v)?;
        if !inline {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, v: &Go) -> Result<(), Failure> {
        match v {
            Go::Nil => {
                return Err(Failure::Panic(
                    "reflect: call of reflect.Value.Interface on zero Value".into(),
                ));
            }
            Go::Time(t) => self.w(t),
            Go::Text(s) => {
                let mut q = String::new();
                quoted(&mut q, s);
                self.w(&q);
            }
            Go::Str(s) => {
                let mut q = String::new();
                quoted(&mut q, s);
                self.w(&q);
            }
            Go::Bool(b) => self.w(if *b { "true" } else { "false" }),
            Go::Int(i) => self.w(&i.to_string()),
            Go::Uint(u) => self.w(&u.to_string()),
            Go::Float(f) => self.w(&float_text(*f)),
            Go::NilSlice => self.w("[]"),
            Go::List(l) => {
                self.w("[");
                for (i, x) in l.iter().enumerate() {
                    self.element(&go(x))?;
                    if i + 1 != l.len() {
                        self.w(", ");
                    }
                }
                self.w("]");
            }
            Go::NilMap => self.w("{}"),
            Go::Map(_) | Go::Struct(_) => self.map_or_struct(&[], v, true)?,
        }
        Ok(())
    }

    fn array_of_tables(&mut self, key: &[String], l: &[Value]) -> Result<(), Failure> {
        if key.is_empty() {
            return Err(Failure::Toml(NO_KEY.into()));
        }
        for x in l {
            let g = go(x);
            if g.is_nil() {
                continue;
            }
            self.newline();
            self.indent(key);
            self.w(&format!("[[{}]]", key_string(key)));
            self.newline();
            self.map_or_struct(key, &g, false)?;
        }
        Ok(())
    }

    fn table(&mut self, key: &[String], v: Go) -> Result<(), Failure> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.indent(key);
            self.w(&format!("[{}]", key_string(key)));
            self.newline();
        }
        self.map_or_struct(key, &v, false)
    }

    fn map_or_struct(&mut self, key: &[String], v: &Go, inline: bool) -> Result<(), Failure> {
        match v {
            Go::Map(entries) => {
                let mut direct = Vec::new();
                let mut sub = Vec::new();
                for (k, x) in entries {
                    let g = go(x);
                    if is_table(toml_type(&g)?) {
                        sub.push((k.clone(), g));
                    } else {
                        direct.push((k.clone(), g));
                    }
                }
                sort_keys(&mut direct);
                sort_keys(&mut sub);
                if inline {
                    self.w("{");
                }
                let trail = !sub.is_empty();
                self.write_map_keys(key, entries, &direct, trail, inline)?;
                self.write_map_keys(key, entries, &sub, false, inline)?;
                if inline {
                    self.w("}");
                }
                Ok(())
            }
            Go::Struct(fields) => {
                let mut direct = Vec::new();
                let mut sub = Vec::new();
                for (name, index, x) in fields {
                    let g = go(x);
                    if is_table(toml_type(&g)?) {
                        sub.push((name.as_str(), *index, x, g));
                    } else {
                        direct.push((name.as_str(), *index, x, g));
                    }
                }
                if inline {
                    self.w("{");
                }
                for list in [&direct, &sub] {
                    for (name, index, x, g) in list.iter() {
                        if g.is_nil() {
                            continue;
                        }
                        if inline {
                            self.key_value(&[name.to_string()], g, true)?;
                            // the encoder compares the top-level field's index with the count
                            if *index + 1 != list.len() {
                                self.w(", ");
                            }
                        } else {
                            let mut k = key.to_vec();
                            k.push(name.to_string());
                            self.encode(&k, x)?;
                        }
                    }
                }
                if inline {
                    self.w("}");
                }
                Ok(())
            }
            // eTable on anything else: unreachable from the values todoplan holds
            _ => Ok(()),
        }
    }

    fn write_map_keys(
        &mut self,
        key: &[String],
        entries: &[(String, Value)],
        keys: &[(String, Go)],
        trail: bool,
        inline: bool,
    ) -> Result<(), Failure> {
        for (i, (k, g)) in keys.iter().enumerate() {
            if g.is_nil() {
                continue;
            }
            if inline {
                self.key_value(std::slice::from_ref(k), g, true)?;
                if trail || i + 1 != keys.len() {
                    self.w(", ");
                }
            } else {
                let mut sub = key.to_vec();
                sub.push(k.clone());
                let v = entries
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Nil);
                self.encode(&sub, &v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(kv: &[(&str, Value)]) -> Value {
        Value::map(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn t(v: &Value) -> String {
        match to_toml(v) {
            Ok(s) => s,
            Err(Failure::Toml(e)) => e,
            Err(Failure::Panic(p)) => format!("PANIC {p}"),
        }
    }

    #[test]
    fn floats_strings_and_key_order() {
        let v = map(&[
            ("n", Value::Float(f64::NAN)),
            ("i", Value::Float(f64::NEG_INFINITY)),
            ("z", Value::Float(-0.0)),
            ("f", Value::Float(1.5)),
            ("big", Value::Float(1e21)),
            ("s", Value::str("é\u{1}")),
        ]);
        assert_eq!(
            t(&v),
            "big = 1000000000000000000000.0\nf = 1.5\ni = -inf\nn = nan\ns = \"é\\u0001\"\nz = -0.0\n"
        );
    }

    #[test]
    fn top_level_values_and_errors() {
        assert_eq!(
            t(&Value::list(vec![Value::Int(1), Value::Int(2)])),
            "[1, 2]"
        );
        assert_eq!(t(&Value::str("x")), "\"x\"");
        assert_eq!(
            t(&Value::list(vec![Value::Int(1), Value::Nil])),
            NIL_ELEMENT
        );
        assert_eq!(t(&Value::list(vec![map(&[])])), NO_KEY);
        assert!(t(&Value::Nil).starts_with("PANIC"));
        assert_eq!(t(&map(&[])), "");
    }

    #[test]
    fn quoted_keys_nil_values_and_tables() {
        let v = map(&[
            ("", Value::Int(2)),
            ("a b", Value::Int(1)),
            ("ü", Value::Int(3)),
            ("n", Value::Nil),
        ]);
        assert_eq!(t(&v), "\"\" = 2\n\"a b\" = 1\n\"ü\" = 3\n");
        let v = map(&[
            ("b", Value::Int(2)),
            (
                "a",
                map(&[("x", Value::Int(1)), ("y", Value::Nil), ("d", map(&[]))]),
            ),
            (
                "l",
                Value::list(vec![
                    map(&[
                        ("p", Value::Int(1)),
                        ("q", Value::Nil),
                        ("r", map(&[("s", Value::Int(1))])),
                    ]),
                    Value::Int(1),
                ]),
            ),
            (
                "t",
                Value::list(vec![map(&[("k", Value::Int(1))]), map(&[])]),
            ),
        ]);
        assert_eq!(
            t(&v),
            "b = 2\nl = [{p = 1, r = {s = 1}}, 1]\n\n[a]\n  x = 1\n  [a.d]\n\n[[t]]\n  k = 1\n\n[[t]]\n"
        );
    }
}
