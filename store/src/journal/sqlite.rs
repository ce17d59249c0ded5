//! The embedded SQLite backend: one file, WAL mode, full fsync at each commit. Appends take the
//! write lock first (`BEGIN IMMEDIATE`), so writers in other processes on the same file still
//! extend one chain.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row, ToSql};

use super::chain::{link, GENESIS};
use super::query::{
    method_filter, tables, Param, Query, COLUMNS, CONSENT_COLUMNS, HEAD, RECORDED_HEAD, SET_HEAD,
};
use super::{
    from_micros, to_micros, ConsentRecord, ConsentWay, Entry, JournalError, Kind, Record, Store,
};

/// The SQLite journal: a writer connection and a reader connection.
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

fn db(e: rusqlite::Error) -> JournalError {
    JournalError::Database(e.to_string())
}

fn connect(path: &Path) -> Result<Connection, JournalError> {
    let conn = Connection::open(path)
        .map_err(|e| JournalError::Database(format!("{}: {e}", path.display())))?;
    // WAL lets readers run beside the writer; synchronous=FULL makes each commit durable.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;",
    )
    .map_err(db)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating on first use) the journal file at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| JournalError::Database(format!("{}: {e}", dir.display())))?;
        }
        let writer = connect(path)?;
        for statement in tables("INTEGER") {
            writer.execute(&statement, []).map_err(db)?;
        }
        let reader = connect(path)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `f` on a connection off the async threads.
    async fn with<T, F>(conn: &Arc<Mutex<Connection>>, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, JournalError> + Send + 'static,
    {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| JournalError::Database("connection lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| JournalError::Database(format!("journal task: {e}")))?
    }
}

fn to_sql(params: &[Param]) -> Vec<Box<dyn ToSql>> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => Box::new(s.clone()) as Box<dyn ToSql>,
            Param::Int(i) => Box::new(*i) as Box<dyn ToSql>,
            Param::Int32(i) => Box::new(*i) as Box<dyn ToSql>,
        })
        .collect()
}

