//! Tenants: who takes turns where resources wait (a vault's budget, the Kubernetes phase).
//!
//! A tenant is a namespace, or with `--tenant-label KEY` every namespace whose label `KEY` has
//! the same value. Within each lane (changes before refreshes) tenants are served round robin, so
//! one tenant's burst does not hold up the others; `--tenant-max-share` also caps how much of a
//! vault's budget one tenant uses when nobody else waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use akvsync_actors::fair::FairSemaphore;
use akvsync_actors::store::{Access, LimiterRegistry, Tenant, TenantPolicy};
use tokio::time::Instant;

use crate::observability::{QueueSnapshot, QueueSource};

/// How the operator groups and serves tenants.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantConfig {
    /// The namespace label naming a namespace's tenant; `None`: each namespace is one.
    pub label: Option<String>,
    /// Whether tenants take turns, and the share of a vault's budget one may use.
    pub policy: TenantPolicy,
}

/// The tenant metrics' view of every fair queue: each vault's reads and writes, and the
/// Kubernetes phase.
pub fn queue_source(limiters: LimiterRegistry, kube_phases: Arc<FairSemaphore>) -> QueueSource {
    Arc::new(move || {
        let ledgers = limiters.ledgers();
        vec![
            QueueSnapshot {
                queue: "vault-read",
                backlog: limiters.backlog(Access::Read),
                totals: ledgers.reads.totals(),
            },
            QueueSnapshot {
                queue: "vault-write",
                backlog: limiters.backlog(Access::Write),
                totals: ledgers.writes.totals(),
            },
            QueueSnapshot {
                queue: "kubernetes",
                backlog: kube_phases.queue().backlog(),
                totals: kube_phases.queue().ledger().totals(),
            },
        ]
    })
}

/// A sync whose vault requests have waited this long tells the user why, with an Event.
pub const WAIT_NOTICE: Duration = Duration::from_secs(5);
/// At most one such Event per tenant this often: a burst of thousands of waiting resources must
/// not become thousands of Events.
pub const WAIT_NOTICE_EVERY: Duration = Duration::from_secs(60);

/// When each tenant was last told why it waits.
#[derive(Default)]
pub struct WaitNotices(Mutex<HashMap<Tenant, Instant>>);

impl WaitNotices {
    /// Why `tenant` waits for its vaults, unless it was told within [`WAIT_NOTICE_EVERY`] or
    /// it does not wait for a budget (a slow vault is not a budget).
    pub fn notice(&self, tenant: &Tenant, limiters: &LimiterRegistry) -> Option<String> {
        let now = Instant::now();
        let mut told = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if told
            .get(tenant)
            .is_some_and(|at| now - *at < WAIT_NOTICE_EVERY)
        {
            return None;
        }
        let message = wait_message(tenant, limiters)?;
        told.retain(|_, at| now - *at < WAIT_NOTICE_EVERY);
        told.insert(tenant.clone(), now);
        Some(message)
    }
}

/// Why `tenant`'s vault requests wait: its share, or the queues ahead; `None` when none of its
/// requests waits for a vault's budget.
pub fn wait_message(tenant: &Tenant, limiters: &LimiterRegistry) -> Option<String> {
    let mut own = 0;
    let mut others = 0;
    for access in [Access::Read, Access::Write] {
        for (waiting, backlog) in limiters.backlog(access) {
            if &waiting == tenant {
                own += backlog.queued;
            } else {
                others += backlog.queued;
            }
        }
    }
    if own == 0 {
        return None;
    }
    Some(match limiters.policy().max_share {
        Some(share) if limiters.at_share(tenant) => format!(
            "waiting for vault budget: tenant {tenant} at its share (--tenant-max-share {share}), {own} of its requests queued"
        ),
        _ => format!(
            "waiting for vault budget: {own} requests of tenant {tenant} and {others} of other tenants queued"
        ),
    })
}

/// Parses `--tenant-max-share`: a fraction in (0, 1].
pub fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if share > 0.0 && share <= 1.0 {
        Ok(share)
    } else {
        Err(format!("{share} is not a fraction in (0, 1]"))
    }
}

#[cfg(test)]
mod tests {
    use akvsync_actors::store::{Priority, Turn, VaultBudget};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_waiting_tenant_is_told_why_once_a_minute_and_an_idle_one_never() {
        let limiters = LimiterRegistry::with_tenants(
            VaultBudget {
                reads_per_10s: 10,
                ..VaultBudget::default()
            },
            TenantPolicy {
                fair: true,
                max_share: Some(0.1),
            },
        );
        let limiter = limiters.limiter("v.vault.azure.net");
        let team = Tenant::new("team-a");
        let notices = WaitNotices::default();
        assert_eq!(notices.notice(&team, &limiters), None, "nothing queued");
        let turn = Turn::new(Priority::Change, team.clone());
        limiter.acquire(Access::Read, &turn).await;
        let waiting = {
            let limiter = Arc::clone(&limiter);
            let turn = turn.clone();
            tokio::spawn(async move { limiter.acquire(Access::Read, &turn).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            notices.notice(&team, &limiters).as_deref(),
            Some(
                "waiting for vault budget: tenant team-a at its share (--tenant-max-share 0.1), 1 of its requests queued"
            )
        );
        assert_eq!(notices.notice(&team, &limiters), None, "told a second ago");
        waiting.await.unwrap();
    }

    #[test]
    fn a_share_is_a_fraction_of_the_budget() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(parse_share("1"), Ok(1.0));
        for bad in ["0", "1.5", "-0.1", "half", "NaN"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
    }
}
