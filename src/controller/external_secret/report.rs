//! What a sync tells users: its Ready condition, Events and the actor's next step. Pure.

use akvsync_actors::schedule::Outcome;
use akvsync_crds::Condition;
use akvsync_crds::constants::{
    CONDITION_READY, EVENT_REASON_CREATED, EVENT_REASON_DELETED, EVENT_REASON_DUPLICATE_SECRET_KEY,
    EVENT_REASON_MISSING_PROVIDER_SECRET, EVENT_REASON_UPDATE_FAILED, EVENT_REASON_UPDATED,
    REASON_RESOURCE_DELETED, REASON_RESOURCE_MISSING, REASON_RESOURCE_SYNCED,
    REASON_RESOURCE_SYNCED_ERROR, REASON_SECRET_DELETED, REASON_SECRET_MISSING,
    REASON_SECRET_SYNCED, REASON_SECRET_SYNCED_ERROR,
};
use kube::runtime::events::EventType;

use super::error::SyncError;

/// What a successful sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    Written {
        created: bool,
    },
    Unchanged,
    /// Deleted for lack of provider data; `existed` is false when it was gone already.
    Deleted {
        existed: bool,
    },
    Retained,
    Missing,
    Skipped,
}

/// What a sync noticed besides its result.
#[derive(Debug, Default)]
pub struct Notices {
    /// ESO's `MissingProviderSecret` messages.
    pub missing: Vec<String>,
    /// Pairs of entries that wrote the same key.
    pub overwritten: Vec<String>,
}

/// One Event to publish.
#[derive(Debug, PartialEq, Eq)]
pub struct Note {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

impl Note {
    fn normal(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_: EventType::Normal,
            reason,
            message: message.into(),
        }
    }

    fn warning(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_: EventType::Warning,
            reason,
            message: message.into(),
        }
    }
}

/// A sync's report.
#[derive(Debug)]
pub struct Report {
    pub ready: Condition,
    pub events: Vec<Note>,
    pub outcome: Outcome,
    /// The Secret was written or deleted: the status records when.
    pub wrote: bool,
}

const SYNCED: &str = "secret synced";
const RETAINED: &str = "secret retained due to DeletionPolicy=Retain";
const DELETED: &str = "secret deleted due to DeletionPolicy=Delete";
const NOT_CREATED: &str = "secret will not be created due to CreationPolicy=Merge";
const RESOURCE_NOT_CREATED: &str = "resource will not be created due to CreationPolicy=Merge";

/// ESO's condition reasons for one kind of target.
struct Reasons {
    synced: &'static str,
    error: &'static str,
    deleted: &'static str,
    missing: &'static str,
    not_created: &'static str,
}

impl Reasons {
    const SECRET: Reasons = Reasons {
        synced: REASON_SECRET_SYNCED,
        error: REASON_SECRET_SYNCED_ERROR,
        deleted: REASON_SECRET_DELETED,
        missing: REASON_SECRET_MISSING,
        not_created: NOT_CREATED,
    };
    const RESOURCE: Reasons = Reasons {
        synced: REASON_RESOURCE_SYNCED,
        error: REASON_RESOURCE_SYNCED_ERROR,
        deleted: REASON_RESOURCE_DELETED,
        missing: REASON_RESOURCE_MISSING,
        not_created: RESOURCE_NOT_CREATED,
    };
}

/// A generic target's kind and name (`spec.target.manifest`).
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

