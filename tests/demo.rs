//! The README's first command, `akvsync demo --exit-when-synced`, as a test.

use std::path::PathBuf;
use std::time::Duration;

use akvsync::demo::{DemoArgs, run};

#[test]
fn the_demo_syncs_every_example_external_secret() {
    let args = DemoArgs {
        exit_when_synced: true,
        timeout: Duration::from_secs(120),
        examples: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples"),
    };
    run(args).expect("the demo syncs every ExternalSecret");
}
