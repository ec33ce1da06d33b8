//! ESO's own template functions: PKCS#12 (`pkcs12key pkcs12keyPass pkcs12cert pkcs12certPass
//! pemToPkcs12 pemToPkcs12Pass fullPemToPkcs12 fullPemToPkcs12Pass pemTruststoreToPKCS12
//! pemTruststoreToPKCS12Pass`), PEM (`filterPEM filterCertChain certSANs`), JWK
//! (`jwkPublicKeyPem jwkPrivateKeyPem`), YAML (`toYaml fromYaml`) and `rsaDecrypt`.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::args::{bytes, text};
use super::encoding::GO_STD_BASE64;
use super::{FuncResult, Registry};
use crate::crypto::{
    self, CertKind, Certificate, CryptoError, PrivateKey, parse_pem_blocks, read_pkcs12,
};
use crate::value::Value;

fn err(e: CryptoError) -> String {
    e.to_string()
}

pub fn register(r: &mut Registry<'_>) {
    r.fixed("pkcs12key", 1, |a| pkcs12_key("", bytes(a, 0)?));
    r.fixed("pkcs12keyPass", 2, |a| {
        pkcs12_key(&text(a, 0)?, bytes(a, 1)?)
    });
    r.fixed("pkcs12cert", 1, |a| pkcs12_cert("", bytes(a, 0)?));
    r.fixed("pkcs12certPass", 2, |a| {
        pkcs12_cert(&text(a, 0)?, bytes(a, 1)?)
    });
    r.fixed("pemToPkcs12", 2, |a| {
        pem_to_pkcs12(bytes(a, 0)?, bytes(a, 1)?, "", false)
    });
    r.fixed("pemToPkcs12Pass", 3, |a| {
        pem_to_pkcs12(bytes(a, 0)?, bytes(a, 1)?, &text(a, 2)?, false)
    });
    r.fixed("fullPemToPkcs12", 2, |a| {
        pem_to_pkcs12(bytes(a, 0)?, bytes(a, 1)?, "", true)
    });
    r.fixed("fullPemToPkcs12Pass", 3, |a| {
        pem_to_pkcs12(bytes(a, 0)?, bytes(a, 1)?, &text(a, 2)?, true)
    });
    r.fixed("pemTruststoreToPKCS12", 1, |a| truststore(bytes(a, 0)?, ""));
    r.fixed("pemTruststoreToPKCS12Pass", 2, |a| {
        truststore(bytes(a, 0)?, &text(a, 1)?)
    });
    r.fixed("filterPEM", 2, |a| {
        crypto::filter_pem(&text(a, 0)?, bytes(a, 1)?)
            .map(Value::str)
            .map_err(err)
    });
    r.fixed("filterCertChain", 2, |a| {
        let kind: CertKind = text(a, 0)?.parse().map_err(err)?;
        crypto::filter_cert_chain(kind, bytes(a, 1)?)
            .map(Value::str)
            .map_err(err)
    });
    r.fixed("certSANs", 1, |a| {
        let certs = Certificate::from_pem_bundle(bytes(a, 0)?).map_err(err)?;
        let first = certs.first().ok_or_else(|| err(CryptoError::NoPemBlock))?;
        Ok(Value::list(first.sans().iter().map(Value::str).collect()))
    });
    r.fixed("jwkPublicKeyPem", 1, |a| {
        crypto::jwk_public_key_pem(bytes(a, 0)?)
            .map(Value::str)
            .map_err(err)
    });
    r.fixed("jwkPrivateKeyPem", 1, |a| {
        crypto::jwk_private_key_pem(bytes(a, 0)?)
            .map(Value::str)
            .map_err(err)
    });
    r.fixed("toYaml", 1, |a| {
        Ok(Value::str(to_yaml(&a[0]).unwrap_or_default()))
    });
    r.fixed("fromYaml", 1, |a| Ok(from_yaml(bytes(a, 0)?)));
    r.fixed("rsaDecrypt", 4, rsa_decrypt);
}

fn pkcs12_key(password: &str, p12: &[u8]) -> FuncResult {
    let contents = read_pkcs12(p12, password).map_err(err)?;
    let key = contents
        .key
        .ok_or_else(|| err(CryptoError::Pkcs12MissingKey))?;
    key.to_pkcs8_pem().map(Value::str).map_err(err)
}

fn pkcs12_cert(password: &str, p12: &[u8]) -> FuncResult {
    let contents = read_pkcs12(p12, password).map_err(err)?;
    if contents.certs.is_empty() {
        return Err(err(CryptoError::Pkcs12MissingCertificate));
    }
    Ok(Value::str(
        contents
            .certs
            .iter()
            .map(Certificate::to_pem)
            .collect::<String>(),
    ))
}

/// The first PEM block of `key_pem`, parsed as PKCS#1, PKCS#8 or SEC1 (Go's `parsePrivateKey`).
fn key_from_pem(key_pem: &[u8]) -> Result<PrivateKey, String> {
    let block = parse_pem_blocks(key_pem)
        .into_iter()
        .next()
        .ok_or_else(|| err(CryptoError::NoPemBlock))?;
    PrivateKey::from_der(&block.der).map_err(err)
}

