//! A quick check of chart values against the common subset of JSON Schema draft-07 that
//! values.schema.json files use (`type`, `properties`, `required`, `enum`, `minimum`,
//! `pattern`, local `$ref`s, ...). It answers only "surely valid": the schema is well-formed
//! for the keywords it uses (what the jsonschema crate checks against the draft's meta-schema)
//! and the values satisfy it. Anything else — a violation, a keyword outside the subset, a
//! shape it is unsure of — is left to the full validator, which also words the errors.
//!
//! Why: building the jsonschema crate's validator checks the schema against the draft's
//! meta-schema and compiles both, which costs a short-lived process several milliseconds and
//! thousands of page faults — more than rendering a small chart.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::pattern::Pattern;

/// Deeper than this (nested `$ref`s without reaching the end of the values), leave it to the
/// full validator.
const MAX_DEPTH: usize = 128;

/// Whether `instance` surely satisfies `schema` (the root of a values.schema.json, draft-07
/// rules). `false` means "not sure": run the full validator.
pub fn surely_valid(schema: &Value, instance: &Value) -> bool {
    if !is_draft7(schema) {
        return false;
    }
    let mut checker = Checker {
        root: schema,
        patterns: HashMap::new(),
    };
    checker.well_formed(schema, true, 0) && checker.valid(schema, instance, 0)
}

/// The drafts the caller picks from `$schema`: draft-04 and draft-06 are not covered here.
fn is_draft7(schema: &Value) -> bool {
    let url = schema
        .get("$schema")
        .and_then(Value::as_str)
        .unwrap_or_default();
    !(url.contains("draft-04") || url.contains("draft-06"))
}

struct Checker<'s> {
    root: &'s Value,
    /// Compiled `pattern`s; `None` for one this check does not translate.
    patterns: HashMap<&'s str, Option<Pattern>>,
}

/// A values.schema.json `pattern` (ECMA-262): regex-lite when it can say the same thing, else
/// as the full validator compiles it; `None` when neither covers it.
fn compile_pattern(pattern: &str) -> Option<Pattern> {
    Pattern::lite_or(lite_translation(pattern).as_deref(), || {
        regex::Regex::new(&translate_pattern(pattern).ok_or(())?).map_err(|_| ())
    })
    .ok()
}

/// `pattern` in the subset where regex-lite and the regex crate mean the same thing: no flag
/// or look-around group, no escape but `\d`, `\w`, `\s`, their negations and ASCII
/// punctuation. The ECMA classes become the same explicit sets as in `translate_pattern`, but
/// inside a bracket their members are spelt out (regex-lite has no nested classes); a negated
/// one inside a bracket, or a nested bracket, is left to the regex crate.
fn lite_translation(pattern: &str) -> Option<String> {
    if pattern.contains("(?") {
        return None;
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let (inside, outside) = match chars.next()? {
                    'd' => (Some("0-9"), "[0-9]"),
                    'w' => (Some("A-Za-z0-9_"), "[A-Za-z0-9_]"),
                    's' => (Some(SPACE_MEMBERS), SPACE),
                    'D' => (None, "[^0-9]"),
                    'W' => (None, "[^A-Za-z0-9_]"),
                    'S' => (None, NOT_SPACE),
                    p if p.is_ascii_punctuation() => {
                        out.push('\\');
                        out.push(p);
                        continue;
                    }
                    _ => return None,
                };
                out.push_str(if in_class { inside? } else { outside });
            }
            '[' if in_class => return None,
            '[' => {
                in_class = true;
                out.push('[');
                if chars.next_if_eq(&'^').is_some() {
                    out.push('^');
                }
                // `[]…]` and `[^]…]`: a literal `]` first, read differently by engines
                if chars.peek() == Some(&']') {
                    return None;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            other => out.push(other),
        }
    }
    Some(out)
}

