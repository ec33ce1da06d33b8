//! Fault injection (429 with Retry-After, 5xx, latency), request counters, the `kube-emulator`
//! binary's admin endpoint that drives them over HTTP, and the answers for what the emulator does
//! not serve (404, 405, 415).

use crate::kube_common;

use std::time::{Duration, Instant};

use akvsync_emulators::kubeapi::{FaultMatch, FaultResponse, FaultRule, KubeConfig, KubeEmulator};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube_common::{start, start_with, within};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn secrets_get() -> FaultMatch {
    FaultMatch {
        verb: Some("get".into()),
        resource: Some("secrets".into()),
        user: None,
    }
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_until_cleared() {
    // kube's client retries 429s by itself, so look at the wire with a plain HTTP request.
    let emulator = start_with(KubeConfig {
        tls: false,
        ..KubeConfig::default()
    })
    .await;
    let rule = FaultRule {
        matches: secrets_get(),
        response: FaultResponse::TooManyRequests {
            retry_after_seconds: 1,
        },
        count: None,
    };
    emulator.faults().inject(rule);
    let response = raw_get(&emulator, "/api/v1/namespaces/default/secrets/x").await;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    assert!(head.to_lowercase().contains("\r\nretry-after: 1"), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (
            body["reason"].as_str(),
            body["details"]["retryAfterSeconds"].as_u64()
        ),
        (Some("TooManyRequests"), Some(1))
    );
    emulator.faults().clear();
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let error = within(secrets.get("x")).await.unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 404),
        "cleared: {error:?}"
    );
}

#[tokio::test]
async fn server_errors_hit_only_matching_requests_and_count_down() {
    let emulator = start().await;
    emulator
        .faults()
        .fail_next(2, secrets_get(), FaultResponse::ServerError(500));
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    within(maps.list(&ListParams::default()))
        .await
        .expect("other requests are unaffected");
    for _ in 0..2 {
        let error = within(secrets.get("x")).await.unwrap_err();
        assert!(
            matches!(&error, kube::Error::Api(status) if status.code == 500 && status.reason == "InternalError"),
            "{error:?}"
        );
    }
    let error = within(secrets.get("x")).await.unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 404),
        "{error:?}"
    );
}

#[tokio::test]
async fn kube_clients_retry_a_transient_503() {
    let emulator = start().await;
    emulator
        .faults()
        .fail_next(1, secrets_get(), FaultResponse::ServerError(503));
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let error = within(secrets.get("x")).await.unwrap_err();
    assert!(
        matches!(&error, kube::Error::Api(status) if status.code == 404),
        "{error:?}"
    );
    assert_eq!(
        emulator.stats().requests_for("get", "secrets"),
        2,
        "the 503 was retried once"
    );
}

#[tokio::test]
async fn latency_delays_every_request() {
    let emulator = start().await;
    let maps: Api<ConfigMap> = Api::namespaced(emulator.client(), "default");
    emulator.faults().set_latency(Duration::from_millis(300));
    let started = Instant::now();
    within(maps.list(&ListParams::default())).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn counters_track_verbs_resources_users_and_secret_writes() {
    let emulator = start().await;
    let secrets: Api<Secret> = Api::namespaced(emulator.client(), "default");
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap();
    within(secrets.create(&PostParams::default(), &secret))
        .await
        .unwrap();
    within(secrets.patch("s", &PatchParams::apply("t"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}})))).await.unwrap();
    within(secrets.get("s")).await.unwrap();
    let operator: Api<Secret> = Api::namespaced(
        emulator.client_as(emulator.operator_user()).unwrap(),
        "default",
    );
    let _ = within(operator.get("s")).await;
    let stats = emulator.stats();
    assert_eq!(stats.requests_for("create", "secrets"), 1);
    assert_eq!(stats.requests_for("patch", "secrets"), 1);
    assert_eq!(stats.requests_for("get", "secrets"), 2);
    assert_eq!(stats.secret_writes, 2);
    assert_eq!(stats.requests_by_user(emulator.operator_user()), 1);
    assert_eq!(stats.open_watches, 0);
}

