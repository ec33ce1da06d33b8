//! Runtime fault injection and per-vault throttling.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::Limits;

/// Faults applied to requests, changeable at runtime.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Delay added before every vault and token answer, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0..=1) of authenticated vault requests answered with `error_status`.
    pub error_rate: f64,
    /// Status for injected errors (500, 502, 503, …); 500 when 0.
    pub error_status: u16,
    /// Fraction (0..=1) of vault requests whose connection is dropped without an answer.
    pub drop_rate: f64,
    /// When set, the token and managed-identity endpoints answer with this status
    /// (e.g. 503) and an AADSTS `temporarily_unavailable` body.
    pub token_outage: Option<u16>,
    /// Restrict vault faults to this vault (lowercase name); all vaults when `None`.
    pub vault: Option<String>,
}

impl FaultConfig {
    /// Whether vault faults apply to `vault`.
    pub fn applies_to(&self, vault: &str) -> bool {
        self.vault
            .as_deref()
            .is_none_or(|v| v.eq_ignore_ascii_case(vault))
    }

    /// Draws whether an event with probability `rate` happens.
    pub fn roll(rate: f64) -> bool {
        rate >= 1.0 || (rate > 0.0 && rand::random::<f64>() < rate)
    }
}

/// Which limit a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestClass {
    /// Get and list.
    Read,
    /// Everything that changes state.
    Write,
}

/// Sliding windows per vault and class.
#[derive(Debug, Default)]
pub struct Throttle {
    windows: Mutex<BTreeMap<(String, RequestClass), VecDeque<Instant>>>,
}

impl Throttle {
    /// Admits a request or returns how long until one would be admitted.
    pub fn admit(&self, vault: &str, class: RequestClass, limits: &Limits) -> Result<(), Duration> {
        let limit = match class {
            RequestClass::Read => limits.reads,
            RequestClass::Write => limits.writes,
        } as usize;
        let window = limits.window();
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let recent = windows.entry((vault.to_string(), class)).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        if recent.len() >= limit {
            let oldest = recent.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        recent.push_back(now);
        Ok(())
    }

    /// Forgets all windows (after a limit change).
    pub fn reset(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_admits_up_to_the_limit_then_reports_the_wait() {
        let throttle = Throttle::default();
        let limits = Limits {
            reads: 2,
            writes: 1,
            window_ms: 60_000,
            retry_after: true,
        };
        assert!(throttle.admit("v", RequestClass::Read, &limits).is_ok());
        assert!(throttle.admit("v", RequestClass::Read, &limits).is_ok());
        let wait = throttle
            .admit("v", RequestClass::Read, &limits)
            .unwrap_err();
        assert!(wait > Duration::from_secs(50));
        assert!(throttle.admit("v", RequestClass::Write, &limits).is_ok());
        assert!(throttle.admit("w", RequestClass::Read, &limits).is_ok());
    }
}
