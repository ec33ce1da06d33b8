//! `akvsync run`: the operator's flags and its process lifecycle.

use std::path::PathBuf;

use akvsync_actors::store::{TenantPolicy, VaultBudget};
use anyhow::Context as _;
use clap::{ArgAction, Args};

use crate::azure::{ManagedIdentityEndpoint, NetworkSettings};
use crate::controller::context::KUBE_PHASES;
use crate::controller::scope::Scope;
use crate::controller::stores::{ControllerClass, DEFAULT_CONTROLLER_CLASS};
use crate::controller::tenants::{self, TenantConfig};
use crate::observability::leader::default_identity;
use crate::observability::{LeaderElectionConfig, ObservabilityArgs, logging};
use crate::operator::{self, KubeSource, OperatorConfig, Telemetry};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kubeconfig to use instead of the in-cluster config or `KUBECONFIG`.
    #[arg(long, env = "AKVSYNC_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// A PEM file of extra CA certificates to trust for Azure endpoints (for example an
    /// emulator's or a proxy's), in addition to the system roots.
    #[arg(long, env = "AKVSYNC_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Entra ID authority host to use instead of the store's cloud (tests and emulators).
    #[arg(long, env = "AKVSYNC_AUTHORITY_HOST")]
    pub authority_host: Option<String>,
    /// Managed-identity endpoint (App Service form) to use instead of IMDS.
    #[arg(long, env = "AKVSYNC_IDENTITY_ENDPOINT", requires = "identity_header")]
    pub identity_endpoint: Option<String>,
    /// The secret header value the managed-identity endpoint expects.
    #[arg(long, env = "AKVSYNC_IDENTITY_HEADER", requires = "identity_endpoint")]
    pub identity_header: Option<String>,
    /// Actor threads (arbiters); 0 means one per core.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Key Vault reads per 10 s per vault; the default is half of Key Vault's limit.
    #[arg(long, default_value_t = VaultBudget::default().reads_per_10s)]
    pub reads_per_10s: u32,
    /// Key Vault writes per 10 s per vault; the default is half of Key Vault's limit.
    #[arg(long, default_value_t = VaultBudget::default().writes_per_10s)]
    pub writes_per_10s: u32,
    /// Key Vault requests in flight at once per vault host.
    #[arg(long, default_value_t = VaultBudget::default().in_flight)]
    pub vault_concurrency: u32,
    /// Turns off the shared cache, coalescing and limiter: ESO's call pattern, for benchmarks.
    #[arg(long)]
    pub naive: bool,
    /// The controller class (ESO's flag): stores whose `spec.controller` names another class,
    /// and every resource referencing one, are left to another operator.
    #[arg(long, env = "AKVSYNC_CONTROLLER_CLASS", default_value = DEFAULT_CONTROLLER_CLASS)]
    pub controller_class: String,
    /// Leaves stores without `spec.controller` to another operator too (ESO serves them in every
    /// class): run beside ESO and move stores over by giving them this operator's class.
    #[arg(long, env = "AKVSYNC_SKIP_CLASSLESS_STORES")]
    pub skip_classless_stores: bool,
    /// Watch namespaced resources in this namespace only (ESO's flag). Give the operator a Role
    /// there, and turn off the cluster-scoped kinds it can no longer read.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Serve ClusterSecretStores; `false` leaves them, and every ExternalSecret whose
    /// `secretStoreRef` names one, to another operator (ESO's flag).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub enable_cluster_store_reconciler: bool,
    /// Serve ClusterExternalSecrets (ESO's flag).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub enable_cluster_external_secret_reconciler: bool,
    /// Serve PushSecrets (ESO's flag).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub enable_push_secret_reconciler: bool,
    /// Serve ClusterPushSecrets (ESO's flag).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub enable_cluster_push_secret_reconciler: bool,
    /// Write ExternalSecrets' `spec.target.manifest` targets (ConfigMaps, custom resources);
    /// grant the operator write access to those kinds too (ESO's flag).
    #[arg(
        long,
        default_value_t = false,
        action = ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub unsafe_allow_generic_targets: bool,
    /// Resources in their Kubernetes phase (read, build and write the Secret, status, Events)
    /// at once; fetching from Key Vault waits outside it (ESO's flag, ESO's default is 1).
    #[arg(long, default_value_t = KUBE_PHASES, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrent: u32,
    /// Groups namespaces into tenants by this namespace label (a namespace without it is a
    /// tenant of its own); by default each namespace is a tenant.
    #[arg(long, env = "AKVSYNC_TENANT_LABEL", value_name = "KEY")]
    pub tenant_label: Option<String>,
    /// Tenants take turns for a vault's budget and the Kubernetes phase, so one tenant's burst
    /// does not hold up the others; `false` serves first come, first served.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub tenant_fairness: bool,
    /// The largest fraction of a vault's budget one tenant may use, even when no other tenant
    /// waits (0 < FRACTION ≤ 1); the excess waits, it is never dropped.
    #[arg(long, value_name = "FRACTION", value_parser = tenants::parse_share)]
    pub tenant_max_share: Option<f64>,
    #[command(flatten)]
    pub observability: ObservabilityArgs,
}

