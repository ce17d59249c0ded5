//! The hash chain: how a record's hash is computed, and the walk that checks every link.

use serde::Serialize;

use super::{Entry, JournalError, Record, Store};

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields a record's hash covers, in a fixed order. The body is left out (its digest is in),
/// so pruning a body keeps the chain verifiable.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    prev_hash: &'a str,
    kind: &'a str,
    request_id: &'a str,
    correlation_id: &'a str,
    client: &'a str,
    actor: &'a str,
    method: &'a str,
    subject: &'a str,
    purpose: &'a str,
    started_at: i64,
    ended_at: Option<i64>,
    outcome: Option<i32>,
    registry: &'a str,
    registry_us: Option<i64>,
    note: &'a str,
    payload_digest: &'a str,
}

/// SHA-256 (hex) of a record's fields and the hash before it.
pub fn hash(seq: i64, prev_hash: &str, e: &Entry) -> String {
    let fields = Hashed {
        seq,
        prev_hash,
        kind: e.kind.as_str(),
        request_id: &e.request_id,
        correlation_id: &e.correlation_id,
        client: &e.client,
        actor: &e.actor,
        method: &e.method,
        subject: &e.subject,
        purpose: &e.purpose,
        started_at: super::to_micros(e.started_at),
        ended_at: e.ended_at.map(super::to_micros),
        outcome: e.outcome,
        registry: &e.registry,
        registry_us: e.registry_us,
        note: &e.note,
        payload_digest: &e.payload_digest,
    };
    // Serialising plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(&fields).unwrap_or_default();
    kopir_core::digest::sha256_hex(&bytes)
}

/// SHA-256 (hex) of a payload.
pub fn digest(payload: &[u8]) -> String {
    kopir_core::digest::sha256_hex(payload)
}

/// Chains `entries` after (`head_seq`, `head_hash`): their seqs and hashes.
pub fn link(head_seq: i64, head_hash: &str, entries: Vec<Entry>) -> Vec<Record> {
    let mut prev = head_hash.to_string();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let seq = head_seq + 1 + i as i64;
            let h = hash(seq, &prev, &entry);
            Record {
                seq,
                entry,
                prev_hash: std::mem::replace(&mut prev, h.clone()),
                hash: h,
            }
        })
        .collect()
}

/// The outcome of a chain walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// Records whose body had been pruned (their digest was still chained).
    pub pruned: u64,
    /// The last record's seq and hash, when there is one.
    pub head: Option<(i64, String)>,
    /// The first broken link, when there is one.
    pub broken: Option<Broken>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The record at which the chain stops holding.
    pub seq: i64,
    /// What is wrong there.
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}: {}", self.seq, self.reason)
    }
}

/// Checks one record against the one before it; `expected_seq` and `prev` come from that record.
pub fn check(record: &Record, expected_seq: i64, prev: &str) -> Option<Broken> {
    let broken = |reason: String| {
        Some(Broken {
            seq: record.seq,
            reason,
        })
    };
    if record.seq != expected_seq {
        return Some(Broken {
            seq: expected_seq,
            reason: if record.seq > expected_seq {
                format!(
                    "missing: the chain jumps from record {} to record {} (deleted)",
                    expected_seq - 1,
                    record.seq
                )
            } else {
                format!("out of order: found seq {}", record.seq)
            },
        });
    }
    if record.prev_hash != prev {
        return broken(format!(
            "does not link to record {}: its prev_hash differs from that record's hash (one of the two was altered)",
            record.seq - 1
        ));
    }
    if hash(record.seq, &record.prev_hash, &record.entry) != record.hash {
        return broken(format!(
            "its contents do not match its hash (altered; request id {})",
            record.entry.request_id
        ));
    }
    if let Some(body) = &record.entry.body {
        if digest(body.as_bytes()) != record.entry.payload_digest {
            return broken("its body does not match its payload digest (altered)".into());
        }
    }
    None
}

