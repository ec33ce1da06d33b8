//! The object store: one resourceVersion counter, the objects, the change history watches resume
//! from, and the broadcast live watches follow.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// Capacity of the live change broadcast. A watcher that falls this far behind is sent a 410
/// "too old resource version", as a real API server does when its watch cache moves on.
const CHANGE_BROADCAST_CAPACITY: usize = 65_536;

/// Where an object lives: its storage (shared by all versions of a resource), namespace ("" for
/// cluster-scoped objects) and name.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectKey {
    pub storage: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(storage: &str, namespace: &str, name: &str) -> Self {
        Self {
            storage: storage.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watches see it.
#[derive(Debug)]
pub struct Change {
    pub resource_version: u64,
    pub key: ObjectKey,
    pub change_type: ChangeType,
    /// The new object, or for a deletion the last state (carrying the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The state before this change, so watches with selectors can tell "left the selection".
    pub previous: Option<Arc<Value>>,
}

/// The changes a watch replays, and the receiver of those still to come.
pub type Resumed = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// Why a watch cannot start from a resourceVersion.
#[derive(Debug)]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

/// The objects and their history. Each version of an object is held once: the map, the change
/// that wrote it and the change that replaced it share one `Arc`.
pub struct Store {
    resource_version: u64,
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// A watch from any resourceVersion at or after this one is served from `history`.
    oldest_resumable: u64,
    uids: HashMap<String, ObjectKey>,
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
    /// Objects with a `deletionTimestamp`, so the collector never scans the whole store.
    deleting: BTreeSet<ObjectKey>,
    sender: broadcast::Sender<Arc<Change>>,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (sender, _) = broadcast::channel(CHANGE_BROADCAST_CAPACITY);
        Self {
            resource_version: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest_resumable: 1,
            uids: HashMap::new(),
            dependents: HashMap::new(),
            deleting: BTreeSet::new(),
            sender,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key).map(|object| &**object)
    }

    /// Objects of a storage, optionally one namespace, strictly after `after` (namespace, name).
    pub fn range<'a>(
        &'a self,
        storage: &'a str,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        let start = match after {
            Some((after_namespace, after_name)) => std::ops::Bound::Excluded(ObjectKey {
                storage: storage.into(),
                namespace: after_namespace,
                name: after_name,
            }),
            None => std::ops::Bound::Included(ObjectKey {
                storage: storage.into(),
                namespace: namespace.unwrap_or("").into(),
                name: String::new(),
            }),
        };
        self.objects
            .range((start, std::ops::Bound::Unbounded))
            .take_while(move |(key, _)| {
                key.storage == storage
                    && namespace.is_none_or(|namespace| key.namespace == namespace)
            })
            .map(|(key, object)| (key, &**object))
    }

    /// Objects of a storage as they were at revision `at`, optionally one namespace, strictly
    /// after `after` (namespace, name), in key order: what the pages after the first of a
    /// paginated list serve, since every page reads the first page's revision. `at` must still
    /// be resumable ([`Store::is_resumable`]): the history then holds every change after it, and
    /// the first of them per object carries the object's state at `at` (`previous`; none when
    /// the object was created later).
    pub fn range_at<'a>(
        &'a self,
        storage: &'a str,
        namespace: Option<&'a str>,
        after: Option<(String, String)>,
        at: u64,
    ) -> Box<dyn Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a> {
        if at >= self.resource_version {
            return Box::new(self.range(storage, namespace, after));
        }
        let in_scope = |key: &ObjectKey| {
            key.storage == storage
                && namespace.is_none_or(|namespace| key.namespace == namespace)
                && after.as_ref().is_none_or(|(after_namespace, after_name)| {
                    (key.namespace.as_str(), key.name.as_str())
                        > (after_namespace.as_str(), after_name.as_str())
                })
        };
        let mut then: BTreeMap<&'a ObjectKey, Option<&'a Value>> = BTreeMap::new();
        for change in self
            .history
            .iter()
            .filter(|change| change.resource_version > at && in_scope(&change.key))
        {
            then.entry(&change.key)
                .or_insert(change.previous.as_deref());
        }
        let mut objects: Vec<(&'a ObjectKey, &'a Value)> = self
            .range(storage, namespace, after.clone())
            .filter(|(key, _)| !then.contains_key(key))
            .collect();
        objects.extend(
            then.into_iter()
                .filter_map(|(key, object)| object.map(|object| (key, object))),
        );
        objects.sort_by(|a, b| a.0.cmp(b.0));
        Box::new(objects.into_iter())
    }

    /// Every stored object (for the garbage collector and the state file).
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter().map(|(key, object)| (key, &**object))
    }

    pub fn key_for_uid(&self, uid: &str) -> Option<&ObjectKey> {
        self.uids.get(uid)
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents_of(&self, uid: &str) -> Vec<ObjectKey> {
        self.dependents
            .get(uid)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Objects that carry a `deletionTimestamp`.
    pub fn deleting(&self) -> impl Iterator<Item = &ObjectKey> {
        self.deleting.iter()
    }

    /// Objects not being deleted whose owners are all gone (the collector deletes them).
    pub fn dangling(&self) -> Vec<ObjectKey> {
        let mut dangling = BTreeSet::new();
        for (owner, keys) in &self.dependents {
            if self.uids.contains_key(owner) {
                continue;
            }
            for key in keys {
                let all_gone = self.objects.get(key).is_some_and(|object| {
                    owner_uids(object)
                        .iter()
                        .all(|owner| !self.uids.contains_key(owner))
                });
                if all_gone && !self.deleting.contains(key) {
                    dangling.insert(key.clone());
                }
            }
        }
        dangling.into_iter().collect()
    }

    /// Stores `object` under `key` with the next resourceVersion and returns the stored object.
    pub fn put(&mut self, key: ObjectKey, mut object: Value) -> Value {
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        let stored = Arc::new(object);
        let previous = self.objects.insert(key.clone(), stored.clone());
        if let Some(previous) = &previous {
            self.unindex(&key, previous);
        }
        self.index(&key, &stored);
        let change_type = if previous.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(Change {
            resource_version: self.resource_version,
            key,
            change_type,
            object: stored.clone(),
            previous,
        });
        Value::clone(&stored)
    }

    /// Removes the object and returns its last state (with the deletion's resourceVersion).
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let previous = self.objects.remove(key)?;
        self.unindex(key, &previous);
        self.resource_version += 1;
        let mut object = Value::clone(&previous);
        object["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        self.record(Change {
            resource_version: self.resource_version,
            key: key.clone(),
            change_type: ChangeType::Deleted,
            object: Arc::new(object.clone()),
            previous: Some(previous),
        });
        Some(object)
    }

    /// Loads an object from a saved state without recording a change.
    pub fn restore(&mut self, key: ObjectKey, object: Value, resource_version: u64) {
        self.index(&key, &object);
        self.objects.insert(key, Arc::new(object));
        self.resource_version = self.resource_version.max(resource_version);
        self.oldest_resumable = self.resource_version;
    }

    /// Forgets all history: a watch from any earlier resourceVersion gets "too old" (410).
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_resumable = self.resource_version;
    }

    pub fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit.max(1);
        self.trim_history();
    }

    /// Changes after `since`, and a receiver for those still to come, atomically.
    pub fn changes_since(&self, since: u64) -> Result<Resumed, TooOld> {
        if since < self.oldest_resumable {
            return Err(TooOld {
                requested: since,
                oldest: self.oldest_resumable,
            });
        }
        let replay = self
            .history
            .iter()
            .filter(|change| change.resource_version > since)
            .cloned()
            .collect();
        Ok((replay, self.sender.subscribe()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// Whether a continue token or list snapshot at `resource_version` is still servable.
    pub fn is_resumable(&self, resource_version: u64) -> bool {
        resource_version >= self.oldest_resumable
    }

    pub fn oldest_resumable(&self) -> u64 {
        self.oldest_resumable
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        self.trim_history();
        // No receivers is normal: nobody watches.
        let _ = self.sender.send(change);
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest_resumable = dropped.resource_version;
            }
        }
    }

    fn index(&mut self, key: &ObjectKey, object: &Value) {
        if let Some(uid) = object.pointer("/metadata/uid").and_then(Value::as_str) {
            self.uids.insert(uid.to_owned(), key.clone());
        }
        if object.pointer("/metadata/deletionTimestamp").is_some() {
            self.deleting.insert(key.clone());
        }
        for owner in owner_uids(object) {
            self.dependents
                .entry(owner)
                .or_default()
                .insert(key.clone());
        }
    }

    fn unindex(&mut self, key: &ObjectKey, object: &Value) {
        if let Some(uid) = object.pointer("/metadata/uid").and_then(Value::as_str)
            && self.uids.get(uid) == Some(key)
        {
            self.uids.remove(uid);
        }
        self.deleting.remove(key);
        for owner in owner_uids(object) {
            if let Some(keys) = self.dependents.get_mut(&owner) {
                keys.remove(key);
                if keys.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }
}

/// UIDs in `metadata.ownerReferences`.
pub fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|owners| {
            owners
                .iter()
                .filter_map(|owner| owner.get("uid").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
