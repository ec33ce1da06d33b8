//! ESO-compatible templates for akvsync: a Go `text/template` engine with External Secrets
//! Operator's `engineVersion: v2` function set (sprig minus `env`/`expandenv`/`getHostByName`,
//! plus ESO's PKCS#12, PEM, JWK, YAML and JSON helpers), and the key/certificate crypto behind
//! those helpers (`crypto`, pure RustCrypto, no OpenSSL).
//!
//! ```
//! use akvsync_template::{render, Values};
//! let mut data = Values::new();
//! data.insert("user".into(), b"admin".to_vec());
//! assert_eq!(render("{{ .user | upper }}", &data).unwrap(), "ADMIN");
//! ```

pub mod crypto;
pub mod engine;
mod error;
pub mod functions;
pub mod gofmt;
pub mod value;

use std::collections::BTreeMap;

pub use engine::{Delimiters, Engine, Template};
pub use error::TemplateError;
pub use value::Value;

/// Template data as ESO passes it: secret key → raw value bytes.
pub type Values = BTreeMap<String, Vec<u8>>;

/// Name given to templates rendered through [`render`] and [`render_bytes`].
pub const DEFAULT_TEMPLATE_NAME: &str = "template";

/// Renders a template against secret data with the process-wide engine (parse trees cached by
/// content). Fails if the output is not UTF-8; use [`render_bytes`] for binary secret values.
pub fn render(template_text: &str, data: &Values) -> Result<String, TemplateError> {
    Engine::global()
        .parse(DEFAULT_TEMPLATE_NAME, template_text)?
        .execute_string(data)
}

/// Renders a template to raw bytes (Secret data may be binary, e.g. `{{ .p12 | b64dec }}`).
pub fn render_bytes(template_text: &str, data: &Values) -> Result<Vec<u8>, TemplateError> {
    Engine::global().render_bytes(DEFAULT_TEMPLATE_NAME, template_text, data)
}
