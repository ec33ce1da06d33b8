//! The emulators' tests, one binary for all: `cargo test -p akvsync-emulators --test
//! integration kube_` runs the Kubernetes emulator's, `azure_` the Azure emulator's.

mod azure_support;
mod kube_common;

mod azure_acr;
mod azure_auth;
mod azure_keys_certificates;
mod azure_managed_identity;
mod azure_msal;
mod azure_secrets;
mod azure_state;
mod azure_throttling;
mod kube_auth;
mod kube_crud;
mod kube_custom;
mod kube_delete;
mod kube_events;
mod kube_faults;
mod kube_kubectl;
mod kube_state;
mod kube_watch;
