//! `kopir journal verify | search | export`: the journal from the command line, on the database
//! the configuration names (the gateway may be running; SQLite's WAL and PostgreSQL allow that).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use kopir_store::journal::chain::{walk, Verified, GENESIS};
use kopir_store::journal::{self as journal_store, JournalError, Query, Record, Store};

/// What `kopir journal` does.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Walk the hash chain (or an export file's) and report the first broken link.
    Verify {
        /// Verify this export file instead of the database.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Print matching records, one JSON object a line.
    Search {
        /// Exact request id.
        #[arg(long)]
        request_id: Option<String>,
        /// Exact correlation id.
        #[arg(long)]
        correlation_id: Option<String>,
        /// Exact client (`bin:<BIN>`).
        #[arg(long)]
        client: Option<String>,
        /// Exact subject (IIN or BIN).
        #[arg(long)]
        subject: Option<String>,
        /// Method, or `Service/*`.
        #[arg(long)]
        method: Option<String>,
        /// Started at or after (RFC 3339).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Started before (RFC 3339).
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// gRPC status code number of responses (0 = OK, 7 = PERMISSION_DENIED, ...).
        #[arg(long)]
        outcome: Option<i32>,
        /// Records per page.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Records after this seq (the `next` a previous page printed).
        #[arg(long)]
        after: Option<i64>,
    },
    /// Write records (bodies included) started in [from, to) to a file with their chain proof.
    Export {
        /// Started at or after (RFC 3339).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Started before (RFC 3339).
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// The file (JSON lines).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The first line of an export file.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Format marker and version.
    pub kopir_journal_export: u32,
    /// The exported range, by start time.
    pub from: Option<DateTime<Utc>>,
    /// See `from`.
    pub to: Option<DateTime<Utc>>,
    /// Records in the file.
    pub records: u64,
    /// The seq and hash the first exported record links to (the chain proof's anchor).
    pub anchor_seq: i64,
    /// See `anchor_seq`.
    pub anchor_hash: String,
    /// The journal's head when exported: a later export or `verify` must still contain it.
    pub head_seq: i64,
    /// See `head_seq`.
    pub head_hash: String,
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> JournalError {
    JournalError::File(format!("{}: {e}", path.display()))
}

/// Writes the records started in [from, to) and their chain proof. The records between the first
/// and the last exported one are all included (records of other times in between too), so the
/// file is one unbroken stretch of the chain, checkable with `verify --export`.
pub async fn export(
    store: &dyn Store,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    out: &Path,
) -> Result<ExportHeader, JournalError> {
    let bound = |newest_first| Query {
        from,
        to,
        newest_first,
        limit: 1,
        ..Query::default()
    };
    let first = store.search(&bound(false)).await?.into_iter().next();
    let last = store.search(&bound(true)).await?.into_iter().next();
    // The newest record, read directly: walking the whole chain only to find it would read every record.
    let newest = Query {
        newest_first: true,
        limit: 1,
        ..Query::default()
    };
    let (head_seq, head_hash) = store
        .search(&newest)
        .await?
        .into_iter()
        .next()
        .map_or((0, GENESIS.into()), |r| (r.seq, r.hash));
    let mut header = ExportHeader {
        kopir_journal_export: 1,
        from,
        to,
        records: 0,
        anchor_seq: 0,
        anchor_hash: GENESIS.into(),
        head_seq,
        head_hash,
    };
    let mut lines = Vec::new();
    if let (Some(first), Some(last)) = (first, last) {
        header.anchor_seq = first.seq - 1;
        header.anchor_hash = first.prev_hash.clone();
        let mut next = first.seq;
        while next <= last.seq {
            let page = store.range(next, 1_000).await?;
            let Some(end) = page.last().map(|r| r.seq) else {
                break;
            };
            for r in page.into_iter().take_while(|r| r.seq <= last.seq) {
                lines.push(serde_json::to_string(&r).map_err(|e| file_error(out, e))?);
            }
            next = end + 1;
        }
        header.records = lines.len() as u64;
    }
    let mut file = std::fs::File::create(out).map_err(|e| file_error(out, e))?;
    let head = serde_json::to_string(&header).map_err(|e| file_error(out, e))?;
    writeln!(file, "{head}").map_err(|e| file_error(out, e))?;
    for l in &lines {
        writeln!(file, "{l}").map_err(|e| file_error(out, e))?;
    }
    file.sync_all().map_err(|e| file_error(out, e))?;
    Ok(header)
}

/// Checks an export file: every record's hash, every link, from its anchor on.
pub fn verify_export(path: &Path) -> Result<Verified, JournalError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let mut lines = text.lines();
    let header: ExportHeader = lines
        .next()
        .ok_or_else(|| file_error(path, "empty file"))
        .and_then(|l| serde_json::from_str(l).map_err(|e| file_error(path, e)))?;
    let records = lines
        .map(|l| serde_json::from_str::<Record>(l).map_err(|e| file_error(path, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut state = Verified::default();
    let (mut next, mut prev) = (header.anchor_seq + 1, header.anchor_hash.clone());
    walk(records, &mut state, &mut next, &mut prev);
    Ok(state)
}

/// Runs a `kopir journal` command against `store`, printing to stdout; false when a chain is
/// broken (the caller exits non-zero).
pub async fn run(store: &dyn Store, command: JournalCommand) -> Result<bool, JournalError> {
    let mut out = std::io::stdout();
    let print = |out: &mut std::io::Stdout, s: String| {
        // A closed stdout (piped into head) is no error of the journal's.
        writeln!(out, "{s}").ok();
    };
    match command {
        JournalCommand::Verify { export } => {
            let v = match &export {
                Some(path) => verify_export(path)?,
                None => journal_store::verify(store).await?,
            };
            match &v.broken {
                None => {
                    let head = v
                        .head
                        .map(|(s, h)| format!("; head: record {s}, hash {h}"))
                        .unwrap_or_default();
                    print(
                        &mut out,
                        format!(
                            "CHAIN INTACT: {} records ({} bodies pruned){head}",
                            v.records, v.pruned
                        ),
                    );
                    Ok(true)
                }
                Some(b) => {
                    print(
                        &mut out,
                        format!(
                            "CHAIN BROKEN at {b}\n{} records before it verified",
                            v.records
                        ),
                    );
                    Ok(false)
                }
            }
        }
        JournalCommand::Search {
            request_id,
            correlation_id,
            client,
            subject,
            method,
            from,
            to,
            outcome,
            limit,
            after,
        } => {
            let query = Query {
                request_id,
                correlation_id,
                client,
                subject,
                method,
                from,
                to,
                outcome,
                after,
                limit,
                ..Query::default()
            };
            let records = store.search(&query).await?;
            for r in &records {
                print(
                    &mut out,
                    serde_json::to_string(r).map_err(|e| JournalError::File(e.to_string()))?,
                );
            }
            if let Some(seq) = query.next_cursor(&records) {
                print(&mut out, format!("next: --after {seq}"));
            }
            Ok(true)
        }
        JournalCommand::Export {
            from,
            to,
            out: path,
        } => {
            let h = export(store, from, to, &path).await?;
            print(
                &mut out,
                format!(
                    "exported {} records to {} (anchor: record {}, hash {}; journal head: record {})",
                    h.records,
                    path.display(),
                    h.anchor_seq,
                    h.anchor_hash,
                    h.head_seq
                ),
            );
            Ok(true)
        }
    }
}
