//! The `external-secrets.io` custom resources, field-compatible with External Secrets Operator.