impl RunArgs {
    pub fn operator_config(&self) -> anyhow::Result<OperatorConfig> {
        let extra_ca_pem = self
            .extra_ca_file
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
            })
            .transpose()?;
        let managed_identity_endpoint = match (&self.identity_endpoint, &self.identity_header) {
            (Some(url), Some(header)) => Some(ManagedIdentityEndpoint {
                url: url.clone(),
                header: header.clone().into(),
            }),
            _ => None,
        };
        Ok(OperatorConfig {
            kube: self
                .kubeconfig
                .clone()
                .map_or(KubeSource::Infer, KubeSource::Kubeconfig),
            network: NetworkSettings {
                extra_ca_pem,
                authority_host: self.authority_host.clone(),
                managed_identity_endpoint,
                ..NetworkSettings::default()
            },
            workers: self.workers,
            budget: VaultBudget {
                reads_per_10s: self.reads_per_10s,
                writes_per_10s: self.writes_per_10s,
                in_flight: self.vault_concurrency,
            },
            naive: self.naive,
            http: Some((
                self.observability.http.metrics_address,
                self.observability.http.health_address,
            )),
            leader: self.observability.leader.leader_elect.then(|| {
                LeaderElectionConfig::from_args(
                    &self.observability.leader,
                    &operator_namespace(),
                    default_identity(),
                )
            }),
            granularity: self.observability.metrics_granularity,
            class: ControllerClass {
                name: self.controller_class.clone(),
                skip_classless: self.skip_classless_stores,
            },
            scope: Scope {
                namespace: self
                    .namespace
                    .clone()
                    .filter(|namespace| !namespace.is_empty()),
                cluster_stores: self.enable_cluster_store_reconciler,
                cluster_external_secrets: self.enable_cluster_external_secret_reconciler,
                push_secrets: self.enable_push_secret_reconciler,
                cluster_push_secrets: self.enable_cluster_push_secret_reconciler,
                generic_targets: self.unsafe_allow_generic_targets,
            },
            concurrent: self.concurrent,
            tenants: TenantConfig {
                label: self.tenant_label.clone().filter(|label| !label.is_empty()),
                policy: TenantPolicy {
                    fair: self.tenant_fairness,
                    max_share: self.tenant_max_share,
                },
            },
            ..OperatorConfig::default()
        })
    }
}

/// Runs the operator until SIGTERM or Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    logging::init(&args.observability.log)?;
    let config = args.operator_config()?;
    let telemetry = Telemetry::new(config.granularity)?;
    operator::run(
        config,
        telemetry,
        operator::Progress::default(),
        shutdown_signal(),
    )
}

/// The namespace the operator runs in: `POD_NAMESPACE`, the service account's, or `default`.
fn operator_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|namespace| namespace.trim().to_owned())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<OperatorConfig, String> {
        let cli = Cli::try_parse_from(["akvsync", "run"].iter().chain(args))
            .map_err(|error| error.to_string())?;
        let Command::Run(run) = cli.command else {
            unreachable!("parsed `run`");
        };
        run.operator_config().map_err(|error| error.to_string())
    }

    #[test]
    fn esos_scope_flags_set_the_namespace_the_kinds_and_the_concurrency() {
        let default = parse(&[]).expect("no flags");
        assert_eq!(default.scope, Scope::default());
        assert_eq!(default.concurrent, KUBE_PHASES);

        let scoped = parse(&[
            "--namespace=team-a",
            "--enable-cluster-store-reconciler=false",
            "--enable-cluster-external-secret-reconciler=false",
            "--enable-push-secret-reconciler=false",
            "--enable-cluster-push-secret-reconciler=false",
            "--concurrent=5",
        ])
        .expect("ESO's flags");
        assert_eq!(
            scoped.scope,
            Scope {
                namespace: Some("team-a".into()),
                cluster_stores: false,
                cluster_external_secrets: false,
                push_secrets: false,
                cluster_push_secrets: false,
                generic_targets: false,
            }
        );
        assert!(
            parse(&["--unsafe-allow-generic-targets"])
                .unwrap()
                .scope
                .generic_targets
        );
        assert_eq!(scoped.concurrent, 5);
        assert!(
            parse(&["--enable-push-secret-reconciler=true"])
                .unwrap()
                .scope
                .push_secrets
        );
    }

    #[test]
    fn tenant_flags_set_the_label_the_fairness_and_the_share() {
        assert_eq!(parse(&[]).unwrap().tenants, TenantConfig::default());
        let tenants = parse(&[
            "--tenant-label=example.com/team",
            "--tenant-fairness=false",
            "--tenant-max-share=0.2",
        ])
        .unwrap()
        .tenants;
        assert_eq!(
            tenants,
            TenantConfig {
                label: Some("example.com/team".into()),
                policy: TenantPolicy {
                    fair: false,
                    max_share: Some(0.2),
                },
            }
        );
        let too_much = parse(&["--tenant-max-share=2"]).unwrap_err();
        assert!(
            too_much.contains("--tenant-max-share") && too_much.contains("(0, 1]"),
            "{too_much}"
        );
    }

    #[test]
    fn a_bad_scope_flag_is_refused_with_its_name() {
        let zero = parse(&["--concurrent=0"]).unwrap_err();
        assert!(zero.contains("--concurrent"), "{zero}");
        let banana = parse(&["--enable-cluster-store-reconciler=banana"]).unwrap_err();
        assert!(
            banana.contains("--enable-cluster-store-reconciler"),
            "{banana}"
        );
    }
}
