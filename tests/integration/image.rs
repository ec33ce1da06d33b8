//! The container image, built here as a user without a daemon would: `scripts/build-image` (Debian's
//! buildah, FROM scratch, nothing pulled) into an OCI archive, then opened and run.
//!
//! The image is built from the dev profile's binary: it reuses the dependencies the tests already
//! compiled (about a minute) where a release build would take a quarter of an hour on two cores.
//! The image's content does not depend on the profile: the same script lays out the same files.
//!
//! The test reads the archive's config and layer, then runs the entrypoint as uid 65532 on the
//! layer's files mounted read-only (`unshare --mount`, `chroot`): `--version`, `demo` (refused:
//! built without it), and `run` against the emulators, which syncs an ExternalSecret over TLS and
//! stops cleanly on SIGTERM. Mounting and chroot need root, as CI has.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use operator_world::{NAMESPACE, World};
use serde_json::Value;

use crate::operator_world;

/// Bound on the operator's start and stop.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The image's user, as the Deployment's `runAsUser`.
const USER: &str = "65532:65532";
const BINARY: &str = "usr/local/bin/akvsync";
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The path of `tool`, or a failure saying how to install it.
fn require(tool: &str, install: &str) -> PathBuf {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    found.unwrap_or_else(|| panic!("{tool} is missing: {install} (scripts/test installs it)"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The blob a descriptor points at, inside an unpacked OCI layout.
fn blob(layout: &Path, descriptor: &Value) -> PathBuf {
    let digest = descriptor["digest"].as_str().expect("a digest");
    let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
    layout.join("blobs").join(algorithm).join(hex)
}

/// An unpacked image: its config and its root filesystem.
struct Image {
    config: Value,
    /// Every regular file of the layers, with its tar listing line (mode, owner).
    files: BTreeMap<String, String>,
    /// Every other non-directory entry (symlinks, devices): an image of ours has none.
    others: Vec<String>,
    rootfs: PathBuf,
}

fn unpack(archive: &Path, into: &Path) -> Image {
    let layout = into.join("layout");
    let rootfs = into.join("rootfs");
    std::fs::create_dir_all(&layout).expect("layout dir");
    std::fs::create_dir_all(&rootfs).expect("rootfs dir");
    run(Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&layout));
    let index = read_json(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1, "one image in the archive: {index}");
    let manifest = read_json(&blob(&layout, &manifests[0]));
    let config = read_json(&blob(&layout, &manifest["config"]));
    let mut files = BTreeMap::new();
    let mut others = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let path = blob(&layout, layer);
        let listing = run(Command::new("tar")
            .arg("--numeric-owner")
            .arg("-tvf")
            .arg(&path));
        for line in String::from_utf8_lossy(&listing.stdout).lines() {
            let name = line
                .split_whitespace()
                .nth(5)
                .expect("a tar -tv line names its entry")
                .trim_start_matches("./")
                .to_owned();
            match line.chars().next() {
                Some('-') => {
                    files.insert(name, line.to_owned());
                }
                Some('d') => {}
                _ => others.push(line.to_owned()),
            }
        }
        run(Command::new("tar")
            .arg("--numeric-owner")
            .arg("-xpf")
            .arg(&path)
            .arg("-C")
            .arg(&rootfs));
    }
    Image {
        config,
        files,
        others,
        rootfs,
    }
}

/// The shared libraries `ldd` lists for `binary` (and the loader), as image paths.
fn libraries(binary: &Path) -> BTreeSet<String> {
    let output = run(Command::new("ldd").arg(binary));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [_, "=>", path, ..] if path.starts_with('/') => Some(path.to_string()),
                [path, ..] if path.starts_with('/') => Some(path.to_string()),
                _ => None,
            }
        })
        .map(|path| path.trim_start_matches('/').to_owned())
        .collect()
}

/// Mounts the root filesystem read-only in a private mount namespace (as
/// `readOnlyRootFilesystem: true`), with `$3` read-only at `/config` when not empty, and runs the
/// rest as uid 65532 in it with an empty environment.
const READ_ONLY_ROOT: &str = r#"root=$1 chroot=$2 config=$3; shift 3
mount --bind "$root" "$root" || exit 1
if [ -n "$config" ]; then
  mount --bind "$config" "$root/config" && mount -o remount,bind,ro "$root/config" || exit 1
fi
mount -o remount,bind,ro "$root" || exit 1
exec env -i "$chroot" --userspec=65532:65532 "$root" "$@""#;

