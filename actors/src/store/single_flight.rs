//! A cache whose loads are single-flight: concurrent requests for one key share one remote call,
//! and a cached value serves every request that accepts its age.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

/// How a request was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// From the cache, no remote call.
    Hit,
    /// Joined a remote call another request had started.
    Coalesced,
    /// Made the remote call.
    Loaded,
    /// A stale cached value that a listing proved unchanged, instead of a GET.
    Revalidated,
}

#[derive(Clone)]
struct Entry<V> {
    value: V,
    /// When the load that returned the value started: the value is current as of then. (A
    /// multi-page listing that took 20 s may show a page as it was 20 s before it finished.)
    loaded_at: Instant,
}

type Flight<V, E> = Shared<BoxFuture<'static, Result<Entry<V>, E>>>;

/// A load in progress and when it started.
struct Running<V, E> {
    flight: Flight<V, E>,
    started: Instant,
    /// Tells this load from a later one for the same key.
    id: u64,
}

/// Single-flight loads in front of a size- and time-bounded moka cache. Only successes are cached:
/// an error is shared by the requests that joined its flight and then forgotten.
pub struct SingleFlightCache<K, V, E> {
    cache: moka::sync::Cache<K, Entry<V>>,
    flights: Arc<Mutex<HashMap<K, Running<V, E>>>>,
    next_id: AtomicU64,
}

impl<K, V, E> SingleFlightCache<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// A cache that holds at most `max_weight` (as `weigher` counts it) for at most `ttl`.
    pub fn new(max_weight: u64, ttl: Duration, weigher: fn(&V) -> u32) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_weight)
            .time_to_live(ttl)
            .weigher(move |_key: &K, entry: &Entry<V>| weigher(&entry.value))
            .build();
        Self {
            cache,
            flights: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }

    /// The cached value if it is at most `max_age` old; else the result of the running load for
    /// `key`, or of `load` started now.
    pub async fn get_or_load<F>(&self, key: K, max_age: Duration, load: F) -> (Result<V, E>, Served)
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let (result, served) = self.get_or_load_timed(key, max_age, load).await;
        (result.map(|(value, _)| value), served)
    }

    /// As [`Self::get_or_load`], with when the value returned was loaded.
    pub async fn get_or_load_timed<F>(
        &self,
        key: K,
        max_age: Duration,
        load: F,
    ) -> (Result<(V, Instant), E>, Served)
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        if let Some(entry) = self.cache.get(&key)
            && entry.loaded_at.elapsed() <= max_age
        {
            return (Ok((entry.value, entry.loaded_at)), Served::Hit);
        }
        let (flight, served) = {
            let mut flights = self.flights.lock().expect("flights lock");
            match flights.get(&key) {
                // A load that started within `max_age` answers as of an acceptable time.
                Some(running) if running.started.elapsed() <= max_age => {
                    (running.flight.clone(), Served::Coalesced)
                }
                // None, or one too old for this request: a new load, which takes its place.
                _ => {
                    let started = Instant::now();
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let flight = self.start_flight(key.clone(), started, id, load);
                    flights.insert(
                        key,
                        Running {
                            flight: flight.clone(),
                            started,
                            id,
                        },
                    );
                    (flight, Served::Loaded)
                }
            }
        };
        (
            flight.await.map(|entry| (entry.value, entry.loaded_at)),
            served,
        )
    }

    fn start_flight<F>(&self, key: K, started: Instant, id: u64, load: F) -> Flight<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let cache = self.cache.clone();
        let flights = Arc::clone(&self.flights);
        async move {
            let result = load.await.map(|value| Entry {
                value,
                loaded_at: started,
            });
            if let Ok(entry) = &result {
                // A later load may have finished first: the newest stays.
                let newer = cache
                    .get(&key)
                    .is_some_and(|cached| cached.loaded_at > started);
                if !newer {
                    cache.insert(key.clone(), entry.clone());
                }
            }
            let mut flights = flights.lock().expect("flights lock");
            if flights.get(&key).is_some_and(|running| running.id == id) {
                flights.remove(&key);
            }
            result
        }
        .boxed()
        .shared()
    }

    /// The cached value of `key` and when it was loaded, whatever its age.
    pub fn peek(&self, key: &K) -> Option<(V, Instant)> {
        self.cache
            .get(key)
            .map(|entry| (entry.value, entry.loaded_at))
    }

    /// Marks the cached value of `key` as current as of `at` (later than its load), as when a
    /// listing proved it unchanged.
    pub fn confirm(&self, key: &K, at: Instant) {
        if let Some(entry) = self.cache.get(key)
            && entry.loaded_at < at
        {
            self.cache.insert(
                key.clone(),
                Entry {
                    value: entry.value,
                    loaded_at: at,
                },
            );
        }
    }

    /// Forgets the cached value of `key`; a load already running still completes.
    pub fn invalidate(&self, key: &K) {
        self.cache.invalidate(key);
    }

    /// Forgets every cached value.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Cache = SingleFlightCache<&'static str, u32, ()>;

    fn cache() -> Cache {
        SingleFlightCache::new(1_000, Duration::from_secs(3600), |_| 1)
    }

    /// A load that answers `value` after `takes`.
    async fn slow(value: u32, takes: Duration) -> Result<u32, ()> {
        tokio::time::sleep(takes).await;
        Ok(value)
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_is_as_old_as_the_start_of_its_load() {
        let cache = cache();
        let (first, served) = cache
            .get_or_load(
                "list",
                Duration::from_secs(5),
                slow(1, Duration::from_secs(10)),
            )
            .await;
        assert_eq!((first, served), (Ok(1), Served::Loaded));
        // Just loaded, but it took 10 s: as of its start it is older than 5 s.
        let (second, served) = cache
            .get_or_load(
                "list",
                Duration::from_secs(5),
                slow(2, Duration::from_secs(1)),
            )
            .await;
        assert_eq!((second, served), (Ok(2), Served::Loaded));
        let (third, served) = cache
            .get_or_load(
                "list",
                Duration::from_secs(5),
                slow(3, Duration::from_secs(1)),
            )
            .await;
        assert_eq!((third, served), (Ok(2), Served::Hit));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_does_not_join_a_load_that_started_longer_ago_than_it_accepts() {
        let cache = Arc::new(cache());
        let early = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move {
                cache
                    .get_or_load(
                        "list",
                        Duration::from_secs(5),
                        slow(1, Duration::from_secs(20)),
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let joined = cache
            .get_or_load(
                "list",
                Duration::from_secs(5),
                slow(9, Duration::from_secs(1)),
            )
            .await;
        assert_eq!(
            joined,
            (Ok(1), Served::Coalesced),
            "started 2 s ago: joined"
        );
        tokio::time::sleep(Duration::from_secs(0)).await;
        let early_done = early.await.expect("task");
        assert_eq!(early_done, (Ok(1), Served::Loaded));

        // A load running for 8 s is too old for a 5 s request: it loads anew, and the older
        // load finishing later does not replace the newer value.
        let old = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move {
                cache
                    .get_or_load(
                        "keys",
                        Duration::from_secs(5),
                        slow(1, Duration::from_secs(20)),
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(8)).await;
        let fresh = cache
            .get_or_load(
                "keys",
                Duration::from_secs(5),
                slow(2, Duration::from_secs(1)),
            )
            .await;
        assert_eq!(fresh, (Ok(2), Served::Loaded));
        assert_eq!(old.await.expect("task"), (Ok(1), Served::Loaded));
        let (cached, _) = cache.peek(&"keys").expect("cached");
        assert_eq!(cached, 2, "the newer load's value stays");
    }
}
