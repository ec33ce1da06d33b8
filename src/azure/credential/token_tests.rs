//! Paused-time tests of the shared token: single flight, the backoff schedule, refresh ahead
//! through an outage, and recovery.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use azure_core::credentials::Secret;
use azure_core::http::StatusCode;

use std::error::Error as _;

use super::*;

const SCOPES: &[&str] = &["https://vault.azure.net/.default"];
const HOUR: Duration = Duration::from_secs(3_600);

/// An Entra stand-in: counts requests, answers after `delay`, fails while `failing`.
#[derive(Debug)]
struct FakeEntra {
    requests: AtomicU32,
    failing: AtomicBool,
    lifetime: Duration,
    delay: Duration,
    /// When each request was made, from the test's start.
    times: Mutex<Vec<Duration>>,
    started: Instant,
}

impl FakeEntra {
    fn new(lifetime: Duration, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            requests: AtomicU32::new(0),
            failing: AtomicBool::new(false),
            lifetime,
            delay,
            times: Mutex::new(Vec::new()),
            started: Instant::now(),
        })
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }

    fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn times(&self) -> Vec<Duration> {
        self.times.lock().unwrap().clone()
    }
}

fn outage_error() -> azure_core::Error {
    let inner = azure_core::Error::with_message(
        ErrorKind::HttpResponse {
            status: StatusCode::ServiceUnavailable,
            error_code: Some("temporarily_unavailable".into()),
            raw_response: None,
        },
        "AADSTS50000: the service is temporarily unavailable",
    );
    azure_core::Error::with_error(
        ErrorKind::Credential,
        inner,
        "ClientSecretCredential authentication failed. AADSTS50000: the service is temporarily unavailable",
    )
}

#[async_trait::async_trait]
impl TokenCredential for FakeEntra {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let number = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        self.times.lock().unwrap().push(self.started.elapsed());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(outage_error());
        }
        let expires_on = OffsetDateTime::now_utc() + self.lifetime;
        Ok(AccessToken::new(
            Secret::new(format!("token-{number}")),
            expires_on,
        ))
    }
}

#[derive(Default)]
struct Counts {
    ok: AtomicU32,
    failed: AtomicU32,
    rejected: AtomicU32,
    recovered: AtomicU32,
}

