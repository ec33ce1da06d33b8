//! A full sync and push with every log line captured at trace level: no seeded secret value,
//! credential or key material may appear in any of them.

#[path = "integration/operator_world/mod.rs"]
mod operator_world;

use std::io::Write;
use std::sync::{Arc, Mutex};

use akvsync::observability::LogFormat;
use akvsync::observability::logging::subscriber;
use operator_world::{CLIENT_SECRET, NAMESPACE, World, external_secret_yaml};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_value_reaches_a_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let logs = subscriber(LogFormat::Json, "trace", false, move || writer.clone()).unwrap();
    tracing::subscriber::set_global_default(logs).expect("the only subscriber of this test binary");

    let mut world = World::new().await;
    let values = ["vault-value-4f1c", "pushed-value-9d2e", "json-inner-77aa"];
    world.set_secret("plain", values[0]);
    world.set_secret("json", &format!(r#"{{"inner":"{}"}}"#, values[2]));
    world
        .secret(NAMESPACE, "to-push", &[("v", values[1])])
        .await;
    world.start_operator().await;
    let mut es = external_secret_yaml(NAMESPACE, "reader", "1s", &[("plain", "plain")]);
    es.push_str(
        "    - secretKey: inner\n      remoteRef:\n        key: json\n        property: inner\n",
    );
    world.apply_yaml(&es).await;
    world.apply_yaml(&format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata:\n  name: pusher\n  namespace: {NAMESPACE}\nspec:\n  refreshInterval: 1s\n  secretStoreRefs:\n    - name: vault\n  selector:\n    secret:\n      name: to-push\n  data:\n    - match:\n        secretKey: v\n        remoteRef:\n          remoteKey: pushed\n"
    ))
    .await;
    // A failing sync logs its error too.
    world
        .apply_yaml(
            &external_secret_yaml(NAMESPACE, "broken", "1s", &[("x", "json")])
                .replace("key: json", "key: json\n        property: missing"),
        )
        .await;
    world
        .wait_for_value(NAMESPACE, "reader", "inner", values[2])
        .await;
    world.wait_for_ready(NAMESPACE, "broken", "False").await;
    operator_world::eventually("the push", || async {
        world
            .azure
            .stats()
            .operation(operator_world::VAULT, "SetSecret")
            .gt(&0)
            .then_some(())
    })
    .await;
    world.stop_operator();

    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        text.lines().count() > 20,
        "the operator logged at trace level"
    );
    for secret in values.iter().chain([&CLIENT_SECRET]) {
        assert!(!text.contains(secret), "a log line holds {secret}");
    }
}
