//! The function library: Go's text/template builtins, Helm's additions and the Sprig functions
//! charts use. Each function checks its arguments like Go's reflection would (a `string`
//! parameter rejects a float64, an `interface{}` one takes anything).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use sha2::Digest;

use super::gofmt::go_quote;
use super::mmsemver::{Constraints, Version};
use super::value::{GoBytes, Value, go_bytes, go_sprint, string_from_go_bytes};
use super::yaml;
use super::{dates, decimal, gojson};
use crate::pattern::Pattern;

/// What functions may reach besides their arguments.
pub struct FuncEnv {
    pub lookup: Option<Arc<dyn crate::Lookup>>,
    /// Bytes of strings (and of list elements) built by functions, `include` and `tpl` so far
    /// in this render.
    pub allocated: std::cell::Cell<usize>,
    /// `range` iterations so far in this render (see [`MAX_ITERATIONS`]).
    pub iterations: std::cell::Cell<u64>,
    /// The dot helm gives the template being rendered: it, its `.Values` and its `.Template`
    /// are Go `chartutil.Values`, a type of their own where sprig asserts a plain map (`dig`).
    /// Known by identity: the parent's `.Values.sub` is the same map as subchart sub's
    /// `.Values`, but only the latter is a chartutil.Values.
    pub render_dot: std::cell::RefCell<Option<super::value::MapRef>>,
}

impl FuncEnv {
    pub fn new(lookup: Option<Arc<dyn crate::Lookup>>) -> FuncEnv {
        FuncEnv {
            lookup,
            allocated: std::cell::Cell::new(0),
            iterations: std::cell::Cell::new(0),
            render_dot: std::cell::RefCell::new(None),
        }
    }

    /// Whether `v` is one of the render dot's chartutil.Values (see `render_dot`).
    pub fn is_chartutil_values(&self, v: &Value) -> bool {
        let (Value::Map(m), Some(dot)) = (v, self.render_dot.borrow().clone()) else {
            return false;
        };
        Rc::ptr_eq(m, &dot)
            || ["Values", "Template"]
                .iter()
                .any(|k| matches!(dot.borrow().get(*k), Some(Value::Map(x)) if Rc::ptr_eq(m, x)))
    }

    /// The Go type of `v`, as `typeOf`, `%T` and an interface conversion name it.
    pub fn go_type_name(&self, v: &Value) -> &'static str {
        if self.is_chartutil_values(v) {
            "chartutil.Values"
        } else {
            v.type_name()
        }
    }
}

/// All the string bytes one render may build, summed over every call: a template that keeps
/// doubling a string (or builds many large ones) stops with an error long before it could
/// exhaust memory. Real charts build a few megabytes.
pub const MAX_TOTAL_ALLOCATION: usize = 512 << 20;

/// What one element of a list a function builds is counted as against [`MAX_TOTAL_ALLOCATION`]
/// (a value, its share of the list and the allocator's): `until 16777216` builds 1.2 GB.
pub const LIST_ELEMENT_BYTES: usize = 64;

/// `range` iterations one render may run, summed over every loop: nested loops that stay under
/// every size limit can still run for minutes. Real charts run a few thousand.
pub const MAX_ITERATIONS: u64 = 5_000_000;

/// The largest output one template (or one `include`/`tpl`) may render.
pub const MAX_OUTPUT: usize = 64 << 20;

#[derive(Debug)]
pub enum FuncError {
    /// An engine error, printed as `error calling NAME: ...`.
    Msg(String),
    /// `required`/`fail`: the chart author's message, shown as is.
    Fail(String),
    /// A wrong number of arguments (`want` is `N` or `at least N`), which Go reports before
    /// the call, naming the function as the template called it.
    Arity { want: String, got: usize },
    /// A parameter of another Go type. Go checks parameter types before the call, so the
    /// executor reports this at the argument's node when `at` is the address of one of the
    /// arguments it passed (otherwise as `Msg`).
    Arg {
        at: usize,
        expected: String,
        message: String,
    },
}

impl FuncError {
    /// The text `error calling NAME:` would carry.
    pub fn message(&self) -> &str {
        match self {
            FuncError::Msg(m) | FuncError::Fail(m) => m,
            FuncError::Arity { .. } => "wrong number of args",
            FuncError::Arg { message, .. } => message,
        }
    }
}

pub type Func = fn(&FuncEnv, &[Value]) -> Result<Value, FuncError>;

pub(super) type R = Result<Value, FuncError>;

pub(super) fn err<T>(m: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Msg(m.into()))
}

pub fn lookup(name: &str) -> Option<Func> {
    static TABLE: OnceLock<HashMap<&'static str, Func>> = OnceLock::new();
    TABLE.get_or_init(table).get(name).copied()
}

/// Every function name this engine knows (for the README list and tests).
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = table().keys().copied().collect();
    v.extend(["and", "or", "include", "tpl"]);
    v.sort();
    v
}

// ------------------------------------------------------------------ argument helpers

/// The largest string or list a function may build: a chart asking for more is a mistake, and
/// allocating it would abort the process instead of reporting an error.
pub const MAX_SIZE: i64 = 16 << 20;

fn size(name: &str, n: i64) -> Result<usize, FuncError> {
    if n > MAX_SIZE {
        return err(format!(
            "{name}: {n} is larger than the {MAX_SIZE} this renderer allows"
        ));
    }
    Ok(n.max(0) as usize)
}

pub(super) fn nargs(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    let _ = name;
    if args.len() != n {
        return Err(FuncError::Arity {
            want: n.to_string(),
            got: args.len(),
        });
    }
    Ok(())
}

fn min_args(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    let _ = name;
    if args.len() < n {
        return Err(FuncError::Arity {
            want: format!("at least {n}"),
            got: args.len(),
        });
    }
    Ok(())
}

pub(super) fn wrong(expected: &str, v: &Value) -> FuncError {
    let got = match v {
        Value::Nil => "interface {}".to_string(),
        other => other.type_name().to_string(),
    };
    FuncError::Arg {
        at: v as *const Value as usize,
        expected: expected.to_string(),
        message: format!("wrong type for value; expected {expected}; got {got}"),
    }
}

/// A Go `string` parameter.
pub(super) fn s(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(x) => Ok(x),
        other => Err(wrong("string", other)),
    }
}

/// A Go `int` parameter: template literals and integer results pass, float64 values do not.
pub(super) fn i(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(x) => Ok(*x),
        other => Err(wrong("int", other)),
    }
}

fn b(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(x) => Ok(*x),
        other => Err(wrong("bool", other)),
    }
}

/// A Go `map[string]interface{}` parameter (nil is a nil map). A map of another Go type (a
/// `map[string]string` from `split`, `.Files`, a struct) is not assignable to it.
fn m(v: &Value) -> Result<Option<super::value::MapRef>, FuncError> {
    match v {
        Value::Nil => Ok(None),
        Value::Map(mm) => Ok(Some(mm.clone())),
        other => Err(wrong("map[string]interface {}", other)),
    }
}

/// sprig's strval: strings as they are, a []byte as its text, everything else through `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(x) => x.to_string(),
        Value::Nil => "<nil>".to_string(),
        other => match GoBytes::of(other) {
            Some(b) => string_from_go_bytes(b.bytes()),
            None => go_sprint(other),
        },
    }
}

/// cast.ToInt64 as sprig uses it: numbers truncate, strings parse (0 on failure), nil is 0.
pub fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(x) | Value::Int64(x) => *x,
        // Go's int64(u): past i64::MAX it wraps
        Value::Uint64(u) => *u as i64,
        Value::Uint8(u) => i64::from(*u),
        Value::Float(f) => *f as i64,
        Value::Bool(x) => *x as i64,
        Value::Str(x) => parse_go_int(x.trim()).unwrap_or(0),
        _ => 0,
    }
}

fn parse_go_int(x: &str) -> Option<i64> {
    let (neg, body) = match x.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, x.strip_prefix('+').unwrap_or(x)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(x) | Value::Int64(x) => *x as f64,
        Value::Uint64(u) => *u as f64,
        Value::Uint8(u) => f64::from(*u),
        Value::Float(f) => *f,
        Value::Bool(x) => *x as i64 as f64,
        Value::Str(x) => x.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// sprig's list coercion (`strslice`, `join`, ...): a list, or a single value as a one-item list.
fn as_items(v: &Value) -> Vec<Value> {
    match v.as_list() {
        Some(l) => l.as_ref().clone(),
        None => match v {
            Value::Nil => Vec::new(),
            other => vec![other.clone()],
        },
    }
}

fn list_arg(name: &str, v: &Value) -> Result<Rc<Vec<Value>>, FuncError> {
    match v {
        Value::Nil => Ok(Rc::new(Vec::new())),
        // sprig names the reflect kind
        other => other.as_list().ok_or_else(|| {
            let kind = other.kind_name();
            FuncError::Msg(match name {
                "chunk" => format!("Cannot chunk type {kind}"),
                "concat" => format!("Cannot concat type {kind} as list"),
                _ => format!("Cannot {name} on type {kind}"),
            })
        }),
    }
}

/// sprig's `empty`: Go zero values.
pub fn is_empty(v: &Value) -> bool {
    !v.truthy()
}

// ------------------------------------------------------------------ comparisons (Go builtins)

#[derive(PartialEq, Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
    Invalid,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Uint64(_) | Value::Uint8(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// A Go unsigned integer's value (uint64 or uint8).
fn uint_of(v: &Value) -> Option<u64> {
    match v {
        Value::Uint64(u) => Some(*u),
        Value::Uint8(u) => Some(u64::from(*u)),
        _ => None,
    }
}

/// An int and a uint compare by their values, as text/template's eq and lt do.
fn int_uint_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(x) | Value::Int64(x), y) => Some(i128::from(*x).cmp(&i128::from(uint_of(y)?))),
        (x, Value::Int(y) | Value::Int64(y)) => Some(i128::from(uint_of(x)?).cmp(&i128::from(*y))),
        _ => None,
    }
}

