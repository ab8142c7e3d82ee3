//! The dynamic values a template works on, modelled on what Helm hands to Go's text/template:
//! values decoded from YAML/JSON (maps, lists, strings, bools, float64 numbers), template-literal
//! ints, and a few Go objects with methods (`.Files`, `.Capabilities.APIVersions`, ...).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::rc::Rc;

/// A Go map: shared and mutable, because sprig's `set`, `unset`, `merge` mutate maps in place and
/// charts rely on seeing those changes through every reference.
pub type MapRef = Rc<RefCell<BTreeMap<String, Value>>>;

#[derive(Clone, Debug)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Go `int`: template literals, `len`, `atoi`, `int`, `until`.
    Int(i64),
    /// Go `int64`: sprig's integer maths (`add`, `sub`, `max`, `int64`, ...) and `fromToml`
    /// integers. It computes and prints as `Int`, but its type is another: `typeOf`, `kindOf`,
    /// `%T`, `deepEqual`, `duration`, and a Go `int` parameter refuses it.
    Int64(i64),
    /// Go `uint64`: a semver's `Major`, `Minor`, `Patch`. It prints and compares (with either
    /// int) by its value; sprig's maths and `int` cast it as Go does (wrapping past i64::MAX).
    Uint64(u64),
    /// Go `uint8` (a byte): an element of a `[]byte` (`.Files.GetBytes`) or of a string
    /// (`index "hi" 0`). It prints, compares and computes as `Uint64`; its type is another.
    Uint8(u8),
    /// Go `float64`: every number that came from values YAML or JSON.
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Value>>),
    Map(MapRef),
    Object(Rc<dyn Object>),
}

/// A Go value with fields and methods that are not plain data.
pub trait Object: Debug {
    /// Go type name, for `typeOf` and error messages.
    fn type_name(&self) -> &'static str;
    /// A field or a method called without arguments.
    fn field(&self, name: &str) -> Option<Value>;
    /// A method call with arguments; `None` when there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// The Go types of a method's parameters, when the executor is to check the arguments'
    /// count and types before the call as Go does (`None`: `call` checks them itself).
    fn params(&self, _method: &str) -> Option<&'static [&'static str]> {
        None
    }
    /// What `fmt.Sprint` prints.
    fn display(&self) -> String;
    /// What fmt prints when the object is passed to a function as an interface{} (Go only
    /// finds pointer-receiver String methods when printing an addressable template value).
    fn fmt_value(&self) -> String {
        self.display()
    }
    /// The value as plain data where Go would see a slice or map (for range, len, toYaml).
    fn as_data(&self) -> Option<Value> {
        None
    }
    /// The reflect kind as sprig `kindOf` prints it.
    fn kind_name(&self) -> &'static str {
        let t = self.type_name();
        if t.starts_with('*') {
            return "ptr";
        }
        if t.starts_with("[]") {
            return "slice";
        }
        if t.starts_with("map[") {
            return "map";
        }
        match self.as_data() {
            Some(Value::List(_)) => "slice",
            Some(Value::Map(_)) => "map",
            _ => "struct",
        }
    }
    /// The concrete object, for functions that take one Go type (a time.Time, a semver).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// What json.Marshal makes of it, when that is not its data (a struct's tagged fields in
    /// order, or null for a typed nil).
    fn json(&self) -> Option<GoJson> {
        None
    }
}

/// json.Marshal's form of an object that is not its data.
pub enum GoJson {
    Null,
    /// An object's keys in order, with their values.
    Fields(Vec<(String, Value)>),
    /// A JSON string (a []byte marshals as its base64).
    Str(String),
}

/// A Go `[]byte`: what `.Files.GetBytes` returns and `.Files` holds. It prints as Go prints a
/// byte slice (`[86 105]`, `%s` as its text); to the functions that take a slice it is a list
/// of `uint8` (`index`, `range`, `first`, ...); json.Marshal writes it as base64, `null` when
/// nil; sprig's `toString`, `quote`, `join` read it as its text; a Go `string` parameter
/// refuses it.
/// Its bytes are shared, as Go shares a slice's array: `.Files.GetBytes` and `slice` copy
/// nothing.
#[derive(Debug)]
pub struct GoBytes {
    data: Rc<[u8]>,
    /// The part of `data` this slice is.
    range: std::ops::Range<usize>,
    /// A nil slice (a missing file read as a map index), not an empty one.
    nil: bool,
    /// Go's capacity, from the slice's start: bytes past the length up to it are zeros (the
    /// spare room of the buffer helm read a file into), reachable with `slice`.
    cap: usize,
}

