//! Key and certificate crypto for templates and PushSecret, in pure Rust (RustCrypto and
//! `p12-keystore`; no OpenSSL): PEM ↔ DER, PKCS#12 read/write (with and without password, modern
//! PBES2/AES and legacy 3DES/RC2), private keys (PKCS#8, PKCS#1, SEC1) to PKCS#8 and to Key
//! Vault's JWK import body, JWK → PEM, certificate chain ordering and key/certificate matching.

mod chain;
mod error;
mod jwk;
mod keys;
mod pem;
mod pkcs12;

pub use chain::{CertKind, Certificate, filter_cert_chain, order_chain};
pub use error::CryptoError;
pub use jwk::{decode_base64url, jwk_private_key_pem, jwk_public_key_pem};
pub use keys::{ImportJwk, PrivateKey, PublicKey};
pub use pem::{PemBlock, encode_pem, filter_pem, parse_pem_blocks};
pub use pkcs12::{Pkcs12Contents, read_pkcs12, write_pkcs12, write_truststore};
