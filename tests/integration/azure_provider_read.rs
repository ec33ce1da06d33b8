//! The Azure provider against the Azure emulator, through `connect` and the `KeyVault` trait,
//! authenticated as a service principal with a client secret: secrets, keys, certificates,
//! versions, paging, push/delete, error mapping, throttling and token reuse.

use crate::azure_provider_world;

use std::time::Duration;

use akvsync_actors::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteKey, SecretBytes,
};
use akvsync_emulators::azure::{Access, Grant, Limits, SecretOptions};
use azure_provider_world::{APP_SECRET, TENANT, VAULT, World, timed};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn secret(name: &str) -> RemoteKey {
    RemoteKey::new(ObjectKind::Secret, name, None)
}

async fn connected(world: &World) -> akvsync::azure::AzureKeyVault {
    let store = world.secret_store(&world.sp_secret_yaml());
    world
        .connect(&store, None, &world.network())
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_secret_with_its_metadata_and_pinned_versions() {
    let world = World::start().await;
    let first = world
        .azure
        .set_secret(VAULT, "db", "old", SecretOptions::default())
        .unwrap();
    let options = SecretOptions {
        content_type: Some("text/plain".into()),
        tags: [("team".to_owned(), "a".to_owned())].into(),
        nbf: Some(1_700_000_000),
        exp: Some(4_000_000_000),
        ..Default::default()
    };
    let latest = world
        .azure
        .set_secret(VAULT, "db", "{\"user\":\"u\"}", options)
        .unwrap();
    let vault = connected(&world).await;
    assert_eq!(vault.vault_host(), format!("{VAULT}.vault.localhost"));

    let value = timed(vault.get(&secret("db"))).await.unwrap();
    assert_eq!(value.value.expose(), b"{\"user\":\"u\"}");
    assert_eq!(value.version.as_deref(), Some(latest.as_str()));
    assert_eq!(value.content_type.as_deref(), Some("text/plain"));
    assert_eq!(value.tags.get("team").map(String::as_str), Some("a"));
    assert!(value.enabled);
    assert_eq!(value.not_before, Some(1_700_000_000));
    assert_eq!(value.expires, Some(4_000_000_000));
    assert!(value.created.is_some() && value.updated.is_some());
    assert!(!value.managed);
    assert_eq!(format!("{:?}", value.value), "<redacted>");

    let old = timed(vault.get(&RemoteKey::new(
        ObjectKind::Secret,
        "db",
        Some(first.clone()),
    )))
    .await
    .unwrap();
    assert_eq!(old.value.expose(), b"old");
    assert_eq!(old.version, Some(first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_rsa_and_ec_keys_as_eso_json() {
    let world = World::start().await;
    let rsa_version = world
        .azure
        .create_key(
            VAULT,
            "rsa",
            &serde_json::json!({"kty": "RSA", "key_size": 2048}),
        )
        .unwrap();
    world
        .azure
        .create_key(
            VAULT,
            "ec",
            &serde_json::json!({"kty": "EC", "crv": "P-256"}),
        )
        .unwrap();
    let vault = connected(&world).await;

    let rsa = timed(vault.get(&RemoteKey::new(ObjectKind::Key, "rsa", None)))
        .await
        .unwrap();
    assert_eq!(rsa.version.as_deref(), Some(rsa_version.as_str()));
    let text = std::str::from_utf8(rsa.value.expose()).unwrap().to_owned();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["kty"], "RSA");
    assert!(
        json["kid"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/keys/rsa/{rsa_version}"))
    );
    assert_eq!(json["e"], "AQAB");
    let n = URL_SAFE_NO_PAD.decode(json["n"].as_str().unwrap()).unwrap();
    assert!(n.len() >= 256, "a 2048-bit modulus, got {} bytes", n.len());
    assert!(json.get("d").is_none() && json.get("p").is_none());
    let keys: Vec<&str> = ordered_keys(&text);
    assert_eq!(keys[..2], ["kid", "kty"], "ESO legacy order: {text}");
    let positions = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert!(positions("n") < positions("e"));

    let ec = timed(vault.get(&RemoteKey::new(ObjectKind::Key, "ec", None)))
        .await
        .unwrap();
    let text = std::str::from_utf8(ec.value.expose()).unwrap().to_owned();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["kty"], "EC");
    assert_eq!(json["crv"], "P-256");
    for coordinate in ["x", "y"] {
        let bytes = URL_SAFE_NO_PAD
            .decode(json[coordinate].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes.len(), 32);
    }
    // The point is on the curve: it parses as a P-256 public key.
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(json["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(json["y"].as_str().unwrap()).unwrap());
    p256::PublicKey::from_sec1_bytes(&point).expect("a P-256 point");
    let keys = ordered_keys(&text);
    assert_eq!(keys, ["kid", "kty", "key_ops", "crv", "x", "y"], "{text}");

    // useAzureSDK: true sorts the keys, as ESO's new SDK path does.
    let store = world.secret_store(&format!("{}useAzureSDK: true\n", world.sp_secret_yaml()));
    let sdk_vault = world.connect(&store, None, &world.network()).await.unwrap();
    let ec = timed(sdk_vault.get(&RemoteKey::new(ObjectKind::Key, "ec", None)))
        .await
        .unwrap();
    let text = std::str::from_utf8(ec.value.expose()).unwrap().to_owned();
    assert_eq!(
        ordered_keys(&text),
        ["crv", "key_ops", "kid", "kty", "x", "y"]
    );
}

/// Top-level keys of a flat JSON object in document order.
fn ordered_keys(json: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut rest = json;
    while let Some(index) = rest.find(['"', '[', ']']) {
        let c = rest.as_bytes()[index];
        if c == b'[' {
            depth += 1;
            rest = &rest[index + 1..];
            continue;
        }
        if c == b']' {
            depth -= 1;
            rest = &rest[index + 1..];
            continue;
        }
        let after = &rest[index + 1..];
        let end = after.find('"').unwrap();
        let token = &after[..end];
        let tail = &after[end + 1..];
        if depth == 0 && tail.starts_with(':') {
            keys.push(token);
        }
        rest = tail;
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_a_certificate_as_der() {
    let world = World::start().await;
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["www.example.com".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = format!("{}{}", certificate.pem(), key.serialize_pem());
    let version = world
        .azure
        .import_certificate(VAULT, "tls", &pem, None, Some("application/x-pem-file"))
        .unwrap();
    let vault = connected(&world).await;
    let value = timed(vault.get(&RemoteKey::new(ObjectKind::Certificate, "tls", None)))
        .await
        .unwrap();
    assert_eq!(value.version.as_deref(), Some(version.as_str()));
    assert_eq!(value.value.expose(), certificate.der().as_ref());
    let (_, parsed) = x509_parser::parse_x509_certificate(value.value.expose()).unwrap();
    let names = parsed.subject_alternative_name().unwrap().unwrap();
    assert!(format!("{:?}", names.value).contains("www.example.com"));
    let pinned = timed(vault.get(&RemoteKey::new(
        ObjectKind::Certificate,
        "tls",
        Some(version),
    )))
    .await
    .unwrap();
    assert_eq!(pinned.value, value.value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_secrets_page_by_page_with_continuations() {
    let world = World::start().await;
    for index in 0..30 {
        world
            .azure
            .set_secret(
                VAULT,
                &format!("s{index:02}"),
                "v",
                SecretOptions {
                    tags: [("n".to_owned(), index.to_string())].into(),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    world.azure.disable_secret(VAULT, "s07", None).unwrap();
    let vault = connected(&world).await;
    let mut names = Vec::new();
    let mut page = None;
    let mut pages = 0;
    loop {
        let (items, next) = timed(vault.list_page(ObjectKind::Secret, page))
            .await
            .unwrap();
        pages += 1;
        for item in items {
            if item.name == "s07" {
                assert!(!item.enabled);
            }
            assert_eq!(
                item.tags["n"],
                item.name[1..].parse::<u32>().unwrap().to_string()
            );
            names.push(item.name);
        }
        match next {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 2, "25 per page");
    names.sort();
    let expected: Vec<String> = (0..30).map(|i| format!("s{i:02}")).collect();
    assert_eq!(names, expected);

    let foreign = timed(vault.list_page(
        ObjectKind::Secret,
        Some("https://elsewhere.localhost/secrets?$skiptoken=x".into()),
    ))
    .await;
    assert!(matches!(foreign, Err(ProviderError::Invalid { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_provider_categories() {
    let world = World::start().await;
    world
        .azure
        .set_secret(VAULT, "off", "v", SecretOptions::default())
        .unwrap();
    world.azure.disable_secret(VAULT, "off", None).unwrap();
    let vault = connected(&world).await;

    assert_eq!(
        timed(vault.get(&secret("missing"))).await.unwrap_err(),
        ProviderError::NotFound {
            key: "secret/missing".into()
        }
    );
    let disabled = timed(vault.get(&secret("off"))).await.unwrap_err();
    let ProviderError::Forbidden { message } = &disabled else {
        panic!("expected Forbidden, got {disabled:?}");
    };
    assert!(message.contains("disabled"), "{message}");

    // Another principal without access to keys: RBAC denial with Key Vault's text.
    let reader = world
        .azure
        .add_principal(
            TENANT,
            akvsync_emulators::azure::PrincipalSpec::with_secret("reader", "r-secret"),
        )
        .unwrap();
    world
        .azure
        .grant(
            VAULT,
            &reader.client_id,
            Grant::default().with_secrets(Access::Read),
        )
        .unwrap();
    world
        .secret(
            azure_provider_world::NAMESPACE,
            "reader-creds",
            &[
                ("clientid", &reader.client_id),
                ("clientsecret", "r-secret"),
            ],
        )
        .await;
    let store = world.secret_store(&format!(
        "tenantId: {TENANT}\nauthSecretRef:\n  clientId:\n    name: reader-creds\n    key: clientid\n  clientSecret:\n    name: reader-creds\n    key: clientsecret\n"
    ));
    let reader_vault = world.connect(&store, None, &world.network()).await.unwrap();
    world
        .azure
        .create_key(
            VAULT,
            "k",
            &serde_json::json!({"kty": "EC", "crv": "P-256"}),
        )
        .unwrap();
    let denied = timed(reader_vault.get(&RemoteKey::new(ObjectKind::Key, "k", None)))
        .await
        .unwrap_err();
    assert!(
        matches!(denied, ProviderError::Forbidden { .. }),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_unauthorized_with_the_aadsts_text() {
    let world = World::start().await;
    world
        .secret(
            azure_provider_world::NAMESPACE,
            "azure-creds",
            &[
                ("clientid", &world.app.client_id),
                ("clientsecret", "wrong"),
            ],
        )
        .await;
    world
        .azure
        .set_secret(VAULT, "db", "v", SecretOptions::default())
        .unwrap();
    let vault = connected(&world).await;
    let error = timed(vault.get(&secret("db"))).await.unwrap_err();
    let ProviderError::Unauthorized { message } = &error else {
        panic!("expected Unauthorized, got {error:?}");
    };
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(
        !message.contains("wrong"),
        "the secret must not leak: {message}"
    );
    assert!(!error.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_call_is_reported_once_with_retry_after_and_not_retried_by_the_sdk() {
    let world = World::start().await;
    world
        .azure
        .set_secret(VAULT, "db", "v", SecretOptions::default())
        .unwrap();
    let vault = connected(&world).await;
    timed(vault.get(&secret("db"))).await.unwrap();
    world
        .azure
        .set_vault_limits(
            VAULT,
            Limits {
                reads: 1,
                writes: 1,
                window_ms: 60_000,
                retry_after: true,
            },
        )
        .unwrap();
    world.azure.reset_stats();
    timed(vault.get(&secret("db"))).await.unwrap();
    let throttled = timed(vault.get(&secret("db"))).await.unwrap_err();
    let ProviderError::Throttled { retry_after } = throttled else {
        panic!("expected Throttled, got {throttled:?}");
    };
    assert!(retry_after.is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(60)));
    assert_eq!(world.azure.stats().throttled(VAULT), 1, "no SDK retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_gets_use_one_entra_token() {
    let world = World::start().await;
    world
        .azure
        .set_secret(VAULT, "db", "v", SecretOptions::default())
        .unwrap();
    world.azure.reset_stats();
    let vault = connected(&world).await;
    for _ in 0..50 {
        timed(vault.get(&secret("db"))).await.unwrap();
    }
    // A second connection for the same store reuses the cached credential.
    let again = connected(&world).await;
    for _ in 0..10 {
        timed(again.get(&secret("db"))).await.unwrap();
    }
    assert_eq!(
        world
            .azure
            .stats()
            .token_requests_by(&world.app.client_id, 200),
        1
    );
    assert_eq!(world.azure.stats().gets(VAULT), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_and_deletes_secrets_keys_and_certificates() {
    let world = World::start().await;
    let vault = connected(&world).await;
    let push = |key: RemoteKey, value: Vec<u8>| PushRequest {
        key,
        value: SecretBytes::from(value),
        content_type: Some("text/plain".into()),
        tags: [("managed-by".to_owned(), "external-secrets".to_owned())].into(),
        expires: Some(4_000_000_000),
    };
    timed(vault.push(&push(secret("pushed"), b"hello".to_vec())))
        .await
        .unwrap();
    let value = timed(vault.get(&secret("pushed"))).await.unwrap();
    assert_eq!(value.value.expose(), b"hello");
    assert_eq!(value.expires, Some(4_000_000_000));
    assert_eq!(value.tags["managed-by"], "external-secrets");
    assert_eq!(value.content_type.as_deref(), Some("text/plain"));

    // A key, as a JWK with private parts (P-256 from a fixed scalar).
    let signing = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let bytes = signing.public_key().to_sec1_bytes();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
        "d": URL_SAFE_NO_PAD.encode(signing.to_bytes()),
    });
    let key = RemoteKey::new(ObjectKind::Key, "pushed-key", None);
    timed(vault.push(&push(key.clone(), jwk.to_string().into_bytes())))
        .await
        .unwrap();
    let read: serde_json::Value =
        serde_json::from_slice(timed(vault.get(&key)).await.unwrap().value.expose()).unwrap();
    assert_eq!(read["x"], jwk["x"]);
    assert!(read.get("d").is_none());

    // A certificate, as a password-less PKCS#12.
    let (pfx, leaf_der) = pkcs12();
    let certificate = RemoteKey::new(ObjectKind::Certificate, "pushed-cert", None);
    timed(vault.push(&push(certificate.clone(), pfx)))
        .await
        .unwrap();
    assert_eq!(
        timed(vault.get(&certificate)).await.unwrap().value.expose(),
        leaf_der.as_slice()
    );

    for key in [secret("pushed"), key, certificate] {
        timed(vault.delete(&key)).await.unwrap();
        assert!(matches!(
            timed(vault.get(&key)).await,
            Err(ProviderError::NotFound { .. })
        ));
    }
    assert!(matches!(
        timed(vault.delete(&secret("never"))).await,
        Err(ProviderError::NotFound { .. })
    ));
    let _ = APP_SECRET;
}

/// A password-less PKCS#12 with a self-signed leaf; returns (pfx, leaf DER).
fn pkcs12() -> (Vec<u8>, Vec<u8>) {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["pushed".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(
        vec![1u8],
        PrivateKey::from_der(&key.serialize_der()).unwrap(),
        [Certificate::from_der(certificate.der()).unwrap()],
    );
    store.add_entry("pushed", KeyStoreEntry::PrivateKeyChain(chain));
    (
        store.writer("").write().unwrap(),
        certificate.der().to_vec(),
    )
}
