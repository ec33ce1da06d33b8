//! Per-vault rate limiting shared by every store that points at one vault.
//!
//! Key Vault throttles per vault, not per client, so the budget belongs to the vault host. A 429
//! pauses the vault's limiter for everyone until the `Retry-After` (or an exponential backoff)
//! has passed.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use rand::Rng;
use tokio::time::Instant;

use crate::fair::{
    Backlog, FairPermit, FairQueue, FairSemaphore, Fairness, Ledger, Position, merge_backlogs,
};

/// Key Vault's documented limits per vault and 10 s window.
pub const KEY_VAULT_READS_PER_10S: u32 = 4_000;
pub const KEY_VAULT_WRITES_PER_10S: u32 = 300;

/// Backoff after a 429 without `Retry-After`: 1, 2, 4, 8, 16 s, then 16 s.
const THROTTLE_BACKOFF_BASE: Duration = Duration::from_secs(1);
const THROTTLE_BACKOFF_MAX: Duration = Duration::from_secs(16);

/// How many requests a vault may receive, per 10 s window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaultBudget {
    pub reads_per_10s: u32,
    pub writes_per_10s: u32,
    /// Requests in flight at once: bounds connections and buffers during a cold start, when
    /// every resource asks at the same moment.
    pub in_flight: u32,
}

impl Default for VaultBudget {
    /// Half of Key Vault's documented limits, leaving room for other clients of the vault.
    fn default() -> Self {
        Self {
            reads_per_10s: KEY_VAULT_READS_PER_10S / 2,
            writes_per_10s: KEY_VAULT_WRITES_PER_10S / 2,
            in_flight: DEFAULT_IN_FLIGHT,
        }
    }
}

/// Default requests in flight per vault: at Key Vault's typical 10-50 ms per read, 16 connections
/// carry several times the default read budget.
pub const DEFAULT_IN_FLIGHT: u32 = 16;

/// Whether a request reads or writes; Key Vault budgets them separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

pub use crate::fair::{Priority, Tenant, Turn};

/// How tenants share a vault's budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TenantPolicy {
    /// Round robin across tenants within each lane; `false` serves each lane first come, first
    /// served.
    pub fair: bool,
    /// The largest fraction of a vault's budget one tenant may use, even when nobody else waits.
    pub max_share: Option<f64>,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            fair: true,
            max_share: None,
        }
    }
}

impl TenantPolicy {
    fn queue(self, per_10s: u32, ledger: &Arc<Ledger>) -> FairQueue {
        let fairness = Fairness {
            per_tenant: self.fair,
            tenant_rate: self
                .max_share
                .map(|share| share * f64::from(per_10s) / 10.0),
        };
        FairQueue::with_ledger(fairness, Arc::clone(ledger))
    }
}

/// What every vault's read queues and write queues served, per tenant.
#[derive(Clone, Default)]
pub struct VaultLedgers {
    pub reads: Arc<Ledger>,
    pub writes: Arc<Ledger>,
}

/// governor's clock on tokio's time, so tests with paused time drive the limiter too.
#[derive(Clone, Debug)]
pub struct TokioClock {
    start: Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// A GCRA limiter whose 10 s window holds at most `per_10s` plus a small burst.
fn gcra(per_10s: u32, clock: &TokioClock) -> Gcra {
    let per_10s = per_10s.max(1);
    let period = Duration::from_secs(10) / per_10s;
    // A burst of 1% of the window (at least 1) keeps any 10 s window within budget + 1%.
    let burst = NonZeroU32::new((per_10s / 100).max(1)).expect("burst is at least 1");
    let quota = Quota::with_period(period)
        .expect("period is positive")
        .allow_burst(burst);
    RateLimiter::direct_with_clock(quota, clock.clone())
}

/// The limiter of one vault host.
pub struct VaultLimiter {
    host: String,
    budget: VaultBudget,
    clock: TokioClock,
    reads: Gcra,
    writes: Gcra,
    throttle: Mutex<ThrottleState>,
    /// Requests waiting for a read slot and for a write slot, fairly across tenants.
    read_queue: FairQueue,
    write_queue: FairQueue,
    /// Requests in flight, admitted fairly too: a slot taken in arrival order would let one
    /// tenant's backlog hold every slot while others wait behind it.
    in_flight: FairSemaphore,
}

#[derive(Default)]
struct ThrottleState {
    paused_until: Option<Instant>,
    consecutive: u32,
}

impl VaultLimiter {
    pub fn new(host: impl Into<String>, budget: VaultBudget) -> Self {
        Self::with_tenants(
            host,
            budget,
            TenantPolicy::default(),
            &VaultLedgers::default(),
        )
    }

