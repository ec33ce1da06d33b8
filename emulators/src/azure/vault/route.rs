//! Maps a method and path to a Key Vault operation.

use hyper::Method;

use super::super::config::{Access, Grant};
use super::super::faults::RequestClass;

/// Object kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Secrets.
    Secret,
    /// Keys.
    Key,
    /// Certificates.
    Certificate,
}

impl Kind {
    /// Lowercase noun used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Key => "key",
            Self::Certificate => "certificate",
        }
    }

    /// Capitalised noun.
    pub fn title(self) -> &'static str {
        match self {
            Self::Secret => "Secret",
            Self::Key => "Key",
            Self::Certificate => "Certificate",
        }
    }

    /// Path collection (`secrets`, `keys`, `certificates`).
    pub fn collection(self) -> &'static str {
        match self {
            Self::Secret => "secrets",
            Self::Key => "keys",
            Self::Certificate => "certificates",
        }
    }

    /// `SecretNotFound` etc.
    pub fn not_found_code(self) -> &'static str {
        match self {
            Self::Secret => "SecretNotFound",
            Self::Key => "KeyNotFound",
            Self::Certificate => "CertificateNotFound",
        }
    }

    /// `SecretDisabled` etc.
    pub fn disabled_code(self) -> &'static str {
        match self {
            Self::Secret => "SecretDisabled",
            Self::Key => "KeyDisabled",
            Self::Certificate => "CertificateDisabled",
        }
    }

    fn access(self, grant: &Grant) -> Access {
        match self {
            Self::Secret => grant.secrets,
            Self::Key => grant.keys,
            Self::Certificate => grant.certificates,
        }
    }
}

/// What is done to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// GET one version (latest when none).
    Get,
    /// GET the collection.
    List,
    /// GET `…/versions`.
    ListVersions,
    /// PUT: set a secret or import a key.
    Put,
    /// PATCH one version.
    Update,
    /// DELETE (soft).
    Delete,
    /// GET a deleted object.
    GetDeleted,
    /// GET the deleted collection.
    ListDeleted,
    /// DELETE a deleted object.
    Purge,
    /// POST `…/recover`.
    Recover,
    /// POST `/keys/{n}/create`.
    Create,
    /// POST `/certificates/{n}/import`.
    Import,
    /// GET `/certificates/{n}/policy`.
    GetPolicy,
}

/// A recognised operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Object kind.
    pub kind: Kind,
    /// Action.
    pub action: Action,
    /// Object name (collection operations have none).
    pub name: Option<String>,
    /// Version (latest when none).
    pub version: Option<String>,
}

/// Result of routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routed {
    /// A known operation.
    Op(Op),
    /// A known path with an unsupported method.
    MethodNotAllowed,
    /// Nothing here.
    NotFound,
}

impl Op {
    fn new(kind: Kind, action: Action, name: Option<&str>, version: Option<&str>) -> Self {
        Self {
            kind,
            action,
            name: name.map(str::to_string),
            version: version.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// The operation name used in counters, e.g. `GetSecret`, `ListKeys`.
    pub fn name(&self) -> String {
        let title = self.kind.title();
        match self.action {
            Action::Get => format!("Get{title}"),
            Action::List => format!("List{title}s"),
            Action::ListVersions => format!("List{title}Versions"),
            Action::Put if self.kind == Kind::Secret => "SetSecret".into(),
            Action::Put => format!("Import{title}"),
            Action::Update => format!("Update{title}"),
            Action::Delete => format!("Delete{title}"),
            Action::GetDeleted => format!("GetDeleted{title}"),
            Action::ListDeleted => format!("ListDeleted{title}s"),
            Action::Purge => format!("PurgeDeleted{title}"),
            Action::Recover => format!("RecoverDeleted{title}"),
            Action::Create => format!("Create{title}"),
            Action::Import => format!("Import{title}"),
            Action::GetPolicy => format!("Get{title}Policy"),
        }
    }

    /// Which throttling limit applies.
    pub fn class(&self) -> RequestClass {
        match self.action {
            Action::Get
            | Action::List
            | Action::ListVersions
            | Action::GetDeleted
            | Action::ListDeleted
            | Action::GetPolicy => RequestClass::Read,
            _ => RequestClass::Write,
        }
    }

    /// Whether the request carries a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(
            self.action,
            Action::Put | Action::Update | Action::Create | Action::Import
        )
    }

    fn required(&self) -> Access {
        match self.action {
            Action::Get if self.kind == Kind::Secret => Access::Read,
            Action::Get
            | Action::List
            | Action::ListVersions
            | Action::GetDeleted
            | Action::ListDeleted
            | Action::GetPolicy => Access::List,
            Action::Put | Action::Update | Action::Create | Action::Import => Access::Write,
            Action::Delete | Action::Purge | Action::Recover => Access::All,
        }
    }

    /// Whether `grant` allows this operation.
    pub fn allowed(&self, grant: &Grant) -> bool {
        match self.kind.access(grant) {
            Access::GetOnly => self.action == Action::Get,
            access => access >= self.required(),
        }
    }

