//! Runtime fault injection (latency, 5xx, 429 with Retry-After, cut watch streams) and request
//! counters.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::errors::ApiError;

/// What an injected fault answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultResponse {
    /// A 5xx (500, 502, 503 or 504) with the Status body the apiserver would send.
    ServerError(u16),
    /// 429 TooManyRequests with `Retry-After`, as API Priority and Fairness rejects.
    TooManyRequests { retry_after_seconds: u64 },
}

/// Which requests a fault hits; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct FaultMatch {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: Option<String>,
    /// Resource (plural, or `plural/subresource`), e.g. `secrets` or `externalsecrets/status`.
    pub resource: Option<String>,
    pub user: Option<String>,
}

/// One injected fault, hitting `count` matching requests (or every one when `None`).
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub matches: FaultMatch,
    pub response: FaultResponse,
    pub count: Option<u32>,
}

#[derive(Default)]
struct FaultState {
    latency: Duration,
    rules: Vec<FaultRule>,
    watch_event_limit: Option<usize>,
}

/// Every fault switch at once, as `GET|PUT /admin/faults` carries it (camelCase JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSettings {
    /// Delay before every request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Rules in the order they are checked; the first match wins.
    #[serde(default)]
    pub rules: Vec<RuleSettings>,
    /// Cut each watch stream after this many events.
    #[serde(default)]
    pub cut_watches_after: Option<usize>,
}

/// One rule of [`FaultSettings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSettings {
    /// Verb to hit (`get`, `list`, `watch`, `create`, …); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    /// Resource (`secrets`, `externalsecrets/status`, or a non-resource path); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// User name to hit; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// 429, or a 5xx.
    pub status: u16,
    /// `Retry-After` of a 429 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// How many matching requests fail before the rule goes away; every one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// Why fault settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSettingsError {
    /// A rule's status is neither 429 nor 5xx.
    #[error("rule {index}: status {status} is not 429 or 5xx")]
    Status { index: usize, status: u16 },
    /// A rule with `count: 0` would never fire.
    #[error("rule {index}: count must be at least 1")]
    ZeroCount { index: usize },
}

impl RuleSettings {
    fn to_rule(&self, index: usize) -> Result<FaultRule, FaultSettingsError> {
        let response = match self.status {
            429 => FaultResponse::TooManyRequests {
                retry_after_seconds: self.retry_after_seconds.unwrap_or(1),
            },
            500..=599 => FaultResponse::ServerError(self.status),
            status => return Err(FaultSettingsError::Status { index, status }),
        };
        if self.count == Some(0) {
            return Err(FaultSettingsError::ZeroCount { index });
        }
        Ok(FaultRule {
            matches: FaultMatch {
                verb: self.verb.clone(),
                resource: self.resource.clone(),
                user: self.user.clone(),
            },
            response,
            count: self.count,
        })
    }

    fn from_rule(rule: &FaultRule) -> Self {
        let (status, retry_after_seconds) = match rule.response {
            FaultResponse::ServerError(status) => (status, None),
            FaultResponse::TooManyRequests {
                retry_after_seconds,
            } => (429, Some(retry_after_seconds)),
        };
        Self {
            verb: rule.matches.verb.clone(),
            resource: rule.matches.resource.clone(),
            user: rule.matches.user.clone(),
            status,
            retry_after_seconds,
            count: rule.count,
        }
    }
}

/// The emulator's fault switches; cheap to clone through [`super::KubeEmulator::faults`].
pub struct Faults {
    state: Mutex<FaultState>,
    cut: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            cut: watch::channel(0).0,
        }
    }
}

impl Faults {
    /// Delays every request (before authentication) by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Adds a fault rule; rules are checked in order, the first match wins.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Fails the next `count` requests matching `matches` with `response`.
    pub fn fail_next(&self, count: u32, matches: FaultMatch, response: FaultResponse) {
        self.inject(FaultRule {
            matches,
            response,
            count: Some(count),
        });
    }

