//! Encodings and hashes: `b64enc b64dec b32enc b32dec hexdec sha1sum sha256sum sha512sum
//! adler32sum`. sprig's decoders return the decoder's error text as the value instead of failing,
//! and ESO keeps that behaviour, so `b64dec` of garbage renders `illegal base64 data ...`.

use base64::Engine as _;
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use sha1::Digest as _;

use super::Registry;
use super::args::bytes;
use crate::value::Value;

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits tolerated.
pub const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub fn register(r: &mut Registry<'_>) {
    r.fixed("b64enc", 1, |a| {
        Ok(Value::str(GO_STD_BASE64.encode(bytes(a, 0)?)))
    });
    r.fixed("b64dec", 1, |a| {
        Ok(match go_base64_decode(bytes(a, 0)?) {
            Ok(v) => Value::from(v),
            Err(e) => Value::str(e),
        })
    });
    r.fixed("b32enc", 1, |a| {
        Ok(Value::str(data_encoding::BASE32.encode(bytes(a, 0)?)))
    });
    r.fixed("b32dec", 1, |a| {
        let input = strip_newlines(bytes(a, 0)?);
        Ok(match data_encoding::BASE32.decode(&input) {
            Ok(v) => Value::from(v),
            Err(e) => Value::str(format!("illegal base32 data at input byte {}", e.position)),
        })
    });
    r.fixed("hexdec", 1, |a| {
        hex::decode(bytes(a, 0)?)
            .map(Value::from)
            .map_err(|e| format!("encoding/hex: {}", e.to_string().to_lowercase()))
    });
    r.fixed("sha1sum", 1, |a| {
        Ok(Value::str(hex::encode(sha1::Sha1::digest(bytes(a, 0)?))))
    });
    r.fixed("sha256sum", 1, |a| {
        Ok(Value::str(hex::encode(sha2::Sha256::digest(bytes(a, 0)?))))
    });
    r.fixed("sha512sum", 1, |a| {
        Ok(Value::str(hex::encode(sha2::Sha512::digest(bytes(a, 0)?))))
    });
    r.fixed("adler32sum", 1, |a| {
        let mut h = adler2::Adler32::new();
        h.write_slice(bytes(a, 0)?);
        Ok(Value::str(h.checksum().to_string()))
    });
}

fn strip_newlines(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .copied()
        .filter(|c| *c != b'\r' && *c != b'\n')
        .collect()
}

/// Go's `base64.StdEncoding.DecodeString`: ignores `\r`/`\n`; errors read
/// `illegal base64 data at input byte N`.
pub fn go_base64_decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let clean = strip_newlines(input);
    GO_STD_BASE64.decode(&clean).map_err(|e| {
        let offset = match e {
            base64::DecodeError::InvalidByte(offset, _) => offset,
            base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
                // Go reports the start of the incomplete final quantum.
                clean.len() - clean.len() % 4
            }
        };
        format!("illegal base64 data at input byte {offset}")
    })
}
