//! The journal: one append-only, hash-chained record per request and per response.
//!
//! Each record holds the SHA-256 of its own fields and of the record before it, so editing or
//! deleting any record breaks the chain at that point ([`verify`]). Bodies are kept per policy
//! and may be pruned later: the chain covers each body's digest, not the body, so it stays
//! verifiable after pruning. Two backends sit behind [`Store`]: SQLite (embedded default) and
//! PostgreSQL (several replicas writing one chain). The [`Journal`] handle batches appends from
//! every request into one transaction (group commit), so durability costs one fsync per batch.

pub mod chain;
pub mod config;
pub mod metrics;
pub mod postgres;
pub mod query;
pub mod retention;
pub mod sqlite;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use chain::{verify, Verified};
pub use query::{Param, Query};
pub use writer::Journal;

use config::JournalConfig;

/// Whether a record is the request as received or the response as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The request, written when it enters the journal stage.
    Request,
    /// The response (or refusal), written before the answer leaves.
    Response,
    /// A change the gateway made on its own after answering (a pledge contract's new status).
    Event,
}

impl Kind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Event => "event",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Result<Self, JournalError> {
        match s {
            "request" => Ok(Self::Request),
            "response" => Ok(Self::Response),
            "event" => Ok(Self::Event),
            other => Err(JournalError::Corrupt(format!(
                "unknown record kind {other:?}"
            ))),
        }
    }
}

/// What the gateway journals about one request or response (the chain adds seq and hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Request or response.
    pub kind: Kind,
    /// The request id.
    pub request_id: String,
    /// The business-process id.
    pub correlation_id: String,
    /// The calling organisation (`bin:<BIN>`, or `anonymous`).
    pub client: String,
    /// The person who signed the request, when one did (`iin:<IIN>`), else empty.
    pub actor: String,
    /// Full gRPC method name (service/method).
    pub method: String,
    /// The IIN or BIN the request is about, empty when none.
    pub subject: String,
    /// The purpose the requester stated.
    pub purpose: String,
    /// When the gateway received the request.
    pub started_at: DateTime<Utc>,
    /// When the response was sent (responses only).
    pub ended_at: Option<DateTime<Utc>>,
    /// gRPC status code of the answer (responses only; 0 is OK).
    pub outcome: Option<i32>,
    /// The registry that answered, empty when none did (cache hit, refusal, local service).
    pub registry: String,
    /// Time spent in the registry, microseconds.
    pub registry_us: Option<i64>,
    /// What else an auditor needs: the legal basis of access, or the refusal's message.
    pub note: String,
    /// SHA-256 (hex) of the payload: the request document or the response body.
    pub payload_digest: String,
    /// The payload itself, when the method's policy keeps it and it has not been pruned.
    pub body: Option<String>,
}

/// A change the gateway made on its own after answering (a contract's new status, a submitted
/// message delivered): what differs from one event to another.
#[derive(Debug, Clone)]
pub struct Event {
    /// The request id of the call the change belongs to.
    pub request_id: String,
    /// Its business-process id.
    pub correlation_id: String,
    /// The client it concerns (`bin:<BIN>`).
    pub client: String,
    /// The event's method name.
    pub method: String,
    /// What it is about (a contract number, a service id).
    pub subject: String,
    /// When the change began.
    pub started_at: DateTime<Utc>,
    /// What caused it, or the registry that answered.
    pub registry: String,
    /// What changed.
    pub note: String,
    /// SHA-256 (hex) of a payload it carried, empty when none.
    pub payload_digest: String,
}

impl From<Event> for Entry {
    fn from(e: Event) -> Self {
        Self {
            kind: Kind::Event,
            request_id: e.request_id,
            correlation_id: e.correlation_id,
            client: e.client,
            actor: String::new(),
            method: e.method,
            subject: e.subject,
            purpose: String::new(),
            started_at: e.started_at,
            ended_at: Some(Utc::now()),
            outcome: Some(0),
            registry: e.registry,
            registry_us: None,
            note: e.note,
            payload_digest: e.payload_digest,
            body: None,
        }
    }
}

impl Entry {
    /// A request record received now from `client` for `method` on `subject`, under
    /// `request_id`, its body `body` (kept) — the fields a caller sets first.
    pub fn request(
        request_id: &str,
        client: &str,
        method: &str,
        subject: &str,
        purpose: &str,
        body: &str,
    ) -> Self {
        Self {
            kind: Kind::Request,
            request_id: request_id.into(),
            correlation_id: request_id.into(),
            client: client.into(),
            actor: String::new(),
            method: method.into(),
            subject: subject.into(),
            purpose: purpose.into(),
            started_at: Utc::now(),
            ended_at: None,
            outcome: None,
            registry: String::new(),
            registry_us: None,
            note: String::new(),
            payload_digest: chain::digest(body.as_bytes()),
            body: Some(body.into()),
        }
    }

    /// The gRPC service part of the method name.
    pub fn service(&self) -> &str {
        self.method.split('/').next().unwrap_or("")
    }
}

/// A stored record: an entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the chain, from 1 with no gaps.
    pub seq: i64,
    /// What was journaled.
    #[serde(flatten)]
    pub entry: Entry,
    /// The hash of record `seq - 1` (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over this record's fields (body digest, not body) and `prev_hash`.
    pub hash: String,
}

