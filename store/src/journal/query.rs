//! Journal search: the filters an operator or a citizen's access log asks for, and the one SQL
//! text both backends run (numbered `$n` parameters, which SQLite and PostgreSQL both accept).

use chrono::{DateTime, Utc};

use super::Kind;

/// The journal table's columns, in the order the backends read them.
pub const COLUMNS: &str = "seq, kind, request_id, correlation_id, client, actor, method, subject, \
     purpose, started_at, ended_at, outcome, registry, registry_us, note, payload_digest, body, \
     prev_hash, hash";

/// Where the next append links: the recorded head, or the newest record when that is further
/// on (a journal from before the head was recorded).
pub const HEAD: &str = "SELECT seq, hash FROM (\
     SELECT seq, hash FROM journal_head WHERE id = 1 \
     UNION ALL SELECT seq, hash FROM (SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1) AS newest\
     ) AS heads ORDER BY seq DESC LIMIT 1";

/// Records the head after an append, in its transaction.
pub const SET_HEAD: &str = "INSERT INTO journal_head (id, seq, hash) VALUES (1, $1, $2) \
     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";

/// The recorded head alone.
pub const RECORDED_HEAD: &str = "SELECT seq, hash FROM journal_head WHERE id = 1";

/// The journal and consent tables (SQL both backends understand), with `seq_type` as the type
/// of the journal's key: SQLite's `INTEGER PRIMARY KEY` is the table's own row id, where any other
/// spelling would build a second B-tree beside it; PostgreSQL's 64-bit integer is `BIGINT`.
pub fn tables(seq_type: &str) -> Vec<String> {
    let journal = format!(
        "CREATE TABLE IF NOT EXISTS journal (
        seq {seq_type} PRIMARY KEY,
        kind TEXT NOT NULL,
        request_id TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        client TEXT NOT NULL,
        actor TEXT NOT NULL,
        method TEXT NOT NULL,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        outcome INTEGER,
        registry TEXT NOT NULL,
        registry_us BIGINT,
        note TEXT NOT NULL,
        payload_digest TEXT NOT NULL,
        body TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)"
    );
    let rest = [
        "CREATE INDEX IF NOT EXISTS journal_request_id ON journal (request_id)",
        "CREATE INDEX IF NOT EXISTS journal_correlation_id ON journal (correlation_id)",
        // Subjects arrive in random order, so every insert into this index dirties a page of its
        // own: it was half the cost of an append. Indexing the request records alone halves that,
        // and a subject search reaches the responses through their request id (see `to_sql`).
        "DROP INDEX IF EXISTS journal_subject",
        "CREATE INDEX IF NOT EXISTS journal_request_subject ON journal (subject, seq) \
         WHERE kind = 'request'",
        "CREATE INDEX IF NOT EXISTS journal_started_at ON journal (started_at)",
        "CREATE TABLE IF NOT EXISTS consents (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        grantee TEXT NOT NULL,
        scope TEXT NOT NULL,
        way TEXT NOT NULL,
        reference TEXT NOT NULL,
        granted_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked_at BIGINT)",
        "CREATE INDEX IF NOT EXISTS consents_subject ON consents (subject, grantee)",
        // The chain's head as last appended: a record deleted from the tail leaves it behind,
        // so its number is never given again and `verify` names what is gone.
        "CREATE TABLE IF NOT EXISTS journal_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL)",
    ];
    std::iter::once(journal)
        .chain(rest.into_iter().map(String::from))
        .collect()
}

/// The consent table's columns, in the order the backends read them.
pub const CONSENT_COLUMNS: &str =
    "id, subject, grantee, scope, way, reference, granted_at, expires_at, revoked_at";

/// A journal search. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Exact request id.
    pub request_id: Option<String>,
    /// Exact correlation id.
    pub correlation_id: Option<String>,
    /// Exact client (`bin:<BIN>`).
    pub client: Option<String>,
    /// Exact subject (IIN or BIN).
    pub subject: Option<String>,
    /// Exact method, or every method of a service as `Service/*`.
    pub method: Option<String>,
    /// Any of these methods (the access log's personal-data reads).
    pub methods: Vec<String>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// gRPC status code of responses.
    pub outcome: Option<i32>,
    /// Requests or responses only.
    pub kind: Option<Kind>,
    /// Page cursor: records after this seq (before it when `newest_first`).
    pub after: Option<i64>,
    /// Newest records first.
    pub newest_first: bool,
    /// Page size.
    pub limit: usize,
}

