//! The load scenario: how many ExternalSecrets, namespaces, stores (vaults), remote secrets and
//! items, how they share secrets, and how often they refresh; and the seed and objects it yields.
//!
//! The cluster modelled is multi-tenant: every namespace belongs to a team, every team's
//! namespaces read one vault, and the platform team publishes one `ClusterSecretStore` per vault
//! whose service-principal credentials live in the platform namespace (authSecretRef with a
//! namespace, so the store is not referent: one store, one credential, one cache per vault).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use akvsync_crds::{ClusterSecretStore, ExternalSecret};
use serde_json::json;

/// The namespace that holds the stores' credentials (the platform team's).
pub const PLATFORM_NAMESPACE: &str = "akvsync-bench";
/// The Entra ID tenant every vault and principal belongs to.
pub const TENANT: &str = "bench-tenant";
/// Length of every remote secret value; large enough that caching values is not free.
const VALUE_LENGTH: usize = 64;

/// Sizes and timings of one run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub preset: String,
    pub external_secrets: usize,
    pub namespaces: usize,
    pub stores: usize,
    pub unique_secrets: usize,
    pub items: usize,
    /// Sharing pattern: item 0 of every ExternalSecret reads one of its vault's `hot_secrets`
    /// (a shared database password, say); the other items walk the vault's secrets
    /// round-robin, so every secret is referenced. 0: every item round-robin.
    pub hot_secrets: usize,
    /// The refresh interval of a real deployment of this size.
    pub nominal_refresh: Duration,
    /// The `refreshInterval` the ExternalSecrets get in this run (and the length of a measured
    /// cycle): the nominal one, or a shorter one when a nominal cycle is too long to wait for.
    pub refresh: Duration,
    /// New and changed ExternalSecrets (each) timed while a refresh cycle runs.
    pub probes: usize,
    /// ExternalSecrets created concurrently during seeding.
    pub create_concurrency: usize,
    /// Upper bound of the cold start; the run records a timeout instead of waiting longer.
    pub cold_start_timeout: Duration,
    /// The operator's `--metrics-granularity`: `per-resource` (ESO's labels, the default) or
    /// `per-namespace`, which the README recommends for clusters of this size.
    pub metrics_granularity: &'static str,
    /// Measure the cold start and one quiet cycle only (the scaling run), not the probes, the
    /// 1% cycle and the restart.
    pub quiet_only: bool,
}

impl Scenario {
    /// A named preset: `small` (CI-sized), `medium`, `s100k` (issue 10's target size), `soak`.
    pub fn preset(name: &str) -> Option<Scenario> {
        let scenario = match name {
            "small" => Scenario {
                preset: name.into(),
                external_secrets: 500,
                namespaces: 10,
                stores: 2,
                unique_secrets: 100,
                items: 3,
                hot_secrets: 5,
                nominal_refresh: Duration::from_secs(30),
                refresh: Duration::from_secs(30),
                probes: 20,
                create_concurrency: 32,
                cold_start_timeout: Duration::from_secs(180),
                metrics_granularity: "per-resource",
                quiet_only: false,
            },
            "medium" => Scenario {
                preset: name.into(),
                external_secrets: 10_000,
                namespaces: 100,
                stores: 10,
                unique_secrets: 2_000,
                items: 4,
                hot_secrets: 10,
                nominal_refresh: Duration::from_secs(60),
                refresh: Duration::from_secs(60),
                probes: 40,
                create_concurrency: 64,
                cold_start_timeout: Duration::from_secs(600),
                metrics_granularity: "per-resource",
                quiet_only: false,
            },
            // The chaos soak (soak.rs): the medium world, one mode, for a long time.
            "soak" => Scenario {
                preset: name.into(),
                ..Scenario::preset("medium")?
            },
            "s100k" => Scenario {
                preset: name.into(),
                external_secrets: 100_000,
                namespaces: 1_000,
                stores: 50,
                unique_secrets: 10_000,
                items: 5,
                hot_secrets: 10,
                nominal_refresh: Duration::from_secs(3600),
                // A 1 h cycle does not fit a run: the cycle is scaled down to 5 min. The vault
                // load per cycle is the same (each unique secret once), only 12 times denser.
                refresh: Duration::from_secs(300),
                probes: 50,
                create_concurrency: 64,
                cold_start_timeout: Duration::from_secs(1_800),
                // 100k resources with ESO's per-resource labels are 300k+ series.
                metrics_granularity: "per-namespace",
                quiet_only: false,
            },
            _ => return None,
        };
        Some(scenario)
    }

