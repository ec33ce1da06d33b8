//! The one mapping from Azure SDK errors (HTTP statuses, credential failures, I/O) to
//! [`ProviderError`], so retries, conditions and metrics agree.

use std::error::Error as _;
use std::time::Duration;

use akvsync_actors::remote::ProviderError;
use azure_core::error::ErrorKind;
use azure_core::http::RawResponse;
use azure_core::http::headers::HeaderName;

/// Suffix `azure_identity` appends to credential errors; noise in a store condition.
const TROUBLESHOOT_SUFFIX: &str = "\nTo troubleshoot, visit";

/// Classifies an SDK error for the object `key` (used in the NotFound message).
pub fn provider_error(error: &azure_core::Error, key: &str) -> ProviderError {
    match error.kind() {
        ErrorKind::HttpResponse {
            status,
            raw_response,
            error_code,
        } => http_error(
            u16::from(*status),
            error_code.as_deref(),
            raw_response.as_deref(),
            &error.to_string(),
            key,
        ),
        ErrorKind::Credential => credential_error(error),
        ErrorKind::Connection | ErrorKind::Io => ProviderError::Transient {
            message: chain_message(error),
        },
        ErrorKind::DataConversion => ProviderError::Invalid {
            message: format!(
                "unexpected response from Key Vault: {}",
                chain_message(error)
            ),
        },
        _ => ProviderError::Invalid {
            message: chain_message(error),
        },
    }
}

/// Maps a status to a category; `message` is the service's own text.
fn http_error(
    status: u16,
    error_code: Option<&str>,
    raw: Option<&RawResponse>,
    message: &str,
    key: &str,
) -> ProviderError {
    let inner = raw.and_then(inner_error_code);
    let detailed = match (error_code, inner.as_deref()) {
        (Some(code), Some(inner)) if code != inner => format!("{code} ({inner}): {message}"),
        (Some(code), _) if !message.starts_with(code) => format!("{code}: {message}"),
        _ => message.to_owned(),
    };
    match status {
        404 => ProviderError::NotFound {
            key: key.to_owned(),
        },
        429 => ProviderError::Throttled {
            retry_after: raw.and_then(retry_after),
        },
        401 => ProviderError::Unauthorized { message: detailed },
        403 => ProviderError::Forbidden { message: detailed },
        400 | 409 | 413 => ProviderError::Invalid { message: detailed },
        408 | 500..=599 => ProviderError::Transient { message: detailed },
        _ => ProviderError::Invalid {
            message: format!("unexpected status {status}: {detailed}"),
        },
    }
}

/// A credential failure: Entra's own answer decides (AADSTS text → Unauthorized; 429 → throttled;
/// 5xx, timeouts, refused connections → transient).
fn credential_error(error: &azure_core::Error) -> ProviderError {
    let message = credential_message(error);
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(inner) = cause.downcast_ref::<azure_core::Error>() {
            match inner.kind() {
                ErrorKind::HttpResponse {
                    status,
                    raw_response,
                    ..
                } => {
                    let status = u16::from(*status);
                    if status == 429 {
                        return ProviderError::Throttled {
                            retry_after: raw_response.as_deref().and_then(retry_after),
                        };
                    }
                    if status == 408 || status >= 500 {
                        return ProviderError::Transient { message };
                    }
                }
                ErrorKind::Connection | ErrorKind::Io => {
                    return ProviderError::Transient { message };
                }
                _ => {}
            }
        }
        source = cause.source();
    }
    ProviderError::Unauthorized { message }
}

/// The credential's message without the troubleshooting link.
pub(crate) fn credential_message(error: &azure_core::Error) -> String {
    let text = error.to_string();
    let text = match text.find(TROUBLESHOOT_SUFFIX) {
        Some(index) => &text[..index],
        None => &text,
    };
    text.trim().to_owned()
}

/// The error and its causes, joined, for errors whose top message is generic.
fn chain_message(error: &azure_core::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `error.innererror.code` of a Key Vault error body (e.g. `ForbiddenByRbac`, `SecretDisabled`).
fn inner_error_code(raw: &RawResponse) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(raw.body()).ok()?;
    body.pointer("/error/innererror/code")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// The wait a 429 asks for: `x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After`
/// (seconds or an HTTP date), in the SDK's order.
fn retry_after(raw: &RawResponse) -> Option<Duration> {
    let headers = raw.headers();
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(value) = headers.get_optional_str(&HeaderName::from_static(name))
            && let Ok(ms) = value.trim().parse::<f64>()
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_millis(ms as u64));
        }
    }
    let value = headers.get_optional_str(&HeaderName::from_static("retry-after"))?;
    parse_retry_after(value, chrono::Utc::now())
}

