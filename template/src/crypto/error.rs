//! Errors of the crypto helpers: lowercase, naming what failed, never including key material.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("unable to decode pkcs12: {0}")]
    DecodePkcs12(String),
    #[error("unable to encode pkcs12: {0}")]
    EncodePkcs12(String),
    #[error("pkcs12 contains no private key")]
    Pkcs12MissingKey,
    #[error("pkcs12 contains no certificate")]
    Pkcs12MissingCertificate,
    #[error("no pem block found")]
    NoPemBlock,
    #[error("error filtering pem: found junk")]
    PemJunk,
    #[error("unable to parse certificate: {0}")]
    ParseCertificate(String),
    #[error("unable to parse private key: {0}")]
    ParsePrivateKey(String),
    #[error("key type {0} is not supported")]
    UnsupportedPemType(String),
    #[error("unsupported key algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("unable to parse jwk: {0}")]
    ParseJwk(String),
    #[error("jwk has no private key material")]
    JwkNotPrivate,
    #[error("unable to encode key: {0}")]
    EncodeKey(String),
    #[error("certificate chain is not valid, more than one leaf certificate found")]
    MultipleLeaves,
    #[error("unsupported certificate type: {0}")]
    UnsupportedCertType(String),
    #[error("decryption failed")]
    Decrypt,
}
