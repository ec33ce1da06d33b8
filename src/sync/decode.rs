//! `decodingStrategy` and `conversionStrategy`: what ESO does to fetched values and keys.

use akvsync_crds::{ConversionStrategy, DecodingStrategy};

/// Decodes `value` as `strategy` says; `Auto` tries Base64, then Base64URL, then keeps it.
/// Errors are Go's (`illegal base64 data at input byte 3`): ESO passes them to users.
pub fn decode(value: &[u8], strategy: DecodingStrategy) -> Result<Vec<u8>, String> {
    match strategy {
        DecodingStrategy::None => Ok(value.to_vec()),
        DecodingStrategy::Base64 => go_base64(value, Alphabet::Standard),
        DecodingStrategy::Base64Url => go_base64(value, Alphabet::UrlSafe),
        DecodingStrategy::Auto => Ok(go_base64(value, Alphabet::Standard)
            .or_else(|_| go_base64(value, Alphabet::UrlSafe))
            .unwrap_or_else(|_| value.to_vec())),
    }
}

#[derive(Clone, Copy)]
enum Alphabet {
    Standard,
    UrlSafe,
}

impl Alphabet {
    fn value(self, byte: u8) -> Option<u8> {
        match byte {
            b'A'..=b'Z' => Some(byte - b'A'),
            b'a'..=b'z' => Some(byte - b'a' + 26),
            b'0'..=b'9' => Some(byte - b'0' + 52),
            b'+' if matches!(self, Alphabet::Standard) => Some(62),
            b'/' if matches!(self, Alphabet::Standard) => Some(63),
            b'-' if matches!(self, Alphabet::UrlSafe) => Some(62),
            b'_' if matches!(self, Alphabet::UrlSafe) => Some(63),
            _ => None,
        }
    }
}

/// Go's `base64.StdEncoding` / `URLEncoding` `DecodeString` (padded, not strict), ported so
/// that what it accepts (CR and LF skipped anywhere, non-zero trailing bits) and the byte offset
/// in its `illegal base64 data at input byte N` match ESO exactly.
fn go_base64(input: &[u8], alphabet: Alphabet) -> Result<Vec<u8>, String> {
    let corrupt = |offset: usize| format!("illegal base64 data at input byte {offset}");
    let is_newline = |byte: u8| byte == b'\r' || byte == b'\n';
    let mut output = Vec::with_capacity(input.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut length = 4;
        let mut j = 0;
        while j < 4 {
            if si == input.len() {
                if j == 0 {
                    return Ok(output);
                }
                // Padding is required: a partial quantum at the end is corrupt.
                return Err(corrupt(si - j));
            }
            let byte = input[si];
            si += 1;
            if let Some(value) = alphabet.value(byte) {
                quantum[j] = value;
                j += 1;
                continue;
            }
            if is_newline(byte) {
                continue;
            }
            if byte != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < input.len() && is_newline(input[si]) {
                        si += 1;
                    }
                    if si == input.len() {
                        return Err(corrupt(input.len()));
                    }
                    if input[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < input.len() && is_newline(input[si]) {
                si += 1;
            }
            if si < input.len() {
                return Err(corrupt(si));
            }
            length = j;
            break;
        }
        let bits = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let bytes = bits.to_be_bytes();
        output.extend_from_slice(&bytes[1..length]);
        if length < 4 {
            return Ok(output);
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
        assert_eq!(decode(b"raw", DecodingStrategy::None).unwrap(), b"raw");
    }

    /// Outputs and messages of Go's `base64.StdEncoding.DecodeString` for the same inputs.
    #[test]
    fn base64_accepts_and_refuses_what_go_does_with_gos_offsets() {
        let ok = |input: &[u8], strategy| decode(input, strategy).unwrap();
        assert_eq!(ok(b"YR==", DecodingStrategy::Base64), b"a", "trailing bits");
        assert_eq!(ok(b"", DecodingStrategy::Base64), b"");
        assert_eq!(ok(b"Zm9v\nYmFy", DecodingStrategy::Base64), b"foobar");
        assert_eq!(ok(b"_-8=", DecodingStrategy::Base64Url), [0xff, 0xef]);
        let error = |input: &[u8]| decode(input, DecodingStrategy::Base64).unwrap_err();
        for (input, offset) in [
            (&b"dGVzd*=="[..], 5),
            (b"abc", 0),
            (b"abcde", 4),
            (b"ab=", 3),
            (b"ab=c", 2),
            (b"a===", 1),
            (b"abc=d", 4),
            (b"***", 0),
            (b"_-8=", 0),
        ] {
            assert_eq!(
                error(input),
                format!("illegal base64 data at input byte {offset}"),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
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

#[cfg(test)]
mod properties {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Whatever a user stores, decoding returns bytes or Go's error, never a panic.
        #[test]
        fn decoding_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            for strategy in [DecodingStrategy::Base64, DecodingStrategy::Base64Url, DecodingStrategy::Auto] {
                match decode(&bytes, strategy) {
                    Ok(decoded) => prop_assert!(decoded.len() <= bytes.len()),
                    Err(message) => prop_assert!(message.starts_with("illegal base64 data at input byte ")),
                }
            }
        }

        /// Canonical base64 (with line breaks anywhere) decodes back to what was encoded.
        #[test]
        fn encoded_bytes_decode_back(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            breaks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let mut text = base64::engine::general_purpose::STANDARD.encode(&bytes).into_bytes();
            for at in breaks {
                let at = at.index(text.len() + 1);
                text.insert(at, b'\n');
            }
            prop_assert_eq!(decode(&text, DecodingStrategy::Base64).unwrap(), bytes.clone());
            let url = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
            prop_assert_eq!(decode(url.as_bytes(), DecodingStrategy::Base64Url).unwrap(), bytes);
        }

        /// Key conversion yields a key Kubernetes accepts, or one ESO would also reject later.
        #[test]
        fn converted_keys_hold_only_allowed_characters(key in "\\PC{1,64}") {
            let converted = convert_key(&key, ConversionStrategy::Default);
            prop_assert!(converted.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_')));
        }
    }
}
