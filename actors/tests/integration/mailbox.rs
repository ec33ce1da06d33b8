//! Resource mailboxes are bounded: a notice that does not fit waits in the supervisor's outbox,
//! coalesced, and reaches the actor once it has room.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use akvsync_actors::mailbox::{Delivery, Notice, Outbox};
use akvsync_actors::resource::{RESOURCE_MAILBOX_CAPACITY, Reconciler, ResourceActor, Trigger};
use akvsync_actors::runtime::Runtime;
use akvsync_actors::schedule::{Outcome, Refresh};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

struct Named(String);

/// Reports the name and trigger of every sync.
struct Recording(mpsc::UnboundedSender<(String, Trigger)>);

impl Reconciler for Recording {
    type Resource = Named;

    fn reconcile(&self, resource: Arc<Named>, trigger: Trigger) -> BoxFuture<'static, Outcome> {
        self.0.send((resource.0.clone(), trigger)).unwrap();
        futures::future::ready(Outcome::Synced).boxed()
    }

    fn refresh(&self, _: &Named) -> Refresh {
        Refresh::OnChange
    }

    fn changed(&self, current: &Named, next: &Named) -> bool {
        current.0 != next.0
    }
}

/// Holds its arbiter's thread until released, so nothing on that arbiter reads its mailbox.
struct Blocker {
    blocking: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}

impl Actor for Blocker {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.blocking.send(()).unwrap();
        self.release.recv().unwrap();
    }
}

#[test]
fn a_full_mailbox_defers_notices_and_the_outbox_delivers_them_in_order() {
    let system = actix::System::new();
    system.block_on(async {
        let runtime = Runtime::start(1);
        let (blocking, blocked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel();
        runtime.spawn(move |_| Blocker {
            blocking,
            release: released,
        });
        blocked.recv_timeout(Duration::from_secs(30)).unwrap();

        let (synced, mut syncs) = mpsc::unbounded_channel();
        let reconciler = Arc::new(Recording(synced));
        let actor =
            runtime.spawn(move |_| ResourceActor::new(reconciler, Arc::new(Named("first".into()))));
        let mut outbox = Outbox::default();
        let deliveries: Vec<Delivery> = (0..4 * RESOURCE_MAILBOX_CAPACITY)
            .map(|_| outbox.send(&actor, Notice::SyncNow))
            .collect();
        let sent = deliveries.iter().filter(|d| **d == Delivery::Sent).count();
        assert!(
            (RESOURCE_MAILBOX_CAPACITY..=RESOURCE_MAILBOX_CAPACITY + 1).contains(&sent),
            "the mailbox took {sent} notices, its capacity is {RESOURCE_MAILBOX_CAPACITY}"
        );
        assert_eq!(
            deliveries[sent..]
                .iter()
                .filter(|d| **d == Delivery::Deferred)
                .count(),
            deliveries.len() - sent,
            "once full, every notice is deferred"
        );
        // The latest update waits behind the earlier notices, and they are kept as one.
        assert_eq!(
            outbox.send(&actor, Notice::Update(Arc::new(Named("second".into())))),
            Delivery::Deferred
        );
        assert_eq!(outbox.len(), 1);
        outbox.retry();
        assert_eq!(outbox.len(), 1, "still full: nothing delivered");

        release.send(()).unwrap();
        for _ in 0..3000 {
            outbox.retry();
            if outbox.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(outbox.is_empty(), "the outbox drained once the actor ran");
        let deadline = Duration::from_secs(30);
        loop {
            let (name, trigger) = tokio::time::timeout(deadline, syncs.recv())
                .await
                .unwrap()
                .unwrap();
            if name == "second" {
                assert_eq!(trigger, Trigger::Changed);
                break;
            }
        }
        runtime.stop();
    });
}
