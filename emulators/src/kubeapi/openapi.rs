//! OpenAPI v3 documents: what `kubectl apply` (client- and server-side) and `kubectl explain`
//! read. One document per group/version, with PATCH operations carrying
//! `x-kubernetes-group-version-kind` and `fieldValidation`, and a schema per kind.

use serde_json::{Map, Value, json};
use sha2::Digest;

use super::resources::{Behavior, Registry, ResourceType};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The `/openapi/v3` index: one entry per served group/version, with a content hash.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let path = group_version_path(&group, &version);
            let hash = hash(&document(registry, &group, &version));
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The content hash of a document (`hash=` in the v3 index, `ETag` of v2).
pub fn hash(document: &Value) -> String {
    hex::encode(sha2::Sha512::digest(document.to_string().as_bytes())).to_uppercase()
}

/// The schema name the apiserver uses for a kind (reverse-domain group, version, kind).
pub fn schema_name(resource: &ResourceType) -> String {
    match resource.behavior {
        Behavior::Custom => {
            let reversed: Vec<&str> = resource.group.split('.').rev().collect();
            format!(
                "{}.{}.{}",
                reversed.join("."),
                resource.version,
                resource.kind
            )
        }
        _ => {
            let package = match resource.group.as_str() {
                "" => "core".to_owned(),
                "apiextensions.k8s.io" => {
                    return format!(
                        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}",
                        resource.version, resource.kind
                    );
                }
                group => group.split('.').next().unwrap_or(group).to_owned(),
            };
            format!(
                "io.k8s.api.{package}.{}.{}",
                resource.version, resource.kind
            )
        }
    }
}

fn kind_schema(resource: &ResourceType) -> Value {
    let mut schema = resource
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(map) = schema.as_object_mut() {
        let properties = map.entry("properties").or_insert_with(|| json!({}));
        properties["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
        properties["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
        properties["metadata"] = json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "default": {}, "description": "Standard object's metadata."});
        map.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": resource.group, "version": resource.version, "kind": resource.kind}]),
        );
        if resource.schema.is_none() && resource.behavior != Behavior::Custom {
            map.remove("x-kubernetes-preserve-unknown-fields");
            map.insert(
                "description".into(),
                json!(format!(
                    "{} is a built-in {} object.",
                    resource.kind,
                    resource.api_version()
                )),
            );
        }
    }
    schema
}

fn object_meta_schema() -> Value {
    let string = |description: &str| json!({"type": "string", "description": description});
    json!({
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "properties": {
            "name": string("Name must be unique within a namespace."),
            "namespace": string("Namespace defines the space within which each name must be unique."),
            "generateName": string("GenerateName is an optional prefix used by the server to generate a unique name."),
            "uid": string("UID is the unique in time and space value for this object."),
            "resourceVersion": string("An opaque value that represents the internal version of this object."),
            "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."},
            "creationTimestamp": string("CreationTimestamp is a timestamp representing the server time when this object was created."),
            "deletionTimestamp": string("DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."),
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": "Map of string keys and values that can be used to organize and categorize objects."},
            "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": "Annotations is an unstructured key value map stored with a resource."},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge", "description": "Must be empty before the object is deleted from the registry."},
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map", "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
        },
    })
}

fn parameter(name: &str, location: &str) -> Value {
    json!({"name": name, "in": location, "required": location == "path", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(resource: &ResourceType, action: &str, patch_types: Option<&[&str]>) -> Value {
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(resource))});
    let mut operation = json!({
        "operationId": format!("{action}{}", resource.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "parameters": [parameter("dryRun", "query"), parameter("fieldManager", "query"), parameter("fieldValidation", "query")],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference.clone()}}}},
    });
    if let Some(patch_types) = patch_types {
        let content: Map<String, Value> = patch_types
            .iter()
            .map(|media| {
                (
                    (*media).to_owned(),
                    json!({"schema": {"$ref": format!("#/components/schemas/{PATCH}")}}),
                )
            })
            .collect();
        operation["requestBody"] = json!({"content": content, "required": true});
        if let Some(parameters) = operation["parameters"].as_array_mut() {
            parameters.push(parameter("force", "query"));
        }
    } else if action != "get" && action != "delete" {
        operation["requestBody"] =
            json!({"content": {"application/json": {"schema": reference}}, "required": true});
    }
    operation
}

/// The OpenAPI v3 document of one group/version.
pub fn document(registry: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(OBJECT_META.into(), object_meta_schema());
    schemas.insert(PATCH.into(), json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}));
    for resource in registry
        .all()
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
    {
        // Strategic merge is accepted for built-in kinds but not advertised: kubectl would then
        // compute it from these schemas, which do not describe built-in fields; without it,
        // kubectl uses its compiled-in types, as with a real server's full schemas.
        let patch_types = [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ];
        let prefix = format!("/{}", group_version_path(group, version));
        let scope = if resource.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let item = format!("{prefix}{scope}/{}/{{name}}", resource.plural);
        let collection = format!("{prefix}{scope}/{}", resource.plural);
        if resource.behavior == Behavior::Review {
            paths.insert(
                collection,
                json!({"post": operation(resource, "post", None)}),
            );
            schemas.insert(schema_name(resource), kind_schema(resource));
            continue;
        }
        paths.insert(collection, json!({"get": operation(resource, "list", None), "post": operation(resource, "post", None)}));
        paths.insert(
            item.clone(),
            json!({
                "get": operation(resource, "get", None),
                "put": operation(resource, "put", None),
                "patch": operation(resource, "patch", Some(&patch_types)),
                "delete": operation(resource, "delete", None),
            }),
        );
        if resource.status_subresource {
            paths.insert(
                format!("{item}/status"),
                json!({
                    "get": operation(resource, "get", None),
                    "put": operation(resource, "put", None),
                    "patch": operation(resource, "patch", Some(&patch_types)),
                }),
            );
        }
        schemas.insert(schema_name(resource), kind_schema(resource));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
