//! What the operator knows of the Secrets it manages without reading them: the resourceVersion
//! the Secret watch last saw of each Secret carrying ESO's managed label, and the version and
//! content fingerprint of what a sync last applied (written, or found already right). When the
//! two versions agree and the desired content has the same fingerprint, the Secret is unchanged
//! and a refresh needs no read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use sha3::{Digest, Sha3_256};

use crate::sync::built_from::BuiltFrom;
use crate::sync::target::DesiredSecret;

/// A Secret's namespace and name.
type Key = (String, String);

/// A desired Secret's content, as a digest.
pub type Fingerprint = [u8; 32];

#[derive(Default)]
struct Known {
    /// The latest resourceVersion the watch saw, while the Secret carries the managed label.
    observed: Option<String>,
    /// What a sync last applied: the version it left the Secret at, and the desired content.
    applied: Option<(String, Fingerprint)>,
    /// What the Secret at a version was built from, as a sync applied it or a check after a
    /// restart found it intact.
    built_from: Option<(String, Arc<BuiltFrom>)>,
}

#[derive(Default)]
struct Targets {
    known: HashMap<Key, Known>,
    /// While the watch relists: the Secrets seen so far (the others were deleted meanwhile).
    relisting: Option<HashSet<Key>>,
}

#[derive(Clone, Default)]
pub struct TargetSecrets(Arc<Mutex<Targets>>);

