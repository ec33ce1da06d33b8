//! Entra ID and token validation against the emulator: client secret, client assertion with a
//! registered certificate, workload identity, wrong tenant / audience / signature / expiry.

use crate::azure_support;

use std::sync::Arc;
use std::time::Duration;

use akvsync_emulators::azure::jwt::RsaSigner;
use akvsync_emulators::azure::{FederatedCredential, Grant, PrincipalSpec, SecretOptions, pkcs};
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientMethodOptions;
use azure_core::time::{Duration as AzDuration, OffsetDateTime};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azure_support::*;
use serde_json::json;

/// A credential that always hands out one fixed token.
#[derive(Debug)]
struct FixedToken(String);

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            self.0.clone(),
            OffsetDateTime::now_utc() + AzDuration::hours(1),
        ))
    }
}

/// Asks its inner credential for a fixed scope, whatever the client wants.
#[derive(Debug)]
struct WrongScope(Arc<dyn TokenCredential>, String);

#[async_trait::async_trait]
impl TokenCredential for WrongScope {
    async fn get_token(
        &self,
        _: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.0.get_token(&[&self.1], options).await
    }
}

async fn read_with(
    emulator: &akvsync_emulators::azure::AzureEmulator,
    vault: &str,
    credential: Arc<dyn TokenCredential>,
) -> azure_core::Result<String> {
    let client = secrets(emulator, vault, credential, false);
    let secret = within(client.get_secret("s", None)).await?.into_model()?;
    Ok(secret.value.unwrap_or_default())
}

fn seed_secret(emulator: &akvsync_emulators::azure::AzureEmulator) {
    emulator
        .set_secret(VAULT, "s", "value", SecretOptions::default())
        .unwrap();
}

#[tokio::test]
async fn token_from_another_tenant_is_rejected() {
    let emulator = start().await;
    seed_secret(&emulator);
    let error = read_with(
        &emulator,
        VAULT,
        credential(&emulator, OTHER_TENANT, STRANGER),
    )
    .await
    .unwrap_err();
    assert_eq!(status_and_code(&error), (401, "Unauthorized".into()));
    assert!(error.to_string().contains("AKV10032"), "{error}");
}

#[tokio::test]
async fn token_for_another_audience_is_rejected() {
    let emulator = start().await;
    seed_secret(&emulator);
    let wrong = Arc::new(WrongScope(
        credential(&emulator, TENANT, ADMIN),
        "https://storage.azure.com/.default".into(),
    ));
    let error = read_with(&emulator, VAULT, wrong).await.unwrap_err();
    assert_eq!(status_and_code(&error), (401, "Unauthorized".into()));
    assert!(error.to_string().contains("AKV10022"), "{error}");
}

