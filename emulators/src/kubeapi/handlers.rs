//! The verbs on stored objects: get, list, create, update, patch (four kinds), delete, with the
//! metadata rules (uid, resourceVersion, generation, finalizers, managedFields) of the real server.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::apply::{self, ApplyRequest, Schema};
use super::errors::{ApiError, FieldCause};
use super::events;
use super::gc;
use super::kinds;
use super::patch::{self, PatchError};
use super::resources::{Behavior, Registry, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{ObjectKey, Store};
use super::validation;

/// Everything behind the server's lock.
pub struct State {
    pub store: Store,
    pub registry: Registry,
}

/// Query parameters, first value of each.
pub type Query = HashMap<String, String>;

/// Who writes and how: the parts of a request every write needs.
pub struct WriteOptions {
    pub field_manager: Option<String>,
    pub dry_run: bool,
    pub strict: bool,
    pub user_agent: String,
}

impl WriteOptions {
    pub fn from_query(query: &Query, user_agent: &str) -> Self {
        Self {
            field_manager: query.get("fieldManager").cloned(),
            dry_run: query.get("dryRun").is_some_and(|value| value == "All"),
            strict: query
                .get("fieldValidation")
                .is_some_and(|value| value == "Strict"),
            user_agent: user_agent.to_owned(),
        }
    }

    /// The manager for non-apply writes: `fieldManager`, or the user agent's product name.
    fn update_manager(&self) -> String {
        self.field_manager.clone().unwrap_or_else(|| {
            let product = self.user_agent.split('/').next().unwrap_or_default().trim();
            if product.is_empty() {
                "unknown".into()
            } else {
                product.into()
            }
        })
    }
}

fn now_seconds() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The object as a client of `resource`'s version sees it.
pub fn to_view(resource: &ResourceType, stored: &Value) -> Value {
    if resource.behavior == Behavior::EventsV1 {
        return events::to_events_v1(stored);
    }
    let mut view = stored.clone();
    view["apiVersion"] = Value::String(resource.api_version());
    view["kind"] = Value::String(resource.kind.clone());
    view
}

fn from_view(resource: &ResourceType, registry: &Registry, object: &Value) -> Value {
    let mut stored = if resource.behavior == Behavior::EventsV1 {
        events::to_core(object)
    } else {
        object.clone()
    };
    let storage = registry.storage_type(&resource.storage);
    stored["apiVersion"] = Value::String(
        storage
            .as_ref()
            .map(|storage| storage.api_version())
            .unwrap_or_else(|| resource.api_version()),
    );
    stored["kind"] = Value::String(
        storage
            .map(|storage| storage.kind.clone())
            .unwrap_or_else(|| resource.kind.clone()),
    );
    stored
}

fn key(resource: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey::new(
        &resource.storage,
        if resource.namespaced {
            namespace.unwrap_or("")
        } else {
            ""
        },
        name,
    )
}

pub fn get(
    state: &State,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    state
        .store
        .get(&key(resource, namespace, name))
        .map(|stored| to_view(resource, stored))
        .ok_or_else(|| ApiError::not_found(&resource.qualified(), name))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    namespace: String,
    name: String,
}

/// One page of a list.
pub struct ListPage {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

pub fn list(
    state: &State,
    resource: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
) -> Result<ListPage, ApiError> {
    let labels =
        LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?;
    let fields = FieldSelector::parse(
        query.get("fieldSelector").map(String::as_str).unwrap_or(""),
        resource,
    )?;
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit > 0);
    let (snapshot, after) = match query.get("continue").filter(|token| !token.is_empty()) {
        Some(token) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<ContinueToken>(&bytes).ok())
                .ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
            if !state.store.is_resumable(decoded.rv) {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            (decoded.rv, Some((decoded.namespace, decoded.name)))
        }
        None => (state.store.resource_version(), None),
    };
    let namespace = if resource.namespaced { namespace } else { None };
    let mut items = Vec::new();
    let mut continue_token = None;
    let mut remaining = None;
    let pinned = match (fields.pinned_name(), namespace, after.is_none()) {
        (Some(name), Some(namespace), true) => Some(key(resource, Some(namespace), name)),
        _ => None,
    };
    let candidates: Box<dyn Iterator<Item = (&ObjectKey, &Value)> + '_> = match &pinned {
        Some(pinned) => Box::new(
            state
                .store
                .get(pinned)
                .map(|object| (pinned, object))
                .into_iter(),
        ),
        None => state
            .store
            .range_at(&resource.storage, namespace, after, snapshot),
    };
    // Objects are cloned only for the page; the rest is only counted (remainingItemCount), so
    // paging through N objects costs O(N) per page in comparisons, not in copies.
    let unfiltered = labels.is_empty() && fields.is_empty();
    let selects = |stored: &Value| {
        unfiltered || {
            let view = to_view(resource, stored);
            labels.matches(&view) && fields.matches(&view)
        }
    };
    let mut matching = candidates.filter(|(_, stored)| selects(stored));
    let mut last_key = None;
    for (object_key, stored) in matching.by_ref() {
        if limit.is_some_and(|limit| items.len() >= limit) {
            let rest = 1 + matching.count();
            remaining = Some(rest);
            if let Some(last_key) = last_key.take() {
                let ObjectKey {
                    namespace, name, ..
                } = last_key;
                let token = serde_json::to_vec(&ContinueToken {
                    rv: snapshot,
                    namespace,
                    name,
                })
                .unwrap_or_default();
                continue_token =
                    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token));
            }
            let _ = object_key;
            break;
        }
        last_key = Some(object_key.clone());
        items.push(to_view(resource, stored));
    }
    Ok(ListPage {
        items,
        resource_version: snapshot,
        continue_token,
        remaining,
    })
}

