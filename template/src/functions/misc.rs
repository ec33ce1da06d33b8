//! The rest of sprig: paths (`base dir clean ext isAbs` and `os*`), URLs (`urlParse urlJoin`),
//! `uuidv4`, `randBytes`, `encryptAES`/`decryptAES`, semver (`semver semverCompare`) and `fail`.

use std::collections::BTreeMap;

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use rand::RngCore;

use super::args::{int, text, to_string};
use super::encoding::{GO_STD_BASE64, go_base64_decode};
use super::semver::{Version, constraint_matches};
use super::{FuncResult, Registry};
use crate::value::Value;

/// Largest `randBytes` request (sprig has no limit).
const MAX_RANDOM_BYTES: i64 = 1 << 20;

pub fn register(r: &mut Registry<'_>) {
    for (name, f) in [
        (
            "base",
            (|a: &[Value]| Ok(Value::str(path_base(&text(a, 0)?)))) as fn(&[Value]) -> FuncResult,
        ),
        ("osBase", |a| Ok(Value::str(path_base(&text(a, 0)?)))),
        ("dir", |a| Ok(Value::str(path_dir(&text(a, 0)?)))),
        ("osDir", |a| Ok(Value::str(path_dir(&text(a, 0)?)))),
        ("clean", |a| Ok(Value::str(path_clean(&text(a, 0)?)))),
        ("osClean", |a| Ok(Value::str(path_clean(&text(a, 0)?)))),
        ("ext", |a| Ok(Value::str(path_ext(&text(a, 0)?)))),
        ("osExt", |a| Ok(Value::str(path_ext(&text(a, 0)?)))),
        ("isAbs", |a| Ok(Value::Bool(text(a, 0)?.starts_with('/')))),
        ("osIsAbs", |a| Ok(Value::Bool(text(a, 0)?.starts_with('/')))),
    ] {
        r.fixed(name, 1, f);
    }
    r.fixed("urlParse", 1, |a| url_parse(&text(a, 0)?));
    r.fixed("urlJoin", 1, |a| url_join(&a[0]));
    r.fixed("uuidv4", 0, |_| {
        Ok(Value::str(uuid::Uuid::new_v4().to_string()))
    });
    r.fixed("randBytes", 1, |a| {
        let n = int(a, 0)?;
        if !(0..=MAX_RANDOM_BYTES).contains(&n) {
            return Err(format!("count must be between 0 and {MAX_RANDOM_BYTES}"));
        }
        let mut buf = vec![0u8; n as usize];
        rand::rng().fill_bytes(&mut buf);
        Ok(Value::str(GO_STD_BASE64.encode(buf)))
    });
    r.fixed("encryptAES", 2, |a| {
        let (password, plain) = (text(a, 0)?, super::args::bytes(a, 1)?);
        Ok(Value::str(encrypt_aes(&password, plain)))
    });
    r.fixed("decryptAES", 2, |a| {
        let (password, crypt) = (text(a, 0)?, super::args::bytes(a, 1)?);
        decrypt_aes(&password, crypt).map(Value::from)
    });
    r.fixed("fail", 1, |a| Err(text(a, 0)?));
    r.fixed("semver", 1, |a| {
        let v = Version::parse(&text(a, 0)?)?;
        Ok(v.to_value())
    });
    r.fixed("semverCompare", 2, |a| {
        let constraint = text(a, 0)?;
        let version = Version::parse(&text(a, 1)?)?;
        Ok(Value::Bool(constraint_matches(&constraint, &version)?))
    });
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

fn path_ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

/// Go `path.Clean`.
fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// sprig `urlParse`: Go `url.Parse` fields as a dict.
fn url_parse(s: &str) -> FuncResult {
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, f),
        None => (s, ""),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let scheme_end = rest.find(':').filter(|i| {
        let scheme = &rest[..*i];
        !scheme.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, after) = match scheme_end {
        Some(i) => (rest[..i].to_ascii_lowercase(), &rest[i + 1..]),
        None => (String::new(), rest),
    };
    let (mut userinfo, mut host, mut path, mut opaque) =
        (String::new(), String::new(), String::new(), String::new());
    if let Some(auth_rest) = after.strip_prefix("//") {
        let end = auth_rest.find('/').unwrap_or(auth_rest.len());
        let authority = &auth_rest[..end];
        path = auth_rest[end..].to_string();
        match authority.rsplit_once('@') {
            Some((u, h)) => {
                userinfo = u.to_string();
                host = h.to_string();
            }
            None => host = authority.to_string(),
        }
    } else if !scheme.is_empty() && !after.starts_with('/') {
        opaque = after.to_string();
    } else {
        path = after.to_string();
    }
    let hostname = if let Some(stripped) = host.strip_prefix('[') {
        stripped.split(']').next().unwrap_or_default().to_string()
    } else {
        host.split(':').next().unwrap_or_default().to_string()
    };
    let entries: BTreeMap<String, Value> = [
        ("scheme", scheme),
        ("host", host),
        ("hostname", hostname),
        ("path", percent_decode(&path)),
        ("query", query.to_string()),
        ("opaque", opaque),
        ("fragment", percent_decode(fragment)),
        ("userinfo", userinfo),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::str(v)))
    .collect();
    Ok(Value::map(entries))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// sprig `urlJoin`: Go `url.URL.String()` of a dict's fields.
fn url_join(v: &Value) -> FuncResult {
    let Value::Map(m) = v else {
        return Err(format!(
            "wrong type for value; expected map[string]interface {{}}; got {}",
            v.type_name()
        ));
    };
    let m = m.borrow();
    let get = |k: &str| m.entries.get(k).map(to_string).unwrap_or_default();
    let (scheme, host, path, query, opaque, fragment, userinfo) = (
        get("scheme"),
        get("host"),
        get("path"),
        get("query"),
        get("opaque"),
        get("fragment"),
        get("userinfo"),
    );
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || !userinfo.is_empty() {
            if !host.is_empty() || !path.is_empty() || !userinfo.is_empty() {
                out.push_str("//");
            }
            if !userinfo.is_empty() {
                out.push_str(&userinfo);
                out.push('@');
            }
            out.push_str(&host);
        }
        if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        out.push_str(&path);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&fragment);
    }
    Ok(Value::str(out))
}

/// sprig's AES: key = password bytes zero-padded/truncated to 32, AES-256-CBC, random IV
/// prepended, PKCS#7 padding, standard base64.
fn encrypt_aes(password: &str, plain: &[u8]) -> String {
    let mut key = [0u8; 32];
    let pw = password.as_bytes();
    key[..pw.len().min(32)].copy_from_slice(&pw[..pw.len().min(32)]);
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut iv);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into());
    let ct = enc.encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = iv.to_vec();
    out.extend_from_slice(&ct);
    GO_STD_BASE64.encode(out)
}

fn decrypt_aes(password: &str, crypt: &[u8]) -> Result<Vec<u8>, String> {
    let data = go_base64_decode(crypt)?;
    if data.len() < 16 || data.len() % 16 != 0 {
        return Err("ciphertext is not a multiple of the block size".into());
    }
    let mut key = [0u8; 32];
    let pw = password.as_bytes();
    key[..pw.len().min(32)].copy_from_slice(&pw[..pw.len().min(32)]);
    let (iv, ct) = data.split_at(16);
    let iv: [u8; 16] = iv.try_into().map_err(|_| "invalid IV".to_string())?;
    let dec = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into());
    dec.decrypt_padded_vec::<Pkcs7>(ct)
        .map_err(|_| "invalid padding".to_string())
}
