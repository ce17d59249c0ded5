//! The outbox: accepted pledge contracts and the notices owed to banks, in the gateway's durable
//! store ([`Durable`]: one writer thread, group commit), so a contract is durable before ACCEPTED
//! leaves and durability does not cost one fsync per contract.
//!
//! A state change and the bank's notice of it are written in one transaction: a crash can lose
//! neither one without the other.

use chrono::{DateTime, Utc};
use kopir_adapters::bank::PledgeNotice;
use kopir_adapters::cadastre::PledgeFiling;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{State, Status};
use kopir_store::durable::Durable;
use kopir_store::durable::DurableError;
use kopir_store::journal::{from_micros, to_micros};

/// The outbox's handle; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    db: Durable,
}

/// A contract to accept.
#[derive(Debug, Clone)]
pub struct NewPledge {
    /// The accepted status (state `accepted`).
    pub status: Status,
    /// SHA-256 of the signed document.
    pub digest: String,
    /// What the cadastre will be sent.
    pub filing: PledgeFiling,
}

/// What accepting did.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// Stored now.
    New(Status),
    /// The same contract was accepted before: its status.
    Duplicate(Status),
    /// The number is taken by a contract with other content.
    Conflict(Status),
}

/// A contract the worker is to move on.
#[derive(Debug, Clone)]
pub struct Work {
    /// Its status.
    pub status: Status,
    /// What the cadastre is sent.
    pub filing: PledgeFiling,
    /// Failed attempts in a row.
    pub attempts: u32,
}

/// A state change for [`Outbox::transition`].
#[derive(Debug, Clone)]
pub struct Change {
    /// The new state.
    pub state: State,
    /// Legal grounds.
    pub grounds: Vec<String>,
    /// What the gateway waits for.
    pub detail: String,
    /// Hearing.
    pub hearing_at: Option<DateTime<Utc>>,
    /// Objection deadline.
    pub objection_deadline: Option<DateTime<Utc>>,
}

/// A notice owed to a bank.
#[derive(Debug, Clone)]
pub struct Owed {
    /// Its place in the outbox.
    pub seq: i64,
    /// The bank's BIN.
    pub bank: String,
    /// The notice.
    pub notice: PledgeNotice,
    /// Failed deliveries so far.
    pub attempts: u32,
}

