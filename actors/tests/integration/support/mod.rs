//! A vault in memory for actor and store tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use akvsync_actors::remote::{
    KeyVault, ObjectKind, ProviderError, PushRequest, RemoteItem, RemoteKey, RemoteValue,
    SecretBytes,
};
use tokio::time::Instant;

pub const HOST: &str = "fake.vault.localhost";

/// A vault in memory that counts calls, answers after a fixed latency and can throttle.
#[derive(Clone, Default)]
pub struct FakeVault {
    pub state: Arc<FakeState>,
}

#[derive(Default)]
pub struct FakeState {
    pub values: Mutex<HashMap<String, String>>,
    pub gets: AtomicUsize,
    pub writes: AtomicUsize,
    pub call_times: Mutex<Vec<Instant>>,
    pub throttle_next: AtomicU32,
    pub retry_after: Mutex<Option<Duration>>,
    /// When set, objects report `updated` (Unix seconds, an hour ago, plus one per change).
    pub updated: Mutex<Option<HashMap<String, i64>>>,
    pub changes: AtomicI64,
    pub lists: AtomicUsize,
    /// Listing answers 403, as for a principal without list permission.
    pub deny_list: std::sync::atomic::AtomicBool,
}

impl FakeVault {
    pub fn with(values: &[(&str, &str)]) -> Self {
        let vault = Self::default();
        for (name, value) in values {
            vault.set(name, value);
        }
        vault
    }

    /// A vault whose objects report when they last changed, as Key Vault's do.
    pub fn with_updates(values: &[(&str, &str)]) -> Self {
        let vault = Self::default();
        *vault.state.updated.lock().unwrap() = Some(HashMap::new());
        for (name, value) in values {
            vault.set(name, value);
        }
        vault
    }

    pub fn set(&self, name: &str, value: &str) {
        self.state
            .values
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
        if let Some(updated) = self.state.updated.lock().unwrap().as_mut() {
            let hour_ago = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                - 3600;
            let change = self.state.changes.fetch_add(1, Ordering::SeqCst);
            updated.insert(name.to_owned(), hour_ago + change);
        }
    }

    fn updated(&self, name: &str) -> Option<i64> {
        self.state
            .updated
            .lock()
            .unwrap()
            .as_ref()?
            .get(name)
            .copied()
    }

    pub fn lists(&self) -> usize {
        self.state.lists.load(Ordering::SeqCst)
    }

    pub fn gets(&self) -> usize {
        self.state.gets.load(Ordering::SeqCst)
    }

    pub fn throttle(&self, calls: u32, retry_after: Option<Duration>) {
        self.state.throttle_next.store(calls, Ordering::SeqCst);
        *self.state.retry_after.lock().unwrap() = retry_after;
    }

    fn throttled(&self) -> Option<ProviderError> {
        let throttle =
            self.state
                .throttle_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        throttle.is_ok().then(|| ProviderError::Throttled {
            retry_after: *self.state.retry_after.lock().unwrap(),
        })
    }
}

impl KeyVault for FakeVault {
    fn vault_host(&self) -> &str {
        HOST
    }

    async fn get(&self, key: &RemoteKey) -> Result<RemoteValue, ProviderError> {
        self.state.gets.fetch_add(1, Ordering::SeqCst);
        self.state.call_times.lock().unwrap().push(Instant::now());
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(error) = self.throttled() {
            return Err(error);
        }
        let values = self.state.values.lock().unwrap();
        match values.get(&key.name) {
            Some(value) => Ok(RemoteValue {
                value: SecretBytes::from(value.as_str()),
                enabled: true,
                updated: self.updated(&key.name),
                ..Default::default()
            }),
            None => Err(ProviderError::NotFound {
                key: key.to_string(),
            }),
        }
    }

    async fn list_page(
        &self,
        _kind: ObjectKind,
        page: Option<String>,
    ) -> Result<(Vec<RemoteItem>, Option<String>), ProviderError> {
        self.state.gets.fetch_add(1, Ordering::SeqCst);
        self.state.lists.fetch_add(1, Ordering::SeqCst);
        if self.state.deny_list.load(Ordering::SeqCst) {
            return Err(ProviderError::Forbidden {
                message: "list permission denied".into(),
            });
        }
        let mut names: Vec<String> = self.state.values.lock().unwrap().keys().cloned().collect();
        names.sort();
        let start: usize = page.as_deref().map_or(0, |p| p.parse().unwrap());
        let end = (start + 2).min(names.len());
        let items = names[start..end]
            .iter()
            .map(|name| RemoteItem {
                name: name.clone(),
                tags: Default::default(),
                enabled: true,
                managed: false,
                updated: self.updated(name),
            })
            .collect();
        Ok((items, (end < names.len()).then(|| end.to_string())))
    }

    async fn push(&self, request: &PushRequest) -> Result<(), ProviderError> {
        self.state.writes.fetch_add(1, Ordering::SeqCst);
        self.set(
            &request.key.name,
            std::str::from_utf8(request.value.expose()).unwrap(),
        );
        Ok(())
    }

    async fn delete(&self, key: &RemoteKey) -> Result<(), ProviderError> {
        self.state.writes.fetch_add(1, Ordering::SeqCst);
        self.state.values.lock().unwrap().remove(&key.name);
        Ok(())
    }
}