impl GoBytes {
    pub fn new(data: impl Into<Rc<[u8]>>) -> GoBytes {
        let data = data.into();
        GoBytes {
            range: 0..data.len(),
            cap: data.len(),
            data,
            nil: false,
        }
    }

    /// `data` with room for `cap` bytes (at least its length).
    pub fn with_capacity(data: impl Into<Rc<[u8]>>, cap: usize) -> GoBytes {
        let mut b = GoBytes::new(data);
        b.cap = b.cap.max(cap);
        b
    }

    /// Go's `cap`.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// A nil `[]byte`.
    pub fn nil() -> GoBytes {
        GoBytes {
            data: Rc::from(&[][..]),
            range: 0..0,
            nil: true,
            cap: 0,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.data.get(self.range.clone()).unwrap_or_default()
    }

    /// Go's `b[lo:hi]`: within the capacity, sharing the bytes (the spare room past the
    /// length reads as zeros); `None` past the capacity.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<GoBytes> {
        if range.start > range.end || range.end > self.cap {
            return None;
        }
        let cap = self.cap - range.start;
        if range.end <= self.bytes().len() {
            return Some(GoBytes {
                data: self.data.clone(),
                range: self.range.start + range.start..self.range.start + range.end,
                nil: false,
                cap,
            });
        }
        let mut bytes = self.bytes().get(range.start..).unwrap_or_default().to_vec();
        bytes.resize(range.end - range.start, 0);
        Some(GoBytes {
            range: 0..bytes.len(),
            data: Rc::from(bytes),
            nil: false,
            cap,
        })
    }

    pub fn is_nil(&self) -> bool {
        self.nil
    }

    /// The []byte `v` holds, if it is one.
    pub fn of(v: &Value) -> Option<&GoBytes> {
        match v {
            Value::Object(o) => o.as_any()?.downcast_ref::<GoBytes>(),
            _ => None,
        }
    }
}

impl Object for GoBytes {
    fn type_name(&self) -> &'static str {
        "[]uint8"
    }
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn call(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        sprint_bytes(self.bytes())
    }
    fn as_data(&self) -> Option<Value> {
        Some(Value::list(
            self.bytes().iter().map(|b| Value::Uint8(*b)).collect(),
        ))
    }
    fn json(&self) -> Option<GoJson> {
        use base64::Engine;
        Some(if self.nil {
            GoJson::Null
        } else {
            GoJson::Str(base64::engine::general_purpose::STANDARD.encode(self.bytes()))
        })
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// `fmt.Sprint` of a []byte: `[104 105]`.
pub fn sprint_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 4 + 2);
    out.push('[');
    for (k, x) in b.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(&x.to_string());
    }
    out.push(']');
    out
}

/// A Go slice or map whose element type is not `interface {}`: what sprig and helm return as
/// `[]string` (splitList, keys, regexFindAll, ...), `[]int` (until), `map[string]string`
/// (split) or `[][]interface {}` (chunk), and `.Chart`'s typed fields. Its data is a plain
/// `Value::List` or `Value::Map` that every function reading a list or map sees through
/// [`Object::as_data`]; only `typeOf`, `%T`, `deepEqual` and the parameters that want a
/// `map[string]interface {}` tell it apart. Lists and maps built from values and `list`/`dict`
/// stay plain `Value`s, so the hot path never meets one.
#[derive(Debug)]
pub struct GoTyped {
    type_name: &'static str,
    data: Value,
}

impl GoTyped {
    /// The zero value of an element of a Go type (`""` for a map[string]string's missing key).
    fn element_zero(&self) -> Value {
        go_zero(go_element_type(self.type_name))
    }
}

