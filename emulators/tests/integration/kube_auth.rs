//! Authentication, RBAC over stored Roles and bindings, ServiceAccount TokenRequest and the OIDC
//! issuer documents.

use crate::kube_common;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube_common::{create_namespace, start, within};
use serde_json::{Value, json};

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn get_json(client: &kube::Client, path: &str) -> Value {
    let request = hyper::Request::get(path).body(Vec::new()).unwrap();
    within(client.request::<Value>(request)).await.unwrap()
}

#[tokio::test]
async fn an_unknown_token_is_unauthorized() {
    let emulator = start().await;
    let client = emulator.client_with_token("not-a-token").unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let status = status_of(
        within(secrets.list(&ListParams::default()))
            .await
            .unwrap_err(),
    );
    assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn the_operator_is_forbidden_until_rbac_grants_it_rights() {
    let emulator = start().await;
    let operator = emulator.client_as(emulator.operator_user()).unwrap();
    let secrets: Api<Secret> = Api::namespaced(operator.clone(), "default");
    let status = status_of(within(secrets.get("x")).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "secrets \"x\" is forbidden: User \"system:serviceaccount:akvsync-system:akvsync\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let everywhere: Api<Secret> = Api::all(operator.clone());
    let status = status_of(
        within(everywhere.list(&ListParams::default()))
            .await
            .unwrap_err(),
    );
    assert!(
        status
            .message
            .ends_with("cannot list resource \"secrets\" in API group \"\" at the cluster scope"),
        "{}",
        status.message
    );

    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "akvsync"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
    }))
    .unwrap();
    within(Api::<ClusterRole>::all(emulator.client()).create(&PostParams::default(), &role))
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "akvsync"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "akvsync"},
        "subjects": [{"kind": "ServiceAccount", "name": "akvsync", "namespace": "akvsync-system"}],
    }))
    .unwrap();
    within(
        Api::<ClusterRoleBinding>::all(emulator.client()).create(&PostParams::default(), &binding),
    )
    .await
    .unwrap();
    within(everywhere.list(&ListParams::default()))
        .await
        .expect("list is granted");
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap();
    let status = status_of(
        within(secrets.create(&PostParams::default(), &secret))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 403, "create is not granted");

    create_namespace(&emulator.client(), "team").await;
    let writer: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "secret-writer"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}],
    }))
    .unwrap();
    within(Api::<ClusterRole>::all(emulator.client()).create(&PostParams::default(), &writer))
        .await
        .unwrap();
    let local: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "writer", "namespace": "team"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-writer"},
        "subjects": [{"kind": "ServiceAccount", "name": "akvsync", "namespace": "akvsync-system"}],
    }))
    .unwrap();
    within(
        Api::<RoleBinding>::namespaced(emulator.client(), "team")
            .create(&PostParams::default(), &local),
    )
    .await
    .unwrap();
    let team: Api<Secret> = Api::namespaced(operator, "team");
    within(team.create(&PostParams::default(), &secret))
        .await
        .expect("create granted in team by a RoleBinding");
    let status = status_of(
        within(secrets.create(&PostParams::default(), &secret))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 403, "but still not in default");
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[tokio::test]
async fn token_requests_issue_rs256_tokens_the_jwks_verifies() {
    let emulator = start().await;
    create_namespace(&emulator.client(), "apps").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(emulator.client(), "apps");
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "workload"}})).unwrap();
    let account = within(accounts.create(&PostParams::default(), &account))
        .await
        .unwrap();
    let request: TokenRequest = serde_json::from_value(
        json!({"spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 3600}}),
    )
    .unwrap();
    let issued =
        within(accounts.create_token_request("workload", &PostParams::default(), &request))
            .await
            .unwrap();
    let status = issued.status.unwrap();
    let token = status.token;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_segment(parts[0]);
    let claims = decode_segment(parts[1]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], emulator.issuer_url());
    assert_eq!(claims["sub"], "system:serviceaccount:apps:workload");
    assert_eq!(claims["aud"], json!(["api://AzureADTokenExchange"]));
    assert_eq!(claims["kubernetes.io"]["namespace"], "apps");
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["name"],
        "workload"
    );
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"]["uid"],
        json!(account.metadata.uid)
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    assert!(claims["nbf"].is_i64() && claims["jti"].is_string());

    let discovery = get_json(&emulator.client(), "/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], emulator.issuer_url());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/openid/v1/jwks", emulator.issuer_url())
    );
    let jwks = get_json(&emulator.client(), "/openid/v1/jwks").await;
    assert_eq!(
        jwks.to_string(),
        serde_json::from_str::<Value>(&emulator.jwks_json())
            .unwrap()
            .to_string()
    );
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == header["kid"])
        .expect("the signing key is published");
    let components = RsaPublicKeyComponents {
        n: URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap(),
        e: URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap(),
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    components
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("signature verifies");
    let mut forged = claims.clone();
    forged["sub"] = json!("system:serviceaccount:apps:admin");
    let forged_input = format!(
        "{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string())
    );
    assert!(
        components
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                forged_input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap()
            )
            .is_err()
    );
}

