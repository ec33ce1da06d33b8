//! kubectl 1.32 against the emulator: apply (client- and server-side, and every document of
//! `examples/`), get with printer columns, get -w, describe with events, patch, delete with a
//! finalizer, explain, and the `/openapi/v2` kubectl falls back to. Fails when kubectl is not
//! installed.

use crate::kube_common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use akvsync_emulators::kubeapi::KubeEmulator;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::wait::{await_condition, conditions};
use kube_common::{install_widget_crd, start, widgets, within};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Fails the test, saying how to fix it, when kubectl is not on PATH: a missing tool never
/// turns into a silent pass.
fn require_kubectl() {
    let installed = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        installed,
        "kubectl is not on PATH: these tests drive the real kubectl 1.32 (scripts/test checks for it)"
    );
}

struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn new(emulator: &KubeEmulator) -> Self {
        Self {
            kubeconfig: emulator
                .kubeconfig_path(emulator.admin_user())
                .unwrap()
                .to_path_buf(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, arguments: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(arguments)
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl and returns stdout, failing the test with stderr when it fails.
    async fn run(&self, arguments: &[&str]) -> String {
        let output = within(self.command(arguments).output())
            .await
            .expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "kubectl {arguments:?} failed:\n{stdout}\n{stderr}"
        );
        assert!(
            !stderr.contains("warning") && !stderr.contains("error"),
            "kubectl {arguments:?} complained:\n{stderr}"
        );
        stdout
    }
}

fn write(directory: &Path, name: &str, text: &str) -> String {
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn widget_yaml(name: &str, size: u32) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  size: {size}\n  tags: [a, b]\n"
    )
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/integration/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[tokio::test]
async fn kubectl_applies_gets_watches_describes_patches_deletes_and_explains() {
    require_kubectl();
    let emulator = start().await;
    let kubectl = Kubectl::new(&emulator);
    let files = tempfile::tempdir().unwrap();

    let output = kubectl
        .run(&["apply", "-f", &fixture("widgets-crd.yaml")])
        .await;
    assert_eq!(
        output.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    );
    let crd_output = kubectl.run(&["get", "crd"]).await;
    assert!(
        crd_output.starts_with("NAME")
            && crd_output.contains("CREATED AT")
            && crd_output.contains("widgets.example.com"),
        "{crd_output}"
    );

    let first = write(files.path(), "w1.yaml", &widget_yaml("w1", 3));
    assert_eq!(
        kubectl.run(&["apply", "-f", &first]).await.trim(),
        "widget.example.com/w1 created"
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &first]).await.trim(),
        "widget.example.com/w1 unchanged"
    );
    let first = write(files.path(), "w1.yaml", &widget_yaml("w1", 4));
    assert_eq!(
        kubectl.run(&["apply", "-f", &first]).await.trim(),
        "widget.example.com/w1 configured"
    );
    let second = write(files.path(), "w2.yaml", &widget_yaml("w2", 7));
    assert_eq!(
        kubectl
            .run(&["apply", "--server-side", "-f", &second])
            .await
            .trim(),
        "widget.example.com/w2 serverside-applied"
    );
    assert_eq!(
        kubectl
            .run(&["apply", "--server-side", "-f", &first])
            .await
            .trim(),
        "widget.example.com/w1 serverside-applied"
    );
    let api = widgets(&emulator.client(), "default");
    let w1 = within(api.get("w1")).await.unwrap();
    assert_eq!(w1.data["spec"]["size"], 4);
    assert!(
        w1.metadata
            .annotations
            .unwrap()
            .contains_key("kubectl.kubernetes.io/last-applied-configuration")
    );
    let managers: Vec<String> = within(api.get("w2"))
        .await
        .unwrap()
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|entry| entry.manager)
        .collect();
    assert_eq!(managers, vec!["kubectl"]);

    let table = kubectl.run(&["get", "widgets"]).await;
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], vec!["NAME", "SIZE", "MODE", "READY", "AGE"]);
    assert_eq!(&lines[1][..3], &["w1", "4", "Fast"]);
    assert_eq!(&lines[2][..3], &["w2", "7", "Fast"]);
    let status =
        Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
    within(api.patch_status("w1", &PatchParams::default(), &status))
        .await
        .unwrap();
    let short = kubectl.run(&["get", "wg", "w1", "--no-headers"]).await;
    assert_eq!(
        &short.split_whitespace().collect::<Vec<_>>()[..4],
        &["w1", "4", "Fast", "True"]
    );
    assert_eq!(
        kubectl
            .run(&["get", "examples", "-o", "name"])
            .await
            .lines()
            .count(),
        2,
        "the category lists widgets"
    );

    let mut watch = kubectl
        .command(&["get", "widgets", "-w", "--request-timeout=30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut watched = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut initial = Vec::new();
    while initial.len() < 3 {
        initial.push(
            within(watched.next_line())
                .await
                .unwrap()
                .expect("watch output"),
        );
    }
    assert!(initial[0].starts_with("NAME"), "{initial:?}");
    within(api.patch(
        "w2",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 8}})),
    ))
    .await
    .unwrap();
    let changed = within(watched.next_line())
        .await
        .unwrap()
        .expect("watch event");
    assert_eq!(
        &changed.split_whitespace().collect::<Vec<_>>()[..3],
        &["w2", "8", "Fast"]
    );
    within(watch.kill()).await.unwrap();

    let recorder = Recorder::new(
        emulator.client(),
        Reporter {
            controller: "akvsync".into(),
            instance: None,
        },
    );
    let reference = kube::Resource::object_ref(
        &within(api.get("w1")).await.unwrap(),
        &kube_common::widget_resource(),
    );
    let event = Event {
        type_: EventType::Warning,
        reason: "SyncFailed".into(),
        note: Some("vault unreachable".into()),
        action: "Sync".into(),
        secondary: None,
    };
    within(recorder.publish(&event, &reference)).await.unwrap();
    let described = kubectl.run(&["describe", "widget", "w1"]).await;
    assert!(described.contains("Name:         w1"), "{described}");
    assert!(described.contains("Size:  4"), "{described}");
    let events_section = described
        .split("Events:")
        .nth(1)
        .expect("an Events section");
    assert!(
        events_section.contains("Warning")
            && events_section.contains("SyncFailed")
            && events_section.contains("vault unreachable"),
        "{described}"
    );
    assert!(events_section.contains("akvsync"), "{described}");

    assert_eq!(
        kubectl
            .run(&[
                "patch",
                "widget",
                "w1",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"mode":"Slow"}}"#
            ])
            .await
            .trim(),
        "widget.example.com/w1 patched"
    );
    let error = kubectl
        .command(&[
            "patch",
            "widget",
            "w1",
            "-p",
            r#"{"spec":{"mode":"Medium"}}"#,
            "--type",
            "merge",
        ])
        .output();
    let error = within(error).await.unwrap();
    assert!(!error.status.success());
    assert!(String::from_utf8_lossy(&error.stderr).contains("Unsupported value: \"Medium\""));
    assert_eq!(
        within(api.get("w1")).await.unwrap().data["spec"]["mode"],
        "Slow"
    );

    kubectl
        .run(&[
            "patch",
            "widget",
            "w1",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/metadata/finalizers","value":["example.com/hold"]}]"#,
        ])
        .await;
    assert_eq!(
        kubectl
            .run(&["delete", "widget", "w1", "--wait=false"])
            .await
            .trim(),
        "widget.example.com \"w1\" deleted"
    );
    let terminating = within(api.get("w1")).await.expect("held by its finalizer");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    kubectl
        .run(&[
            "patch",
            "widget",
            "w1",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .await;
    within(await_condition(
        api.clone(),
        "w1",
        conditions::is_deleted(terminating.metadata.uid.as_deref().unwrap()),
    ))
    .await
    .unwrap();

    let explained = kubectl.run(&["explain", "widgets.spec"]).await;
    assert!(
        explained.contains("KIND:       Widget") && explained.contains("How big the widget is."),
        "{explained}"
    );
    assert!(explained.contains("enum: Fast, Slow"), "{explained}");

    let secret = write(
        files.path(),
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\nstringData:\n  user: me\n",
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &secret]).await.trim(),
        "secret/creds created"
    );
    let secret = write(
        files.path(),
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\nstringData:\n  user: you\n",
    );
    assert_eq!(
        kubectl.run(&["apply", "-f", &secret]).await.trim(),
        "secret/creds configured"
    );
    let secrets = kubectl.run(&["get", "secrets"]).await;
    assert_eq!(
        secrets
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>(),
        vec!["creds", "Opaque", "1"]
    );
    let decoded = kubectl
        .run(&["get", "secret", "creds", "-o", "jsonpath={.data.user}"])
        .await;
    assert_eq!(decoded, "eW91");
}