fn incompatible(a: &Value, b: &Value) -> FuncError {
    FuncError::Msg(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

/// text/template's eq for one pair. Slices, maps, pointers, structs and nil are all of Go's
/// "invalid" basic kind to it: two of them compare when they are of one reflect kind (or one is
/// nil), by nil-ness when either is nil, and otherwise only when the second one's type is
/// comparable (a slice or a map is not).
fn eq_one(env: &FuncEnv, a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    let not_basic = |k: Kind| matches!(k, Kind::Other | Kind::Invalid);
    if not_basic(ka) && not_basic(kb) {
        let (ra, rb) = (a.kind_name(), b.kind_name());
        let percent_s = |v: &Value| {
            super::gofmt::sprintf_typed("%s", std::slice::from_ref(v), &|v| env.go_type_name(v))
        };
        if ra != rb && ra != "invalid" && rb != "invalid" {
            return err(format!(
                "non-comparable types {}: {}, {}: {}",
                percent_s(a),
                env.go_type_name(a),
                env.go_type_name(b),
                go_sprint(b)
            ));
        }
        let (na, nb) = (go_is_nil(a), go_is_nil(b));
        if na || nb {
            return Ok(na == nb);
        }
        return match (a, b) {
            _ if matches!(rb, "slice" | "map") => err(format!(
                "non-comparable type {}: {}",
                percent_s(b),
                env.go_type_name(b)
            )),
            // two pointers are equal when they point at one value
            (Value::Object(p), Value::Object(q)) if rb == "ptr" => {
                Ok(std::ptr::addr_eq(Rc::as_ptr(p), Rc::as_ptr(q)))
            }
            _ => Ok(false),
        };
    }
    if ka != kb {
        if let Some(o) = int_uint_cmp(a, b) {
            return Ok(o.is_eq());
        }
        if ka != Kind::Invalid && kb != Kind::Invalid {
            return Err(incompatible(a, b));
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => super::value::go_eq(x, y),
        // two uints of any size
        (x, y) => uint_of(x).is_some_and(|x| Some(x) == uint_of(y)),
    })
}

/// Go's isNil for a template value: nil, or a typed nil slice or map.
fn go_is_nil(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Object(o) => o.as_any().is_some_and(|a| {
            a.is::<crate::objects::GoNil>()
                || a.downcast_ref::<GoBytes>().is_some_and(GoBytes::is_nil)
        }),
        _ => false,
    }
}

fn f_eq(env: &FuncEnv, a: &[Value]) -> R {
    min_args("eq", a, 2)?;
    for other in &a[1..] {
        if eq_one(env, &a[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn f_ne(env: &FuncEnv, a: &[Value]) -> R {
    nargs("ne", a, 2)?;
    Ok(Value::Bool(!eq_one(env, &a[0], &a[1])?))
}

fn less(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if matches!(ka, Kind::Invalid | Kind::Other | Kind::Bool)
        || matches!(kb, Kind::Invalid | Kind::Other | Kind::Bool)
    {
        return err("invalid type for comparison");
    }
    if ka != kb {
        return match int_uint_cmp(a, b) {
            Some(o) => Ok(o.is_lt()),
            None => Err(incompatible(a, b)),
        };
    }
    Ok(match (a, b) {
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => super::value::go_cmp(x, y).is_lt(),
        // two uints of any size
        (x, y) => match (uint_of(x), uint_of(y)) {
            (Some(x), Some(y)) => x < y,
            _ => false,
        },
    })
}

fn f_lt(_: &FuncEnv, a: &[Value]) -> R {
    nargs("lt", a, 2)?;
    Ok(Value::Bool(less(&a[0], &a[1])?))
}
fn f_le(env: &FuncEnv, a: &[Value]) -> R {
    nargs("le", a, 2)?;
    Ok(Value::Bool(
        less(&a[0], &a[1])? || eq_one(env, &a[0], &a[1])?,
    ))
}
fn f_gt(env: &FuncEnv, a: &[Value]) -> R {
    nargs("gt", a, 2)?;
    Ok(Value::Bool(
        !(less(&a[0], &a[1])? || eq_one(env, &a[0], &a[1])?),
    ))
}
fn f_ge(_: &FuncEnv, a: &[Value]) -> R {
    nargs("ge", a, 2)?;
    Ok(Value::Bool(!less(&a[0], &a[1])?))
}

fn f_not(_: &FuncEnv, a: &[Value]) -> R {
    nargs("not", a, 1)?;
    Ok(Value::Bool(!a[0].truthy()))
}

fn f_len(_: &FuncEnv, a: &[Value]) -> R {
    nargs("len", a, 1)?;
    if let Some(b) = GoBytes::of(&a[0]) {
        return Ok(Value::Int(b.bytes().len() as i64));
    }
    let n = match &a[0] {
        Value::Str(x) => go_bytes(x).len(),
        Value::Nil => return err("len of nil pointer"),
        other => match (other.as_list(), other.as_map()) {
            (Some(l), _) => l.len(),
            (_, Some(mm)) => mm.borrow().len(),
            _ => return err(format!("len of type {}", other.type_name())),
        },
    };
    Ok(Value::Int(n as i64))
}

fn f_index(_: &FuncEnv, a: &[Value]) -> R {
    min_args("index", a, 1)?;
    let mut cur = a[0].clone();
    for (i, key) in a[1..].iter().enumerate() {
        cur = match &cur {
            Value::Nil if i == 0 => return err("index of untyped nil"),
            // a missing map element: Go's zero interface value
            Value::Nil => return err("index of nil pointer"),
            Value::Str(st) => {
                let idx = index_int(key)?;
                let bytes = go_bytes(st);
                match bytes.get(idx) {
                    Some(byte) => Value::Uint8(*byte),
                    // Go checks idx > len, then reflect panics at len
                    None if idx == bytes.len() => {
                        return err("reflect: string index out of range");
                    }
                    None => return err(format!("index out of range: {idx}")),
                }
            }
            other => {
                if let Some(b) = GoBytes::of(other).map(GoBytes::bytes) {
                    let idx = index_int(key)?;
                    match b.get(idx) {
                        Some(byte) => Value::Uint8(*byte),
                        None if idx == b.len() => {
                            return err("reflect: slice index out of range");
                        }
                        None => return err(format!("index out of range: {idx}")),
                    }
                } else if let Some(l) = other.as_list() {
                    let idx = index_int(key)?;
                    match l.get(idx) {
                        Some(x) => x.clone(),
                        None if idx == l.len() => {
                            return err("reflect: slice index out of range");
                        }
                        None => return err(format!("index out of range: {idx}")),
                    }
                } else if let Some(mm) = other.as_map() {
                    let k = match key {
                        Value::Str(k) => k.to_string(),
                        Value::Nil => return err("value is nil; should be of type string"),
                        o => {
                            return err(format!(
                                "value has type {}; should be string",
                                o.type_name()
                            ));
                        }
                    };
                    let found = mm.borrow().get(&k).cloned();
                    found.unwrap_or_else(|| other.map_element_zero())
                } else {
                    return err(format!("can't index item of type {}", other.type_name()));
                }
            }
        };
    }
    Ok(cur)
}

fn index_int(v: &Value) -> Result<usize, FuncError> {
    match v {
        Value::Int(x) | Value::Int64(x) if *x >= 0 => Ok(*x as usize),
        Value::Int(x) | Value::Int64(x) => err(format!("index out of range: {x}")),
        // Go reads a uint index as int64(u)
        Value::Uint64(u) => index_int(&Value::Int64(*u as i64)),
        Value::Uint8(u) => Ok(usize::from(*u)),
        other => err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

/// fmt.Sprint: spaces between operands when neither side is a string.
fn f_print(_: &FuncEnv, a: &[Value]) -> R {
    let mut out = String::new();
    for (k, v) in a.iter().enumerate() {
        if k > 0 && !matches!(v, Value::Str(_)) && !matches!(a[k - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&go_sprint(v));
    }
    Ok(Value::string(out))
}

fn f_println(_: &FuncEnv, a: &[Value]) -> R {
    let parts: Vec<String> = a.iter().map(go_sprint).collect();
    Ok(Value::string(format!("{}\n", parts.join(" "))))
}

fn f_printf(env: &FuncEnv, a: &[Value]) -> R {
    min_args("printf", a, 1)?;
    Ok(Value::string(super::gofmt::sprintf_typed(
        s(&a[0])?,
        &a[1..],
        &|v| env.go_type_name(v),
    )))
}

/// text/template's evalArgs: one string as it is, anything else as fmt.Sprint prints it.
fn eval_args(env: &FuncEnv, a: &[Value]) -> Result<String, FuncError> {
    Ok(match a {
        [Value::Str(x)] => x.to_string(),
        _ => strval(&f_print(env, a)?),
    })
}

fn f_html(env: &FuncEnv, a: &[Value]) -> R {
    let text = eval_args(env, a)?;
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Ok(Value::string(out))
}

fn f_urlquery(env: &FuncEnv, a: &[Value]) -> R {
    let text = eval_args(env, a)?;
    Ok(Value::string(query_escape(&text)))
}

fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for &byte in go_bytes(text).iter() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

// ------------------------------------------------------------------ Helm

fn f_to_yaml(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toYaml", a, 1)?;
    // helm swallows yaml.Marshal's errors (its JSON step's, then its YAML reading's): ""
    let y = yaml::to_yaml(&a[0]);
    Ok(Value::string(
        y.strip_suffix('\n').unwrap_or(&y).to_string(),
    ))
}

/// sigs.k8s.io/yaml's message when the document is of another kind than the Go type.
fn yaml_type_error(v: &Value, go_type: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: {}",
        gojson::unmarshal_type_error(&v.to_json(), go_type)
    )
}

fn f_from_yaml(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fromYaml", a, 1)?;
    let text = s(&a[0])?;
    match yaml::from_yaml_str(text) {
        Ok(Value::Map(mm)) => Ok(Value::Map(mm)),
        Ok(Value::Nil) => Ok(Value::empty_map()),
        Ok(other) => Ok(error_map(&yaml_type_error(
            &other,
            "map[string]interface {}",
        ))),
        Err(e) => Ok(error_map(&format!("error converting YAML to JSON: {e}"))),
    }
}

fn f_from_yaml_array(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fromYamlArray", a, 1)?;
    match yaml::from_yaml_str(s(&a[0])?) {
        Ok(Value::List(l)) => Ok(Value::List(l)),
        Ok(Value::Nil) => Ok(Value::list(Vec::new())),
        Ok(other) => Ok(Value::list(vec![Value::string(yaml_type_error(
            &other,
            "[]interface {}",
        ))])),
        Err(e) => Ok(Value::list(vec![Value::string(format!(
            "error converting YAML to JSON: {e}"
        ))])),
    }
}

fn error_map(msg: &str) -> Value {
    Value::map(BTreeMap::from([("Error".to_string(), Value::str(msg))]))
}

/// sprig's toJson swallows json.Marshal's error (a NaN or infinite float64); mustToJson
/// returns it.
fn f_to_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toJson", a, 1)?;
    if yaml::json_unsupported(&a[0]).is_some() {
        return Ok(Value::str(""));
    }
    Ok(Value::string(yaml::to_json(&a[0])))
}

fn f_must_to_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustToJson", a, 1)?;
    if let Some(e) = yaml::json_unsupported(&a[0]) {
        return err(e);
    }
    Ok(Value::string(yaml::to_json(&a[0])))
}

fn f_to_pretty_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toPrettyJson", a, 1)?;
    if yaml::json_unsupported(&a[0]).is_some() {
        return Ok(Value::str(""));
    }
    Ok(Value::string(yaml::to_pretty_json(&a[0])))
}

fn f_must_to_pretty_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustToPrettyJson", a, 1)?;
    if let Some(e) = yaml::json_unsupported(&a[0]) {
        return err(e);
    }
    Ok(Value::string(yaml::to_pretty_json(&a[0])))
}

/// sprig's toRawJson panics on json.Marshal's error, mustToRawJson returns it: either way
/// the call fails.
fn f_to_raw_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toRawJson", a, 1)?;
    if let Some(e) = yaml::json_unsupported(&a[0]) {
        return err(e);
    }
    Ok(Value::string(yaml::to_raw_json(&a[0])))
}

/// JSON text decoded as Go's json.Unmarshal decodes it, or Go's error text.
fn go_json(text: &str) -> Result<serde_json::Value, String> {
    if let Some(e) = gojson::syntax_error(text) {
        return Err(e);
    }
    // encoding/json reads a byte of invalid UTF-8 in a string as U+FFFD
    serde_json::from_str::<serde_json::Value>(&super::value::go_lossy(text))
        .map_err(|e| e.to_string())
}

fn f_from_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fromJson", a, 1)?;
    match go_json(s(&a[0])?) {
        Ok(j @ serde_json::Value::Object(_)) => Ok(Value::from_json(&j)),
        // json.Unmarshal of null sets the map to nil
        Ok(serde_json::Value::Null) => Ok(nil_slice("map[string]interface {}")),
        Ok(j) => Ok(error_map(&gojson::unmarshal_type_error(
            &j,
            "map[string]interface {}",
        ))),
        Err(e) => Ok(error_map(&e)),
    }
}

fn f_from_json_array(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fromJsonArray", a, 1)?;
    match go_json(s(&a[0])?) {
        Ok(j @ serde_json::Value::Array(_)) => Ok(Value::from_json(&j)),
        // json.Unmarshal of null sets the slice to nil
        Ok(serde_json::Value::Null) => Ok(nil_slice("[]interface {}")),
        Ok(j) => Ok(Value::list(vec![Value::string(
            gojson::unmarshal_type_error(&j, "[]interface {}"),
        )])),
        Err(e) => Ok(Value::list(vec![Value::string(e)])),
    }
}

/// sprig's mustFromJson: any JSON value, or Go's error.
fn f_must_from_json(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustFromJson", a, 1)?;
    match go_json(s(&a[0])?) {
        Ok(j) => Ok(Value::from_json(&j)),
        Err(e) => err(e),
    }
}

/// Helm's toYamlPretty: go-yaml v3 with a 2-space indent (sequences indented under their key).
fn f_to_yaml_pretty(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toYamlPretty", a, 1)?;
    let y = yaml::to_yaml_pretty(&a[0]);
    Ok(Value::string(
        y.strip_suffix('\n').unwrap_or(&y).to_string(),
    ))
}

/// Helm's fromToml: BurntSushi/toml v1.4 into a map[string]interface{} (see `toml_go`); the
/// error's text goes into the map's "Error" key.
fn f_from_toml(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fromToml", a, 1)?;
    match super::toml_go::decode(s(&a[0])?) {
        Ok(d) => Ok(with_tables_typed(d.value, &d.map_lists)),
        Err(super::toml_go::Failure::Toml(e)) => Ok(error_map(&e)),
        Err(super::toml_go::Failure::Panic(p)) => err(p),
    }
}

/// `v` with its arrays of tables (`tables`, known by identity while decoding builds them) as
/// the `[]map[string]interface {}` BurntSushi/toml makes of them.
fn with_tables_typed(v: Value, tables: &[Rc<Vec<Value>>]) -> Value {
    if tables.is_empty() {
        return v;
    }
    match v {
        Value::List(l) => {
            let items = l
                .iter()
                .map(|x| with_tables_typed(x.clone(), tables))
                .collect();
            if tables.iter().any(|t| Rc::ptr_eq(t, &l)) {
                Value::typed_list("[]map[string]interface {}", items)
            } else {
                Value::list(items)
            }
        }
        Value::Map(m) => Value::map(
            m.borrow()
                .iter()
                .map(|(k, x)| (k.clone(), with_tables_typed(x.clone(), tables)))
                .collect(),
        ),
        other => other,
    }
}

/// Helm's toToml: BurntSushi/toml v1.4's Encoder (see `toml_encode`); the encoder's error text
/// is the result.
fn f_to_toml(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toToml", a, 1)?;
    match super::toml_encode::to_toml(&a[0]) {
        Ok(t) => Ok(Value::string(t)),
        Err(super::toml_encode::Failure::Toml(e)) => Ok(Value::string(e)),
        Err(super::toml_encode::Failure::Panic(p)) => err(p),
    }
}

fn f_required(_: &FuncEnv, a: &[Value]) -> R {
    nargs("required", a, 2)?;
    let msg = s(&a[0])?;
    match &a[1] {
        Value::Nil => Err(FuncError::Fail(msg.to_string())),
        Value::Str(x) if x.is_empty() => Err(FuncError::Fail(msg.to_string())),
        other => Ok(other.clone()),
    }
}

fn f_fail(_: &FuncEnv, a: &[Value]) -> R {
    nargs("fail", a, 1)?;
    Err(FuncError::Fail(s(&a[0])?.to_string()))
}

fn f_lookup(env: &FuncEnv, a: &[Value]) -> R {
    nargs("lookup", a, 4)?;
    let (api, kind, ns, name) = (s(&a[0])?, s(&a[1])?, s(&a[2])?, s(&a[3])?);
    match &env.lookup {
        None => Ok(Value::empty_map()),
        Some(l) => match l.lookup(api, kind, ns, name) {
            Ok(serde_json::Value::Null) => Ok(Value::empty_map()),
            Ok(j) => Ok(Value::from_json(&j)),
            Err(e) => err(e),
        },
    }
}

// ------------------------------------------------------------------ sprig: strings

macro_rules! str1 {
    ($name:ident, $label:literal, |$x:ident| $body:expr) => {
        fn $name(_: &FuncEnv, a: &[Value]) -> R {
            nargs($label, a, 1)?;
            let $x = s(&a[0])?;
            Ok(Value::string($body))
        }
    };
}

str1!(f_upper, "upper", |x| go_upper(x));
str1!(f_lower, "lower", |x| go_lower(x));
str1!(f_trim, "trim", |x| x.trim().to_string());
str1!(f_title, "title", |x| title(x));
str1!(f_untitle, "untitle", |x| untitle(x));
str1!(f_nospace, "nospace", |x| nospace(x));
str1!(f_initials, "initials", |x| initials(x));
str1!(f_b64enc, "b64enc", |x| {
    base64::engine::general_purpose::STANDARD.encode(go_bytes(x))
});
str1!(f_sha256sum, "sha256sum", |x| hex::encode(
    sha2::Sha256::digest(go_bytes(x))
));
str1!(f_sha512sum, "sha512sum", |x| hex::encode(
    sha2::Sha512::digest(go_bytes(x))
));
str1!(f_sha1sum, "sha1sum", |x| sha1_hex(&go_bytes(x)));
str1!(f_adler32sum, "adler32sum", |x| adler32(&go_bytes(x))
    .to_string());
str1!(
    f_snakecase,
    "snakecase",
    |x| super::xstrings::to_lower_case(x, '_')
);
str1!(
    f_kebabcase,
    "kebabcase",
    |x| super::xstrings::to_lower_case(x, '-')
);
str1!(f_camelcase, "camelcase", |x| camel(x));
// goutils.SwapCase: rune by rune (a byte of invalid UTF-8 as U+FFFD)
str1!(f_swapcase, "swapcase", |x| {
    let mut out = String::with_capacity(x.len());
    for c in super::value::go_runes(x).map(super::value::GoRune::rune) {
        let c = if c.is_uppercase() {
            lower_rune(c)
        } else if c.is_lowercase() {
            upper_rune(c)
        } else {
            c
        };
        super::value::push_go_char(&mut out, c);
    }
    out
});
// Go's regexp.QuoteMeta escapes only these (Rust's regex::escape also escapes `-`, `#`, `&`, `~`)
str1!(f_regex_quote, "regexQuoteMeta", |x| {
    let mut out = String::with_capacity(x.len());
    for c in x.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
});
str1!(f_base, "base", |x| path_base(x));
str1!(f_dir, "dir", |x| path_dir(x));
str1!(f_ext, "ext", |x| path_ext(x));
str1!(f_clean, "clean", |x| path_clean(x));
str1!(f_b32enc, "b32enc", |x| base32_encode(&go_bytes(x)));

fn f_b64dec(_: &FuncEnv, a: &[Value]) -> R {
    nargs("b64dec", a, 1)?;
    Ok(Value::string(
        match base64::engine::general_purpose::STANDARD.decode(s(&a[0])?) {
            Ok(bytes) => string_from_go_bytes(&bytes),
            Err(e) => e.to_string(),
        },
    ))
}

fn f_b32dec(_: &FuncEnv, a: &[Value]) -> R {
    nargs("b32dec", a, 1)?;
    Ok(Value::string(match base32_decode(s(&a[0])?) {
        Some(bytes) => String::from_utf8_lossy(&bytes).to_string(),
        None => "illegal base32 data".to_string(),
    }))
}

fn f_is_abs(_: &FuncEnv, a: &[Value]) -> R {
    nargs("isAbs", a, 1)?;
    Ok(Value::Bool(s(&a[0])?.starts_with('/')))
}

/// Go's strings.Title: a rune after a separator (ASCII other than letters, digits and `_`;
/// beyond ASCII only spaces) is title-cased.
fn title(x: &str) -> String {
    fn separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut out = String::with_capacity(x.len());
    let mut prev = ' ';
    // strings.Map: a byte of invalid UTF-8 as U+FFFD
    for c in super::value::go_runes(x).map(super::value::GoRune::rune) {
        if separator(prev) {
            super::value::push_go_char(&mut out, upper_rune(c));
        } else {
            super::value::push_go_char(&mut out, c);
        }
        prev = c;
    }
    out
}

/// Go's unicode.ToUpper: one rune for one (a rune without a single-rune mapping, like `ß`,
/// stays as it is; Rust's full mapping would make it `SS`).
pub(super) fn upper_rune(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// Go's unicode.ToLower, one rune for one.
pub(super) fn lower_rune(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// strings.ToUpper: ASCII in place, other runes one for one.
fn go_upper(x: &str) -> String {
    if x.is_ascii() {
        return x.to_ascii_uppercase();
    }
    map_runes(x, upper_rune)
}

/// strings.ToLower: ASCII in place, other runes one for one.
fn go_lower(x: &str) -> String {
    if x.is_ascii() {
        return x.to_ascii_lowercase();
    }
    map_runes(x, lower_rune)
}

/// strings.Map: each rune mapped, a byte of invalid UTF-8 as U+FFFD.
fn map_runes(x: &str, f: impl Fn(char) -> char) -> String {
    if !super::value::has_markers(x) {
        return x.chars().map(f).collect();
    }
    let mut out = String::with_capacity(x.len());
    for r in super::value::go_runes(x) {
        super::value::push_go_char(&mut out, f(r.rune()));
    }
    out
}

/// goutils DeleteWhiteSpace: byte by byte like Initials, so when it removes anything, each
/// non-ASCII byte comes back as the rune of that value (a string without spaces is unchanged).
fn nospace(x: &str) -> String {
    let b = go_bytes(x);
    if !b.iter().any(|&c| char::from(c).is_whitespace()) {
        return x.to_string();
    }
    b.iter()
        .map(|&c| char::from(c))
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// goutils Initials: it walks the string's bytes, so the initial of a non-ASCII word is its
/// first byte read as a rune (`É` gives `Ã`), as in helm.
fn initials(x: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for &b in go_bytes(x).iter() {
        let c = char::from(b);
        if c.is_whitespace() {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

fn untitle(x: &str) -> String {
    let mut out = String::new();
    let mut at_start = true;
    // rune by rune (a byte of invalid UTF-8 as U+FFFD)
    for c in super::value::go_runes(x).map(super::value::GoRune::rune) {
        if at_start {
            super::value::push_go_char(&mut out, lower_rune(c));
        } else {
            super::value::push_go_char(&mut out, c);
        }
        at_start = c.is_whitespace();
    }
    out
}

/// huandu/xstrings v1.5 ToPascalCase (sprig's `camelcase`): connectors (`-`, `_`, spaces) before
/// the first letter and all but the last of a run of them stay; the letter after one is upper
/// case; a word that starts with an upper-case run keeps only its first letter upper.
fn camel(x: &str) -> String {
    fn connector(c: char) -> bool {
        c == '-' || c == '_' || c.is_whitespace()
    }
    let upper = upper_rune;
    let lower = lower_rune;
    let mut out = String::with_capacity(x.len());
    let mut chars = x.chars();
    let mut first_upper = false;
    let mut r0 = None;
    let mut last = None;
    for c in chars.by_ref() {
        if !connector(c) {
            first_upper = c.is_uppercase();
            r0 = Some(upper(c));
            break;
        }
        out.push(c);
        last = Some(c);
    }
    let Some(mut r0) = r0 else {
        // only connectors: xstrings writes the last one a second time
        out.extend(last);
        return out;
    };
    for c in chars {
        let r1 = r0;
        r0 = c;
        if connector(r0) && connector(r1) {
            out.push(r1);
            continue;
        }
        if connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = upper(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

fn f_trim_all(_: &FuncEnv, a: &[Value]) -> R {
    nargs("trimAll", a, 2)?;
    let (cutset, x) = (s(&a[0])?, s(&a[1])?);
    if !cutset.is_empty() && on_bytes(cutset, x) {
        // strings.Trim over Go's runes: a byte of invalid UTF-8 is RuneError, in the cutset
        // when it holds one (or U+FFFD)
        use super::value::GoRune;
        let cut: Vec<GoRune> = super::value::go_runes(cutset).collect();
        let has_error = cut
            .iter()
            .any(|r| matches!(r, GoRune::Byte(_) | GoRune::Char('\u{fffd}')));
        let inside = |r: GoRune| match r.rune() {
            '\u{fffd}' => has_error,
            c => cut.contains(&GoRune::Char(c)),
        };
        let mut runes = Vec::new();
        let mut it = super::value::go_runes(x);
        loop {
            let at = x.len() - it.as_str().len();
            let Some(r) = it.next() else { break };
            runes.push((at, x.len() - it.as_str().len(), r));
        }
        let first = runes.iter().position(|(_, _, r)| !inside(*r));
        let Some(first) = first else {
            return Ok(Value::str(""));
        };
        let last = runes
            .iter()
            .rposition(|(_, _, r)| !inside(*r))
            .unwrap_or(first);
        return Ok(Value::str(&x[runes[first].0..runes[last].1]));
    }
    let cut: Vec<char> = cutset.chars().collect();
    Ok(Value::string(
        s(&a[1])?.trim_matches(|c| cut.contains(&c)).to_string(),
    ))
}

/// Whether a search must run on Go's bytes: a marker in either string is a byte that may sit
/// inside a character of the other (or spell one with its neighbours).
fn on_bytes(a: &str, b: &str) -> bool {
    super::value::has_markers(a) || super::value::has_markers(b)
}

/// Where `n` first occurs in `h` (bytes).
fn find_bytes(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| w == n)
}

/// `x` cut at each non-empty `sep` (Go's bytes), into at most `limit` pieces.
fn split_bytes(x: &str, sep: &str, limit: Option<usize>) -> Vec<String> {
    let (h, n) = (go_bytes(x), go_bytes(sep));
    let mut out = Vec::new();
    let mut rest: &[u8] = &h;
    while limit.is_none_or(|l| out.len() + 1 < l) {
        let Some(i) = find_bytes(rest, &n) else { break };
        out.push(string_from_go_bytes(&rest[..i]));
        rest = &rest[i + n.len()..];
    }
    if limit != Some(0) {
        out.push(string_from_go_bytes(rest));
    }
    out
}

fn f_trim_prefix(_: &FuncEnv, a: &[Value]) -> R {
    nargs("trimPrefix", a, 2)?;
    let (p, x) = (s(&a[0])?, s(&a[1])?);
    if on_bytes(p, x) {
        let (pb, xb) = (go_bytes(p), go_bytes(x));
        return Ok(Value::string(match xb.strip_prefix(&pb[..]) {
            Some(rest) => string_from_go_bytes(rest),
            None => x.to_string(),
        }));
    }
    Ok(Value::string(x.strip_prefix(p).unwrap_or(x).to_string()))
}

fn f_trim_suffix(_: &FuncEnv, a: &[Value]) -> R {
    nargs("trimSuffix", a, 2)?;
    let (p, x) = (s(&a[0])?, s(&a[1])?);
    if on_bytes(p, x) {
        let (pb, xb) = (go_bytes(p), go_bytes(x));
        return Ok(Value::string(match xb.strip_suffix(&pb[..]) {
            Some(rest) => string_from_go_bytes(rest),
            None => x.to_string(),
        }));
    }
    Ok(Value::string(x.strip_suffix(p).unwrap_or(x).to_string()))
}

fn f_contains(_: &FuncEnv, a: &[Value]) -> R {
    nargs("contains", a, 2)?;
    let (n, x) = (s(&a[0])?, s(&a[1])?);
    if on_bytes(n, x) {
        return Ok(Value::Bool(
            find_bytes(&go_bytes(x), &go_bytes(n)).is_some(),
        ));
    }
    Ok(Value::Bool(x.contains(n)))
}

fn f_has_prefix(_: &FuncEnv, a: &[Value]) -> R {
    nargs("hasPrefix", a, 2)?;
    let (p, x) = (s(&a[0])?, s(&a[1])?);
    if on_bytes(p, x) {
        return Ok(Value::Bool(go_bytes(x).starts_with(&go_bytes(p))));
    }
    Ok(Value::Bool(x.starts_with(p)))
}

fn f_has_suffix(_: &FuncEnv, a: &[Value]) -> R {
    nargs("hasSuffix", a, 2)?;
    let (p, x) = (s(&a[0])?, s(&a[1])?);
    if on_bytes(p, x) {
        return Ok(Value::Bool(go_bytes(x).ends_with(&go_bytes(p))));
    }
    Ok(Value::Bool(x.ends_with(p)))
}

fn f_repeat(_: &FuncEnv, a: &[Value]) -> R {
    nargs("repeat", a, 2)?;
    let n = i(&a[0])?;
    if n < 0 {
        return err("strings: negative Repeat count");
    }
    let text = s(&a[1])?;
    size("repeat", n.saturating_mul(text.len() as i64))?;
    Ok(Value::string(text.repeat(n as usize)))
}

fn f_replace(_: &FuncEnv, a: &[Value]) -> R {
    nargs("replace", a, 3)?;
    let (old, new, x) = (s(&a[0])?, s(&a[1])?, s(&a[2])?);
    if !old.is_empty() && on_bytes(old, x) {
        return Ok(Value::string(split_bytes(x, old, None).join(new)));
    }
    Ok(Value::string(x.replace(old, new)))
}

/// sprig trunc: negative lengths keep the tail.
/// sprig's trunc, on bytes as Go slices strings.
fn f_trunc(_: &FuncEnv, a: &[Value]) -> R {
    nargs("trunc", a, 2)?;
    let n = i(&a[0])?;
    let x = s(&a[1])?;
    let b = go_bytes(x);
    let len = b.len() as i64;
    let out = if n < 0 && len + n > 0 {
        &b[(len + n) as usize..]
    } else if n >= 0 && len > n {
        &b[..n as usize]
    } else {
        return Ok(Value::str(x));
    };
    Ok(Value::string(string_from_go_bytes(out)))
}

/// sprig's substring, on bytes: a negative start takes `[:end]`, an end out of range takes
/// `[start:]`; bounds Go cannot slice are its runtime error, as helm reports the panic.
fn f_substr(_: &FuncEnv, a: &[Value]) -> R {
    nargs("substr", a, 3)?;
    let (start, end, x) = (i(&a[0])?, i(&a[1])?, s(&a[2])?);
    let b = go_bytes(x);
    let len = b.len() as i64;
    let out = if start < 0 {
        if end < 0 {
            return err(format!("runtime error: slice bounds out of range [:{end}]"));
        }
        if end > len {
            return err(format!(
                "runtime error: slice bounds out of range [:{end}] with length {len}"
            ));
        }
        &b[..end as usize]
    } else if end < 0 || end > len {
        if start > len {
            return err(format!(
                "runtime error: slice bounds out of range [{start}:{len}]"
            ));
        }
        &b[start as usize..]
    } else {
        if start > end {
            return err(format!(
                "runtime error: slice bounds out of range [{start}:{end}]"
            ));
        }
        &b[start as usize..end as usize]
    };
    Ok(Value::string(string_from_go_bytes(out)))
}

fn f_abbrev(_: &FuncEnv, a: &[Value]) -> R {
    nargs("abbrev", a, 2)?;
    let (w, x) = (i(&a[0])?, s(&a[1])?);
    if w < 4 {
        return Ok(Value::str(x));
    }
    Ok(Value::string(abbreviate_full(x, 0, w)))
}

fn f_abbrevboth(_: &FuncEnv, a: &[Value]) -> R {
    nargs("abbrevboth", a, 3)?;
    let (left, right, x) = (i(&a[0])?, i(&a[1])?, s(&a[2])?);
    if right < 4 || left > 0 && right < 7 {
        return Ok(Value::str(x));
    }
    Ok(Value::string(abbreviate_full(x, left, right)))
}

/// Masterminds/goutils AbbreviateFull, on bytes as Go slices strings (width checked by callers).
fn abbreviate_full(x: &str, offset: i64, width: i64) -> String {
    let b = go_bytes(x);
    let len = b.len() as i64;
    if len <= width {
        return x.to_string();
    }
    let mut offset = offset.min(len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    let marker = b"...";
    let mut out: Vec<u8> = Vec::new();
    if offset <= 4 {
        out.extend_from_slice(&b[..(width - 3) as usize]);
        out.extend_from_slice(marker);
    } else if width < 7 {
        return String::new();
    } else if offset + width - 3 < len {
        let rest = string_from_go_bytes(&b[offset as usize..]);
        out.extend_from_slice(marker);
        out.extend_from_slice(&go_bytes(&abbreviate_full(&rest, 0, width - 3)));
    } else {
        out.extend_from_slice(marker);
        out.extend_from_slice(&b[(len - (width - 3)) as usize..]);
    }
    string_from_go_bytes(&out)
}

fn f_wrap(_: &FuncEnv, a: &[Value]) -> R {
    nargs("wrap", a, 2)?;
    Ok(Value::string(wrap_custom(
        s(&a[1])?,
        i(&a[0])?,
        "\n",
        false,
    )))
}

fn f_wrap_with(_: &FuncEnv, a: &[Value]) -> R {
    nargs("wrapWith", a, 3)?;
    Ok(Value::string(wrap_custom(
        s(&a[2])?,
        i(&a[0])?,
        s(&a[1])?,
        true,
    )))
}

/// goutils WrapCustom on bytes: a line breaks at the last space within `width`; a longer word
/// is cut at `width` when `long_words`, otherwise runs on to the next space.
fn wrap_custom(x: &str, width: i64, nl: &str, long_words: bool) -> String {
    if x.is_empty() {
        return String::new();
    }
    let nl = if nl.is_empty() { "\n" } else { nl };
    let width = width.max(1) as usize;
    let b = go_bytes(x);
    let nlb = go_bytes(nl);
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(len + 8);
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = width + offset + 1;
        match b[offset..end].iter().rposition(|&c| c == b' ') {
            Some(p) => {
                let at = offset + p;
                out.extend_from_slice(&b[offset..at]);
                out.extend_from_slice(&nlb);
                offset = at + 1;
            }
            None if long_words => {
                let end = width + offset;
                out.extend_from_slice(&b[offset..end]);
                out.extend_from_slice(&nlb);
                offset += width;
            }
            None => {
                let end = width + offset;
                match b[end..].iter().position(|&c| c == b' ') {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = len;
                    }
                    Some(i) => {
                        let at = i + end;
                        out.extend_from_slice(&b[offset..at]);
                        out.extend_from_slice(&nlb);
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset.min(len)..]);
    string_from_go_bytes(&out)
}

fn f_quote(_: &FuncEnv, a: &[Value]) -> R {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| go_quote(&strval(v)))
        .collect();
    Ok(Value::string(parts.join(" ")))
}

/// sprig's squote and cat print with `%v` (a []byte as its numbers), not strval.
fn f_squote(_: &FuncEnv, a: &[Value]) -> R {
    let parts: Vec<String> = a
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| format!("'{}'", go_sprint(v)))
        .collect();
    Ok(Value::string(parts.join(" ")))
}

fn f_cat(_: &FuncEnv, a: &[Value]) -> R {
    let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(go_sprint).collect();
    Ok(Value::string(parts.join(" ")))
}

fn indent_text(name: &str, n: i64, x: &str) -> Result<String, FuncError> {
    let lines = x.matches('\n').count() as i64 + 1;
    size(name, n.saturating_mul(lines).saturating_add(x.len() as i64))?;
    let pad = " ".repeat(n.max(0) as usize);
    Ok(format!("{pad}{}", x.replace('\n', &format!("\n{pad}"))))
}

fn f_indent(_: &FuncEnv, a: &[Value]) -> R {
    nargs("indent", a, 2)?;
    Ok(Value::string(indent_text("indent", i(&a[0])?, s(&a[1])?)?))
}

fn f_nindent(_: &FuncEnv, a: &[Value]) -> R {
    nargs("nindent", a, 2)?;
    let body = indent_text("nindent", i(&a[0])?, s(&a[1])?)?;
    Ok(Value::string(format!("\n{body}")))
}

fn f_plural(_: &FuncEnv, a: &[Value]) -> R {
    nargs("plural", a, 3)?;
    let n = i(&a[2])?;
    Ok(Value::str(if n == 1 { s(&a[0])? } else { s(&a[1])? }))
}

fn f_to_string(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toString", a, 1)?;
    Ok(Value::string(strval(&a[0])))
}

fn f_to_strings(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toStrings", a, 1)?;
    Ok(Value::strings(
        as_items(&a[0])
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| Value::string(strval(v)))
            .collect(),
    ))
}

fn f_join(_: &FuncEnv, a: &[Value]) -> R {
    nargs("join", a, 2)?;
    let sep = s(&a[0])?;
    let parts: Vec<String> = as_items(&a[1])
        .iter()
        .filter(|v| !v.is_nil())
        .map(strval)
        .collect();
    Ok(Value::string(parts.join(sep)))
}

fn f_split_list(_: &FuncEnv, a: &[Value]) -> R {
    nargs("splitList", a, 2)?;
    let (sep, x) = (s(&a[0])?, s(&a[1])?);
    Ok(Value::strings(
        go_split(x, sep).into_iter().map(Value::string).collect(),
    ))
}

/// strings.Split: at each `sep` (Go's bytes); an empty `sep` cuts after each UTF-8 sequence.
fn go_split(x: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        let mut v = Vec::new();
        let mut runes = super::value::go_runes(x);
        let mut idx = 0;
        while runes.next().is_some() {
            let end = x.len() - runes.as_str().len();
            v.push(x[idx..end].to_string());
            idx = end;
        }
        return v;
    }
    if on_bytes(sep, x) {
        return split_bytes(x, sep, None);
    }
    x.split(sep).map(str::to_string).collect()
}

fn f_split(_: &FuncEnv, a: &[Value]) -> R {
    nargs("split", a, 2)?;
    let (sep, x) = (s(&a[0])?, s(&a[1])?);
    let m = go_split(x, sep)
        .into_iter()
        .enumerate()
        .map(|(k, p)| (format!("_{k}"), Value::string(p)))
        .collect();
    Ok(Value::typed_map("map[string]string", m))
}

fn f_splitn(_: &FuncEnv, a: &[Value]) -> R {
    nargs("splitn", a, 3)?;
    let (sep, n, x) = (s(&a[0])?, i(&a[1])?, s(&a[2])?);
    let parts: Vec<String> = if !sep.is_empty() && on_bytes(sep, x) {
        split_bytes(x, sep, usize::try_from(n).ok())
    } else if n < 0 {
        x.split(sep).map(str::to_string).collect()
    } else {
        x.splitn(n as usize, sep).map(str::to_string).collect()
    };
    let m = parts
        .into_iter()
        .enumerate()
        .map(|(k, p)| (format!("_{k}"), Value::string(p)))
        .collect();
    Ok(Value::typed_map("map[string]string", m))
}

fn f_sort_alpha(_: &FuncEnv, a: &[Value]) -> R {
    nargs("sortAlpha", a, 1)?;
    if a[0].is_nil() {
        // not a slice: []string{strval(nil)}
        return Ok(Value::strings(vec![Value::str("<nil>")]));
    }
    let mut v: Vec<String> = as_items(&a[0]).iter().map(strval).collect();
    v.sort_by(|a, b| super::value::go_cmp(a, b));
    Ok(Value::strings(v.into_iter().map(Value::string).collect()))
}

fn f_shuffle(_: &FuncEnv, a: &[Value]) -> R {
    nargs("shuffle", a, 1)?;
    use rand::seq::SliceRandom;
    let mut chars: Vec<char> = s(&a[0])?.chars().collect();
    chars.shuffle(&mut rand::rng());
    Ok(Value::string(chars.into_iter().collect()))
}

fn rand_from(a: &[Value], name: &str, alphabet: &[u8]) -> R {
    nargs(name, a, 1)?;
    use rand::Rng;
    let n = size(name, i(&a[0])?)?;
    let mut rng = rand::rng();
    let out: String = (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect();
    Ok(Value::string(out))
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn f_rand_alnum(_: &FuncEnv, a: &[Value]) -> R {
    rand_from(a, "randAlphaNum", ALNUM)
}
fn f_rand_alpha(_: &FuncEnv, a: &[Value]) -> R {
    rand_from(a, "randAlpha", &ALNUM[..52])
}
fn f_rand_numeric(_: &FuncEnv, a: &[Value]) -> R {
    rand_from(a, "randNumeric", &ALNUM[52..])
}
fn f_rand_ascii(_: &FuncEnv, a: &[Value]) -> R {
    let ascii: Vec<u8> = (32u8..127).collect();
    rand_from(a, "randAscii", &ascii)
}

fn f_rand_int(_: &FuncEnv, a: &[Value]) -> R {
    nargs("randInt", a, 2)?;
    use rand::Rng;
    // randInt(min, max int): an int64 or a float64 is refused, as Go refuses it
    let (lo, hi) = (i(&a[0])?, i(&a[1])?);
    if hi <= lo {
        return err("invalid argument to Intn");
    }
    Ok(Value::Int(rand::rng().random_range(lo..hi)))
}

fn f_uuidv4(_: &FuncEnv, a: &[Value]) -> R {
    nargs("uuidv4", a, 0)?;
    Ok(Value::string(uuid::Uuid::new_v4().to_string()))
}

// ------------------------------------------------------------------ regex

/// Compiled patterns are cached per thread (at most 256 each): charts call the same regex in
/// loops.
fn cached<T: Clone>(
    cache: &'static std::thread::LocalKey<std::cell::RefCell<HashMap<String, T>>>,
    p: &str,
    compile: impl FnOnce() -> Result<T, FuncError>,
) -> Result<T, FuncError> {
    if let Some(r) = cache.with(|c| c.borrow().get(p).cloned()) {
        return Ok(r);
    }
    let r = compile()?;
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < 256 {
            c.insert(p.to_string(), r.clone());
        }
    });
    Ok(r)
}

/// A pattern Go's regexp refuses is refused with Go's error, whatever the regex crate makes of it.
fn go_syntax(p: &str) -> Result<(), FuncError> {
    match super::regex_go::go_error(p) {
        Some(msg) => err(format!("error parsing regexp: {msg}")),
        None => Ok(()),
    }
}

fn re(p: &str) -> Result<regex::Regex, FuncError> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, regex::Regex>> =
            std::cell::RefCell::new(HashMap::new());
    }
    cached(&CACHE, p, || {
        go_syntax(p)?;
        regex::Regex::new(&super::regex_go::translate(p))
            .map_err(|e| FuncError::Msg(format!("error parsing regexp: {e}")))
    })
}

/// A `regexMatch` pattern: regex-lite where it reads the Go pattern as the regex crate does
/// (`regex_go::lite_reads_alike`), the regex crate otherwise.
fn matcher(p: &str) -> Result<Pattern, FuncError> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Pattern>> =
            std::cell::RefCell::new(HashMap::new());
    }
    cached(&CACHE, p, || {
        go_syntax(p)?;
        let translated = super::regex_go::translate(p);
        let lite = super::regex_go::lite_reads_alike(&translated).then_some(translated.as_str());
        Pattern::lite_or(lite, || re(p))
    })
}

/// A string as Go's regexp reads it: its runes, a byte of invalid UTF-8 as U+FFFD (`view`),
/// with the way back to the string's own positions (most strings are their own view).
struct RuneText<'a> {
    orig: &'a str,
    view: std::borrow::Cow<'a, str>,
    /// For each byte offset of `view` at a character boundary, the offset in `orig`.
    back: Vec<usize>,
}

impl<'a> RuneText<'a> {
    fn new(orig: &'a str) -> Self {
        if !super::value::has_markers(orig) {
            return RuneText {
                orig,
                view: orig.into(),
                back: Vec::new(),
            };
        }
        let mut view = String::with_capacity(orig.len());
        let mut back = Vec::with_capacity(orig.len() + 1);
        let mut runes = super::value::go_runes(orig);
        loop {
            let at = orig.len() - runes.as_str().len();
            back.resize(view.len() + 1, at);
            let Some(r) = runes.next() else { break };
            view.push(r.rune());
        }
        RuneText {
            orig,
            view: view.into(),
            back,
        }
    }

    fn pos(&self, view_pos: usize) -> usize {
        if self.back.is_empty() {
            view_pos
        } else {
            self.back[view_pos]
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.orig[self.pos(start)..self.pos(end)]
    }
}

/// A pattern as Go's regexp reads it (its runes); invalid UTF-8 is its checkUTF8 error.
fn pattern_runes(p: &str) -> Result<std::borrow::Cow<'_, str>, FuncError> {
    if !super::value::has_markers(p) {
        return Ok(p.into());
    }
    let mut runes = super::value::go_runes(p);
    let mut view = String::with_capacity(p.len());
    loop {
        let rest = runes.as_str();
        match runes.next() {
            None => return Ok(view.into()),
            Some(super::value::GoRune::Char(c)) => view.push(c),
            Some(super::value::GoRune::Byte(_)) => {
                return err(format!("error parsing regexp: invalid UTF-8: `{rest}`"));
            }
        }
    }
}

/// Regexp.ReplaceAllString (`expand`) or ReplaceAllLiteralString over Go's runes of `x`.
fn go_replace_all(r: &regex::Regex, x: &str, repl: &str, expand: bool) -> String {
    let t = RuneText::new(x);
    if t.back.is_empty() {
        return if expand {
            r.replace_all(x, repl).to_string()
        } else {
            r.replace_all(x, regex::NoExpand(repl)).to_string()
        };
    }
    let mut out = String::with_capacity(x.len());
    let mut last = 0;
    for caps in r.captures_iter(&t.view) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(t.slice(last, m.start()));
        if expand {
            expand_go(r, &caps, &t, repl, &mut out);
        } else {
            out.push_str(repl);
        }
        last = m.end();
    }
    out.push_str(t.slice(last, t.view.len()));
    out
}

/// Regexp.expand: `$name`, `${name}` and `$$` in `template`, with the groups' text of the
/// original string.
fn expand_go(
    r: &regex::Regex,
    caps: &regex::Captures<'_>,
    t: &RuneText<'_>,
    template: &str,
    out: &mut String,
) {
    let group = |name: &str| -> Option<regex::Match<'_>> {
        match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => r
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        }
    };
    let word = |c: char| c == '_' || c.is_alphanumeric();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, after) = if let Some(inner) = rest.strip_prefix('{') {
            match inner.find('}') {
                Some(end) if end > 0 && inner[..end].chars().all(word) => {
                    (&inner[..end], &inner[end + 1..])
                }
                _ => ("", rest),
            }
        } else {
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.is_empty() {
            // malformed: the $ stays
            out.push('$');
            continue;
        }
        if let Some(m) = group(name) {
            out.push_str(t.slice(m.start(), m.end()));
        }
        rest = after;
    }
    out.push_str(rest);
}