/// The element type of a Go slice or map type name (`[]string` -> `string`).
pub fn go_element_type(t: &str) -> &str {
    if let Some(e) = t.strip_prefix("[]") {
        return e;
    }
    if let Some(rest) = t.strip_prefix("map[") {
        // map[K]V: K holds no brackets in the types this engine names
        return rest.split_once(']').map_or("", |(_, v)| v);
    }
    ""
}

/// The zero value of a Go type as a template sees it (nil for interfaces, pointers, slices
/// and maps).
pub fn go_zero(t: &str) -> Value {
    match t {
        "string" => Value::str(""),
        "int" => Value::Int(0),
        "int64" => Value::Int64(0),
        "uint64" => Value::Uint64(0),
        "uint8" => Value::Uint8(0),
        "float64" => Value::Float(0.0),
        "bool" => Value::Bool(false),
        _ => Value::Nil,
    }
}

impl Object for GoTyped {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    /// A map's key as a field (`(split "," "a")._0`), the element's zero value when missing.
    fn field(&self, name: &str) -> Option<Value> {
        match &self.data {
            Value::Map(m) => Some(
                m.borrow()
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| self.element_zero()),
            ),
            _ => None,
        }
    }
    fn call(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn display(&self) -> String {
        go_sprint(&self.data)
    }
    fn as_data(&self) -> Option<Value> {
        Some(self.data.clone())
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }
    pub fn string(s: String) -> Value {
        Value::Str(Rc::from(s))
    }
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(v))
    }
    pub fn map(m: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }
    pub fn empty_map() -> Value {
        Value::map(BTreeMap::new())
    }

    /// A Go slice of the type `type_name` (`[]string`, `[]int`, `[][]interface {}`).
    pub fn typed_list(type_name: &'static str, v: Vec<Value>) -> Value {
        Value::Object(Rc::new(GoTyped {
            type_name,
            data: Value::list(v),
        }))
    }

    /// A Go `[]string`.
    pub fn strings(v: Vec<Value>) -> Value {
        Value::typed_list("[]string", v)
    }

    /// A Go map of the type `type_name` (`map[string]string`).
    pub fn typed_map(type_name: &'static str, m: BTreeMap<String, Value>) -> Value {
        Value::Object(Rc::new(GoTyped {
            type_name,
            data: Value::map(m),
        }))
    }

    /// The same Go type as `self` (a typed slice or map) holding `data`: what reflect's Slice
    /// and copystructure keep. Anything else gives `data` as it is.
    pub fn retyped(&self, data: Value) -> Value {
        match self {
            Value::Object(o) if matches!(data, Value::List(_) | Value::Map(_)) => {
                Value::Object(Rc::new(GoTyped {
                    type_name: o.type_name(),
                    data,
                }))
            }
            _ => data,
        }
    }

    /// The zero value of a missing element of this map (`index`, a field): `""` in a
    /// `map[string]string`, nil in a `map[string]interface {}`.
    pub fn map_element_zero(&self) -> Value {
        match self {
            // `.Files`, a map[string][]byte
            Value::Object(o) if o.type_name() == "engine.files" => {
                Value::Object(Rc::new(GoBytes::nil()))
            }
            Value::Object(o) => go_zero(go_element_type(o.type_name())),
            _ => Value::Nil,
        }
    }

    /// A Go integer of either type.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Go's `truth`: the test `if`, `with`, `and`, `or`, `not` use.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Uint64(u) => *u != 0,
            Value::Uint8(u) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(o) => match o.as_any().and_then(|a| a.downcast_ref::<GoBytes>()) {
                Some(b) => !b.bytes().is_empty(),
                None => o.as_data().map(|d| d.truthy()).unwrap_or(true),
            },
        }
    }

    /// The Go type name as `%T` / sprig `typeOf` print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(o) => o.type_name(),
        }
    }

    /// The reflect kind as sprig `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Uint64(_) => "uint64",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind_name(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Lists and objects that behave like slices.
    pub fn as_list(&self) -> Option<Rc<Vec<Value>>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => match o.as_data() {
                Some(Value::List(l)) => Some(l),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<MapRef> {
        match self {
            Value::Map(m) => Some(m.clone()),
            Value::Object(o) => match o.as_data() {
                Some(Value::Map(m)) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }

    /// A copy that shares nothing mutable with the original (sprig `deepCopy`).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(l) => Value::list(l.iter().map(Value::deep_copy).collect()),
            Value::Map(m) => Value::map(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.deep_copy()))
                    .collect(),
            ),
            Value::Object(o) => match o.as_any().and_then(|a| a.downcast_ref::<GoTyped>()) {
                Some(t) => Value::Object(Rc::new(GoTyped {
                    type_name: t.type_name,
                    data: t.data.deep_copy(),
                })),
                None => self.clone(),
            },
            other => other.clone(),
        }
    }

    /// Convert decoded JSON (todo.toml inline values, fromJson, lookup: real characters) to a
    /// template value.
    /// JSON numbers become float64, as sigs.k8s.io/yaml does for Helm.
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(&go_string_from_str(s)),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (go_string_from_str(k).into_owned(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON (toJson, toYaml, schema validation).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Int64(i) => serde_json::Value::from(*i),
            Value::Uint64(u) => serde_json::Value::from(*u),
            Value::Uint8(u) => serde_json::Value::from(*u),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    serde_json::Value::from(*f as i64)
                } else {
                    serde_json::Number::from_f64(*f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }
            }
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => serde_json::Value::Object(
                m.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Object(o) => match (o.json(), o.as_data()) {
                (Some(GoJson::Null), _) => serde_json::Value::Null,
                (Some(GoJson::Str(s)), _) => serde_json::Value::String(s),
                (Some(GoJson::Fields(f)), _) => serde_json::Value::Object(
                    f.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
                ),
                (None, Some(d)) => d.to_json(),
                (None, None) => serde_json::Value::String(o.display()),
            },
        }
    }
}