#[tokio::test]
async fn kubectl_installs_the_generated_eso_crds_when_present() {
    require_kubectl();
    let crds_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let files: Vec<PathBuf> = std::fs::read_dir(&crds_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !files.is_empty(),
        "no generated CRDs in {}: run `cargo run -p akvsync-crds --example crdgen`",
        crds_dir.display()
    );
    let emulator = start().await;
    let kubectl = Kubectl::new(&emulator);
    for file in &files {
        kubectl
            .run(&["apply", "-f", &file.display().to_string()])
            .await;
        kubectl
            .run(&["apply", "--server-side", "-f", &file.display().to_string()])
            .await;
    }
    let resources = kubectl
        .run(&[
            "api-resources",
            "--api-group=external-secrets.io",
            "--no-headers",
        ])
        .await;
    assert!(
        resources
            .lines()
            .any(|line| line.starts_with("externalsecrets ")),
        "{resources}"
    );
    let store: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "vault"},
        "spec": {"provider": {"azurekv": {"vaultUrl": "https://example.vault.azure.net", "authType": "ManagedIdentity"}}},
    }))
    .unwrap();
    let discovered = within(kube::discovery::Discovery::new(emulator.client()).run())
        .await
        .unwrap();
    let (resource, _) = discovered
        .get("external-secrets.io")
        .unwrap()
        .recommended_kind("SecretStore")
        .unwrap();
    let stores: Api<DynamicObject> = Api::namespaced_with(emulator.client(), "default", &resource);
    within(stores.create(&Default::default(), &store))
        .await
        .unwrap();
    let header = kubectl.run(&["get", "secretstores"]).await;
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&["NAME", "AGE", "STATUS"]),
        "{header}"
    );
}

