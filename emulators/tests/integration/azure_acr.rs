//! Azure Container Registry's token service: an Entra token for Azure Resource Manager becomes
//! a refresh token at `/oauth2/exchange` and a scoped access token at `/oauth2/token`, posted as
//! the forms ESO's generator (and the Docker CLI's `az acr login`) posts.

use crate::azure_support;

use akvsync_emulators::azure::acr::claims;
use akvsync_emulators::azure::{AcrRole, AzureEmulator};
use azure_support::*;
use serde_json::Value;

const REGISTRY: &str = "myregistry";
const ARM: &str = "https://management.azure.com/.default";

async fn entra_token(emulator: &AzureEmulator, client_id: &str, scope: &str) -> String {
    let credential = credential(emulator, TENANT, client_id);
    within(credential.get_token(&[scope], None))
        .await
        .expect("token")
        .token
        .secret()
        .to_owned()
}

async fn post(
    emulator: &AzureEmulator,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let server = emulator.registry_login_server(REGISTRY);
    let client = emulator.http_client().expect("client");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = client
        .post(format!("https://{server}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let response = within(request.send()).await.expect("send");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = within(response.json::<Value>())
        .await
        .unwrap_or(Value::Null);
    (status, body, challenge)
}

async fn exchange(emulator: &AzureEmulator, token: &str) -> (u16, Value) {
    let server = emulator.registry_login_server(REGISTRY);
    let (status, body, _) = post(
        emulator,
        "/oauth2/exchange",
        &[
            ("grant_type", "access_token"),
            ("service", &server),
            ("tenant", TENANT),
            ("access_token", token),
        ],
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn an_entra_token_becomes_a_refresh_token_then_a_scoped_access_token() {
    let emulator = start().await;
    emulator.add_registry(REGISTRY, TENANT).unwrap();
    emulator
        .assign_registry_role(REGISTRY, READER, AcrRole::Pull)
        .unwrap();
    let server = emulator.registry_login_server(REGISTRY);
    assert!(server.starts_with("myregistry.azurecr.localhost:"));

    let token = entra_token(&emulator, READER, ARM).await;
    let (status, body) = exchange(&emulator, &token).await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().expect("refresh_token");
    let refresh_claims = claims(refresh).unwrap();
    assert_eq!(refresh_claims["iss"], "Azure Container Registry");
    assert_eq!(refresh_claims["grant_type"], "refresh_token");
    assert_eq!(refresh_claims["aud"], "myregistry.azurecr.localhost");

    let (status, body, _) = post(
        &emulator,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", &server),
            ("scope", "repository:app:pull,push"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        access["access"],
        serde_json::json!([{"type": "repository", "name": "app", "actions": ["pull"]}]),
        "AcrPull grants pull only"
    );
    let stats = emulator.stats();
    assert_eq!(stats.requests("acr:myregistry", "AcrExchange", 200), 1);
    assert_eq!(stats.requests("acr:myregistry", "AcrToken", 200), 1);
}

#[tokio::test]
async fn exchanges_are_refused_as_acr_refuses_them() {
    let emulator = start().await;
    emulator.add_registry(REGISTRY, TENANT).unwrap();
    emulator
        .assign_registry_role(REGISTRY, ADMIN, AcrRole::Push)
        .unwrap();
    // No role on the registry.
    let token = entra_token(&emulator, READER, ARM).await;
    let (status, body) = exchange(&emulator, &token).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    // A Key Vault token is not for ACR.
    let vault_token = entra_token(&emulator, ADMIN, "https://vault.azure.net/.default").await;
    let (status, body) = exchange(&emulator, &vault_token).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("audience"),
        "{body}"
    );
    // Not a token at all.
    let (status, _) = exchange(&emulator, "not-a-token").await;
    assert_eq!(status, 401);
    // A refresh token from another registry's name is refused by this one.
    let (status, body, _) = post(
        &emulator,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("service", "other.azurecr.localhost"),
            ("scope", "repository:app:pull"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The registry API challenges with its realm and service.
    let client = emulator.http_client().unwrap();
    let server = emulator.registry_login_server(REGISTRY);
    let response = within(client.get(format!("https://{server}/v2/")).send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"https://{server}/oauth2/token\",service=\"myregistry.azurecr.localhost\""
        )
    );
}

#[tokio::test]
async fn a_seed_file_declares_registries_and_their_roles() {
    let mut config = akvsync_emulators::azure::AzureConfig {
        seed: seed(),
        ..Default::default()
    };
    config.seed.registries = serde_yaml::from_str(&format!(
        "- name: {REGISTRY}\n  tenant: {TENANT}\n  roles:\n    - {{principal: {READER}, role: Push}}\n"
    ))
    .unwrap();
    let emulator = within(AzureEmulator::start(config))
        .await
        .expect("emulator starts");
    let token = entra_token(&emulator, READER, ARM).await;
    let (status, body) = exchange(&emulator, &token).await;
    assert_eq!(status, 200, "{body}");
    let refresh = claims(body["refresh_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        refresh["permissions"]["actions"],
        serde_json::json!(["pull", "push"])
    );
}