/// The `<Kind>List` body of a page.
pub fn list_body(resource: &ResourceType, page: ListPage) -> Value {
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = page.continue_token {
        metadata["continue"] = Value::String(token);
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": metadata, "items": page.items})
}

fn generate_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut random = rand::rng();
    (0..5)
        .map(|_| ALPHABET[random.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn check_namespace(
    state: &State,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    if !resource.namespaced {
        return Ok(());
    }
    let namespace = namespace.unwrap_or("");
    let Some(stored) = state
        .store
        .get(&ObjectKey::new("/namespaces", "", namespace))
    else {
        return Err(ApiError::not_found("namespaces", namespace));
    };
    if stored.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated", resource.qualified()),
        )
        .with_details(json!({"name": name, "kind": resource.plural, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace"}]})));
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding request body: {error}")))
}

fn check_identity(
    resource: &ResourceType,
    body: &Value,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the request body must be an object",
            resource.kind, resource.version, resource.kind
        )));
    }
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != resource.kind
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is of kind {kind}, but the request expects {}",
            resource.kind
        )));
    }
    if resource.namespaced
        && let (Some(found), Some(expected)) = (
            body.pointer("/metadata/namespace").and_then(Value::as_str),
            namespace,
        )
        && !found.is_empty()
        && found != expected
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if let (Some(found), Some(expected)) =
        (body.pointer("/metadata/name").and_then(Value::as_str), name)
        && found != expected
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({found}) does not match the name on the URL ({expected})"
        )));
    }
    Ok(())
}

/// How a write records field ownership.
enum Ownership {
    /// A non-apply write under this manager.
    Update(String),
    /// Server-side apply already computed managedFields.
    Applied,
}

struct Commit<'a> {
    subresource: &'a str,
    ownership: Ownership,
    options: &'a WriteOptions,
}

fn strip_managed_times(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
        if let Some(Value::Array(entries)) = metadata.get_mut("managedFields") {
            for entry in entries {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
    }
    copy
}

fn without(object: &Value, fields: &[&str]) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        for field in fields {
            map.remove(*field);
        }
    }
    copy
}

fn normalize_metadata(metadata: &mut Map<String, Value>) {
    for field in ["finalizers", "ownerReferences", "managedFields"] {
        if metadata
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
            || metadata.get(field).is_some_and(Value::is_null)
        {
            metadata.remove(field);
        }
    }
    for field in ["labels", "annotations"] {
        if metadata
            .get(field)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
            || metadata.get(field).is_some_and(Value::is_null)
        {
            metadata.remove(field);
        }
    }
}

