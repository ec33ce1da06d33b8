//! One access token per credential and scope set, shared by every caller of that credential.
//!
//! The contract:
//! - **Single flight.** At most one token request per credential and scopes is in flight;
//!   concurrent callers wait for it and share its result, its failure included.
//! - **Backoff.** After a failed request, no request is made before 1, 2, 4, 8, then every
//!   16 s, each step stretched by up to half again at random (stores that failed together spread
//!   out). A caller during the backoff gets the last error at once, without a request.
//! - **Refresh ahead.** Once less than five minutes (or half the token's lifetime, if shorter)
//!   remain, the next caller starts a refresh in the background and is served the still-valid
//!   token; failed refreshes follow the same backoff, and callers keep getting the valid token
//!   meanwhile. An Entra outage shorter than the remaining lifetime is invisible.
//! - **Bounded.** Every request has a timeout.
//!
//! Scheduling runs on tokio's clock, so tests drive it with paused time. Without this, every
//! reconcile that found the token expired asked Entra itself: 3,601 token requests in a 150 s
//! outage with 500 ExternalSecrets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

/// Which store a credential serves, for metrics and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub kind: akvsync_crds::StoreKind,
    /// The store's namespace; empty for a ClusterSecretStore.
    pub namespace: String,
    pub name: String,
}

/// Where token requests are reported (the operator's metrics).
pub trait TokenObserver: Send + Sync {
    /// A token request to Entra (or the managed identity endpoint) finished.
    fn token_requested(&self, owner: &TokenOwner, ok: bool);
    /// A caller got the last error during a backoff, without a request.
    fn token_backoff_rejected(&self, owner: &TokenOwner);
    /// A token was acquired after failures that callers saw (no valid token was in hand):
    /// whatever failed for want of it can retry now.
    fn token_recovered(&self, _owner: &TokenOwner) {}
    /// A credential for `owner` was built: series can start at zero.
    fn credential_built(&self, _owner: &TokenOwner) {}
}

/// How tokens are requested and refreshed.
#[derive(Clone, Copy, Debug)]
pub struct TokenPolicy {
    /// The first backoff step after a failure; doubles per consecutive failure.
    pub backoff_start: Duration,
    /// The longest backoff step.
    pub backoff_cap: Duration,
    /// Each step is stretched by a random fraction in `[0, jitter)` of itself.
    pub jitter: f64,
    /// Refresh when less than this remains (or half the lifetime, if shorter).
    pub refresh_margin: Duration,
    /// A token is not handed out when less than this remains (or a tenth of its lifetime):
    /// it could expire before the request that carries it arrives.
    pub expiry_margin: Duration,
    /// Bound on one token request.
    pub request_timeout: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            backoff_start: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(16),
            jitter: 0.5,
            // The Azure SDK's own token caches refresh 5 minutes ahead: refreshing no earlier
            // means a request we make is never answered from their cache.
            refresh_margin: Duration::from_secs(300),
            expiry_margin: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl TokenPolicy {
    /// The wait after the `failures`-th consecutive failure (1-based), before jitter.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(16);
        self.backoff_start
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.backoff_cap)
    }

    fn jittered(&self, step: Duration) -> Duration {
        if self.jitter <= 0.0 {
            return step;
        }
        step.mul_f64(1.0 + self.jitter * rand::random::<f64>())
    }
}

type Fetched = Result<AccessToken, Arc<azure_core::Error>>;

/// A token in hand and when to stop using it or start replacing it.
struct Held {
    token: AccessToken,
    usable_until: Instant,
    refresh_from: Instant,
}

impl Held {
    fn new(token: AccessToken, policy: &TokenPolicy) -> Self {
        let now = Instant::now();
        let lifetime = token.expires_on - OffsetDateTime::now_utc();
        let lifetime = Duration::try_from(lifetime).unwrap_or_default();
        let expires_at = now + lifetime;
        Self {
            usable_until: expires_at - policy.expiry_margin.min(lifetime / 10),
            refresh_from: expires_at - policy.refresh_margin.min(lifetime / 2),
            token,
        }
    }
}

/// The state of one scope set.
#[derive(Default)]
struct Slot {
    held: Option<Held>,
    in_flight: Option<Shared<BoxFuture<'static, Fetched>>>,
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<Arc<azure_core::Error>>,
    /// Callers got errors since the last success (as opposed to refresh failures nobody saw).
    callers_failed: bool,
}

impl Slot {
    fn has_usable_token(&self, now: Instant) -> bool {
        self.held
            .as_ref()
            .is_some_and(|held| now < held.usable_until)
    }

    fn may_request(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.next_attempt.is_none_or(|at| now >= at)
    }
}

struct State {
    inner: Arc<dyn TokenCredential>,
    policy: TokenPolicy,
    owner: TokenOwner,
    observer: Option<Arc<dyn TokenObserver>>,
    slots: Mutex<HashMap<Vec<String>, Slot>>,
}

/// A [`TokenCredential`] that shares, backs off and refreshes ahead the tokens of `inner`.
pub struct SharedTokenCredential {
    state: Arc<State>,
}

impl fmt::Debug for SharedTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenCredential")
            .field("owner", &self.state.owner)
            .finish_non_exhaustive()
    }
}

