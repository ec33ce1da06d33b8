//! Tenants: who takes turns where resources wait (a vault's budget, the Kubernetes phase).
//!
//! A tenant is a namespace, or with `--tenant-label KEY` every namespace whose label `KEY` has
//! the same value. Within each lane (changes before refreshes) tenants are served round robin, so
//! one tenant's burst does not hold up the others; `--tenant-max-share` also caps how much of a
//! vault's budget one tenant uses when nobody else waits.

use std::sync::Arc;

use akvsync_actors::fair::FairSemaphore;
use akvsync_actors::store::{Access, LimiterRegistry, TenantPolicy};

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
    use super::*;

    #[test]
    fn a_share_is_a_fraction_of_the_budget() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(parse_share("1"), Ok(1.0));
        for bad in ["0", "1.5", "-0.1", "half", "NaN"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
    }
}