/// The image's entrypoint with `args`, as the image's user, on its read-only root filesystem,
/// with `config` (a host directory) at `/config`.
fn entrypoint(image: &Image, config: Option<&Path>, args: &[&str]) -> Command {
    let entrypoint: Vec<&str> = image.config["config"]["Entrypoint"]
        .as_array()
        .expect("an entrypoint")
        .iter()
        .map(|part| part.as_str().expect("string"))
        .collect();
    if config.is_some() {
        std::fs::create_dir_all(image.rootfs.join("config")).expect("the /config mount point");
    }
    let mut command = Command::new(require("unshare", "apt-get install -y util-linux"));
    command
        .args(["--mount", "--", "sh", "-c", READ_ONLY_ROOT, "image"])
        .arg(&image.rootfs)
        .arg(require("chroot", "apt-get install -y coreutils"))
        .arg(config.map(Path::as_os_str).unwrap_or_default())
        .args(&entrypoint)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}

fn run_entrypoint(image: &Image, args: &[&str]) -> Output {
    entrypoint(image, None, args)
        .output()
        .expect("run the entrypoint")
}

/// The Containerfile's final stage: `USER`, `ENTRYPOINT`, `CMD` and `LABEL` values.
fn containerfile_final_stage() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repository().join("Containerfile")).expect("Containerfile");
    let joined = text.replace("\\\n", " ");
    let final_stage = joined
        .rsplit_once("\nFROM scratch")
        .expect("a FROM scratch final stage")
        .1;
    let mut found = BTreeMap::new();
    let label = regex::Regex::new(r#"([a-z.]+)="([^"]*)""#).expect("pattern");
    for line in final_stage.lines() {
        let Some((instruction, rest)) = line.trim().split_once(' ') else {
            continue;
        };
        match instruction {
            "USER" | "ENTRYPOINT" | "CMD" => {
                found.insert(instruction.to_owned(), rest.trim().to_owned());
            }
            "LABEL" => {
                for captures in label.captures_iter(rest) {
                    found.insert(captures[1].to_owned(), captures[2].to_owned());
                }
            }
            _ => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_holds_only_the_operator_its_libraries_and_ca_certificates_and_syncs_as_65532_on_a_read_only_root()
 {
    require("buildah", "apt-get install -y buildah");
    require("chroot", "apt-get install -y coreutils");
    require("ldd", "apt-get install -y libc-bin");
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "running the image's entrypoint as uid 65532 uses chroot, which needs root"
    );

    let work = tempfile::tempdir().expect("temp dir");
    let archive = work.path().join("akvsync.oci.tar");
    let started = Instant::now();
    run(Command::new(repository().join("scripts/build-image"))
        .arg("--profile")
        .arg("dev")
        .arg("--output")
        .arg(&archive));
    println!(
        "scripts/build-image --profile dev took {:?}",
        started.elapsed()
    );
    let image = unpack(&archive, work.path());

    // The config: non-root user, the operator as entrypoint, OCI labels, as the Containerfile says.
    let config = &image.config["config"];
    assert_eq!(config["User"], USER);
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/akvsync"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["run"]));
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        labels["org.opencontainers.image.licenses"],
        env!("CARGO_PKG_LICENSE")
    );
    assert!(
        labels["org.opencontainers.image.source"]
            .as_str()
            .is_some_and(|source| source.starts_with("https://")),
        "{labels}"
    );
    let text = std::fs::read_to_string(repository().join("Containerfile")).expect("Containerfile");
    assert!(
        text.contains(&format!("ARG VERSION={}\n", env!("CARGO_PKG_VERSION"))),
        "the Containerfile's VERSION default is the crate version"
    );
    for build_step in [
        "cargo build --release --locked --no-default-features --bin akvsync",
        "scripts/image-rootfs target/release/akvsync /rootfs",
    ] {
        assert!(
            text.contains(build_step),
            "the Containerfile runs {build_step}"
        );
    }
    let containerfile = containerfile_final_stage();
    assert_eq!(containerfile["USER"], USER, "Containerfile USER");
    assert_eq!(
        serde_json::from_str::<Value>(&containerfile["ENTRYPOINT"]).expect("JSON entrypoint"),
        config["Entrypoint"],
        "Containerfile ENTRYPOINT"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&containerfile["CMD"]).expect("JSON cmd"),
        config["Cmd"],
        "Containerfile CMD"
    );
    for (name, value) in &containerfile {
        if let Some(label) = name.strip_prefix("org.opencontainers.image.") {
            let expected = if label == "version" {
                env!("CARGO_PKG_VERSION")
            } else {
                value
            };
            assert_eq!(labels[name], expected, "label {name}");
        }
    }

    // The content: the binary, exactly its libraries, CA certificates, passwd and group. No shell.
    let binary = image.rootfs.join(BINARY);
    let mut expected: BTreeSet<String> = libraries(&binary);
    expected.extend([BINARY, CA_BUNDLE, "etc/passwd", "etc/group"].map(str::to_owned));
    let found: BTreeSet<String> = image.files.keys().cloned().collect();
    assert_eq!(found, expected, "the image's files");
    assert!(
        image.others.is_empty(),
        "links or devices: {:?}",
        image.others
    );
    for (name, line) in &image.files {
        let mut words = line.split_whitespace();
        let mode = words.next().expect("mode");
        assert_eq!(words.next(), Some("0/0"), "{name} is owned by root");
        assert_eq!(
            &mode[8..9],
            "-",
            "{name} must not be writable by the image's user"
        );
    }
    let passwd = std::fs::read_to_string(image.rootfs.join("etc/passwd")).expect("passwd");
    assert!(passwd.contains(":65532:65532:"), "{passwd}");

    // No emulator code: its panic locations would name its source files.
    let bytes = std::fs::read(&binary).expect("binary");
    let contains = |needle: &str| {
        bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    assert!(
        contains("src/operator.rs"),
        "the operator's own source paths are present"
    );
    assert!(
        !contains("emulators/src/"),
        "the image's binary links emulator code"
    );

    // It runs: as uid 65532, with nothing but the image's files.
    let version = run_entrypoint(&image, &["--version"]);
    assert!(
        version.status.success(),
        "{}",
        String::from_utf8_lossy(&version.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("akvsync {}", env!("CARGO_PKG_VERSION"))
    );
    let demo = run_entrypoint(&image, &["demo"]);
    assert!(!demo.status.success());
    let said = String::from_utf8_lossy(&demo.stderr);
    assert!(said.contains("built without the demo"), "{said}");

    // And it is the operator: `run` from the image, against the emulators over TLS (the image's
    // CA bundle plus the emulators' CA), syncs an ExternalSecret and serves its probes.
    let world = World::new().await;
    world.set_secret("shared", "from the vault");
    let config = work.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::copy(
        world
            .kube
            .kubeconfig_path("admin")
            .expect("admin kubeconfig"),
        config.join("kubeconfig"),
    )
    .expect("copy the kubeconfig");
    std::fs::write(config.join("azure-ca.pem"), world.azure.ca_pem()).expect("write the CA");
    let (metrics, health) = (free_address(), free_address());
    let authority_host = world.azure.authority_host();
    let log = std::fs::File::create(work.path().join("operator.log")).expect("log");
    let mut operator = tokio::process::Command::from(entrypoint(
        &image,
        Some(&config),
        &[
            "run",
            "--kubeconfig=/config/kubeconfig",
            "--extra-ca-file=/config/azure-ca.pem",
            &format!("--authority-host={authority_host}"),
            &format!("--metrics-addr={metrics}"),
            &format!("--health-addr={health}"),
            "--workers=1",
        ],
    ));
    let mut operator = operator
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("run the operator from the image");
    let operator_log =
        || std::fs::read_to_string(work.path().join("operator.log")).unwrap_or_default();
    let readyz = format!("http://{health}/readyz");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let ready = tokio::time::timeout(Duration::from_secs(5), reqwest::get(&readyz))
            .await
            .is_ok_and(|answer| answer.is_ok_and(|response| response.status().is_success()));
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline && operator.try_wait().expect("watch").is_none(),
            "the image's operator never became ready:\n{}",
            operator_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world.apply_external_secrets(1, "value", "shared").await;
    world
        .wait_for_value(NAMESPACE, "es-0", "value", "from the vault")
        .await;
    let scrape = async {
        reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics")
    };
    let text = tokio::time::timeout(TIMEOUT, scrape)
        .await
        .expect("scraped in time");
    assert!(text.contains("externalsecret_status_condition"), "{text}");

    // SIGTERM (the kubelet's stop) ends it cleanly.
    let pid = operator.id().expect("running").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = tokio::time::timeout(TIMEOUT, operator.wait())
        .await
        .expect("the operator stops on SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}: {}", operator_log());
}

fn free_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("port");
    listener.local_addr().expect("bound")
}