    /// A limiter whose queues serve tenants by `tenants` and count in `ledgers`.
    pub fn with_tenants(
        host: impl Into<String>,
        budget: VaultBudget,
        tenants: TenantPolicy,
        ledgers: &VaultLedgers,
    ) -> Self {
        let clock = TokioClock::default();
        Self {
            host: host.into(),
            budget,
            reads: gcra(budget.reads_per_10s, &clock),
            writes: gcra(budget.writes_per_10s, &clock),
            clock,
            throttle: Mutex::new(ThrottleState::default()),
            read_queue: tenants.queue(budget.reads_per_10s, &ledgers.reads),
            write_queue: tenants.queue(budget.writes_per_10s, &ledgers.writes),
            in_flight: FairSemaphore::new(
                budget.in_flight.max(1) as usize,
                Fairness::turns(tenants.fair),
            ),
        }
    }

    fn queue(&self, access: Access) -> &FairQueue {
        match access {
            Access::Read => &self.read_queue,
            Access::Write => &self.write_queue,
        }
    }

    /// Waits for one of the vault's in-flight slots, in `turn`'s lane and tenant; hold it for
    /// the request.
    pub async fn in_flight(&self, turn: &Turn) -> FairPermit<'_> {
        self.in_flight.acquire(turn).await
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn budget(&self) -> VaultBudget {
        self.budget
    }

    /// Waits until the vault's budget and any pause allow one request; returns how long it waited.
    /// Change requests go before refreshes; within a lane, tenants take turns (and each waits
    /// for its share, when one is set).
    pub async fn acquire(&self, access: Access, turn: &Turn) -> Duration {
        let started = Instant::now();
        let limiter = match access {
            Access::Read => &self.reads,
            Access::Write => &self.writes,
        };
        let queue = self.queue(access);
        let place = queue.enter(turn);
        loop {
            if let Some(until) = self.paused_until() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match place.position() {
                Position::Behind { until } => place.wait(until).await,
                Position::Head => match limiter.check() {
                    Ok(()) => {
                        place.served();
                        return started.elapsed();
                    }
                    Err(not_until) => {
                        tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await
                    }
                },
            }
        }
    }

    /// The instant until which the vault is paused after a 429, if it still lies ahead.
    pub fn paused_until(&self) -> Option<Instant> {
        let state = self.throttle.lock().expect("throttle state lock");
        state.paused_until.filter(|until| *until > Instant::now())
    }

    /// Pauses the vault for everyone after a 429; returns the pause applied.
    pub fn throttled(&self, retry_after: Option<Duration>) -> Duration {
        let mut state = self.throttle.lock().expect("throttle state lock");
        let pause = retry_after.unwrap_or_else(|| {
            let exponent = state.consecutive.min(4);
            let base = (THROTTLE_BACKOFF_BASE * 2u32.pow(exponent)).min(THROTTLE_BACKOFF_MAX);
            // Up to 25% jitter so stores sharing a vault do not come back in lockstep.
            base.mul_f64(1.0 + rand::rng().random_range(0.0..0.25))
        });
        state.consecutive = state.consecutive.saturating_add(1);
        let until = Instant::now() + pause;
        state.paused_until = Some(
            state
                .paused_until
                .map_or(until, |current| current.max(until)),
        );
        pause
    }