fn f_regex_match(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexMatch", a, 2)?;
    let x = RuneText::new(s(&a[1])?);
    Ok(Value::Bool(
        pattern_runes(s(&a[0])?)
            .and_then(|p| matcher(&p))
            .is_ok_and(|m| m.is_match(&x.view)),
    ))
}

fn f_must_regex_match(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mustRegexMatch", a, 2)?;
    let x = RuneText::new(s(&a[1])?);
    Ok(Value::Bool(
        matcher(&pattern_runes(s(&a[0])?)?)?.is_match(&x.view),
    ))
}

fn f_regex_find(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexFind", a, 2)?;
    let r = re(&pattern_runes(s(&a[0])?)?)?;
    let x = RuneText::new(s(&a[1])?);
    Ok(Value::str(
        r.find(&x.view)
            .map(|m| x.slice(m.start(), m.end()))
            .unwrap_or(""),
    ))
}

fn f_regex_find_all(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexFindAll", a, 3)?;
    let r = re(&pattern_runes(s(&a[0])?)?)?;
    let n = i(&a[2])?;
    let x = RuneText::new(s(&a[1])?);
    let it = r
        .find_iter(&x.view)
        .map(|m| Value::str(x.slice(m.start(), m.end())));
    let v: Vec<Value> = if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    };
    if v.is_empty() {
        // FindAllString returns nil when nothing matches
        return Ok(nil_slice("[]string"));
    }
    Ok(Value::strings(v))
}