/// Walks `records` on from the record before them (`next_seq` - 1, whose hash is `prev`),
/// adding to `state` up to the first broken link; `next_seq` and `prev` advance, so a chain can
/// be walked page by page.
pub fn walk<I: IntoIterator<Item = Record>>(
    records: I,
    state: &mut Verified,
    next_seq: &mut i64,
    prev: &mut String,
) {
    for r in records {
        if state.broken.is_some() {
            return;
        }
        if let Some(b) = check(&r, *next_seq, prev) {
            state.broken = Some(b);
            return;
        }
        state.records += 1;
        if r.entry.body.is_none() {
            state.pruned += 1;
        }
        *next_seq = r.seq + 1;
        *prev = r.hash.clone();
        state.head = Some((r.seq, r.hash));
    }
}

/// Walks the whole chain of a store, page by page, and reports the first broken link.
pub async fn verify(store: &dyn Store) -> Result<Verified, JournalError> {
    const PAGE: usize = 2_000;
    let mut state = Verified::default();
    let (mut next_seq, mut prev) = (1_i64, GENESIS.to_string());
    loop {
        let page = store.range(next_seq, PAGE).await?;
        let n = page.len();
        walk(page, &mut state, &mut next_seq, &mut prev);
        if state.broken.is_some() {
            return Ok(state);
        }
        if n < PAGE {
            state.broken = against_head(&state, store.recorded_head().await?);
            return Ok(state);
        }
    }
}

/// What the recorded head says of a chain walked to its end without a break: records deleted
/// from the tail, or the last one altered.
fn against_head(state: &Verified, recorded: Option<(i64, String)>) -> Option<Broken> {
    let (head_seq, head_hash) = recorded?;
    let (last_seq, last_hash) = state.head.clone().unwrap_or((0, GENESIS.to_string()));
    if head_seq > last_seq {
        Some(Broken {
            seq: last_seq + 1,
            reason: format!(
                "missing: the journal's head is record {head_seq}, the last record present is {last_seq}: records {}..={head_seq} were deleted",
                last_seq + 1
            ),
        })
    } else if head_seq == last_seq && head_hash != last_hash {
        Some(Broken {
            seq: last_seq,
            reason: "its hash differs from the journal's recorded head (altered)".into(),
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry::request(
            id,
            "bin:000940001238",
            "kopir.v1.IdentityService/GetPerson",
            "850101300510",
            "test",
            "{}",
        )
    }

    fn walk_all(records: Vec<Record>) -> Verified {
        let mut state = Verified::default();
        let (mut s, mut p) = (1, GENESIS.to_string());
        walk(records, &mut state, &mut s, &mut p);
        state
    }

    #[test]
    fn an_intact_chain_verifies_and_any_change_names_its_record() {
        let records = link(0, GENESIS, (0..5).map(|i| entry(&i.to_string())).collect());
        let ok = walk_all(records.clone());
        assert_eq!((ok.records, ok.broken), (5, None));

        let mut edited = records.clone();
        edited[2].entry.purpose = "other".into();
        assert_eq!(walk_all(edited).broken.map(|b| b.seq), Some(3));

        let mut deleted = records.clone();
        deleted.remove(3);
        let b = walk_all(deleted).broken.expect("gap found");
        assert_eq!(b.seq, 4);
        assert!(b.reason.contains("missing"), "{}", b.reason);

        // Rewriting a record with a fresh hash breaks the next record's link instead.
        let mut rehashed = records.clone();
        rehashed[1].entry.outcome = Some(7);
        rehashed[1].hash = hash(2, &rehashed[1].prev_hash, &rehashed[1].entry);
        assert_eq!(walk_all(rehashed).broken.map(|b| b.seq), Some(3));

        let mut body = records.clone();
        body[4].entry.body = Some("{\"x\":1}".into());
        assert_eq!(walk_all(body).broken.map(|b| b.seq), Some(5));

        let mut pruned = records;
        pruned[0].entry.body = None;
        let p = walk_all(pruned);
        assert_eq!((p.records, p.pruned, p.broken), (5, 1, None));
    }
}
