//! akvsync: a Kubernetes operator that keeps Secrets in sync with Azure Key Vault.
//!
//! It reads External Secrets Operator's `external-secrets.io` resources and routes every Key Vault
//! call through one actor per store, which caches, coalesces and rate-limits it.

pub mod azure;
pub mod cli;
pub mod controller;
#[cfg(feature = "demo")]
pub mod demo;
pub mod generate;
pub mod observability;
pub mod operator;
pub mod push;
pub mod sync;
