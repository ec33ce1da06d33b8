//! Credentials through the whole operator: a fixed credential Secret heals its store within one
//! watch event, and many ExternalSecrets refreshing through one store share one token.

use crate::operator_world;

use operator_world::{CLIENT_SECRET, NAMESPACE, TENANT, World, eventually, external_secret_yaml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixing_the_credential_secret_heals_the_store() {
    let mut world = World::new().await;
    world.set_secret("v", "value");
    let client_id = world.app.client_id.clone();
    world
        .secret(
            NAMESPACE,
            "azure-creds",
            &[
                ("client-id", &client_id),
                ("client-secret", "not-the-secret"),
            ],
        )
        .await;
    world.start_operator().await;
    let message = world.wait_for_store(NAMESPACE, "vault", "False").await;
    assert!(message.contains("AADSTS7000215"), "{message}");
    world
        .apply_yaml(&external_secret_yaml(NAMESPACE, "es", "1s", &[("v", "v")]))
        .await;
    world.wait_for_ready(NAMESPACE, "es", "False").await;

    world
        .secret(
            NAMESPACE,
            "azure-creds",
            &[("client-id", &client_id), ("client-secret", CLIENT_SECRET)],
        )
        .await;
    assert_eq!(
        world.wait_for_store(NAMESPACE, "vault", "True").await,
        "store validated"
    );
    world.wait_for_value(NAMESPACE, "es", "v", "value").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_refreshing_external_secrets_share_one_token() {
    let mut world = World::new().await;
    for index in 0..10 {
        world.set_secret(&format!("s{index}"), "value");
    }
    world.start_operator().await;
    for index in 0..10 {
        let name = format!("es{index}");
        world
            .apply_yaml(&external_secret_yaml(
                NAMESPACE,
                &name,
                "1s",
                &[("v", &format!("s{index}"))],
            ))
            .await;
    }
    for index in 0..10 {
        world
            .wait_for_value(NAMESPACE, &format!("es{index}"), "v", "value")
            .await;
    }
    // Three more refresh cycles of all ten.
    let reads = world.vault_reads();
    eventually("three refresh cycles", || async {
        (world.vault_reads() >= reads + 3).then_some(())
    })
    .await;
    assert_eq!(
        world.azure.stats().token_requests(TENANT),
        1,
        "one token for the store, reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referenced_service_account_authenticates_with_one_token_request() {
    use akvsync_emulators::azure::{FEDERATED_AUDIENCE, FederatedCredential, Grant, PrincipalSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;

    let mut world = World::new().await;
    let jwks: serde_json::Value = serde_json::from_str(&world.kube.jwks_json()).unwrap();
    world.azure.trust_issuer(world.kube.issuer_url(), jwks);
    let spec = PrincipalSpec {
        name: "workload-app".into(),
        federated: vec![FederatedCredential {
            issuer: world.kube.issuer_url().to_owned(),
            subject: format!("system:serviceaccount:{NAMESPACE}:workload"),
            audiences: vec![FEDERATED_AUDIENCE.to_owned()],
        }],
        ..Default::default()
    };
    let app = world.azure.add_principal(TENANT, spec).unwrap();
    world
        .azure
        .grant(operator_world::VAULT, &app.client_id, Grant::all())
        .unwrap();
    let account: ServiceAccount = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "workload", "namespace": NAMESPACE, "annotations": {
            "azure.workload.identity/client-id": app.client_id,
            "azure.workload.identity/tenant-id": TENANT,
        }}
    }))
    .unwrap();
    let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(world.kube.client(), NAMESPACE);
    operator_world::timed(accounts.create(&Default::default(), &account))
        .await
        .unwrap();
    world
        .apply_yaml(&format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: workload\n  namespace: {NAMESPACE}\nspec:\n  provider:\n    azurekv:\n      vaultUrl: \"{}\"\n      authType: WorkloadIdentity\n      serviceAccountRef:\n        name: workload\n",
            world.azure.vault_url(operator_world::VAULT)
        ))
        .await;
    world.set_secret("wi", "via-workload-identity");
    world.start_operator().await;
    assert_eq!(
        world.wait_for_store(NAMESPACE, "workload", "True").await,
        "store validated"
    );
    for index in 0..5 {
        let yaml = external_secret_yaml(NAMESPACE, &format!("wi-{index}"), "1s", &[("v", "wi")])
            .replace("name: vault", "name: workload");
        world.apply_yaml(&yaml).await;
    }
    for index in 0..5 {
        world
            .wait_for_value(
                NAMESPACE,
                &format!("wi-{index}"),
                "v",
                "via-workload-identity",
            )
            .await;
    }
    let reads = world.vault_reads();
    eventually("refresh cycles", || async {
        (world.vault_reads() >= reads + 5).then_some(())
    })
    .await;
    assert_eq!(
        world
            .kube
            .stats()
            .requests_for("create", "serviceaccounts/token"),
        1
    );
    assert_eq!(
        world.azure.stats().token_requests_by(&app.client_id, 200),
        1
    );
}