#[tokio::test]
async fn forged_and_expired_tokens_are_rejected() {
    let emulator = start().await;
    seed_secret(&emulator);
    let admin = principal(&emulator, ADMIN);
    let now = chrono::Utc::now().timestamp();
    let forger = RsaSigner::generate();
    let forged = forger.sign(
        &json!({}),
        &json!({"aud": emulator.resource(), "iss": format!("https://sts.windows.net/{TENANT}/"), "appid": ADMIN,
                "oid": admin.object_id, "tid": TENANT, "nbf": now - 10, "exp": now + 3600}),
    );
    let error = read_with(&emulator, VAULT, Arc::new(FixedToken(forged)))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (401, "Unauthorized".into()));
    assert!(
        error.to_string().contains("Signature validation failed"),
        "{error}"
    );

    let expired = emulator
        .mint_token(TENANT, ADMIN, emulator.resource(), -5)
        .unwrap();
    let error = read_with(&emulator, VAULT, Arc::new(FixedToken(expired)))
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&error), (401, "Unauthorized".into()));
    assert!(error.to_string().contains("TokenExpired"), "{error}");

    let valid = emulator
        .mint_token(TENANT, ADMIN, emulator.resource(), 60)
        .unwrap();
    assert_eq!(
        read_with(&emulator, VAULT, Arc::new(FixedToken(valid)))
            .await
            .unwrap(),
        "value"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_by_the_sdk() {
    let emulator = start().await;
    seed_secret(&emulator);
    emulator.set_token_lifetime(Duration::from_secs(120));
    let client = secrets(
        &emulator,
        VAULT,
        credential(&emulator, TENANT, ADMIN),
        false,
    );
    for _ in 0..3 {
        within(client.get_secret("s", None)).await.unwrap();
    }
    // Tokens living less than the SDK's 300 s refresh margin are fetched again for each call.
    assert!(
        emulator.stats().token_requests(TENANT) >= 3,
        "{:?}",
        emulator.stats().tokens
    );

    emulator.set_token_lifetime(Duration::from_secs(3600));
    emulator.reset_stats();
    let client = secrets(
        &emulator,
        VAULT,
        credential(&emulator, TENANT, ADMIN),
        false,
    );
    for _ in 0..3 {
        within(client.get_secret("s", None)).await.unwrap();
    }
    assert_eq!(emulator.stats().token_requests(TENANT), 1);
}

fn secret_credential(
    emulator: &akvsync_emulators::azure::AzureEmulator,
    tenant: &str,
    client_id: &str,
    secret: &str,
) -> Arc<ClientSecretCredential> {
    ClientSecretCredential::new(
        tenant,
        client_id.into(),
        Secret::new(secret.to_string()),
        Some(ClientSecretCredentialOptions {
            client_options: options(emulator, false),
        }),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_client_credentials_get_aadsts_errors() {
    let emulator = start().await;
    let scope = format!("{}/.default", emulator.resource());
    let cases = [
        (TENANT, ADMIN, "wrong", "AADSTS7000215"),
        ("no-such-tenant", ADMIN, SECRET, "AADSTS90002"),
        (
            TENANT,
            "00000000-0000-0000-0000-00000000dead",
            SECRET,
            "AADSTS700016",
        ),
    ];
    for (tenant, client, secret, expected) in cases {
        let error =
            within(secret_credential(&emulator, tenant, client, secret).get_token(&[&scope], None))
                .await
                .unwrap_err();
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
    let stats = emulator.stats();
    assert_eq!(stats.token_requests_by(ADMIN, 401), 1);
    assert_eq!(stats.token_requests_by(ADMIN, 400), 1);

    emulator.faults().token_outage(Some(503));
    let error =
        within(secret_credential(&emulator, TENANT, ADMIN, SECRET).get_token(&[&scope], None))
            .await
            .unwrap_err();
    assert!(error.to_string().contains("AADSTS90006"), "{error}");
    emulator.faults().token_outage(None);
    within(secret_credential(&emulator, TENANT, ADMIN, SECRET).get_token(&[&scope], None))
        .await
        .expect("works again after the outage");
}

/// Signs client assertions the way azure_identity's certificate credential does.
#[derive(Debug)]
struct CertificateAssertion {
    signer: Arc<RsaSigner>,
    x5t: String,
    audience: String,
    client_id: String,
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let now = chrono::Utc::now().timestamp();
        Ok(self.signer.sign(
            &json!({"x5t": self.x5t}),
            &json!({"aud": self.audience, "exp": now + 300, "iss": self.client_id, "jti": uuid::Uuid::new_v4().to_string(),
                    "nbf": now, "sub": self.client_id}),
        ))
    }
}

#[tokio::test]
async fn client_assertion_signed_by_a_registered_certificate_works() {
    let emulator = start().await;
    seed_secret(&emulator);
    let material = pkcs::self_signed("cert-app", true).unwrap();
    let pem = pkcs::to_pem(&material, false);
    let app = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "cert-app".into(),
                certificates: vec![pem],
                ..Default::default()
            },
        )
        .unwrap();
    emulator
        .grant(VAULT, &app.client_id, Grant::secrets_read())
        .unwrap();
    let thumbprint = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(akvsync_emulators::azure::crypto::sha1(&material.chain[0]))
    };
    let assertion = |key: &pkcs::KeyAndChain| CertificateAssertion {
        signer: Arc::new(RsaSigner::from_pkcs8(&key.key_pkcs8, None).unwrap()),
        x5t: thumbprint.clone(),
        audience: format!("{}/{TENANT}/oauth2/v2.0/token", emulator.authority_host()),
        client_id: app.client_id.clone(),
    };
    let make = |assertion| -> Arc<dyn TokenCredential> {
        ClientAssertionCredential::new(
            TENANT.into(),
            app.client_id.clone(),
            assertion,
            Some(ClientAssertionCredentialOptions {
                client_options: options(&emulator, false),
            }),
        )
        .unwrap()
    };
    assert_eq!(
        read_with(&emulator, VAULT, make(assertion(&material)))
            .await
            .unwrap(),
        "value"
    );

    let impostor = pkcs::self_signed("cert-app", true).unwrap();
    let error = read_with(&emulator, VAULT, make(assertion(&impostor)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("AADSTS700027"), "{error}");
}

#[tokio::test]
async fn workload_identity_federated_token_works_and_wrong_subject_is_refused() {
    let emulator = start().await;
    seed_secret(&emulator);
    let issuer = "https://kubernetes.localhost";
    let kube = RsaSigner::generate();
    emulator.trust_issuer(issuer, json!({"keys": [kube.jwk()]}));
    let subject = "system:serviceaccount:team-a:syncer";
    let app = emulator
        .add_principal(
            TENANT,
            PrincipalSpec {
                name: "workload".into(),
                federated: vec![FederatedCredential {
                    issuer: issuer.into(),
                    subject: subject.into(),
                    audiences: vec!["api://AzureADTokenExchange".into()],
                }],
                ..Default::default()
            },
        )
        .unwrap();
    emulator
        .grant(VAULT, &app.client_id, Grant::secrets_read())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let credential_for = |sub: &str, file: &str| -> Arc<dyn TokenCredential> {
        let now = chrono::Utc::now().timestamp();
        let token = kube.sign(&json!({}), &json!({"iss": issuer, "sub": sub, "aud": ["api://AzureADTokenExchange"], "nbf": now, "exp": now + 600}));
        let path = dir.path().join(file);
        std::fs::write(&path, token).unwrap();
        WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: options(&emulator, false),
            },
            client_id: Some(app.client_id.clone()),
            tenant_id: Some(TENANT.into()),
            token_file_path: Some(path),
        }))
        .unwrap()
    };
    assert_eq!(
        read_with(&emulator, VAULT, credential_for(subject, "good"))
            .await
            .unwrap(),
        "value"
    );
    let error = read_with(
        &emulator,
        VAULT,
        credential_for("system:serviceaccount:team-b:other", "bad"),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("AADSTS700213"), "{error}");
}
