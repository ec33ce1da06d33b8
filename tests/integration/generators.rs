//! Generators end to end: Password, UUID and ClusterGenerator resources applied to the
//! Kubernetes emulator, used by ExternalSecrets (`dataFrom[].sourceRef.generatorRef`) beside
//! vault values, and by a PushSecret (`selector.generatorRef`) that seeds the Key Vault emulator,
//! read back with the Azure SDK for Rust. Failures carry ESO's messages.

use crate::operator_world;
use crate::push_secret::secret_client;

use operator_world::{NAMESPACE, TENANT, VAULT, World, eventually, timed};

const GENERATORS: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata:
  name: db-password
  namespace: team-a
spec:
  length: 32
  digits: 4
  symbols: 0
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: UUID
metadata:
  name: instance-id
  namespace: team-a
spec: {}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata:
  name: shared-token
spec:
  kind: Password
  generator:
    passwordSpec:
      length: 12
      encoding: hex
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata:
  name: impossible
  namespace: team-a
spec:
  length: 4
  digits: 3
  symbols: 2
"#;

/// An ExternalSecret whose `dataFrom` entries are the given YAML list items.
fn external_secret(name: &str, refresh: &str, data_from: &str, data: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: {refresh}\n  secretStoreRef:\n    name: vault\n    kind: SecretStore\n  target:\n    name: {name}\n  dataFrom:\n{data_from}{data}"
    )
}

async fn apply_generators(world: &World) {
    for document in GENERATORS.split("\n---\n") {
        world.apply_yaml(document).await;
    }
}

