//! Decoding manifests into the API types with errors that name the offending field
//! (`spec.provider.azurekv.authType: unknown variant ...`), for the demo, tests and user input.

use serde::de::DeserializeOwned;

/// A manifest that does not fit the API type it was decoded into.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DecodeError {
    /// Dotted path of the field that failed (`.` for the document itself).
    pub path: String,
    /// What was wrong with it.
    pub message: String,
}

/// Decodes one JSON value into `T`, reporting the path of the first field that does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|error| DecodeError {
        path: error.path().to_string(),
        message: error.inner().to_string(),
    })
}

/// Decodes one YAML document into `T`, reporting the path of the first field that does not fit.
pub fn from_yaml_str<T: DeserializeOwned>(yaml: &str) -> Result<T, DecodeError> {
    let document = serde_yaml::Deserializer::from_str(yaml);
    serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        // serde_yaml already prefixes its messages with the path; keep it once.
        let message = error.inner().to_string();
        let message = message
            .strip_prefix(&format!("{path}: "))
            .map(str::to_owned)
            .unwrap_or(message);
        DecodeError { path, message }
    })
}
