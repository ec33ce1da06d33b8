//! The resource types the emulator serves: built-in kinds and those registered by CRDs.

use std::sync::Arc;

use serde_json::{Value, json};

/// What a column cell is computed from.
#[derive(Clone)]
pub enum ColumnSource {
    /// A (simple) JSONPath into the object, as in `additionalPrinterColumns`.
    JsonPath(String),
    /// A built-in printer's computed value (for example the number of keys in `data`).
    Computed(fn(&Value) -> Value),
}

impl std::fmt::Debug for ColumnSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::JsonPath(path) => write!(formatter, "JsonPath({path})"),
            Self::Computed(_) => write!(formatter, "Computed"),
        }
    }
}

/// One Table column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub column_type: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub source: ColumnSource,
}

impl Column {
    fn computed(name: &str, column_type: &str, compute: fn(&Value) -> Value) -> Self {
        Self {
            name: name.into(),
            column_type: column_type.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            source: ColumnSource::Computed(compute),
        }
    }

    fn path(name: &str, column_type: &str, path: &str) -> Self {
        Self {
            name: name.into(),
            column_type: column_type.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            source: ColumnSource::JsonPath(path.into()),
        }
    }

    fn age() -> Self {
        Self::path("Age", "date", ".metadata.creationTimestamp")
    }
}

/// Kind-specific write rules applied by the handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Namespace,
    Secret,
    ConfigMap,
    ServiceAccount,
    /// core/v1 Event (the storage form of both event APIs).
    CoreEvent,
    /// events.k8s.io/v1 Event, converted to and from the core form.
    EventsV1,
    Lease,
    CustomResourceDefinition,
    /// A custom resource served from a CRD.
    Custom,
    /// A built-in kind stored as a plain object (Deployment, Service, RBAC, …).
    Plain,
    /// A review (`SelfSubjectReview`, `SelfSubjectAccessReview`, `SubjectAccessReview`):
    /// create-only, answered and never stored (see `reviews.rs`).
    Review,
}

/// One served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    pub status_subresource: bool,
    /// Key shared by every version (and both event APIs) of the same stored objects.
    pub storage: String,
    pub behavior: Behavior,
    pub columns: Vec<Column>,
    /// `openAPIV3Schema` of a custom resource version.
    pub schema: Option<Value>,
    pub has_generation: bool,
    /// The CRD that registered this type.
    pub crd_name: Option<String>,
    /// Whether the storage version (custom resources) is this one.
    pub storage_version: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `secrets` or `widgets.example.com`, as error messages name resources.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct Builtin {
    group: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    behavior: Behavior,
    has_generation: bool,
}

