//! `decodingStrategy` and `conversionStrategy`: what ESO does to fetched values and keys.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use akvsync_crds::{ConversionStrategy, DecodingStrategy};

/// Decodes `value` as `strategy` says; `Auto` tries Base64, then Base64URL, then keeps it.
pub fn decode(value: &[u8], strategy: DecodingStrategy) -> Result<Vec<u8>, String> {
    // Go's base64 decoder skips CR and LF.
    let stripped = || {
        value
            .iter()
            .copied()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect::<Vec<u8>>()
    };
    match strategy {
        DecodingStrategy::None => Ok(value.to_vec()),
        DecodingStrategy::Base64 => STANDARD
            .decode(stripped())
            .map_err(|error| error.to_string()),
        DecodingStrategy::Base64Url => URL_SAFE
            .decode(stripped())
            .map_err(|error| error.to_string()),
        DecodingStrategy::Auto => {
            let input = stripped();
            Ok(STANDARD
                .decode(&input)
                .or_else(|_| URL_SAFE.decode(&input))
                .unwrap_or_else(|_| value.to_vec()))
        }
    }
}

/// Converts a result key: characters other than letters, digits, `-`, `.` and `_` become `_`
/// (`Default`) or `_Uxxxx_` (`Unicode`).
pub fn convert_key(key: &str, strategy: ConversionStrategy) -> String {
    let mut converted = String::with_capacity(key.len());
    for character in key.chars() {
        if character.is_alphanumeric() || matches!(character, '-' | '.' | '_') {
            converted.push(character);
        } else {
            match strategy {
                ConversionStrategy::Default => converted.push('_'),
                ConversionStrategy::Unicode => {
                    converted.push_str(&format!("_U{:04x}_", u32::from(character)))
                }
            }
        }
    }
    converted
}

/// Whether `key` may be a key of a Secret's `data`.
pub fn is_valid_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_decodes_valid_base64_and_keeps_anything_else() {
        assert_eq!(
            decode(b"aGVsbG8=", DecodingStrategy::Auto).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode(b"test", DecodingStrategy::Auto).unwrap(),
            [0xb5, 0xeb, 0x2d]
        );
        assert_eq!(
            decode(b"not base64!", DecodingStrategy::Auto).unwrap(),
            b"not base64!"
        );
        assert_eq!(
            decode(b"_-8=", DecodingStrategy::Auto).unwrap(),
            [0xff, 0xef]
        );
    }

    #[test]
    fn base64_ignores_newlines_and_reports_errors() {
        assert_eq!(
            decode(b"aGVs\r\nbG8=", DecodingStrategy::Base64).unwrap(),
            b"hello"
        );
        assert!(decode(b"***", DecodingStrategy::Base64).is_err());
        assert_eq!(decode(b"raw", DecodingStrategy::None).unwrap(), b"raw");
    }

    #[test]
    fn keys_convert_as_eso_does() {
        assert_eq!(convert_key("a/b c", ConversionStrategy::Default), "a_b_c");
        assert_eq!(convert_key("a/b", ConversionStrategy::Unicode), "a_U002f_b");
        assert_eq!(
            convert_key("ok-key.1_x", ConversionStrategy::Default),
            "ok-key.1_x"
        );
    }
}
