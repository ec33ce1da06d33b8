//! Test worlds for akvsync.
pub mod azure;
