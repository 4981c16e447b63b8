//! The knowledge store on real LMDB in temp dirs: bundled runbooks, incremental sync, schema
//! versions, damaged stores, concurrent processes, --no-persist, session memory and the CLI.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::knowledge::*;
use tai::knowledge::{Knowledge, KnowledgeError, OpenOptions, SessionSummary};

fn open(dir: &Path, embed: Option<String>) -> Result<Knowledge, KnowledgeError> {
    Knowledge::open_with(OpenOptions {
        dir: Some(dir.to_path_buf()),
        embed: embed.map(|u| (u, "nomic-embed-text".to_string())),
        rag_debug: false,
    })
}

fn runbook(service: &str, heading: &str, body: &str) -> String {
    format!("---\nservice: {service}\nsymptoms: [\"{service} broken\"]\ntags: [test]\n---\n# {service}\n\n## {heading}\n\n{body}\n")
}

#[tokio::test]
async fn fresh_store_searches_bundled_runbooks_without_a_server_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let k = open(dir.path(), Some(dead_endpoint())).unwrap();
    let started = Instant::now();
    let hits = k.search("nginx 502 bad gateway upstream", 5).await.unwrap();
    assert_eq!(hits[0].runbook, "nginx.md", "{hits:#?}");
    assert!(hits[0].bm25.is_some() && hits[0].vector.is_none());
    // The second search must not wait on the dead server again.
    let hits = k.search("No space left on device", 3).await.unwrap();
    assert_eq!(hits[0].runbook, "disk-full.md", "{hits:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(k.last_note().unwrap().contains("unreachable"));
    assert!(k.list().unwrap().len() >= 15);
}

#[test]
fn cli_sync_then_search_puts_the_nginx_runbook_first() {
    let home = tempfile::tempdir().unwrap();
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let out = ok(&tai(home.path())
        .args(["runbooks", "sync", "--path"])
        .arg(&runbooks)
        .output()
        .unwrap());
    assert!(out.contains("synced"), "{out}");
    let out = ok(&tai(home.path())
        .args([
            "runbooks",
            "search",
            "nginx 502 bad gateway upstream",
            "--json",
        ])
        .output()
        .unwrap());
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hits[0]["runbook"], "nginx.md", "{out}");
    assert!(hits[0]["citation"]
        .as_str()
        .unwrap()
        .starts_with("nginx.md#"));
    assert!(hits[0]["bm25"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["vector"].is_null());

    // --rag-debug shows both scores per result.
    let out = ok(&tai(home.path())
        .args([
            "runbooks",
            "search",
            "certificate has expired",
            "--rag-debug",
        ])
        .output()
        .unwrap());
    assert!(
        out.lines().next().unwrap().contains("tls-certificates.md#"),
        "{out}"
    );
    assert!(out.contains("bm25 ") && out.contains("vector -"), "{out}");

    let out = ok(&tai(home.path())
        .args(["runbooks", "list"])
        .output()
        .unwrap());
    assert!(
        out.contains("nginx.md") && out.contains("15 runbooks"),
        "{out}"
    );
}

#[tokio::test]
async fn sync_dir_is_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("app.md"),
        runbook("app", "Crash loop", "the app crashes on start"),
    )
    .unwrap();
    std::fs::write(
        src.path().join("queue.md"),
        runbook("queue", "Backlog", "messages pile up in the queue"),
    )
    .unwrap();
    std::fs::write(src.path().join("notes.txt"), "not a runbook").unwrap();
    let k = open(dir.path(), None).unwrap();
    let s = k.sync_dir(src.path()).await.unwrap();
    assert_eq!(s.added, vec!["app.md", "queue.md"]);
    let s = k.sync_dir(src.path()).await.unwrap();
    assert!(s.added.is_empty() && s.updated.is_empty());
    assert_eq!(s.unchanged.len(), 2);

    std::fs::write(
        src.path().join("app.md"),
        runbook("app", "Crash loop", "segfault in libfoo at start"),
    )
    .unwrap();
    std::fs::remove_file(src.path().join("queue.md")).unwrap();
    let s = k.sync_dir(src.path()).await.unwrap();
    assert_eq!(s.updated, vec!["app.md"]);
    assert_eq!(s.removed, vec!["queue.md"]);
    let hits = k.search("segfault libfoo", 3).await.unwrap();
    assert_eq!(hits[0].citation, "app.md#Crash loop");
    assert!(k
        .search("messages pile up backlog", 3)
        .await
        .unwrap()
        .iter()
        .all(|h| h.runbook != "queue.md"));
    // Old chunks of app.md are gone, not orphaned.
    assert!(k
        .search("crashes on start", 5)
        .await
        .unwrap()
        .iter()
        .all(|h| !h.text.contains("crashes on start")));

    let bad = src.path().join("bad.md");
    std::fs::write(&bad, "# no frontmatter\n").unwrap();
    let err = k.add_file(&bad).await.unwrap_err().to_string();
    assert!(
        err.contains("bad.md") && err.contains("frontmatter"),
        "{err}"
    );
}

