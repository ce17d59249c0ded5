//! The PostgreSQL backend, for several gateway replicas writing one journal. Each append runs in
//! one transaction that first takes a transaction-scoped advisory lock, so concurrent writers
//! extend the chain one batch at a time and it stays linear; a batch is one multi-row insert.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::chain::{link, GENESIS};
use super::query::{
    method_filter, tables, Param, Query, COLUMNS, CONSENT_COLUMNS, HEAD, RECORDED_HEAD, SET_HEAD,
};
use super::{
    from_micros, to_micros, ConsentRecord, ConsentWay, Entry, JournalError, Kind, Record, Store,
};
use crate::postgres::{Connector, PostgresError, Slot};

/// The advisory lock key of the journal's head ("kopir" in ASCII).
const HEAD_LOCK: i64 = 0x6b6f706972;

/// The PostgreSQL journal: a writer connection and a reader connection, reconnected on loss.
pub struct PostgresStore {
    connector: Connector,
    writer: Slot,
    reader: Slot,
}

/// `url` without its password, for a message.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_string(),
        },
        None => "the configured database".into(),
    }
}

fn db(e: tokio_postgres::Error) -> JournalError {
    JournalError::Database(e.to_string())
}

impl From<PostgresError> for JournalError {
    fn from(e: PostgresError) -> Self {
        match e {
            PostgresError::Schema(_) => Self::Config(e.to_string()),
            PostgresError::Connect(_) | PostgresError::Database(_) => Self::Database(e.to_string()),
        }
    }
}