/// A query parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// 64-bit integer (seqs, times).
    Int(i64),
    /// 32-bit integer (status codes).
    Int32(i32),
}

/// The `LIKE` pattern or exact value of a method filter.
pub fn method_filter(method: &str) -> (bool, String) {
    match method.strip_suffix("/*") {
        Some(service) => (true, format!("{service}/%")),
        None => (false, method.to_string()),
    }
}

impl Query {
    /// The page size actually used: `limit` within 1..=1000.
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, 1_000)
    }

    /// The cursor of the page after `page` (its last seq), when `page` was full.
    pub fn next_cursor(&self, page: &[super::Record]) -> Option<i64> {
        (page.len() >= self.page_size())
            .then(|| page.last().map(|r| r.seq))
            .flatten()
    }

    /// The query as SQL with its parameters.
    pub fn to_sql(&self) -> (String, Vec<Param>) {
        let mut sql = format!("SELECT {COLUMNS} FROM journal WHERE 1=1");
        let mut params = Vec::new();
        let mut push = |sql: &mut String, clause: &str, p: Param| {
            params.push(p);
            sql.push_str(&clause.replace('?', &format!("${}", params.len())));
        };
        let exact = [
            ("request_id", &self.request_id),
            ("correlation_id", &self.correlation_id),
            ("client", &self.client),
        ];
        for (column, value) in exact {
            if let Some(v) = value {
                push(
                    &mut sql,
                    &format!(" AND {column} = ?"),
                    Param::Text(v.clone()),
                );
            }
        }
        if let Some(v) = &self.subject {
            // Through the partial index on request records (both records of a call share it).
            push(
                &mut sql,
                " AND request_id IN (SELECT request_id FROM journal \
                 WHERE kind = 'request' AND subject = ?)",
                Param::Text(v.clone()),
            );
        }
        if let Some(m) = &self.method {
            let (like, value) = method_filter(m);
            let op = if like { "LIKE" } else { "=" };
            push(&mut sql, &format!(" AND method {op} ?"), Param::Text(value));
        }
        if !self.methods.is_empty() {
            sql.push_str(" AND method IN (");
            for (i, m) in self.methods.iter().enumerate() {
                let sep = if i == 0 { "?" } else { ", ?" };
                push(&mut sql, sep, Param::Text(m.clone()));
            }
            sql.push(')');
        }
        if let Some(t) = self.from {
            push(
                &mut sql,
                " AND started_at >= ?",
                Param::Int(super::to_micros(t)),
            );
        }
        if let Some(t) = self.to {
            push(
                &mut sql,
                " AND started_at < ?",
                Param::Int(super::to_micros(t)),
            );
        }
        if let Some(o) = self.outcome {
            push(&mut sql, " AND outcome = ?", Param::Int32(o));
        }
        if let Some(k) = self.kind {
            push(&mut sql, " AND kind = ?", Param::Text(k.as_str().into()));
        }
        if let Some(a) = self.after {
            let op = if self.newest_first { "<" } else { ">" };
            push(&mut sql, &format!(" AND seq {op} ?"), Param::Int(a));
        }
        let order = if self.newest_first { "DESC" } else { "ASC" };
        let limit = self.page_size();
        sql.push_str(&format!(" ORDER BY seq {order} LIMIT {limit}"));
        (sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order_of_appearance() {
        let q = Query {
            subject: Some("850101300510".into()),
            method: Some("kopir.v1.IdentityService/*".into()),
            methods: vec!["a".into(), "b".into()],
            outcome: Some(0),
            after: Some(10),
            newest_first: true,
            limit: 50,
            ..Query::default()
        };
        let (sql, params) = q.to_sql();
        assert!(sql.contains("subject = $1) AND method LIKE $2 AND method IN ($3, $4)"));
        assert!(sql.contains("outcome = $5 AND seq < $6 ORDER BY seq DESC LIMIT 50"));
        assert_eq!(params[1], Param::Text("kopir.v1.IdentityService/%".into()));
        assert_eq!(params.len(), 6);
    }
}
