//! ESO's Password generator: the algorithm of `sethvargo/go-password` (letters, then the asked
//! number of digits and symbols, each at a random place; no character twice unless allowed),
//! with ESO's defaults and encodings. Where go-password loops forever (repeats not allowed and no
//! unused character left), this returns an error instead.

use std::collections::BTreeMap;

use akvsync_crds::{PasswordEncoding, PasswordSpec};
use base64::Engine as _;
use rand::Rng;
use rand::seq::SliceRandom;

const LOWER_LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER_LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// ESO's default `symbolCharacters`.
pub const DEFAULT_SYMBOLS: &str = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./";
const DEFAULT_LENGTH: i64 = 24;
/// A Secret holds at most 1 MiB; a longer password could never be stored.
const MAX_LENGTH: i64 = 1 << 20;
const DEFAULT_KEY: &str = "password";

/// Why no password could be generated: go-password's and ESO's texts, and akvsync's for what
/// they do not check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("number of digits and symbols must be less than total length")]
    ExceedsTotalLength,
    #[error("number of letters exceeds available letters and repeats are not allowed")]
    LettersExceedAvailable,
    #[error("number of digits exceeds available digits and repeats are not allowed")]
    DigitsExceedAvailable,
    #[error("number of symbols exceeds available symbols and repeats are not allowed")]
    SymbolsExceedAvailable,
    #[error("secretKeys must be non-empty and unique")]
    SecretKeys,
    #[error("spec.{field} must not be negative, got {value}")]
    Negative { field: &'static str, value: i64 },
    #[error("spec.length must be at most {MAX_LENGTH} (a Secret holds at most 1 MiB), got {0}")]
    TooLong(i64),
    #[error(
        "spec.symbolCharacters is empty but spec.symbols asks for {0}: list the symbols to use"
    )]
    NoSymbols(i64),
}

/// One password per key of `spec.secretKeys` (default `password`), each encoded as asked.
pub fn generate(spec: &PasswordSpec) -> Result<BTreeMap<String, Vec<u8>>, PasswordError> {
    let keys = secret_keys(spec)?;
    let shape = Shape::of(spec)?;
    let mut rng = rand::rng();
    keys.into_iter()
        .map(|key| {
            let password = shape.password(&mut rng)?;
            Ok((
                key,
                encode(password.as_bytes(), spec.encoding.unwrap_or_default()),
            ))
        })
        .collect()
}

fn secret_keys(spec: &PasswordSpec) -> Result<Vec<String>, PasswordError> {
    let keys = match spec.secret_keys.as_deref() {
        None | Some([]) => return Ok(vec![DEFAULT_KEY.to_owned()]),
        Some(keys) => keys,
    };
    let mut seen = std::collections::BTreeSet::new();
    if keys.iter().any(|key| key.is_empty() || !seen.insert(key)) {
        return Err(PasswordError::SecretKeys);
    }
    Ok(keys.to_vec())
}

/// What one password is made of, with ESO's defaults applied.
struct Shape {
    letters: Vec<char>,
    symbol_set: Vec<char>,
    letter_count: usize,
    digit_count: usize,
    symbol_count: usize,
    allow_repeat: bool,
}