const SIMPLE_TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// Draft-07 keywords this check does not evaluate; a schema using one goes to the full
/// validator. (Keywords of no draft are annotations to both and are ignored.)
const NOT_COVERED: &[&str] = &[
    "$id",
    "id",
    "$schema",
    "patternProperties",
    "additionalItems",
    "contains",
    "dependencies",
    "uniqueItems",
    "multipleOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "format",
    "contentMediaType",
    "contentEncoding",
    "$recursiveRef",
    "$recursiveAnchor",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$defs",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "prefixItems",
    "minContains",
    "maxContains",
    "$vocabulary",
];

fn is_non_negative_integer(v: &Value) -> bool {
    v.as_u64().is_some()
}

impl<'s> Checker<'s> {
    /// The schema is well-formed for every keyword it uses, as the draft-07 meta-schema
    /// requires, and uses only keywords this check covers.
    fn well_formed(&mut self, schema: &'s Value, is_root: bool, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let obj = match schema {
            Value::Bool(_) => return true,
            Value::Object(o) => o,
            _ => return false,
        };
        for (key, v) in obj {
            let ok = match key.as_str() {
                // the caller strips the root's `$schema` before the full validator sees it
                "$schema" if is_root => true,
                k if NOT_COVERED.contains(&k) => false,
                "title" | "description" | "$comment" => v.is_string(),
                "default" => true,
                "examples" => v.is_array(),
                "readOnly" | "writeOnly" => v.is_boolean(),
                "$ref" => v.as_str().is_some_and(|r| self.resolve(r).is_some()),
                "type" => match v {
                    Value::String(s) => SIMPLE_TYPES.contains(&s.as_str()),
                    Value::Array(a) => {
                        !a.is_empty()
                            && a.iter().enumerate().all(|(i, t)| {
                                t.as_str().is_some_and(|s| SIMPLE_TYPES.contains(&s))
                                    && !a[..i].contains(t)
                            })
                    }
                    _ => false,
                },
                "enum" => v.is_array(),
                "const" => true,
                "required" => v.as_array().is_some_and(|a| {
                    a.iter()
                        .enumerate()
                        .all(|(i, s)| s.is_string() && !a[..i].contains(s))
                }),
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => v.is_number(),
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" => is_non_negative_integer(v),
                "pattern" => match v.as_str() {
                    Some(p) => self.pattern(p).is_some(),
                    None => false,
                },
                "properties" | "definitions" => match v.as_object() {
                    Some(m) => m.values().all(|s| self.well_formed(s, false, depth + 1)),
                    None => false,
                },
                "additionalProperties" | "propertyNames" | "items" => {
                    self.well_formed(v, false, depth + 1)
                }
                "allOf" | "anyOf" => match v.as_array() {
                    Some(a) => {
                        !a.is_empty() && a.iter().all(|s| self.well_formed(s, false, depth + 1))
                    }
                    None => false,
                },
                // a keyword of no draft: an annotation for both validators
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        // draft-07 ignores a `$ref`'s siblings; keep to the plain case
        if obj.contains_key("$ref") {
            return obj.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "$ref" | "title" | "description" | "$comment" | "default" | "examples"
                )
            });
        }
        true
    }

    /// `#` or `#/definitions/NAME` (plain names only) in the root schema.
    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        if reference == "#" {
            return Some(self.root);
        }
        let name = reference.strip_prefix("#/definitions/")?;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return None;
        }
        self.root.get("definitions")?.get(name)
    }

    /// The `pattern` compiled as the jsonschema crate compiles it (its ECMA-262 classes `\d`,
    /// `\w`, `\s` spelt out, the rest handed to the regex engine); `None` when the pattern
    /// needs anything else (look-around, back-references, `\c`), so the full validator decides.
    fn pattern(&mut self, pattern: &'s str) -> Option<&Pattern> {
        self.patterns
            .entry(pattern)
            .or_insert_with(|| compile_pattern(pattern))
            .as_ref()
    }

    fn valid(&mut self, schema: &'s Value, instance: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let obj = match schema {
            Value::Bool(b) => return *b,
            Value::Object(o) => o,
            _ => return false,
        };
        if let Some(r) = obj.get("$ref") {
            return match r.as_str().and_then(|r| self.resolve(r)) {
                Some(target) => self.valid(target, instance, depth + 1),
                None => false,
            };
        }
        for (key, v) in obj {
            let ok = match key.as_str() {
                "type" => match v {
                    Value::String(t) => has_type(t, instance),
                    Value::Array(ts) => ts
                        .iter()
                        .any(|t| t.as_str().is_some_and(|t| has_type(t, instance))),
                    _ => false,
                },
                "enum" => v
                    .as_array()
                    .is_some_and(|a| a.iter().any(|e| e == instance)),
                "const" => v == instance,
                "minimum" => number_check(instance, v, |x, l| x >= l),
                "maximum" => number_check(instance, v, |x, l| x <= l),
                "exclusiveMinimum" => number_check(instance, v, |x, l| x > l),
                "exclusiveMaximum" => number_check(instance, v, |x, l| x < l),
                "minLength" | "maxLength" => match instance {
                    Value::String(s) => count_within(key, s.chars().count(), v),
                    _ => true,
                },
                "pattern" => match instance {
                    Value::String(s) => match v.as_str() {
                        Some(p) => self.pattern(p).is_some_and(|re| re.is_match(s)),
                        None => false,
                    },
                    _ => true,
                },
                "minItems" | "maxItems" => match instance {
                    Value::Array(a) => count_within(key, a.len(), v),
                    _ => true,
                },
                "minProperties" | "maxProperties" => match instance {
                    Value::Object(m) => count_within(key, m.len(), v),
                    _ => true,
                },
                "required" => match instance {
                    Value::Object(m) => v.as_array().is_some_and(|a| {
                        a.iter()
                            .all(|k| k.as_str().is_some_and(|k| m.contains_key(k)))
                    }),
                    _ => true,
                },
                "properties" => match (instance, v.as_object()) {
                    (Value::Object(m), Some(props)) => {
                        self.properties_valid(props, m, obj.get("additionalProperties"), depth)
                    }
                    (Value::Object(_), None) => false,
                    _ => true,
                },
                "additionalProperties" => match instance {
                    // with `properties`, checked there
                    Value::Object(m) if !obj.contains_key("properties") => {
                        m.values().all(|item| self.valid(v, item, depth + 1))
                    }
                    _ => true,
                },
                "propertyNames" => match instance {
                    Value::Object(m) => m
                        .keys()
                        .all(|k| self.valid(v, &Value::String(k.clone()), depth + 1)),
                    _ => true,
                },
                "items" => match instance {
                    Value::Array(a) => a.iter().all(|item| self.valid(v, item, depth + 1)),
                    _ => true,
                },
                "allOf" => v
                    .as_array()
                    .is_some_and(|a| a.iter().all(|s| self.valid(s, instance, depth + 1))),
                "anyOf" => v
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| self.valid(s, instance, depth + 1))),
                // annotations, and `definitions` (only reached through `$ref`)
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn properties_valid(
        &mut self,
        props: &'s Map<String, Value>,
        instance: &Map<String, Value>,
        additional: Option<&'s Value>,
        depth: usize,
    ) -> bool {
        instance.iter().all(|(k, item)| match props.get(k) {
            Some(s) => self.valid(s, item, depth + 1),
            None => additional.is_none_or(|s| self.valid(s, item, depth + 1)),
        })
    }
}

