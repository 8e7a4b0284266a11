//! One reading of every JSON document accord parses.
//!
//! RFC 8259 section 4 says only that member names "SHOULD be unique"; parsers differ on what a
//! duplicate means (serde_json's `Value` keeps the last, others keep the first or refuse). A
//! signed payload with `"amount":"5","amount":"5000000000"` would then say two things to two
//! verifiers. accord refuses duplicate member names at every depth, in everything it reads:
//! payloads, envelopes, leaves, bundles, exports, key and member files (docs/FORMAT.md
//! section 1). Every parse in accord goes through [`parse`] or [`from_slice`]; the refusal
//! names the duplicate by its JSON path.
//!
//! Nesting is bounded by serde_json's recursion limit (128 levels), so no input exhausts the
//! stack.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use serde_json::{Map, Number, Value};

/// Why a JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

impl JsonError {
    /// The message, naming the place at fault.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Parses `bytes` as one JSON value (UTF-8, RFC 8259), refusing duplicate member names at any
/// depth and anything after the value other than white space.
///
/// # Errors
/// [`JsonError`] naming the syntax error's position, or the duplicate member's path.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Node {
        parent: None,
        seg: Seg::Root,
    }
    .deserialize(&mut de)
    .map_err(|e| JsonError(e.to_string()))?;
    de.end().map_err(|e| JsonError(e.to_string()))?;
    Ok(value)
}

/// Parses `bytes` as [`parse`] does, then deserialises the value into `T`. A field error names
/// the field by its JSON path (`terms.measure.price.amount: ...`).
///
/// # Errors
/// [`JsonError`] for bad JSON, a duplicate member, or a value that does not fit `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    from_value(parse(bytes)?)
}

/// Deserialises an already parsed value into `T`, naming the JSON path of a field at fault.
///
/// # Errors
/// [`JsonError`] with the path and serde's reason.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            JsonError(inner.to_string())
        } else {
            JsonError(format!("{path}: {inner}"))
        }
    })
}

/// A place in the document, as a chain on the stack (no allocation unless an error is
/// reported).
#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

#[derive(Clone, Copy)]
struct Node<'p> {
    parent: Option<&'p Node<'p>>,
    seg: Seg<'p>,
}

impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            p.fmt(f)?;
        }
        match self.seg {
            Seg::Root => Ok(()),
            Seg::Key(k) => {
                if matches!(self.parent.map(|p| p.seg), Some(Seg::Root) | None) {
                    write!(f, "{k}")
                } else {
                    write!(f, ".{k}")
                }
            }
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
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
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let child = Node {
                parent: Some(&self),
                seg: Seg::Index(out.len()),
            };
            match seq.next_element_seed(child)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = Node {
                parent: Some(&self),
                seg: Seg::Key(&key),
            };
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member `{child}`"
                )));
            }
            let value = map.next_value_seed(child)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_every_depth() {
        let e = parse(br#"{"amount":"5","amount":"5000000000"}"#).unwrap_err();
        assert!(e.message().contains("duplicate member `amount`"), "{e}");
        let e =
            parse(br#"{"terms":{"measure":{"price":{"amount":"1","amount":"2"}}}}"#).unwrap_err();
        assert!(
            e.message()
                .contains("duplicate member `terms.measure.price.amount`"),
            "{e}"
        );
        let e = parse(br#"{"sources":[{"url":"a"},{"url":"b","url":"c"}]}"#).unwrap_err();
        assert!(e.message().contains("`sources[1].url`"), "{e}");
        let e = parse(br#"[{"a":1,"a":1}]"#).unwrap_err();
        assert!(e.message().contains("`[0].a`"), "{e}");
        // Escapes that spell the same name are the same name.
        let e = parse(br#"{"id":"p1","\u0069d":"p2"}"#).unwrap_err();
        assert!(e.message().contains("duplicate member `id`"), "{e}");
    }

    #[test]
    fn values_parse_as_serde_json_parses_them() {
        let text = br#"{"a":[1,-2,3.5,true,null,"x"],"b":{"c":{}},"d":[]}"#;
        let ours = parse(text).unwrap();
        let theirs: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(ours, theirs);
        // Member order is kept.
        let v = parse(br#"{"z":1,"a":2}"#).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn trailing_bytes_and_deep_nesting_are_refused() {
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"{}\n").is_ok());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn typed_errors_name_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            amount: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            price: Inner,
        }
        let e = from_slice::<Outer>(br#"{"price":{"amount":5}}"#).unwrap_err();
        assert!(e.message().starts_with("price.amount: "), "{e}");
        let e = from_slice::<Outer>(br#"{"price":{"amount":"5","x":1}}"#).unwrap_err();
        assert!(e.message().contains("unknown field `x`"), "{e}");
    }
}