/// Go's `%v` formatting of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`):
/// shortest digits, exponent form when the decimal exponent is < -4 or >= 6, which is why Helm prints a values number 1000000 as `1e+06`.
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (neg, digits, exp) = shortest_digits(f);
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        format!("{sign}{}", format_exp(&digits, exp))
    } else {
        format!("{sign}{}", format_fixed(&digits, exp))
    }
}

/// Go's encoding/json float formatting: fixed notation unless the exponent is < -6 or >= 21.
pub fn format_float_json(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if !f.is_finite() {
        return "null".into();
    }
    let (neg, digits, exp) = shortest_digits(f);
    let sign = if neg { "-" } else { "" };
    if !(-6..21).contains(&exp) {
        let e = format_exp(&digits, exp);
        // encoding/json writes e-07 as e-7.
        let e = e.replace("e-0", "e-").replace("e+0", "e+");
        format!("{sign}{e}")
    } else {
        format!("{sign}{}", format_fixed(&digits, exp))
    }
}

/// Shortest round-trip decimal digits of |f| (as strconv picks them: even on a tie) and the
/// exponent of the first digit. `f` is finite and non-zero.
pub fn shortest_digits(f: f64) -> (bool, String, i32) {
    let d = super::shortest_float::shortest_digits(f);
    let exp = (d.dp - 1) as i32;
    let digits = String::from_utf8(d.d).unwrap_or_default();
    (f.is_sign_negative(), digits, exp)
}

fn format_exp(digits: &str, exp: i32) -> String {
    let mut out = String::new();
    let mut chars = digits.chars();
    if let Some(c) = chars.next() {
        out.push(c);
    }
    let rest: String = chars.collect();
    if !rest.is_empty() {
        out.push('.');
        out.push_str(&rest);
    }
    let (esign, eabs) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
    out.push('e');
    out.push(esign);
    if eabs < 10 {
        out.push('0');
    }
    out.push_str(&eabs.to_string());
    out
}

fn format_fixed(digits: &str, exp: i32) -> String {
    let nd = digits.len() as i32;
    if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= nd {
        format!("{}{}", digits, "0".repeat((exp + 1 - nd) as usize))
    } else {
        let (a, b) = digits.split_at((exp + 1) as usize);
        format!("{a}.{b}")
    }
}

