//! The operator's controllers: a supervisor that watches resources and runs one actor per
//! store and per ExternalSecret, and the reconcilers those actors schedule.

pub mod cluster_external_secret;
pub mod cluster_push_secret;
pub mod common;
pub mod context;
pub mod external_secret;
pub mod fan_out;
pub mod namespaces;
pub mod push_secret;
pub mod scope;
pub mod status;
pub mod stores;
pub mod supervisor;
pub mod targets;
pub mod tenants;