fn text(secret: &k8s_openapi::api::core::v1::Secret, key: &str) -> String {
    let bytes = &secret.data.as_ref().unwrap()[key].0;
    String::from_utf8(bytes.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_fill_external_secrets_beside_vault_values() {
    let mut world = World::new().await;
    world.set_secret("db-user", "app");
    apply_generators(&world).await;
    world.start_operator().await;

    let data_from = "    - sourceRef:\n        generatorRef:\n          apiVersion: generators.external-secrets.io/v1alpha1\n          kind: Password\n          name: db-password\n      rewrite:\n        - regexp:\n            source: ^password$\n            target: db-password\n    - sourceRef:\n        generatorRef:\n          kind: UUID\n          name: instance-id\n    - sourceRef:\n        generatorRef:\n          kind: ClusterGenerator\n          name: shared-token\n      rewrite:\n        - regexp:\n            source: password\n            target: token\n";
    let data = "  data:\n    - secretKey: db-user\n      remoteRef:\n        key: db-user\n";
    world
        .apply_yaml(&external_secret("app", "1h", data_from, data))
        .await;
    let (reason, message) = world.wait_for_ready(NAMESPACE, "app", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("SecretSynced", "secret synced")
    );
    let secret = world.k8s_secret(NAMESPACE, "app").await.unwrap();
    let mut keys: Vec<_> = secret.data.as_ref().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["db-password", "db-user", "token", "uuid"]);
    let password = text(&secret, "db-password");
    assert_eq!(password.chars().count(), 32, "{password}");
    assert_eq!(password.chars().filter(char::is_ascii_digit).count(), 4);
    assert!(
        password.chars().all(|c| c.is_ascii_alphanumeric()),
        "no symbols: {password}"
    );
    let uuid = text(&secret, "uuid");
    assert_eq!(uuid::Uuid::parse_str(&uuid).unwrap().get_version_num(), 4);
    let token = text(&secret, "token");
    assert_eq!(token.len(), 24, "12 characters, hex-encoded: {token}");
    assert!(hex::decode(&token).is_ok());
    assert_eq!(text(&secret, "db-user"), "app");

    // ESO's words when the generator is missing or cannot make a value.
    let missing =
        "    - sourceRef:\n        generatorRef:\n          kind: Password\n          name: nope\n";
    world
        .apply_yaml(&external_secret("missing", "1h", missing, ""))
        .await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "missing", "False").await;
    assert_eq!(
        message,
        r#"could not get secret data from provider: error processing spec.dataFrom[0].sourceRef.generatorRef, err: unable to get generator: passwords.generators.external-secrets.io "nope" not found"#
    );
    let impossible = "    - sourceRef:\n        generatorRef:\n          kind: Password\n          name: impossible\n";
    world
        .apply_yaml(&external_secret("impossible", "1h", impossible, ""))
        .await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "impossible", "False").await;
    assert_eq!(
        message,
        "could not get secret data from provider: error processing spec.dataFrom[0].sourceRef.generatorRef, err: error using generator: number of digits and symbols must be less than total length"
    );
    let not_run = "    - sourceRef:\n        generatorRef:\n          kind: ECRAuthorizationToken\n          name: ecr\n";
    world
        .apply_yaml(&external_secret("not-run", "1h", not_run, ""))
        .await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "not-run", "False").await;
    assert!(
        message.ends_with("unable to get generator: generator kind ECRAuthorizationToken is not supported by akvsync yet: it runs Password, UUID, ACRAccessToken and ClusterGenerators of those kinds"),
        "{message}"
    );
    assert!(
        world.k8s_secret(NAMESPACE, "missing").await.is_none(),
        "a failed generator writes no Secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_values_are_new_at_each_refresh_and_kept_with_refresh_interval_0_as_in_eso() {
    let mut world = World::new().await;
    apply_generators(&world).await;
    world.start_operator().await;
    let data_from = "    - sourceRef:\n        generatorRef:\n          kind: UUID\n          name: instance-id\n";
    world
        .apply_yaml(&external_secret("rotating", "1s", data_from, ""))
        .await;
    world
        .apply_yaml(&external_secret("once", "\"0\"", data_from, ""))
        .await;
    world.wait_for_ready(NAMESPACE, "rotating", "True").await;
    world.wait_for_ready(NAMESPACE, "once", "True").await;
    let once = text(&world.k8s_secret(NAMESPACE, "once").await.unwrap(), "uuid");
    let first = text(
        &world.k8s_secret(NAMESPACE, "rotating").await.unwrap(),
        "uuid",
    );
    let second = eventually("a refresh to write a new uuid", || async {
        let secret = world.k8s_secret(NAMESPACE, "rotating").await?;
        let uuid = text(&secret, "uuid");
        (uuid != first).then_some(uuid)
    })
    .await;
    assert_eq!(uuid::Uuid::parse_str(&second).unwrap().get_version_num(), 4);
    let kept = text(&world.k8s_secret(NAMESPACE, "once").await.unwrap(), "uuid");
    assert_eq!(kept, once, "refreshInterval 0 generates once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_secret_seeds_the_vault_from_a_generator_once() {
    let mut world = World::new().await;
    apply_generators(&world).await;
    world.start_operator().await;
    let push = format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: seed\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  updatePolicy: IfNotExists\n  secretStoreRefs:\n    - name: vault\n      kind: SecretStore\n  selector:\n    generatorRef:\n      apiVersion: generators.external-secrets.io/v1alpha1\n      kind: Password\n      name: db-password\n  data:\n    - match:\n        secretKey: password\n        remoteRef:\n          remoteKey: seeded-password\n"
    );
    world.apply_yaml(&push).await;
    let client = secret_client(&world);
    let seeded = eventually("the generated password in the vault", || async {
        let secret = timed(client.get_secret("seeded-password", None))
            .await
            .ok()?
            .into_model()
            .ok()?;
        secret.value
    })
    .await;
    assert_eq!(seeded.chars().count(), 32, "{seeded}");

    // Later refreshes generate again, and IfNotExists keeps the first value.
    let writes = || world.azure.stats().operation(VAULT, "SetSecret");
    let reads = world.azure.stats().operation(VAULT, "GetSecret");
    eventually("two more refreshes", || async {
        (world.azure.stats().operation(VAULT, "GetSecret") >= reads + 2).then_some(())
    })
    .await;
    assert_eq!(writes(), 1);
    let kept = timed(client.get_secret("seeded-password", None))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(kept.value.as_deref(), Some(seeded.as_str()));

    let failing = push
        .replace("name: seed\n", "name: seed-missing\n")
        .replace("name: db-password", "name: nope");
    world.apply_yaml(&failing).await;
    let message = eventually("the failing PushSecret's Ready message", || async {
        let api: kube::Api<akvsync_crds::PushSecret> =
            kube::Api::namespaced(world.kube.client(), NAMESPACE);
        let push = timed(api.get("seed-missing")).await.ok()?;
        let ready = push
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Ready" && c.status == "False")?;
        ready.message
    })
    .await;
    assert_eq!(
        message,
        r#"could not get source secret: unable to resolve generator: unable to get generator: passwords.generators.external-secrets.io "nope" not found"#
    );
}

