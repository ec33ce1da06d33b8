//! Secrets as ESO writes them, built from ESO's source (not from akvsync's output).

use k8s_openapi::api::core::v1::Secret;

/// Go's `%+v` of a `map[string][]byte`, as ESO hashes a Secret's data.
fn go_map_of_bytes(data: &[(&str, &str)]) -> String {
    let mut data = data.to_vec();
    data.sort();
    let entries: Vec<String> = data
        .iter()
        .map(|(key, value)| {
            let bytes: Vec<String> = value.bytes().map(|byte| byte.to_string()).collect();
            format!("{key}:[{}]", bytes.join(" "))
        })
        .collect();
    format!("map[{}]", entries.join(" "))
}

fn sha3_224_hex(text: &str) -> String {
    use sha3::Digest;
    hex::encode(sha3::Sha3_224::digest(text.as_bytes()))
}

/// The Secret ESO's externalsecret controller writes for an ExternalSecret `namespace/name`
/// (uid `owner_uid`) with creationPolicy Owner: its managed label, `created-by` =
/// ObjectHash("<namespace>/<name>"), `data-hash` = ObjectHash(data) (sha3-224 of Go's `%+v`),
/// and the ExternalSecret as controller owner.
pub fn eso_written_secret(
    namespace: &str,
    name: &str,
    owner_uid: &str,
    data: &[(&str, &str)],
) -> Secret {
    use base64::Engine as _;
    let encoded: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(key, value)| {
            let value = base64::engine::general_purpose::STANDARD.encode(value);
            ((*key).to_owned(), serde_json::Value::String(value))
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "reconcile.external-secrets.io/managed": "true",
                "reconcile.external-secrets.io/created-by": sha3_224_hex(&format!("{namespace}/{name}")),
            },
            "annotations": {
                "reconcile.external-secrets.io/data-hash": sha3_224_hex(&go_map_of_bytes(data)),
            },
            "ownerReferences": [{
                "apiVersion": "external-secrets.io/v1",
                "kind": "ExternalSecret",
                "name": name,
                "uid": owner_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "type": "Opaque",
        "data": encoded,
    }))
    .expect("a Secret")
}