    /// Resets the backoff after a request the vault accepted.
    pub fn succeeded(&self) {
        let mut state = self.throttle.lock().expect("throttle state lock");
        state.consecutive = 0;
    }
}

/// Hands every store the limiter of its vault host, creating it on first use.
#[derive(Clone, Default)]
pub struct LimiterRegistry {
    budget: VaultBudget,
    tenants: TenantPolicy,
    ledgers: VaultLedgers,
    limiters: Arc<Mutex<HashMap<String, Weak<VaultLimiter>>>>,
}

impl LimiterRegistry {
    pub fn new(budget: VaultBudget) -> Self {
        Self::with_tenants(budget, TenantPolicy::default())
    }

    pub fn with_tenants(budget: VaultBudget, tenants: TenantPolicy) -> Self {
        Self {
            budget,
            tenants,
            ledgers: VaultLedgers::default(),
            limiters: Arc::default(),
        }
    }

    /// How tenants share each vault's budget.
    pub fn policy(&self) -> TenantPolicy {
        self.tenants
    }

    /// Whether `tenant` is at its share of any vault's budget now.
    pub fn at_share(&self, tenant: &Tenant) -> bool {
        self.live().iter().any(|limiter| {
            limiter.read_queue.at_share(tenant) || limiter.write_queue.at_share(tenant)
        })
    }

    fn live(&self) -> Vec<Arc<VaultLimiter>> {
        let limiters = self.limiters.lock().expect("limiter registry lock");
        limiters.values().filter_map(Weak::upgrade).collect()
    }

    /// What every vault served, per tenant, since the registry was made.
    pub fn ledgers(&self) -> &VaultLedgers {
        &self.ledgers
    }

    /// What each tenant waits for now, over every vault in use.
    pub fn backlog(&self, access: Access) -> HashMap<Tenant, Backlog> {
        let mut backlog = HashMap::new();
        for limiter in self.live() {
            merge_backlogs(&mut backlog, limiter.queue(access).backlog());
        }
        backlog
    }

