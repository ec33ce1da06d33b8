//! Micro-benchmarks of the hot paths (criterion): a cache hit, a coalesced fetch, a limiter
//! acquire, building and hashing a target Secret, and rendering a template.
//!
//! `cargo bench --bench micro` (add `-- --quick` for a short run).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use akvsync::sync::hash::data_hash;
use akvsync::sync::target::{TemplateSources, desired_secret};
use akvsync::sync::{BuildOptions, Fetched, build, plan};
use akvsync_actors::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue,
    SecretBytes,
};
use akvsync_actors::store::{
    Access, Priority, SingleFlightCache, StoreConfig, StoreCore, StoreMetrics, VaultBudget,
    VaultLimiter,
};
use akvsync_crds::{DeletionPolicy, ExternalSecret};
use criterion::{Criterion, criterion_group, criterion_main};

/// Concurrent identical fetches in the coalescing benchmark.
const CONCURRENT_FETCHES: usize = 64;

/// A vault that answers at once, so the benchmarks measure the store's own work.
struct InstantVault;

impl KeyVault for InstantVault {
    fn vault_host(&self) -> &str {
        "bench.vault.localhost"
    }

    async fn get(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        // Yield once, as a real call would, so concurrent requests overlap.
        tokio::task::yield_now().await;
        Ok(RemoteValue {
            value: SecretBytes::from(key.name.as_str()),
            enabled: true,
            ..RemoteValue::default()
        })
    }

    async fn list_page(
        &self,
        _kind: ObjectKind,
        _page: Option<String>,
    ) -> Result<(Vec<RemoteItem>, Option<String>), ProviderError> {
        Ok((Vec::new(), None))
    }

    async fn push(&self, _request: &PushRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn delete(&self, _key: &RemoteKey) -> Result<(), ProviderError> {
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A budget so large that acquiring never waits: the benchmark measures the bookkeeping.
fn unbounded_budget() -> VaultBudget {
    VaultBudget {
        reads_per_10s: u32::MAX / 2,
        writes_per_10s: u32::MAX / 2,
        in_flight: u32::MAX / 2,
    }
}

fn store_core() -> StoreCore<InstantVault> {
    StoreCore::new(
        InstantVault,
        Arc::new(VaultLimiter::new(
            "bench.vault.localhost",
            unbounded_budget(),
        )),
        Arc::new(StoreMetrics::unregistered().expect("store metrics")),
        &StoreConfig::default(),
    )
}

fn cache(c: &mut Criterion) {
    let runtime = runtime();
    let cache: SingleFlightCache<String, Arc<Vec<u8>>, String> =
        SingleFlightCache::new(1 << 20, Duration::from_secs(3600), |value| {
            value.len() as u32
        });
    let key = "db-password".to_owned();
    runtime.block_on(async {
        let _ = cache
            .get_or_load(key.clone(), Duration::MAX, async {
                Ok(Arc::new(vec![7; 64]))
            })
            .await;
    });
    c.bench_function("single_flight_cache/hit", |b| {
        b.to_async(&runtime).iter(|| async {
            let (value, _) = cache
                .get_or_load(key.clone(), Duration::MAX, async {
                    Err("not cached".to_owned())
                })
                .await;
            black_box(value)
        });
    });

    let core = store_core();
    let remote = RemoteKey::new(ObjectKind::Secret, "db-password", None);
    runtime.block_on(async {
        let _ = core
            .fetch(remote.clone(), Duration::MAX, Priority::Refresh.into())
            .await;
    });
    c.bench_function("store_core/fetch_cache_hit", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                core.fetch(remote.clone(), Duration::MAX, Priority::Refresh.into())
                    .await,
            )
        });
    });
    c.bench_function("store_core/fetch_64_coalesced", |b| {
        b.to_async(&runtime).iter(|| async {
            core.clear();
            let fetches = (0..CONCURRENT_FETCHES)
                .map(|_| core.fetch(remote.clone(), Duration::MAX, Priority::Refresh.into()));
            black_box(futures::future::join_all(fetches).await)
        });
    });
}

fn limiter(c: &mut Criterion) {
    let runtime = runtime();
    let limiter =
        runtime.block_on(async { VaultLimiter::new("bench.vault.localhost", unbounded_budget()) });
    c.bench_function("vault_limiter/acquire", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                limiter
                    .acquire(Access::Read, &Priority::Refresh.into())
                    .await,
            )
        });
    });
}

fn external_secret(items: usize) -> ExternalSecret {
    let data: Vec<_> = (0..items)
        .map(|index| serde_json::json!({"secretKey": format!("item-{index}"), "remoteRef": {"key": format!("s-{index:05}")}}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "team-a", "uid": "0b5c1b4e-0000-4000-8000-000000000001"},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
            "target": {"name": "app", "creationPolicy": "Owner"},
            "data": data,
        },
    }))
    .expect("a valid ExternalSecret")
}

fn target_secret(c: &mut Criterion) {
    let es = external_secret(5);
    let fetched = Fetched {
        data: (0..5)
            .map(|index| {
                Ok(Arc::new(RemoteValue {
                    value: SecretBytes::from(format!("value-{index}-{}", "x".repeat(48)).as_str()),
                    enabled: true,
                    ..RemoteValue::default()
                }))
            })
            .collect(),
        data_from: Vec::new(),
    };
    let options = BuildOptions {
        deletion_policy: DeletionPolicy::Retain,
        azure_sdk_stores: &[],
    };
    let sources = TemplateSources::new();
    c.bench_function("target_secret/plan_build_desired_hash_5_items", |b| {
        b.iter(|| {
            let plan = plan(&es.spec).expect("a valid plan");
            let built = build(&plan, &fetched, options).expect("built data");
            let desired = desired_secret(&es, built.data, &sources).expect("a desired Secret");
            black_box(data_hash(&desired.data))
        });
    });
}

fn template(c: &mut Criterion) {
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    data.insert("user".into(), b"admin".to_vec());
    data.insert("password".into(), b"correct horse battery staple".to_vec());
    data.insert("host".into(), b"db.example.internal".to_vec());
    let text = "postgres://{{ .user }}:{{ .password | urlquery }}@{{ .host | lower }}:5432/app?sslmode=require";
    c.bench_function("template/render_connection_string", |b| {
        b.iter(|| black_box(akvsync_template::render(text, &data).expect("rendered")));
    });
}

criterion_group!(benches, cache, limiter, target_secret, template);
criterion_main!(benches);