/// `fmt.Sprint(v)` for one operand (the `%v` verb).
/// Go strings are bytes, ours are UTF-8. A byte that is not part of valid UTF-8 (a binary file
/// read with `.Files.Get`) is kept as the private-use char U+10FF00 + byte (a marker; only the
/// bytes 0x80..=0xFF need one, so markers are U+10FF80..U+10FFFF). A real character of that
/// range is held as its four UTF-8 bytes, each as a marker: no template string holds one, so
/// `go_bytes` gives back exactly the bytes Go holds. Text from outside (files, values, decoded
/// YAML/JSON/TOML, escapes) comes in through `string_from_go_bytes` or `go_string_from_str`;
/// whatever reads a string as runes reads `go_runes`.
const RAW_BYTE_BASE: u32 = 0x10FF00;
/// The first marker (byte 0x80).
const RAW_MIN: char = '\u{10FF80}';

/// The byte a marker stands for.
#[inline]
pub fn raw_byte(c: char) -> Option<u8> {
    (c >= RAW_MIN).then(|| (c as u32 - RAW_BYTE_BASE) as u8)
}

/// The marker of a byte (an ASCII byte is its own character).
#[inline]
pub fn raw_marker(b: u8) -> char {
    if b < 0x80 {
        char::from(b)
    } else {
        char::from_u32(RAW_BYTE_BASE + u32::from(b)).unwrap_or('\u{fffd}')
    }
}

/// Push a real character: one of the markers' range as its four bytes' markers.
#[inline]
pub fn push_go_char(out: &mut String, c: char) {
    if c >= RAW_MIN {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push(raw_marker(b));
        }
    } else {
        out.push(c);
    }
}

/// Whether `s` may hold a character of U+10FF80..U+10FFFF (encoded F4 8F BE/BF xx).
#[inline]
fn may_hold_high(s: &str) -> bool {
    s.as_bytes().contains(&0xF4)
}

/// Text from outside (real characters) as a template string.
pub fn go_string_from_str(s: &str) -> std::borrow::Cow<'_, str> {
    if !may_hold_high(s) || !s.chars().any(|c| c >= RAW_MIN) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 12);
    for c in s.chars() {
        push_go_char(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

/// As `go_string_from_str`, for an owned string.
pub fn go_string(s: String) -> String {
    match go_string_from_str(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(o) => o,
    }
}

/// Bytes as a template string, invalid UTF-8 kept byte for byte.
pub fn string_from_go_bytes(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return go_string_from_str(s).into_owned();
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        out.push_str(&go_string_from_str(chunk.valid()));
        for byte in chunk.invalid() {
            out.push(raw_marker(*byte));
        }
    }
    out
}

/// The bytes a Go string holds (see `string_from_go_bytes`).
pub fn go_bytes(s: &str) -> std::borrow::Cow<'_, [u8]> {
    // markers encode as F4 8F BE..BF xx; most strings hold no 0xF4 at all.
    if !may_hold_high(s) {
        return std::borrow::Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match raw_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A rune of a Go string as `for range` decodes it: a character, or a byte that is not part
/// of valid UTF-8 (Go's RuneError of width 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoRune {
    Char(char),
    Byte(u8),
}

impl GoRune {
    /// The rune Go sees: U+FFFD for a byte of invalid UTF-8.
    pub fn rune(self) -> char {
        match self {
            GoRune::Char(c) => c,
            GoRune::Byte(_) => '\u{fffd}',
        }
    }
}

/// The runes of a Go string (markers that spell valid UTF-8 together are its character).
pub fn go_runes(s: &str) -> GoRunes<'_> {
    GoRunes { chars: s.chars() }
}

pub struct GoRunes<'a> {
    chars: std::str::Chars<'a>,
}

impl<'a> GoRunes<'a> {
    /// What is left to read.
    pub fn as_str(&self) -> &'a str {
        self.chars.as_str()
    }
}