/// A `min*`/`max*` count keyword (length, items, properties): `n` against its limit.
fn count_within(keyword: &str, n: usize, limit: &Value) -> bool {
    let limit = limit.as_u64().unwrap_or(0);
    if keyword.starts_with("min") {
        n as u64 >= limit
    } else {
        n as u64 <= limit
    }
}

fn has_type(t: &str, instance: &Value) -> bool {
    match (t, instance) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

/// A numeric bound: holds for non-numbers; numbers are compared as f64 only where both are
/// exact there (floats, integers within 2^53), otherwise unsure (false).
fn number_check(instance: &Value, limit: &Value, holds: impl Fn(f64, f64) -> bool) -> bool {
    if !instance.is_number() {
        return true;
    }
    match (exact_f64(instance), exact_f64(limit)) {
        (Some(x), Some(l)) => holds(x, l),
        _ => false,
    }
}

fn exact_f64(v: &Value) -> Option<f64> {
    const EXACT: u64 = 1 << 53;
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if i.unsigned_abs() <= EXACT => Some(i as f64),
            (_, Some(u)) if u <= EXACT => Some(u as f64),
            _ => None,
        },
        _ => None,
    }
}

/// The jsonschema crate's `\s`: its members, and as a class and a negated class.
const SPACE_MEMBERS: &str = " \t\n\r\u{000b}\u{000c}\u{00a0}\u{feff}\u{2003}\u{2029}";
const SPACE: &str = "[ \t\n\r\u{000b}\u{000c}\u{00a0}\u{feff}\u{2003}\u{2029}]";
const NOT_SPACE: &str = "[^ \t\n\r\u{000b}\u{000c}\u{00a0}\u{feff}\u{2003}\u{2029}]";