/// Validates, stamps and stores `new` (storage form) under `object_key`; returns the stored object.
fn commit(
    state: &mut State,
    resource: &ResourceType,
    object_key: &ObjectKey,
    mut new: Value,
    commit: Commit<'_>,
) -> Result<Value, ApiError> {
    let old = state.store.get(object_key).cloned();
    let storage_type = state.registry.storage_type(&resource.storage);
    if let Some(storage_type) = &storage_type
        && resource.behavior != Behavior::EventsV1
    {
        new["apiVersion"] = Value::String(storage_type.api_version());
        new["kind"] = Value::String(storage_type.kind.clone());
    }
    if !new.get("metadata").is_some_and(Value::is_object) {
        new["metadata"] = json!({});
    }
    new["metadata"]["name"] = Value::String(object_key.name.clone());
    if resource.namespaced {
        new["metadata"]["namespace"] = Value::String(object_key.namespace.clone());
    } else if let Some(metadata) = new["metadata"].as_object_mut() {
        metadata.remove("namespace");
    }
    if commit.subresource == "status" {
        let Some(old) = &old else {
            return Err(ApiError::not_found(&resource.qualified(), &object_key.name));
        };
        let mut merged = old.clone();
        match new.get("status") {
            Some(status) => merged["status"] = status.clone(),
            None => {
                if let Some(map) = merged.as_object_mut() {
                    map.remove("status");
                }
            }
        }
        if let Ownership::Applied = commit.ownership {
            merged["metadata"]["managedFields"] = new["metadata"]
                .get("managedFields")
                .cloned()
                .unwrap_or(Value::Null);
        }
        new = merged;
    } else if resource.status_subresource && resource.behavior != Behavior::Namespace {
        match old.as_ref().and_then(|old| old.get("status")) {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    let metadata = new["metadata"]
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    metadata.remove("resourceVersion");
    metadata.remove("selfLink");
    match &old {
        Some(old) => {
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old["metadata"].get(field) {
                    Some(value) => metadata.insert(field.into(), value.clone()),
                    None => metadata.remove(field),
                };
            }
        }
        None => {
            metadata.insert(
                "uid".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
            metadata.insert("creationTimestamp".into(), Value::String(now_seconds()));
            metadata.remove("deletionTimestamp");
            metadata.remove("deletionGracePeriodSeconds");
            if resource.has_generation {
                metadata.insert("generation".into(), json!(1));
            } else {
                metadata.remove("generation");
            }
        }
    }
    normalize_metadata(metadata);
    let name = object_key.name.clone();
    if let Some(old) = &old
        && old.pointer("/metadata/deletionTimestamp").is_some()
    {
        let old_finalizers: Vec<&Value> = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|items| items.iter().collect())
            .unwrap_or_default();
        let added: Vec<String> = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter(|item| !old_finalizers.contains(item))
                    .filter_map(Value::as_str)
                    .map(|item| format!("{item:?}"))
                    .collect()
            })
            .unwrap_or_default();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                &resource.kind,
                &resource.group,
                &name,
                vec![FieldCause::forbidden(
                    "metadata.finalizers",
                    format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.join(", ")
                    ),
                )],
            ));
        }
    }
    if old.is_none()
        && let Some(cause) =
            validation::validate_name(&name, resource.behavior == Behavior::Namespace)
    {
        return Err(ApiError::invalid(
            &resource.kind,
            &resource.group,
            &name,
            vec![cause],
        ));
    }
    kinds::admit(resource, old.as_ref(), &mut new)?;
    if let Some(schema) = &resource.schema {
        let report = validation::validate_custom_resource(&mut new, schema);
        if !report.causes.is_empty() {
            return Err(ApiError::invalid(
                &resource.kind,
                &resource.group,
                &name,
                report.causes,
            ));
        }
        if commit.options.strict && !report.unknown_fields.is_empty() {
            let fields: Vec<String> = report
                .unknown_fields
                .iter()
                .map(|field| format!("unknown field \"{field}\""))
                .collect();
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                fields.join(", "),
                kind = resource.kind,
                version = resource.version
            )));
        }
    }
    if let Some(old) = &old
        && resource.has_generation
    {
        let ignored: &[&str] = if resource.status_subresource {
            &["metadata", "status"]
        } else {
            &["metadata"]
        };
        if without(old, ignored) != without(&new, ignored) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            new["metadata"]["generation"] = json!(generation + 1);
        }
    }
    let schema = Schema {
        root: resource.schema.as_ref(),
    };
    if let Ownership::Update(manager) = &commit.ownership {
        apply::record_update(
            old.as_ref(),
            &mut new,
            manager,
            &resource.api_version(),
            commit.subresource,
            schema,
        );
    }
    if let Some(metadata) = new["metadata"].as_object_mut() {
        normalize_metadata(metadata);
    }
    if let Some(old) = &old
        && strip_managed_times(old) == strip_managed_times(&new)
    {
        return Ok(old.clone());
    }
    if commit.options.dry_run {
        if let Some(old) = &old {
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        }
        return Ok(new);
    }
    let finalizers_done = new.pointer("/metadata/finalizers").is_none();
    if new.pointer("/metadata/deletionTimestamp").is_some() && finalizers_done {
        let removed = state.store.remove(object_key).unwrap_or(new);
        gc::after_removal(state, object_key, &removed);
        return Ok(removed);
    }
    let stored = state.store.put(object_key.clone(), new);
    after_store(state, resource, old.is_none(), &stored);
    Ok(stored)
}