impl TokenObserver for Counts {
    fn token_requested(&self, _: &TokenOwner, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    fn token_backoff_rejected(&self, _: &TokenOwner) {
        self.rejected.fetch_add(1, Ordering::SeqCst);
    }

    fn token_recovered(&self, _: &TokenOwner) {
        self.recovered.fetch_add(1, Ordering::SeqCst);
    }
}

fn owner() -> TokenOwner {
    TokenOwner {
        kind: akvsync_crds::StoreKind::SecretStore,
        namespace: "team-a".into(),
        name: "vault".into(),
    }
}

fn no_jitter() -> TokenPolicy {
    TokenPolicy {
        jitter: 0.0,
        ..TokenPolicy::default()
    }
}

fn shared(
    entra: &Arc<FakeEntra>,
    policy: TokenPolicy,
) -> (Arc<SharedTokenCredential>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let credential = SharedTokenCredential::new(
        Arc::clone(entra) as Arc<dyn TokenCredential>,
        policy,
        owner(),
        Some(Arc::clone(&counts) as Arc<dyn TokenObserver>),
    );
    (Arc::new(credential), counts)
}

fn secret(token: &AccessToken) -> String {
    token.token.secret().to_owned()
}

/// `count` tasks asking `credential` for a token at the same instant.
fn concurrent_callers(
    credential: &Arc<SharedTokenCredential>,
    count: usize,
) -> Vec<tokio::task::JoinHandle<azure_core::Result<AccessToken>>> {
    (0..count)
        .map(|_| {
            let credential = Arc::clone(credential);
            tokio::spawn(async move { credential.token(SCOPES).await })
        })
        .collect()
}

/// Calls the credential every `period` for `span`, the way reconciles do, and returns how many
/// calls were made and how many failed.
async fn call_every(
    credential: &SharedTokenCredential,
    period: Duration,
    span: Duration,
) -> (u32, u32) {
    let end = Instant::now() + span;
    let (mut calls, mut failures) = (0, 0);
    while Instant::now() < end {
        calls += 1;
        if credential.token(SCOPES).await.is_err() {
            failures += 1;
        }
        tokio::time::sleep(period).await;
    }
    (calls, failures)
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_request_and_its_token() {
    let entra = FakeEntra::new(HOUR, Duration::from_millis(500));
    let (credential, counts) = shared(&entra, no_jitter());
    let callers = concurrent_callers(&credential, 100);
    for caller in callers {
        let token = caller.await.unwrap().expect("a token");
        assert_eq!(secret(&token), "token-1");
    }
    assert_eq!(entra.requests(), 1);
    assert_eq!(counts.ok.load(Ordering::SeqCst), 1);
    // Later callers are served from the cache.
    assert_eq!(secret(&credential.token(SCOPES).await.unwrap()), "token-1");
    assert_eq!(entra.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_failure() {
    let entra = FakeEntra::new(HOUR, Duration::from_millis(500));
    entra.set_failing(true);
    let (credential, counts) = shared(&entra, no_jitter());
    let callers = concurrent_callers(&credential, 100);
    for caller in callers {
        let error = caller.await.unwrap().expect_err("the outage");
        assert_eq!(error.kind(), &ErrorKind::Credential);
    }
    assert_eq!(entra.requests(), 1);
    assert_eq!(counts.failed.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_one_two_four_eight_then_sixteen_seconds() {
    let entra = FakeEntra::new(HOUR, Duration::ZERO);
    entra.set_failing(true);
    let (credential, counts) = shared(&entra, no_jitter());
    let (calls, failures) = call_every(
        &credential,
        Duration::from_millis(100),
        Duration::from_secs(64),
    )
    .await;
    let seconds: Vec<u64> = entra.times().iter().map(Duration::as_secs).collect();
    assert_eq!(seconds, [0, 1, 3, 7, 15, 31, 47, 63]);
    // Every call failed; all but the eight that made a request failed at once, without one.
    assert_eq!(failures, calls);
    assert_eq!(counts.failed.load(Ordering::SeqCst), 8);
    assert_eq!(counts.rejected.load(Ordering::SeqCst), calls - 8);
}

#[tokio::test(start_paused = true)]
async fn a_150_second_outage_costs_at_most_twelve_requests_and_ends_within_one_step() {
    // No token in hand (expired before the outage), callers every 100 ms, random jitter.
    let entra = FakeEntra::new(HOUR, Duration::from_millis(200));
    entra.set_failing(true);
    let (credential, counts) = shared(&entra, TokenPolicy::default());
    call_every(
        &credential,
        Duration::from_millis(100),
        Duration::from_secs(150),
    )
    .await;
    let during = entra.requests();
    eprintln!("token requests during a 150 s outage: {during}");
    assert!(during <= 12, "{during} token requests during the outage");

    entra.set_failing(false);
    let healed = Instant::now();
    let policy = TokenPolicy::default();
    let longest_step = policy.backoff_cap.mul_f64(1.0 + policy.jitter);
    loop {
        if credential.token(SCOPES).await.is_ok() {
            break;
        }
        assert!(
            healed.elapsed() <= longest_step + Duration::from_secs(1),
            "no token {:?} after the outage ended",
            healed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(entra.requests(), during + 1, "one request after the outage");
    // Callers failed meanwhile: the recovery is announced, once.
    assert_eq!(counts.recovered.load(Ordering::SeqCst), 1);
    credential.token(SCOPES).await.unwrap();
    assert_eq!(counts.recovered.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_ahead_serves_the_valid_token_through_an_outage() {
    let entra = FakeEntra::new(HOUR, Duration::from_millis(200));
    let (credential, counts) = shared(&entra, no_jitter());
    assert_eq!(secret(&credential.token(SCOPES).await.unwrap()), "token-1");

    // Nothing is requested before five minutes remain.
    tokio::time::sleep(HOUR - Duration::from_secs(301)).await;
    assert_eq!(secret(&credential.token(SCOPES).await.unwrap()), "token-1");
    assert_eq!(entra.requests(), 1);

    // Entra goes down as the refresh window opens: for 150 s every caller still gets the valid
    // token at once, while refreshes back off in the background.
    entra.set_failing(true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(150) {
        let asked = Instant::now();
        let token = credential.token(SCOPES).await.expect("the valid token");
        assert_eq!(secret(&token), "token-1");
        assert_eq!(asked.elapsed(), Duration::ZERO, "served without waiting");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshes = entra.requests() - 1;
    assert!(
        (10..=13).contains(&refreshes),
        "{refreshes} refresh attempts in 150 s"
    );
    assert_eq!(counts.rejected.load(Ordering::SeqCst), 0);

    // Entra is back: the next refresh step replaces the token, still without a caller waiting.
    entra.set_failing(false);
    let healed = Instant::now();
    loop {
        let token = credential.token(SCOPES).await.expect("a valid token");
        if secret(&token) != "token-1" {
            break;
        }
        assert!(healed.elapsed() <= Duration::from_secs(17));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts.ok.load(Ordering::SeqCst), 2);
    assert_eq!(
        counts.recovered.load(Ordering::SeqCst),
        0,
        "no caller saw the outage: nothing to retry"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_token_is_refreshed_at_half_its_lifetime() {
    let entra = FakeEntra::new(Duration::from_secs(60), Duration::ZERO);
    let (credential, _) = shared(&entra, no_jitter());
    call_every(
        &credential,
        Duration::from_secs(1),
        Duration::from_secs(120),
    )
    .await;
    let seconds: Vec<u64> = entra.times().iter().map(Duration::as_secs).collect();
    assert_eq!(seconds, [0, 30, 60, 90]);
}

#[tokio::test(start_paused = true)]
async fn a_shared_failure_keeps_its_kind_message_and_causes() {
    let original = Arc::new(outage_error());
    let copy = replay(&original);
    assert_eq!(copy.kind(), original.kind());
    assert_eq!(copy.to_string(), original.to_string());
    let mut statuses = Vec::new();
    let mut source = copy.source();
    while let Some(cause) = source {
        if let Some(inner) = cause.downcast_ref::<azure_core::Error>()
            && let ErrorKind::HttpResponse { status, .. } = inner.kind()
        {
            statuses.push(u16::from(*status));
        }
        source = cause.source();
    }
    assert_eq!(statuses, [503]);
}