    /// The s100k world's shape at `external_secrets` ExternalSecrets (the scaling run): a
    /// namespace per 100, a vault per 2,000, a unique secret per 10, five items each; the cycle
    /// is as short as the size allows, so the run fits in half an hour.
    pub fn scaled(external_secrets: usize) -> Scenario {
        let refresh = match external_secrets {
            0..=2_000 => 30,
            2_001..=20_000 => 60,
            20_001..=50_000 => 120,
            _ => 300,
        };
        Scenario {
            preset: format!("scaling-{external_secrets}"),
            external_secrets,
            namespaces: (external_secrets / 100).max(1),
            stores: (external_secrets / 2_000).max(1),
            unique_secrets: (external_secrets / 10).max(10),
            items: 5,
            hot_secrets: 10,
            nominal_refresh: Duration::from_secs(3600),
            refresh: Duration::from_secs(refresh),
            probes: 0,
            create_concurrency: 64,
            cold_start_timeout: Duration::from_secs(1_800),
            metrics_granularity: "per-namespace",
            quiet_only: true,
        }
    }

    pub fn vault_name(&self, vault: usize) -> String {
        format!("bench-v{vault:02}")
    }

    pub fn store_name(&self, vault: usize) -> String {
        format!("bench-store-{vault:02}")
    }

    pub fn namespace_name(&self, namespace: usize) -> String {
        format!("bench-ns-{namespace:04}")
    }

    fn credentials_name(vault: usize) -> String {
        format!("azure-creds-{vault:02}")
    }

    /// The service principal of vault `vault` (one per vault: one team, one identity).
    pub fn client_id(vault: usize) -> String {
        format!("00000000-0000-4000-8000-{vault:012}")
    }

    fn client_secret(vault: usize) -> String {
        format!("bench-client-secret-{vault:02}")
    }

    fn secrets_per_vault(&self) -> usize {
        self.unique_secrets.div_ceil(self.stores).max(1)
    }

    pub fn secret_name(index: usize) -> String {
        format!("s-{index:05}")
    }

    /// A deterministic value, so both modes sync the same bytes.
    pub fn secret_value(vault: usize, index: usize) -> String {
        let mut value = format!("v{vault:02}-{index:05}-");
        while value.len() < VALUE_LENGTH {
            value.push(char::from(b'a' + (value.len() * 7 + index) as u8 % 26));
        }
        value
    }

    /// The value of a secret's version set by the 1% change cycle: as long, different bytes.
    pub fn changed_secret_value(vault: usize, index: usize) -> String {
        let mut value = format!("c{vault:02}-{index:05}-");
        while value.len() < VALUE_LENGTH {
            value.push(char::from(b'z' - (value.len() * 5 + index) as u8 % 26));
        }
        value
    }

    /// For each referenced secret (vault, index): an ExternalSecret that reads it, and the
    /// position of its data entry.
    pub fn readers(&self) -> BTreeMap<(usize, usize), (usize, usize)> {
        let mut readers = BTreeMap::new();
        for reader in 0..self.external_secrets {
            let (_, vault) = self.placement(reader);
            for (position, item) in self.items_of(reader, 0).into_iter().enumerate() {
                readers.entry((vault, item)).or_insert((reader, position));
            }
        }
        readers
    }

    /// The namespace of ExternalSecret `index` and the vault its team reads.
    pub fn placement(&self, index: usize) -> (usize, usize) {
        let namespace = index % self.namespaces;
        (namespace, namespace % self.stores)
    }

    /// The remote secret indexes (within its vault) that ExternalSecret `index` reads.
    pub fn items_of(&self, index: usize, extra: usize) -> Vec<usize> {
        let per_vault = self.secrets_per_vault();
        // Position of this ExternalSecret among those reading the same vault.
        let rank = index / self.stores;
        let count = (self.items + extra).min(per_vault);
        let mut items: Vec<usize> = Vec::with_capacity(count);
        // Items walked round-robin per ExternalSecret: consecutive ranks take consecutive secrets.
        let walked = if self.hot_secrets > 0 {
            self.items - 1
        } else {
            self.items
        };
        let mut cursor = rank * walked.max(1);
        if self.hot_secrets > 0 {
            items.push(rank % self.hot_secrets.min(per_vault));
        }
        while items.len() < count {
            let candidate = cursor % per_vault;
            cursor += 1;
            if !items.contains(&candidate) {
                items.push(candidate);
            }
        }
        items
    }