fn builtin_list() -> Vec<Builtin> {
    let plain =
        |group, plural, singular, kind, namespaced, short_names, status, has_generation| Builtin {
            group,
            plural,
            singular,
            kind,
            namespaced,
            short_names,
            categories: &[],
            status,
            behavior: Behavior::Plain,
            has_generation,
        };
    vec![
        Builtin {
            behavior: Behavior::Namespace,
            ..plain(
                "",
                "namespaces",
                "namespace",
                "Namespace",
                false,
                &["ns"],
                true,
                false,
            )
        },
        Builtin {
            behavior: Behavior::Secret,
            ..plain("", "secrets", "secret", "Secret", true, &[], false, false)
        },
        Builtin {
            behavior: Behavior::ConfigMap,
            ..plain(
                "",
                "configmaps",
                "configmap",
                "ConfigMap",
                true,
                &["cm"],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::ServiceAccount,
            ..plain(
                "",
                "serviceaccounts",
                "serviceaccount",
                "ServiceAccount",
                true,
                &["sa"],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::CoreEvent,
            ..plain("", "events", "event", "Event", true, &["ev"], false, false)
        },
        Builtin {
            categories: &["all"],
            ..plain(
                "",
                "services",
                "service",
                "Service",
                true,
                &["svc"],
                true,
                false,
            )
        },
        Builtin {
            categories: &["all"],
            ..plain(
                "apps",
                "deployments",
                "deployment",
                "Deployment",
                true,
                &["deploy"],
                true,
                true,
            )
        },
        Builtin {
            behavior: Behavior::Lease,
            ..plain(
                "coordination.k8s.io",
                "leases",
                "lease",
                "Lease",
                true,
                &[],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::EventsV1,
            ..plain(
                "events.k8s.io",
                "events",
                "event",
                "Event",
                true,
                &["ev"],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::CustomResourceDefinition,
            categories: &["api-extensions"],
            ..plain(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "customresourcedefinition",
                "CustomResourceDefinition",
                false,
                &["crd", "crds"],
                true,
                true,
            )
        },
        plain(
            "rbac.authorization.k8s.io",
            "clusterroles",
            "clusterrole",
            "ClusterRole",
            false,
            &[],
            false,
            false,
        ),
        plain(
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            false,
            &[],
            false,
            false,
        ),
        plain(
            "rbac.authorization.k8s.io",
            "roles",
            "role",
            "Role",
            true,
            &[],
            false,
            false,
        ),
        plain(
            "rbac.authorization.k8s.io",
            "rolebindings",
            "rolebinding",
            "RoleBinding",
            true,
            &[],
            false,
            false,
        ),
        Builtin {
            behavior: Behavior::Review,
            ..plain(
                "authentication.k8s.io",
                "selfsubjectreviews",
                "",
                "SelfSubjectReview",
                false,
                &[],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::Review,
            ..plain(
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "",
                "SelfSubjectAccessReview",
                false,
                &[],
                false,
                false,
            )
        },
        Builtin {
            behavior: Behavior::Review,
            ..plain(
                "authorization.k8s.io",
                "subjectaccessreviews",
                "",
                "SubjectAccessReview",
                false,
                &[],
                false,
                false,
            )
        },
        plain(
            "policy",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "PodDisruptionBudget",
            true,
            &["pdb"],
            true,
            true,
        ),
        plain(
            "networking.k8s.io",
            "networkpolicies",
            "networkpolicy",
            "NetworkPolicy",
            true,
            &["netpol"],
            false,
            true,
        ),
    ]
}

fn count_map(field: &'static str) -> impl Fn(&Value) -> Value {
    move |object: &Value| {
        json!(
            object
                .get(field)
                .and_then(Value::as_object)
                .map(|map| map.len())
                .unwrap_or(0)
        )
    }
}

fn builtin_columns(kind: &str, group: &str) -> Vec<Column> {
    match (group, kind) {
        ("", "Secret") => vec![
            Column::path("Type", "string", ".type"),
            Column::computed("Data", "string", |object| count_map("data")(object)),
            Column::age(),
        ],
        ("", "ConfigMap") => vec![
            Column::computed("Data", "string", |object| {
                let data = count_map("data")(object).as_u64().unwrap_or(0);
                let binary = count_map("binaryData")(object).as_u64().unwrap_or(0);
                json!(data + binary)
            }),
            Column::age(),
        ],
        ("", "Namespace") => vec![
            Column::path("Status", "string", ".status.phase"),
            Column::age(),
        ],
        ("", "ServiceAccount") => vec![
            Column::computed("Secrets", "string", |object| {
                json!(
                    object
                        .get("secrets")
                        .and_then(Value::as_array)
                        .map(Vec::len)
                        .unwrap_or(0)
                )
            }),
            Column::age(),
        ],
        ("coordination.k8s.io", "Lease") => vec![
            Column::path("Holder", "string", ".spec.holderIdentity"),
            Column::age(),
        ],
        ("", "Event") => vec![
            Column::computed("Last Seen", "date", |object| {
                object
                    .pointer("/series/lastObservedTime")
                    .or_else(|| object.get("lastTimestamp").filter(|value| !value.is_null()))
                    .or_else(|| object.get("eventTime"))
                    .cloned()
                    .unwrap_or(Value::Null)
            }),
            Column::path("Type", "string", ".type"),
            Column::path("Reason", "string", ".reason"),
            Column::computed("Object", "string", |object| {
                let kind = object
                    .pointer("/involvedObject/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let name = object
                    .pointer("/involvedObject/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                json!(format!("{}/{name}", kind.to_lowercase()))
            }),
            Column::path("Message", "string", ".message"),
        ],
        ("apiextensions.k8s.io", _) => vec![Column::computed("Created At", "string", |object| {
            object
                .pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null)
        })],
        _ => vec![Column::age()],
    }
}

/// The built-in resource types, in discovery order.
pub fn builtin_types() -> Vec<ResourceType> {
    builtin_list()
        .into_iter()
        .map(|builtin| {
            let storage = if builtin.behavior == Behavior::EventsV1 {
                "/events".to_owned()
            } else {
                format!("{}/{}", builtin.group, builtin.plural)
            };
            let version = "v1".to_owned();
            ResourceType {
                group: builtin.group.into(),
                version,
                plural: builtin.plural.into(),
                singular: builtin.singular.into(),
                kind: builtin.kind.into(),
                namespaced: builtin.namespaced,
                short_names: builtin
                    .short_names
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect(),
                categories: builtin
                    .categories
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect(),
                verbs: if builtin.behavior == Behavior::Review {
                    vec!["create".to_owned()]
                } else {
                    ALL_VERBS.iter().map(|verb| (*verb).to_owned()).collect()
                },
                status_subresource: builtin.status,
                storage,
                behavior: builtin.behavior,
                columns: builtin_columns(builtin.kind, builtin.group),
                schema: None,
                has_generation: builtin.has_generation,
                crd_name: None,
                storage_version: true,
            }
        })
        .collect()
}

/// The resource types a CRD serves (one per served version), or why it is unusable.
pub fn types_from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("spec is required")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group is required")?;
    let names = spec.get("names").ok_or("spec.names is required")?;
    let plural = names
        .get("plural")
        .and_then(Value::as_str)
        .ok_or("spec.names.plural is required")?;
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("spec.names.kind is required")?;
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_lowercase());
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings(names.get("shortNames"));
    let categories = strings(names.get("categories"));
    let namespaced = spec
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("Namespaced")
        == "Namespaced";
    let crd_name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions is required")?;
    let mut types = Vec::new();
    for version in versions {
        if !version
            .get("served")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            continue;
        }
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .ok_or("spec.versions[].name is required")?;
        let columns = version
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|columns| {
                columns
                    .iter()
                    .map(|column| Column {
                        name: column
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        column_type: column
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("string")
                            .to_owned(),
                        format: column
                            .get("format")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        description: column
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        priority: column.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        source: ColumnSource::JsonPath(
                            column
                                .get("jsonPath")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|| vec![Column::age()]);
        let status_subresource = version.pointer("/subresources/status").is_some();
        types.push(ResourceType {
            group: group.into(),
            version: name.into(),
            plural: plural.into(),
            singular: singular.clone(),
            kind: kind.into(),
            namespaced,
            short_names: short_names.clone(),
            categories: categories.clone(),
            verbs: ALL_VERBS.iter().map(|verb| (*verb).to_owned()).collect(),
            status_subresource,
            storage: format!("{group}/{plural}"),
            behavior: Behavior::Custom,
            columns,
            schema: version.pointer("/schema/openAPIV3Schema").cloned(),
            has_generation: true,
            crd_name: Some(crd_name.clone()),
            storage_version: version
                .get("storage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    Ok(types)
}

/// Every served resource type, looked up by path or kind.
#[derive(Debug, Default)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Registry {
    pub fn with_builtins() -> Self {
        Self {
            types: builtin_types().into_iter().map(Arc::new).collect(),
        }
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|resource| {
                resource.group == group && resource.version == version && resource.plural == plural
            })
            .cloned()
    }

    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// Whether any served type of this group/version exists.
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|resource| resource.group == group && resource.version == version)
    }

    /// Groups in discovery order with their versions (first one preferred).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for resource in &self.types {
            match groups
                .iter_mut()
                .find(|(group, _)| *group == resource.group)
            {
                Some((_, versions)) => {
                    if !versions.contains(&resource.version) {
                        versions.push(resource.version.clone());
                    }
                }
                None => groups.push((resource.group.clone(), vec![resource.version.clone()])),
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
        }
        groups
    }

    /// Replaces the types registered by `crd_name` (empty `types` unregisters it).
    pub fn set_crd_types(&mut self, crd_name: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|resource| resource.crd_name.as_deref() != Some(crd_name));
        self.types.extend(types.into_iter().map(Arc::new));
    }

    /// The type whose version objects of `storage` are kept in.
    pub fn storage_type(&self, storage: &str) -> Option<Arc<ResourceType>> {
        let candidates: Vec<&Arc<ResourceType>> = self
            .types
            .iter()
            .filter(|resource| {
                resource.storage == storage && resource.behavior != Behavior::EventsV1
            })
            .collect();
        candidates
            .iter()
            .find(|resource| resource.storage_version)
            .or(candidates.first())
            .map(|resource| (*resource).clone())
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (stage, number) = if let Some(number) = tail.strip_prefix("beta") {
        (2, number)
    } else if let Some(number) = tail.strip_prefix("alpha") {
        (1, number)
    } else {
        return (0, 0, 0);
    };
    (stage, major, number.parse().unwrap_or(0))
}
