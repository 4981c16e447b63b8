//! Embeddings over Ollama's exact `/api/embed` wire format (served by wiremock): batching,
//! prefixes, the content-hash cache, hybrid ranking with both scores, and fallbacks.

use std::path::Path;

use crate::support::knowledge::*;
use tai::knowledge::{Knowledge, OpenOptions, SessionSummary};

fn open(dir: &Path, url: &str, model: &str) -> Knowledge {
    Knowledge::open_with(OpenOptions {
        dir: Some(dir.to_path_buf()),
        embed: Some((url.to_string(), model.to_string())),
        rag_debug: true,
    })
    .unwrap()
}

#[tokio::test]
async fn sync_embeds_in_batches_with_prefixes_and_never_twice() {
    let server = embed_server("nomic-embed-text").await;
    let dir = tempfile::tempdir().unwrap();
    // An OpenAI-style base URL is accepted: /v1 is stripped for /api/embed.
    let k = open(
        dir.path(),
        &format!("{}/v1", server.uri()),
        "nomic-embed-text",
    );
    let stats = k.sync_bundled().await.unwrap();
    let sections: usize = k.list().unwrap().iter().map(|r| r.chunks).sum();
    assert_eq!(stats.embedded_chunks, sections);
    assert!(k.list().unwrap().iter().all(|r| r.vectors == r.chunks));

    let reqs = server.received_requests().await.unwrap();
    assert!(reqs.len() >= sections.div_ceil(32));
    for r in &reqs {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/api/embed");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "only model and input: {body}"
        );
        assert_eq!(body["model"], "nomic-embed-text");
        let input = body["input"].as_array().unwrap();
        assert!(!input.is_empty() && input.len() <= 32);
        assert!(input
            .iter()
            .all(|t| t.as_str().unwrap().starts_with("search_document: ")));
    }

    // Unchanged runbooks are never re-embedded, even from a new process-level client.
    let (before, _) = embed_calls(&server).await;
    let stats = k.sync_bundled().await.unwrap();
    assert_eq!(stats.embedded_chunks, 0);
    assert_eq!(embed_calls(&server).await.0, before);

    // A changed runbook embeds only its own sections.
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("app.md"),
        "---\nservice: app\nsymptoms: [crash]\ntags: [t]\n---\n# App\n\n## Crash loop\n\nsegfault in libfoo\n\n## Logs\n\nread_journal for app\n",
    )
    .unwrap();
    let (_, texts_before) = embed_calls(&server).await;
    let stats = k.sync_dir(src.path()).await.unwrap();
    assert_eq!(stats.embedded_chunks, 2);
    assert_eq!(embed_calls(&server).await.1 - texts_before, 2);
}

#[tokio::test]
async fn hybrid_search_reports_both_scores_and_uses_the_query_prefix() {
    let server = embed_server("nomic-embed-text").await;
    let dir = tempfile::tempdir().unwrap();
    let k = open(dir.path(), &server.uri(), "nomic-embed-text");
    k.sync_bundled().await.unwrap();
    let hits = k.search("nginx 502 bad gateway upstream", 5).await.unwrap();
    assert_eq!(hits[0].runbook, "nginx.md", "{hits:#?}");
    assert!(
        hits[0].bm25.is_some() && hits[0].vector.is_some(),
        "{:?}",
        hits[0]
    );
    assert!(hits
        .iter()
        .all(|h| h.vector.is_none_or(|v| (-1.0..=1.0).contains(&v))));
    let last = server.received_requests().await.unwrap().pop().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(
        body["input"][0],
        "search_query: nginx 502 bad gateway upstream"
    );
    assert!(k.last_note().is_none());
    let text = k.search_runbooks("certificate expired", 2).await.unwrap();
    assert!(
        text.contains("bm25 ") && text.contains("vector 0."),
        "{text}"
    );
}

