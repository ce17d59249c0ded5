//! The generic channel's asynchronous messages: stored with the pledge outbox in the gateway's
//! durable store before Submit answers, delivered by the hub's worker, their replies kept until
//! the client acknowledges them. A reply's cursor is its position in the order replies arrived.

use chrono::{DateTime, Utc};
use kopir_adapters::channel::Incoming;
use rusqlite::{params, OptionalExtension};

use kopir_store::durable::Durable;
use kopir_store::durable::DurableError;
use kopir_store::journal::{from_micros, to_micros};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS channel_messages (
    client TEXT NOT NULL,
    message_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    reply TEXT,
    cursor INTEGER UNIQUE,
    replied_at INTEGER,
    acked_at INTEGER,
    PRIMARY KEY (client, message_id)
);
CREATE INDEX IF NOT EXISTS channel_due ON channel_messages (due_at) WHERE reply IS NULL;
CREATE INDEX IF NOT EXISTS channel_unacked ON channel_messages (client, cursor) WHERE acked_at IS NULL;
";

/// A message as submitted.
#[derive(Debug, Clone)]
pub struct Message {
    /// The calling client (`bin:<BIN>`).
    pub client: String,
    /// The sender's message id.
    pub message_id: String,
    /// The routed service.
    pub service_id: String,
    /// The business-process id.
    pub correlation_id: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Its media type.
    pub content_type: String,
}

/// A stored reply.
#[derive(Debug, Clone)]
pub struct StoredReply {
    /// The message it answers.
    pub message: Message,
    /// The service's reply.
    pub incoming: Incoming,
    /// Its position in the client's reply stream.
    pub cursor: u64,
    /// When it arrived.
    pub replied_at: DateTime<Utc>,
}

/// The channel's store; cheap to clone.
#[derive(Clone)]
pub struct ChannelStore {
    db: Durable,
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn message(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        client: row.get(0)?,
        message_id: row.get(1)?,
        service_id: row.get(2)?,
        correlation_id: row.get(3)?,
        payload: row.get(4)?,
        content_type: row.get(5)?,
    })
}

const MESSAGE_COLUMNS: &str =
    "client, message_id, service_id, correlation_id, payload, content_type";

impl ChannelStore {
    /// The store over `db` (its table created when missing).
    pub async fn open(db: Durable) -> Result<Self, DurableError> {
        db.run(|conn| conn.execute_batch(SCHEMA)).await?;
        Ok(Self { db })
    }

    /// Stores a message; for a message id the client used before, the first acceptance time and
    /// `true`.
    pub async fn submit(&self, m: Message) -> Result<(DateTime<Utc>, bool), DurableError> {
        self.db
            .run(move |conn| {
                let before: Option<i64> = conn
                    .query_row(
                        "SELECT accepted_at FROM channel_messages WHERE client = ?1 AND message_id = ?2",
                        params![m.client, m.message_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(at) = before {
                    return Ok((from_micros(at).map_err(conversion)?, true));
                }
                let now = Utc::now();
                conn.prepare_cached(&format!(
                    "INSERT INTO channel_messages ({MESSAGE_COLUMNS}, accepted_at, due_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
                ))?
                .execute(params![
                    m.client,
                    m.message_id,
                    m.service_id,
                    m.correlation_id,
                    m.payload,
                    m.content_type,
                    to_micros(now)
                ])?;
                Ok((now, false))
            })
            .await
    }

    /// Messages due for delivery at `now`.
    pub async fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Message, u32)>, DurableError> {
        self.db
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS}, attempts FROM channel_messages
                     WHERE reply IS NULL AND due_at <= ?1 ORDER BY due_at LIMIT ?2"
                ))?;
                let rows = stmt.query_map(
                    params![to_micros(now), i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| Ok((message(r)?, r.get(6)?)),
                )?;
                rows.collect()
            })
            .await
    }

    /// Keeps a message's reply; its cursor.
    pub async fn reply(
        &self,
        client: &str,
        message_id: &str,
        incoming: Incoming,
    ) -> Result<u64, DurableError> {
        let (client, message_id) = (client.to_string(), message_id.to_string());
        self.db
            .run(move |conn| {
                let reply = serde_json::to_string(&incoming).map_err(conversion)?;
                let cursor: i64 = conn.query_row(
                    "SELECT coalesce(max(cursor), 0) + 1 FROM channel_messages",
                    [],
                    |r| r.get(0),
                )?;
                conn.prepare_cached(
                    "UPDATE channel_messages SET reply = ?3, cursor = ?4, replied_at = ?5
                     WHERE client = ?1 AND message_id = ?2 AND reply IS NULL",
                )?
                .execute(params![
                    client,
                    message_id,
                    reply,
                    cursor,
                    to_micros(Utc::now())
                ])?;
                Ok(u64::try_from(cursor).unwrap_or(0))
            })
            .await
    }

    /// Puts a failed delivery off until `next`.
    pub async fn retry_later(
        &self,
        client: &str,
        message_id: &str,
        next: DateTime<Utc>,
        error: String,
    ) -> Result<(), DurableError> {
        let (client, message_id) = (client.to_string(), message_id.to_string());
        self.db
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE channel_messages SET due_at = ?3, attempts = attempts + 1, last_error = ?4
                     WHERE client = ?1 AND message_id = ?2",
                )?
                .execute(params![client, message_id, to_micros(next), error])?;
                Ok(())
            })
            .await
    }

    /// The client's unacknowledged replies after `cursor`, in cursor order.
    pub async fn replies(
        &self,
        client: &str,
        cursor: u64,
        limit: usize,
    ) -> Result<Vec<StoredReply>, DurableError> {
        let client = client.to_string();
        self.db
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS}, reply, cursor, replied_at FROM channel_messages
                     WHERE client = ?1 AND acked_at IS NULL AND cursor > ?2
                     ORDER BY cursor LIMIT ?3"
                ))?;
                let rows = stmt.query_map(
                    params![
                        client,
                        i64::try_from(cursor).unwrap_or(i64::MAX),
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |r| {
                        let reply: String = r.get(6)?;
                        let cursor: i64 = r.get(7)?;
                        Ok(StoredReply {
                            message: message(r)?,
                            incoming: serde_json::from_str(&reply).map_err(conversion)?,
                            cursor: u64::try_from(cursor).unwrap_or(0),
                            replied_at: from_micros(r.get(8)?).map_err(conversion)?,
                        })
                    },
                )?;
                rows.collect()
            })
            .await
    }

    /// Acknowledges the client's replies to `message_ids`; how many were unacknowledged replies.
    pub async fn ack(&self, client: &str, message_ids: Vec<String>) -> Result<u32, DurableError> {
        let client = client.to_string();
        self.db
            .run(move |conn| {
                let now = to_micros(Utc::now());
                let mut stmt = conn.prepare_cached(
                    "UPDATE channel_messages SET acked_at = ?3
                     WHERE client = ?1 AND message_id = ?2 AND reply IS NOT NULL AND acked_at IS NULL",
                )?;
                let mut n = 0u32;
                for id in &message_ids {
                    n += u32::try_from(stmt.execute(params![client, id, now])?).unwrap_or(0);
                }
                Ok(n)
            })
            .await
    }
}