fn pem_to_pkcs12(cert_pem: &[u8], key_pem: &[u8], password: &str, full: bool) -> FuncResult {
    let blocks = parse_pem_blocks(cert_pem);
    let mut certs = Vec::new();
    for block in &blocks {
        certs.push(Certificate::from_der(&block.der).map_err(err)?);
        if !full {
            break;
        }
    }
    let Some((leaf, cas)) = certs.split_first() else {
        return Err(err(CryptoError::NoPemBlock));
    };
    let key = key_from_pem(key_pem)?;
    let pfx = crypto::write_pkcs12(&key, leaf, cas, password).map_err(err)?;
    Ok(Value::str(GO_STD_BASE64.encode(pfx)))
}

fn truststore(certs_pem: &[u8], password: &str) -> FuncResult {
    let certs = Certificate::from_pem_bundle(certs_pem).map_err(err)?;
    if certs.is_empty() {
        return Err(err(CryptoError::NoPemBlock));
    }
    let pfx = crypto::write_truststore(&certs, password).map_err(err)?;
    Ok(Value::str(GO_STD_BASE64.encode(pfx)))
}

/// sigs.k8s.io/yaml `Marshal` of a value (through its JSON form), trailing newline trimmed.
pub fn to_yaml(v: &Value) -> Option<String> {
    let yaml = to_serde_yaml(v)?;
    let text = serde_yaml::to_string(&yaml).ok()?;
    Some(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

fn to_serde_yaml(v: &Value) -> Option<serde_yaml::Value> {
    Some(match v {
        Value::Nil => serde_yaml::Value::Null,
        Value::Bool(b) => serde_yaml::Value::Bool(*b),
        Value::Int(i) => serde_yaml::Value::Number((*i).into()),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            serde_yaml::Value::Number((*f as i64).into())
        }
        Value::Float(f) => serde_yaml::Value::Number((*f).into()),
        Value::Str(s) => serde_yaml::Value::String(String::from_utf8_lossy(s).into_owned()),
        Value::Time(t) => {
            serde_yaml::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        Value::List(items) => serde_yaml::Value::Sequence(
            items
                .iter()
                .map(to_serde_yaml)
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Map(m) => {
            let mut mapping = serde_yaml::Mapping::new();
            for (k, item) in &m.borrow().entries {
                mapping.insert(serde_yaml::Value::String(k.clone()), to_serde_yaml(item)?);
            }
            serde_yaml::Value::Mapping(mapping)
        }
    })
}

/// sigs.k8s.io/yaml `Unmarshal` into `map[string]interface{}`; errors go under `Error`.
pub fn from_yaml(input: &[u8]) -> Value {
    let error = |message: String| {
        let mut entries = BTreeMap::new();
        entries.insert("Error".to_string(), Value::str(message));
        Value::map(entries)
    };
    let parsed: serde_yaml::Value = match serde_yaml::from_slice(input) {
        Ok(v) => v,
        Err(e) => {
            let location = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            return error(format!(
                "error converting YAML to JSON: yaml: {location}invalid yaml"
            ));
        }
    };
    match parsed {
        serde_yaml::Value::Null => Value::map(BTreeMap::new()),
        serde_yaml::Value::Mapping(_) => from_serde_yaml(&parsed),
        other => error(format!(
            "error unmarshaling JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            match other {
                serde_yaml::Value::Sequence(_) => "array",
                serde_yaml::Value::String(_) => "string",
                serde_yaml::Value::Number(_) => "number",
                serde_yaml::Value::Bool(_) => "bool",
                _ => "value",
            }
        )),
    }
}

fn yaml_key(k: &serde_yaml::Value) -> String {
    match k {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Null => "null".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn from_serde_yaml(v: &serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Nil,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        // Through JSON into interface{}: every number is a float64.
        serde_yaml::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_yaml::Value::String(s) => Value::str(s),
        serde_yaml::Value::Sequence(items) => {
            Value::list(items.iter().map(from_serde_yaml).collect())
        }
        serde_yaml::Value::Mapping(m) => Value::map(
            m.iter()
                .map(|(k, v)| (yaml_key(k), from_serde_yaml(v)))
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => from_serde_yaml(&t.value),
    }
}

/// ESO `rsaDecrypt(scheme, hash, ciphertext, privateKeyPEM)`: scheme `None` passes the
/// ciphertext through; `RSA-OAEP` decrypts with SHA1/SHA256/SHA512 (anything else SHA256).
fn rsa_decrypt(a: &[Value]) -> FuncResult {
    let (scheme, hash, ciphertext, key_pem) =
        (text(a, 0)?, text(a, 1)?, bytes(a, 2)?, bytes(a, 3)?);
    match scheme.as_str() {
        "None" => return Ok(Value::str(ciphertext)),
        "RSA-OAEP" => {}
        other => return Err(format!("unsupported rsa decryption scheme {other:?}")),
    }
    let key = key_from_pem(key_pem)?;
    let PrivateKey::Rsa(rsa_key) = key else {
        return Err("private key is not an rsa key".into());
    };
    let plain = match hash.as_str() {
        "SHA1" => rsa_key.oaep_decrypt::<sha1::Sha1>(ciphertext),
        "SHA512" => rsa_key.oaep_decrypt::<sha2::Sha512>(ciphertext),
        _ => rsa_key.oaep_decrypt::<sha2::Sha256>(ciphertext),
    }
    .map_err(|_| err(CryptoError::Decrypt))?;
    Ok(Value::from(plain))
}
