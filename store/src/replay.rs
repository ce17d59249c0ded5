//! Signed request documents taken once: each signer's nonce is remembered, in the durable store
//! (so across a restart), until the document's freshness window has passed; past it the
//! signature's age refuses the document anyway, so the row can go. On PostgreSQL (the journal's
//! database) every replica sharing it sees every other's nonces.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::params;
use tokio::sync::Mutex;

use crate::durable::{Durable, DurableError};
use crate::journal::to_micros;
use crate::postgres::{Connector, PostgresError, Slot};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS replay (
    signer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    until_at BIGINT NOT NULL,
    PRIMARY KEY (signer, nonce)
);
CREATE INDEX IF NOT EXISTS replay_until ON replay (until_at);
";

/// On PostgreSQL, lapsed rows are swept every this many uses (each use already ignores them).
const SWEEP_EVERY: u32 = 256;

/// The nonces seen; cheap to clone.
#[derive(Clone)]
pub struct Replay {
    backend: Arc<Backend>,
}

// Made once and kept behind an `Arc`: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(Durable),
    Postgres {
        connector: Connector,
        slot: Slot,
        uses: AtomicU32,
    },
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay").finish_non_exhaustive()
    }
}

impl From<PostgresError> for DurableError {
    fn from(e: PostgresError) -> Self {
        Self::Database(format!("replay store on PostgreSQL: {e}"))
    }
}

impl Replay {
    /// Over `db`, its table created if missing.
    pub async fn open(db: Durable) -> Result<Self, DurableError> {
        db.run(|conn| conn.execute_batch(SCHEMA)).await?;
        Ok(Self {
            backend: Arc::new(Backend::Sqlite(db)),
        })
    }

    /// In `schema` of the PostgreSQL database at `url` (the journal's), its table created if
    /// missing, so replicas sharing the database share what they have seen.
    pub async fn open_postgres(url: &str, schema: &str) -> Result<Self, DurableError> {
        let connector = Connector::new(url, schema)?;
        let client = connector.create(&[SCHEMA.to_string()]).await?;
        Ok(Self {
            backend: Arc::new(Backend::Postgres {
                connector,
                slot: Mutex::new(Some(client)),
                uses: AtomicU32::new(0),
            }),
        })
    }

    /// Records `signer`'s use of `nonce` at `now`, remembered until `until`: true the first
    /// time, false when it was used before and is still remembered. Durable before it answers.
    pub async fn first_use(
        &self,
        signer: String,
        nonce: String,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DurableError> {
        let (now, until) = (to_micros(now), to_micros(until));
        match self.backend.as_ref() {
            Backend::Sqlite(db) => {
                db.run(move |conn| {
                    conn.execute("DELETE FROM replay WHERE until_at < ?1", params![now])?;
                    let inserted = conn.execute(
                        "INSERT OR IGNORE INTO replay (signer, nonce, until_at) VALUES (?1, ?2, ?3)",
                        params![signer, nonce, until],
                    )?;
                    Ok(inserted == 1)
                })
                .await
            }
            Backend::Postgres {
                connector,
                slot,
                uses,
            } => {
                let guard = connector.client(slot).await?;
                let client = guard.as_ref().ok_or(DurableError::Stopped)?;
                if uses.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == 0 {
                    client
                        .execute("DELETE FROM replay WHERE until_at < $1", &[&now])
                        .await
                        .map_err(PostgresError::from)?;
                }
                // One statement, atomic against every other replica: a new row, or a lapsed
                // one taken over; a row still remembered is left alone and counts as a replay.
                let taken = client
                    .execute(
                        "INSERT INTO replay (signer, nonce, until_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (signer, nonce) DO UPDATE SET until_at = EXCLUDED.until_at \
                         WHERE replay.until_at < $4",
                        &[&signer, &nonce, &until, &now],
                    )
                    .await
                    .map_err(PostgresError::from)?;
                Ok(taken == 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_nonce_is_taken_once_per_signer_until_it_is_forgotten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("durable.db");
        let now = Utc::now();
        let until = now + chrono::Duration::minutes(10);
        let replay = Replay::open(Durable::open(&path, 8).expect("opens"))
            .await
            .expect("schema");
        let first = |signer: &str, nonce: &str, at| {
            replay.first_use(signer.into(), nonce.into(), at, until)
        };
        assert!(first("iin:1", "n-1", now).await.expect("stored"));
        assert!(!first("iin:1", "n-1", now).await.expect("read"), "a replay");
        assert!(
            first("iin:2", "n-1", now).await.expect("stored"),
            "another signer"
        );
        // Remembered across a restart: a new handle over the same file.
        let again = Replay::open(Durable::open(&path, 8).expect("reopens"))
            .await
            .expect("schema");
        assert!(!again
            .first_use("iin:2".into(), "n-1".into(), now, until)
            .await
            .expect("read"));
        // Past its window the row is dropped (the signature's age refuses the document then).
        let later = until + chrono::Duration::seconds(1);
        assert!(again
            .first_use(
                "iin:1".into(),
                "n-1".into(),
                later,
                later + chrono::Duration::minutes(10)
            )
            .await
            .expect("stored"));
    }
}
