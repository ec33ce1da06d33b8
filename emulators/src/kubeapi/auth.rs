//! Authentication (static bearer tokens, and ServiceAccount tokens the emulator issued) and
//! RBAC authorization over the Roles, ClusterRoles and bindings stored in the emulator.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::errors::ApiError;
use super::handlers::State;
use super::store::ObjectKey;

/// The group whose members bypass authorization, as on a real cluster.
pub const MASTERS_GROUP: &str = "system:masters";

/// An authenticated identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn admin(name: &str) -> Self {
        Self {
            name: name.into(),
            groups: vec![MASTERS_GROUP.into(), "system:authenticated".into()],
        }
    }

    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    pub fn plain(name: &str) -> Self {
        Self {
            name: name.into(),
            groups: vec!["system:authenticated".into()],
        }
    }
}

/// Static tokens → users.
#[derive(Debug, Default)]
pub struct Users {
    by_token: HashMap<String, User>,
}

impl Users {
    pub fn add(&mut self, token: String, user: User) {
        self.by_token.insert(token, user);
    }

    pub fn by_token(&self, token: &str) -> Option<&User> {
        self.by_token.get(token)
    }

    pub fn token_of(&self, name: &str) -> Option<&str> {
        self.by_token
            .iter()
            .find(|(_, user)| user.name == name)
            .map(|(token, _)| token.as_str())
    }

    pub fn all(&self) -> impl Iterator<Item = (&String, &User)> {
        self.by_token.iter()
    }
}

/// What a request does, for authorization.
#[derive(Debug, Clone)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub qualified: String,
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn subject_matches(subject: &Value, user: &User) -> bool {
    let name = subject
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => user.name == name,
        Some("Group") => user.groups.iter().any(|group| group == name),
        Some("ServiceAccount") => {
            let namespace = subject
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            user.name == format!("system:serviceaccount:{namespace}:{name}")
        }
        _ => false,
    }
}

fn rule_allows(rule: &Value, attributes: &Attributes) -> bool {
    let verbs = strings(rule.get("verbs"));
    let groups = strings(rule.get("apiGroups"));
    let resources = strings(rule.get("resources"));
    let names = strings(rule.get("resourceNames"));
    let requested = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let resource_matches = resources.iter().any(|resource| {
        *resource == "*"
            || *resource == requested
            || resource
                .strip_prefix("*/")
                .is_some_and(|sub| sub == attributes.subresource && !sub.is_empty())
            || resource.strip_suffix("/*").is_some_and(|parent| {
                parent == attributes.resource && !attributes.subresource.is_empty()
            })
    });
    let name_matches = names.is_empty()
        || attributes
            .name
            .as_deref()
            .is_some_and(|name| names.contains(&name));
    (verbs.contains(&"*") || verbs.contains(&attributes.verb.as_str()))
        && (groups.contains(&"*") || groups.contains(&attributes.group.as_str()))
        && resource_matches
        && name_matches
}