    /// Every switch as it stands (rules with their remaining counts).
    pub fn settings(&self) -> FaultSettings {
        let state = self.lock();
        FaultSettings {
            latency_ms: u64::try_from(state.latency.as_millis()).unwrap_or(u64::MAX),
            rules: state.rules.iter().map(RuleSettings::from_rule).collect(),
            cut_watches_after: state.watch_event_limit,
        }
    }

    /// Replaces every switch at once; nothing changes when a rule is invalid.
    pub fn replace(&self, settings: &FaultSettings) -> Result<(), FaultSettingsError> {
        let rules = settings
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| rule.to_rule(index))
            .collect::<Result<Vec<_>, _>>()?;
        *self.lock() = FaultState {
            latency: Duration::from_millis(settings.latency_ms),
            rules,
            watch_event_limit: settings.cut_watches_after,
        };
        Ok(())
    }

    /// Removes all rules, latency and watch limits.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    /// Cuts every open watch stream now, mid-stream (the connection is aborted).
    pub fn cut_watches(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }

    /// Cuts each watch stream after it has sent `events` events (`None` to stop).
    pub fn cut_watches_after(&self, events: Option<usize>) {
        self.lock().watch_event_limit = events;
    }

    pub(crate) fn watch_event_limit(&self) -> Option<usize> {
        self.lock().watch_event_limit
    }

    pub(crate) fn cut_signal(&self) -> watch::Receiver<u64> {
        self.cut.subscribe()
    }

    pub(crate) fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// The injected failure for this request, if a rule matches.
    pub(crate) fn check(&self, verb: &str, resource: &str, user: &str) -> Option<ApiError> {
        let mut state = self.lock();
        let index = state.rules.iter().position(|rule| {
            rule.matches
                .verb
                .as_deref()
                .is_none_or(|wanted| wanted == verb)
                && rule
                    .matches
                    .resource
                    .as_deref()
                    .is_none_or(|wanted| wanted == resource)
                && rule
                    .matches
                    .user
                    .as_deref()
                    .is_none_or(|wanted| wanted == user)
        })?;
        let rule = &mut state.rules[index];
        let response = rule.response.clone();
        if let Some(count) = &mut rule.count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.rules.remove(index);
            }
        }
        Some(match response {
            FaultResponse::TooManyRequests {
                retry_after_seconds,
            } => {
                let mut error = ApiError::new(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                )
                .with_details(json!({"retryAfterSeconds": retry_after_seconds}));
                error.retry_after = Some(retry_after_seconds);
                error
            }
            FaultResponse::ServerError(503) => {
                let mut error = ApiError::new(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                )
                .with_details(json!({"retryAfterSeconds": 1}));
                error.retry_after = Some(1);
                error
            }
            FaultResponse::ServerError(504) => ApiError::new(
                504,
                "Timeout",
                "the server was unable to return a response in the time allotted, but may still be processing the request",
            ),
            FaultResponse::ServerError(code) => ApiError::new(
                code,
                "InternalError",
                "Internal error occurred: injected fault",
            ),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counter key: verb, resource (`plural[/subresource]` or a non-resource path) and user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    pub verb: String,
    pub resource: String,
    pub user: String,
}

/// Live counters.
#[derive(Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<RequestKey, u64>>,
    secret_writes: AtomicU64,
    open_watches: AtomicU64,
    /// How long resource requests took to answer (watches excluded), reads and writes apart.
    latency: Mutex<RequestLatency>,
}

/// Upper bounds (seconds) of the latency buckets: 1-2-5 steps from 50 µs to 10 s, then +Inf.
const LATENCY_BOUNDS: [f64; 17] = [
    0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0,
    2.0, 5.0, 10.0,
];

/// A latency histogram with [`LATENCY_BOUNDS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    /// Counts per bucket; the last one is over 10 s.
    buckets: [u64; LATENCY_BOUNDS.len() + 1],
}

