//! Every authentication method of the Azure provider against the Azure and Kubernetes
//! emulators, through SecretStores and (referent) ClusterSecretStores, plus ESO's
//! misconfiguration messages and token reuse (Entra calls and TokenRequests per lifetime).

use crate::azure_provider_world;

use std::time::Duration;

use akvsync::azure::{
    AzureKeyVault, AzureNetwork, ManagedIdentityEndpoint, MapEnv, NetworkSettings,
};
use akvsync_actors::remote::{KeyVault, ObjectKind, ProviderError, RemoteKey};
use akvsync_emulators::azure::{
    FEDERATED_AUDIENCE, FederatedCredential, Grant, ManagedIdentityKind, PrincipalInfo,
    PrincipalSpec, SecretOptions,
};
use azure_core::credentials::Secret;
use azure_provider_world::{NAMESPACE, TENANT, VAULT, World, timed};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

const VALUE: &str = "the-value";

async fn world_with_secret() -> World {
    let world = World::start().await;
    world
        .azure
        .set_secret(VAULT, "db", VALUE, SecretOptions::default())
        .unwrap();
    world
}

async fn reads(vault: &AzureKeyVault) {
    let value = timed(vault.get(&RemoteKey::new(ObjectKind::Secret, "db", None)))
        .await
        .expect("read the secret");
    assert_eq!(value.value.expose(), VALUE.as_bytes());
}

