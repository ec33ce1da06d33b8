//! Test worlds for akvsync.
pub mod azure;
pub mod kubeapi;
