//! Key Vault error answers: `{"error":{"code","message","innererror"}}` with real codes.

use serde_json::json;

use super::super::http::{Resp, json_response};
use super::route::Kind;

/// A Key Vault error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct KvError {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: String,
    /// `error.message`.
    pub message: String,
    /// `error.innererror.code`.
    pub inner: Option<String>,
}

/// Link the real service appends to not-found messages.
const NOT_FOUND_HELP: &str = "If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182";

impl KvError {
    /// A plain error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            inner: None,
        }
    }

    /// Adds `innererror.code`.
    pub fn inner(mut self, code: &str) -> Self {
        self.inner = Some(code.to_string());
        self
    }

    /// 400 BadParameter.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "BadParameter", message)
    }

    /// 404 `{Kind}NotFound` for an active object or version.
    pub fn not_found(kind: Kind, name: &str, version: Option<&str>) -> Self {
        let id = match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_string(),
        };
        let noun = kind.noun();
        let help = NOT_FOUND_HELP.replace("secret", noun);
        Self::new(
            404,
            kind.not_found_code(),
            format!("A {noun} with (name/id) {id} was not found in this key vault. {help}"),
        )
    }

    /// 404 for a deleted object that does not exist.
    pub fn deleted_not_found(kind: Kind, name: &str) -> Self {
        Self::new(
            404,
            kind.not_found_code(),
            format!("Deleted {} not found: {name}", kind.title()),
        )
    }

    /// 403 for an operation on a disabled version.
    pub fn disabled(kind: Kind, operation: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "Operation {operation} is not allowed on a disabled {}.",
                kind.noun()
            ),
        )
        .inner(kind.disabled_code())
    }

    /// 409 when the name is held by a soft-deleted object.
    pub fn deleted_but_recoverable(kind: Kind, name: &str) -> Self {
        let noun = kind.noun();
        Self::new(
            409,
            "Conflict",
            format!(
                "{} {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the {noun} can only be recovered or purged.",
                kind.title()
            ),
        )
        .inner("ObjectIsDeletedButRecoverable")
    }

    /// 409 when a managed (certificate-backed) object is changed on its own.
    pub fn managed(kind: Kind, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "{} {name} is managed by a certificate. Perform the operation on the certificate instead.",
                kind.title()
            ),
        )
    }

    /// 429 Throttled.
    pub fn throttled() -> Self {
        Self::new(
            429,
            "Throttled",
            "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
        )
    }

    /// 401 Unauthorized (sent with a challenge header).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", message)
    }

    /// The response.
    pub fn response(&self) -> Resp {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(inner) = &self.inner {
            error["innererror"] = json!({"code": inner});
        }
        json_response(self.status, &json!({"error": error}))
    }
}