impl LatencyHistogram {
    fn observe(&mut self, seconds: f64) {
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[bucket] += 1;
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket holding the `q` quantile (`f64::INFINITY` past 10 s);
    /// `None` without observations.
    pub fn quantile_upper_bound(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            seen += bucket;
            if seen >= rank {
                return Some(LATENCY_BOUNDS.get(index).copied().unwrap_or(f64::INFINITY));
            }
        }
        None
    }
}

/// Latency of reads (get, list) and of writes (create, update, patch, delete).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestLatency {
    pub reads: LatencyHistogram,
    pub writes: LatencyHistogram,
}

impl Stats {
    pub(crate) fn count_request(&self, verb: &str, resource: &str, user: &str) {
        let key = RequestKey {
            verb: verb.into(),
            resource: resource.into(),
            user: user.into(),
        };
        *self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
    }

    pub(crate) fn count_secret_write(&self) {
        self.secret_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn watch_opened(&self) -> WatchGuard<'_> {
        self.open_watches.fetch_add(1, Ordering::Relaxed);
        WatchGuard { stats: self }
    }

    /// Records how long a resource request with `verb` took to answer.
    pub(crate) fn observe_latency(&self, verb: &str, elapsed: std::time::Duration) {
        let mut latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let histogram = match verb {
            "get" | "list" => &mut latency.reads,
            "create" | "update" | "patch" | "delete" | "deletecollection" => &mut latency.writes,
            _ => return,
        };
        histogram.observe(elapsed.as_secs_f64());
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            latency: self
                .latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            requests: self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            secret_writes: self.secret_writes.load(Ordering::Relaxed),
            open_watches: self.open_watches.load(Ordering::Relaxed),
        }
    }
}

/// Decrements the open-watch gauge when a watch stream ends.
pub struct WatchGuard<'a> {
    stats: &'a Stats,
}

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        self.stats.open_watches.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    pub requests: BTreeMap<RequestKey, u64>,
    /// Successful create/update/patch/delete requests on Secrets (the operator's writes).
    pub secret_writes: u64,
    pub open_watches: u64,
    pub latency: RequestLatency,
}

impl StatsSnapshot {
    /// Requests with this verb on this resource, summed over users.
    pub fn requests_for(&self, verb: &str, resource: &str) -> u64 {
        self.requests
            .iter()
            .filter(|(key, _)| key.verb == verb && key.resource == resource)
            .map(|(_, count)| count)
            .sum()
    }

    /// Write requests (create, update, patch, delete), every resource and user.
    pub fn writes(&self) -> u64 {
        self.requests
            .iter()
            .filter(|(key, _)| {
                matches!(
                    key.verb.as_str(),
                    "create" | "update" | "patch" | "delete" | "deletecollection"
                )
            })
            .map(|(_, count)| count)
            .sum()
    }

    /// Requests by one user, any verb and resource.
    pub fn requests_by_user(&self, user: &str) -> u64 {
        self.requests
            .iter()
            .filter(|(key, _)| key.user == user)
            .map(|(_, count)| count)
            .sum()
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_bucket_upper_bounds() {
        let stats = Stats::default();
        for _ in 0..98 {
            stats.observe_latency("create", std::time::Duration::from_micros(300));
        }
        stats.observe_latency("patch", std::time::Duration::from_millis(30));
        stats.observe_latency("delete", std::time::Duration::from_secs(20));
        stats.observe_latency("watch", std::time::Duration::from_secs(60));
        let latency = stats.snapshot().latency;
        assert_eq!(latency.writes.count(), 100);
        assert_eq!(latency.reads.count(), 0);
        assert_eq!(latency.writes.quantile_upper_bound(0.5), Some(0.0005));
        assert_eq!(latency.writes.quantile_upper_bound(0.99), Some(0.05));
        assert_eq!(
            latency.writes.quantile_upper_bound(1.0),
            Some(f64::INFINITY)
        );
        assert_eq!(latency.reads.quantile_upper_bound(0.99), None);
    }
}
