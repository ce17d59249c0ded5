//! Group commit: every request hands its records to one writer task, which appends whatever has
//! queued up as one transaction and then tells each waiting request that its records are durable.
//! Under load a batch holds many requests' records, so one fsync serves them all; with no load a
//! record is written at once, without waiting for company.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::metrics::JournalMetrics;
use super::{Entry, JournalError, Store};

type Done = oneshot::Sender<Result<i64, JournalError>>;

/// A batch at least this large means load: the writer then waits [`LINGER`] before taking the
/// next one. Under load a record waits for a commit anyway; the pause lets more records share it,
/// and an append of 100 records costs about half as much per record as one of 24 (every commit
/// rewrites the index pages it touches). Below it, a record is written at once.
const LINGER_ABOVE: usize = 32;
/// See [`LINGER_ABOVE`].
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

/// A handle to the journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    store: Arc<dyn Store>,
    queue: mpsc::Sender<(Entry, Done)>,
}

/// Durability of one submitted record, to await before answering.
pub struct Pending(oneshot::Receiver<Result<i64, JournalError>>);

impl Pending {
    /// Waits until the record is durable; its seq.
    pub async fn durable(self) -> Result<i64, JournalError> {
        self.0.await.map_err(|_| JournalError::Closed)?
    }
}

impl Journal {
    /// Starts the writer over `store`, appending at most `batch_max` records per transaction.
    pub fn start(store: Arc<dyn Store>, batch_max: usize) -> Self {
        Self::start_measured(store, batch_max, None)
    }

    /// As [`start`](Self::start), recording each commit's latency and size in `metrics`.
    pub fn start_measured(
        store: Arc<dyn Store>,
        batch_max: usize,
        metrics: Option<JournalMetrics>,
    ) -> Self {
        let batch_max = batch_max.max(1);
        // Room for a few batches: beyond it, requests wait for the writer (backpressure).
        let (queue, rx) = mpsc::channel(batch_max * 4);
        tokio::spawn(write(store.clone(), rx, batch_max, metrics));
        Self { store, queue }
    }

    /// Queues a record; await the result's [`Pending::durable`] before answering.
    pub async fn submit(&self, entry: Entry) -> Pending {
        let (done, rx) = oneshot::channel();
        // A send fails only once the writer has stopped; the dropped `done` then reports Closed.
        self.queue.send((entry, done)).await.ok();
        Pending(rx)
    }

    /// Appends a record and waits until it is durable.
    pub async fn append(&self, entry: Entry) -> Result<i64, JournalError> {
        self.submit(entry).await.durable().await
    }

    /// The backend, for searches and consents.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

async fn write(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<(Entry, Done)>,
    batch_max: usize,
    metrics: Option<JournalMetrics>,
) {
    let mut queued = Vec::with_capacity(batch_max);
    let mut last = 0usize;
    loop {
        if last >= LINGER_ABOVE {
            tokio::time::sleep(LINGER).await;
        }
        if rx.recv_many(&mut queued, batch_max).await == 0 {
            break;
        }
        last = queued.len();
        let (entries, waiting): (Vec<Entry>, Vec<Done>) = queued.drain(..).unzip();
        let n = waiting.len();
        let started = std::time::Instant::now();
        let appended = store.append(entries).await;
        if let (Some(m), Ok(_)) = (&metrics, &appended) {
            m.commit(n, started.elapsed());
        }
        match appended {
            Ok(seqs) => {
                for (done, seq) in waiting.into_iter().zip(seqs) {
                    done.send(Ok(seq)).ok();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = n, "journal append failed; the requests are refused");
                for done in waiting {
                    done.send(Err(e.clone())).ok();
                }
            }
        }
    }
}
