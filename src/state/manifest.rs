//! A recorded manifest, held as its compact JSON text and parsed only where something reads it
//! (drift, rollback, history, the diff of an object that changed).
//!
//! Why: a plan holds the whole state while it runs, and a manifest parsed into a
//! `serde_json::Value` costs several times its text (a map, a key string and a value per field,
//! each its own allocation). At 10,000 ConfigMaps the parsed manifests were about 25 MB of the
//! plan's heap; their text is about 4 MB. A plan of unchanged objects compares digests, and
//! parses each manifest only for drift, one at a time.
//!
//! On disk nothing changes: a manifest is written as the JSON value it always was (pretty where
//! the state is pretty), and any JSON value is read back.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// One manifest as compact JSON text: what `serde_json::to_string` writes of its value.
#[derive(Clone)]
pub struct Manifest(Box<str>);

impl Manifest {
    /// The manifest of `value`.
    pub fn new(value: &Value) -> Manifest {
        // A Value always serialises.
        Manifest(
            serde_json::to_string(value)
                .unwrap_or_else(|_| "null".into())
                .into(),
        )
    }

    /// The manifest parsed: a new value on each call (nothing keeps it).
    pub fn value(&self) -> Value {
        // The text is JSON written by serde_json (see `new` and `Deserialize`).
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest("null".into())
    }
}

impl From<Value> for Manifest {
    fn from(value: Value) -> Self {
        Manifest::new(&value)
    }
}

impl From<&Value> for Manifest {
    fn from(value: &Value) -> Self {
        Manifest::new(value)
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Equal when they are the same JSON value (as two parsed `Value`s compare: the order of an
/// object's keys does not count), not only the same text.
impl PartialEq for Manifest {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

impl PartialEq<Value> for Manifest {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

/// Written as the JSON value itself, formatted by the serializer: a pretty state file is byte
/// for byte what it was when manifests were held parsed.
impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

/// Read straight into compact text, with no parsed value in between: the text is what
/// `serde_json::to_string` writes of the value a parse would give (numbers and strings are
/// written by serde_json itself).
impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = String::new();
        Compact(&mut text).deserialize(deserializer)?;
        Ok(Manifest(text.into()))
    }
}

/// Appends the JSON text of the value it deserializes.
struct Compact<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for Compact<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Compact<'_> {
    fn scalar<T: Serialize + ?Sized, E: de::Error>(self, v: &T) -> Result<(), E> {
        let text = serde_json::to_string(v).map_err(E::custom)?;
        self.0.push_str(&text);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Compact<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // As a parsed Value holds it (a non-finite number is null there).
        self.scalar(&Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.push_str("null");
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push('[');
        let mut first = true;
        loop {
            let at = self.0.len();
            if !first {
                self.0.push(',');
            }
            if seq.next_element_seed(Compact(self.0))?.is_none() {
                self.0.truncate(at);
                break;
            }
            first = false;
        }
        self.0.push(']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.push('{');
        let mut first = true;
        loop {
            let at = self.0.len();
            if !first {
                self.0.push(',');
            }
            if map.next_key_seed(Compact(self.0))?.is_none() {
                self.0.truncate(at);
                break;
            }
            self.0.push(':');
            map.next_value_seed(Compact(self.0))?;
            first = false;
        }
        self.0.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Serialize)]
    struct Holder {
        manifest: Manifest,
    }

    #[test]
    fn reads_pretty_json_compactly_and_writes_the_same_json() {
        let value = json!({"kind": "ConfigMap", "metadata": {"name": "a b", "labels": {"x": "y z"}},
            "data": {"k": "line one\n  \"quoted\" \\ tab\t end é \u{1}", "n": [1, -2, 2.5, 1e300, null, true, [], {}]}});
        let pretty = serde_json::to_string_pretty(&json!({ "manifest": value })).unwrap();
        let read: Holder = serde_json::from_str(&pretty).unwrap();
        assert_eq!(read.manifest.as_str(), value.to_string());
        assert_eq!(read.manifest.value(), value);
        // Written again, byte for byte what a parsed value writes, pretty or not.
        assert_eq!(serde_json::to_string_pretty(&read).unwrap(), pretty);
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            json!({ "manifest": value }).to_string()
        );
        assert_eq!(Manifest::new(&value).as_str(), value.to_string());
        // Read from a value too (not only from text).
        let from_value: Holder = serde_json::from_value(json!({ "manifest": value })).unwrap();
        assert_eq!(from_value.manifest.as_str(), read.manifest.as_str());
        for scalar in [json!(null), json!("s"), json!(3), json!([])] {
            let read: Holder = serde_json::from_value(json!({ "manifest": scalar })).unwrap();
            assert_eq!(read.manifest.value(), scalar);
        }
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(serde_json::from_str::<Holder>(r#"{"manifest": {"a": }}"#).is_err());
        assert!(serde_json::from_str::<Holder>(r#"{"manifest": [1,]}"#).is_err());
    }

    #[test]
    fn equal_as_json_values_whatever_the_key_order() {
        let a = Manifest::new(&json!({"a": 1, "b": 2}));
        let b: Manifest = serde_json::from_str(r#"{"b": 2, "a": 1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Manifest::new(&json!({"a": 1, "b": 3})));
        assert_eq!(a, json!({"b": 2, "a": 1}));
        assert_eq!(Manifest::default().value(), Value::Null);
    }
}