/// `Retry-After` as seconds or as an HTTP date relative to `now`.
fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::StatusCode;
    use azure_core::http::headers::Headers;

    fn http(status: u16, headers: &[(&'static str, &str)], body: &str) -> azure_core::Error {
        let mut map = Headers::new();
        for (name, value) in headers {
            map.insert(HeaderName::from_static(name), value.to_string());
        }
        let raw = RawResponse::from_bytes(StatusCode::from(status), map, body.as_bytes().to_vec());
        let json = serde_json::from_str::<serde_json::Value>(body).ok();
        let field = |pointer: &str| {
            json.as_ref()
                .and_then(|v| v.pointer(pointer))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        };
        let message = field("/error/message").unwrap_or_else(|| status.to_string());
        let code = field("/error/code");
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::from(status),
                error_code: code,
                raw_response: Some(Box::new(raw)),
            },
            message,
        )
    }

    #[test]
    fn statuses_map_to_categories() {
        let body = r#"{"error":{"code":"X","message":"m"}}"#;
        let cases = [
            (404, "not_found"),
            (429, "throttled"),
            (401, "unauthorized"),
            (403, "forbidden"),
            (400, "invalid"),
            (409, "invalid"),
            (413, "invalid"),
            (408, "transient"),
            (500, "transient"),
            (503, "transient"),
        ];
        for (status, category) in cases {
            assert_eq!(
                provider_error(&http(status, &[], body), "secret/a").category(),
                category,
                "status {status}"
            );
        }
    }

    #[test]
    fn not_found_names_the_key() {
        assert_eq!(
            provider_error(&http(404, &[], "{}"), "secret/db"),
            ProviderError::NotFound {
                key: "secret/db".into()
            }
        );
    }

    #[test]
    fn forbidden_keeps_key_vault_message_and_inner_code() {
        let body = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#;
        let ProviderError::Forbidden { message } = provider_error(&http(403, &[], body), "s")
        else {
            panic!("expected Forbidden");
        };
        assert_eq!(
            message,
            "Forbidden (SecretDisabled): Operation get is not allowed on a disabled secret."
        );
    }

    #[test]
    fn throttling_reads_retry_after_headers_in_sdk_order() {
        let throttled =
            |headers: &[(&'static str, &str)]| match provider_error(&http(429, headers, "{}"), "s")
            {
                ProviderError::Throttled { retry_after } => retry_after,
                other => panic!("expected Throttled, got {other:?}"),
            };
        assert_eq!(
            throttled(&[("x-ms-retry-after-ms", "1500"), ("retry-after", "9")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            throttled(&[("retry-after-ms", "250")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            throttled(&[("retry-after", "7")]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(throttled(&[]), None);
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let now = chrono::DateTime::parse_from_rfc2822("Fri, 01 Jan 2021 00:00:00 GMT")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 2021 00:00:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Thu, 31 Dec 2020 23:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn credential_errors_are_unauthorized_with_the_aadsts_text_unless_entra_is_down() {
        let entra = |status: u16| {
            let inner = http(status, &[], r#"{"error":"invalid_client"}"#);
            azure_core::Error::with_error(
                ErrorKind::Credential,
                inner,
                "ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret provided.\nTo troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#client-secret",
            )
        };
        assert_eq!(
            provider_error(&entra(401), "s"),
            ProviderError::Unauthorized {
                message: "ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret provided.".into()
            }
        );
        assert!(provider_error(&entra(503), "s").is_transient());
        assert!(matches!(
            provider_error(&entra(429), "s"),
            ProviderError::Throttled { .. }
        ));
    }

    #[test]
    fn connection_and_io_errors_are_transient() {
        let error = azure_core::Error::with_message(ErrorKind::Connection, "refused");
        assert!(provider_error(&error, "s").is_transient());
        let error = azure_core::Error::with_message(ErrorKind::Io, "reset");
        assert!(provider_error(&error, "s").is_transient());
    }
}