fn session(host: &str, issue: &str, cause: &str) -> SessionSummary {
    SessionSummary {
        host: host.into(),
        issue: issue.into(),
        category: "service".into(),
        root_cause: cause.into(),
        actions: vec!["restart the app".into()],
        evidence: vec!["[T3] connect() failed (111: Connection refused)".into()],
        time: 1_764_000_000,
        model: Some("qwen3:4b".into()),
    }
}

/// Edit the store with heed directly, as an older or newer tai would have left it.
fn write_meta(dir: &Path, schema: u32, old_format_chunk: bool) {
    use heed::types::{Bytes, SerdeJson, Str};
    let env = unsafe {
        heed::EnvOpenOptions::new()
            .map_size(tai::knowledge::store::MAP_SIZE)
            .max_dbs(16)
            .max_readers(126)
            .open(dir)
    }
    .unwrap();
    let wtxn = env.write_txn().unwrap();
    env.create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
        let meta = dbo.create_database::<Str, SerdeJson<serde_json::Value>>(wtxn, Some("meta"))?;
        meta.put(wtxn, "schema_version", &serde_json::json!(schema))?;
        if old_format_chunk {
            let chunks = dbo.create_database::<Bytes, Bytes>(wtxn, Some("chunks"))?;
            chunks.put(wtxn, &[0, 0, 0, 1], b"old-format-chunk")?;
        }
        Ok(heed::CommitOrAbort::<(), ()>::Commit(()))
    })
    .unwrap();
}

#[tokio::test]
async fn older_schema_is_reindexed_and_keeps_sessions_and_runbooks() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("app.md"),
        runbook("app", "Crash loop", "segfault in libfoo"),
    )
    .unwrap();
    {
        let k = open(dir.path(), None).unwrap();
        k.sync_dir(src.path()).await.unwrap();
        k.record_session(session("web01", "nginx 502", "app down"))
            .await
            .unwrap();
    }
    // Make it look like a store from an older tai: schema 0 and chunks in a format today's
    // code cannot read.
    write_meta(dir.path(), 0, true);
    let k = open(dir.path(), None).unwrap();
    assert_eq!(
        k.schema_version().unwrap(),
        tai::knowledge::store::SCHEMA_VERSION
    );
    let hits = k.search("segfault libfoo", 3).await.unwrap();
    assert_eq!(hits[0].citation, "app.md#Crash loop");
    assert_eq!(
        k.search("nginx upstream", 1).await.unwrap()[0].runbook,
        "nginx.md"
    );
    let sessions = k.recent_sessions(None, 10).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].summary.root_cause, "app down");
}

#[tokio::test]
async fn newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    {
        let k = open(dir.path(), None).unwrap();
        k.record_session(session("db01", "slow queries", "locks"))
            .await
            .unwrap();
    }
    write_meta(dir.path(), 99, false);
    let before = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let err = open(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, KnowledgeError::NewerSchema { found: 99, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("newer tai") && msg.contains("nothing was changed"),
        "{msg}"
    );
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), before);

    // The CLI says the same and exits with the store code.
    let tai_home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tai_home.path().join("knowledge")).unwrap();
    std::fs::copy(
        dir.path().join("data.mdb"),
        tai_home.path().join("knowledge/data.mdb"),
    )
    .unwrap();
    let out = tai(tai_home.path()).args(["history"]).output().unwrap();
    assert_eq!(out.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer tai"));
}

