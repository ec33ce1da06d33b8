//! A cache whose loads are single-flight: concurrent requests for one key share one remote call,
//! and a cached value serves every request that accepts its age.

use std::collections::HashMap;
use std::hash::Hash;
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
    loaded_at: Instant,
}

type Flight<V, E> = Shared<BoxFuture<'static, Result<Entry<V>, E>>>;

/// Single-flight loads in front of a size- and time-bounded moka cache. Only successes are cached:
/// an error is shared by the requests that joined its flight and then forgotten.
pub struct SingleFlightCache<K, V, E> {
    cache: moka::sync::Cache<K, Entry<V>>,
    flights: Arc<Mutex<HashMap<K, Flight<V, E>>>>,
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
                Some(flight) => (flight.clone(), Served::Coalesced),
                None => {
                    let flight = self.start_flight(key.clone(), load);
                    flights.insert(key, flight.clone());
                    (flight, Served::Loaded)
                }
            }
        };
        (
            flight.await.map(|entry| (entry.value, entry.loaded_at)),
            served,
        )
    }

    fn start_flight<F>(&self, key: K, load: F) -> Flight<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let cache = self.cache.clone();
        let flights = Arc::clone(&self.flights);
        async move {
            let result = load.await.map(|value| Entry {
                value,
                loaded_at: Instant::now(),
            });
            if let Ok(entry) = &result {
                cache.insert(key.clone(), entry.clone());
            }
            flights.lock().expect("flights lock").remove(&key);
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
