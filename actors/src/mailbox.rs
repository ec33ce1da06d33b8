//! Bounded delivery to resource actors: a message never queues past an actor's mailbox
//! capacity (actix's `do_send` would). A notice for a full mailbox is kept, coalesced per actor,
//! and delivered by [`Outbox::retry`]; the caller counts it as an overflow.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::SendError;
use actix::{Addr, Message};

use crate::resource::{Reconciler, ResourceActor, RetryIfFailing, Stop, SyncNow, Update};

/// What the supervisor tells a resource actor.
pub enum Notice<T> {
    Update(Arc<T>),
    SyncNow,
    RetryIfFailing,
    Stop,
}

/// What became of a notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// In the actor's mailbox (or dropped: the actor is gone).
    Sent,
    /// The mailbox was full (or older notices for the actor still wait): kept for [`Outbox::retry`].
    Deferred,
}

/// The notices waiting for one actor: the latest update and which signals are due.
struct Waiting<T> {
    update: Option<Arc<T>>,
    sync_now: bool,
    retry_if_failing: bool,
    stop: bool,
}

impl<T> Default for Waiting<T> {
    fn default() -> Self {
        Self {
            update: None,
            sync_now: false,
            retry_if_failing: false,
            stop: false,
        }
    }
}

impl<T: Send + Sync + 'static> Waiting<T> {
    fn add(&mut self, notice: Notice<T>) {
        match notice {
            Notice::Update(resource) => self.update = Some(resource),
            Notice::SyncNow => self.sync_now = true,
            Notice::RetryIfFailing => self.retry_if_failing = true,
            Notice::Stop => self.stop = true,
        }
    }

    /// Sends what waits, in order; stops at the first full mailbox. True when nothing is left.
    fn flush<R: Reconciler<Resource = T>>(&mut self, actor: &Addr<ResourceActor<R>>) -> bool {
        if self.stop {
            // A stopping actor needs nothing else.
            return sent(actor.try_send(Stop));
        }
        if let Some(resource) = self.update.take()
            && !sent_or_keep(actor.try_send(Update(resource)), |Update(r)| {
                self.update = Some(r)
            })
        {
            return false;
        }
        if self.sync_now {
            if !sent(actor.try_send(SyncNow)) {
                return false;
            }
            self.sync_now = false;
        }
        if self.retry_if_failing {
            if !sent(actor.try_send(RetryIfFailing)) {
                return false;
            }
            self.retry_if_failing = false;
        }
        true
    }
}

/// Whether a send is done with (delivered, or the actor is gone).
fn sent<M: Message>(result: Result<(), SendError<M>>) -> bool {
    !matches!(result, Err(SendError::Full(_)))
}

/// As [`sent`], handing a message that did not fit back to `keep`.
fn sent_or_keep<M: Message>(result: Result<(), SendError<M>>, keep: impl FnOnce(M)) -> bool {
    match result {
        Err(SendError::Full(message)) => {
            keep(message);
            false
        }
        _ => true,
    }
}

/// The notices that did not fit, per actor.
pub struct Outbox<R: Reconciler> {
    waiting: HashMap<Addr<ResourceActor<R>>, Waiting<R::Resource>>,
}

impl<R: Reconciler> Default for Outbox<R> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
        }
    }
}

impl<R: Reconciler> Outbox<R> {
    /// Sends `notice` now, or keeps it when the mailbox is full or older notices still wait
    /// (notices reach an actor in order).
    pub fn send(
        &mut self,
        actor: &Addr<ResourceActor<R>>,
        notice: Notice<R::Resource>,
    ) -> Delivery {
        if let Some(waiting) = self.waiting.get_mut(actor) {
            waiting.add(notice);
            return Delivery::Deferred;
        }
        let mut waiting = Waiting::default();
        waiting.add(notice);
        if waiting.flush(actor) {
            return Delivery::Sent;
        }
        // This clone may put one more message past the capacity when retried, no more.
        self.waiting.insert(actor.clone(), waiting);
        Delivery::Deferred
    }

    /// Delivers what fits now.
    pub fn retry(&mut self) {
        self.waiting.retain(|actor, waiting| !waiting.flush(actor));
    }

    /// Actors with notices waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// `akvsync_mailbox_overflows_total{kind}`: notices that found a resource actor's mailbox full
/// and waited in the outbox.
#[derive(Clone)]
pub struct MailboxMetrics {
    overflows: prometheus::IntCounterVec,
}

impl MailboxMetrics {
    /// Registers the counter, with a zero series for each of `kinds`.
    pub fn register(registry: &prometheus::Registry, kinds: &[&str]) -> prometheus::Result<Self> {
        let metrics = Self::unregistered(kinds)?;
        registry.register(Box::new(metrics.overflows.clone()))?;
        Ok(metrics)
    }

    pub fn unregistered(kinds: &[&str]) -> prometheus::Result<Self> {
        let overflows = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "akvsync_mailbox_overflows_total",
                "Notices that found a resource actor's mailbox full and waited to be retried",
            ),
            &["kind"],
        )?;
        for kind in kinds {
            overflows.with_label_values(&[kind]);
        }
        Ok(Self { overflows })
    }

    pub fn overflowed(&self, kind: &str) {
        self.overflows.with_label_values(&[kind]).inc();
    }
}
