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
    if user.groups.iter().any(|group| group == MASTERS_GROUP) {
        return Ok(());
    }
    let bound = |binding: &Value| {
        binding
            .get("subjects")
            .and_then(Value::as_array)
            .is_some_and(|subjects| {
                subjects
                    .iter()
                    .any(|subject| subject_matches(subject, user))
            })
    };
    for (_, binding) in
        state
            .store
            .range("rbac.authorization.k8s.io/clusterrolebindings", None, None)
    {
        if bound(binding)
            && binding_rules(state, binding, "")
                .iter()
                .any(|rule| rule_allows(rule, attributes))
        {
            return Ok(());
        }
    }
    if let Some(namespace) = &attributes.namespace {
        for (_, binding) in state.store.range(
            "rbac.authorization.k8s.io/rolebindings",
            Some(namespace),
            None,
        ) {
            if bound(binding)
                && binding_rules(state, binding, namespace)
                    .iter()
                    .any(|rule| rule_allows(rule, attributes))
            {
                return Ok(());
            }
        }
    }
    Err(forbidden(user, attributes))
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
