//! The operator's integration tests, one binary (one link) for all of them: each module is
//! one area, run alone with `cargo test --test integration <module>::`.
//! `no_secrets_in_logs` is its own binary: it installs the process's global subscriber.

mod azure_provider_world;
mod helm;
mod kubectl;
mod manifests;
mod operator_world;
mod parity;

mod auth_rotation;
mod azure_provider_auth;
mod azure_provider_read;
mod cluster_push_secret;
mod controller_class;
mod dashboards;
#[cfg(feature = "demo")]
mod demo;
mod deploy_can_i;
mod deploy_rbac;
mod deploy_render;
mod eso_parity;
mod faults;
mod generators;
mod generic_targets;
mod helm_chart;
mod image;
mod leader_failover;
mod metrics_scrape;
mod migration;
mod naive_mode;
mod observability_http;
mod observability_leader;
mod push_secret;
mod quiet_refresh;
#[cfg(feature = "demo")]
mod real_prometheus;
mod scoped_install;
mod sync_cluster_external_secret;
mod sync_external_secret;
mod sync_objects;
mod sync_policies;
mod tenants;
mod token_outage;
