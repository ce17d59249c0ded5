//! Signed request documents taken once: each signer's nonce is remembered, in the durable store
//! (so across a restart), until the document's freshness window has passed; past it the
//! signature's age refuses the document anyway, so the row can go.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::durable::{Durable, DurableError};
use crate::journal::to_micros;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS replay (
    signer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    until_at INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce)
);
CREATE INDEX IF NOT EXISTS replay_until ON replay (until_at);
";

/// The nonces seen; cheap to clone.
#[derive(Clone)]
pub struct Replay {
    db: Durable,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay").finish_non_exhaustive()
    }
}

impl Replay {
    /// Over `db`, its table created if missing.
    pub async fn open(db: Durable) -> Result<Self, DurableError> {
        db.run(|conn| conn.execute_batch(SCHEMA)).await?;
        Ok(Self { db })
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
        self.db
            .run(move |conn| {
                conn.execute("DELETE FROM replay WHERE until_at < ?1", params![now])?;
                let inserted = conn.execute(
                    "INSERT OR IGNORE INTO replay (signer, nonce, until_at) VALUES (?1, ?2, ?3)",
                    params![signer, nonce, until],
                )?;
                Ok(inserted == 1)
            })
            .await
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