/// How a person gave a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentWay {
    /// A one-time code confirmed through the portal.
    OneTimeCode,
    /// A document the person signed.
    Signature,
}

impl ConsentWay {
    /// The stored name: `one_time_code`, `signature`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneTimeCode => "one_time_code",
            Self::Signature => "signature",
        }
    }

    /// The way of a stored name.
    pub fn parse(s: &str) -> Result<Self, JournalError> {
        match s {
            "one_time_code" => Ok(Self::OneTimeCode),
            "signature" => Ok(Self::Signature),
            other => Err(JournalError::Corrupt(format!(
                "unknown consent way {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for ConsentWay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A consent of a data subject for a requester to read some of their data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// Id (UUID).
    pub id: String,
    /// The person whose data may be read (IIN).
    pub subject: String,
    /// Who may read it: `iin:<IIN>` or `bin:<BIN>`.
    pub grantee: String,
    /// What may be read (consent scopes, e.g. `person`, `address`).
    pub scope: Vec<String>,
    /// How it was given.
    pub way: ConsentWay,
    /// The portal's confirmation reference (one-time code session) or signature digest.
    pub reference: String,
    /// When it was given.
    pub granted_at: DateTime<Utc>,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
    /// When the subject withdrew it.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The journal's and the consent store's errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// The database cannot be reached or refused the operation.
    #[error("journal database: {0}")]
    Database(String),
    /// A stored value cannot be read back.
    #[error("journal record unreadable: {0}")]
    Corrupt(String),
    /// The writer task has stopped (gateway shutting down).
    #[error("journal writer stopped")]
    Closed,
    /// Bad configuration.
    #[error("journal configuration: {0}")]
    Config(String),
    /// A file (export) could not be written or read.
    #[error("journal file: {0}")]
    File(String),
    /// No journal where the configuration points (a reading command creates none).
    #[error("no journal at {0}")]
    Missing(String),
}

/// A journal backend: appends keep one linear chain even with several writers on one database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends `entries` in order in one transaction, chaining them after the current head;
    /// returns their sequence numbers once the transaction is durable.
    async fn append(&self, entries: Vec<Entry>) -> Result<Vec<i64>, JournalError>;
    /// Records matching `query`, in seq order (or newest first), at most `query.limit`.
    async fn search(&self, query: &Query) -> Result<Vec<Record>, JournalError>;
    /// Records with seq ≥ `from`, ascending, at most `limit` (for verification and export).
    async fn range(&self, from: i64, limit: usize) -> Result<Vec<Record>, JournalError>;
    /// Drops the bodies of records of methods matching `method` (exact, or `Service/*`) started
    /// before `before`; returns how many were pruned.
    async fn prune_bodies(&self, method: &str, before: DateTime<Utc>) -> Result<u64, JournalError>;
    /// Stores a consent.
    async fn put_consent(&self, consent: &ConsentRecord) -> Result<(), JournalError>;
    /// Consents of `subject` for `grantee`, revoked and lapsed ones included.
    async fn consents(
        &self,
        subject: &str,
        grantee: &str,
    ) -> Result<Vec<ConsentRecord>, JournalError>;
    /// Withdraws a consent of `subject`; false when there is no such consent in force.
    async fn revoke_consent(
        &self,
        id: &str,
        subject: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError>;
    /// The head as last appended (kept apart from the records, so a deleted tail shows).
    async fn recorded_head(&self) -> Result<Option<(i64, String)>, JournalError>;
    /// Whether the database answers now (one trivial statement), for readiness.
    async fn ping(&self) -> Result<(), JournalError>;
}

/// Opens the configured backend, creating its tables on first use.
pub async fn open(config: &JournalConfig) -> Result<Option<Arc<dyn Store>>, JournalError> {
    use self::config::JournalBackend;
    Ok(match config.backend {
        JournalBackend::Off => None,
        JournalBackend::Sqlite => Some(Arc::new(sqlite::SqliteStore::open(&config.path)?)),
        JournalBackend::Postgres => {
            let url = config.url.as_deref().ok_or_else(|| {
                JournalError::Config("journal.url is required for the postgres backend".into())
            })?;
            Some(Arc::new(
                postgres::PostgresStore::connect(url, &config.schema).await?,
            ))
        }
    })
}

/// Opens the configured backend to read what is there: a missing SQLite file or PostgreSQL schema
/// is [`JournalError::Missing`] naming it, never a new, empty journal.
pub async fn open_existing(config: &JournalConfig) -> Result<Option<Arc<dyn Store>>, JournalError> {
    use self::config::JournalBackend;
    match config.backend {
        JournalBackend::Sqlite if !config.path.exists() => Err(JournalError::Missing(format!(
            "{} (journal.path): no such file",
            config.path.display()
        ))),
        JournalBackend::Postgres => {
            let url = config.url.as_deref().ok_or_else(|| {
                JournalError::Config("journal.url is required for the postgres backend".into())
            })?;
            let store = postgres::PostgresStore::existing(url, &config.schema).await?;
            Ok(Some(Arc::new(store)))
        }
        _ => open(config).await,
    }
}

/// Microseconds since the epoch, as the databases store times.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The time of stored microseconds.
pub fn from_micros(us: i64) -> Result<DateTime<Utc>, JournalError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| JournalError::Corrupt(format!("time {us} out of range")))
}
