//! Rendered install manifests (kustomize or Helm) as the tests read them: YAML documents, the
//! operator's Deployment, and its container arguments parsed by the operator's own command line.
#![allow(dead_code)]

use akvsync::cli::{Cli, Command, RunArgs};
use clap::Parser as _;
use serde::Deserialize;
use serde_yaml::Value;

/// The non-empty documents of a YAML stream.
pub fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("YAML document"))
        .filter(|document| !document.is_null())
        .collect()
}

/// The spec of the one Deployment.
pub fn deployment(documents: &[Value]) -> &Value {
    let deployments: Vec<&Value> = documents
        .iter()
        .filter(|document| document["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 1, "one Deployment");
    &deployments[0]["spec"]
}

pub fn pod_spec(documents: &[Value]) -> &Value {
    &deployment(documents)["template"]["spec"]
}

/// The operator container's arguments, `$(POD_NAMESPACE)` expanded to `pod_namespace` as the
/// kubelet expands it.
pub fn container_args(documents: &[Value], pod_namespace: &str) -> Vec<String> {
    pod_spec(documents)["containers"][0]["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|arg| {
            arg.as_str()
                .expect("string arg")
                .replace("$(POD_NAMESPACE)", pod_namespace)
        })
        .collect()
}

/// `args` parsed as the container's command line: a flag the binary does not know fails here,
/// not in a pod.
pub fn run_args(args: Vec<String>) -> RunArgs {
    match Cli::try_parse_from(std::iter::once("akvsync".to_owned()).chain(args)) {
        Ok(Cli {
            command: Command::Run(run),
        }) => *run,
        Ok(other) => panic!("the container does not run `akvsync run`: {other:?}"),
        Err(error) => panic!("the rendered arguments do not parse: {error}"),
    }
}