#[tokio::test]
async fn openapi_v2_is_served_as_json_or_protobuf_and_refused_otherwise() {
    let emulator = start().await;
    install_widget_crd(&emulator.client()).await;
    let get = |accept: &'static str| {
        let client = emulator.client();
        async move {
            let request = hyper::Request::get("/openapi/v2")
                .header("accept", accept)
                .body(kube::client::Body::from(Vec::new()))
                .unwrap();
            let response = within(client.send(request)).await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = within(response.into_body().collect_bytes()).await.unwrap();
            (status, content_type, body)
        }
    };
    let (status, content_type, body) = get("application/json").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(document["swagger"], "2.0");
    let widget = &document["definitions"]["com.example.v1.Widget"];
    assert_eq!(
        widget["x-kubernetes-group-version-kind"],
        json!([{"group": "example.com", "version": "v1", "kind": "Widget"}])
    );
    let patch =
        &document["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|parameter| parameter["name"] == "fieldValidation"),
        "{patch}"
    );

    let (status, content_type, body) =
        get("application/com.github.proto-openapi.spec.v2@v1.0+protobuf").await;
    assert_eq!(
        (status, content_type.as_str()),
        (
            200,
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        )
    );
    // gnostic Document: field 1 (swagger) = "2.0" first.
    assert_eq!(&body[..5], b"\x0a\x032.0");

    let (status, _, _) = get("text/html").await;
    assert_eq!(status, 406);
}

