//! Seeds the emulated cluster for a run: CRDs, namespaces, stores and their credentials, then
//! the scenario's ExternalSecrets.

use akvsync_crds::{ClusterSecretStore, ExternalSecret};
use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use indicatif::ProgressBar;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::run::timed;
use crate::scenario::{PLATFORM_NAMESPACE, Scenario};

pub(crate) async fn seed_cluster(
    client: &kube::Client,
    scenario: &Scenario,
    vault_urls: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in akvsync_crds::all_crds() {
        timed("create CRD", crds.create(&PostParams::default(), &crd)).await?;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = std::iter::once(PLATFORM_NAMESPACE.to_owned())
        .chain((0..scenario.namespaces).map(|index| scenario.namespace_name(index)))
        .collect();
    futures::stream::iter(names)
        .map(|name| {
            let namespaces = namespaces.clone();
            async move {
                let namespace = Namespace {
                    metadata: ObjectMeta {
                        name: Some(name),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                };
                timed(
                    "create namespace",
                    namespaces.create(&PostParams::default(), &namespace),
                )
                .await
            }
        })
        .buffer_unordered(scenario.create_concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), PLATFORM_NAMESPACE);
    let stores: Api<ClusterSecretStore> = Api::all(client.clone());
    for vault in 0..scenario.stores {
        let (name, data) = scenario.credentials(vault);
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name),
                ..ObjectMeta::default()
            },
            data: Some(
                data.into_iter()
                    .map(|(key, value)| (key.to_owned(), ByteString(value.into_bytes())))
                    .collect(),
            ),
            ..Secret::default()
        };
        timed(
            "create credentials",
            secrets.create(&PostParams::default(), &secret),
        )
        .await?;
        let vault_name = scenario.vault_name(vault);
        let url = vault_urls
            .get(&vault_name)
            .with_context(|| format!("the emulator serves no vault {vault_name}"))?;
        timed(
            "create ClusterSecretStore",
            stores.create(&PostParams::default(), &scenario.cluster_store(vault, url)),
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn create_external_secrets(
    client: &kube::Client,
    scenario: &Scenario,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut stream = futures::stream::iter(0..scenario.external_secrets)
        .map(|index| {
            let es = scenario.external_secret(index, 0);
            let api: Api<ExternalSecret> = Api::namespaced(
                client.clone(),
                es.metadata.namespace.as_deref().unwrap_or_default(),
            );
            async move {
                timed(
                    "create ExternalSecret",
                    api.create(&PostParams::default(), &es),
                )
                .await
            }
        })
        .buffer_unordered(scenario.create_concurrency);
    let mut created = 0;
    while let Some(outcome) = stream.next().await {
        outcome?;
        created += 1;
        if created % 64 == 0 {
            bar.set_position(created);
        }
    }
    Ok(())
}
