//! Fair queuing for resources many tenants wait on (a vault's budget, the Kubernetes phase).
//!
//! Waiters are served lane by lane (changes before refreshes) and, within a lane, round robin
//! across tenants: deficit round robin with every request costing one. A tenant's wait depends
//! on its own backlog and on how many tenants are waiting, not on how much another tenant queued.
//! An optional share caps how fast any one tenant is served even when nobody else waits; its
//! excess waits in the queue, it is never dropped.
//!
//! Only the waiter at the head polls the resource; the others sleep until the head changes.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Which lane a request waits in: a new or changed resource goes ahead of periodic refreshes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Priority {
    /// A resource appeared or changed: a user is waiting for it.
    #[default]
    Change,
    /// A periodic refresh: it waits while change requests wait.
    Refresh,
}

impl Priority {
    const LANES: usize = 2;

    fn lane(self) -> usize {
        match self {
            Priority::Change => 0,
            Priority::Refresh => 1,
        }
    }
}

/// Who a request is for: a namespace, or the value of a namespace label (`--tenant-label`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

impl Tenant {
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    /// Requests that belong to no namespace (cluster-scoped resources, tests).
    fn default() -> Self {
        Self::new("")
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a request waits: its lane and the tenant it is served as.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Turn {
    pub priority: Priority,
    pub tenant: Tenant,
}

impl Turn {
    pub fn new(priority: Priority, tenant: Tenant) -> Self {
        Self { priority, tenant }
    }
}

impl From<Priority> for Turn {
    /// A request of no tenant, in `priority`'s lane.
    fn from(priority: Priority) -> Self {
        Self::new(priority, Tenant::default())
    }
}

/// How a queue orders its waiters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fairness {
    /// Round robin across tenants within a lane; `false` serves each lane first come, first
    /// served (the behaviour before tenants existed).
    pub per_tenant: bool,
    /// At most this many grants per second to any one tenant (with fairness on).
    pub tenant_rate: Option<f64>,
}

impl Fairness {
    /// Tenants take turns (or not), with no share: the order for permits, which have no rate.
    pub fn turns(per_tenant: bool) -> Self {
        Self {
            per_tenant,
            tenant_rate: None,
        }
    }
}

impl Default for Fairness {
    fn default() -> Self {
        Self::turns(true)
    }
}

/// What a waiter learns of its place.
#[derive(Debug, PartialEq, Eq)]
pub enum Position {
    /// It is next: it may take the resource as soon as the resource allows.
    Head,
    /// Someone else is next, or every waiting tenant is at its share until `until`.
    Behind { until: Option<Instant> },
}

/// What one tenant waits for now in a queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backlog {
    /// Requests waiting.
    pub queued: usize,
    /// When its oldest waiting request entered the queue.
    pub oldest_since: Option<Instant>,
}

/// What one tenant was served, in all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Served {
    pub requests: u64,
    /// Total time the served requests waited.
    pub waited: Duration,
    /// Served requests that waited because the tenant was at its share.
    pub held_by_share: u64,
}

/// Totals per tenant, shared by the queues of one kind (every vault's reads, say), so that
/// they outlive any one queue and only grow.
#[derive(Default)]
pub struct Ledger(Mutex<HashMap<Tenant, Served>>);

impl Ledger {
    pub fn totals(&self) -> HashMap<Tenant, Served> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, tenant: &Tenant, waited: Duration, held_by_share: bool) {
        let mut totals = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let served = totals.entry(tenant.clone()).or_default();
        served.requests += 1;
        served.waited += waited;
        served.held_by_share += u64::from(held_by_share);
    }
}

