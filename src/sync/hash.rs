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
    fn sha3_224_matches_the_standard_test_vector() {
        assert_eq!(
            sha3_224_hex(b""),
            "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7"
        );
    }
}