impl PostgresStore {
    /// Connects to `url`, creating `schema` and the tables on first use.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, JournalError> {
        let connector = Connector::new(url, schema)?;
        let client = connector.create(&tables("BIGINT")).await?;
        Ok(Self {
            connector,
            writer: Mutex::new(Some(client)),
            reader: Mutex::new(None),
        })
    }

    /// Connects to `url` to read the journal in `schema`, which must exist already.
    pub async fn existing(url: &str, schema: &str) -> Result<Self, JournalError> {
        let connector = Connector::new(url, schema)?;
        let client = connector.open_bare().await?;
        let found = client
            .query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'journal'",
                &[&schema],
            )
            .await
            .map_err(db)?;
        if found.is_none() {
            return Err(JournalError::Missing(format!(
                "schema {schema:?} (journal.schema) of {}: it holds no journal table",
                redacted(url)
            )));
        }
        // The tables added since (the recorded head) are created as on start.
        Self::connect(url, schema).await
    }

    /// The connection in `slot`, opened again if it was lost.
    async fn client<'a>(
        &self,
        slot: &'a Slot,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<Client>>, JournalError> {
        Ok(self.connector.client(slot).await?)
    }

    async fn query(&self, sql: &str, params: &[Param]) -> Result<Vec<Row>, JournalError> {
        let values: Vec<Box<dyn ToSql + Sync + Send>> = params
            .iter()
            .map(|p| match p {
                Param::Text(s) => Box::new(s.clone()) as Box<dyn ToSql + Sync + Send>,
                Param::Int(i) => Box::new(*i) as Box<dyn ToSql + Sync + Send>,
                Param::Int32(i) => Box::new(*i) as Box<dyn ToSql + Sync + Send>,
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let guard = self.client(&self.reader).await?;
        let client = guard.as_ref().ok_or(JournalError::Closed)?;
        client.query(sql, &refs).await.map_err(db)
    }
}

fn read_record(row: &Row) -> Result<Record, JournalError> {
    let get = |e: tokio_postgres::Error| JournalError::Corrupt(e.to_string());
    let kind: String = row.try_get(1).map_err(get)?;
    let ended: Option<i64> = row.try_get(10).map_err(get)?;
    Ok(Record {
        seq: row.try_get(0).map_err(get)?,
        entry: Entry {
            kind: Kind::parse(&kind)?,
            request_id: row.try_get(2).map_err(get)?,
            correlation_id: row.try_get(3).map_err(get)?,
            client: row.try_get(4).map_err(get)?,
            actor: row.try_get(5).map_err(get)?,
            method: row.try_get(6).map_err(get)?,
            subject: row.try_get(7).map_err(get)?,
            purpose: row.try_get(8).map_err(get)?,
            started_at: from_micros(row.try_get(9).map_err(get)?)?,
            ended_at: ended.map(from_micros).transpose()?,
            outcome: row.try_get(11).map_err(get)?,
            registry: row.try_get(12).map_err(get)?,
            registry_us: row.try_get(13).map_err(get)?,
            note: row.try_get(14).map_err(get)?,
            payload_digest: row.try_get(15).map_err(get)?,
            body: row.try_get(16).map_err(get)?,
        },
        prev_hash: row.try_get(17).map_err(get)?,
        hash: row.try_get(18).map_err(get)?,
    })
}

fn read_consent(row: &Row) -> Result<ConsentRecord, JournalError> {
    let get = |e: tokio_postgres::Error| JournalError::Corrupt(e.to_string());
    let scope: String = row.try_get(3).map_err(get)?;
    let revoked: Option<i64> = row.try_get(8).map_err(get)?;
    Ok(ConsentRecord {
        id: row.try_get(0).map_err(get)?,
        subject: row.try_get(1).map_err(get)?,
        grantee: row.try_get(2).map_err(get)?,
        scope: scope
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        way: ConsentWay::parse(row.try_get(4).map_err(get)?)?,
        reference: row.try_get(5).map_err(get)?,
        granted_at: from_micros(row.try_get(6).map_err(get)?)?,
        expires_at: from_micros(row.try_get(7).map_err(get)?)?,
        revoked_at: revoked.map(from_micros).transpose()?,
    })
}

/// The records of a batch as one array per column, for a single `INSERT … SELECT unnest(…)`.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    kind: Vec<&'static str>,
    request_id: Vec<String>,
    correlation_id: Vec<String>,
    client: Vec<String>,
    actor: Vec<String>,
    method: Vec<String>,
    subject: Vec<String>,
    purpose: Vec<String>,
    started_at: Vec<i64>,
    ended_at: Vec<Option<i64>>,
    outcome: Vec<Option<i32>>,
    registry: Vec<String>,
    registry_us: Vec<Option<i64>>,
    note: Vec<String>,
    payload_digest: Vec<String>,
    body: Vec<Option<String>>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl Columns {
    fn of(records: Vec<Record>) -> Self {
        let mut c = Self::default();
        for r in records {
            let e = r.entry;
            c.seq.push(r.seq);
            c.kind.push(e.kind.as_str());
            c.request_id.push(e.request_id);
            c.correlation_id.push(e.correlation_id);
            c.client.push(e.client);
            c.actor.push(e.actor);
            c.method.push(e.method);
            c.subject.push(e.subject);
            c.purpose.push(e.purpose);
            c.started_at.push(to_micros(e.started_at));
            c.ended_at.push(e.ended_at.map(to_micros));
            c.outcome.push(e.outcome);
            c.registry.push(e.registry);
            c.registry_us.push(e.registry_us);
            c.note.push(e.note);
            c.payload_digest.push(e.payload_digest);
            c.body.push(e.body);
            c.prev_hash.push(r.prev_hash);
            c.hash.push(r.hash);
        }
        c
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, entries: Vec<Entry>) -> Result<Vec<i64>, JournalError> {
        let mut guard = self.client(&self.writer).await?;
        let client = guard.as_mut().ok_or(JournalError::Closed)?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&HEAD_LOCK])
            .await
            .map_err(db)?;
        let head = tx.query_opt(HEAD, &[]).await.map_err(db)?;
        let (seq, hash): (i64, String) = match head {
            Some(row) => (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?),
            None => (0, GENESIS.to_string()),
        };
        let records = link(seq, &hash, entries);
        let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
        let c = Columns::of(records);
        tx.execute(
            &format!(
                "INSERT INTO journal ({COLUMNS}) SELECT * FROM unnest(\
                 $1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::int[], \
                 $13::text[], $14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[], \
                 $19::text[])"
            ),
            &[
                &c.seq,
                &c.kind,
                &c.request_id,
                &c.correlation_id,
                &c.client,
                &c.actor,
                &c.method,
                &c.subject,
                &c.purpose,
                &c.started_at,
                &c.ended_at,
                &c.outcome,
                &c.registry,
                &c.registry_us,
                &c.note,
                &c.payload_digest,
                &c.body,
                &c.prev_hash,
                &c.hash,
            ],
        )
        .await
        .map_err(db)?;
        if let (Some(seq), Some(hash)) = (seqs.last(), c.hash.last()) {
            tx.execute(SET_HEAD, &[seq as &(dyn ToSql + Sync), hash])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(seqs)
    }

    async fn search(&self, query: &Query) -> Result<Vec<Record>, JournalError> {
        let (sql, params) = query.to_sql();
        self.query(&sql, &params)
            .await?
            .iter()
            .map(read_record)
            .collect()
    }

    async fn recorded_head(&self) -> Result<Option<(i64, String)>, JournalError> {
        let rows = self.query(RECORDED_HEAD, &[]).await?;
        rows.first()
            .map(|row| {
                let get = |e: tokio_postgres::Error| JournalError::Corrupt(e.to_string());
                Ok((row.try_get(0).map_err(get)?, row.try_get(1).map_err(get)?))
            })
            .transpose()
    }

    async fn ping(&self) -> Result<(), JournalError> {
        // The writer's connection: the one every answer's records wait on.
        let guard = self.client(&self.writer).await?;
        let client = guard.as_ref().ok_or(JournalError::Closed)?;
        client.simple_query("SELECT 1").await.map_err(db)?;
        Ok(())
    }

    async fn range(&self, from: i64, limit: usize) -> Result<Vec<Record>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM journal WHERE seq >= $1 ORDER BY seq LIMIT $2");
        self.query(&sql, &[Param::Int(from), Param::Int(limit as i64)])
            .await?
            .iter()
            .map(read_record)
            .collect()
    }

    async fn prune_bodies(&self, method: &str, before: DateTime<Utc>) -> Result<u64, JournalError> {
        let (like, value) = method_filter(method);
        let op = if like { "LIKE" } else { "=" };
        let guard = self.client(&self.writer).await?;
        let client = guard.as_ref().ok_or(JournalError::Closed)?;
        client
            .execute(
                &format!(
                    "UPDATE journal SET body = NULL \
                     WHERE body IS NOT NULL AND method {op} $1 AND started_at < $2"
                ),
                &[&value, &to_micros(before)],
            )
            .await
            .map_err(db)
    }

    async fn put_consent(&self, c: &ConsentRecord) -> Result<(), JournalError> {
        let guard = self.client(&self.writer).await?;
        let client = guard.as_ref().ok_or(JournalError::Closed)?;
        client
            .execute(
                &format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                ),
                &[
                    &c.id,
                    &c.subject,
                    &c.grantee,
                    &c.scope.join(","),
                    &c.way.as_str(),
                    &c.reference,
                    &to_micros(c.granted_at),
                    &to_micros(c.expires_at),
                    &c.revoked_at.map(to_micros),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn consents(
        &self,
        subject: &str,
        grantee: &str,
    ) -> Result<Vec<ConsentRecord>, JournalError> {
        let sql =
            format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = $1 AND grantee = $2");
        self.query(
            &sql,
            &[Param::Text(subject.into()), Param::Text(grantee.into())],
        )
        .await?
        .iter()
        .map(read_consent)
        .collect()
    }

    async fn revoke_consent(
        &self,
        id: &str,
        subject: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let guard = self.client(&self.writer).await?;
        let client = guard.as_ref().ok_or(JournalError::Closed)?;
        let n = client
            .execute(
                "UPDATE consents SET revoked_at = $1 \
                 WHERE id = $2 AND subject = $3 AND revoked_at IS NULL",
                &[&to_micros(at), &id, &subject],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }
}