impl SharedTokenCredential {
    pub fn new(
        inner: Arc<dyn TokenCredential>,
        policy: TokenPolicy,
        owner: TokenOwner,
        observer: Option<Arc<dyn TokenObserver>>,
    ) -> Self {
        if let Some(observer) = &observer {
            observer.credential_built(&owner);
        }
        Self {
            state: Arc::new(State {
                inner,
                policy,
                owner,
                observer,
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A token for `scopes`, per the module's contract.
    pub async fn token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let key: Vec<String> = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        let now = Instant::now();
        let wait = {
            let mut slots = self.state.lock();
            let slot = slots.entry(key.clone()).or_default();
            if let Some(held) = &slot.held
                && now < held.usable_until
            {
                let token = held.token.clone();
                if now >= held.refresh_from && slot.may_request(now) {
                    tracing::debug!(store = %self.state.owner.name, "refreshing the access token ahead of its expiry");
                    // The request runs in its own task; nobody waits for it here.
                    drop(start(&self.state, slot, key));
                }
                return Ok(token);
            }
            match &slot.in_flight {
                Some(in_flight) => in_flight.clone(),
                None if slot.may_request(now) => start(&self.state, slot, key),
                None => {
                    slot.callers_failed = true;
                    if let Some(observer) = &self.state.observer {
                        observer.token_backoff_rejected(&self.state.owner);
                    }
                    return Err(match &slot.last_error {
                        Some(error) => replay(error),
                        None => azure_core::Error::with_message(
                            ErrorKind::Credential,
                            "no access token: waiting to retry",
                        ),
                    });
                }
            }
        };
        wait.await.map_err(|error| replay(&error))
    }
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Slot>> {
        // Nothing panics while holding the lock; recover the map if something ever did.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a finished request and answers its waiters.
    fn finish(&self, key: &[String], result: azure_core::Result<AccessToken>) -> Fetched {
        let ok = result.is_ok();
        let mut recovered = false;
        let fetched = {
            let mut slots = self.lock();
            let slot = slots.entry(key.to_vec()).or_default();
            slot.in_flight = None;
            match result {
                Ok(token) => {
                    recovered = std::mem::take(&mut slot.callers_failed);
                    slot.failures = 0;
                    slot.next_attempt = None;
                    slot.last_error = None;
                    slot.held = Some(Held::new(token.clone(), &self.policy));
                    Ok(token)
                }
                Err(error) => {
                    slot.failures = slot.failures.saturating_add(1);
                    let wait = self.policy.jittered(self.policy.backoff(slot.failures));
                    slot.next_attempt = Some(Instant::now() + wait);
                    tracing::warn!(
                        store = %self.owner.name,
                        namespace = %self.owner.namespace,
                        failures = slot.failures,
                        retry_in = ?wait,
                        still_valid = slot.held.is_some(),
                        error = %error,
                        "token request failed"
                    );
                    // Its waiters get this error unless a valid token is still in hand.
                    if !slot.has_usable_token(Instant::now()) {
                        slot.callers_failed = true;
                    }
                    let error = Arc::new(error);
                    slot.last_error = Some(Arc::clone(&error));
                    Err(error)
                }
            }
        };
        if let Some(observer) = &self.observer {
            observer.token_requested(&self.owner, ok);
            if recovered {
                tracing::info!(store = %self.owner.name, namespace = %self.owner.namespace, "acquired a token again after failures");
                observer.token_recovered(&self.owner);
            }
        }
        fetched
    }
}

/// Starts one request for `key` in its own task, so it completes (and is recorded) even when
/// every caller has gone, and returns the shared answer.
fn start(
    state: &Arc<State>,
    slot: &mut Slot,
    key: Vec<String>,
) -> Shared<BoxFuture<'static, Fetched>> {
    let task_state = Arc::clone(state);
    let task = tokio::spawn(async move {
        let scopes: Vec<&str> = key.iter().map(String::as_str).collect();
        let timeout = task_state.policy.request_timeout;
        let result = tokio::time::timeout(timeout, task_state.inner.get_token(&scopes, None))
            .await
            .unwrap_or_else(|_| {
                Err(azure_core::Error::with_message(
                    ErrorKind::Io,
                    format!("the token request timed out after {timeout:?}"),
                ))
            });
        task_state.finish(&key, result)
    });
    let answer = async move {
        task.await.unwrap_or_else(|error| {
            Err(Arc::new(azure_core::Error::with_message(
                ErrorKind::Other,
                format!("the token request stopped: {error}"),
            )))
        })
    }
    .boxed()
    .shared();
    slot.in_flight = Some(answer.clone());
    answer
}

/// A copy of a shared failure for one caller: same kind and message, same causes, so it is
/// classified (transient, throttled, unauthorized) as the original was.
fn replay(error: &Arc<azure_core::Error>) -> azure_core::Error {
    azure_core::Error::new(error.kind().clone(), SharedFailure(Arc::clone(error)))
}

/// Displays as the original and exposes the original's causes.
struct SharedFailure(Arc<azure_core::Error>);

impl fmt::Debug for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SharedFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[async_trait::async_trait]
impl TokenCredential for SharedTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.token(scopes).await
    }
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
