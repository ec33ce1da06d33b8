//! Counters for tests and benchmarks: requests per vault, operation, principal and status;
//! token requests; connections; peak request rate per window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One counted vault request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RequestKey {
    /// Vault name (lowercase), or the host name for an unknown vault.
    pub vault: String,
    /// Operation name, e.g. `GetSecret`, `Challenge` for a 401 without a token.
    pub operation: String,
    /// Client id of the caller, `anonymous` without a valid token.
    pub principal: String,
    /// HTTP status sent.
    pub status: u16,
}

/// One counted token request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TokenKey {
    /// Tenant from the path (or `managed-identity`).
    pub tenant: String,
    /// Client id asked for.
    pub client_id: String,
    /// `client_secret`, `client_assertion`, `federated`, `managed_identity`.
    pub grant: String,
    /// HTTP status sent.
    pub status: u16,
}

/// A snapshot of every counter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Vault requests.
    pub requests: Vec<(RequestKey, u64)>,
    /// Token requests.
    pub tokens: Vec<(TokenKey, u64)>,
    /// TLS and plain connections accepted.
    pub connections: u64,
    /// Highest number of requests seen in any window, per vault.
    pub peak_per_window: BTreeMap<String, u64>,
}

impl Snapshot {
    /// Requests to `vault` for `operation` answered with `status`.
    pub fn requests(&self, vault: &str, operation: &str, status: u16) -> u64 {
        self.sum(|k| k.vault == vault && k.operation == operation && k.status == status)
    }

    /// All requests to `vault` for `operation`, any status.
    pub fn operation(&self, vault: &str, operation: &str) -> u64 {
        self.sum(|k| k.vault == vault && k.operation == operation)
    }

    /// Successful secret reads (`GetSecret` 200) on `vault`.
    pub fn gets(&self, vault: &str) -> u64 {
        self.requests(vault, "GetSecret", 200)
    }

    /// 429 answers on `vault`.
    pub fn throttled(&self, vault: &str) -> u64 {
        self.sum(|k| k.vault == vault && k.status == 429)
    }

    /// 401 challenges (requests without a token) on `vault`.
    pub fn challenges(&self, vault: &str) -> u64 {
        self.sum(|k| k.vault == vault && k.operation == CHALLENGE)
    }

    /// All requests to `vault`.
    pub fn total(&self, vault: &str) -> u64 {
        self.sum(|k| k.vault == vault)
    }

    /// Requests made by `client_id` on any vault.
    pub fn by_principal(&self, client_id: &str) -> u64 {
        self.sum(|k| k.principal == client_id)
    }

    /// Successful token requests for `tenant`.
    pub fn token_requests(&self, tenant: &str) -> u64 {
        self.tokens
            .iter()
            .filter(|(k, _)| k.tenant == tenant && k.status == 200)
            .map(|(_, n)| n)
            .sum()
    }

    /// Token requests for `client_id` with `status`, any tenant.
    pub fn token_requests_by(&self, client_id: &str, status: u16) -> u64 {
        self.tokens
            .iter()
            .filter(|(k, _)| k.client_id == client_id && k.status == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Peak requests per window on `vault`.
    pub fn peak(&self, vault: &str) -> u64 {
        self.peak_per_window.get(vault).copied().unwrap_or(0)
    }

    fn sum(&self, pred: impl Fn(&RequestKey) -> bool) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Operation name counted for an unauthenticated request answered with a challenge.
pub const CHALLENGE: &str = "Challenge";

/// Window for the peak-rate counter.
pub const PEAK_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<RequestKey, u64>,
    tokens: BTreeMap<TokenKey, u64>,
    connections: u64,
    recent: BTreeMap<String, VecDeque<Instant>>,
    peak: BTreeMap<String, u64>,
}

/// Thread-safe counters.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one vault request.
    pub fn request(&self, key: RequestKey) {
        let mut inner = self.lock();
        let now = Instant::now();
        let recent = inner.recent.entry(key.vault.clone()).or_default();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > PEAK_WINDOW)
        {
            recent.pop_front();
        }
        let len = recent.len() as u64;
        let peak = inner.peak.entry(key.vault.clone()).or_default();
        *peak = (*peak).max(len);
        *inner.requests.entry(key).or_default() += 1;
    }

    /// Counts one token request.
    pub fn token(&self, key: TokenKey) {
        *self.lock().tokens.entry(key).or_default() += 1;
    }

    /// Counts one accepted connection.
    pub fn connection(&self) {
        self.lock().connections += 1;
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        Snapshot {
            requests: inner
                .requests
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            tokens: inner.tokens.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            connections: inner.connections,
            peak_per_window: inner.peak.clone(),
        }
    }

    /// Resets every counter.
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }
}
