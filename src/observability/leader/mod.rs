//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it
//! (no crate supports kube 5 yet).
//!
//! A candidate takes the Lease when it is absent, released (no holder) or expired
//! (`renewTime + leaseDurationSeconds` in the past), renews it every retry period while it
//! leads, and steps down (state [`LeaderState::Unknown`]) when it could not renew within the
//! renew deadline — before the lease can expire for anyone else. Every write carries the
//! resourceVersion it read (or is a create), so two candidates racing for one Lease can never
//! both win: the loser gets 409 Conflict / AlreadyExists. On shutdown the leader clears
//! `holderIdentity`, so a standby takes over at its next retry instead of waiting for expiry.
//!
//! The state is published on a [`watch`] channel: the controller acts only while it reads
//! [`LeaderState::Leader`], and `/readyz` is ready once it is anything but `Unknown`.
//! Shutdown order for callers: stop the controller and let its writes finish, then cancel the
//! elector's token so the release comes last.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod config;

pub use config::{
    DEFAULT_LEASE_DURATION, DEFAULT_LEASE_NAME, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD,
    LeaderArgs, LeaderElectionConfig, default_identity, parse_duration,
};

/// Bound on the release at shutdown: the pod is terminating, and expiry takes over if it fails.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// What this candidate knows about the leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderState {
    /// Not known yet, or lost (the Lease could not be read or renewed in time).
    Unknown,
    /// This candidate holds the Lease.
    Leader,
    /// Another candidate holds the Lease.
    Standby { holder: String },
}

impl LeaderState {
    pub fn is_leader(&self) -> bool {
        *self == LeaderState::Leader
    }
}

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election settings: {0}")]
    InvalidConfig(String),
    #[error("reading Lease {namespace}/{name} failed")]
    ReadLease {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing Lease {namespace}/{name} failed")]
    WriteLease {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("the Lease request timed out after {0:?}")]
    Timeout(Duration),
}

