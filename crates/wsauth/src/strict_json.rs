//! JSON parsing that refuses duplicate object keys at any depth.
//!
//! `serde_json` keeps the last of two equal keys, so `{"sub":"a","sub":"admin"}`
//! would silently read as `admin`. A token is attacker input: we refuse it.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Where a strictly read object's top-level entries go. `insert` says
/// whether the key was new: a repeated key refuses the whole document.
pub(crate) trait Entries: Default {
    fn insert(&mut self, key: Cow<'_, str>, value: Value) -> bool;
}

/// Puts `value` in an empty `slot`; `false` (a repeated key) if it was filled.
pub(crate) fn fill_once(slot: &mut Option<Value>, value: Value) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

impl Entries for Map<String, Value> {
    fn insert(&mut self, key: Cow<'_, str>, value: Value) -> bool {
        match self.entry(key.into_owned()) {
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
            serde_json::map::Entry::Occupied(_) => false,
        }
    }
}

/// A JSON value whose objects had no duplicate keys.
pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        ObjectVisitor::<Map<String, Value>>(PhantomData).visit_map(map).map(Value::Object)
    }
}

/// Reads an object into `E`, refusing a key seen twice.
struct ObjectVisitor<E>(PhantomData<E>);

impl<'de, E: Entries> Visitor<'de> for ObjectVisitor<E> {
    type Value = E;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<E, A::Error> {
        let mut entries = E::default();
        while let Some(Key(key)) = map.next_key()? {
            let StrictValue(value) = map.next_value()?;
            if !entries.insert(key, value) {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(entries)
    }
}

/// An object key, borrowed from the input unless it had escapes to decode.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// Parses a JSON object, refusing duplicate keys, trailing data and non-objects.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    parse_entries(bytes)
}

/// Parses a JSON object into `E` by the same rules as [`parse_object`].
pub(crate) fn parse_entries<E: Entries>(bytes: &[u8]) -> Option<E> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let entries = deserializer.deserialize_map(ObjectVisitor::<E>(PhantomData)).ok()?;
    deserializer.end().ok()?;
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::parse_object;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse_object(br#"{"sub":"a","sub":"admin"}"#).is_none());
        assert!(parse_object(br#"{"x":{"a":1,"a":2}}"#).is_none());
        assert!(parse_object(br#"{"x":[{"a":1,"a":2}]}"#).is_none());
        assert!(parse_object(br#"{"sub":"a","b":{"sub":"c"}}"#).is_some());
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        assert!(parse_object(b"[1,2]").is_none());
        assert!(parse_object(b"\"s\"").is_none());
        assert!(parse_object(b"{\"a\":1} x").is_none());
        assert!(parse_object(b"{\"a\":").is_none());
        assert!(parse_object(b"\xff\xfe").is_none());
    }

    #[test]
    fn floats_are_read_exactly() {
        // Found by the token_verify fuzz target: without serde_json's exact
        // float parsing, a custom claim read back one ULP off, so claims
        // signed again were not the claims that were verified.
        for text in ["8.371760242396678e-144", "0.30000000000000004", "1.7976931348623157e308"] {
            let expected: f64 = text.parse().unwrap();
            let object = parse_object(format!("{{\"x\":{text}}}").as_bytes()).unwrap();
            assert_eq!(object["x"].as_f64(), Some(expected), "{text}");
        }
    }

    #[test]
    fn deep_nesting_fails_fast() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_object(deep.as_bytes()).is_none());
    }
}
