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

/// Default Lease name (ESO's is `external-secrets-controller`).
pub const DEFAULT_LEASE_NAME: &str = "akvsync-controller";
/// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
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

/// Leader-election flags, to `#[command(flatten)]` into `akvsync run`.
#[derive(Debug, Clone, clap::Args)]
pub struct LeaderArgs {
    /// Run active/standby: only the holder of the Lease reconciles.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, default_value = DEFAULT_LEASE_NAME)]
    pub leader_election_id: String,
    /// Namespace of the Lease (the pod's namespace in-cluster).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// How long a Lease is valid without renewal (e.g. `15s`).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down (e.g. `10s`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often candidates try to acquire or renew (e.g. `2s`).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
}

/// Parses `500ms`, `15s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}, expected e.g. 15s or 500ms"))?;
    let milliseconds_per_unit = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Ok(Duration::from_millis(
        number.saturating_mul(milliseconds_per_unit),
    ))
}

/// A unique candidate identity: the pod name (or host name) and a random suffix, as client-go.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "akvsync".to_owned());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// Which Lease to compete for, as whom, and how fast.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// client-go's default timings.
    pub fn new(
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// From the CLI flags; `namespace` is used when the flag and `POD_NAMESPACE` are absent.
    pub fn from_args(args: &LeaderArgs, namespace: &str, identity: String) -> Self {
        Self {
            namespace: args
                .leader_election_namespace
                .clone()
                .unwrap_or_else(|| namespace.to_owned()),
            lease_name: args.leader_election_id.clone(),
            identity,
            lease_duration: args.leader_election_lease_duration,
            renew_deadline: args.leader_election_renew_deadline,
            retry_period: args.leader_election_retry_period,
        }
    }

    fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |reason: &str| Err(LeaderError::InvalidConfig(reason.to_owned()));
        if self.identity.is_empty() {
            return invalid("the candidate identity is empty");
        }
        if self.lease_duration < Duration::from_secs(1) {
            return invalid("the lease duration must be at least 1s (the Lease counts seconds)");
        }
        if self.renew_deadline >= self.lease_duration {
            return invalid("the renew deadline must be shorter than the lease duration");
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return invalid(
                "the retry period must be positive and shorter than the renew deadline",
            );
        }
        Ok(())
    }

    /// `leaseDurationSeconds`: whole seconds, rounded up.
    fn lease_seconds(&self) -> i32 {
        let seconds = self.lease_duration.as_millis().div_ceil(1_000);
        i32::try_from(seconds).unwrap_or(i32::MAX)
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

    #[test]
    fn durations_parse_like_kubernetes_flags() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn timings_must_leave_room_to_step_down_before_expiry() {
        let mut config = LeaderElectionConfig::new("ns", "lease", "me");
        assert!(config.validate().is_ok());
        config.renew_deadline = config.lease_duration;
        assert!(config.validate().is_err());
        let mut config = LeaderElectionConfig::new("ns", "lease", "me");
        config.retry_period = config.renew_deadline;
        assert!(config.validate().is_err());
        let mut config = LeaderElectionConfig::new("ns", "lease", "");
        assert!(config.validate().is_err());
        config.identity = "me".into();
        config.lease_duration = Duration::from_millis(1_500);
        assert_eq!(config.lease_seconds(), 2);
    }
}