/// Adds `from`'s backlogs to `into`, tenant by tenant.
pub fn merge_backlogs(into: &mut HashMap<Tenant, Backlog>, from: HashMap<Tenant, Backlog>) {
    for (tenant, backlog) in from {
        let entry = into.entry(tenant).or_default();
        entry.queued += backlog.queued;
        entry.oldest_since = match (entry.oldest_since, backlog.oldest_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Waiters for one resource, in lanes and per tenant.
pub struct FairQueue {
    fairness: Fairness,
    state: Mutex<State>,
    ledger: Arc<Ledger>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    lanes: [Lane; Priority::LANES],
    /// Per tenant: the GCRA theoretical arrival time of its share.
    share_tat: HashMap<Tenant, Instant>,
}

#[derive(Default)]
struct Lane {
    /// Tenants with waiters, in serving order.
    rotation: VecDeque<Tenant>,
    waiting: HashMap<Tenant, VecDeque<Ticket>>,
}

struct Ticket {
    id: u64,
    tenant: Tenant,
    since: Instant,
    wake: Arc<Notify>,
    held_by_share: bool,
}

/// The share's burst: a tenant may go this many grants ahead of its rate.
const SHARE_BURST: u32 = 1;

impl FairQueue {
    pub fn new(fairness: Fairness) -> Self {
        Self::with_ledger(fairness, Arc::default())
    }

    /// A queue whose served requests count in `ledger`.
    pub fn with_ledger(fairness: Fairness, ledger: Arc<Ledger>) -> Self {
        Self {
            fairness,
            state: Mutex::new(State::default()),
            ledger,
        }
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    pub fn fairness(&self) -> Fairness {
        self.fairness
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant a waiter is queued under: everyone shares one queue with fairness off.
    fn key(&self, tenant: &Tenant) -> Tenant {
        if self.fairness.per_tenant {
            tenant.clone()
        } else {
            Tenant::default()
        }
    }

    fn share_period(&self) -> Option<Duration> {
        let rate = self
            .fairness
            .tenant_rate
            .filter(|_| self.fairness.per_tenant)?;
        (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate))
    }

    /// Joins the queue; the place leaves it when served or dropped.
    pub fn enter(&self, turn: &Turn) -> Place<'_> {
        let wake = Arc::new(Notify::new());
        let key = self.key(&turn.tenant);
        let lane = turn.priority.lane();
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        let now = Instant::now();
        let lane_state = &mut state.lanes[lane];
        let queue = lane_state.waiting.entry(key.clone()).or_default();
        if queue.is_empty() {
            lane_state.rotation.push_back(key.clone());
        }
        queue.push_back(Ticket {
            id,
            tenant: turn.tenant.clone(),
            since: now,
            wake: Arc::clone(&wake),
            held_by_share: false,
        });
        Place {
            queue: self,
            id,
            lane,
            key,
            wake,
            done: false,
        }
    }

    /// Requests waiting now, in every lane.
    pub fn waiting(&self) -> usize {
        let state = self.state();
        state
            .lanes
            .iter()
            .flat_map(|lane| lane.waiting.values())
            .map(VecDeque::len)
            .sum()
    }

    /// Every waiting tenant's backlog; one pass over the waiters, for scrapes.
    pub fn backlog(&self) -> HashMap<Tenant, Backlog> {
        let state = self.state();
        let mut backlog: HashMap<Tenant, Backlog> = HashMap::new();
        for ticket in state
            .lanes
            .iter()
            .flat_map(|lane| lane.waiting.values().flatten())
        {
            let entry = backlog.entry(ticket.tenant.clone()).or_default();
            entry.queued += 1;
            entry.oldest_since = Some(
                entry
                    .oldest_since
                    .map_or(ticket.since, |since| since.min(ticket.since)),
            );
        }
        backlog
    }

    /// Whether `tenant` is at its share now: its next request would wait for it.
    pub fn at_share(&self, tenant: &Tenant) -> bool {
        self.share_period().is_some()
            && self
                .state()
                .share_tat
                .get(&self.key(tenant))
                .is_some_and(|tat| *tat > Instant::now())
    }

    /// Wakes whoever is at the head now, as when the resource frees up.
    pub fn wake_head(&self) {
        let mut state = self.state();
        let now = Instant::now();
        if let Head::Ticket { wake, .. } = self.head(&mut state, now) {
            wake.notify_one();
        }
    }

    /// The first eligible waiter: the first lane with one, the first tenant in that lane's
    /// rotation that is not at its share.
    fn head(&self, state: &mut State, now: Instant) -> Head {
        let period = self.share_period();
        let mut earliest: Option<Instant> = None;
        let State {
            lanes, share_tat, ..
        } = state;
        for lane in lanes.iter_mut() {
            for tenant in &lane.rotation {
                let eligible_at = period.and_then(|period| {
                    let tat = *share_tat.get(tenant)?;
                    let at = tat.checked_sub(period * SHARE_BURST.saturating_sub(1))?;
                    (at > now).then_some(at)
                });
                let queue = lane
                    .waiting
                    .get_mut(tenant)
                    .expect("rotation names a queue");
                let ticket = queue
                    .front_mut()
                    .expect("queues in the rotation are not empty");
                match eligible_at {
                    Some(at) => {
                        ticket.held_by_share = true;
                        earliest = Some(earliest.map_or(at, |e| e.min(at)));
                    }
                    None => {
                        return Head::Ticket {
                            id: ticket.id,
                            wake: Arc::clone(&ticket.wake),
                        };
                    }
                }
            }
        }
        Head::None { until: earliest }
    }

    /// Takes the ticket `id` out of its lane; `served` charges its tenant's share and moves the
    /// tenant to the back of the rotation.
    fn remove(&self, state: &mut State, lane: usize, key: &Tenant, id: u64, served: bool) {
        let now = Instant::now();
        let lane_state = &mut state.lanes[lane];
        let Some(queue) = lane_state.waiting.get_mut(key) else {
            return;
        };
        let Some(index) = queue.iter().position(|ticket| ticket.id == id) else {
            return;
        };
        let ticket = queue.remove(index).expect("index is in the queue");
        let emptied = queue.is_empty();
        if emptied {
            lane_state.waiting.remove(key);
        }
        if served || emptied {
            lane_state.rotation.retain(|tenant| tenant != key);
            if !emptied {
                lane_state.rotation.push_back(key.clone());
            }
        }
        if served && let Some(period) = self.share_period() {
            let tat = state.share_tat.entry(key.clone()).or_insert(now);
            *tat = (*tat).max(now) + period;
        }
        if served {
            self.ledger
                .record(&ticket.tenant, now - ticket.since, ticket.held_by_share);
        }
        state.share_tat.retain(|_, tat| *tat > now);
    }
}

enum Head {
    Ticket { id: u64, wake: Arc<Notify> },
    None { until: Option<Instant> },
}

/// A waiter's place in a [`FairQueue`].
pub struct Place<'a> {
    queue: &'a FairQueue,
    id: u64,
    lane: usize,
    key: Tenant,
    wake: Arc<Notify>,
    done: bool,
}

impl Place<'_> {
    /// Whether this waiter is next; when another is, that one is woken to take its turn.
    pub fn position(&self) -> Position {
        let mut state = self.queue.state();
        match self.queue.head(&mut state, Instant::now()) {
            Head::Ticket { id, .. } if id == self.id => Position::Head,
            Head::Ticket { wake, .. } => {
                wake.notify_one();
                Position::Behind { until: None }
            }
            Head::None { until } => Position::Behind { until },
        }
    }

    /// Sleeps until the head may have changed, or until `until`.
    pub async fn wait(&self, until: Option<Instant>) {
        match until {
            Some(until) => {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep_until(until) => {}
                }
            }
            None => self.wake.notified().await,
        }
    }

    /// Leaves the queue served, and wakes the next head.
    pub fn served(mut self) {
        self.leave(true);
    }

    fn leave(&mut self, served: bool) {
        self.done = true;
        let mut state = self.queue.state();
        self.queue
            .remove(&mut state, self.lane, &self.key, self.id, served);
        if let Head::Ticket { wake, .. } = self.queue.head(&mut state, Instant::now()) {
            wake.notify_one();
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.leave(false);
        }
    }
}