#[tokio::test]
async fn kubectl_applies_every_example_document_the_world_can_serve() {
    require_kubectl();
    let emulator = start().await;
    let kubectl = Kubectl::new(&emulator);
    let root = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap();
    kubectl
        .run(&[
            "apply",
            "-f",
            &root
                .join("crds/external-secrets.io.yaml")
                .display()
                .to_string(),
        ])
        .await;
    let examples = root.join("examples");
    let documents: usize = std::fs::read_dir(&examples)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .map(|text| text.lines().filter(|line| *line == "---").count() + 1)
        .sum();
    let output = within(
        kubectl
            .command(&["apply", "-f", &examples.display().to_string()])
            .output(),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // As on a real 1.32 server without cert-manager: only the cert-manager Certificate fails,
    // and the PushSecret that shares its file is applied.
    assert_eq!(
        stderr.trim(),
        "error: resource mapping not found for name: \"dummy-certificate\" namespace: \"\" from \""
            .to_owned()
            + &examples
                .join("azkv-pushsecret-certificate-cert-manager.yaml")
                .display()
                .to_string()
            + "\": no matches for kind \"Certificate\" in version \"cert-manager.io/v1\"\nensure CRDs are installed first",
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), documents - 1, "{stdout}");
    assert!(
        stdout.contains(
            "pushsecret.external-secrets.io/pushsecret-certificate-cert-manager-example created"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .all(|line| line.ends_with(" created") || line.ends_with(" unchanged")),
        "{stdout}"
    );
}

#[tokio::test]
async fn kubectl_auth_whoami_can_i_and_impersonation_follow_rbac() {
    require_kubectl();
    let emulator = kube_common::start_with(akvsync_emulators::kubeapi::KubeConfig {
        extra_users: vec!["alice".into()],
        ..Default::default()
    })
    .await;
    let admin = Kubectl::new(&emulator);
    let whoami = admin.run(&["auth", "whoami"]).await;
    assert!(
        whoami.contains("Username    admin")
            && whoami.contains("Groups      [system:masters system:authenticated]"),
        "{whoami}"
    );
    let as_alice = admin
        .run(&["auth", "whoami", "--as", "alice", "--as-group", "devs"])
        .await;
    assert!(
        as_alice.contains("Username    alice")
            && as_alice.contains("Groups      [devs system:authenticated]"),
        "{as_alice}"
    );

    // --as runs as alice, with alice's rights, not the admin's.
    let refused = within(admin.command(&["get", "secrets", "--as", "alice"]).output())
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        "Error from server (Forbidden): secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let can_i = |arguments: &'static [&'static str]| {
        let command = admin.command(arguments);
        async move {
            let mut command = command;
            let output = within(command.output()).await.unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            )
        }
    };
    let list_secrets_as_alice: &[&str] = &["auth", "can-i", "list", "secrets", "--as", "alice"];
    assert_eq!(can_i(list_secrets_as_alice).await, (Some(1), "no".into()));

    let files = tempfile::tempdir().unwrap();
    let rbac = write(
        files.path(),
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: default}\nrules: [{apiGroups: [''], resources: [secrets], verbs: [get, list]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: alice-reads, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\nsubjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]\n",
    );
    admin.run(&["apply", "-f", &rbac]).await;
    assert_eq!(can_i(list_secrets_as_alice).await, (Some(0), "yes".into()));
    assert_eq!(
        can_i(&["auth", "can-i", "delete", "secrets", "--as", "alice"]).await,
        (Some(1), "no".into())
    );
    assert_eq!(
        admin.run(&["get", "secrets", "--as", "alice"]).await.trim(),
        ""
    );

    // Impersonating needs the impersonate verb, which alice lacks.
    let alice = Kubectl {
        kubeconfig: emulator.kubeconfig_path("alice").unwrap().to_path_buf(),
        cache: tempfile::tempdir().unwrap(),
    };
    let escalation = within(
        alice
            .command(&["get", "namespaces", "--as", "admin"])
            .output(),
    )
    .await
    .unwrap();
    assert!(!escalation.status.success());
    assert!(
        String::from_utf8_lossy(&escalation.stderr).contains("Error from server (Forbidden)"),
        "{}",
        String::from_utf8_lossy(&escalation.stderr)
    );
    let kubeconfig =
        kube::config::Kubeconfig::read_from(emulator.kubeconfig_path("alice").unwrap()).unwrap();
    let mut config = within(kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &Default::default(),
    ))
    .await
    .unwrap();
    config.auth_info.impersonate = Some("admin".into());
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
        Api::all(kube::Client::try_from(config).unwrap());
    match within(namespaces.list(&Default::default())).await {
        Err(kube::Error::Api(status)) => assert_eq!(
            (status.code, status.message.as_str()),
            (
                403,
                "users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
            )
        ),
        other => panic!("expected 403, got {other:?}"),
    }
}