impl Shape {
    fn of(spec: &PasswordSpec) -> Result<Self, PasswordError> {
        // ESO: a length of 0 or less means the default; digits and symbols default to a quarter.
        let length = if spec.length > 0 {
            spec.length
        } else {
            DEFAULT_LENGTH
        };
        if length > MAX_LENGTH {
            return Err(PasswordError::TooLong(length));
        }
        let quarter = length / 4;
        let digits = non_negative("digits", spec.digits.unwrap_or(quarter))?;
        let symbols = non_negative("symbols", spec.symbols.unwrap_or(quarter))?;
        let letter_count = length
            .checked_sub(digits)
            .and_then(|rest| rest.checked_sub(symbols))
            .filter(|letters| *letters >= 0)
            .ok_or(PasswordError::ExceedsTotalLength)?;
        let mut letters: Vec<char> = LOWER_LETTERS.chars().collect();
        if !spec.no_upper {
            letters.extend(UPPER_LETTERS.chars());
        }
        let symbol_set: Vec<char> = spec
            .symbol_characters
            .as_deref()
            .unwrap_or(DEFAULT_SYMBOLS)
            .chars()
            .collect();
        if symbol_set.is_empty() && symbols > 0 {
            return Err(PasswordError::NoSymbols(symbols));
        }
        let count = |value: i64| usize::try_from(value).unwrap_or(usize::MAX);
        let shape = Shape {
            letters,
            symbol_set,
            letter_count: count(letter_count),
            digit_count: count(digits),
            symbol_count: count(symbols),
            allow_repeat: spec.allow_repeat,
        };
        if !shape.allow_repeat {
            if shape.letter_count > shape.letters.len() {
                return Err(PasswordError::LettersExceedAvailable);
            }
            if shape.digit_count > DIGITS.len() {
                return Err(PasswordError::DigitsExceedAvailable);
            }
            if shape.symbol_count > shape.symbol_set.len() {
                return Err(PasswordError::SymbolsExceedAvailable);
            }
        }
        Ok(shape)
    }

    /// go-password inserts each character at a uniformly random place, which makes the order a
    /// uniformly random permutation: drawing the characters and shuffling them is the same.
    fn password(&self, rng: &mut impl Rng) -> Result<String, PasswordError> {
        let digits: Vec<char> = DIGITS.chars().collect();
        let mut chosen =
            Vec::with_capacity(self.letter_count + self.digit_count + self.symbol_count);
        let draws = [
            (
                &self.letters,
                self.letter_count,
                PasswordError::LettersExceedAvailable,
            ),
            (
                &digits,
                self.digit_count,
                PasswordError::DigitsExceedAvailable,
            ),
            (
                &self.symbol_set,
                self.symbol_count,
                PasswordError::SymbolsExceedAvailable,
            ),
        ];
        for (set, count, exhausted) in draws {
            for _ in 0..count {
                let pick = if self.allow_repeat {
                    set[rng.random_range(0..set.len())]
                } else {
                    let unused: Vec<char> = set
                        .iter()
                        .copied()
                        .filter(|c| !chosen.contains(c))
                        .collect();
                    if unused.is_empty() {
                        return Err(exhausted.clone());
                    }
                    unused[rng.random_range(0..unused.len())]
                };
                chosen.push(pick);
            }
        }
        chosen.shuffle(rng);
        Ok(chosen.into_iter().collect())
    }
}

fn non_negative(field: &'static str, value: i64) -> Result<i64, PasswordError> {
    if value < 0 {
        return Err(PasswordError::Negative { field, value });
    }
    Ok(value)
}