/// The jsonschema crate's ECMA-262 translation for the patterns it covers: `\d`, `\w`, `\s`
/// and their negations become the crate's explicit classes; any other escape is kept as is.
/// `None` for what the crate treats specially (`\c`, look-around, back-references).
fn translate_pattern(pattern: &str) -> Option<String> {
    if pattern.contains("(?=")
        || pattern.contains("(?!")
        || pattern.contains("(?<")
        || pattern.contains("(?P")
    {
        return None;
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let next = chars.next()?;
        match next {
            'd' => out.push_str("[0-9]"),
            'D' => out.push_str("[^0-9]"),
            'w' => out.push_str("[A-Za-z0-9_]"),
            'W' => out.push_str("[^A-Za-z0-9_]"),
            's' => out.push_str(SPACE),
            'S' => out.push_str(NOT_SPACE),
            'c' | 'k' | '1'..='9' => return None,
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full(schema: &Value, instance: &Value) -> bool {
        let mut s = schema.clone();
        if let Some(o) = s.as_object_mut() {
            o.remove("$schema");
        }
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&s)
            .is_ok_and(|v| v.is_valid(instance))
    }

    /// Never "surely valid" where the full validator disagrees.
    fn agrees(schema: Value, instance: Value, expect_sure: bool) {
        let sure = surely_valid(&schema, &instance);
        assert_eq!(sure, expect_sure, "{schema} / {instance}");
        if sure {
            assert!(full(&schema, &instance), "{schema} / {instance}");
        }
    }

    #[test]
    fn valid_values_of_common_schemas_are_sure() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "required": ["image", "port"],
            "definitions": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
            "properties": {
                "image": {"type": "string", "minLength": 1, "pattern": "^[^\\s]+$"},
                "port": {"$ref": "#/definitions/port"},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "env": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[-._a-zA-Z][-._a-zA-Z0-9]*$"},
                    "additionalProperties": {"type": ["string", "number", "boolean"]}
                },
                "list": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "custom": {"form": true, "type": "boolean"}
            },
            "additionalProperties": false
        });
        agrees(
            schema.clone(),
            json!({"image": "a:1", "port": 80, "mode": "a", "env": {"A_B": "x", "n": 1},
                   "list": ["x"], "custom": true}),
            true,
        );
        // violations are left to the full validator
        for bad in [
            json!({"image": "a b", "port": 80}),
            json!({"image": "", "port": 80}),
            json!({"image": "a", "port": 0}),
            json!({"image": "a", "port": 80.5}),
            json!({"image": "a", "port": 80, "mode": "c"}),
            json!({"image": "a", "port": 80, "env": {"1x": "y"}}),
            json!({"image": "a", "port": 80, "env": {"a": []}}),
            json!({"image": "a", "port": 80, "list": ["a", "b", "c", "d"]}),
            json!({"image": "a", "port": 80, "other": 1}),
            json!({"image": "a"}),
        ] {
            agrees(schema.clone(), bad.clone(), false);
            assert!(!full(&schema, &bad), "{bad}");
        }
    }

    #[test]
    fn schemas_outside_the_subset_or_ill_formed_are_left_to_the_full_validator() {
        let v = json!({"a": 1});
        for schema in [
            json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}),
            json!({"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 1}}}),
            json!({"type": "object", "properties": {"a": {"format": "email"}}}),
            json!({"type": "obj"}),
            json!({"type": "object", "required": "a"}),
            json!({"properties": {"a": {"minimum": "1"}}}),
            json!({"properties": {"a": {"$ref": "#/definitions/missing"}}}),
            json!({"properties": {"a": {"$ref": "#/definitions/x", "type": "string"}},
                   "definitions": {"x": {}}}),
            json!({"definitions": {"unused": {"type": 5}}}),
            json!({"properties": {"a": {"pattern": "(?=x)"}}}),
            json!({"properties": {"a": {"pattern": "["}}}),
            json!({"definitions": {"loop": {"$ref": "#/definitions/loop"}},
                   "properties": {"a": {"$ref": "#/definitions/loop"}}}),
        ] {
            agrees(schema, v.clone(), false);
        }
    }

    #[test]
    fn patterns_use_the_ecma_classes() {
        let schema = json!({"properties": {"a": {"pattern": "^\\d+$"}}});
        agrees(schema.clone(), json!({"a": "123"}), true);
        // an Arabic-Indic digit is a Unicode digit but not an ECMA one
        agrees(schema, json!({"a": "\u{0663}"}), false);
        assert_eq!(translate_pattern(r"a\\s").as_deref(), Some(r"a\\s"));
    }
}

