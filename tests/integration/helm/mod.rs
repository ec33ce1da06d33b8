//! The real Helm, driven through `tests/integration/helm/chart.py` (PyPI's helm-python-sdk: Helm v4's Go
//! library, offline). scripts/test installs the package; a missing one fails the test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub const CHART: &str = "charts/akvsync";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `chart.py` with `args`: its JSON answer, or Helm's error.
pub fn run(args: &[&str]) -> Result<serde_json::Value, String> {
    let output = match Command::new("python3")
        .arg(repository().join("tests/integration/helm/chart.py"))
        .args(args)
        .current_dir(repository())
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!("python3 is needed to drive Helm (scripts/test installs it): {error}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "helm-python-sdk is missing (scripts/test installs it: pip install helm-python-sdk): {stderr}"
    );
    if !output.status.success() {
        return Err(stderr);
    }
    Ok(serde_json::from_slice(&output.stdout).expect("chart.py prints JSON"))
}

/// The chart rendered as `release` in `namespace` with `values` (a values file relative to the
/// repository, or inline JSON): every template's manifests in template order, as one YAML
/// stream (NOTES.txt left out).
pub fn render(release: &str, namespace: &str, values: Option<&str>) -> Result<String, String> {
    let mut args = vec!["render", CHART, release, namespace];
    args.extend(values);
    let rendered = run(&args)?;
    let mut templates: Vec<(&String, &serde_json::Value)> = rendered
        .as_object()
        .expect("templates")
        .iter()
        .filter(|(template, _)| !template.ends_with("NOTES.txt"))
        .collect();
    templates.sort_by_key(|(template, _)| *template);
    Ok(templates
        .into_iter()
        .map(|(template, text)| {
            format!(
                "---\n# Source: {template}\n{}\n",
                text.as_str().expect("manifest text")
            )
        })
        .collect())
}
