//! What the store actors fetch and push: Key Vault object references, values and provider errors.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The three Key Vault object types, chosen by the `secret/`, `key/` or `cert/` prefix of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Secret,
    Key,
    Certificate,
}

impl ObjectKind {
    /// The name Key Vault's REST paths and ESO's metric labels use.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Secret => "secret",
            ObjectKind::Key => "key",
            ObjectKind::Certificate => "cert",
        }
    }

    /// The kind a remote key's `type/` prefix names; `None` for any other prefix.
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "secret" => Some(ObjectKind::Secret),
            "key" => Some(ObjectKind::Key),
            "cert" => Some(ObjectKind::Certificate),
            _ => None,
        }
    }
}

/// Why a remote key names no Key Vault object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteKeyError {
    /// The part before the first `/` is not `secret`, `key` or `cert`. The message is ESO's
    /// (`errUnknownObjectType`), naming the part after the prefix as ESO does.
    #[error("unknown Azure Keyvault object Type for {name}")]
    UnknownObjectType { object_type: String, name: String },
}

/// One remote object, at its latest version or a pinned one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteKey {
    pub kind: ObjectKind,
    pub name: String,
    pub version: Option<String>,
}

impl RemoteKey {
    pub fn new(kind: ObjectKind, name: impl Into<String>, version: Option<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            version,
        }
    }

    /// Parses ESO's remote key syntax as its Azure provider's `getObjType` does: a key without
    /// `/` is a secret; otherwise the first token is the type (`secret`, `key` or `cert`), the
    /// second the name, and later tokens are ignored. An empty version means the latest.
    pub fn parse(key: &str, version: Option<&str>) -> Result<Self, RemoteKeyError> {
        let mut tokens = key.split('/');
        let first = tokens.next().unwrap_or_default();
        let (kind, name) = match tokens.next() {
            None => (ObjectKind::Secret, first),
            Some(name) => {
                let kind = ObjectKind::from_prefix(first).ok_or_else(|| {
                    RemoteKeyError::UnknownObjectType {
                        object_type: first.to_owned(),
                        name: name.to_owned(),
                    }
                })?;
                (kind, name)
            }
        };
        let version = version.filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(Self::new(kind, name, version))
    }
}

impl fmt::Display for RemoteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)?;
        if let Some(version) = &self.version {
            write!(f, " (version {version})")?;
        }
        Ok(())
    }
}

/// Bytes that must never reach a log line: `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(Arc<[u8]>);

impl SecretBytes {
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for SecretBytes {
    fn from(value: &str) -> Self {
        Self::new(value.as_bytes())
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

/// A fetched object: its value as ESO hands it to templates, plus the metadata `metadataPolicy:
/// Fetch` and `dataFrom.find` look at.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RemoteValue {
    pub value: SecretBytes,
    pub version: Option<String>,
    pub content_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub enabled: bool,
    /// Unix seconds after which Key Vault reports the object as expired.
    pub expires: Option<i64>,
    pub not_before: Option<i64>,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    /// Whether Key Vault manages this secret as a certificate's backing secret.
    pub managed: bool,
    /// Unix seconds when the store read it from the vault.
    pub read_at: Option<i64>,
}

/// Now, in Unix seconds, as Key Vault counts `created`, `updated` and `exp`.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

impl RemoteValue {
    /// Approximate heap size, used to bound the cache by weight.
    pub fn weight(&self) -> u32 {
        let tags: usize = self.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        u32::try_from(self.value.len() + tags + 128).unwrap_or(u32::MAX)
    }
}

/// One entry of a list of a vault's objects, as used by `dataFrom.find` and to tell whether a
/// cached object changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteItem {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub enabled: bool,
    pub managed: bool,
    /// Unix seconds of the object's last change (value, attributes or tags).
    pub updated: Option<i64>,
}

/// What a `PushSecret` writes to one remote object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushRequest {
    pub key: RemoteKey,
    pub value: SecretBytes,
    pub content_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Unix seconds, for secrets whose metadata sets an expiry.
    pub expires: Option<i64>,
}

