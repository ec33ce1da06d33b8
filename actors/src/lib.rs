//! akvsync's actor system: one actor per store owns the Key Vault client, its cache and limiter;
//! one actor per resource schedules its refreshes; messages carry fetch and push requests.
//!
//! The logic lives in plain components (`store::StoreCore`, …) tested without actix; actors are
//! thin shells that own them. Everything is generic over the small traits in [`remote`], so the
//! crate knows neither Kubernetes nor Azure.

pub mod fair;
pub mod mailbox;
pub mod remote;
pub mod resource;
pub mod runtime;
pub mod schedule;
pub mod store;
