//! Tier-1 retrieval in the loop: a tool output far over its cap reaches the model as the chunks
//! relevant to the question (the evidence line buried mid-output included), not head and tail;
//! `--no-rag` (SessionOptions::rag = false) falls back to head and tail. With a knowledge
//! store whose embedding server answers, the output's chunks and the question are embedded
//! (vector-assisted selection); while the server is known to be down, no request is sent.

use std::sync::Arc;

use crate::support::knowledge::{embed_calls, embed_server};
use crate::support::model::*;
use serde_json::json;
use tai::agent::{Session, SessionOptions, ToolRunner};
use tai::knowledge::{Knowledge, OpenOptions};
use tai::llm::{ModelClient, ToolDef, ToolMode};
use tai::tools::{CallStatus, CommandRecord, HostFacts, ToolCall, ToolError, ToolOutcome};
use tokio_util::sync::CancellationToken;

const M: &str = "qwen3:4b";
const EVIDENCE: &str = "2026-11-25T09:14:02+0000 web01 nginx[2231]: 2026/11/25 09:14:02 [error] 2231#2231: *118 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.7, server: shop, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\"";

/// A journal of routine lines from several services with one evidence line in the middle.
fn big_journal() -> String {
    let mut lines = Vec::new();
    for i in 0..6000 {
        let line = match i % 4 {
            0 => format!("2026-11-25T08:{:02}:{:02}+0000 web01 CRON[{}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)", (i / 60) % 60, i % 60, 1000 + i),
            1 => format!("2026-11-25T08:{:02}:{:02}+0000 web01 systemd[1]: Started session-{i}.scope - Session {i} of User deploy.", (i / 60) % 60, i % 60),
            2 => format!("2026-11-25T08:{:02}:{:02}+0000 web01 app[812]: GET /healthz 200 1ms request_id={i:08x}", (i / 60) % 60, i % 60),
            _ => format!("2026-11-25T08:{:02}:{:02}+0000 web01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.{} DST=10.0.0.5 PROTO=TCP DPT=23", (i / 60) % 60, i % 60, i % 250),
        };
        lines.push(line);
        if i == 3100 {
            lines.push(EVIDENCE.to_string());
        }
    }
    lines.join("\n")
}

struct BigOutput;

