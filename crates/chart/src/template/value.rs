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
}

impl GoBytes {
    pub fn new(data: impl Into<Rc<[u8]>>) -> GoBytes {
        let data = data.into();
        GoBytes {
            range: 0..data.len(),
            data,
            nil: false,
        }
    }

    /// A nil `[]byte`.
    pub fn nil() -> GoBytes {
        GoBytes {
            data: Rc::from(&[][..]),
            range: 0..0,
            nil: true,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.data.get(self.range.clone()).unwrap_or_default()
    }

    /// `bytes()[range]`, sharing the bytes; `None` when `range` is not within them.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<GoBytes> {
        self.bytes().get(range.clone())?;
        Some(GoBytes {
            data: self.data.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
            nil: false,
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

    /// Convert decoded JSON (values files, todo.toml inline values) to a template value.
    /// JSON numbers become float64, as sigs.k8s.io/yaml does for Helm.
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
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
/// read with `.Files.Get`) is kept as the private-use char U+10FF00 + byte, so the functions
/// that work on bytes (`b64enc`, the checksums, `len`) see the file's own bytes again.
const RAW_BYTE_BASE: u32 = 0x10FF00;

/// Bytes as a template string, invalid UTF-8 kept byte for byte.
pub fn string_from_go_bytes(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_string();
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push(char::from_u32(RAW_BYTE_BASE + u32::from(*byte)).unwrap_or('\u{fffd}'));
        }
    }
    out
}

/// The bytes a Go string holds (see `string_from_go_bytes`).
pub fn go_bytes(s: &str) -> std::borrow::Cow<'_, [u8]> {
    // U+10FF00..U+10FFFF encode as F4 8F BC..BF xx; most strings hold no 0xF4 at all.
    if !s.as_bytes().contains(&0xF4) {
        return std::borrow::Cow::Borrowed(s.as_bytes());
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let n = c as u32;
        if n >= RAW_BYTE_BASE {
            out.push((n - RAW_BYTE_BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    std::borrow::Cow::Owned(out)
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
}