/// ESO's conditions and Events for a sync's result, after the notices' Events, for the Secret
/// (`resource` is `None`) or the generic target it writes: ESO's generic-target path has
/// `Resource…` reasons and names the object in its Events.
pub fn report(
    result: &Result<Synced, SyncError>,
    notices: Notices,
    resource: Option<Resource>,
) -> Report {
    let mut events: Vec<Note> = notices
        .missing
        .into_iter()
        .map(|message| Note::normal(EVENT_REASON_MISSING_PROVIDER_SECRET, message))
        .chain(
            notices
                .overwritten
                .into_iter()
                .map(|message| Note::warning(EVENT_REASON_DUPLICATE_SECRET_KEY, message)),
        )
        .collect();
    let ready = |reason, message| Condition::new(CONDITION_READY, true, reason, message);
    let reasons = match resource {
        None => Reasons::SECRET,
        Some(_) => Reasons::RESOURCE,
    };
    let note = |secret: &str, verb: &str| match resource {
        None => secret.to_owned(),
        Some(Resource { kind, name }) => format!("{verb} {kind} {name}"),
    };
    let (condition, outcome) = match result {
        Ok(synced) => {
            let condition = match synced {
                Synced::Written { created } => {
                    events.push(if *created {
                        Note::normal(EVENT_REASON_CREATED, note("secret created", "Created"))
                    } else {
                        Note::normal(EVENT_REASON_UPDATED, note("secret updated", "Updated"))
                    });
                    ready(reasons.synced, SYNCED)
                }
                Synced::Unchanged | Synced::Skipped => ready(reasons.synced, SYNCED),
                Synced::Retained => ready(reasons.synced, RETAINED),
                Synced::Deleted { existed } => {
                    if *existed {
                        events.push(Note::normal(EVENT_REASON_DELETED, note(DELETED, "Deleted")));
                    }
                    ready(reasons.deleted, DELETED)
                }
                Synced::Missing => ready(reasons.missing, reasons.not_created),
            };
            (condition, Outcome::Synced)
        }
        Err(error) => {
            events.push(Note::warning(EVENT_REASON_UPDATE_FAILED, error.to_string()));
            // ESO reports a generic target's invalid configuration as a Secret error.
            let reason = match error {
                SyncError::InvalidGenericTarget(_) => REASON_SECRET_SYNCED_ERROR,
                _ => reasons.error,
            };
            let condition = Condition::new(CONDITION_READY, false, reason, &error.ready_message());
            (condition, Outcome::Failed)
        }
    };
    Report {
        ready: condition,
        events,
        outcome,
        wrote: matches!(
            result,
            Ok(Synced::Written { .. } | Synced::Deleted { existed: true })
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::target::Refusal;
    use akvsync_crds::CreationPolicy;

    fn row(
        result: Result<Synced, SyncError>,
    ) -> (String, String, String, Vec<String>, Outcome, bool) {
        let report = report(&result, Notices::default(), None);
        let events = report
            .events
            .iter()
            .map(|note| format!("{:?} {}: {}", note.type_, note.reason, note.message))
            .collect();
        (
            report.ready.status.clone(),
            report.ready.reason.clone().unwrap_or_default(),
            report.ready.message.clone().unwrap_or_default(),
            events,
            report.outcome,
            report.wrote,
        )
    }

    /// Ready status, reason and message; Events; outcome; whether the Secret was written.
    type Expected<'a> = (&'a str, &'a str, &'a str, Vec<&'a str>, Outcome, bool);

    #[test]
    fn every_result_maps_to_esos_condition_and_events() {
        let table: Vec<(Result<Synced, SyncError>, Expected)> = vec![
            (
                Ok(Synced::Written { created: true }),
                (
                    "True",
                    "SecretSynced",
                    "secret synced",
                    vec!["Normal Created: secret created"],
                    Outcome::Synced,
                    true,
                ),
            ),
            (
                Ok(Synced::Written { created: false }),
                (
                    "True",
                    "SecretSynced",
                    "secret synced",
                    vec!["Normal Updated: secret updated"],
                    Outcome::Synced,
                    true,
                ),
            ),
            (
                Ok(Synced::Unchanged),
                (
                    "True",
                    "SecretSynced",
                    "secret synced",
                    vec![],
                    Outcome::Synced,
                    false,
                ),
            ),
            (
                Ok(Synced::Skipped),
                (
                    "True",
                    "SecretSynced",
                    "secret synced",
                    vec![],
                    Outcome::Synced,
                    false,
                ),
            ),
            (
                Ok(Synced::Retained),
                (
                    "True",
                    "SecretSynced",
                    RETAINED,
                    vec![],
                    Outcome::Synced,
                    false,
                ),
            ),
            (
                Ok(Synced::Deleted { existed: true }),
                (
                    "True",
                    "SecretDeleted",
                    DELETED,
                    vec!["Normal Deleted: secret deleted due to DeletionPolicy=Delete"],
                    Outcome::Synced,
                    true,
                ),
            ),
            (
                Ok(Synced::Deleted { existed: false }),
                (
                    "True",
                    "SecretDeleted",
                    DELETED,
                    vec![],
                    Outcome::Synced,
                    false,
                ),
            ),
            (
                Ok(Synced::Missing),
                (
                    "True",
                    "SecretMissing",
                    NOT_CREATED,
                    vec![],
                    Outcome::Synced,
                    false,
                ),
            ),
            (
                Err(SyncError::Refused(Refusal::Immutable)),
                (
                    "False",
                    "SecretSyncedError",
                    "could not update secret, target is immutable",
                    vec!["Warning UpdateFailed: could not update secret, target is immutable"],
                    Outcome::Failed,
                    false,
                ),
            ),
            (
                Err(SyncError::DeleteNotOwned {
                    name: "db".into(),
                    policy: CreationPolicy::Merge,
                }),
                (
                    "False",
                    "SecretSyncedError",
                    "could not delete secret: unable to delete secret db: creationPolicy=Merge is not Owner",
                    vec![
                        "Warning UpdateFailed: unable to delete secret db: creationPolicy=Merge is not Owner",
                    ],
                    Outcome::Failed,
                    false,
                ),
            ),
        ];
        for (result, (status, reason, message, events, outcome, wrote)) in table {
            let case = format!("{result:?}");
            assert_eq!(
                row(result),
                (
                    status.to_owned(),
                    reason.to_owned(),
                    message.to_owned(),
                    events.into_iter().map(str::to_owned).collect(),
                    outcome,
                    wrote
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn notices_come_first_missing_then_duplicate_keys() {
        let notices = Notices {
            missing: vec!["secret a not found".into()],
            overwritten: vec!["key k written by data[0] and data[1]".into()],
        };
        let report = report(&Ok(Synced::Written { created: true }), notices, None);
        let reasons: Vec<(EventType, &str)> = report
            .events
            .iter()
            .map(|note| (note.type_, note.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (EventType::Normal, EVENT_REASON_MISSING_PROVIDER_SECRET),
                (EventType::Warning, EVENT_REASON_DUPLICATE_SECRET_KEY),
                (EventType::Normal, EVENT_REASON_CREATED),
            ]
        );
    }

    #[test]
    fn generic_targets_are_reported_with_esos_resource_reasons() {
        let resource = Some(Resource {
            kind: "ConfigMap",
            name: "settings",
        });
        let row = |result: Result<Synced, SyncError>| {
            let report = report(&result, Notices::default(), resource);
            let events: Vec<String> = report
                .events
                .iter()
                .map(|note| format!("{}: {}", note.reason, note.message))
                .collect();
            (
                report.ready.reason.unwrap_or_default(),
                report.ready.message.unwrap_or_default(),
                events,
            )
        };
        assert_eq!(
            row(Ok(Synced::Written { created: true })),
            (
                "ResourceSynced".to_owned(),
                "secret synced".to_owned(),
                vec!["Created: Created ConfigMap settings".to_owned()]
            )
        );
        assert_eq!(
            row(Ok(Synced::Deleted { existed: true })).0,
            "ResourceDeleted"
        );
        assert_eq!(
            row(Ok(Synced::Missing)).1,
            "resource will not be created due to CreationPolicy=Merge"
        );
        assert_eq!(
            row(Err(SyncError::ResourceDeleteNotOwned {
                policy: CreationPolicy::Orphan
            }))
            .1,
            "could not delete resource: unable to delete resource: creationPolicy=Orphan is not Owner"
        );
        let disabled = row(Err(SyncError::InvalidGenericTarget(
            "generic targets are disabled. Enable with --unsafe-allow-generic-targets flag".into(),
        )));
        assert_eq!(disabled.0, "SecretSyncedError");
        assert_eq!(
            disabled.1,
            "invalid generic target: generic targets are disabled. Enable with --unsafe-allow-generic-targets flag"
        );
        assert_eq!(
            row(Err(SyncError::ResourceGet {
                message: "forbidden".into()
            }))
            .0,
            "ResourceSyncedError"
        );
    }
}