pub use kopir_core::pledge::{Backlog, Item, ItemKind};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pledges (
    id TEXT PRIMARY KEY,
    bank TEXT NOT NULL,
    number TEXT NOT NULL,
    digest TEXT NOT NULL,
    filing TEXT NOT NULL,
    state TEXT NOT NULL,
    grounds TEXT NOT NULL,
    detail TEXT NOT NULL,
    hearing_at INTEGER,
    objection_deadline INTEGER,
    accepted_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    UNIQUE (bank, number)
);
CREATE INDEX IF NOT EXISTS pledges_due ON pledges (due_at) WHERE state NOT IN ('registered', 'refused') AND dead = 0;
CREATE TABLE IF NOT EXISTS notices (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    pledge_id TEXT NOT NULL,
    bank TEXT NOT NULL,
    notice TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    dead INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS notices_open ON notices (pledge_id, seq) WHERE delivered_at IS NULL;
";

const STATUS_COLUMNS: &str = "id, bank, number, state, grounds, detail, hearing_at, objection_deadline, accepted_at, changed_at";

fn time(us: i64) -> rusqlite::Result<DateTime<Utc>> {
    from_micros(us).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn read_status(row: &Row<'_>) -> rusqlite::Result<Status> {
    let state: String = row.get(3)?;
    let grounds: String = row.get(4)?;
    let opt = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        row.get::<_, Option<i64>>(i)?.map(time).transpose()
    };
    Ok(Status {
        request_id: row.get(0)?,
        bank: row.get(1)?,
        contract_number: row.get(2)?,
        state: State::parse(&state).ok_or_else(|| {
            rusqlite::Error::ToSqlConversionFailure(format!("unknown state {state:?}").into())
        })?,
        grounds: from_json(&grounds)?,
        detail: row.get(5)?,
        hearing_at: opt(6)?,
        objection_deadline: opt(7)?,
        accepted_at: time(row.get(8)?)?,
        changed_at: time(row.get(9)?)?,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn json<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// A contract's status and digest by its bank and number, inside a writer job.
fn existing_in(
    conn: &Connection,
    bank: &str,
    number: &str,
) -> rusqlite::Result<Option<(Status, String)>> {
    conn.prepare_cached(&format!(
        "SELECT {STATUS_COLUMNS}, digest FROM pledges WHERE bank = ?1 AND number = ?2"
    ))?
    .query_row(params![bank, number], |r| Ok((read_status(r)?, r.get(10)?)))
    .optional()
}

fn status_by(conn: &Connection, id: &str) -> rusqlite::Result<Option<Status>> {
    conn.query_row(
        &format!("SELECT {STATUS_COLUMNS} FROM pledges WHERE id = ?1"),
        [id],
        read_status,
    )
    .optional()
}

impl Outbox {
    /// The outbox over `db` (its tables created when missing).
    pub async fn open(db: Durable) -> Result<Self, DurableError> {
        db.run(|conn| {
            conn.execute_batch(SCHEMA)?;
            // An outbox from before the worker's own error column: add it (its failed steps
            // had written into `detail`, which keeps what the bank was told from now on).
            let has_column = conn
                .prepare("SELECT 1 FROM pragma_table_info('pledges') WHERE name = 'last_error'")?
                .exists([])?;
            if !has_column {
                conn.execute_batch(
                    "ALTER TABLE pledges ADD COLUMN last_error TEXT NOT NULL DEFAULT ''",
                )?;
            }
            Ok(())
        })
        .await?;
        Ok(Self { db })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DurableError> {
        self.db.run(f).await
    }

    /// Stores a contract unless its bank's number is taken.
    pub async fn accept(&self, p: NewPledge) -> Result<Accepted, DurableError> {
        self.run(move |conn| {
            let s = &p.status;
            if let Some((status, digest)) = existing_in(conn, &s.bank, &s.contract_number)? {
                return Ok(if digest == p.digest {
                    Accepted::Duplicate(status)
                } else {
                    Accepted::Conflict(status)
                });
            }
            let at = to_micros(s.accepted_at);
            conn.prepare_cached(
                "INSERT INTO pledges (id, bank, number, digest, filing, state, grounds, detail, accepted_at, changed_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, '[]', '', ?7, ?7, ?7)",
            )?
            .execute(params![
                s.request_id,
                s.bank,
                s.contract_number,
                p.digest,
                json(&p.filing)?,
                s.state.as_str(),
                at
            ])?;
            Ok(Accepted::New(p.status))
        })
        .await
    }

    /// A contract's status and the digest of its signed document, by its bank and number.
    pub async fn existing(
        &self,
        bank: &str,
        number: &str,
    ) -> Result<Option<(Status, String)>, DurableError> {
        let (bank, number) = (bank.to_string(), number.to_string());
        self.run(move |conn| existing_in(conn, &bank, &number))
            .await
    }

    /// A contract's status by its bank and number.
    pub async fn find(&self, bank: &str, number: &str) -> Result<Option<Status>, DurableError> {
        Ok(self.existing(bank, number).await?.map(|(status, _)| status))
    }

    /// Contracts due for the worker at `now`, oldest due first.
    pub async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Work>, DurableError> {
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {STATUS_COLUMNS}, filing, attempts FROM pledges
                 WHERE state NOT IN ('registered', 'refused') AND dead = 0 AND due_at <= ?1
                 ORDER BY due_at LIMIT ?2"
            ))?;
            let rows = stmt.query_map(
                params![to_micros(now), i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    let filing: String = row.get(10)?;
                    Ok(Work {
                        status: read_status(row)?,
                        filing: from_json(&filing)?,
                        attempts: row.get(11)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    /// Moves a contract to a new state, owes its bank a notice of it, and sets when the worker
    /// looks at it next. `None` when nothing changed (same state, grounds and detail).
    pub async fn transition(
        &self,
        id: &str,
        change: Change,
        next: DateTime<Utc>,
    ) -> Result<Option<(Status, PledgeNotice)>, DurableError> {
        let id = id.to_string();
        self.run(move |conn| {
            let Some(before) = status_by(conn, &id)? else {
                return Ok(None);
            };
            let now = Utc::now();
            let same = before.state == change.state
                && before.grounds == change.grounds
                && before.detail == change.detail;
            conn.prepare_cached(
                "UPDATE pledges SET due_at = ?2, attempts = 0, last_error = '' WHERE id = ?1",
            )?
            .execute(params![id, to_micros(next)])?;
            if same {
                return Ok(None);
            }
            let after = Status {
                state: change.state,
                grounds: change.grounds,
                detail: change.detail,
                hearing_at: change.hearing_at,
                objection_deadline: change.objection_deadline,
                changed_at: if before.state == change.state {
                    before.changed_at
                } else {
                    now
                },
                ..before
            };
            conn.prepare_cached(
                "UPDATE pledges SET state = ?2, grounds = ?3, detail = ?4, hearing_at = ?5,
                 objection_deadline = ?6, changed_at = ?7 WHERE id = ?1",
            )?
            .execute(params![
                id,
                after.state.as_str(),
                json(&after.grounds)?,
                after.detail,
                after.hearing_at.map(to_micros),
                after.objection_deadline.map(to_micros),
                to_micros(after.changed_at)
            ])?;
            let notice = notice_of(&after);
            conn.prepare_cached(
                "INSERT INTO notices (event_id, pledge_id, bank, notice, created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![
                notice.event_id,
                id,
                after.bank,
                json(&notice)?,
                to_micros(now)
            ])?;
            Ok(Some((after, notice)))
        })
        .await
    }

    /// Puts a contract off after a failed step, noting why for operators (apart from its
    /// status, so the next good step owes the bank a notice only if what it is told changes);
    /// after `dead_after` failures in a row it becomes a dead letter, left alone until an
    /// operator re-drives it.
    pub async fn retry_later(
        &self,
        id: &str,
        next: DateTime<Utc>,
        detail: String,
        dead_after: u32,
    ) -> Result<(), DurableError> {
        let id = id.to_string();
        self.run(move |conn| {
            conn.prepare_cached(
                "UPDATE pledges SET due_at = ?2, attempts = attempts + 1, last_error = ?3,
                 dead = (attempts + 1 >= ?4) WHERE id = ?1",
            )?
            .execute(params![id, to_micros(next), detail, dead_after])?;
            Ok(())
        })
        .await
    }

    /// Notices due at `now`: for each contract only its oldest unacknowledged one, so a bank
    /// learns the changes in order.
    pub async fn owed(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Owed>, DurableError> {
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT n.seq, n.bank, n.notice, n.attempts FROM notices n
                 WHERE n.delivered_at IS NULL AND n.dead = 0 AND n.due_at <= ?1
                   AND NOT EXISTS (SELECT 1 FROM notices m WHERE m.pledge_id = n.pledge_id
                                   AND m.delivered_at IS NULL AND m.seq < n.seq)
                 ORDER BY n.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(
                params![to_micros(now), i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    let notice: String = row.get(2)?;
                    Ok(Owed {
                        seq: row.get(0)?,
                        bank: row.get(1)?,
                        notice: from_json(&notice)?,
                        attempts: row.get(3)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    /// Records a bank's acknowledgement.
    pub async fn delivered(&self, seq: i64) -> Result<(), DurableError> {
        self.run(move |conn| {
            conn.prepare_cached("UPDATE notices SET delivered_at = ?2 WHERE seq = ?1")?
                .execute(params![seq, to_micros(Utc::now())])?;
            Ok(())
        })
        .await
    }

    /// Records a failed delivery and when to try again; after `dead_after` failures the notice
    /// is a dead letter (and holds back that contract's later notices) until re-driven.
    pub async fn undelivered(
        &self,
        seq: i64,
        next: DateTime<Utc>,
        error: String,
        dead_after: u32,
    ) -> Result<(), DurableError> {
        self.run(move |conn| {
            conn.prepare_cached(
                "UPDATE notices SET due_at = ?2, attempts = attempts + 1, last_error = ?3,
                 dead = (attempts + 1 >= ?4) WHERE seq = ?1",
            )?
            .execute(params![seq, to_micros(next), error, dead_after])?;
            Ok(())
        })
        .await
    }

    /// What waits in the outbox, dead letters first, then by age: contracts not decided for
    /// good and notices not acknowledged.
    pub async fn items(&self, only_dead: bool, limit: usize) -> Result<Vec<Item>, DurableError> {
        self.run(move |conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut items = Vec::new();
            let mut stmt = conn.prepare_cached(
                "SELECT id, bank, number, state, attempts, last_error, due_at, accepted_at, dead FROM pledges
                 WHERE state NOT IN ('registered', 'refused') AND (dead = 1 OR ?1 = 0)
                 ORDER BY dead DESC, accepted_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![only_dead, limit], |r| {
                Ok(Item {
                    kind: ItemKind::Pledge,
                    request_id: r.get(0)?,
                    bank: r.get(1)?,
                    contract_number: r.get(2)?,
                    state: r.get(3)?,
                    attempts: r.get(4)?,
                    last_error: r.get(5)?,
                    next_attempt_at: time(r.get(6)?)?,
                    created_at: time(r.get(7)?)?,
                    dead: r.get(8)?,
                })
            })?;
            for row in rows {
                items.push(row?);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT n.pledge_id, n.bank, p.number, n.notice, n.attempts, n.last_error, n.due_at,
                        n.created_at, n.dead
                 FROM notices n JOIN pledges p ON p.id = n.pledge_id
                 WHERE n.delivered_at IS NULL AND (n.dead = 1 OR ?1 = 0)
                 ORDER BY n.dead DESC, n.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![only_dead, limit], |r| {
                let notice: String = r.get(3)?;
                let state = from_json::<PledgeNotice>(&notice).map_or_else(|_| String::new(), |n| n.state);
                Ok(Item {
                    kind: ItemKind::Notice,
                    request_id: r.get(0)?,
                    bank: r.get(1)?,
                    contract_number: r.get(2)?,
                    state,
                    attempts: r.get(4)?,
                    last_error: r.get(5)?,
                    next_attempt_at: time(r.get(6)?)?,
                    created_at: time(r.get(7)?)?,
                    dead: r.get(8)?,
                })
            })?;
            for row in rows {
                items.push(row?);
            }
            Ok(items)
        })
        .await
    }

    /// Makes a contract's failed work due now (its dead letters included), or every dead letter
    /// when `request_id` is none; how many rows were re-driven.
    pub async fn redrive(&self, request_id: Option<String>) -> Result<u64, DurableError> {
        self.run(move |conn| {
            let now = to_micros(Utc::now());
            let (pledges, notices) = match &request_id {
                Some(id) => (
                    conn.execute(
                        "UPDATE pledges SET dead = 0, attempts = 0, due_at = ?2
                         WHERE id = ?1 AND state NOT IN ('registered', 'refused')",
                        params![id, now],
                    )?,
                    conn.execute(
                        "UPDATE notices SET dead = 0, attempts = 0, due_at = ?2
                         WHERE pledge_id = ?1 AND delivered_at IS NULL",
                        params![id, now],
                    )?,
                ),
                None => (
                    conn.execute(
                        "UPDATE pledges SET dead = 0, attempts = 0, due_at = ?1 WHERE dead = 1",
                        params![now],
                    )?,
                    conn.execute(
                        "UPDATE notices SET dead = 0, attempts = 0, due_at = ?1 WHERE dead = 1",
                        params![now],
                    )?,
                ),
            };
            Ok((pledges + notices) as u64)
        })
        .await
    }

    /// What is waiting.
    pub async fn backlog(&self) -> Result<Backlog, DurableError> {
        self.run(|conn| {
            let open: i64 = conn.query_row(
                "SELECT count(*) FROM pledges WHERE state NOT IN ('registered', 'refused')",
                [],
                |r| r.get(0),
            )?;
            let (owed, oldest): (i64, Option<i64>) = conn.query_row(
                "SELECT count(*), min(created_at) FROM notices WHERE delivered_at IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let age = oldest.map_or(0, |t| (to_micros(Utc::now()) - t).max(0) / 1_000_000);
            let dead: i64 = conn.query_row(
                "SELECT (SELECT count(*) FROM pledges WHERE dead = 1)
                      + (SELECT count(*) FROM notices WHERE dead = 1)",
                [],
                |r| r.get(0),
            )?;
            Ok(Backlog {
                open_pledges: u64::try_from(open).unwrap_or(0),
                undelivered_notices: u64::try_from(owed).unwrap_or(0),
                oldest_notice_age_s: u64::try_from(age).unwrap_or(0),
                dead_letters: u64::try_from(dead).unwrap_or(0),
            })
        })
        .await
    }
}

/// The bank's notice of a status.
pub fn notice_of(s: &Status) -> PledgeNotice {
    let rfc = kopir_core::time::rfc3339;
    PledgeNotice {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: s.request_id.clone(),
        contract_number: s.contract_number.clone(),
        state: s.state.as_str().to_string(),
        grounds: s.grounds.clone(),
        detail: s.detail.clone(),
        hearing_at: s.hearing_at.map(rfc),
        objection_deadline: s.objection_deadline.map(rfc),
        changed_at: rfc(s.changed_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pledge(number: &str, digest: &str) -> NewPledge {
        NewPledge {
            status: Status::accepted(&format!("req-{number}"), "990140004565", number),
            digest: digest.into(),
            filing: PledgeFiling {
                message_id: format!("req-{number}"),
                contract_number: number.into(),
                pledgee_bin: "990140004565".into(),
                pledgors: vec!["850101300011".into()],
                cadastral_number: "21-320-000-101".into(),
                amount_tiyn: 100,
                document: String::new(),
                signatures: Vec::new(),
                payment_codes: Vec::new(),
            },
        }
    }

    async fn outbox() -> (Outbox, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Durable::open(&dir.path().join("outbox.db"), 16).expect("opens");
        (Outbox::open(db).await.expect("schema"), dir)
    }

    fn change(state: State, detail: &str) -> Change {
        Change {
            state,
            grounds: Vec::new(),
            detail: detail.into(),
            hearing_at: None,
            objection_deadline: None,
        }
    }

    #[tokio::test]
    async fn an_outbox_from_before_the_error_column_gets_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("outbox.db");
        let old = rusqlite::Connection::open(&path).expect("opens");
        old.execute_batch(&SCHEMA.replace(
            "    last_error TEXT NOT NULL DEFAULT '',\n    UNIQUE",
            "    UNIQUE",
        ))
        .expect("the old schema");
        let had = old
            .prepare("SELECT 1 FROM pragma_table_info('pledges') WHERE name = 'last_error'")
            .and_then(|mut q| q.exists([]))
            .expect("reads the schema");
        assert!(!had, "the old schema has no error column");
        drop(old);
        let o = Outbox::open(Durable::open(&path, 16).expect("opens"))
            .await
            .expect("migrated");
        o.accept(pledge("C-0", "d")).await.expect("accepted");
        let id = o.due(Utc::now(), 10).await.expect("due")[0]
            .status
            .request_id
            .clone();
        o.retry_later(&id, Utc::now(), "down".into(), 10)
            .await
            .expect("the new column takes the error");
    }

    #[tokio::test]
    async fn one_acceptance_per_number_and_content() {
        let (o, _dir) = outbox().await;
        assert!(matches!(
            o.accept(pledge("C-1", "d1")).await,
            Ok(Accepted::New(_))
        ));
        assert!(matches!(
            o.accept(pledge("C-1", "d1")).await,
            Ok(Accepted::Duplicate(_))
        ));
        assert!(matches!(
            o.accept(pledge("C-1", "other")).await,
            Ok(Accepted::Conflict(_))
        ));
        assert_eq!(o.backlog().await.expect("backlog").open_pledges, 1);
    }

    #[tokio::test]
    async fn a_transition_owes_one_notice_and_a_repeat_owes_none() {
        let (o, _dir) = outbox().await;
        o.accept(pledge("C-2", "d")).await.expect("accepted");
        let now = Utc::now();
        let due = o.due(now, 10).await.expect("due");
        assert_eq!(due.len(), 1, "a new contract is due at once");
        let id = due[0].status.request_id.clone();
        let owed_before = o.owed(now, 10).await.expect("owed").len();
        let (after, notice) = o
            .transition(&id, change(State::AwaitingPayment, "no e-check"), now)
            .await
            .expect("stored")
            .expect("a change");
        assert_eq!(after.state, State::AwaitingPayment);
        assert_eq!(notice.state, "awaiting_payment");
        let owed = o.owed(Utc::now(), 10).await.expect("owed");
        assert_eq!(
            owed.len(),
            owed_before + 1,
            "the change owes the bank one notice"
        );
        let repeat = o
            .transition(&id, change(State::AwaitingPayment, "no e-check"), now)
            .await
            .expect("stored");
        assert!(repeat.is_none(), "the same state again is no change");
        // A failed step between two equal ones is the worker's own: still no change.
        o.retry_later(&id, now, "payments registry unavailable".into(), 10)
            .await
            .expect("stored");
        let after_failure = o
            .transition(&id, change(State::AwaitingPayment, "no e-check"), now)
            .await
            .expect("stored");
        assert!(
            after_failure.is_none(),
            "a failed step is no change for the bank"
        );
        let listed = o.items(false, 10).await.expect("items");
        assert!(
            listed.iter().all(|i| i.last_error.is_empty()),
            "a good step clears the error"
        );
        assert_eq!(
            o.owed(Utc::now(), 10).await.expect("owed").len(),
            owed.len()
        );
        o.delivered(owed[owed.len() - 1].seq)
            .await
            .expect("delivered");
        assert_eq!(
            o.owed(Utc::now(), 10).await.expect("owed").len(),
            owed.len() - 1
        );
        o.transition(&id, change(State::Registered, ""), now)
            .await
            .expect("stored");
        assert_eq!(o.backlog().await.expect("backlog").open_pledges, 0);
    }
}
