//! Entra's metadata documents and the real MSAL Python against the emulator: the OpenID
//! configuration (v2.0 and v1) and instance discovery as Entra serves them, then
//! `ConfidentialClientApplication` with a client secret and with certificate assertions (PS256
//! with `x5t#S256`, RS256 with `x5t`) over TLS, the token then reading a secret.
//!
//! Needs `python3` with the `msal` package (`scripts/test` installs it); fails, never skips,
//! without them.

use crate::azure_support;

use std::process::Stdio;

use akvsync_emulators::azure::{AzureEmulator, Grant, PrincipalSpec, SecretOptions, pkcs};
use azure_support::*;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Every field Entra's v2.0 document carries.
const V2_FIELDS: [&str; 23] = [
    "token_endpoint",
    "token_endpoint_auth_methods_supported",
    "jwks_uri",
    "response_modes_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "response_types_supported",
    "scopes_supported",
    "issuer",
    "request_uri_parameter_supported",
    "userinfo_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "http_logout_supported",
    "frontchannel_logout_supported",
    "end_session_endpoint",
    "claims_supported",
    "kerberos_endpoint",
    "tenant_region_scope",
    "cloud_instance_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "rbac_url",
];

fn script() -> String {
    format!(
        "{}/tests/integration/fixtures/msal_token.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Panics with the fix when python3 or its `msal` package is missing.
async fn require_msal() {
    let output = within(
        tokio::process::Command::new("python3")
            .args(["-c", "import msal, requests"])
            .output(),
    )
    .await;
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "python3 cannot import msal: run scripts/test (it installs it) or `python3 -m pip install msal`\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => {
            panic!("python3 is missing ({error}): install python3 and `pip install msal`")
        }
    }
}