#[tokio::test]
async fn sessions_get_vectors_and_backfill_after_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let s = |host: &str, issue: &str| SessionSummary {
        host: host.into(),
        issue: issue.into(),
        category: "disk".into(),
        root_cause: "logs not rotated".into(),
        actions: vec!["enable logrotate".into()],
        ..Default::default()
    };
    // First without a server: stored, BM25-searchable, no vector.
    {
        let k = open(dir.path(), &dead_endpoint(), "nomic-embed-text");
        k.record_session(s("web01", "disk full on /var"))
            .await
            .unwrap();
        assert!(k.last_note().unwrap().contains("without a vector"));
        let hits = k.search_sessions("disk full", None, 5).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].vector.is_none());
    }
    let server = embed_server("nomic-embed-text").await;
    let k = open(dir.path(), &server.uri(), "nomic-embed-text");
    k.record_session(s("web02", "no space left on /srv"))
        .await
        .unwrap();
    let hits = k
        .search_sessions("disk full on /var", None, 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|h| h.vector.is_some()),
        "backfilled: {hits:#?}"
    );
    assert_eq!(hits[0].summary.host, "web01");
}

#[tokio::test]
async fn missing_model_and_dead_server_fall_back_to_bm25() {
    let server = embed_server("nomic-embed-text").await;
    let dir = tempfile::tempdir().unwrap();
    let k = open(dir.path(), &server.uri(), "no-such-embedder");
    let hits = k.search("disk full", 3).await.unwrap();
    assert_eq!(hits[0].runbook, "disk-full.md");
    assert!(hits[0].vector.is_none());
    let note = k.last_note().unwrap();
    assert!(note.contains("ollama pull no-such-embedder"), "{note}");
    // Remembered by the client for the cool-down: no second request for the same model.
    let n = embed_calls(&server).await.0;
    k.search("inode", 3).await.unwrap();
    assert_eq!(embed_calls(&server).await.0, n);
}

#[test]
fn cli_uses_the_configured_embedding_endpoint() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(embed_server("nomic-embed-text"));
    let home = tempfile::tempdir().unwrap();
    let out = ok(&tai(home.path())
        .env("TAI_EMBED_BASE_URL", server.uri())
        .args(["runbooks", "sync"])
        .output()
        .unwrap());
    assert!(!out.contains(" 0 sections embedded"), "{out}");
    let out = ok(&tai(home.path())
        .env("TAI_EMBED_BASE_URL", server.uri())
        .args([
            "runbooks",
            "search",
            "ssh permission denied publickey",
            "--rag-debug",
        ])
        .output()
        .unwrap());
    let first = out.lines().next().unwrap();
    assert!(
        first.contains("ssh.md#") && first.contains("bm25 ") && first.contains("vector 0."),
        "{out}"
    );
    let out = ok(&tai(home.path())
        .env("TAI_EMBED_MODEL", "other-model")
        .env("TAI_EMBED_BASE_URL", server.uri())
        .args([
            "runbooks",
            "search",
            "ssh permission denied publickey",
            "--rag-debug",
        ])
        .output()
        .unwrap());
    assert!(out.lines().next().unwrap().contains("vector -"), "{out}");
}

#[tokio::test]
async fn a_failure_is_remembered_per_client_and_retried_after_the_cooldown() {
    use std::time::Duration;
    use tai::knowledge::embed::Embedder;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let server = embed_server("nomic-embed-text").await;
    // One 503 (a model still loading), then answers.
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(ResponseTemplate::new(503).set_body_string("loading model"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let e =
        Embedder::new(&server.uri(), "nomic-embed-text").with_cooldown(Duration::from_millis(300));
    let err = e.embed_query("disk full").await.unwrap_err();
    assert!(
        matches!(
            &err,
            tai::knowledge::embed::EmbedError::Http { status: 503, .. }
        ),
        "{err}"
    );
    // Within the cool-down: the remembered reason, no request.
    assert_eq!(e.embed_query("disk full").await.unwrap_err(), err);
    assert_eq!(e.clone().embed_query("disk full").await.unwrap_err(), err);
    assert_eq!(embed_calls(&server).await.0, 1);
    // Another client (another store) is not turned off by this one's failure.
    let other = Embedder::new(&server.uri(), "nomic-embed-text");
    assert!(other.embed_query("disk full").await.is_ok());
    assert_eq!(embed_calls(&server).await.0, 2);
    // After the cool-down the server is tried again and used.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(e.embed_query("disk full").await.is_ok());
    assert!(e.known_unavailable().is_none());
    assert_eq!(embed_calls(&server).await.0, 3);
}