fn after_store(state: &mut State, resource: &ResourceType, created: bool, stored: &Value) {
    match resource.behavior {
        Behavior::CustomResourceDefinition => {
            let name = stored
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Ok(types) = super::resources::types_from_crd(stored) {
                state.registry.set_crd_types(&name, types);
            }
        }
        Behavior::Namespace if created => {
            let namespace = stored
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let account_key = ObjectKey::new("/serviceaccounts", &namespace, "default");
            if state.store.get(&account_key).is_none() {
                let account = json!({
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now_seconds()},
                });
                state.store.put(account_key, account);
            }
        }
        _ => {}
    }
}

/// POST on a collection.
pub fn create(
    state: &mut State,
    resource: &ResourceType,
    namespace: Option<&str>,
    body: &[u8],
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let body = parse_body(body)?;
    check_identity(resource, &body, namespace, None)?;
    let mut object = from_view(resource, &state.registry, &body);
    let name = match object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
    {
        Some(name) => name.to_owned(),
        None => match object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .filter(|prefix| !prefix.is_empty())
        {
            Some(prefix) => format!("{prefix}{}", generate_suffix()),
            None => {
                return Err(ApiError::invalid(&resource.kind, &resource.group, "", vec![FieldCause::required("metadata.name")])
                    .with_message(format!("{} \"\" is invalid: metadata.name: Required value: name or generateName is required", resource.kind)));
            }
        },
    };
    object["metadata"]["name"] = Value::String(name.clone());
    check_namespace(state, resource, namespace, &name)?;
    let object_key = key(resource, namespace, &name);
    if state.store.get(&object_key).is_some() {
        return Err(ApiError::already_exists(&resource.qualified(), &name));
    }
    let manager = options.update_manager();
    let stored = commit(
        state,
        resource,
        &object_key,
        object,
        Commit {
            subresource: "",
            ownership: Ownership::Update(manager),
            options,
        },
    )?;
    Ok(to_view(resource, &stored))
}

/// PUT on an object or its status.
pub fn update(
    state: &mut State,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    subresource: &str,
    body: &[u8],
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let body = parse_body(body)?;
    check_identity(resource, &body, namespace, Some(name))?;
    let object_key = key(resource, namespace, name);
    let Some(old) = state.store.get(&object_key).cloned() else {
        return Err(ApiError::not_found(&resource.qualified(), name));
    };
    let requested_rv = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty());
    match requested_rv {
        Some(requested)
            if Some(requested)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str) =>
        {
            return Err(ApiError::conflict(&resource.qualified(), name));
        }
        None if resource.behavior == Behavior::Custom => {
            return Err(ApiError::invalid(
                &resource.kind,
                &resource.group,
                name,
                vec![FieldCause {
                    reason: "FieldValueInvalid",
                    field: "metadata.resourceVersion".into(),
                    detail: "Invalid value: 0x0: must be specified for an update".into(),
                }],
            ));
        }
        _ => {}
    }
    let object = from_view(resource, &state.registry, &body);
    let manager = options.update_manager();
    let stored = commit(
        state,
        resource,
        &object_key,
        object,
        Commit {
            subresource,
            ownership: Ownership::Update(manager),
            options,
        },
    )?;
    Ok(to_view(resource, &stored))
}