/// Reads the secret every 50 ms until a read succeeds with `done` true; every read that
/// succeeds must return the value. Bounded by the world's timeout.
async fn read_until(vault: &AzureKeyVault, mut done: impl FnMut() -> bool) {
    timed(async {
        loop {
            if let Ok(value) = vault
                .get(&RemoteKey::new(ObjectKind::Secret, "db", None))
                .await
            {
                assert_eq!(value.value.expose(), VALUE.as_bytes());
                if done() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

fn principal(world: &World, spec: PrincipalSpec) -> PrincipalInfo {
    let info = world.azure.add_principal(TENANT, spec).unwrap();
    world
        .azure
        .grant(VAULT, &info.client_id, Grant::all())
        .unwrap();
    info
}

fn federated(world: &World, name: &str, namespace: &str, account: &str) -> PrincipalInfo {
    principal(
        world,
        PrincipalSpec {
            name: name.into(),
            federated: vec![FederatedCredential {
                issuer: world.kube.issuer_url().to_owned(),
                subject: format!("system:serviceaccount:{namespace}:{account}"),
                audiences: vec![FEDERATED_AUDIENCE.to_owned()],
            }],
            ..Default::default()
        },
    )
}

async fn error_of(
    world: &World,
    store: &akvsync::azure::StoreSource,
    consumer: Option<&str>,
) -> String {
    world
        .connect(store, consumer, &world.network())
        .await
        .expect_err("connect must fail")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_principal_secret_through_a_secret_store_and_a_referent_cluster_store() {
    let world = world_with_secret().await;
    let network = world.network();
    reads(
        &world
            .connect(&world.secret_store(&world.sp_secret_yaml()), None, &network)
            .await
            .unwrap(),
    )
    .await;

    let cluster = world.cluster_store(&world.sp_secret_yaml());
    assert!(cluster.is_referent());
    reads(
        &world
            .connect(&cluster, Some(NAMESPACE), &network)
            .await
            .unwrap(),
    )
    .await;

    // Another tenant namespace with its own principal: its own credential.
    let other = principal(&world, PrincipalSpec::with_secret("other", "other-secret"));
    let missing = error_of(&world, &cluster, Some("tenant-b")).await;
    assert!(
        missing.starts_with(
            r#"cannot get Kubernetes secret "azure-creds" from namespace "tenant-b": "#
        ),
        "{missing}"
    );
    world
        .secret(
            "tenant-b",
            "azure-creds",
            &[
                ("clientid", &other.client_id),
                ("clientsecret", "other-secret"),
            ],
        )
        .await;
    world.azure.reset_stats();
    reads(
        &world
            .connect(&cluster, Some("tenant-b"), &network)
            .await
            .unwrap(),
    )
    .await;
    reads(
        &world
            .connect(&cluster, Some(NAMESPACE), &network)
            .await
            .unwrap(),
    )
    .await;
    let stats = world.azure.stats();
    assert_eq!(stats.token_requests_by(&other.client_id, 200), 1);
    assert_eq!(
        stats.by_principal(&other.client_id),
        1,
        "the get as the tenant-b principal"
    );

    // Without a consumer namespace a referent store cannot resolve its credentials.
    let unresolved = error_of(&world, &cluster, None).await;
    assert!(unresolved.contains("no consumer namespace"), "{unresolved}");
}

/// A CA-signed leaf for `client`, returned as (leaf PEM, CA PEM, key PEM, leaf DER, key DER).
fn client_certificate(ec: bool) -> (String, String, String, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = if ec {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    } else {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap()
    };
    let leaf = rcgen::CertificateParams::new(vec!["client".into()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (
        leaf.pem(),
        ca.pem(),
        key.serialize_pem(),
        leaf.der().to_vec(),
        key.serialize_der(),
    )
}

async fn connect_fresh(
    world: &World,
    store: &akvsync::azure::StoreSource,
    consumer: Option<&str>,
    network: &AzureNetwork,
) -> AzureKeyVault {
    timed(akvsync::azure::connect(
        store,
        consumer,
        world.kube.client(),
        network,
        &akvsync::azure::CredentialCache::new(),
    ))
    .await
    .expect("connect")
}

fn pkcs12(leaf_der: &[u8], key_der: &[u8]) -> Vec<u8> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(
        vec![1u8],
        PrivateKey::from_der(key_der).unwrap(),
        [Certificate::from_der(leaf_der).unwrap()],
    );
    store.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
    store.writer("").write().unwrap()
}

fn certificate_yaml(secret: &str, namespace: Option<&str>) -> String {
    let namespace = namespace
        .map(|ns| format!("    namespace: {ns}\n"))
        .unwrap_or_default();
    format!(
        "tenantId: {TENANT}\nauthSecretRef:\n  clientId:\n    name: {secret}\n    key: clientid\n{namespace}  clientCertificate:\n    name: {secret}\n    key: tls.pem\n{namespace}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_principal_certificate_as_pem_chain_and_pkcs12() {
    let world = world_with_secret().await;
    let network = world.network();
    let (leaf, ca, key, leaf_der, key_der) = client_certificate(false);
    let (ec_leaf, ec_ca, ec_key, _, _) = client_certificate(true);
    let app = principal(
        &world,
        PrincipalSpec {
            name: "cert-app".into(),
            certificates: vec![leaf.clone(), ec_leaf.clone()],
            ..Default::default()
        },
    );
    // Leaf after its CA: ESO's "last certificate wins" would sign with the CA's thumbprint.
    world
        .secret(
            NAMESPACE,
            "cert-pem",
            &[
                ("clientid", &app.client_id),
                ("tls.pem", &format!("{ca}{leaf}{key}")),
            ],
        )
        .await;
    world
        .secret_bytes(
            NAMESPACE,
            "cert-p12",
            &[
                ("clientid", app.client_id.clone().into_bytes()),
                ("tls.pem", pkcs12(&leaf_der, &key_der)),
            ],
        )
        .await;
    world
        .secret(
            NAMESPACE,
            "cert-ec",
            &[
                ("clientid", &app.client_id),
                ("tls.pem", &format!("{ec_leaf}{ec_ca}{ec_key}")),
            ],
        )
        .await;

    world.azure.reset_stats();
    for secret in ["cert-pem", "cert-p12", "cert-ec"] {
        // A fresh credential cache each time, so every format is parsed and used.
        let store = world.secret_store(&certificate_yaml(secret, None));
        reads(&connect_fresh(&world, &store, None, &network).await).await;
        let cluster = world.cluster_store(&certificate_yaml(secret, Some(NAMESPACE)));
        assert!(!cluster.is_referent());
        reads(&connect_fresh(&world, &cluster, Some("other"), &network).await).await;
    }
    assert_eq!(
        world.azure.stats().token_requests_by(&app.client_id, 200),
        6
    );
    assert_eq!(
        world.azure.stats().token_requests_by(&app.client_id, 401),
        0
    );

    // A certificate the application does not know: Entra's AADSTS700027.
    let (stranger, _, stranger_key, _, _) = client_certificate(false);
    world
        .secret(
            NAMESPACE,
            "cert-unknown",
            &[
                ("clientid", &app.client_id),
                ("tls.pem", &format!("{stranger}{stranger_key}")),
            ],
        )
        .await;
    let store = world.secret_store(&certificate_yaml("cert-unknown", None));
    let vault = world.connect(&store, None, &network).await.unwrap();
    let error = timed(vault.get(&RemoteKey::new(ObjectKind::Secret, "db", None)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Unauthorized { message } if message.contains("AADSTS700027")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_system_and_user_assigned() {
    let world = world_with_secret().await;
    let system = principal(
        &world,
        PrincipalSpec {
            name: "node".into(),
            managed_identity: Some(ManagedIdentityKind::System),
            ..Default::default()
        },
    );
    let user = principal(
        &world,
        PrincipalSpec {
            name: "user-mi".into(),
            managed_identity: Some(ManagedIdentityKind::User),
            ..Default::default()
        },
    );
    // The operator flag form.
    let flag = AzureNetwork::new(NetworkSettings {
        extra_ca_pem: Some(world.azure.ca_pem().to_owned()),
        authority_host: Some(world.azure.authority_host()),
        managed_identity_endpoint: Some(ManagedIdentityEndpoint {
            url: world.azure.identity_endpoint(),
            header: Secret::new(world.azure.identity_header().to_owned()),
        }),
        env: std::sync::Arc::new(MapEnv::default()),
    })
    .unwrap();
    // The App Service environment form.
    let env = world.network_with(MapEnv::new([
        (
            "IDENTITY_ENDPOINT",
            world.azure.identity_endpoint().as_str(),
        ),
        ("IDENTITY_HEADER", world.azure.identity_header()),
    ]));
    world.azure.reset_stats();
    let system_yaml = "authType: ManagedIdentity\n";
    let user_yaml = format!(
        "authType: ManagedIdentity\nidentityId: {}\n",
        user.client_id
    );
    for network in [&flag, &env] {
        let store = world.secret_store(system_yaml);
        reads(&world.connect(&store, None, network).await.unwrap()).await;
        let store = world.cluster_store(&user_yaml);
        reads(
            &world
                .connect(&store, Some(NAMESPACE), network)
                .await
                .unwrap(),
        )
        .await;
    }
    let stats = world.azure.stats();
    assert!(stats.by_principal(&system.client_id) > 0);
    assert!(stats.by_principal(&user.client_id) > 0);

    // An identity not assigned to this host.
    let store = world.secret_store(
        "authType: ManagedIdentity\nidentityId: 00000000-0000-0000-0000-000000000000\n",
    );
    let vault = world.connect(&store, None, &flag).await.unwrap();
    let error = timed(vault.get(&RemoteKey::new(ObjectKind::Secret, "db", None)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Unauthorized { message } if message.contains("has not been assigned")),
        "{error:?}"
    );
}

async fn service_account_token(world: &World, namespace: &str, account: &str) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![FEDERATED_AUDIENCE.to_owned()],
            ..Default::default()
        },
        ..Default::default()
    };
    timed(
        Api::<ServiceAccount>::namespaced(world.kube.client(), namespace).create_token_request(
            account,
            &PostParams::default(),
            &request,
        ),
    )
    .await
    .unwrap()
    .status
    .unwrap()
    .token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_mounted_token_file_is_reread_when_it_rotates() {
    let world = world_with_secret().await;
    world.service_account(NAMESPACE, "operator", &[]).await;
    let app = federated(&world, "operator-app", NAMESPACE, "operator");
    // Short tokens: refreshed (and so the file read again) from half their lifetime on.
    world.azure.set_token_lifetime(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(
        &file,
        service_account_token(&world, NAMESPACE, "operator").await,
    )
    .unwrap();
    let network = world.network_with(MapEnv::new([
        ("AZURE_CLIENT_ID", app.client_id.as_str()),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
    ]));
    let store = world.secret_store("authType: WorkloadIdentity\n");
    let vault = world.connect(&store, None, &network).await.unwrap();
    let stats = || {
        let stats = world.azure.stats();
        (
            stats.token_requests_by(&app.client_id, 200),
            stats.token_requests_by(&app.client_id, 400),
        )
    };
    reads(&vault).await;
    assert_eq!(stats(), (1, 0));

    // A rotated-out file: the refresh fails at Entra (the file was re-read), and callers keep
    // getting the still-valid token.
    std::fs::write(&file, "not-a-token").unwrap();
    timed(async {
        while stats().1 == 0 {
            reads(&vault).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let failed = stats().1;
    assert_eq!(stats().0, 1);

    // The new token is read on the next refresh, one backoff step later.
    std::fs::write(
        &file,
        service_account_token(&world, NAMESPACE, "operator").await,
    )
    .unwrap();
    read_until(&vault, || stats().0 == 2).await;
    assert_eq!(stats(), (2, failed));

    // Through a ClusterSecretStore; with no valid token at all the failure is Unauthorized.
    std::fs::write(&file, "not-a-token").unwrap();
    let cluster = world.cluster_store("authType: WorkloadIdentity\n");
    let cluster_vault = world
        .connect(&cluster, Some("other"), &network)
        .await
        .unwrap();
    let error = timed(cluster_vault.get(&RemoteKey::new(ObjectKind::Secret, "db", None)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Unauthorized { .. }),
        "{error:?}"
    );
    std::fs::write(
        &file,
        service_account_token(&world, NAMESPACE, "operator").await,
    )
    .unwrap();
    // After the backoff step that follows the failure.
    read_until(&cluster_vault, || true).await;

    // Missing environment and an unreadable file fail at connect, with ESO's messages.
    let bare = world.network();
    assert_eq!(
        world
            .connect(&store, None, &bare)
            .await
            .unwrap_err()
            .to_string(),
        "missing environment variables. AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE must be set"
    );
    let missing_file = dir.path().join("absent");
    let network = world.network_with(MapEnv::new([
        ("AZURE_CLIENT_ID", app.client_id.as_str()),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_FEDERATED_TOKEN_FILE", missing_file.to_str().unwrap()),
    ]));
    let message = world
        .connect(&store, None, &network)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "unable to read token file {}: ",
            missing_file.display()
        )),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_referenced_service_account_with_one_token_request_per_lifetime() {
    let world = world_with_secret().await;
    let app = federated(&world, "wi-app", NAMESPACE, "workload");
    world
        .service_account(
            NAMESPACE,
            "workload",
            &[
                ("azure.workload.identity/client-id", &app.client_id),
                ("azure.workload.identity/tenant-id", TENANT),
            ],
        )
        .await;
    let network = world.network();
    // spec.tenantId agrees with the annotation: accepted (ESO's legacy path would refuse).
    let yaml = format!(
        "authType: WorkloadIdentity\ntenantId: {TENANT}\nserviceAccountRef:\n  name: workload\n  audiences: [extra-audience]\n"
    );
    let store = world.secret_store(&yaml);
    world.azure.reset_stats();
    let before = world
        .kube
        .stats()
        .requests_for("create", "serviceaccounts/token");
    let vault = world.connect(&store, None, &network).await.unwrap();
    for _ in 0..40 {
        reads(&vault).await;
    }
    let again = world.connect(&store, None, &network).await.unwrap();
    for _ in 0..10 {
        reads(&again).await;
    }
    let token_requests = world
        .kube
        .stats()
        .requests_for("create", "serviceaccounts/token")
        - before;
    assert_eq!(token_requests, 1, "one TokenRequest per token lifetime");
    assert_eq!(
        world.azure.stats().token_requests_by(&app.client_id, 200),
        1
    );

    // Referent ClusterSecretStore: the ServiceAccount in each consumer's namespace.
    let other_app = federated(&world, "wi-other", "tenant-b", "workload");
    world
        .service_account(
            "tenant-b",
            "workload",
            &[("azure.workload.identity/client-id", &other_app.client_id)],
        )
        .await;
    let cluster = world.cluster_store(&yaml);
    assert!(cluster.is_referent());
    reads(
        &world
            .connect(&cluster, Some(NAMESPACE), &network)
            .await
            .unwrap(),
    )
    .await;
    reads(
        &world
            .connect(&cluster, Some("tenant-b"), &network)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        world
            .azure
            .stats()
            .token_requests_by(&other_app.client_id, 200),
        1
    );

    // Disagreeing tenants and a missing client id are clear errors.
    world
        .service_account(
            NAMESPACE,
            "conflict",
            &[
                ("azure.workload.identity/client-id", &app.client_id),
                ("azure.workload.identity/tenant-id", "tenant-z"),
            ],
        )
        .await;
    let conflict = world.secret_store(&format!(
        "authType: WorkloadIdentity\ntenantId: {TENANT}\nserviceAccountRef:\n  name: conflict\n"
    ));
    let message = error_of(&world, &conflict, None).await;
    assert!(
        message.starts_with("multiple tenantID found and they differ"),
        "{message}"
    );
    assert!(
        message.contains("tenant-z") && message.contains(TENANT),
        "{message}"
    );

    world.service_account(NAMESPACE, "bare", &[]).await;
    let bare = world.secret_store(&format!(
        "authType: WorkloadIdentity\ntenantId: {TENANT}\nserviceAccountRef:\n  name: bare\n"
    ));
    assert_eq!(
        error_of(&world, &bare, None).await,
        "missing clientID: either serviceAccountRef or service account annotation 'azure.workload.identity/client-id' is missing"
    );
    let absent =
        world.secret_store("authType: WorkloadIdentity\nserviceAccountRef:\n  name: nobody\n");
    let message = error_of(&world, &absent, None).await;
    assert!(
        message.starts_with(
            r#"cannot get Kubernetes service account "nobody" from namespace "team": "#
        ),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfigurations_give_esos_messages() {
    let world = World::start().await;
    world
        .secret(NAMESPACE, "only-id", &[("clientid", "x")])
        .await;
    world
        .secret(
            NAMESPACE,
            "bad-cert",
            &[
                ("clientid", "x"),
                (
                    "tls.pem",
                    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                ),
            ],
        )
        .await;
    let ns_rule = "namespace should either be empty or match the namespace of the SecretStore for a namespaced SecretStore";
    let cases: Vec<(&str, String, String)> = vec![
        ("no tenant", "authSecretRef:\n  clientId: {name: azure-creds, key: clientid}\n  clientSecret: {name: azure-creds, key: clientsecret}\n".into(), "missing tenantID in store config".into()),
        ("no secretRef", format!("tenantId: {TENANT}\n"), "missing secretRef in provider config".into()),
        ("no clientId", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientSecret: {{name: azure-creds, key: clientsecret}}\n"), "missing accessKeyID/secretAccessKey in store config".into()),
        ("no secret nor certificate", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: azure-creds, key: clientid}}\n"), "missing accessKeyID/secretAccessKey in store config".into()),
        ("both", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: azure-creds, key: clientid}}\n  clientSecret: {{name: azure-creds, key: clientsecret}}\n  clientCertificate: {{name: azure-creds, key: clientsecret}}\n"), "both clientSecret and clientCredentials set".into()),
        ("missing Secret", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: nope, key: clientid}}\n  clientSecret: {{name: nope, key: clientsecret}}\n"), r#"cannot get Kubernetes secret "nope" from namespace "team": secrets "nope" not found"#.into()),
        ("missing key", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: only-id, key: clientid}}\n  clientSecret: {{name: only-id, key: clientsecret}}\n"), r#"cannot find secret data for key: "clientsecret""#.into()),
        ("new SDK prefix", format!("tenantId: {TENANT}\nuseAzureSDK: true\nauthSecretRef:\n  clientId: {{name: only-id, key: clientid}}\n  clientSecret: {{name: only-id, key: clientsecret}}\n"), r#"failed to get clientSecret: cannot find secret data for key: "clientsecret""#.into()),
        ("certificate without certificate", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: bad-cert, key: clientid}}\n  clientCertificate: {{name: bad-cert, key: tls.pem}}\n"), "failed to get oauth token from certificate auth: failed to decode certificate: no certificate found in PEM file".into()),
        ("foreign clientId namespace", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: azure-creds, key: clientid, namespace: other}}\n  clientSecret: {{name: azure-creds, key: clientsecret}}\n"), format!("invalid AuthSecretRef.ClientID: {ns_rule}")),
        ("foreign clientSecret namespace", format!("tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: azure-creds, key: clientid}}\n  clientSecret: {{name: azure-creds, key: clientsecret, namespace: other}}\n"), format!("invalid AuthSecretRef.ClientSecret: {ns_rule}")),
        ("foreign service account", "authType: WorkloadIdentity\nserviceAccountRef: {name: sa, namespace: other}\n".into(), format!("invalid ServiceAccountRef: {ns_rule}")),
        ("custom cloud without SDK", format!("tenantId: {TENANT}\ncustomCloudConfig: {{activeDirectoryEndpoint: 'https://login.example'}}\n"), "CustomCloudConfig requires UseAzureSDK to be set to true - the legacy SDK does not support custom clouds".into()),
        ("custom cloud without authority", format!("tenantId: {TENANT}\nuseAzureSDK: true\ncustomCloudConfig: {{activeDirectoryEndpoint: ''}}\n"), "activeDirectoryEndpoint is required in CustomCloudConfig".into()),
        ("azure stack", format!("tenantId: {TENANT}\nenvironmentType: AzureStackCloud\n"), "CustomCloudConfig is required when EnvironmentType is AzureStackCloud".into()),
        ("german cloud on the new SDK", format!("tenantId: {TENANT}\nuseAzureSDK: true\nenvironmentType: GermanCloud\n"), "Azure Germany (Microsoft Cloud Deutschland) was discontinued on October 29, 2021. Please use AzureStackCloud with custom configuration or migrate to public cloud regions".into()),
    ];
    for (name, yaml, expected) in cases {
        let store = world.secret_store(&yaml);
        let error = world
            .connect(&store, None, &world.network())
            .await
            .expect_err(name);
        assert_eq!(error.to_string(), expected, "{name}");
        assert!(!error.is_transient(), "{name}");
    }
    let error = world
        .connect(
            &world.secret_store("authType: ManagedIdentity\nenvironmentType: AzureStackCloud\n"),
            None,
            &world.network(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "ValidationFailed");
    let error = world
        .connect(
            &world.secret_store(&format!("tenantId: {TENANT}\n")),
            None,
            &world.network(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "InvalidProviderConfig");

    // A ClusterSecretStore may name any namespace, and a referent one needs a consumer.
    let cluster = world.cluster_store(&format!(
        "tenantId: {TENANT}\nauthSecretRef:\n  clientId: {{name: azure-creds, key: clientid, namespace: {NAMESPACE}}}\n  clientSecret: {{name: azure-creds, key: clientsecret, namespace: {NAMESPACE}}}\n"
    ));
    assert!(!cluster.is_referent());
    assert!(
        world
            .connect(&cluster, None, &world.network())
            .await
            .is_ok()
    );
}
