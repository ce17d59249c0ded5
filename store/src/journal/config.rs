//! The journal's section of the configuration (`[journal]`): where it is kept and what bodies it
//! keeps for how long.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Which journal backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalBackend {
    /// No journal (benchmarks only: requests are then answered without an audit record).
    Off,
    /// An SQLite file (embedded default).
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by several replicas.
    Postgres,
}

/// The journal's place and policies.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// Backend.
    pub backend: JournalBackend,
    /// The SQLite file.
    pub path: PathBuf,
    /// The PostgreSQL connection string (`postgres://user@host:port/db`).
    pub url: Option<String>,
    /// The PostgreSQL schema holding the journal and consent tables.
    pub schema: String,
    /// Most records appended in one transaction (group commit).
    pub batch_max: usize,
    /// How often expired bodies are pruned.
    pub prune_interval_s: u64,
    /// Body policy by method or `Service/*`; methods not listed keep no body.
    pub bodies: BTreeMap<String, BodyPolicy>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            backend: JournalBackend::Sqlite,
            path: PathBuf::from("kopir-journal.db"),
            url: None,
            schema: "kopir".into(),
            batch_max: 1024,
            prune_interval_s: 3600,
            bodies: BTreeMap::new(),
        }
    }
}

/// Whether a method's payloads are journaled, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyPolicy {
    /// Keep request and response bodies (digests are always kept).
    pub keep: bool,
    /// Prune bodies this long after the request ("30d", "12h"); kept for good when absent.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
}