    /// Remote secrets (vault, index) that the scenario's ExternalSecrets reference.
    pub fn referenced_secrets(&self) -> BTreeSet<(usize, usize)> {
        (0..self.external_secrets)
            .flat_map(|index| {
                let (_, vault) = self.placement(index);
                self.items_of(index, 0)
                    .into_iter()
                    .map(move |item| (vault, item))
            })
            .collect()
    }

    /// The Azure emulator's seed: one tenant, one principal and one vault per store, with read
    /// access for its principal only.
    pub fn azure_seed(&self) -> serde_json::Value {
        let per_vault = self.secrets_per_vault();
        let principals: Vec<_> = (0..self.stores)
            .map(|vault| {
                json!({
                    "name": format!("syncer-{vault:02}"),
                    "clientId": Self::client_id(vault),
                    "clientSecrets": [Self::client_secret(vault)],
                })
            })
            .collect();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.as_secs() as i64 - 24 * 3600);
        let vaults: Vec<_> = (0..self.stores)
            .map(|vault| {
                let secrets: Vec<_> = (0..per_vault)
                    .map(|index| {
                        json!({
                            "name": Self::secret_name(index),
                            "value": Self::secret_value(vault, index),
                            "contentType": "text/plain",
                            // A vault's secrets predate the operator, as in a real cluster.
                            "created": created,
                        })
                    })
                    .collect();
                json!({
                    "name": self.vault_name(vault),
                    "tenant": TENANT,
                    "grants": [{"principal": Self::client_id(vault), "secrets": "read"}],
                    "secrets": secrets,
                })
            })
            .collect();
        json!({
            "tenants": [{"id": TENANT, "principals": principals}],
            "vaults": vaults,
        })
    }

    /// Credentials Secret data of vault `vault`: (name, [(key, value)]).
    pub fn credentials(&self, vault: usize) -> (String, Vec<(&'static str, String)>) {
        (
            Self::credentials_name(vault),
            vec![
                ("client-id", Self::client_id(vault)),
                ("client-secret", Self::client_secret(vault)),
            ],
        )
    }

    pub fn cluster_store(&self, vault: usize, vault_url: &str) -> ClusterSecretStore {
        let credentials = Self::credentials_name(vault);
        serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": self.store_name(vault)},
            "spec": {"provider": {"azurekv": {
                "vaultUrl": vault_url,
                "tenantId": TENANT,
                "authSecretRef": {
                    "clientId": {"name": credentials, "namespace": PLATFORM_NAMESPACE, "key": "client-id"},
                    "clientSecret": {"name": credentials, "namespace": PLATFORM_NAMESPACE, "key": "client-secret"},
                },
            }}},
        }))
        .expect("a valid ClusterSecretStore")
    }

    /// ExternalSecret `index`; `extra` more items than the scenario's (a changed spec).
    pub fn external_secret(&self, index: usize, extra: usize) -> ExternalSecret {
        let (namespace, vault) = self.placement(index);
        let data: Vec<_> = self
            .items_of(index, extra)
            .into_iter()
            .enumerate()
            .map(|(position, item)| {
                json!({"secretKey": format!("item-{position}"), "remoteRef": {"key": Self::secret_name(item)}})
            })
            .collect();
        let name = Self::external_secret_name(index);
        serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": self.namespace_name(namespace)},
            "spec": {
                "refreshInterval": format!("{}s", self.refresh.as_secs()),
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": self.store_name(vault)},
                "target": {"name": name, "creationPolicy": "Owner"},
                "data": data,
            },
        }))
        .expect("a valid ExternalSecret")
    }

    pub fn external_secret_name(index: usize) -> String {
        format!("es-{index:06}")
    }

    /// One line describing the scenario, for the report.
    pub fn describe(&self) -> String {
        let refresh = if self.refresh == self.nominal_refresh {
            format!("refresh {}s", self.refresh.as_secs())
        } else {
            format!(
                "refresh {}s (nominal {}s, scaled down so a cycle fits the run; each cycle still fetches every unique secret once)",
                self.refresh.as_secs(),
                self.nominal_refresh.as_secs()
            )
        };
        let sharing = if self.hot_secrets > 0 {
            format!(
                "item 0 from {} hot secrets per vault, other items round-robin",
                self.hot_secrets
            )
        } else {
            "items round-robin over the vault's secrets".to_owned()
        };
        format!(
            "{} ExternalSecrets over {} namespaces, {} vaults (one ClusterSecretStore each), {} unique secrets ({} referenced), {} items each ({}), {}, metrics {}",
            self.external_secrets,
            self.namespaces,
            self.stores,
            self.unique_secrets,
            self.referenced_secrets().len(),
            self.items,
            sharing,
            refresh,
            self.metrics_granularity
        )
    }
}
