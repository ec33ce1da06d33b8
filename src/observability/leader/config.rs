//! Which Lease to compete for, as whom, and how fast: the CLI flags, client-go's default
//! timings, and the checks that leave the leader room to step down before its lease expires.

use std::time::Duration;

use super::LeaderError;

/// Default Lease name (ESO's is `external-secrets-controller`).
pub const DEFAULT_LEASE_NAME: &str = "akvsync-controller";
/// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
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

    pub(super) fn validate(&self) -> Result<(), LeaderError> {
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
    pub(super) fn lease_seconds(&self) -> i32 {
        let seconds = self.lease_duration.as_millis().div_ceil(1_000);
        i32::try_from(seconds).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