/// An ACRAccessToken with the store's service principal, for `registry`, scoped when `scope`.
fn acr_access_token(name: &str, registry: &str, scope: Option<&str>) -> String {
    let scope = scope.map_or(String::new(), |scope| format!("  scope: \"{scope}\"\n"));
    format!(
        "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  tenantId: {TENANT}\n  registry: {registry}\n{scope}  auth:\n    servicePrincipal:\n      secretRef:\n        clientId: {{name: azure-creds, key: client-id}}\n        clientSecret: {{name: azure-creds, key: client-secret}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_access_tokens_come_from_the_registrys_token_exchange() {
    use akvsync_emulators::azure::AcrRole;
    use akvsync_emulators::azure::acr::claims;

    let mut world = World::new().await;
    world.azure.add_registry("myregistry", TENANT).unwrap();
    world.azure.add_registry("elsewhere", TENANT).unwrap();
    world
        .azure
        .assign_registry_role("myregistry", &world.app.client_id, AcrRole::Pull)
        .unwrap();
    let registry = world.azure.registry_login_server("myregistry");
    let elsewhere = world.azure.registry_login_server("elsewhere");
    world
        .apply_yaml(&acr_access_token(
            "pull",
            &registry,
            Some("repository:app:pull,push"),
        ))
        .await;
    world
        .apply_yaml(&acr_access_token("refresh", &registry, None))
        .await;
    world
        .apply_yaml(&acr_access_token("no-role", &elsewhere, None))
        .await;
    world.start_operator().await;

    let generated = |name: &str| {
        format!(
            "    - sourceRef:\n        generatorRef:\n          kind: ACRAccessToken\n          name: {name}\n"
        )
    };
    world
        .apply_yaml(&external_secret("pull-token", "1h", &generated("pull"), ""))
        .await;
    world
        .apply_yaml(&external_secret(
            "refresh-token",
            "1h",
            &generated("refresh"),
            "",
        ))
        .await;
    world.wait_for_ready(NAMESPACE, "pull-token", "True").await;
    let secret = world.k8s_secret(NAMESPACE, "pull-token").await.unwrap();
    assert_eq!(
        text(&secret, "username"),
        "00000000-0000-0000-0000-000000000000"
    );
    let access = claims(&text(&secret, "password")).expect("a JWT");
    assert_eq!(access["iss"], "Azure Container Registry");
    assert_eq!(
        access["access"],
        serde_json::json!([{"type": "repository", "name": "app", "actions": ["pull"]}]),
        "AcrPull grants pull, not push"
    );
    world
        .wait_for_ready(NAMESPACE, "refresh-token", "True")
        .await;
    let secret = world.k8s_secret(NAMESPACE, "refresh-token").await.unwrap();
    let refresh = claims(&text(&secret, "password")).expect("a JWT");
    assert_eq!(refresh["grant_type"], "refresh_token");
    let stats = world.azure.stats();
    assert_eq!(stats.requests("acr:myregistry", "AcrExchange", 200), 2);
    assert_eq!(stats.requests("acr:myregistry", "AcrToken", 200), 1);

    // No role on the registry: ESO's words for the exchange's refusal.
    world
        .apply_yaml(&external_secret("no-role", "1h", &generated("no-role"), ""))
        .await;
    let (_, message) = world.wait_for_ready(NAMESPACE, "no-role", "False").await;
    assert_eq!(
        message,
        "could not get secret data from provider: error processing spec.dataFrom[0].sourceRef.generatorRef, err: error using generator: count not generate refresh token, unexpected status code 401, expected 200"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acr_access_token_from_a_user_assigned_managed_identity() {
    use akvsync::azure::ManagedIdentityEndpoint;
    use akvsync_emulators::azure::acr::claims;
    use akvsync_emulators::azure::{AcrRole, ManagedIdentityKind, PrincipalSpec};

    let mut world = World::new().await;
    let identity = world
        .azure
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "pusher".into(),
                managed_identity: Some(ManagedIdentityKind::User),
                ..Default::default()
            },
        )
        .unwrap();
    world.azure.add_registry("myregistry", TENANT).unwrap();
    world
        .azure
        .assign_registry_role("myregistry", &identity.client_id, AcrRole::Push)
        .unwrap();
    let registry = world.azure.registry_login_server("myregistry");
    world
        .apply_yaml(&format!(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ACRAccessToken\nmetadata:\n  name: push\n  namespace: {NAMESPACE}\nspec:\n  registry: {registry}\n  scope: \"repository:app:pull,push\"\n  auth:\n    managedIdentity:\n      identityId: {}\n",
            identity.client_id
        ))
        .await;
    let mut config = world.operator_config();
    config.network.managed_identity_endpoint = Some(ManagedIdentityEndpoint {
        url: world.azure.identity_endpoint(),
        header: azure_core::credentials::Secret::new(world.azure.identity_header().to_owned()),
    });
    world.start_operator_with(config).await;
    let data_from = "    - sourceRef:\n        generatorRef:\n          kind: ACRAccessToken\n          name: push\n";
    world
        .apply_yaml(&external_secret("push-token", "1h", data_from, ""))
        .await;
    world.wait_for_ready(NAMESPACE, "push-token", "True").await;
    let secret = world.k8s_secret(NAMESPACE, "push-token").await.unwrap();
    let access = claims(&text(&secret, "password")).expect("a JWT");
    assert_eq!(access["appid"], identity.client_id.as_str());
    assert_eq!(
        access["access"],
        serde_json::json!([{"type": "repository", "name": "app", "actions": ["pull", "push"]}]),
        "AcrPush grants pull and push"
    );
}
