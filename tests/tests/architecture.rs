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
    // XML canonicalization and signatures; certificate paths stay the trust crate's.
    ("kopir-xmlsec", &["kopir-core", "kopir-trust"]),
    ("kopir-proto", &["kopir-core"]),
    // Metrics know no subsystem: each registers its own collector.
    ("kopir-metrics", &["kopir-core"]),
    (
        "kopir-adapters",
        &["kopir-core", "kopir-trust", "kopir-xmlsec"],
    ),
    // The mocks share the vocabulary's records, never the adapters' code: each side's wire
    // handling is its own, so one cannot hide the other's mistake.
    (
        "kopir-mocks",
        &["kopir-core", "kopir-trust", "kopir-xmlsec", "kopir-proto"],
    ),
    (
        "kopir-gateway",
        &[
            "kopir-core",
            "kopir-resilience",
            "kopir-store",
            "kopir-trust",
            "kopir-proto",
            "kopir-metrics",
            "kopir-xmlsec",
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
            "kopir-xmlsec",
            "kopir-proto",
            "kopir-metrics",
            "kopir-adapters",
            "kopir-mocks",
            "kopir-gateway",
            "kopir",
        ],
    ),
];

/// Crates only the `kopir` binary (and tests) may use: the demo's mocks, the benchmark's
/// tools, the command line.
const BINARY_ONLY: &[&str] = &[
    "kopir-mocks",
    "plotters",
    "indicatif",
    "hdrhistogram",
    "clap",
    "mimalloc",
];

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
        "kopir-metrics",
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

/// Every `crate::<module>` a gateway source file names (test modules left out), by the top-level
/// module the file belongs to.
fn gateway_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway/src"));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let uses = graph.entry(top.clone()).or_default();
            for part in code.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn the_gateways_modules_import_each_other_one_way() {
    let graph = gateway_imports();
    assert!(graph.len() > 10, "read the gateway's modules: {graph:?}");
    // Depth-first search for a path back to the start, from every module.
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        for next in graph.get(from).into_iter().flatten() {
            if !graph.contains_key(next) {
                continue;
            }
            if next == to {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if reaches(graph, next, to, seen, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    for module in graph.keys() {
        let mut path = vec![module.clone()];
        let cycle = reaches(&graph, module, module, &mut BTreeSet::new(), &mut path);
        assert!(
            !cycle,
            "gateway modules import each other in a cycle: {}",
            path.join(" → ")
        );
    }
}