#[async_trait::async_trait]
impl ToolRunner for BigOutput {
    fn specs(&self) -> Vec<ToolDef> {
        vec![ToolDef {
            name: "read_journal".into(),
            description: "read the journal".into(),
            parameters: json!({"type": "object", "properties": {"unit": {"type": "string"}}}),
        }]
    }
    fn facts(&self) -> HostFacts {
        HostFacts {
            os_pretty: "Debian GNU/Linux 12 (bookworm)".into(),
            family: "debian".into(),
            hostname: "web01".into(),
            ..Default::default()
        }
    }
    async fn run_all(
        &self,
        calls: &[ToolCall],
        _cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>> {
        calls
            .iter()
            .map(|c| {
                Ok(ToolOutcome {
                    call: c.clone(),
                    status: CallStatus::Ok,
                    commands: vec![CommandRecord {
                        command: "journalctl --no-pager -n 10000".into(),
                        status: CallStatus::Ok,
                        exit_code: Some(0),
                        duration_ms: 40,
                        stdout: String::new(),
                        stderr: String::new(),
                        truncated: 0,
                        note: None,
                    }],
                    output: big_journal(),
                    duration_ms: 40,
                })
            })
            .collect()
    }
    async fn collect(
        &self,
        _c: tai::plan::Category,
        _n: &mut u32,
        _x: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, ToolError> {
        Ok(Vec::new())
    }
}

fn client(base: &str) -> ModelClient {
    test_client(base, M)
}

const FINAL: &str = "## Root Cause\nThe upstream on 127.0.0.1:8080 refuses connections.\n\n## Evidence\n- connect() failed (111: Connection refused) [T1]\n\n## Recommended Actions\n1. `systemctl status app`\n\n## Confidence\nhigh";

/// Run one turn where the model reads the big journal; return the tool result it was sent.
async fn tool_result_sent(rag: bool) -> (String, Session) {
    tool_result_sent_with(rag, None).await
}

/// [`tool_result_sent`] with the session's knowledge store.
async fn tool_result_sent_with(rag: bool, knowledge: Option<Arc<Knowledge>>) -> (String, Session) {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_a", "read_journal", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let mut opts = SessionOptions::new("web01", 6);
    opts.rag = rag;
    if let Some(k) = knowledge {
        opts = opts.with_knowledge(k);
    }
    let mut sess = Session::new(
        opts,
        client(&s.v1_url()),
        Arc::new(BigOutput),
        ToolMode::Native,
    );
    sess.turn(
        "nginx returns 502 bad gateway since the deploy",
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let results = tool_results(&reqs[1]);
    assert_eq!(results.len(), 1);
    (results[0].1.clone(), sess)
}

#[tokio::test]
async fn large_output_is_sent_as_relevant_chunks_with_the_evidence() {
    let full_chars = big_journal().len();
    let (sent, sess) = tool_result_sent(true).await;
    assert!(
        sent.contains("connect() failed (111: Connection refused) while connecting to upstream"),
        "the evidence line mid-output must reach the model:\n{}",
        &sent[..sent.len().min(3000)]
    );
    assert!(sent.contains("most relevant to the question"), "{sent}");
    assert!(
        sent.len() < full_chars / 20,
        "sent {} of {full_chars} chars",
        sent.len()
    );
    let (tokens_sent, tokens_full) = sess.retrieval_tokens();
    assert!(
        tokens_full > 20 * tokens_sent && tokens_sent > 0,
        "{tokens_sent} of {tokens_full}"
    );
}

#[tokio::test]
async fn no_rag_sends_head_and_tail_instead() {
    let (sent, sess) = tool_result_sent(false).await;
    assert!(
        !sent.contains("while connecting to upstream"),
        "head+tail cannot hold the mid-output line"
    );
    assert!(
        sent.contains("characters omitted by tai"),
        "{}",
        &sent[..sent.len().min(2000)]
    );
    assert_eq!(sess.retrieval_tokens(), (0, 0));
}

/// A knowledge store (temporary, bundled runbooks) with embeddings from `base`.
fn knowledge_with_embeddings(base: &str) -> Arc<Knowledge> {
    Arc::new(
        Knowledge::open_with(OpenOptions {
            dir: None,
            embed: Some((base.to_string(), "nomic-embed-text".into())),
            rag_debug: false,
        })
        .unwrap(),
    )
}

#[tokio::test]
async fn large_output_is_ranked_with_vectors_when_the_embedding_server_answers() {
    let server = embed_server("nomic-embed-text").await;
    let (sent, _sess) =
        tool_result_sent_with(true, Some(knowledge_with_embeddings(&server.uri()))).await;
    assert!(
        sent.contains("connect() failed (111: Connection refused) while connecting to upstream"),
        "{}",
        &sent[..sent.len().min(3000)]
    );
    assert!(sent.contains("most relevant to the question"), "{sent}");
    // The vector path: every chunk of the 6000-line output was embedded as a document, and
    // the question as a query (besides the first-turn retrieval's one query).
    let reqs = server.received_requests().await.unwrap_or_default();
    let documents = reqs
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .filter_map(|b| b["input"].as_array().cloned())
        .flatten()
        .filter(|t| t.as_str().is_some_and(|t| t.contains("read_journal")))
        .count();
    assert!(documents > 10, "chunks embedded: {documents}");
    let (_, texts) = embed_calls(&server).await;
    assert!(
        texts > documents + 1,
        "{texts} texts, {documents} chunk documents"
    );
}

#[tokio::test]
async fn no_embedding_request_while_the_server_is_known_to_be_down() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(ResponseTemplate::new(503).set_body_string("no model loaded"))
        .mount(&server)
        .await;
    let (sent, sess) =
        tool_result_sent_with(true, Some(knowledge_with_embeddings(&server.uri()))).await;
    // The first-turn retrieval asked once and learnt the server is down; the over-cap output
    // was then selected lexically without another request.
    assert_eq!(embed_calls(&server).await.0, 1);
    assert!(
        sent.contains("connect() failed (111: Connection refused) while connecting to upstream"),
        "{}",
        &sent[..sent.len().min(3000)]
    );
    let (tokens_sent, tokens_full) = sess.retrieval_tokens();
    assert!(tokens_sent > 0 && tokens_full > 20 * tokens_sent);
}
