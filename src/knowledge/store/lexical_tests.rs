//! The persisted index ranks exactly as an in-memory BM25 index over the same records, stays
//! current through the writes that maintain it, and is rebuilt after any other write.
use super::*;
use crate::knowledge::bm25::Bm25Index;
use crate::knowledge::SessionSummary;

const WORDS: &[&str] = &[
    "nginx",
    "502",
    "upstream",
    "timeout",
    "disk",
    "full",
    "postgres",
    "replication",
    "lag",
    "ssh",
    "denied",
    "dns",
    "resolution",
    "failing",
    "oom",
    "killer",
    "memory",
    "cron",
    "certificate",
    "expired",
    "kafka",
    "consumer",
    "redis",
    "evictions",
    "swap",
];

fn summary(i: u32) -> SessionSummary {
    let w = |k: u32| WORDS[((i * 7 + k * 13) % WORDS.len() as u32) as usize];
    SessionSummary {
        host: format!("web{:02}", i % 5),
        issue: format!("{} {} {}", w(0), w(1), w(2)),
        category: "service".into(),
        root_cause: format!("{} {} after {}", w(3), w(4), w(0)),
        actions: vec![format!("restart {}", w(5))],
        evidence: vec![],
        time: 1_700_000_000 + u64::from(i),
        model: None,
    }
}

fn store_with(n: u32) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 0..n {
        let s = summary(i);
        let hash = crate::knowledge::store::sha256_hex(&s.index_text());
        store.add_session(s, hash, None).unwrap();
    }
    (dir, store)
}

/// What the search used to do: load every session and build BM25 over them.
fn in_memory(store: &Store, query: &str, host: Option<&str>) -> Vec<(u32, f32)> {
    let mut all = store.sessions().unwrap();
    all.retain(|s| host.is_none_or(|h| s.summary.host == h));
    let texts: Vec<String> = all.iter().map(|s| s.summary.index_text()).collect();
    Bm25Index::build(texts.iter().map(String::as_str))
        .search(query, 50)
        .into_iter()
        .map(|(i, s)| (all[i].id, s))
        .collect()
}

const QUERIES: &[&str] = &[
    "nginx 502 upstream",
    "disk full",
    "postgres replication lag on web03",
    "certificate expired",
    "nothing matches zzz",
    "restart redis",
];

#[test]
fn sessions_rank_exactly_as_before() {
    let (_dir, store) = store_with(120);
    for q in QUERIES {
        for host in [None, Some("web03"), Some("nohost")] {
            let got = store.lexical_search(Kind::Sessions, q, host, 50).unwrap();
            assert_eq!(got, in_memory(&store, q, host), "{q:?} on {host:?}");
        }
    }
    assert!(store.lexical_is_current(Kind::Sessions).unwrap());
}

#[test]
fn runbook_chunks_rank_exactly_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let updates: Vec<crate::knowledge::store::RunbookUpdate> = crate::knowledge::runbook::BUNDLED
        .iter()
        .map(|(name, text)| crate::knowledge::store::RunbookUpdate {
            runbook: crate::knowledge::runbook::parse(name, text).unwrap(),
            source: "bundled".into(),
            text: text.to_string(),
            hash: crate::knowledge::store::sha256_hex(text),
        })
        .collect();
    store.write_runbooks(&updates, &[], None).unwrap();
    // Written with the chunks, in the same transaction.
    assert!(store.lexical_is_current(Kind::Runbooks).unwrap());
    let chunks = store.chunks().unwrap();
    let index = Bm25Index::build(chunks.iter().map(|c| c.text.as_str()));
    for q in [
        "nginx 502 bad gateway",
        "disk full no space left on device",
        "dns resolution fails",
        "ssh permission denied publickey",
        "oom killer",
    ] {
        let want: Vec<(u32, f32)> = index
            .search(q, 50)
            .into_iter()
            .map(|(i, s)| (chunks[i].id, s))
            .collect();
        assert!(!want.is_empty(), "{q}");
        assert_eq!(
            store.lexical_search(Kind::Runbooks, q, None, 50).unwrap(),
            want
        );
    }
    // Removing a runbook re-indexes at once.
    let gone = updates[0].runbook.name.clone();
    store.write_runbooks(&[], &[gone], None).unwrap();
    assert!(store.lexical_is_current(Kind::Runbooks).unwrap());
    let chunks = store.chunks().unwrap();
    let index = Bm25Index::build(chunks.iter().map(|c| c.text.as_str()));
    let want: Vec<(u32, f32)> = index
        .search("nginx 502", 50)
        .into_iter()
        .map(|(i, s)| (chunks[i].id, s))
        .collect();
    assert_eq!(
        store
            .lexical_search(Kind::Runbooks, "nginx 502", None, 50)
            .unwrap(),
        want
    );
}

#[test]
fn appending_sessions_keeps_the_index_current() {
    let (_dir, store) = store_with(30);
    store
        .lexical_search(Kind::Sessions, "nginx", None, 50)
        .unwrap();
    assert!(store.lexical_is_current(Kind::Sessions).unwrap());
    for i in 30..40 {
        let s = summary(i);
        let hash = crate::knowledge::store::sha256_hex(&s.index_text());
        store.add_session(s, hash, None).unwrap();
        assert!(
            store.lexical_is_current(Kind::Sessions).unwrap(),
            "session {i} was added to the index in its own transaction"
        );
    }
    for q in QUERIES {
        assert_eq!(
            store
                .lexical_search(Kind::Sessions, q, Some("web01"), 50)
                .unwrap(),
            in_memory(&store, q, Some("web01"))
        );
    }
}

#[test]
fn any_other_write_makes_it_stale_and_the_next_search_rebuilds() {
    let (_dir, store) = store_with(40);
    store
        .lexical_search(Kind::Sessions, "disk", None, 50)
        .unwrap();
    // A writer that knows nothing of the index (cleanup, import, an older tai): replace a
    // session in place, so the count and the last id stay the same.
    {
        let mut wtxn = store.env.write_txn().unwrap();
        let mut rec = store.sessions.get(&wtxn, &7).unwrap().unwrap();
        rec.summary.issue = "kafka consumer lag everywhere".into();
        store.sessions.put(&mut wtxn, &7, &rec).unwrap();
        wtxn.commit().unwrap();
    }
    assert!(!store.lexical_is_current(Kind::Sessions).unwrap());
    let got = store
        .lexical_search(Kind::Sessions, "kafka consumer", None, 50)
        .unwrap();
    assert_eq!(got, in_memory(&store, "kafka consumer", None));
    assert!(got.iter().any(|(id, _)| *id == 7), "{got:?}");
    assert!(store.lexical_is_current(Kind::Sessions).unwrap());
}

#[test]
fn a_reopened_store_needs_no_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        for i in 0..10 {
            let s = summary(i);
            let hash = crate::knowledge::store::sha256_hex(&s.index_text());
            store.add_session(s, hash, None).unwrap();
        }
        store
            .lexical_search(Kind::Sessions, "nginx", None, 5)
            .unwrap();
        assert!(store.lexical_is_current(Kind::Sessions).unwrap());
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(
        store.lexical_is_current(Kind::Sessions).unwrap(),
        "opening the store must not invalidate the index"
    );
}