/// A Go nil slice of type `t` (a sprig result Go leaves nil): prints `[]`, marshals as null.
fn nil_slice(t: &'static str) -> Value {
    Value::Object(Rc::new(crate::objects::GoNil(t)))
}

/// Go's `$1`/`${name}` expansion differs from Rust's only in edge cases charts rarely hit.
fn f_regex_replace_all(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexReplaceAll", a, 3)?;
    let r = re(&pattern_runes(s(&a[0])?)?)?;
    Ok(Value::string(go_replace_all(
        &r,
        s(&a[1])?,
        s(&a[2])?,
        true,
    )))
}

fn f_regex_replace_all_literal(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexReplaceAllLiteral", a, 3)?;
    let r = re(&pattern_runes(s(&a[0])?)?)?;
    Ok(Value::string(go_replace_all(
        &r,
        s(&a[1])?,
        s(&a[2])?,
        false,
    )))
}

fn f_regex_split(_: &FuncEnv, a: &[Value]) -> R {
    nargs("regexSplit", a, 3)?;
    let p = pattern_runes(s(&a[0])?)?;
    let r = re(&p)?;
    let n = i(&a[2])?;
    let x = s(&a[1])?;
    if n == 0 {
        // Regexp.Split returns nil for n == 0
        return Ok(nil_slice("[]string"));
    }
    Ok(Value::strings(
        go_regexp_split(&p, &r, x, n)
            .into_iter()
            .map(Value::str)
            .collect(),
    ))
}