/// Go's encodings as ESO uses them: padded base64, base64url and base32, lowercase hex.
fn encode(password: &[u8], encoding: PasswordEncoding) -> Vec<u8> {
    match encoding {
        PasswordEncoding::Raw => password.to_vec(),
        PasswordEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .encode(password)
            .into_bytes(),
        PasswordEncoding::Base64Url => base64::engine::general_purpose::URL_SAFE
            .encode(password)
            .into_bytes(),
        PasswordEncoding::Base32 => data_encoding::BASE32.encode(password).into_bytes(),
        PasswordEncoding::Hex => hex::encode(password).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PasswordSpec {
        serde_json::from_value(json).unwrap()
    }

    fn one(json: serde_json::Value) -> String {
        let generated = generate(&spec(json)).unwrap();
        String::from_utf8(generated["password"].clone()).unwrap()
    }

    fn count(password: &str, set: &str) -> usize {
        password.chars().filter(|c| set.contains(*c)).count()
    }

    #[test]
    fn the_default_is_24_characters_with_6_digits_and_6_symbols_none_repeated() {
        for _ in 0..50 {
            let password = one(serde_json::json!({}));
            assert_eq!(password.chars().count(), 24);
            assert_eq!(count(&password, DIGITS), 6, "{password}");
            assert_eq!(count(&password, DEFAULT_SYMBOLS), 6, "{password}");
            let distinct: std::collections::BTreeSet<char> = password.chars().collect();
            assert_eq!(distinct.len(), 24, "no repeats: {password}");
        }
    }

    #[test]
    fn counts_case_and_symbols_follow_the_spec() {
        let password = one(serde_json::json!({
            "length": 40, "digits": 5, "symbols": 3, "symbolCharacters": "-_",
            "noUpper": true, "allowRepeat": true
        }));
        assert_eq!(password.chars().count(), 40);
        assert_eq!(count(&password, DIGITS), 5);
        assert_eq!(count(&password, "-_"), 3);
        assert_eq!(count(&password, UPPER_LETTERS), 0);
        assert_eq!(count(&password, LOWER_LETTERS), 32);
    }

    #[test]
    fn a_length_of_zero_means_the_default_as_in_eso() {
        assert_eq!(one(serde_json::json!({"length": 0})).chars().count(), 24);
    }

    #[test]
    fn each_secret_key_gets_its_own_password() {
        let generated =
            generate(&spec(serde_json::json!({"secretKeys": ["a", "b", "c"]}))).unwrap();
        assert_eq!(generated.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_ne!(generated["a"], generated["b"]);
    }

    #[test]
    fn encodings_are_gos() {
        for (encoding, check) in [
            (
                "base64",
                (|s: &str| {
                    base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map(|_| ())
                        .is_ok()
                }) as fn(&str) -> bool,
            ),
            ("base64url", |s: &str| {
                base64::engine::general_purpose::URL_SAFE.decode(s).is_ok()
            }),
            ("base32", |s: &str| {
                data_encoding::BASE32.decode(s.as_bytes()).is_ok()
            }),
            ("hex", |s: &str| s.len() == 48 && hex::decode(s).is_ok()),
        ] {
            let encoded = one(serde_json::json!({"encoding": encoding}));
            assert!(check(&encoded), "{encoding}: {encoded}");
        }
        assert_eq!(encode(b"ab?", PasswordEncoding::Base64), b"YWI/");
        assert_eq!(encode(b"ab?", PasswordEncoding::Base64Url), b"YWI_");
        assert_eq!(encode(b"ab", PasswordEncoding::Base32), b"MFRA====");
        assert_eq!(encode(b"ab", PasswordEncoding::Hex), b"6162");
    }

    #[test]
    fn impossible_specs_are_refused_with_go_passwords_and_esos_words() {
        let cases = [
            (
                serde_json::json!({"length": 4, "digits": 3, "symbols": 2}),
                "number of digits and symbols must be less than total length",
            ),
            (
                serde_json::json!({"length": 60, "digits": 0, "symbols": 0}),
                "number of letters exceeds available letters and repeats are not allowed",
            ),
            (
                serde_json::json!({"length": 20, "digits": 11, "symbols": 0}),
                "number of digits exceeds available digits and repeats are not allowed",
            ),
            (
                serde_json::json!({"length": 20, "symbols": 3, "symbolCharacters": "-_"}),
                "number of symbols exceeds available symbols and repeats are not allowed",
            ),
            (
                serde_json::json!({"secretKeys": ["a", "a"]}),
                "secretKeys must be non-empty and unique",
            ),
            (
                serde_json::json!({"secretKeys": [""]}),
                "secretKeys must be non-empty and unique",
            ),
            (
                serde_json::json!({"digits": -1}),
                "spec.digits must not be negative, got -1",
            ),
            (
                serde_json::json!({"symbolCharacters": ""}),
                "spec.symbolCharacters is empty but spec.symbols asks for 6",
            ),
            (
                serde_json::json!({"length": 2_000_000}),
                "spec.length must be at most 1048576",
            ),
        ];
        for (json, message) in cases {
            let error = generate(&spec(json.clone())).unwrap_err().to_string();
            assert!(error.starts_with(message), "{json}: {error}");
        }
    }

    #[test]
    fn symbols_that_are_also_letters_end_in_an_error_where_go_password_loops_forever() {
        // 26 lowercase letters use up "ab"; go-password would retry forever.
        let spec = spec(serde_json::json!({
            "length": 28, "digits": 0, "symbols": 2, "symbolCharacters": "ab", "noUpper": true
        }));
        assert_eq!(
            generate(&spec).unwrap_err(),
            PasswordError::SymbolsExceedAvailable
        );
    }
}