impl Iterator for GoRunes<'_> {
    type Item = GoRune;

    #[inline]
    fn next(&mut self) -> Option<GoRune> {
        let c = self.chars.next()?;
        let Some(b0) = raw_byte(c) else {
            return Some(GoRune::Char(c));
        };
        let n = match b0 {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Some(GoRune::Byte(b0)),
        };
        let mut buf = [b0, 0, 0, 0];
        let mut ahead = self.chars.clone();
        for slot in buf.iter_mut().take(n).skip(1) {
            match ahead.next().and_then(raw_byte) {
                Some(b) => *slot = b,
                None => return Some(GoRune::Byte(b0)),
            }
        }
        match std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.chars().next())
        {
            Some(ch) => {
                self.chars = ahead;
                Some(GoRune::Char(ch))
            }
            None => Some(GoRune::Byte(b0)),
        }
    }
}

/// Whether `s` holds a marker (a byte of invalid UTF-8, or part of a character spelt in
/// markers).
#[inline]
pub fn has_markers(s: &str) -> bool {
    may_hold_high(s) && s.chars().any(|c| c >= RAW_MIN)
}

/// `s` as Go's bytes read as UTF-8 with each invalid byte as U+FFFD (what a Go decoder that
/// replaces invalid UTF-8, as encoding/json's does, reads). Real characters throughout: to be
/// read, not kept as a template string.
pub fn go_lossy(s: &str) -> std::borrow::Cow<'_, str> {
    if !has_markers(s) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(go_runes(s).map(GoRune::rune).collect())
}

/// `s` read as characters: markers that spell a character are that character, a byte of
/// invalid UTF-8 stays a marker (so a real U+10FF80..U+10FFFF cannot be told from one: to be
/// read or written out, not kept as a template string).
pub fn go_chars_view(s: &str) -> std::borrow::Cow<'_, str> {
    if !has_markers(s) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        go_runes(s)
            .map(|r| match r {
                GoRune::Char(c) => c,
                GoRune::Byte(b) => raw_marker(b),
            })
            .collect(),
    )
}

/// A rendered text as it leaves the engine (see `go_chars_view`).
pub fn go_output(s: String) -> String {
    match go_chars_view(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(o) => o,
    }
}

/// Go's `==` of two strings (their bytes).
#[inline]
pub fn go_eq(a: &str, b: &str) -> bool {
    a == b || ((may_hold_high(a) || may_hold_high(b)) && go_bytes(a) == go_bytes(b))
}

/// Go's comparison of two strings (byte by byte).
pub fn go_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if !may_hold_high(a) && !may_hold_high(b) {
        return a.cmp(b);
    }
    go_bytes(a).cmp(&go_bytes(b))
}

pub fn go_sprint(v: &Value) -> String {
    let mut s = String::new();
    write_v(&mut s, v);
    s
}

/// `%v` formatting.
pub fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Uint64(u) => out.push_str(&u.to_string()),
        Value::Uint8(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(&format_float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v_nested(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v_nested(out, item);
            }
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.fmt_value()),
    }
}

/// `%v` of an element of a slice, a map or a struct: as [`write_v`], but a pointer to a
/// struct prints as its address (fmt shows `&{...}` only for the operand itself).
pub fn write_v_nested(out: &mut String, v: &Value) {
    match struct_pointer_address(v) {
        Some(addr) => out.push_str(&format!("{addr:#x}")),
        None => write_v(out, v),
    }
}