/// Go's `Regexp.Split(x, n)` (n != 0): the text between at most `n` matches; an empty match at
/// the very start makes no leading "", and the rest after the last match is kept only when
/// that match did not end the text; a non-empty pattern splits "" into [""].
fn go_regexp_split<'x>(pattern: &str, r: &regex::Regex, x: &'x str, n: i64) -> Vec<&'x str> {
    if !pattern.is_empty() && x.is_empty() {
        return vec![""];
    }
    let t = RuneText::new(x);
    let matches = r
        .find_iter(&t.view)
        .map(|m| (t.pos(m.start()), t.pos(m.end())));
    let matches: Vec<(usize, usize)> = if n < 0 {
        matches.collect()
    } else {
        matches.take(n as usize).collect()
    };
    let mut out = Vec::with_capacity(matches.len() + 1);
    let (mut begin, mut end) = (0, 0);
    for (start, stop) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = start;
        if stop != 0 {
            out.push(&x[begin..end]);
        }
        begin = stop;
    }
    if end != x.len() {
        out.push(&x[begin..]);
    }
    out
}

/// sprig's regexFind, regexFindAll, regexReplaceAll, regexReplaceAllLiteral and regexSplit
/// compile with `regexp.MustCompile`: a bad pattern is a panic the template reports with
/// MustCompile's words, `regexp: Compile(PATTERN): ERROR` (their must* forms return the
/// error itself, and regexMatch reads a bad pattern as no match).
fn must_compile(a: &[Value], result: R) -> R {
    match result {
        Err(FuncError::Msg(m)) if m.starts_with("error parsing regexp") => {
            let p = a.first().and_then(|p| p.as_str()).unwrap_or_default();
            err(format!("regexp: Compile({}): {m}", go_regexp_quote(p)))
        }
        other => other,
    }
}

/// The regexp package's `quote`: back-quoted when Go can (`strconv.CanBackquote`), else
/// `strconv.Quote`.
fn go_regexp_quote(p: &str) -> String {
    let can_backquote = super::value::go_runes(p).all(|r| match r {
        super::value::GoRune::Byte(_) => false,
        super::value::GoRune::Char(c) => {
            c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control())
        }
    });
    if can_backquote {
        format!("`{p}`")
    } else {
        super::gofmt::go_quote(p)
    }
}

fn f_regex_find_compiled(e: &FuncEnv, a: &[Value]) -> R {
    must_compile(a, f_regex_find(e, a))
}

fn f_regex_find_all_compiled(e: &FuncEnv, a: &[Value]) -> R {
    must_compile(a, f_regex_find_all(e, a))
}

fn f_regex_replace_all_compiled(e: &FuncEnv, a: &[Value]) -> R {
    must_compile(a, f_regex_replace_all(e, a))
}

fn f_regex_replace_all_literal_compiled(e: &FuncEnv, a: &[Value]) -> R {
    must_compile(a, f_regex_replace_all_literal(e, a))
}

fn f_regex_split_compiled(e: &FuncEnv, a: &[Value]) -> R {
    must_compile(a, f_regex_split(e, a))
}

// ------------------------------------------------------------------ defaults & flow

fn f_default(_: &FuncEnv, a: &[Value]) -> R {
    min_args("default", a, 1)?;
    if a.len() == 1 {
        return Ok(a[0].clone());
    }
    let given = &a[1];
    Ok(if is_empty(given) {
        a[0].clone()
    } else {
        given.clone()
    })
}

fn f_empty(_: &FuncEnv, a: &[Value]) -> R {
    nargs("empty", a, 1)?;
    Ok(Value::Bool(is_empty(&a[0])))
}

fn f_coalesce(_: &FuncEnv, a: &[Value]) -> R {
    Ok(a.iter()
        .find(|v| !is_empty(v))
        .cloned()
        .unwrap_or(Value::Nil))
}

fn f_all(_: &FuncEnv, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
}

fn f_any(_: &FuncEnv, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
}

fn f_ternary(_: &FuncEnv, a: &[Value]) -> R {
    nargs("ternary", a, 3)?;
    Ok(if b(&a[2])? {
        a[0].clone()
    } else {
        a[1].clone()
    })
}

// ------------------------------------------------------------------ lists

fn f_list(_: &FuncEnv, a: &[Value]) -> R {
    Ok(Value::list(a.to_vec()))
}

