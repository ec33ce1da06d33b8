//! The real kubectl, as the install tests drive it: render a kustomization, apply manifests.
//! A missing kubectl fails the test (scripts/test checks that it is installed).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use akvsync_emulators::kubeapi::{KubeConfig, KubeEmulator};
use tokio::io::AsyncWriteExt;

/// A fresh Kubernetes emulator and the path of its admin's kubeconfig.
pub async fn emulator() -> (KubeEmulator, PathBuf) {
    let emulator = KubeEmulator::start(KubeConfig::default())
        .await
        .expect("emulator starts");
    let admin = emulator
        .kubeconfig_path(emulator.admin_user())
        .expect("admin kubeconfig")
        .to_owned();
    (emulator, admin)
}

/// Bound on every kubectl run.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// `kubectl kustomize <directory of the repository>`, as YAML.
pub async fn kustomize(directory: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(directory);
    let output = run(&["kustomize".as_ref(), path.as_os_str()], None).await;
    assert!(
        output.status.success(),
        "kubectl kustomize {directory}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// `kubectl --kubeconfig <kubeconfig> apply --server-side -f -` with `extra` arguments,
/// `manifests` on stdin; fails the test unless kubectl succeeds. Returns kubectl's stdout.
pub async fn apply(kubeconfig: &Path, manifests: &str, extra: &[&str]) -> String {
    let mut args: Vec<&OsStr> = vec![
        "--kubeconfig".as_ref(),
        kubeconfig.as_os_str(),
        "apply".as_ref(),
        "--server-side".as_ref(),
        "-f".as_ref(),
        "-".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let output = run(&args, Some(manifests)).await;
    assert!(
        output.status.success(),
        "kubectl apply: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn run(args: &[&OsStr], stdin: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new("kubectl");
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("kubectl is not installed: install kubectl (scripts/test checks for it)")
        }
        Err(error) => panic!("running kubectl: {error}"),
    };
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes())
            .await
            .expect("stdin written");
        drop(pipe);
    }
    tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output())
        .await
        .expect("kubectl in time")
        .expect("kubectl output")
}
