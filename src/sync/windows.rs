//! `spec.syncWindows`: when periodic refreshes may run, as ESO v2.7+ evaluates them
//! (`isPeriodicRefreshAllowedByWindows` in its ExternalSecret controller), in UTC. Windows gate
//! only periodic refreshes; a changed ExternalSecret syncs at once.

use std::time::Duration;

use akvsync_crds::{SyncWindowKind, SyncWindows, parse_go_duration};
use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Why `spec.syncWindows` cannot be used: ESO skips such a window silently, akvsync says so.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("spec.syncWindows.windows: at least one window is required")]
    NoWindows,
    #[error("spec.syncWindows.windows[{index}].schedule: invalid schedule {schedule:?}: {message}")]
    Schedule {
        index: usize,
        schedule: String,
        message: String,
    },
    #[error("spec.syncWindows.windows[{index}].duration: {message}")]
    Duration { index: usize, message: String },
}

/// When a window opens: a cron schedule, or robfig/cron's `@every <duration>`.
#[derive(Clone, Debug)]
enum Opening {
    Cron(Box<Cron>),
    Every(chrono::Duration),
}

impl Opening {
    /// The first opening strictly after `at` (robfig's `Next`), at whole seconds.
    fn next(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Opening::Cron(cron) => cron.find_next_occurrence(&at, false).ok(),
            Opening::Every(every) => {
                let whole =
                    at - chrono::Duration::nanoseconds(i64::from(at.timestamp_subsec_nanos()));
                Some(whole + *every)
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Window {
    opening: Opening,
    duration: chrono::Duration,
}

impl Window {
    /// ESO's `isWithinSyncWindow`: inside the window opened by the last opening before `at`.
    fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.earliest_open_at(at)
            .is_some_and(|opened| opened <= at && at <= opened + self.duration)
    }

    fn closes_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.earliest_open_at(at)
            .map(|opened| opened + self.duration)
    }

    /// The first opening whose window may still be open at `at`: the first at or after
    /// `at - duration`. (The first one strictly after a second before that missed, during the
    /// first second after each opening, the window that opening began.)
    fn earliest_open_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.opening {
            Opening::Cron(cron) => {
                // croner counts whole seconds: start from the next whole second.
                let from = at - self.duration;
                let nanos = i64::from(from.timestamp_subsec_nanos());
                let from = if nanos == 0 {
                    from
                } else {
                    from + chrono::Duration::nanoseconds(1_000_000_000 - nanos)
                };
                cron.find_next_occurrence(&from, true).ok()
            }
            Opening::Every(_) => self
                .opening
                .next(at - self.duration - chrono::Duration::seconds(1)),
        }
    }
}

/// Parsed `spec.syncWindows`.
#[derive(Clone, Debug)]
pub struct SyncGate {
    kind: SyncWindowKind,
    windows: Vec<Window>,
}

/// How far ahead a deny window chain is followed before giving up and looking again later.
const LOOKAHEAD_STEPS: usize = 64;

impl SyncGate {
    pub fn parse(spec: &SyncWindows) -> Result<Self, WindowError> {
        let kind = spec.kind;
        let entries = &spec.windows;
        if entries.is_empty() {
            return Err(WindowError::NoWindows);
        }
        let windows = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let duration = parse_go_duration(&entry.duration)
                    .map_err(|error| WindowError::Duration {
                        index,
                        message: error.to_string(),
                    })
                    .and_then(|duration| {
                        chrono::Duration::from_std(duration).map_err(|error| {
                            WindowError::Duration {
                                index,
                                message: error.to_string(),
                            }
                        })
                    })?;
                let opening =
                    parse_opening(&entry.schedule).map_err(|message| WindowError::Schedule {
                        index,
                        schedule: entry.schedule.clone(),
                        message,
                    })?;
                Ok(Window { opening, duration })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { kind, windows })
    }

    /// Whether a periodic refresh may run at `at`.
    pub fn allows(&self, at: DateTime<Utc>) -> bool {
        let active = self.windows.iter().any(|window| window.active_at(at));
        match self.kind {
            SyncWindowKind::Allow => active,
            SyncWindowKind::Deny => !active,
        }
    }

    /// How long after `at` a blocked refresh may run; `None` when it may run now.
    pub fn blocked_for(&self, at: DateTime<Utc>) -> Option<Duration> {
        if self.allows(at) {
            return None;
        }
        let until = match self.kind {
            // The next window to open.
            SyncWindowKind::Allow => self
                .windows
                .iter()
                .filter_map(|window| window.opening.next(at))
                .min(),
            // The end of the active windows, following windows that overlap it.
            SyncWindowKind::Deny => {
                let mut candidate = at;
                let mut found = None;
                for _ in 0..LOOKAHEAD_STEPS {
                    let closing = self
                        .windows
                        .iter()
                        .filter(|window| window.active_at(candidate))
                        .filter_map(|window| window.closes_after(candidate))
                        .max();
                    match closing {
                        Some(closing) => candidate = closing + chrono::Duration::seconds(1),
                        None => {
                            found = Some(candidate);
                            break;
                        }
                    }
                }
                found.or(Some(candidate))
            }
        };
        // A schedule that never fires again blocks for good: look again in a day.
        let until = until.unwrap_or(at + chrono::Duration::days(1));
        Some(
            (until - at)
                .to_std()
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1)),
        )
    }
}

