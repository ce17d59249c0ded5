//! `kopir journal verify` as an auditor runs it: a mistyped path is refused (exit 2, naming it)
//! instead of creating an empty journal that "verifies"; records deleted from the tail are found
//! (exit 1, naming them), and the numbers they had are never given again.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use kopir_store::journal::sqlite::SqliteStore;
use kopir_store::journal::{Entry, Store};

fn verify(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kopir"))
        .args(["journal", "verify"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn entry(n: usize) -> Entry {
    Entry::request(
        &format!("r-{n}"),
        "bin:000940001238",
        "kopir.v1.IdentityService/GetPerson",
        "850101300510",
        "audit test",
        "{}",
    )
}

#[tokio::test]
async fn verify_refuses_a_missing_journal_and_names_a_deleted_tail() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded configuration's journal, `kopir-journal.db` in the working folder: absent.
    let (code, text) = verify(dir.path());
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("kopir-journal.db"), "{text}");
    assert!(
        !dir.path().join("kopir-journal.db").exists(),
        "a reading command created a journal"
    );

    let path = dir.path().join("kopir-journal.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append((1..=10).map(entry).collect()).await.unwrap();
    let (code, text) = verify(dir.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("CHAIN INTACT: 10 records"), "{text}");

    // Whoever holds the file deletes the newest three records.
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        conn.execute("DELETE FROM journal WHERE seq > 7", [])
            .unwrap(),
        3
    );
    drop(conn);
    let (code, text) = verify(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("records 8..=10 were deleted"), "{text}");

    // The next append does not take their numbers.
    let seqs = store.append(vec![entry(11)]).await.unwrap();
    assert_eq!(seqs, vec![11]);
    let (code, text) = verify(dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("jumps from record 7 to record 11"), "{text}");
}