#[tokio::test]
async fn unserved_paths_methods_and_media_types_fail_as_the_real_server() {
    let emulator = start().await;
    let client = emulator.client();
    let send = |request: hyper::Request<Vec<u8>>| {
        let client = client.clone();
        async move {
            within(client.send(request.map(kube::client::Body::from)))
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        send(
            hyper::Request::get("/apis/nothing.example.com/v1/things")
                .body(Vec::new())
                .unwrap()
        )
        .await,
        404
    );
    assert_eq!(
        send(
            hyper::Request::get("/api/v1/namespaces/default/secrets/x/exec")
                .body(Vec::new())
                .unwrap()
        )
        .await,
        404
    );
    assert_eq!(
        send(
            hyper::Request::get("/openapi/v3/apis/nothing.example.com/v1")
                .body(Vec::new())
                .unwrap()
        )
        .await,
        404
    );
    assert_eq!(
        send(
            hyper::Request::put("/api/v1/namespaces/default/secrets")
                .body(b"{}".to_vec())
                .unwrap()
        )
        .await,
        405
    );
    assert_eq!(
        send(
            hyper::Request::post("/api/v1/namespaces/default/secrets/x")
                .body(b"{}".to_vec())
                .unwrap()
        )
        .await,
        405
    );
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    within(maps.create(&PostParams::default(), &map))
        .await
        .unwrap();
    let patch = hyper::Request::patch("/api/v1/namespaces/default/configmaps/c")
        .header("content-type", "text/plain")
        .body(b"x".to_vec())
        .unwrap();
    assert_eq!(send(patch).await, 415);
}

/// One HTTP/1.1 GET over a plain TCP connection, returning the whole response text.
async fn raw_get(emulator: &KubeEmulator, path: &str) -> String {
    let address = emulator.url().trim_start_matches("http://").to_owned();
    let token = emulator.token_for(emulator.admin_user()).unwrap();
    let mut stream = within(tokio::net::TcpStream::connect(address))
        .await
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    within(stream.write_all(request.as_bytes())).await.unwrap();
    let mut response = String::new();
    within(stream.read_to_string(&mut response)).await.unwrap();
    response
}

/// The `kube-emulator` binary, started with plain HTTP; its ready line, and the admin token.
struct Binary {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    ready: serde_json::Value,
    token: String,
}

async fn start_binary() -> Binary {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .arg("--http")
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kube-emulator starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(lines.next_line())
        .await
        .unwrap()
        .expect("a ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let kubeconfig: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(ready["admin_kubeconfig"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let token = kubeconfig["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    Binary {
        _child: child,
        _dir: dir,
        ready,
        token,
    }
}

impl Binary {
    fn admin(&self, path: &str) -> String {
        format!("{}{path}", self.ready["admin_url"].as_str().unwrap())
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.ready["url"].as_str().unwrap())
    }
}

#[tokio::test]
async fn the_binary_serves_faults_compaction_and_counters_on_its_admin_endpoint() {
    let binary = start_binary().await;
    let http = reqwest::Client::new();
    let settings: serde_json::Value =
        within(async { http.get(binary.admin("/faults")).send().await?.json().await })
            .await
            .unwrap();
    assert_eq!(
        settings,
        json!({"latencyMs": 0, "rules": [], "cutWatchesAfter": null})
    );

    let rule = json!({"rules": [{"verb": "get", "resource": "namespaces", "status": 429, "retryAfterSeconds": 7, "count": 1}]});
    let response = within(http.put(binary.admin("/faults")).json(&rule).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let get_default = || {
        within(
            http.get(binary.api("/api/v1/namespaces/default"))
                .bearer_auth(&binary.token)
                .send(),
        )
    };
    let throttled = get_default().await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    let status: serde_json::Value = within(throttled.json()).await.unwrap();
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(get_default().await.unwrap().status(), 200);
    let settings: serde_json::Value =
        within(async { http.get(binary.admin("/faults")).send().await?.json().await })
            .await
            .unwrap();
    assert_eq!(settings["rules"], json!([]), "the one-shot rule is spent");

    let refused = within(
        http.put(binary.admin("/faults"))
            .json(&json!({"rules": [{"status": 404}]}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    let five_hundred = json!({"rules": [{"verb": "list", "status": 503}]});
    within(http.put(binary.admin("/faults")).json(&five_hundred).send())
        .await
        .unwrap();
    let unavailable = within(
        http.get(binary.api("/api/v1/namespaces"))
            .bearer_auth(&binary.token)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(unavailable.status(), 503);
    within(http.put(binary.admin("/faults")).json(&json!({})).send())
        .await
        .unwrap();

    let stats: serde_json::Value =
        within(async { http.get(binary.admin("/stats")).send().await?.json().await })
            .await
            .unwrap();
    assert!(
        stats["requests"].as_array().unwrap().contains(
            &json!({"verb": "get", "resource": "namespaces", "user": "admin", "count": 2})
        ),
        "{stats}"
    );

    // After compaction, a watch resuming from an older resourceVersion gets ERROR 410.
    let list: serde_json::Value = within(async {
        http.get(binary.api("/api/v1/namespaces/default/configmaps"))
            .bearer_auth(&binary.token)
            .send()
            .await?
            .json()
            .await
    })
    .await
    .unwrap();
    let old = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    within(
        http.post(binary.api("/api/v1/namespaces/default/configmaps"))
            .bearer_auth(&binary.token)
            .json(&json!({"metadata": {"name": "bump"}}))
            .send(),
    )
    .await
    .unwrap();
    let compacted = within(http.post(binary.admin("/compact")).send())
        .await
        .unwrap();
    assert_eq!(compacted.status(), 200);
    let watch = within(
        http.get(binary.api(&format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old}&timeoutSeconds=5"
        )))
        .bearer_auth(&binary.token)
        .send(),
    )
    .await
    .unwrap();
    assert_eq!(watch.status(), 200);
    let text = within(watch.text()).await.unwrap();
    let event: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["object"]["code"].as_u64()),
        (Some("ERROR"), Some(410)),
        "{text}"
    );
}
