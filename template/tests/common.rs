//! Shared helpers for the integration tests.
#![allow(dead_code)]

use akvsync_template::{Engine, TemplateError, Values};

pub fn data(pairs: &[(&str, &str)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

pub fn render(text: &str, pairs: &[(&str, &str)]) -> Result<String, TemplateError> {
    akvsync_template::render(text, &data(pairs))
}

pub fn ok(text: &str, pairs: &[(&str, &str)]) -> String {
    match render(text, pairs) {
        Ok(s) => s,
        Err(e) => panic!("template {text:?} failed: {e}"),
    }
}

pub fn err(text: &str, pairs: &[(&str, &str)]) -> String {
    match render(text, pairs) {
        Ok(s) => panic!("template {text:?} should fail but rendered {s:?}"),
        Err(e) => e.to_string(),
    }
}

pub fn engine() -> Engine {
    Engine::new()
}