#[tokio::test]
async fn token_request_validation_and_missing_accounts() {
    let emulator = start().await;
    let accounts: Api<ServiceAccount> = Api::namespaced(emulator.client(), "default");
    let short: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 599}}))
            .unwrap();
    let status = status_of(
        within(accounts.create_token_request("default", &PostParams::default(), &short))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        status.message
    );
    let fine: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}})).unwrap();
    let status = status_of(
        within(accounts.create_token_request("ghost", &PostParams::default(), &fine))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status.code, status.message.as_str()),
        (404, "serviceaccounts \"ghost\" not found")
    );
}

#[tokio::test]
async fn a_service_account_token_authenticates_as_its_account_under_rbac() {
    let emulator = start().await;
    let accounts: Api<ServiceAccount> = Api::namespaced(emulator.client(), "default");
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}})).unwrap();
    let issued = within(accounts.create_token_request("default", &PostParams::default(), &request))
        .await
        .unwrap();
    let client = emulator
        .client_with_token(&issued.status.unwrap().token)
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let status = status_of(
        within(secrets.list(&ListParams::default()))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 403);
    assert!(
        status
            .message
            .contains("User \"system:serviceaccount:default:default\""),
        "{}",
        status.message
    );
}

async fn post_json(client: &kube::Client, path: &str, body: Value) -> Result<Value, kube::Error> {
    let request = hyper::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    within(client.request::<Value>(request)).await
}

#[tokio::test]
async fn access_reviews_answer_with_the_binding_that_allows_and_are_create_only() {
    let emulator = start().await;
    let admin = emulator.client();
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "secret-reader"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }))
    .unwrap();
    within(Api::<ClusterRole>::all(admin.clone()).create(&PostParams::default(), &role))
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "ops-read", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"},
        "subjects": [{"kind": "Group", "name": "ops"}],
    }))
    .unwrap();
    within(
        Api::<RoleBinding>::namespaced(admin.clone(), "default")
            .create(&PostParams::default(), &binding),
    )
    .await
    .unwrap();
    let review = |namespace: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "spec": {"user": "bob", "groups": ["ops"],
                        "resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "secrets"}}})
    };
    let path = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let allowed = post_json(&admin, path, review("default")).await.unwrap();
    assert_eq!(
        allowed["status"],
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"ops-read/default\" of ClusterRole \"secret-reader\" to Group \"ops\""})
    );
    let denied = post_json(&admin, path, review("kube-system"))
        .await
        .unwrap();
    assert_eq!(denied["status"], json!({"allowed": false}));

    // The operator may ask about itself, not about others.
    let operator = emulator.client_as(emulator.operator_user()).unwrap();
    let own = post_json(
        &operator,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await
    .unwrap();
    assert_eq!(
        own["status"]["userInfo"]["username"],
        emulator.operator_user()
    );
    let status = status_of(
        post_json(&operator, path, review("default"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 403);
    let listed = status_of(
        within(admin.request::<Value>(hyper::Request::get(path).body(Vec::new()).unwrap()))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (listed.code, listed.reason.as_str()),
        (405, "MethodNotAllowed")
    );
}

#[tokio::test]
async fn impersonation_acts_as_the_user_only_with_the_impersonate_verb() {
    let emulator = start().await;
    let admin = emulator.client();
    let operator_config = || async {
        let kubeconfig = kube::config::Kubeconfig::read_from(
            emulator.kubeconfig_path(emulator.operator_user()).unwrap(),
        )
        .unwrap();
        within(kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &Default::default(),
        ))
        .await
        .unwrap()
    };
    let mut config = operator_config().await;
    config.auth_info.impersonate = Some("alice".into());
    config.auth_info.impersonate_groups = Some(vec!["devs".into()]);
    let as_alice = kube::Client::try_from(config).unwrap();
    let whoami = |client: kube::Client| async move {
        post_json(
            &client,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await
    };
    let status = status_of(whoami(as_alice.clone()).await.unwrap_err());
    assert_eq!(
        (status.code, status.message.as_str()),
        (
            403,
            "users \"alice\" is forbidden: User \"system:serviceaccount:akvsync-system:akvsync\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        )
    );

    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "impersonate-alice"},
        "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]}],
    }))
    .unwrap();
    within(Api::<ClusterRole>::all(admin.clone()).create(&PostParams::default(), &role))
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "operator-impersonates-alice"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-alice"},
        "subjects": [{"kind": "ServiceAccount", "name": "akvsync", "namespace": "akvsync-system"}],
    }))
    .unwrap();
    within(Api::<ClusterRoleBinding>::all(admin.clone()).create(&PostParams::default(), &binding))
        .await
        .unwrap();
    // The group is not granted yet.
    let status = status_of(whoami(as_alice.clone()).await.unwrap_err());
    assert!(
        status
            .message
            .starts_with("groups \"devs\" is forbidden: User \"system:serviceaccount:akvsync-system:akvsync\" cannot impersonate resource \"groups\""),
        "{}",
        status.message
    );
    let mut config = operator_config().await;
    config.auth_info.impersonate = Some("alice".into());
    let only_alice = kube::Client::try_from(config).unwrap();
    let review = whoami(only_alice.clone()).await.unwrap();
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "alice", "groups": ["system:authenticated"]})
    );
    // As alice, the request has alice's rights, not the operator's or the admin's.
    let secrets: Api<Secret> = Api::namespaced(only_alice, "default");
    let status = status_of(
        within(secrets.list(&ListParams::default()))
            .await
            .unwrap_err(),
    );
    assert!(
        status
            .message
            .starts_with("secrets is forbidden: User \"alice\""),
        "{}",
        status.message
    );
}