/// The address of a Go pointer to a struct helm hands to templates (`*chart.Dependency`,
/// `*chart.Maintainer`): the object's own, which changes from run to run as Go's does.
pub fn struct_pointer_address(v: &Value) -> Option<usize> {
    match v {
        Value::Object(o)
            if o.type_name().starts_with('*')
                && o.as_any()
                    .is_some_and(|a| a.is::<crate::objects::GoStruct>()) =>
        {
            Some(Rc::as_ptr(o) as *const () as usize)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        assert_eq!(format_float_g(1.0), "1");
        assert_eq!(format_float_g(80.0), "80");
        assert_eq!(format_float_g(100000.0), "100000");
        assert_eq!(format_float_g(1000000.0), "1e+06");
        assert_eq!(format_float_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float_g(0.5), "0.5");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(-2.25), "-2.25");
        assert_eq!(format_float_g(123456.7), "123456.7");
    }

    #[test]
    fn floats_print_like_encoding_json() {
        assert_eq!(format_float_json(1000000.0), "1000000");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(0.0000001), "1e-7");
        assert_eq!(format_float_json(1.5), "1.5");
    }

    #[test]
    fn containers_print_like_go() {
        let m = Value::map(BTreeMap::from([
            ("b".to_string(), Value::Int(2)),
            (
                "a".to_string(),
                Value::list(vec![Value::str("x"), Value::Nil]),
            ),
        ]));
        assert_eq!(go_sprint(&m), "map[a:[x <nil>] b:2]");
    }

    #[test]
    fn truthiness_follows_go() {
        assert!(!Value::Nil.truthy());
        assert!(!Value::Float(0.0).truthy());
        assert!(!Value::str("").truthy());
        assert!(!Value::empty_map().truthy());
        assert!(Value::str("0").truthy());
        assert!(Value::list(vec![Value::Nil]).truthy());
    }

    /// Bytes biased towards the UTF-8 of U+10FF80..U+10FFFF and its pieces.
    fn go_byte_strings() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            any::<u8>().prop_map(|b| vec![b]),
            (0x80u8..=0xBF).prop_map(|b| vec![0xF4, 0x8F, 0xBF, b]),
            (0x80u8..=0xBF).prop_map(|b| vec![0xF4, 0x8F, 0xBE, b]),
            Just(vec![0xF4, 0x8F]),
            Just("é".as_bytes().to_vec()),
            Just(b"a".to_vec()),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn go_bytes_round_trip(b in go_byte_strings()) {
            let s = string_from_go_bytes(&b);
            proptest::prop_assert_eq!(&go_bytes(&s)[..], &b[..]);
            // no real character of the markers' range is left in a template string
            let runes: Vec<GoRune> = go_runes(&s).collect();
            let expect: Vec<GoRune> = b
                .utf8_chunks()
                .flat_map(|c| {
                    c.valid()
                        .chars()
                        .map(GoRune::Char)
                        .chain(c.invalid().iter().map(|b| GoRune::Byte(*b)))
                        .collect::<Vec<_>>()
                })
                .collect();
            let lossy: String = expect.iter().map(|r| r.rune()).collect();
            proptest::prop_assert_eq!(runes, expect);
            proptest::prop_assert_eq!(go_lossy(&s), lossy);
            let _ = go_output(s.clone());
            proptest::prop_assert_eq!(go_cmp(&s, &s), std::cmp::Ordering::Equal);
            proptest::prop_assert!(go_eq(&s, &string_from_go_bytes(&b)));
        }

        #[test]
        fn outside_text_round_trips(s in "\\PC*|[\u{10FF70}-\u{10FFFF}a]*") {
            let g = go_string_from_str(&s);
            proptest::prop_assert_eq!(&go_bytes(&g)[..], s.as_bytes());
            proptest::prop_assert_eq!(go_chars_view(&g), s.as_str());
            proptest::prop_assert_eq!(go_runes(&g).count(), s.chars().count());
        }

        #[test]
        fn any_string_is_safe(s in "\\PC*|[\u{10FF70}-\u{10FFFF}\u{F4}a]*") {
            // strings that break the invariant (a real U+10FFFF) must not panic either
            let _ = go_bytes(&s);
            let _ = go_runes(&s).count();
            let _ = go_lossy(&s);
            let _ = go_output(s.clone());
            let _ = string_from_go_bytes(s.as_bytes());
        }
    }

    #[test]
    fn markers_spell_characters() {
        let u = string_from_go_bytes("\u{10FFFF}".as_bytes());
        assert_eq!(u.chars().count(), 4);
        assert_eq!(go_bytes(&u).len(), 4);
        assert_eq!(
            go_runes(&u).collect::<Vec<_>>(),
            vec![GoRune::Char('\u{10FFFF}')]
        );
        let x = string_from_go_bytes(b"\xff\xf4\x8f\xbf");
        assert_eq!(
            go_runes(&x).collect::<Vec<_>>(),
            vec![
                GoRune::Byte(0xff),
                GoRune::Byte(0xf4),
                GoRune::Byte(0x8f),
                GoRune::Byte(0xbf)
            ]
        );
        assert_eq!(go_output(u), "\u{10FFFF}");
        assert!(go_cmp(&string_from_go_bytes(b"\x80"), "é").is_lt());
    }
}
