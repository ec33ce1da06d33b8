//! Errors of parsing and rendering templates. Messages follow Go's `text/template` shape
//! (`template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`) so ESO users recognise them, and
//! never contain template data: values are secrets.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template text does not parse.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        name: String,
        line: usize,
        message: String,
    },
    /// Evaluation failed: a missing key, a function error, a wrong argument type.
    #[error("template: {name}:{line}:{column}: executing {executing:?} at <{node}>: {message}")]
    Execute {
        name: String,
        /// The template (or `define`) being executed.
        executing: String,
        line: usize,
        column: usize,
        /// The source form of the node that failed, e.g. `.foo` or `pkcs12cert`.
        node: String,
        message: String,
    },
    /// `render` was asked for text but the output holds binary bytes; use `render_bytes`.
    #[error("template: {name}: output is not valid UTF-8 text")]
    OutputNotUtf8 { name: String },
    /// A bug in the engine or a function: reported instead of crashing the operator.
    #[error("template: {name}: internal error while rendering")]
    Internal { name: String },
}

impl TemplateError {
    /// A short fixed category for metrics and condition reasons.
    pub fn category(&self) -> &'static str {
        match self {
            TemplateError::Parse { .. } => "template_parse",
            TemplateError::Execute { .. } => "template_execute",
            TemplateError::OutputNotUtf8 { .. } => "template_output",
            TemplateError::Internal { .. } => "template_internal",
        }
    }
}