    /// The RBAC data action named in a `ForbiddenByRbac` message.
    pub fn rbac_action(&self) -> String {
        let collection = self.kind.collection();
        let verb = match (self.kind, self.action) {
            (Kind::Secret, Action::Get) => "getSecret/action",
            (Kind::Secret, Action::Put) => "setSecret/action",
            (Kind::Secret, Action::Update) => "setSecret/action",
            (_, Action::Get | Action::GetPolicy) => "read",
            (_, Action::List | Action::ListVersions) => "readMetadata/action",
            (_, Action::GetDeleted | Action::ListDeleted) => "readMetadata/action",
            (_, Action::Put | Action::Import) => "import/action",
            (_, Action::Create) => "create/action",
            (_, Action::Update) => "update/action",
            (_, Action::Delete) => "delete",
            (_, Action::Purge) => "purge/action",
            (_, Action::Recover) => "recover/action",
        };
        format!("Microsoft.KeyVault/vaults/{collection}/{verb}")
    }
}

/// Routes `method` + `path` (no query).
pub fn route(method: &Method, path: &str) -> Routed {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (collection, rest) = match segments.split_first() {
        Some((c, r)) => (c.to_ascii_lowercase(), r),
        None => return Routed::NotFound,
    };
    let (kind, deleted) = match collection.as_str() {
        "secrets" => (Kind::Secret, false),
        "keys" => (Kind::Key, false),
        "certificates" => (Kind::Certificate, false),
        "deletedsecrets" => (Kind::Secret, true),
        "deletedkeys" => (Kind::Key, true),
        "deletedcertificates" => (Kind::Certificate, true),
        _ => return Routed::NotFound,
    };
    let op = |action, name: Option<&str>, version: Option<&str>| {
        Routed::Op(Op::new(kind, action, name, version))
    };
    let only = |allowed: &Method, routed: Routed| {
        if method == allowed {
            routed
        } else {
            Routed::MethodNotAllowed
        }
    };
    if deleted {
        return match rest {
            [] | [""] => only(&Method::GET, op(Action::ListDeleted, None, None)),
            [name] | [name, ""] if method == Method::GET => {
                op(Action::GetDeleted, Some(name), None)
            }
            [name] | [name, ""] => only(&Method::DELETE, op(Action::Purge, Some(name), None)),
            [name, recover] if recover.eq_ignore_ascii_case("recover") => {
                only(&Method::POST, op(Action::Recover, Some(name), None))
            }
            _ => Routed::NotFound,
        };
    }
    match rest {
        [] | [""] => only(&Method::GET, op(Action::List, None, None)),
        [name] => match *method {
            Method::GET => op(Action::Get, Some(name), None),
            Method::PATCH => op(Action::Update, Some(name), None),
            Method::DELETE => op(Action::Delete, Some(name), None),
            Method::PUT if kind != Kind::Certificate => op(Action::Put, Some(name), None),
            _ => Routed::MethodNotAllowed,
        },
        [name, ""] => match *method {
            Method::GET => op(Action::Get, Some(name), None),
            Method::PATCH => op(Action::Update, Some(name), None),
            _ => Routed::MethodNotAllowed,
        },
        [name, word] if word.eq_ignore_ascii_case("versions") => {
            only(&Method::GET, op(Action::ListVersions, Some(name), None))
        }
        [name, word] if kind == Kind::Key && word.eq_ignore_ascii_case("create") => {
            only(&Method::POST, op(Action::Create, Some(name), None))
        }
        [name, word] if kind == Kind::Certificate && word.eq_ignore_ascii_case("import") => {
            only(&Method::POST, op(Action::Import, Some(name), None))
        }
        [name, word] if kind == Kind::Certificate && word.eq_ignore_ascii_case("policy") => {
            only(&Method::GET, op(Action::GetPolicy, Some(name), None))
        }
        [name, version] | [name, version, ""] if is_version(version) => match *method {
            Method::GET => op(Action::Get, Some(name), Some(version)),
            Method::PATCH => op(Action::Update, Some(name), Some(version)),
            _ => Routed::MethodNotAllowed,
        },
        _ => Routed::NotFound,
    }
}

/// Version ids are 32 hex characters; anything else that is not a known word is not a path.
fn is_version(segment: &str) -> bool {
    !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_version_is_routed_with_and_without_trailing_slash() {
        for path in ["/secrets/a", "/secrets/a/"] {
            let Routed::Op(op) = route(&Method::GET, path) else {
                panic!("{path}")
            };
            assert_eq!((op.action, op.version), (Action::Get, None));
        }
    }

    #[test]
    fn unknown_paths_and_methods_are_not_operations() {
        assert_eq!(route(&Method::GET, "/nothing"), Routed::NotFound);
        assert_eq!(route(&Method::POST, "/secrets"), Routed::MethodNotAllowed);
        assert_eq!(
            route(&Method::PUT, "/certificates/c"),
            Routed::MethodNotAllowed
        );
        assert_eq!(route(&Method::POST, "/keys/k/0123/sign"), Routed::NotFound);
    }
}