    /// The shared limiter for `host`; it lives as long as a store holds it.
    pub fn limiter(&self, host: &str) -> Arc<VaultLimiter> {
        let mut limiters = self.limiters.lock().expect("limiter registry lock");
        if let Some(existing) = limiters.get(host).and_then(Weak::upgrade) {
            return existing;
        }
        limiters.retain(|_, limiter| limiter.strong_count() > 0);
        let limiter = Arc::new(VaultLimiter::with_tenants(
            host,
            self.budget,
            self.tenants,
            &self.ledgers,
        ));
        limiters.insert(host.to_owned(), Arc::downgrade(&limiter));
        limiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_in_any_10s_window_stay_within_budget() {
        let limiter = VaultLimiter::new(
            "v.vault.azure.net",
            VaultBudget {
                reads_per_10s: 100,
                writes_per_10s: 10,
                ..VaultBudget::default()
            },
        );
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..350 {
            limiter.acquire(Access::Read, &Turn::default()).await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(10))
                .count();
            assert!(
                in_window <= 101,
                "{in_window} reads in the 10 s window starting at {t:?}"
            );
        }
        // 350 reads at 10 per second take about 35 s of (paused) time.
        assert!(
            start.elapsed() >= Duration::from_secs(33),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reads_and_writes_have_separate_budgets() {
        let limiter = VaultLimiter::new(
            "v",
            VaultBudget {
                reads_per_10s: 10,
                writes_per_10s: 10,
                ..VaultBudget::default()
            },
        );
        assert_eq!(
            limiter.acquire(Access::Read, &Turn::default()).await,
            Duration::ZERO
        );
        assert_eq!(
            limiter.acquire(Access::Write, &Turn::default()).await,
            Duration::ZERO
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_with_retry_after_pauses_every_user_of_the_vault() {
        let registry = LimiterRegistry::new(VaultBudget::default());
        let first = registry.limiter("shared.vault.azure.net");
        let second = registry.limiter("shared.vault.azure.net");
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(
            first.throttled(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        let waited = second.acquire(Access::Read, &Turn::default()).await;
        assert_eq!(waited, Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_without_retry_after_backs_off_exponentially_with_jitter() {
        let limiter = VaultLimiter::new("v", VaultBudget::default());
        let pauses: Vec<Duration> = (0..6).map(|_| limiter.throttled(None)).collect();
        for (pause, base) in pauses.iter().zip([1, 2, 4, 8, 16, 16]) {
            let base = Duration::from_secs(base);
            assert!(
                *pause >= base && *pause < base.mul_f64(1.25),
                "{pause:?} vs {base:?}"
            );
        }
        limiter.succeeded();
        assert!(limiter.throttled(None) < Duration::from_millis(1250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_goes_ahead_of_waiting_refreshes() {
        let limiter = Arc::new(VaultLimiter::new(
            "v",
            VaultBudget {
                reads_per_10s: 100,
                writes_per_10s: 10,
                ..VaultBudget::default()
            },
        ));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for index in 0..40 {
            let (limiter, order) = (Arc::clone(&limiter), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                limiter
                    .acquire(
                        Access::Read,
                        &Turn::new(Priority::Refresh, Tenant::default()),
                    )
                    .await;
                order.lock().unwrap().push(format!("refresh-{index}"));
            }));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let change = {
            let (limiter, order) = (Arc::clone(&limiter), Arc::clone(&order));
            tokio::spawn(async move {
                limiter.acquire(Access::Read, &Turn::default()).await;
                order.lock().unwrap().push("change".to_owned());
            })
        };
        change.await.unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let position = order.iter().position(|entry| entry == "change").unwrap();
        // About two refreshes got slots in the first 150 ms; the change takes the next one.
        assert!(position <= 3, "the change came {position}th: {order:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn different_vaults_do_not_share_a_limiter() {
        let registry = LimiterRegistry::new(VaultBudget::default());
        let a = registry.limiter("a");
        let b = registry.limiter("b");
        a.throttled(Some(Duration::from_secs(30)));
        assert_eq!(
            b.acquire(Access::Read, &Turn::default()).await,
            Duration::ZERO
        );
    }

    /// A quiet tenant's wait for one read while a noisy one has `backlog` queued, with `tenants`.
    async fn quiet_wait(tenants: TenantPolicy, backlog: usize) -> Duration {
        let budget = VaultBudget {
            reads_per_10s: 100,
            ..VaultBudget::default()
        };
        let limiter = Arc::new(VaultLimiter::with_tenants(
            "v",
            budget,
            tenants,
            &VaultLedgers::default(),
        ));
        let noisy: Vec<_> = (0..backlog)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move {
                    let turn = Turn::new(Priority::Change, Tenant::new("noisy"));
                    limiter.acquire(Access::Read, &turn).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let turn = Turn::new(Priority::Change, Tenant::new("quiet"));
        let waited = limiter.acquire(Access::Read, &turn).await;
        for task in noisy {
            task.abort();
        }
        waited
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_tenant_waits_one_slot_behind_a_noisy_tenants_backlog() {
        let fair = quiet_wait(TenantPolicy::default(), 2_000).await;
        // 10 reads per second: the next slot, or the one after it.
        assert!(fair <= Duration::from_millis(200), "{fair:?}");
        let first_come = quiet_wait(
            TenantPolicy {
                fair: false,
                max_share: None,
            },
            2_000,
        )
        .await;
        // Behind about 1,990 noisy reads at 10 per second.
        assert!(first_come >= Duration::from_secs(190), "{first_come:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_alone_is_held_to_its_share() {
        let budget = VaultBudget {
            reads_per_10s: 100,
            ..VaultBudget::default()
        };
        let policy = TenantPolicy {
            fair: true,
            max_share: Some(0.25),
        };
        let limiter = VaultLimiter::with_tenants("v", budget, policy, &VaultLedgers::default());
        let turn = Turn::new(Priority::Change, Tenant::new("a"));
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire(Access::Read, &turn).await;
        }
        // A quarter of 10 reads per second: 11 reads take 4 s, where the vault allows 1 s.
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        // Another tenant waits only for the vault's next slot, not for a's share.
        let other = Turn::new(Priority::Change, Tenant::new("b"));
        assert_eq!(
            limiter.acquire(Access::Read, &other).await,
            Duration::from_millis(100)
        );
    }
}
