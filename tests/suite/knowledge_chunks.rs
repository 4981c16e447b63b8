//! Tier 1 through the API the agent loop calls: `Knowledge::select_chunks` over a session's
//! tool outputs, with and without an embedding server, against repeated noise and one-off
//! distractor errors.

use crate::support::knowledge::*;
use tai::knowledge::chunks::SessionChunks;
use tai::knowledge::{Knowledge, OpenOptions};
use tai::tools::{CallStatus, CommandRecord, ToolCall, ToolOutcome};

const EVIDENCE: &str = "nginx[1211]: 2026/11/25 08:31:07 [error] 1211#1211: *8812 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.4.7, upstream: \"http://127.0.0.1:8080/cart\"";

fn journal(lines: usize, evidence_at: usize) -> String {
    let distractors = [
        "app[2211]: ERROR unhandled exception in worker: KeyError 'sku'",
        "systemd[1]: Failed to start backup.service - Nightly backup.",
        "kernel: nfs: server files01 not responding, still trying",
        "postgres[990]: FATAL:  password authentication failed for user \"report\"",
        "chronyd[402]: Can't synchronise: no selectable sources",
        "sudo[4410]: pam_unix(sudo:auth): authentication failure; logname=deploy",
    ];
    let mut out = String::new();
    for i in 0..lines {
        let ts = format!("Nov 25 08:{:02}:{:02} web01", i / 60 % 60, i % 60);
        let line = if i == evidence_at {
            EVIDENCE.to_string()
        } else if i % 700 == 350 {
            distractors[(i / 700) % distractors.len()].to_string()
        } else if i % 5 == 0 {
            format!("sshd[{}]: error: kex_exchange_identification: Connection closed by remote host port {}", 3000 + i, 40000 + i)
        } else if i % 5 == 1 {
            format!(
                "nginx[1211]: 10.0.1.{} - - \"GET /static/app.js HTTP/1.1\" 200 {}",
                i % 250,
                1000 + i
            )
        } else {
            format!(
                "app[2211]: INFO handled GET /api/items/{i} status=200 in {} ms",
                i % 80
            )
        };
        out.push_str(&format!("{ts} {line}\n"));
    }
    out
}

fn outcome(id: &str, tool: &str, command: &str, output: String) -> ToolOutcome {
    ToolOutcome {
        call: ToolCall {
            id: id.into(),
            tool: tool.into(),
            args: serde_json::json!({}),
        },
        status: CallStatus::Ok,
        commands: vec![CommandRecord {
            command: command.into(),
            status: CallStatus::Ok,
            exit_code: Some(0),
            duration_ms: 12,
            stdout: output.clone(),
            stderr: String::new(),
            truncated: 0,
            note: None,
        }],
        output,
        duration_ms: 12,
    }
}

fn session(evidence_at: usize) -> SessionChunks {
    let mut sc = SessionChunks::default();
    sc.add_outcome(&outcome(
        "T1",
        "read_journal",
        "journalctl --no-pager -n 6000",
        journal(6000, evidence_at),
    ));
    sc.add_outcome(&outcome(
        "T2",
        "list_sockets",
        "ss -tlnp",
        "LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:((\"nginx\",pid=1211,fd=6))\n".into(),
    ));
    sc
}

#[tokio::test]
async fn select_chunks_finds_the_evidence_without_an_embedding_server() {
    let k = Knowledge::open_with(OpenOptions {
        dir: None,
        embed: Some((dead_endpoint(), "nomic-embed-text".into())),
        rag_debug: false,
    })
    .unwrap();
    for evidence_at in [17, 1999, 4321, 5990] {
        let mut sc = session(evidence_at);
        let sel = k
            .select_chunks(
                &mut sc,
                "nginx returns 502 bad gateway since the deploy",
                3000,
            )
            .await;
        assert!(
            sel.rendered
                .contains("connect() failed (111: Connection refused)"),
            "evidence at {evidence_at}: {}",
            sel.summary()
        );
        assert!(
            sel.tokens_sent <= 3000 && sel.saving() > 0.9,
            "{}",
            sel.summary()
        );
        assert!(!sel.vectors_used);
        // The small socket list goes along: it answers "who listens on :80".
        assert!(
            sel.rendered.contains("[T2 list_sockets `ss -tlnp`"),
            "{}",
            sel.rendered
        );
        assert!(sel.rendered.contains("chunks not shown"));
    }
}

#[tokio::test]
async fn select_chunks_uses_vectors_when_the_server_answers() {
    let server = embed_server("nomic-embed-text").await;
    let k = Knowledge::open_with(OpenOptions {
        dir: None,
        embed: Some((server.uri(), "nomic-embed-text".into())),
        rag_debug: true,
    })
    .unwrap();
    let mut sc = session(3333);
    let sel = k
        .select_chunks(&mut sc, "nginx upstream connection refused", 3000)
        .await;
    assert!(sel.vectors_used);
    assert!(sel
        .rendered
        .contains("connect() failed (111: Connection refused)"));
    let ev = sel
        .chunks
        .iter()
        .find(|c| c.chunk.text.contains("connect() failed"))
        .unwrap();
    assert!(ev.bm25.is_some() && ev.vector.is_some(), "{ev:?}");
    // Chunks are embedded once: a second question embeds only the query.
    let (_, texts_before) = embed_calls(&server).await;
    let _ = k
        .select_chunks(&mut sc, "who listens on port 80", 3000)
        .await;
    assert_eq!(embed_calls(&server).await.1 - texts_before, 1);
}
