//! What a target Secret was built from, recorded on it as the annotation
//! [`ANNOTATION_BUILT_FROM`]: the ExternalSecret's synced version, each store's version, and the
//! `updated` time of every Key Vault secret read. When the vault's listings show the same (every
//! secret unchanged, nothing new matching a `find`), the Secret is proven fresh without reading
//! a value — after a restart too, since the record lives on the Secret.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use akvsync_actors::remote::{ObjectKind, RemoteValue};
use akvsync_actors::store::Listing;
use akvsync_actors::store::core::REVALIDATE_AFTER_UPDATE;
use akvsync_crds::ExternalSecret;
use serde::{Deserialize, Serialize};

use super::build::{Fetched, FetchedFrom};
use super::plan::{DataFromSource, Plan, RemoteRead, StoreName};
use super::target::template_sources;

/// The annotation that records what a target Secret was built from.
pub const ANNOTATION_BUILT_FROM: &str = "akvsync.io/built-from";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltFrom {
    /// The ExternalSecret's synced version (generation and metadata digest).
    #[serde(rename = "es")]
    pub external_secret: String,
    /// By store (`Kind/name`): what was read from it.
    pub stores: BTreeMap<String, StoreReads>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreReads {
    /// The store's version (uid and generation): a changed store spec may change the values.
    #[serde(rename = "v")]
    pub version: String,
    /// Lowercase secret name → Unix seconds of its last change.
    #[serde(rename = "u")]
    pub updated: BTreeMap<String, i64>,
}

/// A store's version as the proof needs it: `None` for a store the operator does not know.
pub trait StoreVersions {
    fn version(&self, store: &StoreName) -> Option<String>;
}

impl<F: Fn(&StoreName) -> Option<String>> StoreVersions for F {
    fn version(&self, store: &StoreName) -> Option<String> {
        self(store)
    }
}

/// Whether a spec's output depends only on the values read: no template read from a ConfigMap
/// or Secret (those change unseen), no template calling the clock or randomness; and whether it
/// writes a Secret, the only target that carries a record (not `spec.target.manifest`).
pub fn provable_spec(es: &ExternalSecret) -> bool {
    if es.spec.manifest().is_some() {
        return false;
    }
    let Some(template) = es.spec.target.as_ref().and_then(|t| t.template.as_ref()) else {
        return true;
    };
    let engine = akvsync_template::Engine::global();
    let metadata = template.metadata.iter().flat_map(|metadata| {
        let labels = metadata.labels.iter().flatten();
        labels.chain(metadata.annotations.iter().flatten())
    });
    let texts = template
        .data
        .iter()
        .flatten()
        .chain(metadata)
        .map(|(_, text)| text.as_str())
        .chain(
            template
                .template_from
                .iter()
                .flatten()
                .filter_map(|from| from.literal.as_deref()),
        );
    template_sources(es).is_empty() && texts.into_iter().all(|text| engine.is_repeatable(text))
}

/// A value's lowercase name and `updated`, when it was read long enough after its change that
/// no second change within the same second can hide behind the same `updated`.
fn settled(name: &str, value: &RemoteValue) -> Option<(String, i64)> {
    let updated = value.updated?;
    let margin = i64::try_from(REVALIDATE_AFTER_UPDATE.as_secs()).ok()?;
    (value.read_at? - updated >= margin).then(|| (name.to_ascii_lowercase(), updated))
}

/// The reads recorded for `store`, with its version on first use.
fn reads_of<'a>(
    reads: &'a mut BTreeMap<String, StoreReads>,
    store: &StoreName,
    stores: &impl StoreVersions,
) -> Option<&'a mut BTreeMap<String, i64>> {
    let entry = match reads.entry(store_key(store)) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry.insert(StoreReads {
            version: stores.version(store)?,
            updated: BTreeMap::new(),
        }),
    };
    Some(&mut entry.updated)
}

/// A latest secret version, the only kind of read a listing can prove unchanged.
fn latest_secret(read: &RemoteRead) -> bool {
    read.key.kind == ObjectKind::Secret && read.key.version.is_none()
}

fn store_key(store: &StoreName) -> String {
    format!("{:?}/{}", store.kind, store.name)
}

