//! The gateway's durable store: one SQLite database of what it accepted and still owes (pledge
//! contracts, notices owed to banks, generic-channel messages and replies). One thread writes it
//! and commits whatever is queued in one transaction (group commit): a caller's write is durable
//! (WAL, `synchronous=FULL`) when its future resolves, and a burst shares one fsync.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Why the durable store could not store or read: nothing was accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DurableError {
    /// The database could not be opened.
    #[error("cannot open {path}: {detail}")]
    Open {
        /// The database file.
        path: String,
        /// What SQLite said.
        detail: String,
    },
    /// A statement or the transaction failed.
    #[error("{0}")]
    Database(String),
    /// The job ran but its transaction did not commit.
    #[error("the transaction did not commit")]
    NotCommitted,
    /// The writer thread is gone (the process is stopping).
    #[error("the writer thread has stopped")]
    Stopped,
}

type Done = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Done) + Send>;

/// The store's handle; cheap to clone.
#[derive(Clone)]
pub struct Durable {
    jobs: mpsc::Sender<Job>,
}

fn db(e: impl std::fmt::Display) -> DurableError {
    DurableError::Database(e.to_string())
}

impl Durable {
    /// Opens (creating) the database at `path` and starts its writer thread.
    pub fn open(path: &Path, batch_max: usize) -> Result<Self, DurableError> {
        let conn = Connection::open(path).map_err(|e| DurableError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        // WAL with synchronous=FULL: a committed contract survives a crash or power loss.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(db)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let batch_max = batch_max.max(1);
        std::thread::Builder::new()
            .name("kopir-durable".into())
            .spawn(move || write_loop(&conn, &rx, batch_max))
            .map_err(db)?;
        Ok(Self { jobs: tx })
    }

    /// Runs `f` on the writer thread inside the current batch's transaction; the result comes
    /// back once that transaction has committed.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DurableError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let done: Done = Box::new(move |committed| {
                tx.send(match result {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(DurableError::NotCommitted),
                    Err(e) => Err(db(e)),
                })
                .ok();
            });
            (ok, done)
        });
        self.jobs.send(job).map_err(|_| DurableError::Stopped)?;
        rx.await.map_err(|_| DurableError::Stopped)?
    }
}

/// The writer: one transaction per batch of queued jobs, each job in its own savepoint so one
/// failing job does not undo the others.
fn write_loop(conn: &Connection, rx: &mpsc::Receiver<Job>, batch_max: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Dropping the jobs tells their callers nothing was stored.
            tracing::error!(error = %e, "durable store: cannot begin a transaction");
            continue;
        }
        let mut done = Vec::with_capacity(batch.len());
        // A job whose savepoint cannot be opened, undone or released may leave its writes mixed
        // into the others': the whole batch is then rolled back and every caller told.
        let mut intact = true;
        for job in batch {
            let opened = conn.execute_batch("SAVEPOINT job").is_ok();
            let (ok, d) = job(conn);
            let undone = ok || conn.execute_batch("ROLLBACK TO job").is_ok();
            let released = conn.execute_batch("RELEASE job").is_ok();
            intact &= opened && undone && released;
            done.push(d);
        }
        if !intact {
            tracing::error!("durable store: a savepoint failed; the batch is rolled back");
        }
        let committed = intact && conn.execute_batch("COMMIT").is_ok();
        if !committed {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "durable store: rollback failed");
            }
            tracing::error!("durable store: a batch did not commit; its callers were told");
        }
        for d in done {
            d(committed);
        }
    }
}
