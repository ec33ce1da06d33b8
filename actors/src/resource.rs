//! One actor per synced resource (ExternalSecret, PushSecret): it owns the resource's latest
//! spec and refresh timer, and runs one sync at a time through its [`Reconciler`].

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::schedule::{Outcome, Refresh, Schedule};

/// Why a sync runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The resource appeared or changed: the fast lane.
    Changed,
    /// Its refresh timer (or an error backoff) fired.
    Timer { lag: Duration },
    /// Something it depends on changed (a store, a source Secret).
    Dependency,
}

/// The sync of one kind of resource; the actor only schedules it.
pub trait Reconciler: Send + Sync + 'static {
    type Resource: Send + Sync + 'static;

    /// Syncs `resource` once.
    fn reconcile(
        &self,
        resource: Arc<Self::Resource>,
        trigger: Trigger,
    ) -> BoxFuture<'static, Outcome>;

    /// How the resource wants to be refreshed.
    fn refresh(&self, resource: &Self::Resource) -> Refresh;

    /// Whether `next` differs from `current` in a way that needs a sync now.
    fn changed(&self, current: &Self::Resource, next: &Self::Resource) -> bool;
}

/// Replaces the actor's view of its resource.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Update<T>(pub Arc<T>);

/// Syncs now, for example because a dependency changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncNow;

/// Syncs now only if the last sync failed, for example because a credential it needed works
/// again: a resource backing off after an outage need not wait out its backoff.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetryIfFailing;

/// Stops the actor: its resource is gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

/// How many messages an actor's mailbox holds. Notices that do not fit wait, coalesced, in the
/// supervisor's [`crate::mailbox::Outbox`]: nothing queues past this, and nothing is lost.
pub const RESOURCE_MAILBOX_CAPACITY: usize = 16;

pub struct ResourceActor<R: Reconciler> {
    reconciler: Arc<R>,
    resource: Arc<R::Resource>,
    schedule: Schedule,
    timer: Option<(SpawnHandle, Instant)>,
    running: bool,
    pending: Option<Trigger>,
    /// A [`RetryIfFailing`] came during a sync: retry at once if that sync fails.
    retry_on_failure: bool,
}

impl<R: Reconciler> ResourceActor<R> {
    pub fn new(reconciler: Arc<R>, resource: Arc<R::Resource>) -> Self {
        let schedule = Schedule::new(reconciler.refresh(&resource));
        Self {
            reconciler,
            resource,
            schedule,
            timer: None,
            running: false,
            pending: None,
            retry_on_failure: false,
        }
    }

    fn sync(&mut self, trigger: Trigger, ctx: &mut Context<Self>) {
        if self.running {
            // Changes win over timer triggers; one follow-up sync covers any number of them.
            self.pending = match (self.pending, trigger) {
                (Some(Trigger::Changed), _) | (_, Trigger::Changed) => Some(Trigger::Changed),
                (_, trigger) => Some(trigger),
            };
            return;
        }
        if let Some((handle, _)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        self.running = true;
        let future = self
            .reconciler
            .reconcile(Arc::clone(&self.resource), trigger);
        ctx.spawn(
            future
                .into_actor(self)
                .map(|outcome, actor, ctx| actor.finished(outcome, ctx)),
        );
    }

    fn finished(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        self.running = false;
        let retry = std::mem::take(&mut self.retry_on_failure) && outcome == Outcome::Failed;
        if let Some(trigger) = self.pending.take() {
            self.sync(trigger, ctx);
            return;
        }
        let next = self.schedule.next(outcome);
        if retry {
            self.sync(Trigger::Dependency, ctx);
            return;
        }
        if let Some(delay) = next {
            let due = Instant::now() + delay;
            let handle = ctx.run_later(delay, move |actor, ctx| {
                actor.timer = None;
                actor.sync(Trigger::Timer { lag: due.elapsed() }, ctx);
            });
            self.timer = Some((handle, due));
        }
    }

    /// When the next timer sync is due, if one is scheduled.
    pub fn next_sync(&self) -> Option<Instant> {
        self.timer.as_ref().map(|(_, due)| *due)
    }
}

impl<R: Reconciler> Actor for ResourceActor<R> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(RESOURCE_MAILBOX_CAPACITY);
        self.sync(Trigger::Changed, ctx);
    }
}

impl<R: Reconciler> Handler<Update<R::Resource>> for ResourceActor<R> {
    type Result = ();

    fn handle(&mut self, Update(resource): Update<R::Resource>, ctx: &mut Context<Self>) {
        let changed = self.reconciler.changed(&self.resource, &resource);
        self.schedule
            .set_refresh(self.reconciler.refresh(&resource));
        self.resource = resource;
        if changed {
            self.sync(Trigger::Changed, ctx);
        }
    }
}

impl<R: Reconciler> Handler<SyncNow> for ResourceActor<R> {
    type Result = ();

    fn handle(&mut self, _: SyncNow, ctx: &mut Context<Self>) {
        self.sync(Trigger::Dependency, ctx);
    }
}

impl<R: Reconciler> Handler<RetryIfFailing> for ResourceActor<R> {
    type Result = ();

    fn handle(&mut self, _: RetryIfFailing, ctx: &mut Context<Self>) {
        if self.running {
            // The running sync may fail for the reason that just went away.
            self.retry_on_failure = true;
        } else if self.schedule.consecutive_failures() > 0 {
            self.sync(Trigger::Dependency, ctx);
        }
    }
}

impl<R: Reconciler> Handler<Stop> for ResourceActor<R> {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