fn f_first(_: &FuncEnv, a: &[Value]) -> R {
    nargs("first", a, 1)?;
    Ok(list_arg("find first", &a[0])?
        .first()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn f_last(_: &FuncEnv, a: &[Value]) -> R {
    nargs("last", a, 1)?;
    Ok(list_arg("find last", &a[0])?
        .last()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn f_rest(_: &FuncEnv, a: &[Value]) -> R {
    nargs("rest", a, 1)?;
    let l = list_arg("find rest", &a[0])?;
    if l.is_empty() {
        return Ok(nil_slice("[]interface {}"));
    }
    Ok(Value::list(l[1..].to_vec()))
}

fn f_initial(_: &FuncEnv, a: &[Value]) -> R {
    nargs("initial", a, 1)?;
    let l = list_arg("find initial", &a[0])?;
    if l.is_empty() {
        return Ok(nil_slice("[]interface {}"));
    }
    Ok(Value::list(l[..l.len() - 1].to_vec()))
}

fn f_append(_: &FuncEnv, a: &[Value]) -> R {
    nargs("append", a, 2)?;
    let mut l = list_arg("push", &a[0])?.as_ref().clone();
    l.push(a[1].clone());
    Ok(Value::list(l))
}

fn f_prepend(_: &FuncEnv, a: &[Value]) -> R {
    nargs("prepend", a, 2)?;
    let mut l = vec![a[1].clone()];
    l.extend(list_arg("prepend", &a[0])?.iter().cloned());
    Ok(Value::list(l))
}

fn f_concat(_: &FuncEnv, a: &[Value]) -> R {
    let mut out = Vec::new();
    for l in a {
        out.extend(list_arg("concat", l)?.iter().cloned());
    }
    if out.is_empty() {
        // sprig appends to a nil slice
        return Ok(nil_slice("[]interface {}"));
    }
    Ok(Value::list(out))
}

fn f_reverse(_: &FuncEnv, a: &[Value]) -> R {
    nargs("reverse", a, 1)?;
    let mut l = list_arg("find reverse", &a[0])?.as_ref().clone();
    l.reverse();
    Ok(Value::list(l))
}

/// reflect.DeepEqual: the same types all the way down (an int is not an int64 nor a float64).
fn deep_eq(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
        (Value::Uint64(a), Value::Uint64(b)) => a == b,
        (Value::Uint8(a), Value::Uint8(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a == b,
        (Value::Str(a), Value::Str(b)) => super::value::go_eq(a, b),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Map(a), Value::Map(b)) => {
            if Rc::ptr_eq(a, b) {
                return true;
            }
            let (a, b) = (a.borrow(), b.borrow());
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        (Value::Object(p), Value::Object(q)) => {
            if x.type_name() != y.type_name() {
                return false;
            }
            match (p.as_data(), q.as_data()) {
                (Some(d), Some(e)) if p.json().is_none() && q.json().is_none() => deep_eq(&d, &e),
                _ => x.to_json() == y.to_json(),
            }
        }
        _ => false,
    }
}

fn f_uniq(_: &FuncEnv, a: &[Value]) -> R {
    nargs("uniq", a, 1)?;
    let mut out: Vec<Value> = Vec::new();
    for v in list_arg("find uniq", &a[0])?.iter() {
        if !out.iter().any(|o| deep_eq(o, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn f_without(_: &FuncEnv, a: &[Value]) -> R {
    min_args("without", a, 1)?;
    let l = list_arg("find without", &a[0])?;
    let out = l
        .iter()
        .filter(|v| !a[1..].iter().any(|o| deep_eq(o, v)))
        .cloned()
        .collect();
    Ok(Value::list(out))
}

fn f_has(_: &FuncEnv, a: &[Value]) -> R {
    nargs("has", a, 2)?;
    let l = list_arg("find has", &a[1])?;
    Ok(Value::Bool(l.iter().any(|v| deep_eq(v, &a[0]))))
}

fn f_compact(_: &FuncEnv, a: &[Value]) -> R {
    nargs("compact", a, 1)?;
    let l = list_arg("compact", &a[0])?;
    Ok(Value::list(
        l.iter().filter(|v| !is_empty(v)).cloned().collect(),
    ))
}

/// sprig's slice (it replaces text/template's builtin in Helm): lists only; cast.ToInt indices.
fn f_slice(_: &FuncEnv, a: &[Value]) -> R {
    min_args("slice", a, 1)?;
    if let Some(b) = GoBytes::of(&a[0]) {
        if b.bytes().is_empty() {
            return Ok(Value::Nil);
        }
        let (start, end) = slice_bounds(a, b.bytes().len(), b.capacity())?;
        return match b.slice(start..end) {
            Some(part) => Ok(Value::Object(Rc::new(part))),
            None => err("reflect.Value.Slice: slice index out of bounds"),
        };
    }
    let l = match &a[0] {
        Value::List(l) => l.clone(),
        Value::Object(o) => match o.as_data() {
            Some(Value::List(l)) => l,
            _ => {
                return err(format!(
                    "list should be type of slice or array but {}",
                    a[0].kind_name()
                ));
            }
        },
        Value::Nil => return err("reflect: call of reflect.Value.Kind on zero Value"),
        other => {
            return err(format!(
                "list should be type of slice or array but {}",
                other.kind_name()
            ));
        }
    };
    if l.is_empty() {
        return Ok(Value::Nil);
    }
    let (start, end) = slice_bounds(a, l.len(), l.len())?;
    // reflect's Slice keeps the slice's type
    Ok(a[0].retyped(Value::list(l[start..end].to_vec())))
}

/// sprig's slice bounds (`slice LIST START END`, cast.ToInt) for a slice of `len` elements
/// and room for `cap` (reflect's Slice allows up to the capacity).
fn slice_bounds(a: &[Value], len: usize, cap: usize) -> Result<(usize, usize), FuncError> {
    let start = a.get(1).map(to_i64).unwrap_or(0);
    let end = a.get(2).map(to_i64).unwrap_or(len as i64);
    if start < 0 || end < start || end > cap as i64 {
        return err("reflect.Value.Slice: slice index out of bounds");
    }
    Ok((start as usize, end as usize))
}

fn f_until(_: &FuncEnv, a: &[Value]) -> R {
    nargs("until", a, 1)?;
    let n = i(&a[0])?;
    size("until", n.saturating_abs())?;
    let v = if n >= 0 {
        (0..n).map(Value::Int).collect()
    } else {
        (n + 1..=0).rev().map(Value::Int).collect()
    };
    Ok(Value::typed_list("[]int", v))
}

fn f_until_step(_: &FuncEnv, a: &[Value]) -> R {
    nargs("untilStep", a, 3)?;
    let (start, stop, step) = (i(&a[0])?, i(&a[1])?, i(&a[2])?);
    Ok(Value::typed_list(
        "[]int",
        until_step("untilStep", start, stop, step)?
            .into_iter()
            .map(Value::Int)
            .collect(),
    ))
}

/// sprig's untilStep: `start` towards `stop` (excluded) by `step`; empty when the step goes the
/// other way or is 0.
fn until_step(name: &str, start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    if step != 0 {
        size(
            name,
            stop.saturating_sub(start).saturating_abs() / step.saturating_abs(),
        )?;
    }
    let mut v = Vec::new();
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut k = start;
        while k > stop {
            v.push(k);
            k = match k.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut k = start;
    while k < stop {
        v.push(k);
        k = match k.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(v)
}

/// sprig's seq: `seq END` counts from 1 (down when END < 1), `seq START END`, `seq START STEP END`.
fn f_seq(_: &FuncEnv, a: &[Value]) -> R {
    let mut n = Vec::with_capacity(a.len());
    for v in a {
        n.push(i(v)?);
    }
    let v = match n.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            until_step("seq", 1, end.saturating_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step("seq", *start, end.saturating_add(step), step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok(Value::str(""));
                }
            }
            until_step("seq", *start, end.saturating_add(inc), *step)?
        }
        _ => return Ok(Value::str("")),
    };
    let mut out = String::new();
    for (k, x) in v.iter().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(&x.to_string());
    }
    Ok(Value::string(out))
}

/// sprig's chunk, with its float arithmetic: the number of chunks is
/// `int(floor(float64(len-1)/float64(size)) + 1)` and the last one's length
/// `int(floor(math.Mod(len, size)))`, so a size of 0 (and a negative size but for a few
/// lengths) asks Go for a slice of a negative length.
fn f_chunk(_: &FuncEnv, a: &[Value]) -> R {
    nargs("chunk", a, 2)?;
    let size = i(&a[0])?;
    let l = list_arg("chunk", &a[1])?;
    const MAKESLICE: &str = "runtime error: makeslice: len out of range";
    let n = l.len() as f64;
    let count = go_int_of_f64(((n - 1.0) / size as f64).floor() + 1.0);
    if count < 0 {
        return err(MAKESLICE);
    }
    let mut out = Vec::new();
    for k in 0..count {
        let mut len = size;
        if k == count - 1 {
            len = go_int_of_f64((n % size as f64).floor());
            if len == 0 {
                len = size;
            }
        }
        if len < 0 {
            return err(MAKESLICE);
        }
        let mut c = Vec::new();
        for j in 0..len {
            let item = k
                .checked_mul(size)
                .and_then(|x| x.checked_add(j))
                .and_then(|ix| usize::try_from(ix).ok())
                .and_then(|ix| l.get(ix));
            match item {
                Some(v) => c.push(v.clone()),
                None => return err("reflect: slice index out of range"),
            }
        }
        out.push(Value::list(c));
    }
    Ok(Value::typed_list("[][]interface {}", out))
}

/// Go's int(f) on amd64: NaN, infinities and values out of range give the smallest int.
fn go_int_of_f64(f: f64) -> i64 {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

// ------------------------------------------------------------------ dicts

fn f_dict(_: &FuncEnv, a: &[Value]) -> R {
    let mut out = BTreeMap::new();
    for pair in a.chunks(2) {
        let k = strval(&pair[0]);
        let v = pair.get(1).cloned().unwrap_or(Value::str(""));
        out.insert(k, v);
    }
    Ok(Value::map(out))
}

fn f_get(_: &FuncEnv, a: &[Value]) -> R {
    nargs("get", a, 2)?;
    let k = s(&a[1])?;
    Ok(match m(&a[0])? {
        Some(mm) => mm.borrow().get(k).cloned().unwrap_or(Value::str("")),
        None => Value::str(""),
    })
}

fn f_set(_: &FuncEnv, a: &[Value]) -> R {
    nargs("set", a, 3)?;
    let k = s(&a[1])?;
    match m(&a[0])? {
        Some(mm) => {
            // A map holding itself would make every later walk over it endless.
            if let Value::Map(v) = &a[2]
                && Rc::ptr_eq(v, &mm)
            {
                return err("cannot set a dict as a value inside itself");
            }
            mm.borrow_mut().insert(k.to_string(), a[2].clone());
            Ok(Value::Map(mm))
        }
        None => err("assignment to entry in nil map"),
    }
}

fn f_unset(_: &FuncEnv, a: &[Value]) -> R {
    nargs("unset", a, 2)?;
    let k = s(&a[1])?;
    match m(&a[0])? {
        Some(mm) => {
            mm.borrow_mut().remove(k);
            Ok(Value::Map(mm))
        }
        None => Ok(Value::Nil),
    }
}

fn f_has_key(_: &FuncEnv, a: &[Value]) -> R {
    nargs("hasKey", a, 2)?;
    let k = s(&a[1])?;
    Ok(Value::Bool(
        m(&a[0])?.is_some_and(|mm| mm.borrow().contains_key(k)),
    ))
}

fn f_keys(_: &FuncEnv, a: &[Value]) -> R {
    let mut out = Vec::new();
    for d in a {
        if let Some(mm) = m(d)? {
            out.extend(mm.borrow().keys().map(|k| Value::str(k)));
        }
    }
    Ok(Value::strings(out))
}

fn f_values(_: &FuncEnv, a: &[Value]) -> R {
    nargs("values", a, 1)?;
    Ok(Value::list(
        m(&a[0])?
            .map(|mm| mm.borrow().values().cloned().collect())
            .unwrap_or_default(),
    ))
}

fn f_pluck(_: &FuncEnv, a: &[Value]) -> R {
    min_args("pluck", a, 1)?;
    let k = s(&a[0])?;
    let mut out = Vec::new();
    for d in &a[1..] {
        if let Some(mm) = m(d)?
            && let Some(v) = mm.borrow().get(k)
        {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn f_pick(_: &FuncEnv, a: &[Value]) -> R {
    min_args("pick", a, 1)?;
    let mut out = BTreeMap::new();
    if let Some(mm) = m(&a[0])? {
        for k in &a[1..] {
            let k = s(k)?;
            if let Some(v) = mm.borrow().get(k) {
                out.insert(k.to_string(), v.clone());
            }
        }
    }
    Ok(Value::map(out))
}

fn f_omit(_: &FuncEnv, a: &[Value]) -> R {
    min_args("omit", a, 1)?;
    let drop: Vec<&str> = a[1..].iter().map(s).collect::<Result<_, _>>()?;
    let out = m(&a[0])?
        .map(|mm| {
            mm.borrow()
                .iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Value::map(out))
}

/// sprig's dig: the dict and every map it steps through are type-asserted to a plain
/// `map[string]interface{}` and the keys to strings, so anything else (`.Values` itself, a
/// chartutil.Values) panics with Go's interface conversion error.
fn f_dig(env: &FuncEnv, a: &[Value]) -> R {
    if a.len() < 3 {
        return err("dig needs at least three arguments");
    }
    let conversion = |v: &Value, want: &str| {
        let is = match v {
            Value::Nil => "nil",
            other => env.go_type_name(other),
        };
        FuncError::Msg(format!(
            "interface conversion: interface {{}} is {is}, not {want}"
        ))
    };
    let dict = |v: &Value| match v {
        Value::Map(m) if !env.is_chartutil_values(v) => Ok(m.clone()),
        other => Err(conversion(other, "map[string]interface {}")),
    };
    let n = a.len();
    let mut cur = dict(&a[n - 1])?;
    let default = &a[n - 2];
    let keys = a[..n - 2]
        .iter()
        .map(|k| match k {
            Value::Str(k) => Ok(k),
            other => Err(conversion(other, "string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, k) in keys.iter().enumerate() {
        let Some(step) = cur.borrow().get(&***k).cloned() else {
            return Ok(default.clone());
        };
        if i + 1 == keys.len() {
            return Ok(step);
        }
        cur = dict(&step)?;
    }
    Ok(default.clone())
}

/// mergo.Merge semantics as sprig uses them: recursive into maps; `overwrite` replaces
/// non-empty destination values too. A value taken from the source is shared, not copied, as Go
/// assigns a map by reference: a later `set` or merge into it shows through both.
fn merge_into(dst: &super::value::MapRef, src: &super::value::MapRef, overwrite: bool) {
    if Rc::ptr_eq(dst, src) {
        return;
    }
    // the source's members first: a member map may be the destination or the source itself
    let members: Vec<(String, Value)> = src
        .borrow()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, sv) in &members {
        let dv = dst.borrow().get(k).cloned();
        // a nil source value is taken only when overwriting
        if sv.is_nil() {
            if overwrite {
                dst.borrow_mut().insert(k.clone(), Value::Nil);
            }
            continue;
        }
        // a map (of any Go map type) merges into a destination map, which keeps its place
        // unless both are empty
        let src_map = match sv {
            Value::Map(sm) => Some(sm.clone()),
            Value::Object(o)
                if o.as_any().is_some_and(|a| {
                    a.is::<super::value::GoTyped>() || a.is::<crate::objects::GoNil>()
                }) =>
            {
                sv.as_map()
            }
            _ => None,
        };
        if let (Some(Value::Map(dm)), Some(sm)) = (&dv, src_map) {
            merge_into(dm, &sm, overwrite);
            if !dm.borrow().is_empty() {
                continue;
            }
        }
        // anything else (a slice too, even empty) replaces what is missing or empty, or
        // anything when overwriting
        if overwrite || dv.as_ref().is_none_or(is_empty) {
            dst.borrow_mut().insert(k.clone(), sv.clone());
        }
    }
}

fn merge_impl(name: &str, a: &[Value], overwrite: bool) -> R {
    min_args(name, a, 1)?;
    let Some(dst) = m(&a[0])? else {
        return Ok(Value::empty_map());
    };
    for src in &a[1..] {
        if let Some(sm) = m(src)? {
            merge_into(&dst, &sm, overwrite);
        }
    }
    Ok(Value::Map(dst))
}

fn f_merge(_: &FuncEnv, a: &[Value]) -> R {
    merge_impl("merge", a, false)
}

fn f_merge_overwrite(_: &FuncEnv, a: &[Value]) -> R {
    merge_impl("mergeOverwrite", a, true)
}

fn f_deep_copy(_: &FuncEnv, a: &[Value]) -> R {
    nargs("deepCopy", a, 1)?;
    Ok(a[0].deep_copy())
}

// ------------------------------------------------------------------ math

fn f_add(_: &FuncEnv, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter().map(to_i64).fold(0i64, i64::wrapping_add),
    ))
}
fn f_add1(_: &FuncEnv, a: &[Value]) -> R {
    nargs("add1", a, 1)?;
    Ok(Value::Int64(to_i64(&a[0]).wrapping_add(1)))
}
fn f_sub(_: &FuncEnv, a: &[Value]) -> R {
    nargs("sub", a, 2)?;
    Ok(Value::Int64(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
}
fn f_mul(_: &FuncEnv, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter().map(to_i64).fold(1i64, i64::wrapping_mul),
    ))
}
fn f_div(_: &FuncEnv, a: &[Value]) -> R {
    nargs("div", a, 2)?;
    let d = to_i64(&a[1]);
    if d == 0 {
        return err("runtime error: integer divide by zero");
    }
    Ok(Value::Int64(to_i64(&a[0]).wrapping_div(d)))
}
fn f_mod(_: &FuncEnv, a: &[Value]) -> R {
    nargs("mod", a, 2)?;
    let d = to_i64(&a[1]);
    if d == 0 {
        return err("runtime error: integer divide by zero");
    }
    Ok(Value::Int64(to_i64(&a[0]).wrapping_rem(d)))
}
fn f_max(_: &FuncEnv, a: &[Value]) -> R {
    min_args("max", a, 1)?;
    Ok(Value::Int64(a.iter().map(to_i64).max().unwrap_or(0)))
}
fn f_min(_: &FuncEnv, a: &[Value]) -> R {
    min_args("min", a, 1)?;
    Ok(Value::Int64(a.iter().map(to_i64).min().unwrap_or(0)))
}
/// sprig's execDecimalOp: `first`, then each of `rest`, combined in shopspring decimals.
fn decimal_op(
    first: &Value,
    rest: &[Value],
    op: fn(&decimal::Decimal, &decimal::Decimal) -> Result<decimal::Decimal, String>,
) -> R {
    let mut acc = decimal::Decimal::from_f64(to_f64(first)).map_err(FuncError::Msg)?;
    for x in rest {
        let d = decimal::Decimal::from_f64(to_f64(x)).map_err(FuncError::Msg)?;
        acc = op(&acc, &d).map_err(FuncError::Msg)?;
    }
    Ok(Value::Float(acc.to_f64()))
}
fn f_addf(_: &FuncEnv, a: &[Value]) -> R {
    decimal_op(&Value::Float(0.0), a, |x, y| Ok(x.add(y)))
}
fn f_add1f(_: &FuncEnv, a: &[Value]) -> R {
    nargs("add1f", a, 1)?;
    decimal_op(&a[0], &[Value::Int(1)], |x, y| Ok(x.add(y)))
}
fn f_subf(_: &FuncEnv, a: &[Value]) -> R {
    min_args("subf", a, 1)?;
    decimal_op(&a[0], &a[1..], |x, y| Ok(x.sub(y)))
}
fn f_mulf(_: &FuncEnv, a: &[Value]) -> R {
    min_args("mulf", a, 1)?;
    decimal_op(&a[0], &a[1..], |x, y| Ok(x.mul(y)))
}
fn f_divf(_: &FuncEnv, a: &[Value]) -> R {
    min_args("divf", a, 1)?;
    decimal_op(&a[0], &a[1..], |x, y| x.div(y))
}
fn f_maxf(_: &FuncEnv, a: &[Value]) -> R {
    min_args("maxf", a, 1)?;
    Ok(Value::Float(a.iter().map(to_f64).fold(f64::MIN, f64::max)))
}
fn f_minf(_: &FuncEnv, a: &[Value]) -> R {
    min_args("minf", a, 1)?;
    Ok(Value::Float(a.iter().map(to_f64).fold(f64::MAX, f64::min)))
}
fn f_floor(_: &FuncEnv, a: &[Value]) -> R {
    nargs("floor", a, 1)?;
    Ok(Value::Float(to_f64(&a[0]).floor()))
}
fn f_ceil(_: &FuncEnv, a: &[Value]) -> R {
    nargs("ceil", a, 1)?;
    Ok(Value::Float(to_f64(&a[0]).ceil()))
}
/// sprig's round: the digit's fraction (negative for negative numbers) at or above `roundOn`
/// (default .5) rounds up, anything else down.
fn f_round(_: &FuncEnv, a: &[Value]) -> R {
    min_args("round", a, 2)?;
    let p = i(&a[1])?;
    let round_on = a.get(2).map(to_f64).unwrap_or(0.5);
    let pow = 10f64.powf(p as f64);
    let digit = pow * to_f64(&a[0]);
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}
fn f_int(_: &FuncEnv, a: &[Value]) -> R {
    nargs("int", a, 1)?;
    Ok(Value::Int(to_i64(&a[0])))
}
fn f_int64(_: &FuncEnv, a: &[Value]) -> R {
    nargs("int64", a, 1)?;
    Ok(Value::Int64(to_i64(&a[0])))
}
fn f_float64(_: &FuncEnv, a: &[Value]) -> R {
    nargs("float64", a, 1)?;
    Ok(Value::Float(to_f64(&a[0])))
}
fn f_atoi(_: &FuncEnv, a: &[Value]) -> R {
    nargs("atoi", a, 1)?;
    Ok(Value::Int(s(&a[0])?.trim().parse().unwrap_or(0)))
}

// ------------------------------------------------------------------ types

fn f_kind_of(_: &FuncEnv, a: &[Value]) -> R {
    nargs("kindOf", a, 1)?;
    Ok(Value::str(a[0].kind_name()))
}
fn f_kind_is(_: &FuncEnv, a: &[Value]) -> R {
    nargs("kindIs", a, 2)?;
    Ok(Value::Bool(s(&a[0])? == a[1].kind_name()))
}
fn f_type_of(env: &FuncEnv, a: &[Value]) -> R {
    nargs("typeOf", a, 1)?;
    Ok(Value::str(env.go_type_name(&a[0])))
}
fn f_type_is(env: &FuncEnv, a: &[Value]) -> R {
    nargs("typeIs", a, 2)?;
    Ok(Value::Bool(s(&a[0])? == env.go_type_name(&a[1])))
}
fn f_type_is_like(env: &FuncEnv, a: &[Value]) -> R {
    nargs("typeIsLike", a, 2)?;
    let t = s(&a[0])?;
    let n = env.go_type_name(&a[1]);
    // sprig: target == t || "*"+target == t
    Ok(Value::Bool(t == n || n.strip_prefix('*') == Some(t)))
}
fn f_deep_equal(env: &FuncEnv, a: &[Value]) -> R {
    nargs("deepEqual", a, 2)?;
    // reflect.DeepEqual: values of two Go types differ (a .Chart []string and a list)
    if env.go_type_name(&a[0]) != env.go_type_name(&a[1]) {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(deep_eq(&a[0], &a[1])))
}

// ------------------------------------------------------------------ semver

/// A Masterminds/semver version: lenient (`v` prefix, missing minor/patch).
pub fn parse_version(x: &str) -> Option<Version> {
    Version::parse(x).ok()
}

/// A Masterminds/semver *Version: fields as methods, Compare/LessThan/GreaterThan/Equal with
/// another version, printed as its normalized String().
#[derive(Debug)]
struct SemverObj {
    v: Version,
}

impl super::value::Object for SemverObj {
    fn type_name(&self) -> &'static str {
        "*semver.Version"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Major" => Value::Uint64(self.v.major),
            "Minor" => Value::Uint64(self.v.minor),
            "Patch" => Value::Uint64(self.v.patch),
            "Prerelease" => Value::string(self.v.pre.to_string()),
            "Metadata" => Value::string(self.v.metadata.clone()),
            "Original" => Value::string(self.v.original.clone()),
            "String" => Value::string(self.display()),
            _ => return None,
        })
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !matches!(name, "Compare" | "LessThan" | "GreaterThan" | "Equal") {
            return None;
        }
        let [other] = args else {
            return Some(Err(format!(
                "wrong number of args for {name}: want 1 got {}",
                args.len()
            )));
        };
        let o = match other {
            Value::Object(o) => o.as_any().and_then(|a| a.downcast_ref::<SemverObj>()),
            _ => None,
        };
        let Some(o) = o else {
            return Some(Err(format!(
                "wrong type for value; expected *semver.Version; got {}",
                match other {
                    Value::Nil => "interface {}",
                    x => x.type_name(),
                }
            )));
        };
        use std::cmp::Ordering::*;
        let c = self.v.compare(&o.v);
        Some(Ok(match name {
            "Compare" => Value::Int(match c {
                Less => -1,
                Equal => 0,
                Greater => 1,
            }),
            "LessThan" => Value::Bool(c == Less),
            "GreaterThan" => Value::Bool(c == Greater),
            _ => Value::Bool(c == Equal),
        }))
    }
    fn display(&self) -> String {
        self.v.to_string()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn f_semver(_: &FuncEnv, a: &[Value]) -> R {
    nargs("semver", a, 1)?;
    let x = s(&a[0])?;
    let v = Version::parse(x).map_err(FuncError::Msg)?;
    Ok(Value::Object(Rc::new(SemverObj { v })))
}

/// Masterminds/semver constraints (see `mmsemver`): the constraint is read first, so its error
/// wins over the version's, as in sprig.
fn f_semver_compare(_: &FuncEnv, a: &[Value]) -> R {
    nargs("semverCompare", a, 2)?;
    let (c, v) = (s(&a[0])?, s(&a[1])?);
    let c = Constraints::parse(c).map_err(FuncError::Msg)?;
    let ver = Version::parse(v).map_err(FuncError::Msg)?;
    Ok(Value::Bool(c.check(&ver)))
}

/// Whether version `v` meets constraint `c`; `None` when `c` is not a constraint.
pub fn constraint_matches(c: &str, v: &Version) -> Option<bool> {
    Constraints::parse(c).ok().map(|c| c.check(v))
}

// ------------------------------------------------------------------ urls

fn f_url_parse(_: &FuncEnv, a: &[Value]) -> R {
    nargs("urlParse", a, 1)?;
    let x = s(&a[0])?;
    let (scheme, rest) = match x.split_once("://") {
        Some((sc, r)) => (sc, r),
        None => ("", x),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host_part, path) = if scheme.is_empty() {
        ("", rest)
    } else {
        match rest.find('/') {
            Some(p) => (&rest[..p], &rest[p..]),
            None => (rest, ""),
        }
    };
    let (userinfo, host) = match host_part.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", host_part),
    };
    let m = BTreeMap::from([
        ("scheme".to_string(), Value::str(scheme)),
        ("host".to_string(), Value::str(host)),
        (
            "hostname".to_string(),
            Value::str(host.split(':').next().unwrap_or(host)),
        ),
        ("path".to_string(), Value::string(percent_decode(path))),
        ("query".to_string(), Value::str(query)),
        ("opaque".to_string(), Value::str("")),
        ("fragment".to_string(), Value::str(fragment)),
        ("userinfo".to_string(), Value::str(userinfo)),
    ]);
    Ok(Value::map(m))
}

/// url.PathUnescape: `%XX` escapes decoded (a malformed one leaves the text as it is).
fn percent_decode(p: &str) -> String {
    if !p.contains('%') {
        return p.to_string();
    }
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'%' {
            let hex = b
                .get(k + 1..k + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    k += 3;
                    continue;
                }
                None => return p.to_string(),
            }
        }
        out.push(b[k]);
        k += 1;
    }
    string_from_go_bytes(&out)
}

fn f_url_join(_: &FuncEnv, a: &[Value]) -> R {
    nargs("urlJoin", a, 1)?;
    let mm = m(&a[0])?.unwrap_or_default();
    let mm = mm.borrow();
    let g = |k: &str| mm.get(k).map(strval).unwrap_or_default();
    let mut out = String::new();
    if !g("scheme").is_empty() {
        out.push_str(&format!("{}://", g("scheme")));
    }
    if !g("userinfo").is_empty() {
        out.push_str(&format!("{}@", g("userinfo")));
    }
    out.push_str(&g("host"));
    out.push_str(&g("path"));
    if !g("query").is_empty() {
        out.push_str(&format!("?{}", g("query")));
    }
    if !g("fragment").is_empty() {
        out.push_str(&format!("#{}", g("fragment")));
    }
    Ok(Value::string(out))
}

// ------------------------------------------------------------------ paths & encodings

fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => path_clean(&p[..=i]),
        None => ".".into(),
    }
}

fn path_ext(p: &str) -> String {
    let base = p.rsplit('/').next().unwrap_or(p);
    match base.rfind('.') {
        Some(i) => base[i..].to_string(),
        None => String::new(),
    }
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + *byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// SHA-1 for `sha1sum` (no extra dependency for one legacy hash).
fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (t, word) in chunk.chunks(4).enumerate().take(16) {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (t, wt) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wt);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let n_chars = (chunk.len() * 8).div_ceil(5);
        for k in 0..8 {
            if k < n_chars {
                out.push(B32[((bits >> (35 - k * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(x: &str) -> Option<Vec<u8>> {
    let clean = x.trim_end_matches('=');
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in clean.bytes() {
        let v = B32.iter().position(|b| *b == c)? as u64;
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

// ------------------------------------------------------------------ the table

/// text/template's js: the arguments printed as print does, then JavaScript-escaped.
fn f_js(env: &FuncEnv, a: &[Value]) -> R {
    let text = eval_args(env, a)?;
    let mut out = String::with_capacity(text.len());
    for r in super::value::go_runes(&text) {
        let c = match r {
            // a byte of invalid UTF-8 decodes as U+FFFD, which is printable: the byte stays
            super::value::GoRune::Byte(b) => {
                out.push(super::value::raw_marker(b));
                continue;
            }
            super::value::GoRune::Char(c) => c,
        };
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if (c as u32) < 0x80 => out.push(c),
            c if go_is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    Ok(Value::string(out))
}

/// unicode.IsPrint for the characters text/template's js checks (non-ASCII): letters, marks,
/// numbers, punctuation, symbols and the ASCII space; not separators, controls or format runes.
fn go_is_print(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFFFE | 0xFFFF)
        || (c as u32) >= 0xF0000)
}

/// text/template's call: templates hold no function values, so the first argument is never one.
fn f_call(_: &FuncEnv, a: &[Value]) -> R {
    min_args("call", a, 1)?;
    match &a[0] {
        Value::Nil => err("call of nil"),
        other => err(format!("non-function of type {}", other.type_name())),
    }
}

/// sprig's toDecimal: the value printed, read as an octal number (0 when it is not one).
fn f_to_decimal(_: &FuncEnv, a: &[Value]) -> R {
    nargs("toDecimal", a, 1)?;
    // fmt.Sprint, not strval: a []byte as its numbers
    let text = go_sprint(&a[0]);
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let n = if digits.is_empty() || !digits.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        0
    } else {
        i64::from_str_radix(&format!("{}{digits}", if neg { "-" } else { "" }), 8)
            .unwrap_or_default()
    };
    Ok(Value::Int64(n))
}

/// sprig's randBytes: COUNT random bytes, base64-encoded.
fn f_rand_bytes(_: &FuncEnv, a: &[Value]) -> R {
    nargs("randBytes", a, 1)?;
    let n = i(&a[0])?;
    if n < 0 {
        return err("runtime error: makeslice: len out of range");
    }
    let n = size("randBytes", n)?;
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf[..]);
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(buf),
    ))
}

fn table() -> HashMap<&'static str, Func> {
    let mut t: HashMap<&'static str, Func> = HashMap::new();
    let entries: &[(&'static str, Func)] = &[
        // Go builtins
        ("not", f_not),
        ("len", f_len),
        ("index", f_index),
        ("print", f_print),
        ("printf", f_printf),
        ("println", f_println),
        ("eq", f_eq),
        ("ne", f_ne),
        ("lt", f_lt),
        ("le", f_le),
        ("gt", f_gt),
        ("ge", f_ge),
        ("html", f_html),
        ("urlquery", f_urlquery),
        ("slice", f_slice),
        ("mustSlice", f_slice),
        ("js", f_js),
        ("call", f_call),
        // sprig's own smoke-test function, which helm keeps
        ("hello", |_, a| {
            nargs("hello", a, 0)?;
            Ok(Value::str("Hello!"))
        }),
        // Helm
        ("toYaml", f_to_yaml),
        ("fromYaml", f_from_yaml),
        ("fromYamlArray", f_from_yaml_array),
        ("toJson", f_to_json),
        ("mustToJson", f_must_to_json),
        ("toPrettyJson", f_to_pretty_json),
        ("mustToPrettyJson", f_must_to_pretty_json),
        ("toRawJson", f_to_raw_json),
        ("mustToRawJson", f_to_raw_json),
        ("fromJson", f_from_json),
        ("fromJsonArray", f_from_json_array),
        ("toToml", f_to_toml),
        ("fromToml", f_from_toml),
        ("toYamlPretty", f_to_yaml_pretty),
        ("mustFromJson", f_must_from_json),
        ("required", f_required),
        ("fail", f_fail),
        ("lookup", f_lookup),
        // strings
        ("upper", f_upper),
        ("lower", f_lower),
        ("title", f_title),
        ("untitle", f_untitle),
        ("trim", f_trim),
        ("trimAll", f_trim_all),
        ("trimPrefix", f_trim_prefix),
        ("trimSuffix", f_trim_suffix),
        ("nospace", f_nospace),
        ("initials", f_initials),
        ("repeat", f_repeat),
        ("replace", f_replace),
        ("trunc", f_trunc),
        ("substr", f_substr),
        ("abbrev", f_abbrev),
        ("abbrevboth", f_abbrevboth),
        ("trimall", f_trim_all),
        ("wrap", f_wrap),
        ("wrapWith", f_wrap_with),
        ("contains", f_contains),
        ("hasPrefix", f_has_prefix),
        ("hasSuffix", f_has_suffix),
        ("quote", f_quote),
        ("squote", f_squote),
        ("cat", f_cat),
        ("indent", f_indent),
        ("nindent", f_nindent),
        ("plural", f_plural),
        ("snakecase", f_snakecase),
        ("camelcase", f_camelcase),
        ("kebabcase", f_kebabcase),
        ("swapcase", f_swapcase),
        ("shuffle", f_shuffle),
        ("toString", f_to_string),
        ("toStrings", f_to_strings),
        ("join", f_join),
        ("splitList", f_split_list),
        ("split", f_split),
        ("splitn", f_splitn),
        ("sortAlpha", f_sort_alpha),
        ("randAlphaNum", f_rand_alnum),
        ("randAlpha", f_rand_alpha),
        ("randNumeric", f_rand_numeric),
        ("randAscii", f_rand_ascii),
        ("randInt", f_rand_int),
        ("uuidv4", f_uuidv4),
        // regex
        ("regexMatch", f_regex_match),
        ("mustRegexMatch", f_must_regex_match),
        ("regexFind", f_regex_find_compiled),
        ("mustRegexFind", f_regex_find),
        ("regexFindAll", f_regex_find_all_compiled),
        ("mustRegexFindAll", f_regex_find_all),
        ("regexReplaceAll", f_regex_replace_all_compiled),
        ("mustRegexReplaceAll", f_regex_replace_all),
        (
            "regexReplaceAllLiteral",
            f_regex_replace_all_literal_compiled,
        ),
        ("mustRegexReplaceAllLiteral", f_regex_replace_all_literal),
        ("regexSplit", f_regex_split_compiled),
        ("mustRegexSplit", f_regex_split),
        ("regexQuoteMeta", f_regex_quote),
        // encoding & hashing
        ("b64enc", f_b64enc),
        ("b64dec", f_b64dec),
        ("b32enc", f_b32enc),
        ("b32dec", f_b32dec),
        ("sha1sum", f_sha1sum),
        ("sha256sum", f_sha256sum),
        ("sha512sum", f_sha512sum),
        ("adler32sum", f_adler32sum),
        // defaults & flow
        ("default", f_default),
        ("empty", f_empty),
        ("coalesce", f_coalesce),
        ("all", f_all),
        ("any", f_any),
        ("ternary", f_ternary),
        // lists
        ("list", f_list),
        ("tuple", f_list),
        ("first", f_first),
        ("mustFirst", f_first),
        ("last", f_last),
        ("mustLast", f_last),
        ("rest", f_rest),
        ("mustRest", f_rest),
        ("initial", f_initial),
        ("mustInitial", f_initial),
        ("append", f_append),
        ("mustAppend", f_append),
        ("push", f_append),
        ("mustPush", f_append),
        ("prepend", f_prepend),
        ("mustPrepend", f_prepend),
        ("concat", f_concat),
        ("reverse", f_reverse),
        ("mustReverse", f_reverse),
        ("uniq", f_uniq),
        ("mustUniq", f_uniq),
        ("without", f_without),
        ("mustWithout", f_without),
        ("has", f_has),
        ("mustHas", f_has),
        ("compact", f_compact),
        ("mustCompact", f_compact),
        ("until", f_until),
        ("untilStep", f_until_step),
        ("seq", f_seq),
        ("chunk", f_chunk),
        ("mustChunk", f_chunk),
        // dicts
        ("dict", f_dict),
        ("get", f_get),
        ("set", f_set),
        ("unset", f_unset),
        ("hasKey", f_has_key),
        ("keys", f_keys),
        ("values", f_values),
        ("pluck", f_pluck),
        ("pick", f_pick),
        ("omit", f_omit),
        ("dig", f_dig),
        ("merge", f_merge),
        ("mustMerge", f_merge),
        ("mergeOverwrite", f_merge_overwrite),
        ("mustMergeOverwrite", f_merge_overwrite),
        ("deepCopy", f_deep_copy),
        ("mustDeepCopy", f_deep_copy),
        // math
        ("add", f_add),
        ("add1", f_add1),
        ("sub", f_sub),
        ("mul", f_mul),
        ("div", f_div),
        ("mod", f_mod),
        ("max", f_max),
        ("biggest", f_max),
        ("min", f_min),
        ("addf", f_addf),
        ("add1f", f_add1f),
        ("subf", f_subf),
        ("mulf", f_mulf),
        ("divf", f_divf),
        ("maxf", f_maxf),
        ("minf", f_minf),
        ("floor", f_floor),
        ("ceil", f_ceil),
        ("round", f_round),
        ("int", f_int),
        ("int64", f_int64),
        ("float64", f_float64),
        ("atoi", f_atoi),
        ("toDecimal", f_to_decimal),
        // types
        ("kindOf", f_kind_of),
        ("kindIs", f_kind_is),
        ("typeOf", f_type_of),
        ("typeIs", f_type_is),
        ("typeIsLike", f_type_is_like),
        ("deepEqual", f_deep_equal),
        // semver
        ("semver", f_semver),
        ("semverCompare", f_semver_compare),
        // dates
        ("now", dates::f_now),
        ("date", dates::f_date),
        ("dateInZone", dates::f_date_in_zone),
        ("date_in_zone", dates::f_date_in_zone),
        ("htmlDate", dates::f_html_date),
        ("htmlDateInZone", dates::f_html_date_in_zone),
        ("toDate", dates::f_to_date),
        ("mustToDate", dates::f_must_to_date),
        ("unixEpoch", dates::f_unix_epoch),
        ("duration", dates::f_duration),
        ("durationRound", dates::f_duration_round),
        ("ago", dates::f_ago),
        ("dateModify", dates::f_date_modify),
        ("date_modify", dates::f_date_modify),
        ("mustDateModify", dates::f_must_date_modify),
        ("must_date_modify", dates::f_must_date_modify),
        // urls & paths
        ("urlParse", f_url_parse),
        ("urlJoin", f_url_join),
        ("base", f_base),
        ("dir", f_dir),
        ("ext", f_ext),
        ("clean", f_clean),
        ("isAbs", f_is_abs),
        ("osBase", f_base),
        ("osDir", f_dir),
        ("osExt", f_ext),
        ("osClean", f_clean),
        ("osIsAbs", f_is_abs),
        ("randBytes", f_rand_bytes),
    ];
    for (k, f) in entries {
        t.insert(k, *f);
    }
    for (k, f) in super::crypto::table() {
        t.insert(k, f);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> R {
        let env = FuncEnv::new(None);
        lookup(name).expect(name)(&env, args)
    }
    fn st(x: &str) -> Value {
        Value::str(x)
    }
    fn ok_str(name: &str, args: &[Value]) -> String {
        strval(&call(name, args).unwrap())
    }

    #[test]
    fn eq_follows_go_type_rules() {
        assert!(call("eq", &[Value::Float(1.0), Value::Int(1)]).is_err());
        assert_eq!(ok_str("eq", &[st("a"), st("b"), st("a")]), "true");
        assert_eq!(ok_str("eq", &[Value::Nil, st("a")]), "false");
        assert!(call("lt", &[Value::Nil, Value::Int(1)]).is_err());
        assert_eq!(ok_str("lt", &[st("a"), st("b")]), "true");
        assert_eq!(ok_str("ge", &[Value::Int(2), Value::Int(2)]), "true");
    }

    #[test]
    fn string_params_reject_numbers_like_go() {
        let e = call("upper", &[Value::Float(1.0)]).unwrap_err();
        assert!(e.message().contains("expected string; got float64"));
        let e = call("trunc", &[Value::Float(3.0), st("abcdef")]).unwrap_err();
        assert!(e.message().contains("expected int; got float64"));
    }

    #[test]
    fn sprig_string_functions() {
        assert_eq!(ok_str("trunc", &[Value::Int(3), st("abcdef")]), "abc");
        assert_eq!(ok_str("trunc", &[Value::Int(-2), st("abcdef")]), "ef");
        assert_eq!(ok_str("trimSuffix", &[st("-"), st("a-")]), "a");
        assert_eq!(
            ok_str("nindent", &[Value::Int(2), st("a\nb")]),
            "\n  a\n  b"
        );
        assert_eq!(
            ok_str("quote", &[st("a\"b"), Value::Nil, Value::Float(2.0)]),
            "\"a\\\"b\" \"2\""
        );
        assert_eq!(ok_str("title", &[st("hello world-x")]), "Hello World-X");
        assert_eq!(ok_str("snakecase", &[st("FirstName")]), "first_name");
        assert_eq!(ok_str("camelcase", &[st("http_server")]), "HttpServer");
        assert_eq!(
            ok_str("substr", &[Value::Int(1), Value::Int(3), st("hello")]),
            "el"
        );
        assert_eq!(
            ok_str(
                "join",
                &[st(","), Value::list(vec![st("a"), Value::Int(1)])]
            ),
            "a,1"
        );
        assert_eq!(ok_str("replace", &[st("a"), st("b"), st("aXa")]), "bXb");
    }

    #[test]
    fn hashes_and_encodings() {
        assert_eq!(
            ok_str("sha256sum", &[st("abc")]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            ok_str("sha1sum", &[st("abc")]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(ok_str("adler32sum", &[st("Wikipedia")]), "300286872");
        assert_eq!(ok_str("b64enc", &[st("hi!")]), "aGkh");
        assert_eq!(ok_str("b64dec", &[st("aGkh")]), "hi!");
        assert_eq!(ok_str("b32enc", &[st("hi")]), "NBUQ====");
        assert_eq!(ok_str("b32dec", &[st("NBUQ====")]), "hi");
    }

    #[test]
    fn defaults_and_emptiness() {
        assert_eq!(ok_str("default", &[st("d"), Value::Nil]), "d");
        assert_eq!(ok_str("default", &[st("d"), Value::Float(0.0)]), "d");
        assert_eq!(ok_str("default", &[st("d"), st("x")]), "x");
        assert_eq!(
            ok_str("ternary", &[st("a"), st("b"), Value::Bool(false)]),
            "b"
        );
        assert_eq!(ok_str("coalesce", &[Value::Nil, st(""), st("c")]), "c");
    }

    #[test]
    fn merge_keeps_destination_and_overwrite_replaces() {
        let dst = yaml::from_yaml_str("a: 1\nk: {x: 1}\n").unwrap();
        let src = yaml::from_yaml_str("a: 2\nb: 3\nk: {x: 2, z: 2}\n").unwrap();
        let merged = call("merge", &[dst.clone(), src.clone()]).unwrap();
        assert_eq!(yaml::to_json(&merged), r#"{"a":1,"b":3,"k":{"x":1,"z":2}}"#);
        let dst2 = yaml::from_yaml_str("a: 1\nk: {x: 1}\n").unwrap();
        let over = call("mergeOverwrite", &[dst2, src]).unwrap();
        assert_eq!(yaml::to_json(&over), r#"{"a":2,"b":3,"k":{"x":2,"z":2}}"#);
        // merge mutates its destination, as sprig does
        assert_eq!(yaml::to_json(&dst), r#"{"a":1,"b":3,"k":{"x":1,"z":2}}"#);
    }

    #[test]
    fn semver_constraints_follow_masterminds() {
        let c = |c: &str, v: &str| ok_str("semverCompare", &[st(c), st(v)]);
        assert_eq!(c(">=1.19-0", "v1.20.0"), "true");
        assert_eq!(c(">=1.19-0", "v1.18.3"), "false");
        assert_eq!(c(">=1.19", "1.21.0-gke.1"), "false");
        assert_eq!(c(">=1.19-0", "1.21.0-gke.1"), "true");
        assert_eq!(c("^1.2.3", "1.9.0"), "true");
        assert_eq!(c("^1.2.3", "2.0.0"), "false");
        assert_eq!(c("~1.2.3", "1.2.9"), "true");
        assert_eq!(c("~1.2.3", "1.3.0"), "false");
        assert_eq!(c("1.2.x", "1.2.7"), "true");
        assert_eq!(c("<1.0 || >=2.0", "1.5.0"), "false");
        assert_eq!(c(">= 1.2, < 1.4", "1.3.0"), "true");
        assert!(call("semverCompare", &[st(">=1"), st("not-a-version")]).is_err());
    }

    #[test]
    fn lists_and_dicts() {
        let l = call("list", &[Value::Int(1), Value::Int(2), Value::Int(2)]).unwrap();
        assert_eq!(
            strval(&call("uniq", std::slice::from_ref(&l)).unwrap()),
            "[1 2]"
        );
        assert_eq!(
            strval(&call("rest", std::slice::from_ref(&l)).unwrap()),
            "[2 2]"
        );
        assert_eq!(
            strval(&call("has", &[Value::Int(2), l.clone()]).unwrap()),
            "true"
        );
        let d = call("dict", &[st("b"), Value::Int(1), st("a")]).unwrap();
        assert_eq!(strval(&d), "map[a: b:1]");
        assert_eq!(
            strval(&call("keys", std::slice::from_ref(&d)).unwrap()),
            "[a b]"
        );
        call("set", &[d.clone(), st("c"), st("x")]).unwrap();
        assert_eq!(
            strval(&call("hasKey", &[d.clone(), st("c")]).unwrap()),
            "true"
        );
        assert_eq!(
            strval(&call("dig", &[st("c"), st("dflt"), d]).unwrap()),
            "x"
        );
        assert_eq!(strval(&call("until", &[Value::Int(3)]).unwrap()), "[0 1 2]");
    }

    #[test]
    fn math_coerces_like_cast() {
        assert_eq!(
            ok_str("add", &[Value::Float(1.9), Value::Int(2), st("3")]),
            "6"
        );
        assert_eq!(ok_str("max", &[Value::Int(1), Value::Float(7.0)]), "7");
        assert!(call("div", &[Value::Int(1), Value::Int(0)]).is_err());
        assert_eq!(
            ok_str("round", &[Value::Float(2.555), Value::Int(2)]),
            "2.56"
        );
    }

    #[test]
    fn oversized_results_are_errors_not_aborts() {
        assert!(call("repeat", &[Value::Int(i64::MAX), st("ab")]).is_err());
        assert!(call("until", &[Value::Int(1 << 40)]).is_err());
        assert!(
            call(
                "untilStep",
                &[Value::Int(0), Value::Int(1 << 40), Value::Int(1)]
            )
            .is_err()
        );
        assert!(call("seq", &[Value::Int(1 << 40)]).is_err());
        assert!(call("indent", &[Value::Int(1 << 40), st("a\nb")]).is_err());
        assert!(call("randAlphaNum", &[Value::Int(1 << 40)]).is_err());
        assert_eq!(ok_str("repeat", &[Value::Int(2), st("ab")]), "abab");
    }

    #[test]
    fn required_and_fail_carry_the_users_message() {
        let e = call("required", &[st("need x"), Value::Nil]).unwrap_err();
        assert!(matches!(e, FuncError::Fail(m) if m == "need x"));
        assert!(call("required", &[st("need x"), st("")]).is_err());
        assert_eq!(ok_str("required", &[st("m"), Value::Float(0.0)]), "0");
        assert!(matches!(call("fail", &[st("boom")]), Err(FuncError::Fail(m)) if m == "boom"));
    }

    #[test]
    fn typed_containers_keep_their_go_types() {
        let l = call("splitList", &[st(","), st("a,b")]).unwrap();
        assert_eq!(l.type_name(), "[]string");
        assert_eq!(
            call("append", &[l.clone(), st("c")]).unwrap().type_name(),
            "[]interface {}"
        );
        assert_eq!(
            call("slice", &[l.clone(), Value::Int(1)])
                .unwrap()
                .type_name(),
            "[]string"
        );
        let plain = call("list", &[st("a"), st("b")]).unwrap();
        assert_eq!(ok_str("deepEqual", &[l.clone(), plain]), "false");
        assert_eq!(ok_str("deepEqual", &[l.clone(), l.clone()]), "true");
        assert!(call("eq", &[l.clone(), l.clone()]).is_err());
        let m = call("split", &[st(","), st("a")]).unwrap();
        assert_eq!(m.type_name(), "map[string]string");
        assert!(call("keys", std::slice::from_ref(&m)).is_err());
        assert_eq!(ok_str("index", &[m, st("zz")]), "");
        assert_eq!(
            call("until", &[Value::Int(2)]).unwrap().type_name(),
            "[]int"
        );
    }

    #[test]
    fn byte_slices_are_lists_of_uint8_and_text_to_strval() {
        let b = || Value::Object(Rc::new(GoBytes::new(b"hi\n".to_vec())));
        let nil = || Value::Object(Rc::new(GoBytes::nil()));
        assert_eq!(ok_str("typeOf", &[b()]), "[]uint8");
        assert_eq!(ok_str("print", &[b()]), "[104 105 10]");
        assert_eq!(ok_str("toString", &[b()]), "hi\n");
        assert_eq!(ok_str("quote", &[b()]), "\"hi\\n\"");
        assert_eq!(ok_str("squote", &[b()]), "'[104 105 10]'");
        assert_eq!(ok_str("cat", &[b(), nil()]), "[104 105 10] []");
        assert_eq!(ok_str("join", &[st(","), b()]), "104,105,10");
        assert_eq!(ok_str("len", &[b()]), "3");
        let first = call("index", &[b(), Value::Int(0)]).unwrap();
        assert_eq!((first.type_name(), strval(&first)), ("uint8", "104".into()));
        assert!(call("index", &[b(), Value::Int(3)]).is_err());
        assert_eq!(ok_str("toJson", &[b()]), "\"aGkK\"");
        assert_eq!(ok_str("toJson", &[nil()]), "null");
        assert_eq!(ok_str("empty", &[nil()]), "true");
        assert!(call("upper", &[b()]).is_err());
        // slices share the bytes and keep the type
        let part = call("slice", &[b(), Value::Int(1), Value::Int(3)]).unwrap();
        assert_eq!(part.type_name(), "[]uint8");
        assert_eq!(ok_str("print", std::slice::from_ref(&part)), "[105 10]");
        let inner = call("slice", &[part.clone(), Value::Int(1)]).unwrap();
        assert_eq!(ok_str("toString", &[inner]), "\n");
        assert!(call("slice", &[part, Value::Int(0), Value::Int(3)]).is_err());
        assert_eq!(ok_str("deepEqual", &[b(), b()]), "true");
        assert_eq!(ok_str("deepEqual", &[nil(), b()]), "false");
        assert!(call("eq", &[b(), b()]).is_err());
        assert_eq!(ok_str("eq", &[nil(), nil()]), "true");
        assert_eq!(ok_str("eq", &[first.clone(), Value::Int(104)]), "true");
        assert_eq!(ok_str("lt", &[first.clone(), Value::Uint64(105)]), "true");
        assert_eq!(ok_str("add", &[first, Value::Int(1)]), "105");
    }

    #[test]
    fn chunk_follows_sprigs_float_arithmetic() {
        let l = call("list", &[Value::Int(1), Value::Int(2), Value::Int(3)]).unwrap();
        assert_eq!(ok_str("chunk", &[Value::Int(2), l.clone()]), "[[1 2] [3]]");
        assert!(call("chunk", &[Value::Int(0), l.clone()]).is_err());
        assert_eq!(ok_str("chunk", &[Value::Int(-2), l]), "[]");
        let one = call("list", &[Value::Int(1)]).unwrap();
        assert_eq!(ok_str("chunk", &[Value::Int(-3), one.clone()]), "[[1]]");
        assert!(call("chunk", &[Value::Int(-1), one]).is_err());
    }
}
