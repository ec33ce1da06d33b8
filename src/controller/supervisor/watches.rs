//! The supervisor's watches: one generic setup per watched kind.

use std::fmt::Debug;

use futures::stream::{BoxStream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::Change;

/// Every object of `api` that `config` selects, as [`Change`]s; a failing watch reports and
/// retries with backoff.
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    name: &'static str,
    wrap: fn(WatchEvent<K>) -> Change,
) -> BoxStream<'static, Change>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api, config)
        .default_backoff()
        .map(move |event| {
            event
                .map(wrap)
                .unwrap_or_else(|error| Change::WatchFailed(name, error.to_string()))
        })
        .boxed()
}