/// regex-lite is used only where it matches as the regex crate does on the jsonschema crate's
/// translation: random patterns over the syntax both share (classes, negation, anchors,
/// repetition, groups, escapes), random texts.
#[cfg(test)]
mod lite_patterns_agree_with_the_regex_crate {
    use super::{Pattern, lite_translation, translate_pattern};
    use proptest::prelude::*;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a", "b", "é", " ", ".", "^", "$", "*", "+", "?", "|", "(", ")", "[", "]", "[^", "-",
            "{1,2}", "\\s", "\\S", "\\d", "\\D", "\\w", "\\.", "\\-", "\\]", "\\b", "(?i)", "(?:",
            "\u{a0}",
        ])
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "A", "é", "É", " ", "\u{a0}", "\u{2003}", "\n", ".", "-", "]", "1", "_",
            ]),
            0..6,
        )
        .prop_map(|p| p.concat())
    }

    fn agree(pattern: &str, texts: &[String]) -> Result<(), TestCaseError> {
        let Some(lite) = lite_translation(pattern) else {
            return Ok(());
        };
        let Ok(lite) = regex_lite::Regex::new(&lite) else {
            return Ok(());
        };
        // what the lite engine takes, the full validator must take too, and match alike
        let full = translate_pattern(pattern).map(|t| regex::Regex::new(&t));
        let Some(Ok(full)) = full else {
            return Err(TestCaseError::fail(format!(
                "lite compiled {pattern:?}, the full translation did not"
            )));
        };
        for t in texts {
            prop_assert_eq!(
                lite.is_match(t),
                full.is_match(t),
                "pattern {:?}, text {:?}",
                pattern,
                t
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn same_matches(
            pieces in prop::collection::vec(piece(), 1..7),
            texts in prop::collection::vec(text(), 1..6),
        ) {
            agree(&pieces.concat(), &texts)?;
        }
    }

    #[test]
    fn the_repo_charts_patterns_are_lite_and_agree() {
        let texts: Vec<String> = [
            "a:1", "a b", "a\u{a0}b", "", "x-1", "1Gi", "1.5Ti", "_a", "/x",
        ]
        .map(String::from)
        .to_vec();
        for p in [
            r"^[^\s]+$",
            "^[-._a-zA-Z][-._a-zA-Z0-9]*$",
            "^/",
            r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$",
        ] {
            let mut checker = super::Checker {
                root: &serde_json::Value::Null,
                patterns: Default::default(),
            };
            assert!(
                matches!(checker.pattern(p), Some(Pattern::Lite(_))),
                "{p} is compiled by regex-lite"
            );
            agree(p, &texts).unwrap();
        }
    }

    #[test]
    fn unicode_aware_features_go_to_the_regex_crate() {
        for p in [
            "(?i)a", r"\bx", r"\p{L}", r"\x41", "[a[b]]", r"[^\S]", "[]a]",
        ] {
            assert_eq!(lite_translation(p), None, "{p}");
        }
    }
}

/// The property this fast path rests on: whenever it says "surely valid", the full validator
/// (the jsonschema crate, draft-07) agrees. Random schemas over the covered keywords, random
/// values.
#[cfg(test)]
mod agrees_with_the_full_validator {
    use super::surely_valid;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn instance() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..4).prop_map(Value::from),
            prop_oneof![Just(0.5f64), Just(-1.5), Just(2.0), Just(1e300)].prop_map(Value::from),
            prop_oneof![
                Just(""),
                Just("a"),
                Just("ab"),
                Just("1"),
                Just("a b"),
                Just("é"),
                Just("A\u{a0}b"),
                Just(".b"),
                Just("\u{2003}"),
                Just("a\n")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("a".to_string()),
                        Just("b".to_string()),
                        Just("c".to_string())
                    ],
                    inner,
                    0..3
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn keyword() -> impl Strategy<Value = (String, Value)> {
        let types = prop_oneof![
            Just("null"),
            Just("boolean"),
            Just("integer"),
            Just("number"),
            Just("string"),
            Just("array"),
            Just("object")
        ];
        prop_oneof![
            types.clone().prop_map(|t| ("type".to_string(), json!(t))),
            prop::collection::vec(types, 1..3).prop_map(|t| ("type".to_string(), json!(t))),
            prop::collection::vec(instance(), 1..3).prop_map(|e| ("enum".to_string(), json!(e))),
            instance().prop_map(|c| ("const".to_string(), c)),
            (-2i64..3).prop_map(|n| ("minimum".to_string(), json!(n))),
            (-2i64..3).prop_map(|n| ("maximum".to_string(), json!(n))),
            (-2i64..3).prop_map(|n| ("exclusiveMinimum".to_string(), json!(n))),
            (-2i64..3).prop_map(|n| ("exclusiveMaximum".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("minLength".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("maxLength".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("minItems".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("maxItems".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("minProperties".to_string(), json!(n))),
            (0u64..3).prop_map(|n| ("maxProperties".to_string(), json!(n))),
            prop_oneof![
                Just("^a"),
                Just("b$"),
                Just("\\d"),
                Just("\\s"),
                Just("^\\w+$"),
                Just("^[^\\s]+$"),
                Just("^[-._a-zA-Z][-._a-zA-Z0-9]*$"),
                Just("^[^a]$"),
                Just("^.$"),
                Just("(?i)^A"),
                Just("\\bb"),
                Just("^\\.|é$"),
                Just("^a{1,2}(b|\\s)?$"),
            ]
            .prop_map(|p| ("pattern".to_string(), json!(p))),
            prop::collection::vec(prop_oneof![Just("a"), Just("b")], 0..3)
                .prop_map(|r| ("required".to_string(), json!(r))),
        ]
    }

    fn schema() -> impl Strategy<Value = Value> {
        let flat = prop::collection::vec(keyword(), 0..3)
            .prop_map(|k| Value::Object(k.into_iter().collect()));
        let leaf = prop_oneof![flat, any::<bool>().prop_map(Value::from)];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (prop_oneof![Just("a"), Just("b")], inner.clone())
                    .prop_map(|(k, s)| json!({"properties": {k: s}})),
                inner
                    .clone()
                    .prop_map(|s| json!({"additionalProperties": s})),
                inner.clone().prop_map(|s| json!({"items": s})),
                inner.clone().prop_map(|s| json!({"propertyNames": s})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"allOf": s})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"anyOf": s})),
                inner.prop_map(|s| json!({"definitions": {"d": s}, "$ref": "#/definitions/d"})),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn surely_valid_implies_valid(schema in schema(), value in instance()) {
            if surely_valid(&schema, &value) {
                let full = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .build(&schema);
                // A schema the full validator refuses must not have been called valid either.
                prop_assert!(full.is_ok(), "schema {schema} refused by the full validator");
                prop_assert!(
                    full.unwrap().is_valid(&value),
                    "subset said valid, the full validator did not: schema {schema}, value {value}"
                );
            }
        }
    }
}