fn cluster_role_rules(state: &State, name: &str) -> Vec<Value> {
    let Some(role) = state.store.get(&ObjectKey::new(
        "rbac.authorization.k8s.io/clusterroles",
        "",
        name,
    )) else {
        return Vec::new();
    };
    let mut rules = role
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(selectors) = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
    {
        for (_, candidate) in
            state
                .store
                .range("rbac.authorization.k8s.io/clusterroles", None, None)
        {
            let labels = candidate.pointer("/metadata/labels");
            let selected = selectors.iter().any(|selector| {
                selector
                    .get("matchLabels")
                    .and_then(Value::as_object)
                    .is_some_and(|wanted| {
                        wanted.iter().all(|(key, value)| {
                            labels.and_then(|labels| labels.get(key)) == Some(value)
                        })
                    })
            });
            if selected && candidate.pointer("/metadata/name").and_then(Value::as_str) != Some(name)
            {
                rules.extend(
                    candidate
                        .get("rules")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
    }
    rules
}

fn binding_rules(state: &State, binding: &Value, namespace: &str) -> Vec<Value> {
    let kind = binding
        .pointer("/roleRef/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = binding
        .pointer("/roleRef/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "ClusterRole" => cluster_role_rules(state, name),
        "Role" => state
            .store
            .get(&ObjectKey::new(
                "rbac.authorization.k8s.io/roles",
                namespace,
                name,
            ))
            .and_then(|role| role.get("rules"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Allows or refuses a resource request with the 403 the real server sends.
pub fn authorize(state: &State, user: &User, attributes: &Attributes) -> Result<(), ApiError> {
    match decide(state, user, attributes) {
        Some(_) => Ok(()),
        None => Err(forbidden(user, attributes)),
    }
}

fn bound_subject<'a>(binding: &'a Value, user: &User) -> Option<&'a Value> {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .and_then(|subjects| {
            subjects
                .iter()
                .find(|subject| subject_matches(subject, user))
        })
}

/// How the RBAC authorizer names a subject in its reasons.
fn describe_subject(subject: &Value, binding_namespace: &str) -> String {
    let text = |name: &str| {
        subject
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    if text("kind") == "ServiceAccount" {
        let namespace = if text("namespace").is_empty() {
            binding_namespace
        } else {
            text("namespace")
        };
        format!(
            "ServiceAccount {:?}",
            format!("{}/{namespace}", text("name"))
        )
    } else {
        format!("{} {:?}", text("kind"), text("name"))
    }
}

fn describe_binding(binding: &Value, subject: &Value) -> String {
    let text = |pointer: &str| {
        binding
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let namespace = text("/metadata/namespace");
    let (kind, name) = if namespace.is_empty() {
        ("ClusterRoleBinding", text("/metadata/name").to_owned())
    } else {
        (
            "RoleBinding",
            format!("{}/{namespace}", text("/metadata/name")),
        )
    };
    format!(
        "RBAC: allowed by {kind} {name:?} of {} {:?} to {}",
        text("/roleRef/kind"),
        text("/roleRef/name"),
        describe_subject(subject, namespace)
    )
}

/// Whether RBAC allows the request: `Some(reason)` (empty for `system:masters`, which bypasses
/// authorization), or `None`.
pub fn decide(state: &State, user: &User, attributes: &Attributes) -> Option<String> {
    if user.groups.iter().any(|group| group == MASTERS_GROUP) {
        return Some(String::new());
    }
    for (_, binding) in
        state
            .store
            .range("rbac.authorization.k8s.io/clusterrolebindings", None, None)
    {
        if let Some(subject) = bound_subject(binding, user)
            && binding_rules(state, binding, "")
                .iter()
                .any(|rule| rule_allows(rule, attributes))
        {
            return Some(describe_binding(binding, subject));
        }
    }
    if let Some(namespace) = &attributes.namespace {
        for (_, binding) in state.store.range(
            "rbac.authorization.k8s.io/rolebindings",
            Some(namespace),
            None,
        ) {
            if let Some(subject) = bound_subject(binding, user)
                && binding_rules(state, binding, namespace)
                    .iter()
                    .any(|rule| rule_allows(rule, attributes))
            {
                return Some(describe_binding(binding, subject));
            }
        }
    }
    None
}

/// Whether RBAC allows a non-resource request (`nonResourceURLs` of ClusterRoles bound by
/// ClusterRoleBindings; a trailing `*` is a prefix).
pub fn decide_non_resource(state: &State, user: &User, verb: &str, path: &str) -> Option<String> {
    if user.groups.iter().any(|group| group == MASTERS_GROUP) {
        return Some(String::new());
    }
    let allows = |rule: &Value| {
        let verbs = strings(rule.get("verbs"));
        let urls = strings(rule.get("nonResourceURLs"));
        (verbs.contains(&"*") || verbs.contains(&verb))
            && urls.iter().any(|url| {
                *url == path
                    || url
                        .strip_suffix('*')
                        .is_some_and(|prefix| path.starts_with(prefix))
            })
    };
    state
        .store
        .range("rbac.authorization.k8s.io/clusterrolebindings", None, None)
        .find_map(|(_, binding)| {
            let subject = bound_subject(binding, user)?;
            binding_rules(state, binding, "")
                .iter()
                .any(allows)
                .then(|| describe_binding(binding, subject))
        })
}

/// The user a request acts as: the authenticated one, or the one it impersonates
/// (`Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid`) when RBAC lets the authenticated
/// user `impersonate` that user (or ServiceAccount) and every group, as the apiserver's
/// impersonation filter does. `system:authenticated` is added to an impersonated user's groups.
pub fn impersonate(
    state: &State,
    user: User,
    impersonated_user: Option<&str>,
    impersonated_groups: &[String],
    impersonated_uid: Option<&str>,
) -> Result<User, ApiError> {
    let Some(name) = impersonated_user else {
        if impersonated_groups.is_empty() && impersonated_uid.is_none() {
            return Ok(user);
        }
        return Err(ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: requested impersonation of groups or uid without impersonating a user",
        ));
    };
    let mut checks = Vec::new();
    let mut groups = Vec::new();
    if let Some(rest) = name.strip_prefix("system:serviceaccount:")
        && let Some((namespace, service_account)) = rest.split_once(':')
    {
        checks.push(Attributes {
            verb: "impersonate".into(),
            group: String::new(),
            resource: "serviceaccounts".into(),
            subresource: String::new(),
            namespace: Some(namespace.to_owned()),
            name: Some(service_account.to_owned()),
            qualified: "serviceaccounts".into(),
        });
        if impersonated_groups.is_empty() {
            groups = User::service_account(namespace, service_account).groups;
        }
    } else {
        checks.push(impersonation_check("users", name));
    }
    for group in impersonated_groups {
        checks.push(impersonation_check("groups", group));
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    if let Some(uid) = impersonated_uid {
        let mut check = impersonation_check("uids", uid);
        check.group = "authentication.k8s.io".into();
        check.qualified = "uids.authentication.k8s.io".into();
        checks.push(check);
    }
    for check in &checks {
        if decide(state, &user, check).is_none() {
            return Err(forbidden(&user, check));
        }
    }
    if name != "system:anonymous" && !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    Ok(User {
        name: name.to_owned(),
        groups,
    })
}

fn impersonation_check(resource: &str, name: &str) -> Attributes {
    Attributes {
        verb: "impersonate".into(),
        group: String::new(),
        resource: resource.into(),
        subresource: String::new(),
        namespace: None,
        name: Some(name.to_owned()),
        qualified: resource.into(),
    }
}

fn forbidden(user: &User, attributes: &Attributes) -> ApiError {
    let resource = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    let subject = match &attributes.name {
        Some(name) => format!("{} \"{name}\"", attributes.qualified),
        None => attributes.qualified.clone(),
    };
    let scope = match &attributes.namespace {
        Some(namespace) => format!("in the namespace \"{namespace}\""),
        None => "at the cluster scope".into(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        user.name, attributes.verb, attributes.group
    );
    let mut details = json!({"group": attributes.group, "kind": attributes.resource});
    if let Some(name) = &attributes.name {
        details["name"] = json!(name);
    }
    ApiError::new(403, "Forbidden", message).with_details(details)
}