/// A provider failure, classified once so retries, conditions and metrics agree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// ESO's `NoSecretError` text, which users' alerts match; the object is named by the caller.
    #[error("Secret does not exist")]
    NotFound { key: String },
    #[error("the vault is throttling requests")]
    Throttled { retry_after: Option<Duration> },
    #[error("authentication failed: {message}")]
    Unauthorized { message: String },
    #[error("access denied: {message}")]
    Forbidden { message: String },
    #[error("{message}")]
    Invalid { message: String },
    #[error("transient error: {message}")]
    Transient { message: String },
}

impl ProviderError {
    /// A short fixed category for metric labels and condition reasons.
    pub fn category(&self) -> &'static str {
        match self {
            ProviderError::NotFound { .. } => "not_found",
            ProviderError::Throttled { .. } => "throttled",
            ProviderError::Unauthorized { .. } => "unauthorized",
            ProviderError::Forbidden { .. } => "forbidden",
            ProviderError::Invalid { .. } => "invalid",
            ProviderError::Transient { .. } => "transient",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProviderError::Throttled { .. } | ProviderError::Transient { .. }
        )
    }
}

/// The Key Vault operations a store actor needs; the Azure adapter implements it over HTTP and the
/// tests with fakes.
pub trait KeyVault: Send + Sync + 'static {
    /// The vault's host name: stores pointing at one vault share its rate limiter.
    fn vault_host(&self) -> &str;

    fn get(
        &self,
        key: &RemoteKey,
    ) -> impl Future<Output = Result<RemoteValue, ProviderError>> + Send;

    /// One page of the vault's objects of `kind`; `page` is the continuation a previous call
    /// returned.
    fn list_page(
        &self,
        kind: ObjectKind,
        page: Option<String>,
    ) -> impl Future<Output = Result<(Vec<RemoteItem>, Option<String>), ProviderError>> + Send;

    fn push(&self, request: &PushRequest)
    -> impl Future<Output = Result<(), ProviderError>> + Send;

    fn delete(&self, key: &RemoteKey) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_type_prefixes_follow_eso() {
        let key = RemoteKey::parse("cert/tls/ignored", Some("v1")).unwrap();
        assert_eq!(
            (key.kind, key.name.as_str(), key.version.as_deref()),
            (ObjectKind::Certificate, "tls", Some("v1"))
        );
        assert_eq!(
            RemoteKey::parse("plain", Some("")).unwrap(),
            RemoteKey::new(ObjectKind::Secret, "plain", None)
        );
        assert_eq!(
            RemoteKey::parse("key/k", None).unwrap().kind,
            ObjectKind::Key
        );
        assert_eq!(
            RemoteKey::parse("secret/s", None).unwrap().kind,
            ObjectKind::Secret
        );
    }

    #[test]
    fn an_unknown_prefix_is_refused_naming_the_second_token() {
        let error = RemoteKey::parse("blob/x/y", None).unwrap_err();
        assert_eq!(
            error,
            RemoteKeyError::UnknownObjectType {
                object_type: "blob".into(),
                name: "x".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "unknown Azure Keyvault object Type for x"
        );
        assert!(RemoteKey::parse("/x", None).is_err());
    }

    #[test]
    fn an_empty_name_after_a_known_prefix_parses_as_eso_does() {
        assert_eq!(
            RemoteKey::parse("secret/", None).unwrap(),
            RemoteKey::new(ObjectKind::Secret, "", None)
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Any remote key a user writes parses (with ESO's `getObjType` rules) or is refused.
        #[test]
        fn remote_keys_parse_or_are_refused(key in "\\PC{0,80}", version in proptest::option::of("\\PC{0,20}")) {
            match RemoteKey::parse(&key, version.as_deref()) {
                Ok(parsed) => prop_assert!(key.contains(parsed.name.as_str())),
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }
    }
}