fn time(row: &Row<'_>, i: usize) -> rusqlite::Result<Result<DateTime<Utc>, JournalError>> {
    Ok(from_micros(row.get(i)?))
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<Result<Record, JournalError>> {
    let kind: String = row.get(1)?;
    let started = time(row, 9)?;
    let ended: Option<i64> = row.get(10)?;
    Ok((|| {
        Ok(Record {
            seq: row.get(0).map_err(db)?,
            entry: Entry {
                kind: Kind::parse(&kind)?,
                request_id: row.get(2).map_err(db)?,
                correlation_id: row.get(3).map_err(db)?,
                client: row.get(4).map_err(db)?,
                actor: row.get(5).map_err(db)?,
                method: row.get(6).map_err(db)?,
                subject: row.get(7).map_err(db)?,
                purpose: row.get(8).map_err(db)?,
                started_at: started?,
                ended_at: ended.map(from_micros).transpose()?,
                outcome: row.get(11).map_err(db)?,
                registry: row.get(12).map_err(db)?,
                registry_us: row.get(13).map_err(db)?,
                note: row.get(14).map_err(db)?,
                payload_digest: row.get(15).map_err(db)?,
                body: row.get(16).map_err(db)?,
            },
            prev_hash: row.get(17).map_err(db)?,
            hash: row.get(18).map_err(db)?,
        })
    })())
}

fn read_consent(row: &Row<'_>) -> rusqlite::Result<Result<ConsentRecord, JournalError>> {
    let scope: String = row.get(3)?;
    let (granted, expires, revoked): (i64, i64, Option<i64>) =
        (row.get(6)?, row.get(7)?, row.get(8)?);
    let (id, subject, grantee, way, reference): (String, String, String, String, String) = (
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(4)?,
        row.get(5)?,
    );
    Ok((|| {
        Ok(ConsentRecord {
            id,
            subject,
            grantee,
            scope: scope
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            way: ConsentWay::parse(&way)?,
            reference,
            granted_at: from_micros(granted)?,
            expires_at: from_micros(expires)?,
            revoked_at: revoked.map(from_micros).transpose()?,
        })
    })())
}

fn collect<T>(
    rows: impl Iterator<Item = rusqlite::Result<Result<T, JournalError>>>,
) -> Result<Vec<T>, JournalError> {
    rows.map(|r| r.map_err(db).and_then(|x| x)).collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, entries: Vec<Entry>) -> Result<Vec<i64>, JournalError> {
        Self::with(&self.writer, move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let head: Option<(i64, String)> = tx
                .query_row(HEAD, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)?;
            let (seq, hash) = head.unwrap_or((0, GENESIS.to_string()));
            let records = link(seq, &hash, entries);
            {
                let mut insert = tx
                    .prepare_cached(&format!(
                        "INSERT INTO journal ({COLUMNS}) VALUES \
                         (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"
                    ))
                    .map_err(db)?;
                for r in &records {
                    let e = &r.entry;
                    insert
                        .execute(rusqlite::params![
                            r.seq,
                            e.kind.as_str(),
                            e.request_id,
                            e.correlation_id,
                            e.client,
                            e.actor,
                            e.method,
                            e.subject,
                            e.purpose,
                            to_micros(e.started_at),
                            e.ended_at.map(to_micros),
                            e.outcome,
                            e.registry,
                            e.registry_us,
                            e.note,
                            e.payload_digest,
                            e.body,
                            r.prev_hash,
                            r.hash,
                        ])
                        .map_err(db)?;
                }
            }
            if let Some(last) = records.last() {
                tx.execute(SET_HEAD, rusqlite::params![last.seq, last.hash])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(records.iter().map(|r| r.seq).collect())
        })
        .await
    }

    async fn search(&self, query: &Query) -> Result<Vec<Record>, JournalError> {
        let (sql, params) = query.to_sql();
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(params_from_iter(to_sql(&params)), read_record)
                .map_err(db)?;
            collect(rows)
        })
        .await
    }

    async fn recorded_head(&self) -> Result<Option<(i64, String)>, JournalError> {
        Self::with(&self.reader, |conn| {
            conn.query_row(RECORDED_HEAD, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)
        })
        .await
    }

    async fn ping(&self) -> Result<(), JournalError> {
        Self::with(&self.writer, |conn| {
            conn.query_row("SELECT count(*) FROM journal WHERE seq < 0", [], |_| Ok(()))
                .map_err(db)
        })
        .await
    }

    async fn range(&self, from: i64, limit: usize) -> Result<Vec<Record>, JournalError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(db)?;
            let rows = stmt
                .query_map(rusqlite::params![from, limit as i64], read_record)
                .map_err(db)?;
            collect(rows)
        })
        .await
    }

    async fn prune_bodies(&self, method: &str, before: DateTime<Utc>) -> Result<u64, JournalError> {
        let (like, value) = method_filter(method);
        let op = if like { "LIKE" } else { "=" };
        Self::with(&self.writer, move |conn| {
            let n = conn
                .execute(
                    &format!(
                        "UPDATE journal SET body = NULL \
                         WHERE body IS NOT NULL AND method {op} ?1 AND started_at < ?2"
                    ),
                    rusqlite::params![value, to_micros(before)],
                )
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn put_consent(&self, c: &ConsentRecord) -> Result<(), JournalError> {
        let c = c.clone();
        Self::with(&self.writer, move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
                ),
                rusqlite::params![
                    c.id,
                    c.subject,
                    c.grantee,
                    c.scope.join(","),
                    c.way.as_str(),
                    c.reference,
                    to_micros(c.granted_at),
                    to_micros(c.expires_at),
                    c.revoked_at.map(to_micros),
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn consents(
        &self,
        subject: &str,
        grantee: &str,
    ) -> Result<Vec<ConsentRecord>, JournalError> {
        let (subject, grantee) = (subject.to_string(), grantee.to_string());
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = ?1 AND grantee = ?2"
                ))
                .map_err(db)?;
            let rows = stmt
                .query_map(rusqlite::params![subject, grantee], read_consent)
                .map_err(db)?;
            collect(rows)
        })
        .await
    }

    async fn revoke_consent(
        &self,
        id: &str,
        subject: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let (id, subject) = (id.to_string(), subject.to_string());
        Self::with(&self.writer, move |conn| {
            let n = conn
                .execute(
                    "UPDATE consents SET revoked_at = ?1 \
                     WHERE id = ?2 AND subject = ?3 AND revoked_at IS NULL",
                    rusqlite::params![to_micros(at), id, subject],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}
