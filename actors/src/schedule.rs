//! When a resource actor syncs next: its refresh interval with jitter, exponential backoff after
//! errors (capped by the interval), and ESO's refresh policies.

use std::time::Duration;

use rand::Rng;

/// First retry after an error; doubles per consecutive error.
const BACKOFF_START: Duration = Duration::from_secs(5);
/// Jitter spreads refreshes of resources created together over ±10% of their interval.
const JITTER_FRACTION: f64 = 0.1;

/// How a resource wants to be refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// Every interval (ESO's `Periodic`, `refreshInterval` > 0).
    Every(Duration),
    /// Only when the resource changes (`OnChange`, `CreatedOnce`, or a zero interval).
    OnChange,
}

/// What the last sync asks of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Synced,
    Failed,
    /// Nothing was due yet (for example after a restart): look again after this delay.
    NotDue(Duration),
}

/// The refresh timer of one resource.
#[derive(Clone, Debug)]
pub struct Schedule {
    refresh: Refresh,
    consecutive_failures: u32,
}

impl Schedule {
    pub fn new(refresh: Refresh) -> Self {
        Self {
            refresh,
            consecutive_failures: 0,
        }
    }

    pub fn set_refresh(&mut self, refresh: Refresh) {
        self.refresh = refresh;
    }

    pub fn refresh(&self) -> Refresh {
        self.refresh
    }

    /// The delay before the next sync after `outcome`, or `None` when only a change may trigger it.
    pub fn next(&mut self, outcome: Outcome) -> Option<Duration> {
        match outcome {
            Outcome::Synced => {
                self.consecutive_failures = 0;
                match self.refresh {
                    Refresh::Every(interval) => Some(jittered(interval)),
                    Refresh::OnChange => None,
                }
            }
            Outcome::NotDue(delay) => {
                self.consecutive_failures = 0;
                Some(delay)
            }
            Outcome::Failed => {
                let exponent = self.consecutive_failures.min(16);
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let backoff = BACKOFF_START.saturating_mul(2u32.saturating_pow(exponent));
                let cap = match self.refresh {
                    Refresh::Every(interval) => interval.max(BACKOFF_START),
                    // ESO retries failed syncs of OnChange resources too; cap at five minutes.
                    Refresh::OnChange => Duration::from_secs(300),
                };
                Some(jittered(backoff.min(cap)))
            }
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
}

/// `interval` ± 10%.
pub fn jittered(interval: Duration) -> Duration {
    let factor = 1.0 + rand::rng().random_range(-JITTER_FRACTION..=JITTER_FRACTION);
    interval.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(actual: Duration, expected: Duration) -> bool {
        actual >= expected.mul_f64(0.9) && actual <= expected.mul_f64(1.1)
    }

    #[test]
    fn periodic_refreshes_follow_the_interval_with_jitter() {
        let mut schedule = Schedule::new(Refresh::Every(Duration::from_secs(3600)));
        let delays: Vec<_> = (0..50)
            .map(|_| schedule.next(Outcome::Synced).unwrap())
            .collect();
        assert!(delays.iter().all(|d| within(*d, Duration::from_secs(3600))));
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter varies the delay"
        );
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_interval_and_reset_on_success() {
        let mut schedule = Schedule::new(Refresh::Every(Duration::from_secs(60)));
        let expected = [5, 10, 20, 40, 60, 60];
        for seconds in expected {
            assert!(within(
                schedule.next(Outcome::Failed).unwrap(),
                Duration::from_secs(seconds)
            ));
        }
        assert_eq!(schedule.consecutive_failures(), 6);
        schedule.next(Outcome::Synced);
        assert!(within(
            schedule.next(Outcome::Failed).unwrap(),
            Duration::from_secs(5)
        ));
    }

    #[test]
    fn a_sync_that_was_not_due_waits_exactly_the_given_delay() {
        let mut schedule = Schedule::new(Refresh::Every(Duration::from_secs(3600)));
        schedule.next(Outcome::Failed);
        assert_eq!(
            schedule.next(Outcome::NotDue(Duration::from_secs(42))),
            Some(Duration::from_secs(42))
        );
        assert_eq!(schedule.consecutive_failures(), 0);
    }

    #[test]
    fn on_change_resources_only_retry_failures() {
        let mut schedule = Schedule::new(Refresh::OnChange);
        assert_eq!(schedule.next(Outcome::Synced), None);
        assert!(schedule.next(Outcome::Failed).is_some());
    }
}