impl BuiltFrom {
    /// What a sync of `plan` built from `fetched`; `None` when a listing could not prove it
    /// fresh later: a key, certificate or pinned version, a failed read, a store without a
    /// version, or a value read so soon after its change that `updated` may hide a second one.
    pub fn record(
        external_secret: &str,
        plan: &Plan,
        fetched: &Fetched,
        stores: &impl StoreVersions,
    ) -> Option<Self> {
        let mut reads: BTreeMap<String, StoreReads> = BTreeMap::new();
        for (entry, value) in plan.data.iter().zip(&fetched.data) {
            if !latest_secret(&entry.remote) {
                return None;
            }
            let (name, updated) = settled(&entry.remote.key.name, value.as_ref().ok()?)?;
            reads_of(&mut reads, &entry.store, stores)?.insert(name, updated);
        }
        for (entry, value) in plan.data_from.iter().zip(&fetched.data_from) {
            // A generator makes new values at every sync: nothing a listing could prove.
            let store = reads_of(&mut reads, entry.source.store()?, stores)?;
            match (&entry.source, value.as_ref().ok()?) {
                (DataFromSource::Extract { read, .. }, FetchedFrom::Extract(value)) => {
                    if !latest_secret(read) {
                        return None;
                    }
                    let (name, updated) = settled(&read.key.name, value)?;
                    store.insert(name, updated);
                }
                (DataFromSource::Find { .. }, FetchedFrom::Find(found)) => {
                    for (name, value) in found {
                        let (name, updated) = settled(name, value)?;
                        store.insert(name, updated);
                    }
                }
                _ => return None,
            }
        }
        Some(Self {
            external_secret: external_secret.to_owned(),
            stores: reads,
        })
    }

    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a map of strings and numbers serializes")
    }

    /// The record an annotation holds; `None` when it does not parse.
    pub fn from_annotation(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// Whether this record proves a Secret built from `plan` fresh at `now` (Unix seconds): the
    /// ExternalSecret and its stores are at the recorded versions, every recorded secret is
    /// listed enabled with the recorded `updated`, every read of the plan is recorded, and no
    /// other listed secret matches a `find`. `listing` gives each store's listing.
    pub fn check<'a>(
        &self,
        external_secret: &str,
        plan: &Plan,
        stores: &impl StoreVersions,
        listing: impl Fn(&StoreName) -> Option<&'a Listing>,
        now: i64,
    ) -> Proof {
        if self.external_secret != external_secret {
            return Proof::Stale;
        }
        let reads_of = |store: &StoreName| {
            let reads = self.stores.get(&store_key(store))?;
            (Some(&reads.version) == stores.version(store).as_ref()).then_some(reads)
        };
        let recorded = |store: &StoreName, name: &str| {
            reads_of(store)
                .is_some_and(|reads| reads.updated.contains_key(&name.to_ascii_lowercase()))
        };
        for entry in &plan.data {
            if !latest_secret(&entry.remote) || !recorded(&entry.store, &entry.remote.key.name) {
                return Proof::Stale;
            }
        }
        // The newest change the listings show, if any: read it only once it settled.
        let mut changed: Option<Option<i64>> = None;
        let mut change = |updated: Option<i64>| {
            changed = Some(changed.flatten().max(updated));
        };
        for entry in &plan.data_from {
            match &entry.source {
                DataFromSource::Extract { store, read } => {
                    if !latest_secret(read) || !recorded(store, &read.key.name) {
                        return Proof::Stale;
                    }
                }
                DataFromSource::Generate(_) => return Proof::Stale,
                DataFromSource::Find { store, filter } => {
                    let (Some(reads), Some(listing)) = (reads_of(store), listing(store)) else {
                        return Proof::Stale;
                    };
                    let unseen = listing.items().iter().filter(|item| {
                        item.enabled
                            && filter.matches(&item.name, &item.tags)
                            && !reads.updated.contains_key(&item.name.to_ascii_lowercase())
                    });
                    for item in unseen {
                        change(item.updated);
                    }
                }
            }
        }
        for (key, reads) in &self.stores {
            let store = plan.stores().find(|store| &store_key(store) == key);
            let Some(listing) = store.and_then(&listing) else {
                return Proof::Stale;
            };
            for (name, updated) in &reads.updated {
                match listing.get(name) {
                    Some(item) if item.enabled && item.updated == Some(*updated) => {}
                    Some(item) => change(item.updated),
                    None => change(None),
                }
            }
        }
        match changed {
            None => Proof::Fresh,
            Some(Some(newest)) => {
                let margin = i64::try_from(REVALIDATE_AFTER_UPDATE.as_secs()).unwrap_or(5);
                let settles_in = newest + margin - now;
                if settles_in > 0 {
                    // At most the margin, whatever the clocks say.
                    let wait = settles_in.min(margin).unsigned_abs();
                    Proof::Settling(Duration::from_secs(wait))
                } else {
                    Proof::Stale
                }
            }
            Some(None) => Proof::Stale,
        }
    }
}