/// The PATCH content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// PATCH on an object or its status. Returns the object and whether the patch created it.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    state: &mut State,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    subresource: &str,
    patch_type: PatchType,
    body: &[u8],
    query: &Query,
    options: &WriteOptions,
) -> Result<(Value, bool), ApiError> {
    let force = query.get("force").map(String::as_str);
    if patch_type != PatchType::Apply && force.is_some() {
        return Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            vec![FieldCause::forbidden(
                "force",
                "may not be specified for non-apply patch",
            )],
        ));
    }
    if patch_type == PatchType::Strategic && resource.behavior == Behavior::Custom {
        return Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
        ));
    }
    let object_key = key(resource, namespace, name);
    let old = state.store.get(&object_key).cloned();
    if patch_type == PatchType::Apply {
        let Some(manager) = options
            .field_manager
            .clone()
            .filter(|manager| !manager.is_empty())
        else {
            return Err(ApiError::invalid("PatchOptions", "meta.k8s.io", "", vec![FieldCause::required("fieldManager")])
                .with_message("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
        };
        let config: Value = serde_yaml::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
        check_identity(resource, &config, namespace, Some(name))?;
        if config.get("apiVersion").is_none() || config.get("kind").is_none() {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an apply patch",
            ));
        }
        if old.is_none() {
            if subresource == "status" {
                return Err(ApiError::not_found(&resource.qualified(), name));
            }
            check_namespace(state, resource, namespace, name)?;
        }
        if let Some(requested) = config
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && old
                .as_ref()
                .and_then(|old| old.pointer("/metadata/resourceVersion"))
                .and_then(Value::as_str)
                != Some(requested)
        {
            return Err(ApiError::conflict(&resource.qualified(), name));
        }
        let live_view = old.as_ref().map(|old| to_view(resource, old));
        let request = ApplyRequest {
            manager: &manager,
            force: force == Some("true"),
            api_version: &resource.api_version(),
            subresource,
            schema: Schema {
                root: resource.schema.as_ref(),
            },
        };
        let mut config = config;
        if resource.behavior == Behavior::Secret {
            fold_string_data(&mut config);
        }
        let merged = apply::server_side_apply(live_view.as_ref(), &config, &request)?;
        let object = from_view(resource, &state.registry, &merged);
        let stored = commit(
            state,
            resource,
            &object_key,
            object,
            Commit {
                subresource,
                ownership: Ownership::Applied,
                options,
            },
        )?;
        return Ok((to_view(resource, &stored), old.is_none()));
    }
    let Some(old) = old else {
        return Err(ApiError::not_found(&resource.qualified(), name));
    };
    let mut document = to_view(resource, &old);
    let patch_error =
        |error: PatchError| ApiError::new(422, "Invalid", error.0).with_details(json!({}));
    match patch_type {
        PatchType::Json => {
            let operations = parse_body(body)?;
            patch::json_patch(&mut document, &operations).map_err(patch_error)?;
        }
        PatchType::Merge => patch::merge_patch(&mut document, &parse_body(body)?),
        PatchType::Strategic => {
            patch::strategic_merge_patch(&mut document, &parse_body(body)?).map_err(patch_error)?
        }
        PatchType::Apply => unreachable!("handled above"),
    }
    let requested = document
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    if requested.is_some()
        && requested
            != old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return Err(ApiError::conflict(&resource.qualified(), name));
    }
    let object = from_view(resource, &state.registry, &document);
    let manager = options.update_manager();
    let stored = commit(
        state,
        resource,
        &object_key,
        object,
        Commit {
            subresource,
            ownership: Ownership::Update(manager),
            options,
        },
    )?;
    Ok((to_view(resource, &stored), false))
}

