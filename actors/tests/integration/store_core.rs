//! StoreCore behaviour with a fake vault and paused time: caching, coalescing, budget, 429 pauses.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, ProviderError, PushRequest, RemoteKey, SecretBytes};
use akvsync_actors::store::{
    LimiterRegistry, Priority, StoreConfig, StoreCore, StoreMetrics, Tenant, VaultBudget,
};
use futures::future::join_all;
use support::{FakeVault, HOST};
use tokio::time::{Instant, timeout};

const TEST_TIMEOUT: Duration = Duration::from_secs(3600);

fn store(
    vault: &FakeVault,
    budget: VaultBudget,
    config: StoreConfig,
) -> (Arc<StoreCore<FakeVault>>, Arc<StoreMetrics>) {
    let metrics = Arc::new(StoreMetrics::unregistered().unwrap());
    let limiter = LimiterRegistry::new(budget).limiter(HOST);
    (
        Arc::new(StoreCore::new(
            vault.clone(),
            limiter,
            Arc::clone(&metrics),
            &config,
        )),
        metrics,
    )
}

fn secret(name: &str) -> RemoteKey {
    RemoteKey::new(ObjectKind::Secret, name, None)
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn concurrent_fetches_of_one_secret_make_one_call() {
    let vault = FakeVault::with(&[("db-password", "hunter2")]);
    let (store, metrics) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let fetches = (0..10).map(|_| {
        let store = Arc::clone(&store);
        async move {
            store
                .fetch(secret("db-password"), HOUR, Priority::Change.into())
                .await
        }
    });
    let results = timeout(TEST_TIMEOUT, join_all(fetches)).await.unwrap();
    for result in results {
        assert_eq!(result.unwrap().value.expose(), b"hunter2");
    }
    assert_eq!(vault.gets(), 1);
    assert_eq!(metrics.served_count(HOST, "loaded"), 1);
    assert_eq!(metrics.served_count(HOST, "coalesced"), 9);
}

#[tokio::test(start_paused = true)]
async fn a_cached_value_serves_requests_that_accept_its_age() {
    let vault = FakeVault::with(&[("a", "1")]);
    let (store, metrics) = store(&vault, VaultBudget::default(), StoreConfig::default());
    store
        .fetch(secret("a"), HOUR, Priority::Change.into())
        .await
        .unwrap();
    vault.set("a", "2");
    tokio::time::advance(Duration::from_secs(600)).await;
    assert_eq!(
        store
            .fetch(secret("a"), HOUR, Priority::Change.into())
            .await
            .unwrap()
            .value
            .expose(),
        b"1"
    );
    assert_eq!(metrics.served_count(HOST, "hit"), 1);
    // A requester that accepts at most 5 minutes of staleness gets the new value.
    assert_eq!(
        store
            .fetch(
                secret("a"),
                Duration::from_secs(300),
                Priority::Change.into()
            )
            .await
            .unwrap()
            .value
            .expose(),
        b"2"
    );
    assert_eq!(vault.gets(), 2);
}

#[tokio::test(start_paused = true)]
async fn errors_are_not_cached() {
    let vault = FakeVault::default();
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let missing = store
        .fetch(secret("later"), HOUR, Priority::Change.into())
        .await;
    assert!(
        matches!(missing, Err(ProviderError::NotFound { .. })),
        "{missing:?}"
    );
    vault.set("later", "now");
    assert_eq!(
        store
            .fetch(secret("later"), HOUR, Priority::Change.into())
            .await
            .unwrap()
            .value
            .expose(),
        b"now"
    );
}

#[tokio::test(start_paused = true)]
async fn calls_never_exceed_the_vault_budget() {
    let names: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    let vault = FakeVault::default();
    for name in &names {
        vault.set(name, "v");
    }
    let budget = VaultBudget {
        reads_per_10s: 100,
        writes_per_10s: 10,
        ..VaultBudget::default()
    };
    let (store, _) = store(&vault, budget, StoreConfig::default());
    let fetches = names.iter().map(|name| {
        let store = Arc::clone(&store);
        let key = secret(name);
        async move { store.fetch(key, HOUR, Priority::Change.into()).await }
    });
    for result in timeout(TEST_TIMEOUT, join_all(fetches)).await.unwrap() {
        result.unwrap();
    }
    let times = vault.state.call_times.lock().unwrap().clone();
    assert_eq!(times.len(), 300);
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|t| **t < *start + Duration::from_secs(10))
            .count();
        assert!(in_window <= 101, "{in_window} calls in one 10 s window");
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_the_vault_for_its_retry_after_then_succeeds() {
    let vault = FakeVault::with(&[("a", "1"), ("b", "2")]);
    let (store, metrics) = store(&vault, VaultBudget::default(), StoreConfig::default());
    vault.throttle(1, Some(Duration::from_secs(5)));
    let started = Instant::now();
    let (a, b) = tokio::join!(
        store.fetch(secret("a"), HOUR, Priority::Change.into()),
        store.fetch(secret("b"), HOUR, Priority::Change.into())
    );
    assert_eq!(a.unwrap().value.expose(), b"1");
    assert_eq!(b.unwrap().value.expose(), b"2");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(metrics.pause_count(HOST), 1);
    assert_eq!(metrics.request_count(HOST, "get", "throttled"), 1);
    // No call reached the vault during the pause.
    let times = vault.state.call_times.lock().unwrap().clone();
    let after_429 = times
        .iter()
        .filter(|t| **t > started + Duration::from_millis(20))
        .collect::<Vec<_>>();
    assert!(
        after_429
            .iter()
            .all(|t| **t >= started + Duration::from_secs(5)),
        "{times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttle_storm_gives_up_with_a_throttled_error_after_bounded_retries() {
    let vault = FakeVault::with(&[("a", "1")]);
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    vault.throttle(100, None);
    let result = timeout(
        TEST_TIMEOUT,
        store.fetch(secret("a"), HOUR, Priority::Change.into()),
    )
    .await
    .unwrap();
    assert!(
        matches!(result, Err(ProviderError::Throttled { .. })),
        "{result:?}"
    );
    assert_eq!(vault.gets(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_push_invalidates_the_cached_value() {
    let vault = FakeVault::with(&[("a", "old")]);
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    store
        .fetch(secret("a"), HOUR, Priority::Change.into())
        .await
        .unwrap();
    let push = PushRequest {
        key: secret("a"),
        value: SecretBytes::from("new"),
        content_type: None,
        tags: Default::default(),
        expires: None,
    };
    store.push(push, Tenant::default()).await.unwrap();
    assert_eq!(
        store
            .fetch(secret("a"), HOUR, Priority::Change.into())
            .await
            .unwrap()
            .value
            .expose(),
        b"new"
    );
}

#[tokio::test(start_paused = true)]
async fn a_list_walks_every_page_once_and_is_cached() {
    let vault = FakeVault::with(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let (first, second) = tokio::join!(
        store.list(ObjectKind::Secret, HOUR, Priority::Change.into()),
        store.list(ObjectKind::Secret, HOUR, Priority::Change.into())
    );
    let names: Vec<_> = first
        .unwrap()
        .iter()
        .map(|item| item.name.clone())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(second.unwrap().len(), 5);
    assert_eq!(vault.gets(), 3, "three pages, one walk");
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn a_listing_serves_requests_while_at_most_a_tenth_of_their_age() {
    let vault = FakeVault::with_updates(&[("a", "1")]);
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let list = || store.list(ObjectKind::Secret, MINUTE, Priority::Refresh.into());
    list().await.unwrap();
    assert_eq!(vault.lists(), 1);
    tokio::time::advance(Duration::from_secs(5)).await;
    list().await.unwrap();
    assert_eq!(vault.lists(), 1, "5 s old: within a tenth of a minute");
    tokio::time::advance(Duration::from_secs(2)).await;
    list().await.unwrap();
    assert_eq!(vault.lists(), 2, "7 s old: listed again");
}

/// Fetches every name as a refresh with a one-minute interval would; returns the values.
async fn refresh(store: &StoreCore<FakeVault>, names: &[&str]) -> Vec<String> {
    let mut values = Vec::new();
    for name in names {
        let value = store
            .fetch(secret(name), MINUTE, Priority::Refresh.into())
            .await
            .unwrap();
        values.push(String::from_utf8(value.value.expose().to_vec()).unwrap());
    }
    values
}

#[tokio::test(start_paused = true)]
async fn stale_secrets_the_listing_shows_unchanged_are_served_without_a_get() {
    let vault = FakeVault::with_updates(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let (store, metrics) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let names = ["a", "b", "c"];
    assert_eq!(refresh(&store, &names).await, ["1", "2", "3"]);
    let gets = |vault: &FakeVault| vault.gets() - vault.lists();
    assert_eq!((gets(&vault), vault.lists()), (3, 0));

    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    assert_eq!(refresh(&store, &names).await, ["1", "2", "3"]);
    assert_eq!(gets(&vault), 3, "no GET: the listing shows nothing changed");
    assert_eq!(
        vault.lists(),
        2,
        "one listing of two pages serves every secret"
    );
    assert_eq!(metrics.served_count(HOST, "revalidated"), 3);

    vault.set("b", "changed");
    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    assert_eq!(refresh(&store, &names).await, ["1", "changed", "3"]);
    assert_eq!(gets(&vault), 4, "only the changed secret is read");

    // Pinned versions are never revalidated by a listing.
    let pinned = RemoteKey::new(ObjectKind::Secret, "a", Some("v1".into()));
    store
        .fetch(pinned.clone(), MINUTE, Priority::Refresh.into())
        .await
        .unwrap();
    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    store
        .fetch(pinned, MINUTE, Priority::Refresh.into())
        .await
        .unwrap();
    assert_eq!(gets(&vault), 6);
}

#[tokio::test(start_paused = true)]
async fn without_list_permission_stale_secrets_are_read_one_by_one() {
    let vault = FakeVault::with_updates(&[("a", "1"), ("b", "2")]);
    vault
        .state
        .deny_list
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (store, metrics) = store(&vault, VaultBudget::default(), StoreConfig::default());
    let names = ["a", "b"];
    refresh(&store, &names).await;
    for _ in 0..2 {
        tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
        assert_eq!(refresh(&store, &names).await, ["1", "2"]);
    }
    assert_eq!(vault.lists(), 1, "one 403 and the store stops listing");
    assert_eq!(metrics.request_count(HOST, "list", "forbidden"), 1);
    assert_eq!(vault.gets() - vault.lists(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_secret_changed_just_before_its_read_is_read_again() {
    let vault = FakeVault::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Changed this very second: a later change in the same second would keep `updated`.
    *vault.state.updated.lock().unwrap() = Some([("a".to_owned(), now)].into());
    vault
        .state
        .values
        .lock()
        .unwrap()
        .insert("a".into(), "1".into());
    let (store, _) = store(&vault, VaultBudget::default(), StoreConfig::default());
    refresh(&store, &["a"]).await;
    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    refresh(&store, &["a"]).await;
    assert_eq!((vault.gets(), vault.lists()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_denied_listing_is_asked_again_after_a_pause() {
    let vault = FakeVault::with_updates(&[("a", "1"), ("b", "2")]);
    let deny = |denied: bool| {
        vault
            .state
            .deny_list
            .store(denied, std::sync::atomic::Ordering::SeqCst)
    };
    deny(true);
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = StoreCore::new(
        vault.clone(),
        LimiterRegistry::new(VaultBudget::default()).limiter(HOST),
        Arc::new(StoreMetrics::unregistered().unwrap()),
        &StoreConfig::default(),
    )
    .with_listing_observer({
        let told = Arc::clone(&told);
        Arc::new(move |allowed| told.lock().unwrap().push(allowed))
    });
    let names = ["a", "b"];
    refresh(&store, &names).await;
    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    refresh(&store, &names).await;
    assert_eq!(vault.lists(), 1, "the 403");
    assert_eq!(*told.lock().unwrap(), [false], "the store is told once");
    // The permission is granted; the store asks again once the pause is over.
    deny(false);
    tokio::time::advance(akvsync_actors::store::core::LISTING_DENIED_FOR).await;
    let gets = vault.gets() - vault.lists();
    assert_eq!(refresh(&store, &names).await, ["1", "2"]);
    assert_eq!(vault.lists(), 2, "listed again");
    assert_eq!(
        vault.gets() - vault.lists(),
        gets,
        "and the listing spared the GETs"
    );
    tokio::time::advance(MINUTE + Duration::from_secs(1)).await;
    refresh(&store, &names).await;
    assert_eq!(
        *told.lock().unwrap(),
        [false, true],
        "and told once it may list again"
    );
}