/// What a record says of a Secret now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// Built from what the vault holds: nothing to read.
    Fresh,
    /// Something changed, or the record cannot tell: read the values.
    Stale,
    /// Something changed within the last seconds: read it after this wait, once `updated` can
    /// no longer hide a second change in the same second (one read, and the record holds).
    Settling(Duration),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use akvsync_actors::remote::{ProviderError, RemoteItem, SecretBytes};
    use akvsync_crds::ExternalSecretSpec;

    use super::*;
    use crate::sync::plan::plan as plan_of;

    const ES: &str = "1-abc";
    const CHANGED: i64 = 1_700_000_000;
    /// An hour after the changes: every change has settled.
    const NOW: i64 = CHANGED + 3600;

    fn spec(json: serde_json::Value) -> ExternalSecretSpec {
        let mut json = json;
        json["secretStoreRef"] = serde_json::json!({"name": "vault", "kind": "SecretStore"});
        serde_json::from_value(json).unwrap()
    }

    fn value(updated: i64, read_at: i64) -> Arc<RemoteValue> {
        Arc::new(RemoteValue {
            value: SecretBytes::from("v"),
            enabled: true,
            updated: Some(updated),
            read_at: Some(read_at),
            ..Default::default()
        })
    }

    fn item(name: &str, updated: i64, tags: &[(&str, &str)]) -> RemoteItem {
        RemoteItem {
            name: name.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            enabled: true,
            managed: false,
            updated: Some(updated),
        }
    }

    fn store_v1(_: &StoreName) -> Option<String> {
        Some("uid/1".into())
    }

    fn data_spec() -> Plan {
        plan_of(&spec(serde_json::json!({"data": [
            {"secretKey": "a", "remoteRef": {"key": "db-password"}},
            {"secretKey": "b", "remoteRef": {"key": "secret/API-key"}},
        ]})))
        .unwrap()
    }

    /// Both values of [`data_spec`], read a minute after their change.
    fn settled_pair() -> Fetched {
        Fetched {
            data: vec![
                Ok(value(CHANGED, CHANGED + 60)),
                Ok(value(CHANGED, CHANGED + 60)),
            ],
            data_from: vec![],
        }
    }

    fn recorded(plan: &Plan, fetched: &Fetched) -> Option<BuiltFrom> {
        BuiltFrom::record(ES, plan, fetched, &store_v1)
    }

    #[test]
    fn a_listing_that_shows_every_read_unchanged_proves_the_secret_fresh() {
        let plan = data_spec();
        let fetched = settled_pair();
        let built = recorded(&plan, &fetched).expect("provable");
        let parsed = BuiltFrom::from_annotation(&built.to_annotation()).unwrap();
        assert_eq!(parsed, built);
        let listing = Listing::new(vec![
            item("db-password", CHANGED, &[]),
            item("api-key", CHANGED, &[]),
            item("unrelated", CHANGED + 9, &[]),
        ]);
        assert_eq!(
            parsed.check(ES, &plan, &store_v1, |_| Some(&listing), NOW),
            Proof::Fresh
        );

        let moved = Listing::new(vec![
            item("db-password", CHANGED + 1, &[]),
            item("api-key", CHANGED, &[]),
        ]);
        assert!(
            parsed.check(ES, &plan, &store_v1, |_| Some(&moved), NOW) != Proof::Fresh,
            "updated moved"
        );
        let gone = Listing::new(vec![item("api-key", CHANGED, &[])]);
        assert!(
            parsed.check(ES, &plan, &store_v1, |_| Some(&gone), NOW) != Proof::Fresh,
            "deleted"
        );
        let mut disabled = item("db-password", CHANGED, &[]);
        disabled.enabled = false;
        let disabled = Listing::new(vec![disabled, item("api-key", CHANGED, &[])]);
        assert!(
            parsed.check(ES, &plan, &store_v1, |_| Some(&disabled), NOW) != Proof::Fresh,
            "disabled"
        );
        assert!(
            parsed.check(ES, &plan, &store_v1, |_| None, NOW) != Proof::Fresh,
            "no listing"
        );
        assert!(
            parsed.check("2-abc", &plan, &store_v1, |_| Some(&listing), NOW) != Proof::Fresh,
            "new spec"
        );
        let store_v2 = |_: &StoreName| Some("uid/2".to_owned());
        assert!(
            parsed.check(ES, &plan, &store_v2, |_| Some(&listing), NOW) != Proof::Fresh,
            "store changed"
        );
    }

    #[test]
    fn a_change_of_the_last_seconds_is_read_once_it_settled() {
        let plan = data_spec();
        let built = recorded(&plan, &settled_pair()).unwrap();
        let moved = Listing::new(vec![
            item("db-password", NOW - 2, &[]),
            item("api-key", CHANGED, &[]),
        ]);
        let check = |now| built.check(ES, &plan, &store_v1, |_| Some(&moved), now);
        assert_eq!(check(NOW), Proof::Settling(Duration::from_secs(3)));
        assert_eq!(check(NOW + 3), Proof::Stale);
        let deleted = Listing::new(vec![item("api-key", CHANGED, &[])]);
        let check = built.check(ES, &plan, &store_v1, |_| Some(&deleted), NOW);
        assert_eq!(check, Proof::Stale, "a deletion has no time to settle");
    }

    #[test]
    fn a_read_the_record_does_not_hold_is_not_proven() {
        let plan = data_spec();
        let fetched = settled_pair();
        let built = recorded(&plan, &fetched).unwrap();
        let more = plan_of(&spec(serde_json::json!({"data": [
            {"secretKey": "a", "remoteRef": {"key": "db-password"}},
            {"secretKey": "c", "remoteRef": {"key": "other"}},
        ]})))
        .unwrap();
        let listing = Listing::new(vec![
            item("db-password", CHANGED, &[]),
            item("api-key", CHANGED, &[]),
            item("other", CHANGED, &[]),
        ]);
        assert!(built.check(ES, &more, &store_v1, |_| Some(&listing), NOW) != Proof::Fresh);
    }

    #[test]
    fn only_settled_latest_secrets_read_without_error_are_recorded() {
        let plan = data_spec();
        let soon = Fetched {
            data: vec![
                Ok(value(CHANGED, CHANGED + 60)),
                Ok(value(CHANGED, CHANGED + 4)),
            ],
            data_from: vec![],
        };
        assert_eq!(recorded(&plan, &soon), None, "read 4 s after its change");
        let failed = Fetched {
            data: vec![
                Ok(value(CHANGED, CHANGED + 60)),
                Err(ProviderError::NotFound {
                    key: "api-key".into(),
                }),
            ],
            data_from: vec![],
        };
        assert_eq!(recorded(&plan, &failed), None);
        let unknown_store = |_: &StoreName| None;
        let fetched = settled_pair();
        assert_eq!(BuiltFrom::record(ES, &plan, &fetched, &unknown_store), None);
        for key in ["db-password", "key/signing", "cert/tls"] {
            let mut remote_ref = serde_json::json!({"key": key});
            if key == "db-password" {
                remote_ref["version"] = "0123456789abcdef0123456789abcdef".into();
            }
            let pinned = plan_of(&spec(serde_json::json!({"data": [
                {"secretKey": "a", "remoteRef": remote_ref},
            ]})))
            .unwrap();
            let fetched = Fetched {
                data: vec![Ok(value(CHANGED, CHANGED + 60))],
                data_from: vec![],
            };
            assert_eq!(recorded(&pinned, &fetched), None, "{key}");
        }
    }

    #[test]
    fn a_find_is_proven_only_while_nothing_new_matches_it() {
        let plan = plan_of(&spec(serde_json::json!({"dataFrom": [
            {"find": {"name": {"regexp": "^app-"}, "tags": {"team": "a"}}},
        ]})))
        .unwrap();
        let fetched = Fetched {
            data: vec![],
            data_from: vec![Ok(FetchedFrom::Find(vec![(
                "app-one".to_owned(),
                value(CHANGED, CHANGED + 60),
            )]))],
        };
        let built = recorded(&plan, &fetched).unwrap();
        let same = Listing::new(vec![
            item("app-one", CHANGED, &[("team", "a")]),
            item("app-two", CHANGED, &[("team", "b")]),
            item("other", CHANGED, &[("team", "a")]),
        ]);
        assert_eq!(
            built.check(ES, &plan, &store_v1, |_| Some(&same), NOW),
            Proof::Fresh
        );
        let added = Listing::new(vec![
            item("app-one", CHANGED, &[("team", "a")]),
            item("app-two", CHANGED + 30, &[("team", "a")]),
        ]);
        assert!(
            built.check(ES, &plan, &store_v1, |_| Some(&added), NOW) != Proof::Fresh,
            "new match"
        );
        let retagged = Listing::new(vec![item("app-one", CHANGED + 30, &[("team", "b")])]);
        assert!(
            built.check(ES, &plan, &store_v1, |_| Some(&retagged), NOW) != Proof::Fresh,
            "no longer matches"
        );

        let empty = Fetched {
            data: vec![],
            data_from: vec![Ok(FetchedFrom::Find(vec![]))],
        };
        let nothing = recorded(&plan, &empty).expect("an empty find is provable");
        let none_match = Listing::new(vec![item("other", CHANGED, &[("team", "a")])]);
        assert_eq!(
            nothing.check(ES, &plan, &store_v1, |_| Some(&none_match), NOW),
            Proof::Fresh
        );
        assert!(nothing.check(ES, &plan, &store_v1, |_| Some(&same), NOW) != Proof::Fresh);
    }
}