fn parse_opening(schedule: &str) -> Result<Opening, String> {
    let trimmed = schedule.trim();
    if let Some(every) = trimmed.strip_prefix("@every ") {
        let duration = parse_go_duration(every.trim()).map_err(|error| error.to_string())?;
        if duration.is_zero() {
            return Err("@every needs a positive duration".to_owned());
        }
        return chrono::Duration::from_std(duration)
            .map(Opening::Every)
            .map_err(|error| error.to_string());
    }
    let pattern = match trimmed {
        "@midnight" => "0 0 * * *",
        other => other,
    };
    if !pattern.starts_with('@') && pattern.split_whitespace().count() != 5 {
        return Err(
            "expected 5 fields (minute hour day-of-month month day-of-week) or a @descriptor"
                .to_owned(),
        );
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map(|cron| Opening::Cron(Box::new(cron)))
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(json: serde_json::Value) -> SyncGate {
        SyncGate::parse(&serde_json::from_value(json).unwrap()).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn deny_windows_block_while_active_and_say_until_when() {
        let nightly = gate(
            serde_json::json!({"kind": "deny", "windows": [{"schedule": "0 22 * * *", "duration": "8h"}]}),
        );
        assert!(nightly.allows(at("2026-12-04T21:59:00Z")));
        assert!(!nightly.allows(at("2026-12-04T22:00:00Z")));
        assert!(!nightly.allows(at("2026-12-05T05:59:00Z")));
        assert!(nightly.allows(at("2026-12-05T06:00:01Z")));
        assert_eq!(
            nightly.blocked_for(at("2026-12-05T05:00:00Z")),
            Some(Duration::from_secs(3601))
        );
        assert_eq!(nightly.blocked_for(at("2026-12-05T07:00:00Z")), None);
    }

    #[test]
    fn allow_windows_run_only_inside_and_wait_for_the_next_opening() {
        let weekdays = gate(
            serde_json::json!({"kind": "allow", "windows": [{"schedule": "0 9 * * 1-5", "duration": "1h"}]}),
        );
        // 2026-12-04 is a Friday.
        assert!(weekdays.allows(at("2026-12-04T09:30:00Z")));
        assert!(!weekdays.allows(at("2026-12-04T10:30:00Z")));
        assert!(!weekdays.allows(at("2026-12-05T09:30:00Z")), "Saturday");
        assert_eq!(
            weekdays.blocked_for(at("2026-12-04T10:30:00Z")),
            Some(Duration::from_secs((2 * 24 + 22) * 3600 + 30 * 60)),
            "next Monday 09:00"
        );
    }

    #[test]
    fn a_window_that_opens_every_minute_for_an_hour_is_open_at_every_instant() {
        let always = gate(
            serde_json::json!({"kind": "allow", "windows": [{"schedule": "* * * * *", "duration": "1h"}]}),
        );
        // The first second after an opening used to fall between the window an hour old and the
        // one just opened: a refresh then waited a minute.
        for instant in [
            "2026-12-04T12:01:00Z",
            "2026-12-04T12:01:00.500Z",
            "2026-12-04T12:01:00.999Z",
            "2026-12-04T12:01:30Z",
            "2026-12-04T12:01:59.999Z",
        ] {
            assert!(always.allows(at(instant)), "{instant}");
            assert_eq!(always.blocked_for(at(instant)), None, "{instant}");
        }
    }

    #[test]
    fn descriptors_and_every_follow_robfig() {
        let daily = gate(
            serde_json::json!({"kind": "allow", "windows": [{"schedule": "@daily", "duration": "1h"}]}),
        );
        assert!(daily.allows(at("2026-12-04T00:30:00Z")));
        assert!(!daily.allows(at("2026-12-04T01:30:00Z")));
        let midnight = gate(
            serde_json::json!({"kind": "allow", "windows": [{"schedule": "@midnight", "duration": "1h"}]}),
        );
        assert!(midnight.allows(at("2026-12-04T00:30:00Z")));
        // robfig's @every fires `every` after the instant it is asked about, so ESO's check
        // finds a window active exactly when `every` ≤ duration + 1 s.
        let short = gate(
            serde_json::json!({"kind": "deny", "windows": [{"schedule": "@every 30m", "duration": "1h"}]}),
        );
        assert!(!short.allows(at("2026-12-04T12:00:00Z")));
        let long = gate(
            serde_json::json!({"kind": "deny", "windows": [{"schedule": "@every 2h", "duration": "1h"}]}),
        );
        assert!(long.allows(at("2026-12-04T12:00:00Z")));
    }

    #[test]
    fn invalid_windows_name_the_field() {
        let error = |json: serde_json::Value| {
            SyncGate::parse(&serde_json::from_value(json).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(
                serde_json::json!({"kind": "deny", "windows": [{"schedule": "0 22 * *", "duration": "8h"}]})
            ),
            r#"spec.syncWindows.windows[0].schedule: invalid schedule "0 22 * *": expected 5 fields (minute hour day-of-month month day-of-week) or a @descriptor"#
        );
        assert_eq!(
            error(
                serde_json::json!({"kind": "deny", "windows": [{"schedule": "0 22 * * *", "duration": "soon"}]})
            ),
            r#"spec.syncWindows.windows[0].duration: invalid duration "soon""#
        );
        assert!(error(serde_json::json!({"kind": "deny", "windows": [{"schedule": "61 * * * *", "duration": "1h"}]})).starts_with("spec.syncWindows.windows[0].schedule: invalid schedule \"61 * * * *\""));
        assert_eq!(
            error(serde_json::json!({"kind": "allow", "windows": []})),
            "spec.syncWindows.windows: at least one window is required"
        );
    }
}
