//! Seeds each case's vault, prepares its namespace, waits for the operator and compares what it
//! produced with the case's checks.

use std::collections::BTreeMap;
use std::time::Duration;

use akvsync_emulators::azure::SecretOptions;
use akvsync_emulators::azure::pkcs;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};
use serde_json::{Value, json};

use super::model::*;
use crate::operator_world::{CLIENT_SECRET, TENANT, World, timed};

/// The case's slug: its namespace and its vault's name.
pub(crate) fn slug(index: usize) -> String {
    format!("parity-{index:03}")
}

/// One Key Vault REST call as the test's principal.
pub(crate) async fn vault_call(
    world: &World,
    method: reqwest::Method,
    vault: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let token = world
        .azure
        .mint_token(TENANT, &world.app.client_id, world.azure.resource(), 3600)
        .unwrap();
    let http = world.azure.http_client().unwrap();
    let url = format!("{}{path}?api-version=7.4", world.azure.vault_url(vault));
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = timed(request.send()).await.expect("vault call");
    let status = response.status().as_u16();
    let value = timed(response.json::<Value>()).await.unwrap_or(Value::Null);
    (status, value)
}

pub(crate) fn tag_json(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Fills the case's vault; returns the substitutions (`@vN@`, `@kid@`).
pub(crate) async fn seed(world: &World, vault: &str, objects: &[Object]) -> Vec<(String, String)> {
    let mut substitutions = Vec::new();
    for object in objects {
        match object {
            Object::Secret {
                name,
                value,
                options,
            } => {
                world
                    .azure
                    .set_secret(vault, name, value, options.clone())
                    .expect("seed secret");
            }
            Object::Versions(name, values) => {
                for (index, value) in values.iter().enumerate() {
                    let version = world
                        .azure
                        .set_secret(vault, name, value, SecretOptions::default())
                        .expect("seed version");
                    substitutions.push((format!("@v{index}@"), version));
                }
            }
            Object::ImportedKey { name, jwk, tags } => {
                let mut jwk: Value = serde_json::from_str(jwk).unwrap();
                jwk.as_object_mut().unwrap().remove("kid");
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::PUT,
                    vault,
                    &format!("keys/{name}"),
                    Some(json!({"key": jwk, "tags": tag_json(tags)})),
                )
                .await;
                assert_eq!(status, 200, "import key: {bundle}");
                let kid = bundle["key"]["kid"].as_str().unwrap().to_owned();
                substitutions.push(("@kid@".into(), kid));
            }
            Object::NewKey { name, tags } => {
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::POST,
                    vault,
                    &format!("keys/{name}/create"),
                    Some(json!({"kty": "EC", "crv": "P-256", "tags": tag_json(tags)})),
                )
                .await;
                assert_eq!(status, 200, "create key: {bundle}");
            }
            Object::Certificate {
                name,
                material,
                tags,
            } => {
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::POST,
                    vault,
                    &format!("certificates/{name}/import"),
                    Some(json!({
                        "value": pkcs::to_pem(material, true),
                        "policy": {"secret_props": {"contentType": "application/x-pem-file"}},
                        "tags": tag_json(tags),
                    })),
                )
                .await;
                assert_eq!(status, 200, "import certificate: {bundle}");
            }
        }
    }
    substitutions
}

pub(crate) fn substitute(text: &str, substitutions: &[(String, String)]) -> String {
    substitutions
        .iter()
        .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
}

pub(crate) const WRITE_OPERATIONS: [&str; 3] = ["SetSecret", "ImportKey", "ImportCertificate"];

/// A namespace with its credentials, stores `vault` and `sdk` on the case's vault, and the
/// PushSecret source.
pub(crate) async fn prepare_namespace(
    world: &World,
    namespace: &str,
    source: &[(String, Vec<u8>)],
) {
    world.namespace(namespace).await;
    let client_id = world.app.client_id.clone();
    world
        .secret(
            namespace,
            "azure-creds",
            &[("client-id", &client_id), ("client-secret", CLIENT_SECRET)],
        )
        .await;
    let url = world.azure.vault_url(namespace);
    for (name, extra) in [("vault", ""), ("sdk", "      useAzureSDK: true\n")] {
        world
            .apply_yaml(&format!(
                "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  provider:\n    azurekv:\n      vaultUrl: \"{url}\"\n      tenantId: \"{TENANT}\"\n      authSecretRef:\n        clientId:\n          name: azure-creds\n          key: client-id\n        clientSecret:\n          name: azure-creds\n          key: client-secret\n{extra}"
            ))
            .await;
    }
    if !source.is_empty() {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("source".into()),
                ..Default::default()
            },
            data: Some(
                source
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                    .collect(),
            ),
            ..Default::default()
        };
        timed(
            Api::<Secret>::namespaced(world.kube.client(), namespace).patch(
                "source",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&secret),
            ),
        )
        .await
        .expect("apply source secret");
    }
}