impl TargetSecrets {
    fn lock(&self) -> MutexGuard<'_, Targets> {
        self.0.lock().expect("target secrets lock")
    }

    /// The watch starts listing every Secret again (after a restart or a lost watch).
    pub fn relist_started(&self) {
        self.lock().relisting = Some(HashSet::new());
    }

    /// The relist is complete: what it did not show is gone.
    pub fn relist_done(&self) {
        let mut targets = self.lock();
        if let Some(seen) = targets.relisting.take() {
            targets.known.retain(|key, _| seen.contains(key));
        }
    }

    /// The watch saw `namespace/name` at `version`; `managed` when it carries the managed label.
    pub fn observed(&self, namespace: &str, name: &str, version: Option<&str>, managed: bool) {
        let key = (namespace.to_owned(), name.to_owned());
        let mut targets = self.lock();
        if let Some(seen) = &mut targets.relisting {
            seen.insert(key.clone());
        }
        match (managed, version) {
            (true, Some(version)) => {
                targets.known.entry(key).or_default().observed = Some(version.to_owned());
            }
            _ => {
                if let Some(entry) = targets.known.get_mut(&key) {
                    entry.observed = None;
                }
            }
        }
    }

    /// The watch saw `namespace/name` deleted.
    pub fn deleted(&self, namespace: &str, name: &str) {
        self.forget(namespace, name);
    }

    /// A sync left the Secret at `version` holding `desired`, built from `built_from`.
    pub fn applied(
        &self,
        namespace: &str,
        name: &str,
        version: Option<&str>,
        desired: Fingerprint,
        built_from: Option<Arc<BuiltFrom>>,
    ) {
        let key = (namespace.to_owned(), name.to_owned());
        let mut targets = self.lock();
        match version {
            Some(version) => {
                let entry = targets.known.entry(key).or_default();
                entry.applied = Some((version.to_owned(), desired));
                entry.built_from = built_from.map(|built| (version.to_owned(), built));
            }
            None => {
                targets.known.remove(&key);
            }
        }
    }

    /// A sync found the Secret still as last applied, its data built from `built_from` now.
    pub fn still_applied(&self, namespace: &str, name: &str, built_from: Option<Arc<BuiltFrom>>) {
        let mut targets = self.lock();
        let Some(entry) = targets
            .known
            .get_mut(&(namespace.to_owned(), name.to_owned()))
        else {
            return;
        };
        if let Some((version, _)) = &entry.applied {
            entry.built_from = built_from.map(|built| (version.clone(), built));
        }
    }

    /// A check found the Secret at `version` intact (its data matches its data hash), built
    /// from what its annotation records.
    pub fn found_intact(
        &self,
        namespace: &str,
        name: &str,
        version: Option<&str>,
        built_from: Option<BuiltFrom>,
    ) {
        let (Some(version), Some(built_from)) = (version, built_from) else {
            return;
        };
        let key = (namespace.to_owned(), name.to_owned());
        self.lock().known.entry(key).or_default().built_from =
            Some((version.to_owned(), Arc::new(built_from)));
    }

    /// What the Secret was built from, while the watch shows it at the version that record
    /// is about (nobody wrote it since).
    pub fn built_from(&self, namespace: &str, name: &str) -> Option<Arc<BuiltFrom>> {
        let targets = self.lock();
        let entry = targets
            .known
            .get(&(namespace.to_owned(), name.to_owned()))?;
        match (&entry.observed, &entry.built_from) {
            (Some(observed), Some((version, built))) if observed == version => {
                Some(Arc::clone(built))
            }
            _ => None,
        }
    }

    /// A sync deleted the Secret, or left it to someone else.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.lock()
            .known
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Whether the Secret is, as far as the watch shows, still what was last applied and
    /// that was `desired`: nobody changed it since, and the content did not change.
    pub fn unchanged(&self, namespace: &str, name: &str, desired: &Fingerprint) -> bool {
        let targets = self.lock();
        let Some(entry) = targets.known.get(&(namespace.to_owned(), name.to_owned())) else {
            return false;
        };
        match (&entry.observed, &entry.applied) {
            (Some(observed), Some((applied, fingerprint))) => {
                observed == applied && fingerprint == desired
            }
            _ => false,
        }
    }

    /// Secrets tracked, for tests and memory accounting.
    pub fn len(&self) -> usize {
        self.lock().known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A digest of everything a sync would write: name, type, labels, annotations, data,
/// immutability, owner and creation policy.
pub fn fingerprint(desired: &DesiredSecret) -> Fingerprint {
    let mut hash = Sha3_256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(desired.namespace.as_bytes());
    field(desired.name.as_bytes());
    field(desired.type_.as_deref().unwrap_or_default().as_bytes());
    for map in [&desired.labels, &desired.annotations] {
        field(&(map.len() as u64).to_le_bytes());
        for (key, value) in map {
            field(key.as_bytes());
            field(value.as_bytes());
        }
    }
    field(&(desired.data.len() as u64).to_le_bytes());
    for (key, value) in &desired.data {
        field(key.as_bytes());
        field(value);
    }
    field(&[u8::from(desired.immutable)]);
    field(
        desired
            .owner
            .as_ref()
            .map(|owner| owner.uid.as_str())
            .unwrap_or_default()
            .as_bytes(),
    );
    field(format!("{:?}", desired.policy).as_bytes());
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: Fingerprint = [1; 32];

    #[test]
    fn a_secret_is_unchanged_only_at_the_applied_version_with_the_same_content() {
        let targets = TargetSecrets::default();
        assert!(!targets.unchanged("ns", "s", &CONTENT), "nothing known yet");
        targets.applied("ns", "s", Some("5"), CONTENT, None);
        assert!(
            !targets.unchanged("ns", "s", &CONTENT),
            "the watch has not seen it"
        );
        targets.observed("ns", "s", Some("5"), true);
        assert!(targets.unchanged("ns", "s", &CONTENT));
        assert!(!targets.unchanged("ns", "s", &[2; 32]), "new content");
        targets.observed("ns", "s", Some("6"), true);
        assert!(
            !targets.unchanged("ns", "s", &CONTENT),
            "someone else wrote it"
        );
        targets.applied("ns", "s", Some("6"), CONTENT, None);
        assert!(targets.unchanged("ns", "s", &CONTENT));
        targets.observed("ns", "s", Some("7"), false);
        assert!(!targets.unchanged("ns", "s", &CONTENT), "no longer managed");
        targets.deleted("ns", "s");
        assert!(targets.is_empty());
    }

    #[test]
    fn a_record_of_what_a_secret_was_built_from_holds_while_nobody_wrote_it() {
        let targets = TargetSecrets::default();
        let built = BuiltFrom {
            external_secret: "1-x".into(),
            stores: Default::default(),
        };
        targets.found_intact("ns", "s", Some("3"), Some(built.clone()));
        assert!(
            targets.built_from("ns", "s").is_none(),
            "the watch has not seen it"
        );
        targets.observed("ns", "s", Some("3"), true);
        assert_eq!(targets.built_from("ns", "s").as_deref(), Some(&built));
        targets.observed("ns", "s", Some("4"), true);
        assert!(
            targets.built_from("ns", "s").is_none(),
            "someone else wrote it"
        );
        targets.applied("ns", "s", Some("5"), CONTENT, Some(Arc::new(built.clone())));
        targets.observed("ns", "s", Some("5"), true);
        assert_eq!(targets.built_from("ns", "s").as_deref(), Some(&built));
        targets.applied("ns", "s", Some("5"), CONTENT, None);
        assert!(
            targets.built_from("ns", "s").is_none(),
            "the last sync recorded nothing"
        );
    }

    #[test]
    fn a_relist_forgets_secrets_deleted_while_the_watch_was_down() {
        let targets = TargetSecrets::default();
        for name in ["kept", "gone"] {
            targets.applied("ns", name, Some("1"), CONTENT, None);
            targets.observed("ns", name, Some("1"), true);
        }
        targets.relist_started();
        targets.observed("ns", "kept", Some("1"), true);
        targets.relist_done();
        assert!(targets.unchanged("ns", "kept", &CONTENT));
        assert!(!targets.unchanged("ns", "gone", &CONTENT));
        assert_eq!(targets.len(), 1);
    }
}
