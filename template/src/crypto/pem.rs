//! PEM with Go's `encoding/pem` behaviour: text before and between blocks is skipped, headers
//! are tolerated, output uses 64-column base64 and a trailing newline.

use base64::Engine as _;

use super::CryptoError;
use crate::functions::encoding_engine;

/// One PEM block: its type (`CERTIFICATE`, `PRIVATE KEY`, ...) and DER bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PemBlock({}, {} bytes)", self.label, self.der.len())
    }
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes the first PEM block in `data` (Go's `pem.Decode`): returns it and the rest after it,
/// or `None` when no further valid block exists.
pub fn decode_one(mut data: &[u8]) -> Option<(PemBlock, &[u8])> {
    loop {
        let start = find(data, BEGIN)?;
        // A block must start at the beginning of a line.
        if start > 0 && data[start - 1] != b'\n' {
            data = &data[start + BEGIN.len()..];
            continue;
        }
        let after = &data[start + BEGIN.len()..];
        let line_end = after.iter().position(|b| *b == b'\n')?;
        let header_line = trim_cr(&after[..line_end]);
        let Some(label) = header_line.strip_suffix(DASHES) else {
            data = after;
            continue;
        };
        let label = String::from_utf8_lossy(label).into_owned();
        let body_start = &after[line_end + 1..];
        let end_marker = [END, label.as_bytes(), DASHES].concat();
        let Some(end_pos) = find(body_start, &end_marker) else {
            data = after;
            continue;
        };
        let body = &body_start[..end_pos];
        let rest = &body_start[end_pos + end_marker.len()..];
        let rest = match rest.iter().position(|b| *b == b'\n') {
            Some(nl) if rest[..nl].iter().all(|b| b.is_ascii_whitespace()) => &rest[nl + 1..],
            None if rest.iter().all(|b| b.is_ascii_whitespace()) => &rest[rest.len()..],
            _ => {
                data = after;
                continue;
            }
        };
        // Skip RFC 1421 headers ("Key: value" lines followed by a blank line).
        let body_text: Vec<u8> = strip_headers(body)
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match encoding_engine().decode(&body_text) {
            Ok(der) => return Some((PemBlock { label, der }, rest)),
            Err(_) => {
                data = after;
                continue;
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b' ' | b'\t' | b'\r'] = l {
        l = rest;
    }
    l
}

fn strip_headers(body: &[u8]) -> &[u8] {
    let first_line_end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    if !body[..first_line_end].contains(&b':') {
        return body;
    }
    match find(body, b"\n\n").or_else(|| find(body, b"\n\r\n")) {
        Some(i) => &body[i + 1..],
        None => body,
    }
}

/// Every PEM block in `data`, in order.
pub fn parse_pem_blocks(data: &[u8]) -> Vec<PemBlock> {
    let mut blocks = Vec::new();
    let mut rest = data;
    while let Some((block, next)) = decode_one(rest) {
        blocks.push(block);
        rest = next;
    }
    blocks
}

/// Go's `pem.EncodeToMemory` without headers.
pub fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = encoding_engine().encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// ESO's `filterPEM`: the blocks whose type matches case-insensitively, re-encoded; junk with
/// no matching block is an error.
pub fn filter_pem(pem_type: &str, input: &[u8]) -> Result<String, CryptoError> {
    let mut out = String::new();
    let mut rest = input;
    while let Some((block, next)) = decode_one(rest) {
        if block.label.eq_ignore_ascii_case(pem_type) {
            out.push_str(&encode_pem(&block.label, &block.der));
        }
        rest = next;
    }
    if out.is_empty() && !rest.is_empty() {
        return Err(CryptoError::PemJunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_blocks_around_junk_and_round_trips() {
        let pem = encode_pem("CERTIFICATE", b"hello der");
        let text = format!(
            "junk before\n{pem}middle\n{}",
            encode_pem("PRIVATE KEY", b"k")
        );
        let blocks = parse_pem_blocks(text.as_bytes());
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, b"hello der");
        assert_eq!(blocks[1].label, "PRIVATE KEY");
    }

    #[test]
    fn filter_pem_matches_eso() {
        let text = format!(
            "{}{}",
            encode_pem("CERTIFICATE", b"c"),
            encode_pem("PRIVATE KEY", b"k")
        );
        assert_eq!(
            filter_pem("private key", text.as_bytes()).unwrap(),
            encode_pem("PRIVATE KEY", b"k")
        );
        assert_eq!(filter_pem("PUBLIC KEY", text.as_bytes()).unwrap(), "");
        assert_eq!(
            filter_pem("CERTIFICATE", b"not pem at all"),
            Err(CryptoError::PemJunk)
        );
    }
}
