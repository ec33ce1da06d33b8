//! Prints the CRDs (the same text as `akvsync crds`), for regenerating
//! `crds/external-secrets.io.yaml` before the root CLI exists:
//! `cargo run -q -p akvsync-crds --example crdgen > crds/external-secrets.io.yaml`.

fn main() {
    print!("{}", akvsync_crds::crds_yaml());
}
