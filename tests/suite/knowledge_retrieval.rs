//! The labelled retrieval set (`knowledge_retrieval_set.tsv`, >= 40 queries, each with the
//! runbook section an SRE would want) evaluated for BM25 alone and for hybrid retrieval
//! (vectors from the wiremock `/api/embed` server, see tests/support/knowledge.rs). Prints recall@1 and
//! recall@3 for BENCHMARKS.md and holds them to fixed floors.

use crate::support::knowledge::*;
use tai::knowledge::{Knowledge, OpenOptions};

struct Case {
    query: String,
    expected: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("knowledge_retrieval_set.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (q, e) = l.split_once('\t').expect("query<TAB>expected");
            Case {
                query: q.to_string(),
                expected: e.split('|').map(|s| s.trim().to_string()).collect(),
            }
        })
        .collect()
}

struct Score {
    at1: f64,
    at3: f64,
    runbook_at1: f64,
    misses: Vec<String>,
}

async fn evaluate(k: &Knowledge, cases: &[Case]) -> Score {
    let (mut at1, mut at3, mut rb1) = (0, 0, 0);
    let mut misses = Vec::new();
    for c in cases {
        let hits = k.search(&c.query, 3).await.unwrap();
        let cites: Vec<String> = hits.iter().map(|h| h.citation.clone()).collect();
        if cites.first().is_some_and(|f| c.expected.contains(f)) {
            at1 += 1;
        }
        if cites.iter().any(|f| c.expected.contains(f)) {
            at3 += 1;
        } else {
            misses.push(format!(
                "{:?} → {:?} (wanted {:?})",
                c.query, cites, c.expected
            ));
        }
        let want_rb: Vec<&str> = c
            .expected
            .iter()
            .map(|e| e.split('#').next().unwrap())
            .collect();
        if hits
            .first()
            .is_some_and(|h| want_rb.contains(&h.runbook.as_str()))
        {
            rb1 += 1;
        }
    }
    let n = cases.len() as f64;
    Score {
        at1: at1 as f64 / n,
        at3: at3 as f64 / n,
        runbook_at1: rb1 as f64 / n,
        misses,
    }
}

#[tokio::test]
async fn labelled_set_bm25_and_hybrid() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());

    let dir = tempfile::tempdir().unwrap();
    let bm25 = Knowledge::open_with(OpenOptions {
        dir: Some(dir.path().to_path_buf()),
        embed: Some((dead_endpoint(), "nomic-embed-text".into())),
        rag_debug: false,
    })
    .unwrap();
    // Every label must name a real section.
    for c in &cases {
        for e in &c.expected {
            let (rb, section) = e.split_once('#').unwrap();
            let text = tai::knowledge::runbook::BUNDLED
                .iter()
                .find(|(n, _)| *n == rb)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| panic!("label {e} names no bundled runbook"));
            let parsed = tai::knowledge::runbook::parse(rb, text).unwrap();
            assert!(
                parsed.sections.iter().any(|s| s.heading == section),
                "no section {e}"
            );
        }
    }
    let lexical = evaluate(&bm25, &cases).await;

    let server = embed_server("nomic-embed-text").await;
    let dir2 = tempfile::tempdir().unwrap();
    let hybrid = Knowledge::open_with(OpenOptions {
        dir: Some(dir2.path().to_path_buf()),
        embed: Some((server.uri(), "nomic-embed-text".into())),
        rag_debug: false,
    })
    .unwrap();
    hybrid.sync_bundled().await.unwrap();
    let fused = evaluate(&hybrid, &cases).await;
    assert!(hybrid.search(&cases[0].query, 1).await.unwrap()[0]
        .vector
        .is_some());

    eprintln!("retrieval set: {} queries", cases.len());
    eprintln!(
        "BM25:   recall@1 {:.3}  recall@3 {:.3}  runbook@1 {:.3}",
        lexical.at1, lexical.at3, lexical.runbook_at1
    );
    eprintln!(
        "hybrid: recall@1 {:.3}  recall@3 {:.3}  runbook@1 {:.3}",
        fused.at1, fused.at3, fused.runbook_at1
    );
    for m in &lexical.misses {
        eprintln!("BM25 miss: {m}");
    }
    for m in &fused.misses {
        eprintln!("hybrid miss: {m}");
    }
    assert!(lexical.at3 >= 0.80, "BM25 recall@3 {:.3}", lexical.at3);
    assert!(
        lexical.runbook_at1 >= 0.90,
        "BM25 runbook@1 {:.3}",
        lexical.runbook_at1
    );
    assert!(fused.at3 >= 0.80, "hybrid recall@3 {:.3}", fused.at3);
}