/// A semaphore whose waiters take turns as in a [`FairQueue`].
pub struct FairSemaphore {
    permits: Semaphore,
    queue: FairQueue,
}

/// A permit of a [`FairSemaphore`]; dropping it lets the next waiter in.
pub struct FairPermit<'a> {
    permit: Option<SemaphorePermit<'a>>,
    queue: &'a FairQueue,
}

impl Drop for FairPermit<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.queue.wake_head();
    }
}

impl FairSemaphore {
    pub fn new(permits: usize, fairness: Fairness) -> Self {
        Self {
            permits: Semaphore::new(permits),
            queue: FairQueue::new(fairness),
        }
    }

    pub fn queue(&self) -> &FairQueue {
        &self.queue
    }

    /// Waits for a permit in `turn`'s lane and tenant.
    pub async fn acquire(&self, turn: &Turn) -> FairPermit<'_> {
        let place = self.queue.enter(turn);
        loop {
            match place.position() {
                Position::Head => match self.permits.try_acquire() {
                    Ok(permit) => {
                        place.served();
                        return FairPermit {
                            permit: Some(permit),
                            queue: &self.queue,
                        };
                    }
                    // A released permit wakes the head.
                    Err(_) => place.wait(None).await,
                },
                Position::Behind { until } => place.wait(until).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn turn(priority: Priority, tenant: &str) -> Turn {
        Turn::new(priority, Tenant::new(tenant))
    }

    /// Serves every waiter of `queue` (entered in `places`) one at a time, head first.
    fn drain(queue: &FairQueue, mut places: Vec<(String, Place<'_>)>) -> Vec<String> {
        let mut order = Vec::new();
        while !places.is_empty() {
            let index = places
                .iter()
                .position(|(_, place)| place.position() == Position::Head)
                .expect("someone is at the head");
            let (name, place) = places.remove(index);
            place.served();
            order.push(name);
        }
        assert_eq!(queue.waiting(), 0);
        order
    }

    #[tokio::test(start_paused = true)]
    async fn tenants_take_turns_within_a_lane() {
        let queue = FairQueue::new(Fairness::default());
        let mut places = Vec::new();
        for index in 0..5 {
            places.push((
                format!("a{index}"),
                queue.enter(&turn(Priority::Change, "a")),
            ));
        }
        places.push(("b0".into(), queue.enter(&turn(Priority::Change, "b"))));
        places.push(("c0".into(), queue.enter(&turn(Priority::Change, "c"))));
        places.push(("b1".into(), queue.enter(&turn(Priority::Change, "b"))));
        let queued: BTreeMap<_, _> = queue
            .backlog()
            .into_iter()
            .map(|(tenant, backlog)| (tenant.to_string(), backlog.queued))
            .collect();
        assert_eq!(
            queued,
            BTreeMap::from([("a".into(), 5), ("b".into(), 2), ("c".into(), 1)])
        );
        assert_eq!(
            drain(&queue, places),
            ["a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_with_one_request_waits_at_most_one_round_behind_a_tenant_with_ten_thousand() {
        let queue = FairQueue::new(Fairness::default());
        let mut places: Vec<_> = (0..10_000)
            .map(|index| {
                (
                    format!("noisy{index}"),
                    queue.enter(&turn(Priority::Change, "noisy")),
                )
            })
            .collect();
        // The noisy tenant is served a while before the quiet one arrives.
        for _ in 0..100 {
            let index = places
                .iter()
                .position(|(_, place)| place.position() == Position::Head)
                .unwrap();
            places.remove(index).1.served();
        }
        places.push((
            "quiet".into(),
            queue.enter(&turn(Priority::Change, "quiet")),
        ));
        let order = drain(&queue, places);
        let position = order.iter().position(|name| name == "quiet").unwrap();
        assert!(position <= 1, "the quiet tenant came {position}th");
    }

    #[tokio::test(start_paused = true)]
    async fn changes_go_before_refreshes_of_every_tenant() {
        let queue = FairQueue::new(Fairness::default());
        let places = vec![
            (
                "refresh-a".into(),
                queue.enter(&turn(Priority::Refresh, "a")),
            ),
            (
                "refresh-b".into(),
                queue.enter(&turn(Priority::Refresh, "b")),
            ),
            ("change-b".into(), queue.enter(&turn(Priority::Change, "b"))),
        ];
        assert_eq!(
            drain(&queue, places),
            ["change-b", "refresh-a", "refresh-b"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fairness_off_serves_each_lane_in_arrival_order() {
        let queue = FairQueue::new(Fairness {
            per_tenant: false,
            tenant_rate: Some(1.0),
        });
        let places = vec![
            ("a0".into(), queue.enter(&turn(Priority::Change, "a"))),
            ("a1".into(), queue.enter(&turn(Priority::Change, "a"))),
            ("b0".into(), queue.enter(&turn(Priority::Change, "b"))),
        ];
        assert_eq!(drain(&queue, places), ["a0", "a1", "b0"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_waiter_leaves_and_the_next_one_is_woken() {
        let queue = FairQueue::new(Fairness::default());
        let first = queue.enter(&turn(Priority::Change, "a"));
        let second = queue.enter(&turn(Priority::Change, "b"));
        assert_eq!(second.position(), Position::Behind { until: None });
        drop(first);
        // The wake-up is stored for the new head: it does not wait.
        tokio::time::timeout(Duration::from_secs(1), second.wait(None))
            .await
            .expect("the new head is woken");
        assert_eq!(second.position(), Position::Head);
        assert!(queue.ledger().totals().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_at_its_share_waits_even_when_nobody_else_does() {
        let queue = FairQueue::new(Fairness {
            per_tenant: true,
            tenant_rate: Some(2.0),
        });
        let start = Instant::now();
        let mut served_at = Vec::new();
        for _ in 0..5 {
            let place = queue.enter(&turn(Priority::Change, "a"));
            loop {
                match place.position() {
                    Position::Head => break,
                    Position::Behind { until } => place.wait(until).await,
                }
            }
            place.served();
            served_at.push(start.elapsed());
        }
        let expected: Vec<_> = (0..5).map(|i| Duration::from_millis(500 * i)).collect();
        assert_eq!(served_at, expected);
        let a = &queue.ledger().totals()[&Tenant::new("a")];
        assert_eq!((a.requests, a.held_by_share), (5, 4));
        assert!(queue.backlog().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn another_tenant_goes_while_one_is_at_its_share() {
        let queue = FairQueue::new(Fairness {
            per_tenant: true,
            tenant_rate: Some(1.0),
        });
        queue.enter(&turn(Priority::Change, "a")).served();
        let a = queue.enter(&turn(Priority::Change, "a"));
        let b = queue.enter(&turn(Priority::Change, "b"));
        assert!(matches!(a.position(), Position::Behind { until: None }));
        assert_eq!(b.position(), Position::Head);
        b.served();
        assert_eq!(
            a.position(),
            Position::Behind {
                until: Some(Instant::now() + Duration::from_secs(1))
            }
        );
        assert!(queue.at_share(&Tenant::new("a")) && !queue.at_share(&Tenant::new("c")));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(a.position(), Position::Head);
        assert!(!queue.at_share(&Tenant::new("a")));
    }

    #[tokio::test(start_paused = true)]
    async fn semaphore_permits_go_round_robin_across_tenants() {
        let semaphore = Arc::new(FairSemaphore::new(1, Fairness::default()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = semaphore.acquire(&Turn::default()).await;
        let mut tasks = Vec::new();
        for (tenant, count) in [("noisy", 6), ("quiet", 2)] {
            for index in 0..count {
                let (semaphore, order) = (Arc::clone(&semaphore), Arc::clone(&order));
                tasks.push(tokio::spawn(async move {
                    let turn = Turn::new(Priority::Change, Tenant::new(tenant));
                    let _permit = semaphore.acquire(&turn).await;
                    order.lock().unwrap().push(format!("{tenant}{index}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }));
                // Each waiter joins in this order.
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [
                "noisy0", "quiet0", "noisy1", "quiet1", "noisy2", "noisy3", "noisy4", "noisy5"
            ]
        );
    }
}
