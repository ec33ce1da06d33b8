//! Proving the target Secret fresh without reading a value: the last sync of this spec
//! succeeded, the Secret is as that sync left it (or as a check after a restart found it), and
//! the stores' listings show everything it was built from unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use akvsync_actors::remote::{ObjectKind, unix_now};
use akvsync_actors::store::{Listing, RevalidationListing};
use akvsync_crds::ExternalSecret;

use super::fetch::Ask;
use super::gate::last_sync_current;
use crate::controller::context::Shared;
use crate::sync::built_from::{Proof, StoreVersions};
use crate::sync::{Plan, StoreName};

/// The versions of the stores as seen from one namespace.
pub struct NamespaceStores<'a> {
    pub shared: &'a Shared,
    pub namespace: &'a str,
}

impl StoreVersions for NamespaceStores<'_> {
    fn version(&self, store: &StoreName) -> Option<String> {
        self.shared
            .stores
            .version_of(store.kind, &store.name, self.namespace)
    }
}

/// What the record of target Secret `name` says for `plan`, the ExternalSecret being at synced
/// version `version`; any doubt (no record, a store that
/// cannot list, a change) is [`Proof::Stale`], and the sync reads the values.
pub async fn check(
    shared: &Shared,
    es: &ExternalSecret,
    plan: &Plan,
    version: &str,
    namespace: &str,
    name: &str,
    ask: &Ask,
) -> Proof {
    if !last_sync_current(es, version) {
        return Proof::Stale;
    }
    let Some(built) = shared.targets.built_from(namespace, name) else {
        return Proof::Stale;
    };
    if built.external_secret != version {
        return Proof::Stale;
    }
    let labels = shared.namespaces.get(namespace);
    let mut listings: HashMap<&StoreName, Arc<Listing>> = HashMap::new();
    for store in plan.stores() {
        if listings.contains_key(store) {
            continue;
        }
        let Ok(actor) = shared
            .stores
            .actor_for(store.kind, &store.name, namespace, &labels)
        else {
            return Proof::Stale;
        };
        let request = RevalidationListing {
            kind: ObjectKind::Secret,
            max_age: ask.max_age,
            turn: ask.turn.clone(),
        };
        match actor.send(request).await {
            Ok(Ok(Some(listing))) => listings.insert(store, listing),
            _ => return Proof::Stale,
        };
    }
    let stores = NamespaceStores { shared, namespace };
    built.check(
        version,
        plan,
        &stores,
        |store| listings.get(store).map(Arc::as_ref),
        unix_now(),
    )
}
