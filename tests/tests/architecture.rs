//! The workspace's one dependency direction, checked over `cargo metadata`: a crate may use only
//! the crates below it (docs/ARCHITECTURE.md draws the same picture), and the gateway library
//! carries none of the binary's tools.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each workspace crate and the workspace crates it may depend on (normal and build
/// dependencies; dev-dependencies are tests').
const ALLOWED: &[(&str, &[&str])] = &[
    ("kopir-core", &[]),
    ("kopir-resilience", &["kopir-core"]),
    ("kopir-store", &["kopir-core"]),
    ("kopir-trust", &["kopir-core"]),
    ("kopir-proto", &["kopir-core"]),
    ("kopir-adapters", &["kopir-core", "kopir-trust"]),
    // The mocks share the vocabulary's records, never the adapters' code: each side's wire
    // handling is its own, so one cannot hide the other's mistake.
    ("kopir-mocks", &["kopir-core", "kopir-trust", "kopir-proto"]),
    (
        "kopir-gateway",
        &[
            "kopir-core",
            "kopir-resilience",
            "kopir-store",
            "kopir-trust",
            "kopir-proto",
            "kopir-adapters",
        ],
    ),
    (
        "kopir",
        &[
            "kopir-core",
            "kopir-trust",
            "kopir-store",
            "kopir-adapters",
            "kopir-gateway",
            "kopir-mocks",
        ],
    ),
    (
        "kopir-tests",
        &[
            "kopir-core",
            "kopir-resilience",
            "kopir-store",
            "kopir-trust",
            "kopir-proto",
            "kopir-adapters",
            "kopir-mocks",
            "kopir-gateway",
            "kopir",
        ],
    ),
];

/// Crates only the `kopir` binary (and tests) may use: the demo's mocks, the benchmark's
/// tools, the command line.
const BINARY_ONLY: &[&str] = &["kopir-mocks", "plotters", "indicatif", "clap", "mimalloc"];

fn metadata() -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace package's non-dev dependencies by name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let meta = metadata();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().expect("name").to_string())
                .collect();
            (p["name"].as_str().expect("name").to_string(), deps)
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_crates_below_it() {
    let deps = dependencies();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let workspace: BTreeSet<&str> = allowed.keys().copied().collect();
    for name in deps.keys() {
        assert!(
            workspace.contains(name.as_str()),
            "{name} is a workspace crate the direction table does not place: add it to ALLOWED \
             and to docs/ARCHITECTURE.md"
        );
    }
    for (name, uses) in &deps {
        let may = allowed[name.as_str()];
        for d in uses.iter().filter(|d| workspace.contains(d.as_str())) {
            assert!(
                may.contains(&d.as_str()),
                "{name} depends on {d}, which is not below it (allowed: {may:?})"
            );
        }
    }
}

#[test]
fn the_gateway_library_carries_none_of_the_binarys_tools() {
    let deps = dependencies();
    for lib in [
        "kopir-gateway",
        "kopir-core",
        "kopir-resilience",
        "kopir-store",
        "kopir-trust",
        "kopir-adapters",
    ] {
        for tool in BINARY_ONLY {
            assert!(
                !deps[lib].contains(*tool),
                "{lib} depends on {tool}, which only the kopir binary may use"
            );
        }
    }
}

#[test]
fn the_vocabulary_does_no_io() {
    let deps = dependencies();
    for io in [
        "tokio",
        "reqwest",
        "rusqlite",
        "tokio-postgres",
        "tonic",
        "axum",
    ] {
        assert!(
            !deps["kopir-core"].contains(io),
            "kopir-core depends on {io}; the vocabulary crate does no I/O"
        );
    }
}