/// The Ready condition (status, message) of an object, if it has one.
pub(crate) async fn ready(
    world: &World,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let (group, version, plural) = match kind {
        "ExternalSecret" => ("external-secrets.io", "v1", "externalsecrets"),
        _ => ("external-secrets.io", "v1alpha1", "pushsecrets"),
    };
    let resource = kube::api::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(world.kube.client(), namespace, &resource);
    let object = timed(api.get_opt(name)).await.ok()??;
    let conditions = object.data.get("status")?.get("conditions")?.as_array()?;
    let condition = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((
        condition["status"].as_str()?.to_owned(),
        condition["reason"].as_str().unwrap_or_default().to_owned(),
        condition["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// The synced remote keys of PushSecret `push`, as JSON text.
pub(crate) async fn synced_push_secrets(world: &World, namespace: &str) -> String {
    let api: Api<akvsync_crds::PushSecret> = Api::namespaced(world.kube.client(), namespace);
    let push = timed(api.get("push")).await.expect("get PushSecret");
    serde_json::to_string(&push.status.and_then(|s| s.synced_push_secrets)).unwrap()
}

/// Waits until every object a case checks has a Ready condition, at most 60 s for all cases
/// together. (Resources sync only after every watch has listed, so none reports its store
/// missing on the way: `tests/integration/push_secret.rs` asserts that.)
pub(crate) async fn wait_until_settled(
    world: &World,
    pending: Vec<(String, &'static str, String)>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut pending = pending;
    while !pending.is_empty() && tokio::time::Instant::now() < deadline {
        let mut still = Vec::new();
        for (namespace, kind, name) in pending {
            let condition = ready(world, &namespace, kind, &name).await;
            if condition.is_none() {
                still.push((namespace, kind, name));
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Compares what the operator produced with the case's checks; returns the differences.
pub(crate) async fn verify(
    world: &World,
    case: &Case,
    namespace: &str,
    checks: &[Check],
    baseline: &BTreeMap<&'static str, u64>,
    substitutions: &[(String, String)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{} ({namespace}): {what}", case.eso));
    for check in checks {
        match check {
            Check::ExternalSecret(name, expect) => {
                let condition = ready(world, namespace, "ExternalSecret", name).await;
                let Some((status, reason, message)) = condition else {
                    problem(format!("{name}: no Ready condition"));
                    continue;
                };
                // ESO's condition reasons: SecretSynced, or SecretSyncedError on any failure.
                let want_reason = match expect {
                    Expect::Failed(_) => "SecretSyncedError",
                    _ => "SecretSynced",
                };
                if reason != want_reason {
                    problem(format!(
                        "{name}: expected reason {want_reason}, got {reason}"
                    ));
                }
                let actual = world
                    .k8s_secret(namespace, name)
                    .await
                    .and_then(|s| s.data)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect::<BTreeMap<_, _>>();
                let show = |data: &BTreeMap<String, Vec<u8>>| {
                    format!(
                        "{:?}",
                        data.iter()
                            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                            .collect::<BTreeMap<_, _>>()
                    )
                };
                match expect {
                    Expect::Failed(expected) => {
                        let expected = substitute(expected, substitutions);
                        if status != "False" || message != expected {
                            problem(format!(
                                "{name}: expected Ready=False {expected:?}, got Ready={status} {message:?}"
                            ));
                        }
                        // A first sync that fails writes no Secret.
                        if world.k8s_secret(namespace, name).await.is_some() {
                            problem(format!("{name}: a failed sync created its Secret"));
                        }
                        continue;
                    }
                    _ if status != "True" => {
                        problem(format!("{name}: expected Ready=True, got {message:?}"));
                        continue;
                    }
                    Expect::Data(pairs) => {
                        let expected: BTreeMap<String, Vec<u8>> = pairs
                            .iter()
                            .map(|(k, v)| {
                                let value = match String::from_utf8(v.clone()) {
                                    Ok(text) => substitute(&text, substitutions).into_bytes(),
                                    Err(_) => v.clone(),
                                };
                                (k.clone(), value)
                            })
                            .collect();
                        if actual != expected {
                            problem(format!(
                                "{name}: expected data {}, got {}",
                                show(&expected),
                                show(&actual)
                            ));
                        }
                    }
                    Expect::TagsJsonWithAttributes(tags) => {
                        let parsed: Option<BTreeMap<String, String>> = actual
                            .get("out")
                            .and_then(|v| serde_json::from_slice(v).ok());
                        let Some(mut parsed) = parsed else {
                            problem(format!(
                                "{name}: expected a JSON object, got {}",
                                show(&actual)
                            ));
                            continue;
                        };
                        let created = parsed.remove("attribute.created");
                        let updated = parsed.remove("attribute.updated");
                        // A certificate's validity is its expiry and not-before, as in ESO.
                        parsed.remove("attribute.expires");
                        parsed.remove("attribute.notBefore");
                        let expected: BTreeMap<String, String> = tags.iter().cloned().collect();
                        if parsed != expected || created.is_none() || updated.is_none() {
                            problem(format!(
                                "{name}: expected tags {expected:?} with attribute.created/updated, got {}",
                                show(&actual)
                            ));
                        }
                    }
                    Expect::DataWithAttributes(pairs, prefix) => {
                        let mut actual = actual.clone();
                        let created = actual.remove(&format!("{prefix}_attribute.created"));
                        let updated = actual.remove(&format!("{prefix}_attribute.updated"));
                        let expected: BTreeMap<String, Vec<u8>> = pairs.iter().cloned().collect();
                        if actual != expected || created.is_none() || updated.is_none() {
                            problem(format!(
                                "{name}: expected {} with {prefix}_attribute.created/updated, got {}",
                                show(&expected),
                                show(&actual)
                            ));
                        }
                    }
                }
            }
            Check::Push {
                ready: want_ready,
                message: expected,
                exact,
            } => {
                let Some((status, reason, message)) =
                    ready(world, namespace, "PushSecret", "push").await
                else {
                    problem("push: no Ready condition".into());
                    continue;
                };
                // ESO's PushSecret reasons: Synced, or Errored.
                let want_reason = if *want_ready { "Synced" } else { "Errored" };
                let status_ok = (status == "True") == *want_ready && reason == want_reason;
                let message_ok = if *exact {
                    message == *expected
                } else {
                    message.starts_with(expected.as_str())
                };
                if !status_ok || !message_ok {
                    problem(format!(
                        "push: expected Ready={want_ready} ({want_reason}) {expected:?}, got Ready={status} ({reason}) {message:?}"
                    ));
                }
            }
            Check::VaultSecret {
                name,
                value,
                tags,
                content_type,
                expires,
            } => {
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::GET,
                    namespace,
                    &format!("secrets/{name}"),
                    None,
                )
                .await;
                let tags_ok = tags
                    .iter()
                    .all(|(k, v)| bundle["tags"][k].as_str() == Some(v.as_str()));
                let content_type_ok =
                    content_type.is_none_or(|ct| bundle["contentType"].as_str() == Some(ct));
                let expires_ok =
                    expires.is_none_or(|exp| bundle["attributes"]["exp"].as_i64() == Some(exp));
                if status != 200
                    || bundle["value"].as_str() != Some(value.as_str())
                    || !tags_ok
                    || !content_type_ok
                    || !expires_ok
                {
                    problem(format!(
                        "vault secret {name}: expected {value:?} tags {tags:?} contentType {content_type:?} exp {expires:?}, got {status} {bundle}"
                    ));
                }
            }
            Check::VaultKeyTags(name, tags) => {
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::GET,
                    namespace,
                    &format!("keys/{name}"),
                    None,
                )
                .await;
                let tags_ok = tags
                    .iter()
                    .all(|(k, v)| bundle["tags"][k].as_str() == Some(v.as_str()));
                if status != 200 || !tags_ok {
                    problem(format!(
                        "vault key {name}: expected tags {tags:?}, got {status} {bundle}"
                    ));
                }
            }
            Check::VaultCertificate(name, der, tags) => {
                let (status, bundle) = vault_call(
                    world,
                    reqwest::Method::GET,
                    namespace,
                    &format!("certificates/{name}"),
                    None,
                )
                .await;
                use base64::Engine as _;
                let cer = base64::engine::general_purpose::STANDARD.encode(der);
                let tags_ok = tags
                    .iter()
                    .all(|(k, v)| bundle["tags"][k].as_str() == Some(v.as_str()));
                if status != 200 || bundle["cer"].as_str() != Some(cer.as_str()) || !tags_ok {
                    problem(format!(
                        "vault certificate {name}: expected the pushed leaf with tags {tags:?}, got {status} tags {}",
                        bundle["tags"]
                    ));
                }
            }
            Check::Writes(operation, expected) => {
                let count = world.azure.stats().operation(namespace, operation)
                    - baseline.get(operation).copied().unwrap_or_default();
                if count != *expected {
                    problem(format!(
                        "expected {expected} {operation} calls, got {count}"
                    ));
                }
            }
            Check::Gone(path) => {
                let (status, _) =
                    vault_call(world, reqwest::Method::GET, namespace, path, None).await;
                if status != 404 {
                    problem(format!(
                        "expected {path} to be deleted, GET answered {status}"
                    ));
                }
            }
        }
    }
    problems
}

pub(crate) fn objects_to_wait_for(
    namespace: &str,
    checks: &[Check],
) -> Vec<(String, &'static str, String)> {
    let mut out = Vec::new();
    for check in checks {
        match check {
            Check::ExternalSecret(name, _) => {
                out.push((namespace.to_owned(), "ExternalSecret", (*name).to_owned()))
            }
            Check::Push { .. } => out.push((namespace.to_owned(), "PushSecret", "push".into())),
            _ => {}
        }
    }
    out
}
