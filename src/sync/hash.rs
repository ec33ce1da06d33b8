//! ESO's bookkeeping hashes, so Secrets ESO wrote and Secrets akvsync writes are interchangeable.

use std::collections::BTreeMap;
use std::fmt::Write;

use sha3::{Digest, Sha3_224};

/// sha3-224 hex of Go's `%+v` of a `map[string][]byte`: ESO's `reconcile.external-secrets.io/data-hash`.
pub fn data_hash(data: &BTreeMap<String, Vec<u8>>) -> String {
    let mut text = String::from("map[");
    for (index, (key, value)) in data.iter().enumerate() {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(key);
        text.push_str(":[");
        for (byte_index, byte) in value.iter().enumerate() {
            if byte_index > 0 {
                text.push(' ');
            }
            write!(text, "{byte}").expect("writing to a String");
        }
        text.push(']');
    }
    text.push(']');
    sha3_224_hex(text.as_bytes())
}

/// sha3-224 hex of `"<namespace>/<name>"`: ESO's `reconcile.external-secrets.io/created-by` label.
pub fn created_by(namespace: &str, name: &str) -> String {
    sha3_224_hex(format!("{namespace}/{name}").as_bytes())
}

/// sha3-224 hex of Go's `%+v` of a decoded JSON value (ESO's `ObjectHash` of an unstructured
/// object's `spec` or `data`: the data-hash annotation of a generic target).
pub fn object_hash(value: &serde_json::Value) -> String {
    let mut text = String::new();
    go_format(value, &mut text);
    sha3_224_hex(text.as_bytes())
}

/// Go's `%+v` of what `encoding/json` decodes into `any`, as unstructured objects hold it:
/// maps with sorted keys, `[a b]` lists, bare strings, `<nil>`, integers as int64 and other
/// numbers as float64.
fn go_format(value: &serde_json::Value, text: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => text.push_str("<nil>"),
        Value::Bool(flag) => write!(text, "{flag}").expect("writing to a String"),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => write!(text, "{integer}").expect("writing to a String"),
            (None, Some(float)) => text.push_str(&go_float(float)),
            (None, None) => write!(text, "{number}").expect("writing to a String"),
        },
        Value::String(string) => text.push_str(string),
        Value::Array(items) => {
            text.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                go_format(item, text);
            }
            text.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            text.push_str("map[");
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    text.push(' ');
                }
                text.push_str(key);
                text.push(':');
                go_format(&map[key], text);
            }
            text.push(']');
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6.
fn go_float(float: f64) -> String {
    if float.is_nan() {
        return "NaN".to_owned();
    }
    if float.is_infinite() {
        return if float > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if (-4..6).contains(&exponent) {
        let plain = format!("{float}");
        plain
            .strip_suffix(".0")
            .map_or(plain.clone(), str::to_owned)
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

fn sha3_224_hex(bytes: &[u8]) -> String {
    hex::encode(Sha3_224::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_hash_hashes_gos_rendering_of_the_map() {
        let data = BTreeMap::from([
            ("b".to_owned(), vec![1, 2]),
            ("a".to_owned(), b"hi".to_vec()),
        ]);
        assert_eq!(data_hash(&data), sha3_224_hex(b"map[a:[104 105] b:[1 2]]"));
        assert_eq!(data_hash(&BTreeMap::new()), sha3_224_hex(b"map[]"));
    }

    #[test]
    fn the_object_hash_hashes_gos_rendering_of_decoded_json() {
        let value = serde_json::json!({
            "b": [1, "x", null, true], "a": {"z": 1.5, "y": 3}, "c": 1e21, "d": 0.00001
        });
        let mut text = String::new();
        go_format(&value, &mut text);
        assert_eq!(
            text,
            "map[a:map[y:3 z:1.5] b:[1 x <nil> true] c:1e+21 d:1e-05]"
        );
        assert_eq!(object_hash(&value), sha3_224_hex(text.as_bytes()));
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1000000.0), "1e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(123456789.0), "1.23456789e+08");
    }

    #[test]
    fn sha3_224_matches_the_standard_test_vector() {
        assert_eq!(
            sha3_224_hex(b""),
            "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
        );
    }
}
