//! Watch streams: newline-delimited events, replay from a resourceVersion, "too old" as a 200
//! stream with one ERROR 410 event, bookmarks, streaming lists (`sendInitialEvents`), selectors,
//! Table rows for `kubectl get -w`, timeouts, and fault-injected cuts.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::errors::ApiError;
use super::handlers::{Query, to_view};
use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector};
use super::server::Shared;
use super::store::{Change, ChangeType, ObjectKey};
use super::table::{self, IncludeObject};

/// Lines buffered per watch stream before the writer waits for the client.
const WATCH_STREAM_BUFFER: usize = 256;
/// Server-side watch duration when the client sets no `timeoutSeconds` (the apiserver picks a
/// random value between 30 and 60 minutes; a fixed lower bound keeps tests deterministic).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long before its deadline a watch that allows bookmarks gets a last one, so the client
/// resumes from the newest resourceVersion instead of the last event's (the apiserver's cacher
/// schedules it `deadline - 2s`).
const BOOKMARK_BEFORE_DEADLINE: Duration = Duration::from_secs(2);

/// What a watch asks for.
pub struct WatchRequest {
    pub resource: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<u64>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Duration,
    pub table: Option<IncludeObject>,
}

impl WatchRequest {
    pub fn parse(
        resource: Arc<ResourceType>,
        namespace: Option<String>,
        query: &Query,
        table: Option<IncludeObject>,
    ) -> Result<Self, ApiError> {
        let labels =
            LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?;
        let fields = FieldSelector::parse(
            query.get("fieldSelector").map(String::as_str).unwrap_or(""),
            &resource,
        )?;
        let resource_version =
            match query.get("resourceVersion").map(String::as_str) {
                None | Some("") => None,
                Some(text) => Some(text.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {text}"))
                })?),
            };
        let send_initial_events = query
            .get("sendInitialEvents")
            .is_some_and(|value| value == "true");
        let bookmarks = query
            .get("allowWatchBookmarks")
            .is_some_and(|value| value == "true");
        if send_initial_events && !bookmarks {
            return Err(ApiError::invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                vec![super::errors::FieldCause::forbidden(
                    "allowWatchBookmarks",
                    "allowWatchBookmarks must be set to true when sendInitialEvents is specified",
                )],
            ));
        }
        let timeout = query
            .get("timeoutSeconds")
            .and_then(|seconds| seconds.parse::<u64>().ok())
            .filter(|seconds| *seconds > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_WATCH_TIMEOUT);
        Ok(Self {
            resource,
            namespace,
            labels,
            fields,
            resource_version,
            send_initial_events,
            bookmarks,
            timeout,
            table,
        })
    }

    fn in_scope(&self, key: &ObjectKey) -> bool {
        key.storage == self.resource.storage
            && self
                .namespace
                .as_ref()
                .is_none_or(|namespace| !self.resource.namespaced || *namespace == key.namespace)
    }

    fn selects(&self, view: &Value) -> bool {
        self.labels.matches(view) && self.fields.matches(view)
    }

    /// The event this watch sends for a change, if any (selectors turn edges into ADDED/DELETED).
    fn translate(&self, change: &Change) -> Option<(&'static str, Value)> {
        if !self.in_scope(&change.key) {
            return None;
        }
        let view = to_view(&self.resource, &change.object);
        let now = self.selects(&view);
        let before = change
            .previous
            .as_ref()
            .map(|previous| self.selects(&to_view(&self.resource, previous)));
        let event = match change.change_type {
            ChangeType::Added => now.then_some("ADDED"),
            ChangeType::Deleted => now.then_some("DELETED"),
            ChangeType::Modified => match (before.unwrap_or(false), now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }?;
        Some((event, view))
    }

    fn line(&self, event: &str, object: Value) -> Bytes {
        let object = match self.table {
            Some(include) => table::table(&self.resource, &[object], json!({}), include),
            None => object,
        };
        let mut line = json!({"type": event, "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    fn bookmark(&self, resource_version: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": metadata});
        let mut line = json!({"type": "BOOKMARK", "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    }
}

fn error_line(error: &ApiError) -> Bytes {
    let mut line = json!({"type": "ERROR", "object": error.status()}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn too_old(requested: u64, oldest: u64) -> ApiError {
    ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
}

/// Starts a watch: snapshot or replay under the lock, then a task that streams live changes.
pub fn start(shared: &Arc<Shared>, request: WatchRequest) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(WATCH_STREAM_BUFFER);
    let mut initial = Vec::new();
    let mut changes = None;
    let mut last_seen;
    // The newest resourceVersion the client has been told (by an event or a bookmark).
    let mut client_seen;
    {
        let state = shared.lock_state();
        last_seen = state.store.resource_version();
        client_seen = request.resource_version.unwrap_or(last_seen);
        let from_snapshot =
            request.send_initial_events || matches!(request.resource_version, None | Some(0));
        if from_snapshot {
            let namespace = if request.resource.namespaced {
                request.namespace.as_deref()
            } else {
                None
            };
            for (_, stored) in state
                .store
                .range(&request.resource.storage, namespace, None)
            {
                let view = to_view(&request.resource, stored);
                if request.selects(&view) {
                    initial.push(request.line("ADDED", view));
                }
            }
            if request.send_initial_events {
                initial.push(request.bookmark(last_seen, true));
            }
            client_seen = last_seen;
            changes = Some(state.store.subscribe());
        } else if let Some(since) = request.resource_version {
            match state.store.changes_since(since) {
                Ok((replay, live)) => {
                    for change in replay {
                        if let Some((event, view)) = request.translate(&change) {
                            initial.push(request.line(event, view));
                            client_seen = change.resource_version;
                        }
                    }
                    changes = Some(live);
                }
                Err(error) => initial.push(error_line(&too_old(error.requested, error.oldest))),
            }
        }
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        let _open = shared.stats.watch_opened();
        let limit = shared.faults.watch_event_limit();
        let mut sent = 0usize;
        let mut cut = shared.faults.cut_signal();
        cut.borrow_and_update();
        let mut shutdown = shared.shutdown_signal();
        let abort = || {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "watch stream cut",
            ))
        };
        for line in initial {
            if sender.send(Ok(line)).await.is_err() {
                return;
            }
            sent += 1;
            if limit.is_some_and(|limit| sent >= limit) {
                let _ = sender.send(abort()).await;
                return;
            }
        }
        let Some(mut changes) = changes else { return };
        let deadline = tokio::time::sleep(request.timeout);
        tokio::pin!(deadline);
        // A watch shorter than the margin gets no last bookmark, as from the apiserver.
        let last_bookmark_at = request.timeout.checked_sub(BOOKMARK_BEFORE_DEADLINE);
        let last_bookmark = tokio::time::sleep(last_bookmark_at.unwrap_or(request.timeout));
        tokio::pin!(last_bookmark);
        let mut last_bookmark_due = request.bookmarks && last_bookmark_at.is_some();
        let mut bookmarks = tokio::time::interval(shared.bookmark_interval);
        bookmarks.tick().await;
        loop {
            let line = tokio::select! {
                change = changes.recv() => match change {
                    Ok(change) => {
                        last_seen = change.resource_version;
                        match request.translate(&change) {
                            Some((event, view)) => {
                                client_seen = change.resource_version;
                                request.line(event, view)
                            }
                            None => continue,
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let oldest = shared.lock_state().store.oldest_resumable();
                        let _ = sender.send(Ok(error_line(&too_old(last_seen, oldest)))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = bookmarks.tick(), if request.bookmarks => {
                    client_seen = last_seen;
                    request.bookmark(last_seen, false)
                }
                _ = &mut last_bookmark, if last_bookmark_due => {
                    last_bookmark_due = false;
                    if last_seen <= client_seen {
                        continue;
                    }
                    client_seen = last_seen;
                    request.bookmark(last_seen, false)
                }
                _ = &mut deadline => return,
                _ = cut.changed() => {
                    let _ = sender.send(abort()).await;
                    return;
                }
                _ = shutdown.changed() => return,
                _ = sender.closed() => return,
            };
            if sender.send(Ok(line)).await.is_err() {
                return;
            }
            sent += 1;
            if limit.is_some_and(|limit| sent >= limit) {
                let _ = sender.send(abort()).await;
                return;
            }
        }
    });
    Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}
