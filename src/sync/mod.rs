//! The pure core of a sync: which requests an ExternalSecret makes, and which Secret data its
//! fetched values yield. No clock, no client, no actor: values in, values out.

pub mod build;
pub mod built_from;
pub mod decode;
pub(crate) mod go_json;
pub mod hash;
pub mod manifest;
mod merge;
pub mod plan;
mod post_process;
pub mod property;
mod read;
pub mod target;
pub mod windows;

#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod target_tests;

pub use build::{BuildError, BuildOptions, Built, Fetched, FetchedFrom, build};
pub use plan::{
    DataEntry, DataFromEntry, DataFromSource, FindFilter, Plan, PlanError, RemoteRead, StoreName,
    plan,
};
