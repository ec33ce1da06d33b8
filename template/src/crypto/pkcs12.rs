//! PKCS#12 (PFX) read and write through `p12-keystore`: reads what Key Vault, openssl (modern
//! PBES2/AES and `-legacy` 3DES/RC2) and Java produce; writes the modern profile (PBES2
//! AES-256-CBC, HMAC-SHA256 MAC), with or without a password.

use p12_keystore::{
    Certificate as P12Certificate, KeyStore, KeyStoreEntry, LocalKeyId, Pkcs12Archive,
    PrivateKey as P12PrivateKey, PrivateKeyChain,
};

use super::CryptoError;
use super::chain::{Certificate, order_chain};
use super::keys::PrivateKey;

/// Decoded PFX contents. `Debug` is redacted.
#[derive(Clone)]
pub struct Pkcs12Contents {
    /// The first private key, as PKCS#8 DER.
    pub key: Option<PrivateKey>,
    /// Certificates ordered leaf first (see [`order_chain`]).
    pub certs: Vec<Certificate>,
}

impl std::fmt::Debug for Pkcs12Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pkcs12Contents(key: {}, {} certificates)",
            self.key.is_some(),
            self.certs.len()
        )
    }
}

fn decode_err(e: p12_keystore::error::Error) -> CryptoError {
    let text = e.to_string().to_lowercase();
    let text = if text.contains("mac") {
        "mac verification failed: wrong password or corrupted file".to_string()
    } else {
        text
    };
    CryptoError::DecodePkcs12(text)
}

/// Decodes a PFX. The certificates come back leaf first, with the leaf chosen by the key.
pub fn read_pkcs12(data: &[u8], password: &str) -> Result<Pkcs12Contents, CryptoError> {
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(decode_err)?;
    let key = archive
        .keys
        .first()
        .map(|k| PrivateKey::from_pkcs8_der(k.key.as_der()))
        .transpose()?;
    let certs = archive
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.cert.as_der()))
        .collect::<Result<Vec<_>, _>>()?;
    let certs = order_chain(certs, key.as_ref())?;
    Ok(Pkcs12Contents { key, certs })
}

fn p12_cert(c: &Certificate) -> Result<P12Certificate, CryptoError> {
    P12Certificate::from_der(c.der())
        .map_err(|e| CryptoError::EncodePkcs12(e.to_string().to_lowercase()))
}

fn write(store: &KeyStore, password: &str) -> Result<Vec<u8>, CryptoError> {
    store
        .writer(password)
        .write()
        .map_err(|e| CryptoError::EncodePkcs12(e.to_string().to_lowercase()))
}

/// Encodes a key, its leaf certificate and CA certificates (like go-pkcs12's `Modern.Encode`).
pub fn write_pkcs12(
    key: &PrivateKey,
    leaf: &Certificate,
    ca_certs: &[Certificate],
    password: &str,
) -> Result<Vec<u8>, CryptoError> {
    let key_der = key.to_pkcs8_der()?;
    let p12_key = P12PrivateKey::from_der(&key_der)
        .map_err(|e| CryptoError::EncodePkcs12(e.to_string().to_lowercase()))?;
    let mut certs = vec![p12_cert(leaf)?];
    for ca in ca_certs {
        certs.push(p12_cert(ca)?);
    }
    // The local key id ties the key to its leaf; a hash of the leaf is what openssl uses.
    let key_id = {
        use sha1::Digest as _;
        sha1::Sha1::digest(leaf.der()).to_vec()
    };
    let chain = PrivateKeyChain::new(LocalKeyId(key_id), p12_key, certs);
    let mut store = KeyStore::new();
    store.add_entry("1", KeyStoreEntry::PrivateKeyChain(chain));
    write(&store, password)
}

/// A truststore-only PFX (Java style: each certificate a trusted entry).
pub fn write_truststore(certs: &[Certificate], password: &str) -> Result<Vec<u8>, CryptoError> {
    let mut store = KeyStore::new();
    for (i, cert) in certs.iter().enumerate() {
        store.add_entry(&format!("{i}"), KeyStoreEntry::Certificate(p12_cert(cert)?));
    }
    write(&store, password)
}