/// kubectl 1.32 sends built-in kinds as protobuf (client-go's typed clients) and reads protobuf
/// answers: the objects it creates read back as the JSON a real API server keeps, defaults
/// included; a body in a media type the API server does not take is refused with 415.
#[tokio::test]
async fn kubectl_creates_built_in_kinds_sent_as_protobuf() {
    require_kubectl();
    let emulator = start().await;
    let kubectl = Kubectl::new(&emulator);
    kubectl.run(&["create", "namespace", "team-p"]).await;
    kubectl
        .run(&[
            "create",
            "secret",
            "generic",
            "db",
            "-n",
            "team-p",
            "--from-literal=password=s3cret",
        ])
        .await;
    kubectl
        .run(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "team-p",
            "--from-literal=mode=fast",
        ])
        .await;
    kubectl
        .run(&["create", "serviceaccount", "syncer", "-n", "team-p"])
        .await;
    let token = kubectl
        .run(&[
            "create",
            "token",
            "syncer",
            "-n",
            "team-p",
            "--duration=10m",
            "--audience=vault",
        ])
        .await;
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");

    let secret: serde_json::Value = serde_json::from_str(
        &kubectl
            .run(&["get", "secret", "db", "-n", "team-p", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(secret["type"], "Opaque", "defaulted as an empty type is");
    assert_eq!(secret["data"], json!({"password": "czNjcmV0"}));
    assert!(secret["metadata"].get("generateName").is_none(), "{secret}");
    let config: serde_json::Value = serde_json::from_str(
        &kubectl
            .run(&["get", "configmap", "settings", "-n", "team-p", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(config["data"], json!({"mode": "fast"}));
    let namespace = kubectl
        .run(&[
            "get",
            "namespace",
            "team-p",
            "-o",
            "jsonpath={.status.phase}",
        ])
        .await;
    assert_eq!(namespace, "Active");

    // Asked first for protobuf, as client-go's typed clients ask, the server answers protobuf
    // (kubectl's create commands above read those answers).
    let request = hyper::Request::get("/api/v1/namespaces/team-p/secrets/db")
        .header(
            "accept",
            "application/vnd.kubernetes.protobuf,application/json",
        )
        .body(kube::client::Body::empty())
        .unwrap();
    let answer = emulator.client().send(request).await.unwrap();
    assert_eq!(
        answer.headers()["content-type"],
        "application/vnd.kubernetes.protobuf"
    );
    let bytes = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(bytes.starts_with(b"k8s\0"), "the protobuf envelope");
    assert!(
        bytes
            .windows(b"s3cret".len())
            .any(|window| window == b"s3cret"),
        "the Secret's data"
    );

    let request = hyper::Request::post("/api/v1/namespaces/team-p/configmaps")
        .header("content-type", "text/plain")
        .body(b"data: x".to_vec())
        .unwrap();
    match emulator.client().request_text(request).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (415, "UnsupportedMediaType")
            );
        }
        other => panic!("a text/plain body was not refused with 415: {other:?}"),
    }
}
