//! Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace.
//!
//! Everything this project signs or compares byte for byte (bundle manifests, DSSE
//! envelopes, golden outputs) goes through here, so that the bytes never depend on
//! struct field order, map iteration order or a serde_json feature another crate enables.

use serde::Serialize;
use serde_json::{Map, Value};

/// Serializes `value` as canonical JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let sorted = sort_keys(serde_json::to_value(value)?);
    serde_json::to_vec(&sorted)
}

/// Serializes `value` with sorted keys, indented for humans (trust files, CLI `--json`).
pub fn to_vec_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let sorted = sort_keys(serde_json::to_value(value)?);
    let mut out = serde_json::to_vec_pretty(&sorted)?;
    out.push(b'\n');
    Ok(out)
}

/// Rebuilds every object with its keys inserted in sorted order, which serializes
/// sorted whether serde_json keeps insertion order or sorts on its own.
fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let sorted: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k, sort_keys(v)))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth_and_arrays_keep_order() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": null}});
        let bytes = to_vec(&v).expect("serializable");
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            r#"{"a":{"c":null,"z":[3,{"x":2,"y":1}]},"b":1}"#
        );
    }
}
