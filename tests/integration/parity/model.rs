//! A case: what its vault holds, the manifests applied, and what is checked afterwards.

use akvsync_emulators::azure::pkcs::KeyAndChain;
use akvsync_emulators::azure::{Grant, SecretOptions};

/// What a case's vault holds before the operator starts.
pub(crate) enum Object {
    Secret {
        name: &'static str,
        value: String,
        options: SecretOptions,
    },
    /// Versions oldest first; the manifests and expectations may name `@v0@`, `@v1@`, ….
    Versions(&'static str, Vec<&'static str>),
    /// A JWK imported as it is; `@kid@` becomes its key id.
    ImportedKey {
        name: &'static str,
        jwk: &'static str,
        tags: Vec<(String, String)>,
    },
    /// A generated P-256 key.
    NewKey {
        name: &'static str,
        tags: Vec<(String, String)>,
    },
    /// A certificate imported from PEM (PKCS#8 key and certificate).
    Certificate {
        name: &'static str,
        material: KeyAndChain,
        tags: Vec<(String, String)>,
    },
}

pub(crate) fn secret(name: &'static str, value: &str, tags: Vec<(String, String)>) -> Object {
    Object::Secret {
        name,
        value: value.to_owned(),
        options: SecretOptions {
            tags: tags.into_iter().collect(),
            ..Default::default()
        },
    }
}

/// What the ExternalSecret's Secret holds, or why it failed.
#[derive(Clone, Debug)]
pub(crate) enum Expect {
    /// The whole Secret data, byte for byte (`@kid@`, `@vN@` substituted).
    Data(Vec<(String, Vec<u8>)>),
    /// `Ready=False` with this exact message.
    Failed(String),
    /// Legacy SDK `metadataPolicy: Fetch` without property: key `out` holds the JSON of these
    /// tags plus the vault's `attribute.created` / `attribute.updated`.
    TagsJsonWithAttributes(Vec<(String, String)>),
    /// Legacy SDK `dataFrom.extract` with `metadataPolicy: Fetch`: exactly these keys plus the
    /// vault's `<name>_attribute.created` / `<name>_attribute.updated`.
    DataWithAttributes(Vec<(String, Vec<u8>)>, &'static str),
}

pub(crate) fn out(value: &str) -> Expect {
    Expect::Data(vec![("out".into(), value.as_bytes().to_vec())])
}

pub(crate) fn data(pairs: &[(&str, &str)]) -> Expect {
    Expect::Data(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
    )
}

/// A check after the operator settled.
pub(crate) enum Check {
    ExternalSecret(&'static str, Expect),
    /// PushSecret `push`: Ready status and message (exact, or contained for README differences).
    Push {
        ready: bool,
        message: String,
        exact: bool,
    },
    /// A vault secret's current value, and tags and content type that must be present.
    VaultSecret {
        name: &'static str,
        value: String,
        tags: Vec<(String, String)>,
        content_type: Option<&'static str>,
        expires: Option<i64>,
    },
    VaultKeyTags(&'static str, Vec<(String, String)>),
    /// The certificate's DER and tags that must be present.
    VaultCertificate(&'static str, Vec<u8>, Vec<(String, String)>),
    /// How many writes of this operation the operator made in the case's vault.
    Writes(&'static str, u64),
    /// `GET <path>` answers 404.
    Gone(&'static str),
}

pub(crate) fn push_ok() -> Check {
    Check::Push {
        ready: true,
        message: "PushSecret synced successfully".into(),
        exact: true,
    }
}

pub(crate) fn push_failed(message: String) -> Check {
    Check::Push {
        ready: false,
        message,
        exact: true,
    }
}

/// After the first checks: change the vault, re-apply manifests, check again.
pub(crate) struct Then {
    pub(crate) mutation: Mutation,
    pub(crate) manifests: Vec<String>,
    pub(crate) checks: Vec<Check>,
}

pub(crate) enum Mutation {
    Nothing,
    /// `DELETE <path>`.
    Delete(&'static str),
    /// `PATCH <path>` with `{"tags": {}}`.
    DropTags(&'static str),
    /// The operator's access to the vault becomes this grant: Key Vault answers 403.
    Restrict(Grant),
}

pub(crate) struct Case {
    /// ESO's test function and case.
    pub(crate) eso: &'static str,
    pub(crate) objects: Vec<Object>,
    /// Source Secret `source` for PushSecrets.
    pub(crate) source: Vec<(String, Vec<u8>)>,
    pub(crate) manifests: Vec<String>,
    pub(crate) checks: Vec<Check>,
    pub(crate) then: Option<Then>,
    /// The operator's access to the case's vault once it is seeded (all by default).
    pub(crate) grant: Grant,
}

impl Case {
    pub(crate) fn new(eso: &'static str, objects: Vec<Object>) -> Case {
        Case {
            eso,
            objects,
            source: Vec::new(),
            manifests: Vec::new(),
            checks: Vec::new(),
            then: None,
            grant: Grant::all(),
        }
    }
}