/// Server-side apply of a Secret may carry `stringData`; fold it into `data` first so
/// ownership is recorded on the keys that are actually stored.
fn fold_string_data(config: &mut Value) {
    let Some(Value::Object(string_data)) = config
        .as_object_mut()
        .and_then(|object| object.remove("stringData"))
    else {
        return;
    };
    let data = config
        .as_object_mut()
        .map(|object| object.entry("data").or_insert_with(|| json!({})));
    if let Some(Value::Object(data)) = data {
        for (key, value) in string_data {
            if let Some(text) = value.as_str() {
                data.insert(
                    key,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
}

/// DELETE options from the body and query.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn parse(body: &[u8], query: &Query) -> Result<Self, ApiError> {
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            parse_body(body)?
        };
        let text = |pointer: &str| {
            body.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let orphan = body
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .map(|orphan| if orphan { "Orphan" } else { "Background" }.to_owned());
        Ok(Self {
            propagation: text("/propagationPolicy")
                .or(orphan)
                .or_else(|| query.get("propagationPolicy").cloned()),
            precondition_uid: text("/preconditions/uid"),
            precondition_resource_version: text("/preconditions/resourceVersion"),
            dry_run: query.get("dryRun").is_some_and(|value| value == "All")
                || body
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|values| values.iter().any(|value| value == "All")),
        })
    }
}

/// DELETE on an object: returns the terminating object, or a success Status once it is gone.
pub fn delete(
    state: &mut State,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let object_key = key(resource, namespace, name);
    let Some(stored) = state.store.get(&object_key).cloned() else {
        return Err(ApiError::not_found(&resource.qualified(), name));
    };
    let meta = |field: &str| {
        stored
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(uid) = &options.precondition_uid
        && Some(uid) != meta("uid").as_ref()
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                resource.qualified(),
                meta("uid").unwrap_or_default()
            ),
        ));
    }
    if let Some(resource_version) = &options.precondition_resource_version
        && Some(resource_version) != meta("resourceVersion").as_ref()
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {resource_version}, ResourceVersion in object meta: {}",
                resource.qualified(),
                meta("resourceVersion").unwrap_or_default()
            ),
        ));
    }
    if options.dry_run {
        return Ok(to_view(resource, &stored));
    }
    let mut object = stored.clone();
    let mut finalizers: Vec<Value> = object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let policy = options.propagation.as_deref().unwrap_or("Background");
    if !matches!(policy, "Background" | "Foreground" | "Orphan") {
        return Err(ApiError::invalid(
            "DeleteOptions",
            "meta.k8s.io",
            "",
            vec![FieldCause::not_supported(
                "propagationPolicy",
                &json!(policy),
                &[
                    json!("Foreground"),
                    json!("Background"),
                    json!("Orphan"),
                    json!("nil"),
                ],
            )],
        ));
    }
    if policy == "Orphan" {
        gc::orphan_dependents(state, meta("uid").as_deref().unwrap_or_default());
    }
    let has_dependents = meta("uid").is_some_and(|uid| !state.store.dependents_of(&uid).is_empty());
    if policy == "Foreground"
        && has_dependents
        && !finalizers.contains(&json!(gc::FOREGROUND_FINALIZER))
    {
        finalizers.push(json!(gc::FOREGROUND_FINALIZER));
    }
    if resource.behavior == Behavior::Namespace && !finalizers.contains(&json!("kubernetes")) {
        finalizers.push(json!("kubernetes"));
        object["status"] = json!({"phase": "Terminating"});
    }
    if finalizers.is_empty() {
        let removed = state.store.remove(&object_key).unwrap_or(stored);
        gc::after_removal(state, &object_key, &removed);
        let uid = removed
            .pointer("/metadata/uid")
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": resource.group, "kind": resource.plural, "uid": uid},
        }));
    }
    if object.pointer("/metadata/deletionTimestamp").is_none() {
        object["metadata"]["deletionTimestamp"] = Value::String(now_seconds());
        object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if resource.has_generation {
            let generation = object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
    }
    object["metadata"]["finalizers"] = Value::Array(finalizers);
    let changed = object != stored;
    let result = if changed {
        state.store.put(object_key.clone(), object)
    } else {
        stored
    };
    gc::sweep(state);
    Ok(state
        .store
        .get(&object_key)
        .map(|current| to_view(resource, current))
        .unwrap_or_else(|| to_view(resource, &result)))
}

/// DELETE on a collection: deletes every matching object, returns the list of what was deleted.
pub fn delete_collection(
    state: &mut State,
    resource: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let mut unlimited = query.clone();
    unlimited.remove("limit");
    unlimited.remove("continue");
    let page = list(state, resource, namespace, &unlimited)?;
    let mut deleted = Vec::new();
    for item in page.items {
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let item_namespace = item
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match delete(state, resource, item_namespace.as_deref(), &name, options) {
            Ok(_) => deleted.push(item),
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(
        json!({"kind": resource.list_kind(), "apiVersion": resource.api_version(), "metadata": {"resourceVersion": state.store.resource_version().to_string()}, "items": deleted}),
    )
}

/// Looks a type up, or 404 as the real server answers for an unknown resource path.
pub fn resolve(
    registry: &Registry,
    group: &str,
    version: &str,
    plural: &str,
) -> Result<Arc<ResourceType>, ApiError> {
    registry
        .find(group, version, plural)
        .ok_or_else(ApiError::page_not_found)
}