#[test]
fn damaged_store_is_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("data.mdb"), &garbage).unwrap();
    let err = open(dir.path(), None).unwrap_err();
    assert!(matches!(err, KnowledgeError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("damaged")
            && msg.contains("move it aside")
            && msg.contains(&dir.path().display().to_string()),
        "{msg}"
    );
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), garbage);

    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("knowledge")).unwrap();
    std::fs::write(home.path().join("knowledge/data.mdb"), &garbage).unwrap();
    let out = tai(home.path())
        .args(["runbooks", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
    assert_eq!(
        std::fs::read(home.path().join("knowledge/data.mdb")).unwrap(),
        garbage
    );
}

#[test]
fn two_processes_writing_at_once_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    const PER_WRITER: usize = 8;
    for w in 0..2 {
        for i in 0..PER_WRITER {
            std::fs::write(
                src.path().join(format!("w{w}-{i}.md")),
                runbook(
                    &format!("svc{w}x{i}"),
                    "Check",
                    &format!("unique marker zq{w}q{i}"),
                ),
            )
            .unwrap();
        }
    }
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let home = home.path().to_path_buf();
            let src = src.path().to_path_buf();
            std::thread::spawn(move || {
                for i in 0..PER_WRITER {
                    ok(&tai(&home)
                        .args(["runbooks", "add"])
                        .arg(src.join(format!("w{w}-{i}.md")))
                        .output()
                        .unwrap());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let out = ok(&tai(home.path())
        .args(["runbooks", "list", "--json"])
        .output()
        .unwrap());
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for w in 0..2 {
        for i in 0..PER_WRITER {
            assert!(
                names.contains(&format!("w{w}-{i}.md").as_str()),
                "lost w{w}-{i}.md: {names:?}"
            );
        }
    }
    assert_eq!(names.len(), 15 + 2 * PER_WRITER);
    // Every added runbook is searchable (its chunks were written with it).
    let out = ok(&tai(home.path())
        .args(["runbooks", "search", "zq1q7", "--json"])
        .output()
        .unwrap());
    assert!(out.contains("w1-7.md#Check"), "{out}");
}

#[test]
fn no_persist_leaves_tai_home_untouched() {
    let home = tempfile::tempdir().unwrap();
    let before = tree(home.path());
    let out = ok(&tai(home.path())
        .args(["--no-persist", "runbooks", "search", "disk full", "--json"])
        .output()
        .unwrap());
    assert!(out.contains("disk-full.md#"), "{out}");
    ok(&tai(home.path())
        .args(["--no-persist", "runbooks", "sync"])
        .output()
        .unwrap());
    ok(&tai(home.path())
        .args(["--no-persist", "history"])
        .output()
        .unwrap());
    ok(&tai(home.path())
        .args(["runbooks", "list"])
        .env("TAI_NO_PERSIST", "1")
        .output()
        .unwrap());
    assert_eq!(
        tree(home.path()),
        before,
        "something was written under TAI_HOME"
    );
    assert!(before.is_empty());
}

#[tokio::test]
async fn no_persist_sessions_stay_in_memory_only() {
    let home = tempfile::tempdir().unwrap();
    let k = Knowledge::open_with(OpenOptions {
        dir: None,
        embed: None,
        rag_debug: false,
    })
    .unwrap();
    assert!(!k.persists());
    assert!(!k.path().starts_with(home.path()));
    k.record_session(session("web01", "nginx 502", "app down"))
        .await
        .unwrap();
    assert_eq!(k.recent_sessions(None, 5).unwrap().len(), 1);
    assert!(tree(home.path()).is_empty());
}

#[tokio::test]
async fn recorded_session_is_redacted_and_listed_by_tai_history() {
    let home = tempfile::tempdir().unwrap();
    let store = Knowledge::store_dir(home.path());
    {
        let k = open(&store, None).unwrap();
        let mut s = session(
            "web01",
            "nginx returns 502 since the deploy; DATABASE_URL=postgres://app:Sup3rS3cret@db01/app",
            "the app upstream on :8080 is down after the deploy (password=hunter2hunter)",
        );
        s.evidence.push(
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZw".into(),
        );
        s.evidence.push("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAB\n-----END OPENSSH PRIVATE KEY-----".into());
        s.actions.push(
            "rotate AKIAIOSFODNN7EXAMPLE and token ghp_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        );
        let id = k.record_session(s).await.unwrap();
        assert_eq!(id, 1);
        k.record_session(session("db01", "postgres too many clients", "pool leak"))
            .await
            .unwrap();

        let r = k
            .retrieve_for_issue("nginx 502 bad gateway", "web01")
            .await
            .unwrap();
        assert_eq!(r.runbook_sections[0].runbook, "nginx.md");
        assert_eq!(r.prior_sessions[0].summary.host, "web01");
        let prompt = r.to_prompt();
        assert!(
            prompt.contains("[runbook: nginx.md#") && prompt.contains("Prior sessions"),
            "{prompt}"
        );
        let ctx = k
            .context_for("nginx 502 bad gateway", "web01")
            .await
            .unwrap();
        assert!(
            ctx.contains("[runbook: nginx.md#") && ctx.contains("web01"),
            "{ctx}"
        );
        assert!(k
            .retrieved_this_session()
            .iter()
            .any(|c| c.starts_with("nginx.md#")));
        let text = k
            .search_history("502 deploy", Some("web01"), 5)
            .await
            .unwrap();
        assert!(
            text.contains("session 1") && text.contains("web01"),
            "{text}"
        );
        assert!(k
            .search_history("502 deploy", Some("db99"), 5)
            .await
            .unwrap()
            .starts_with("no past session on db99"));
        let text = k.search_runbooks("inode exhaustion", 2).await.unwrap();
        assert!(text.starts_with("[inodes.md#"), "{text}");
    }
    // Nothing secret reached the disk.
    let raw = std::fs::read(store.join("data.mdb")).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    for secret in [
        "Sup3rS3cret",
        "hunter2hunter",
        "c2lnbmF0dXJlLXNpZw",
        "b3BlbnNzaC1rZXktdjEAAAAAB",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnop",
    ] {
        assert!(!raw.contains(secret), "{secret} was persisted");
    }
    assert!(raw.contains("[REDACTED:"));

    let out = ok(&tai(home.path()).args(["history"]).output().unwrap());
    assert!(
        out.contains("web01") && out.contains("db01") && out.contains("nginx returns 502"),
        "{out}"
    );
    let out = ok(&tai(home.path())
        .args(["history", "too many clients", "--json"])
        .output()
        .unwrap());
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hits[0]["summary"]["host"], "db01", "{out}");
    let out = ok(&tai(home.path())
        .args(["history", "--host", "db01"])
        .output()
        .unwrap());
    assert!(out.contains("db01") && !out.contains("web01"), "{out}");
    let export = home.path().join("export.md");
    ok(&tai(home.path())
        .args(["history", "--export"])
        .arg(&export)
        .output()
        .unwrap());
    let md = std::fs::read_to_string(&export).unwrap();
    assert!(
        md.starts_with("# tai session history")
            && md.contains("## #1 web01")
            && md.contains("**Root cause:**"),
        "{md}"
    );
}

#[test]
fn evidence_patterns_come_from_the_relevant_runbooks() {
    let k = Knowledge::open_with(OpenOptions {
        dir: None,
        embed: None,
        rag_debug: false,
    })
    .unwrap();
    let p = k.evidence_patterns("nginx returns 502 bad gateway since the deploy", 5);
    eprintln!("{p:#?}");
    assert!(
        p.iter()
            .any(|s| s.contains("connect() failed (111: Connection refused)")),
        "{p:#?}"
    );
    assert!(p.iter().all(|s| s.contains(' ')));
}

/// The agent shares one `Knowledge` across tasks (as `Arc<dyn tools::KnowledgeSource>`): it
/// and the futures of the trait's methods must be `Send + Sync` / `Send`.
#[test]
fn knowledge_and_its_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let k = Knowledge::open_with(OpenOptions {
        dir: None,
        embed: None,
        rag_debug: false,
    })
    .unwrap();
    send_sync(&k);
    send(k.search_runbooks("disk", 1));
    send(k.search_history("disk", Some("web01"), 1));
    send(k.retrieve_for_issue("disk", "web01"));
    send(k.record_session(SessionSummary::default()));
}

#[tokio::test]
async fn bundled_runbooks_refresh_on_open_but_never_replace_your_own() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    {
        let k = open(dir.path(), None).unwrap();
        // Your own nginx.md replaces the bundled one.
        std::fs::write(
            src.path().join("nginx.md"),
            runbook(
                "nginx",
                "Our load balancer",
                "the f5 pool zqmarker drains nodes",
            ),
        )
        .unwrap();
        k.sync_dir(src.path()).await.unwrap();
    }
    let before = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let k = open(dir.path(), None).unwrap();
    // Opening again writes nothing when nothing changed.
    assert_eq!(std::fs::read(dir.path().join("data.mdb")).unwrap(), before);
    let hits = k.search("zqmarker", 1).await.unwrap();
    assert_eq!(hits[0].citation, "nginx.md#Our load balancer");
    let list = k.list().unwrap();
    assert_eq!(list.len(), 15);
    assert!(list
        .iter()
        .any(|r| r.name == "nginx.md" && r.source.ends_with("nginx.md") && r.source != "bundled"));
}

/// Two processes recording sessions through `record_session` at the same time: this test
/// re-runs itself as two child processes (selected by an environment variable) and checks
/// that every session of both arrived with a distinct id.
#[tokio::test]
async fn two_processes_recording_sessions_lose_nothing() {
    const PER_CHILD: usize = 25;
    if let Ok(dir) = std::env::var("TAI_KNOWLEDGE_TEST_CHILD_DIR") {
        let who = std::env::var("TAI_KNOWLEDGE_TEST_CHILD_ID").unwrap();
        let k = open(Path::new(&dir), None).unwrap();
        for i in 0..PER_CHILD {
            k.record_session(session(
                &format!("host{who}"),
                &format!("issue {who}-{i}"),
                "cause",
            ))
            .await
            .unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // libtest names a test by its module path without the crate (`suite::knowledge_store::..`).
    let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    let name = format!("{module}::two_processes_recording_sessions_lose_nothing");
    let children: Vec<_> = (0..2)
        .map(|who| {
            std::process::Command::new(&exe)
                .args(["--exact", &name, "--nocapture", "--test-threads=1"])
                .env("TAI_KNOWLEDGE_TEST_CHILD_DIR", dir.path())
                .env("TAI_KNOWLEDGE_TEST_CHILD_ID", who.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        // A filter that matches nothing also exits 0: make sure the child really ran this test.
        assert!(
            stdout.contains("1 passed"),
            "child did not run {name} (filter stale?): {stdout}"
        );
    }
    let k = open(dir.path(), None).unwrap();
    let all = k.recent_sessions(None, 1000).unwrap();
    assert_eq!(all.len(), 2 * PER_CHILD);
    let mut ids: Vec<u32> = all.iter().map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2 * PER_CHILD);
    for who in 0..2 {
        for i in 0..PER_CHILD {
            let issue = format!("issue {who}-{i}");
            assert!(
                all.iter()
                    .any(|s| s.summary.issue == issue && s.summary.host == format!("host{who}")),
                "lost {issue}"
            );
        }
    }
}

/// Store writes (LMDB write transactions, arroy builds) run on a blocking thread: on a
/// single-threaded runtime another task gets to run while a session is recorded and while
/// runbooks are synced, which cannot happen if the write blocks the runtime's only thread.
#[tokio::test(flavor = "current_thread")]
async fn store_writes_leave_the_async_runtime_free() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let k = open(dir.path(), None).unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let tick = |ticks: &Arc<AtomicUsize>| {
        let t = ticks.clone();
        tokio::spawn(async move {
            t.fetch_add(1, Ordering::SeqCst);
        });
    };
    tick(&ticks);
    k.record_session(SessionSummary {
        host: "web01".into(),
        issue: "disk full on /var".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        1,
        "record_session blocked the runtime"
    );

    let books = tempfile::tempdir().unwrap();
    std::fs::write(
        books.path().join("app.md"),
        runbook("app", "Crash loops", "Read `journalctl -u app`."),
    )
    .unwrap();
    tick(&ticks);
    k.sync_dir(books.path()).await.unwrap();
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        2,
        "sync_dir blocked the runtime"
    );
}