/// One candidate for one Lease.
pub struct LeaderElector {
    leases: Api<Lease>,
    config: LeaderElectionConfig,
    states: watch::Sender<LeaderState>,
    /// When this candidate last wrote the Lease as its holder.
    last_renewed: Option<Instant>,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaderElectionConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        let (states, _) = watch::channel(LeaderState::Unknown);
        Ok(Self {
            leases: Api::namespaced(client, &config.namespace),
            config,
            states,
            last_renewed: None,
        })
    }

    /// The state channel; the current value is always the latest known state.
    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.states.subscribe()
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Competes until `shutdown` is cancelled, then releases the Lease if it holds it.
    /// Errors of single rounds are logged and retried; only the release's error is returned.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), LeaderError> {
        loop {
            let round = self.round_timeout();
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                outcome = tokio::time::timeout(round, self.try_acquire_or_renew()) => outcome,
            };
            let error = match outcome {
                Ok(Ok(_)) => None,
                Ok(Err(error)) => Some(error),
                Err(_) => Some(LeaderError::Timeout(round)),
            };
            if let Some(error) = error {
                tracing::warn!(error = %error_chain(&error), lease = %self.config.lease_name, "leader election round failed");
                self.step_down_if_overdue();
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
        }
        if self.states.borrow().is_leader() {
            let released = tokio::time::timeout(RELEASE_TIMEOUT, self.release()).await;
            self.publish(LeaderState::Unknown);
            return released.map_err(|_| LeaderError::Timeout(RELEASE_TIMEOUT))?;
        }
        self.publish(LeaderState::Unknown);
        Ok(())
    }

    /// A leader must give up its round in time to step down before the renew deadline.
    fn round_timeout(&self) -> Duration {
        match self.last_renewed {
            Some(renewed) if self.states.borrow().is_leader() => self
                .config
                .renew_deadline
                .saturating_sub(renewed.elapsed())
                .max(Duration::from_millis(1)),
            _ => self.config.renew_deadline,
        }
    }

    fn step_down_if_overdue(&mut self) {
        let overdue = self
            .last_renewed
            .is_none_or(|renewed| renewed.elapsed() >= self.config.renew_deadline);
        if self.states.borrow().is_leader() && overdue {
            tracing::warn!(lease = %self.config.lease_name, "could not renew the Lease in time; stepping down");
            self.publish(LeaderState::Unknown);
        }
    }

    /// One round: reads the Lease, then creates, renews or takes it over when it may.
    /// Returns whether this candidate leads afterwards, and publishes the state.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderError> {
        let now = Timestamp::now();
        let current = self
            .leases
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|source| self.read_error(source))?;
        let Some(lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec_acquired_at(now, 0)),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(self.became_leader()),
                // Another candidate created it first: it leads; the next round reads who.
                Err(error) if is_conflict(&error) => Ok(false),
                Err(source) => Err(self.write_error(source)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder == self.config.identity {
            let mut renewed = lease;
            let renewed_spec = renewed.spec.get_or_insert_with(LeaseSpec::default);
            renewed_spec.renew_time = Some(MicroTime(now));
            renewed_spec.lease_duration_seconds = Some(self.config.lease_seconds());
            return self.replace(renewed).await;
        }
        if !holder.is_empty() && !expired(&spec, now) {
            self.publish(LeaderState::Standby { holder });
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
        let mut taken = lease;
        taken.spec = Some(self.spec_acquired_at(now, transitions));
        if !holder.is_empty() {
            tracing::info!(previous = %holder, lease = %self.config.lease_name, "the Lease expired; taking over");
        }
        self.replace(taken).await
    }

    /// Clears the holder (only when this candidate holds the Lease), so a standby takes over
    /// at its next retry instead of after expiry.
    pub async fn release(&mut self) -> Result<(), LeaderError> {
        let current = self
            .leases
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|source| self.read_error(source))?;
        let Some(mut lease) = current else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let now = Timestamp::now();
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(now));
        spec.acquire_time = Some(MicroTime(now));
        self.leases
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
            .map_err(|source| self.write_error(source))?;
        self.last_renewed = None;
        self.publish(LeaderState::Standby {
            holder: String::new(),
        });
        tracing::info!(lease = %self.config.lease_name, "released the Lease");
        Ok(())
    }

    /// Writes `lease` with the resourceVersion it was read with.
    async fn replace(&mut self, lease: Lease) -> Result<bool, LeaderError> {
        match self
            .leases
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(self.became_leader()),
            Err(error) if is_conflict(&error) => {
                // Someone else wrote the Lease since we read it; the next round sees who.
                self.step_down_if_overdue();
                Ok(false)
            }
            Err(source) => Err(self.write_error(source)),
        }
    }

    fn spec_acquired_at(&self, now: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.lease_seconds()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    fn became_leader(&mut self) -> bool {
        self.last_renewed = Some(Instant::now());
        if !self.states.borrow().is_leader() {
            tracing::info!(identity = %self.config.identity, lease = %self.config.lease_name, "became the leader");
        }
        self.publish(LeaderState::Leader);
        true
    }

    fn publish(&self, state: LeaderState) {
        self.states.send_if_modified(|current| {
            if *current == state {
                false
            } else {
                *current = state;
                true
            }
        });
    }

    fn read_error(&self, source: kube::Error) -> LeaderError {
        LeaderError::ReadLease {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            source,
        }
    }

    fn write_error(&self, source: kube::Error) -> LeaderError {
        LeaderError::WriteLease {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            source,
        }
    }
}

/// Whether the holder's last renewal is older than its lease duration.
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time else {
        return true;
    };
    let duration_ms = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0)) * 1_000;
    now.as_millisecond() - renewed.as_millisecond() > duration_ms
}

/// 409: a create lost to another create, or a replace to another write.
fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renewed_ms_ago: i64, duration_seconds: i32) -> (LeaseSpec, Timestamp) {
        let now = Timestamp::now();
        let renewed = Timestamp::from_millisecond(now.as_millisecond() - renewed_ms_ago)
            .expect("valid timestamp");
        (
            LeaseSpec {
                holder_identity: Some("other".into()),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(duration_seconds),
                ..LeaseSpec::default()
            },
            now,
        )
    }

    #[test]
    fn a_lease_expires_only_after_its_duration_since_renewal() {
        let (fresh, now) = spec(14_000, 15);
        assert!(!expired(&fresh, now));
        let (stale, now) = spec(15_001, 15);
        assert!(expired(&stale, now));
        assert!(expired(&LeaseSpec::default(), Timestamp::now()));
    }
}
