//! Where actors run: one actix Arbiter (a single-threaded runtime) per core, with actors spread
//! over them round-robin.
//!
//! Why this topology: actix executes an actor's futures on its arbiter's thread, so actor state
//! needs no locks and `!Send` futures are fine; kube-rs and the Azure SDK are runtime-agnostic
//! tokio code and run unchanged on each arbiter's current-thread runtime. One arbiter per core
//! uses every core without work stealing, and spreading actors round-robin keeps a burst of
//! reconciles (10k ExternalSecrets starting at once) from landing on one thread. Shared state that
//! crosses arbiters (the per-vault limiter, the store caches) is `Send + Sync` and locks briefly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context};

/// The arbiters of the process and a round-robin cursor over them.
#[derive(Clone)]
pub struct Runtime {
    arbiters: Arc<[ArbiterHandle]>,
    next: Arc<AtomicUsize>,
}

impl Runtime {
    /// Starts `workers` arbiters (at least one). Must be called inside a running actix System.
    pub fn start(workers: usize) -> Self {
        let arbiters: Vec<ArbiterHandle> = (0..workers.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        Self {
            arbiters: arbiters.into(),
            next: Arc::default(),
        }
    }

    /// One arbiter per available core.
    pub fn per_core() -> Self {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn workers(&self) -> usize {
        self.arbiters.len()
    }

    /// Starts an actor on the next arbiter; `build` runs on that arbiter's thread.
    pub fn spawn<A, F>(&self, build: F) -> Addr<A>
    where
        A: Actor<Context = Context<A>>,
        F: FnOnce(&mut Context<A>) -> A + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        A::start_in_arbiter(&self.arbiters[index], build)
    }

    /// Asks every arbiter to stop after its current work.
    pub fn stop(&self) {
        for arbiter in self.arbiters.iter() {
            arbiter.stop();
        }
    }
}