/// Runs the MSAL driver with `request` on stdin; returns its JSON answer.
async fn msal(emulator: &AzureEmulator, request: Value) -> Value {
    require_msal().await;
    let mut child = tokio::process::Command::new("python3")
        .arg(script())
        .env("REQUESTS_CA_BUNDLE", emulator.ca_path())
        .env("NO_PROXY", "localhost,.localhost,127.0.0.1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("MSAL_FORCE_REGION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let mut stdin = child.stdin.take().unwrap();
    within(stdin.write_all(request.to_string().as_bytes()))
        .await
        .unwrap();
    drop(stdin);
    let output = within(child.wait_with_output()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MSAL driver failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {stdout}\n{stderr}"))
}

fn authority(emulator: &AzureEmulator) -> String {
    format!("{}/{TENANT}", emulator.authority_host())
}

fn base_request(emulator: &AzureEmulator, client_id: &str, credential: Value) -> Value {
    json!({
        "authority": authority(emulator),
        "client_id": client_id,
        "credential": credential,
        "instance_discovery": false,
        "scope": format!("{}/.default", emulator.resource()),
        "secret_url": format!("{}secrets/s?api-version=7.5", emulator.vault_url(VAULT)),
    })
}

fn seed_secret(emulator: &AzureEmulator) {
    emulator
        .set_secret(VAULT, "s", "value", SecretOptions::default())
        .unwrap();
}

/// Asserts the driver got a token, read the secret with it, and then served it from its cache.
fn assert_token_read_the_secret(answer: &Value) {
    assert_eq!(answer["error"], Value::Null, "{answer}");
    assert_eq!(answer["token_source"], "identity_provider", "{answer}");
    assert_eq!(answer["secret_status"], 200, "{answer}");
    assert_eq!(answer["secret_value"], "value", "{answer}");
    assert_eq!(answer["second_token_source"], "cache", "{answer}");
}

async fn get_json(emulator: &AzureEmulator, url: &str) -> (u16, Value) {
    let response = within(emulator.http_client().unwrap().get(url).send())
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, within(response.json()).await.unwrap())
}

#[tokio::test]
async fn openid_configuration_carries_every_field_entra_serves() {
    let emulator = start().await;
    let host = emulator.authority_host();
    let (status, v2) = get_json(
        &emulator,
        &format!("{host}/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, 200);
    for field in V2_FIELDS {
        assert!(v2.get(field).is_some(), "v2.0 document lacks {field}: {v2}");
    }
    assert_eq!(
        v2["authorization_endpoint"],
        format!("{host}/{TENANT}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        v2["device_authorization_endpoint"],
        format!("{host}/{TENANT}/oauth2/v2.0/devicecode")
    );
    assert_eq!(v2["issuer"], format!("{host}/{TENANT}/v2.0"));
    assert_eq!(v2["request_uri_parameter_supported"], false);

    let (status, v1) = get_json(
        &emulator,
        &format!("{host}/{TENANT}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v1["token_endpoint"],
        format!("{host}/{TENANT}/oauth2/token")
    );
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    let (status, keys) = get_json(&emulator, v1["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(keys["keys"][0]["kty"], "RSA");

    let (status, common) = get_json(
        &emulator,
        &format!("{host}/common/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(common["issuer"], format!("{host}/{{tenantid}}/v2.0"));

    let (status, unknown) = get_json(
        &emulator,
        &format!("{host}/nobody/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(unknown["error"], "invalid_tenant");
    assert_eq!(unknown["error_codes"][0], 90002);
}

#[tokio::test]
async fn instance_discovery_points_at_the_tenant_document_and_refuses_other_instances() {
    let emulator = start().await;
    let host = emulator.authority_host();
    let discovery = |endpoint: &str| {
        let mut url = url::Url::parse(&format!("{host}/common/discovery/instance")).unwrap();
        url.query_pairs_mut()
            .append_pair("api-version", "1.1")
            .append_pair("authorization_endpoint", endpoint);
        url.to_string()
    };
    let (status, answer) = get_json(
        &emulator,
        &discovery(&format!("{host}/{TENANT}/oauth2/v2.0/authorize")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["tenant_discovery_endpoint"],
        format!("{host}/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(answer["api-version"], "1.1");
    let netloc = host.trim_start_matches("https://");
    assert_eq!(
        answer["metadata"],
        json!([{"preferred_network": netloc, "preferred_cache": netloc, "aliases": [netloc, "login.localhost"]}])
    );

    let (status, refused) = get_json(
        &emulator,
        &discovery("https://login.example.com/contoso/oauth2/v2.0/authorize"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "invalid_instance");
    assert_eq!(refused["error_codes"][0], 50049);
}

#[tokio::test]
async fn msal_python_gets_a_token_with_a_client_secret_through_instance_discovery() {
    let emulator = start().await;
    seed_secret(&emulator);
    let mut request = base_request(&emulator, ADMIN, json!({"secret": SECRET}));
    request["instance_discovery"] = json!(format!(
        "{}/common/discovery/instance",
        emulator.authority_host()
    ));
    let answer = msal(&emulator, request).await;
    assert_eq!(
        answer["authorization_endpoint"],
        format!("{}/oauth2/v2.0/authorize", authority(&emulator))
    );
    assert_eq!(answer["tenant"], TENANT);
    assert_token_read_the_secret(&answer);
}

#[tokio::test]
async fn msal_python_gets_a_token_with_a_client_secret_without_instance_discovery() {
    let emulator = start().await;
    seed_secret(&emulator);
    let answer = msal(
        &emulator,
        base_request(&emulator, READER, json!({"secret": SECRET})),
    )
    .await;
    assert_token_read_the_secret(&answer);

    let wrong = msal(
        &emulator,
        base_request(&emulator, READER, json!({"secret": "not-the-secret"})),
    )
    .await;
    assert_eq!(wrong["error"], "invalid_client", "{wrong}");
    assert!(
        wrong["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215"),
        "{wrong}"
    );
}

#[tokio::test]
async fn msal_python_gets_a_token_with_certificate_assertions() {
    let emulator = start().await;
    seed_secret(&emulator);
    let material = pkcs::self_signed("msal-cert-app", true).unwrap();
    let certificate = pkcs::to_pem(&material, false);
    let private_key = pem::encode(&pem::Pem::new("PRIVATE KEY", material.key_pkcs8.clone()));
    let app = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "msal-cert-app".into(),
                certificates: vec![certificate.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    emulator
        .grant(VAULT, &app.client_id, Grant::secrets_read())
        .unwrap();

    // With the certificate, MSAL signs PS256 and sends x5t#S256 and x5c.
    let answer = msal(
        &emulator,
        base_request(
            &emulator,
            &app.client_id,
            json!({"private_key": private_key, "public_certificate": certificate}),
        ),
    )
    .await;
    assert_token_read_the_secret(&answer);

    // With only a SHA-1 thumbprint, it signs RS256 and sends x5t.
    let thumbprint = hex::encode(akvsync_emulators::azure::crypto::sha1(&material.chain[0]));
    let answer = msal(
        &emulator,
        base_request(
            &emulator,
            &app.client_id,
            json!({"private_key": private_key, "thumbprint": thumbprint}),
        ),
    )
    .await;
    assert_token_read_the_secret(&answer);

    let stranger = pkcs::self_signed("msal-cert-app", true).unwrap();
    let answer = msal(
        &emulator,
        base_request(
            &emulator,
            &app.client_id,
            json!({
                "private_key": pem::encode(&pem::Pem::new("PRIVATE KEY", stranger.key_pkcs8.clone())),
                "public_certificate": pkcs::to_pem(&stranger, false),
            }),
        ),
    )
    .await;
    assert_eq!(answer["error"], "invalid_client", "{answer}");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_v1_token_endpoint_the_v1_document_names_takes_a_resource_and_answers_strings() {
    let emulator = start().await;
    seed_secret(&emulator);
    let host = emulator.authority_host();
    let (_, v1) = get_json(
        &emulator,
        &format!("{host}/{TENANT}/.well-known/openid-configuration"),
    )
    .await;
    let endpoint = v1["token_endpoint"].as_str().unwrap().to_owned();
    let client = emulator.http_client().unwrap();
    let post = |form: Vec<(&'static str, String)>| {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = client
            .post(&endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded);
        async move {
            let response = within(request.send()).await.unwrap();
            let status = response.status().as_u16();
            (status, within(response.json::<Value>()).await.unwrap())
        }
    };
    let (status, body) = post(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", READER.into()),
        ("client_secret", SECRET.into()),
        ("resource", emulator.resource().to_owned()),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], emulator.resource());
    assert_eq!(body["token_type"], "Bearer");
    for field in ["expires_in", "ext_expires_in", "expires_on", "not_before"] {
        assert!(
            body[field]
                .as_str()
                .is_some_and(|n| n.parse::<i64>().is_ok()),
            "{field} is a number in a string: {body}"
        );
    }
    let secret = within(
        client
            .get(format!(
                "{}secrets/s?api-version=7.5",
                emulator.vault_url(VAULT)
            ))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(secret.status(), 200);

    let (status, error) = post(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", READER.into()),
        ("client_secret", SECRET.into()),
    ])
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error_codes"][0], 900144);
}
