//! Loop mechanics against a scripted model server (Ollama wire format): multi-tool turns, the
//! repeat guard, malformed arguments, the step bound, the text protocol, compaction and
//! cancellation. The tool side here is a recording runner; the end-to-end tests with the real
//! registry, policy and transport are in agent_e2e.rs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::model::*;
use serde_json::json;
use tai::agent::{Session, SessionOptions, ToolRunner};
use tai::llm::{ModelClient, ToolDef, ToolMode};
use tai::tools::{CallStatus, CommandRecord, HostFacts, ToolCall, ToolError, ToolOutcome};
use tokio_util::sync::CancellationToken;

const M: &str = "qwen3:4b";

struct Recording {
    calls: Mutex<Vec<ToolCall>>,
    batches: Mutex<Vec<usize>>,
    output_size: usize,
    delay: Duration,
}

impl Recording {
    fn new() -> Arc<Recording> {
        Arc::new(Recording {
            calls: Mutex::new(Vec::new()),
            batches: Mutex::new(Vec::new()),
            output_size: 200,
            delay: Duration::ZERO,
        })
    }
}

#[async_trait::async_trait]
impl ToolRunner for Recording {
    fn specs(&self) -> Vec<ToolDef> {
        ["service_status", "read_file", "read_journal", "disk_usage"]
            .iter()
            .map(|n| ToolDef {
                name: n.to_string(),
                description: format!("{n} tool"),
                parameters: json!({"type": "object", "properties": {"unit": {"type": "string"}, "path": {"type": "string"}}}),
            })
            .collect()
    }
    fn facts(&self) -> HostFacts {
        HostFacts {
            os_pretty: "Debian GNU/Linux 12 (bookworm)".into(),
            os_id: "debian".into(),
            family: "debian".into(),
            kernel: "6.1.0".into(),
            hostname: "web01".into(),
            ..Default::default()
        }
    }
    async fn run_all(
        &self,
        calls: &[ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>> {
        if !self.delay.is_zero() {
            tokio::select! { _ = tokio::time::sleep(self.delay) => {}, _ = cancel.cancelled() => {} }
        }
        self.calls.lock().unwrap().extend(calls.iter().cloned());
        self.batches.lock().unwrap().push(calls.len());
        calls
            .iter()
            .map(|c| {
                let denied = c.args["path"] == "/etc/shadow";
                let line = format!("{} says {} ", c.tool, c.args);
                let output = if denied {
                    "denied: /etc/shadow holds password hashes (rule sensitive-paths)".to_string()
                } else {
                    line.repeat(self.output_size / line.len() + 1)
                };
                Ok(ToolOutcome {
                    call: c.clone(),
                    status: if denied {
                        CallStatus::Denied
                    } else {
                        CallStatus::Ok
                    },
                    commands: vec![CommandRecord {
                        command: format!("{} {}", c.tool, c.args),
                        status: if denied {
                            CallStatus::Denied
                        } else {
                            CallStatus::Ok
                        },
                        exit_code: (!denied).then_some(0),
                        duration_ms: 3,
                        stdout: String::new(),
                        stderr: String::new(),
                        truncated: 0,
                        note: None,
                    }],
                    output,
                    duration_ms: 3,
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

const FINAL: &str = "## Root Cause\nnginx is stopped.\n\n## Evidence\n- service_status shows inactive [T1]\n\n## Recommended Actions\n1. `systemctl start nginx`\n\n## Confidence\nhigh";

fn session(base: &str, runner: Arc<Recording>, steps: usize, mode: ToolMode) -> Session {
    Session::new(
        SessionOptions::new("web01", steps),
        client(base),
        runner,
        mode,
    )
}

#[tokio::test]
async fn multi_tool_turn_runs_concurrently_and_reports() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[
                    ("call_a", "service_status", json!({"unit": "nginx"})),
                    ("call_b", "read_journal", json!({"unit": "nginx"})),
                ],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.root_cause, "nginx is stopped.");
    assert_eq!(r.evidence[0].sources, vec!["T1"]);
    assert_eq!(r.confidence, "high");
    assert_eq!(r.tool_calls.len(), 2);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(runner.calls.lock().unwrap().len(), 2);
    assert_eq!(
        *runner.batches.lock().unwrap(),
        vec![2],
        "one concurrent batch"
    );
    let reqs = s.requests(OA_PATH).await;
    let results = tool_results(&reqs[1]);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].0, "call_a");
    assert!(
        results[0].1.starts_with("[T1] service_status"),
        "{}",
        results[0].1
    );
    assert!(results[1].1.starts_with("[T2] read_journal"));
    let first = content_text(&messages(&reqs[0])[1]);
    assert!(
        first.contains("Debian GNU/Linux 12") && first.contains("nginx is down"),
        "{first}"
    );
    assert!(
        r.tokens.prompt >= 2100 && r.tokens.completion >= 220,
        "{:?}",
        r.tokens
    );
}

#[tokio::test]
async fn repeated_call_is_answered_from_the_first_result() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_a", "service_status", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_b", "service_status", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(runner.calls.lock().unwrap().len(), 1, "ran once");
    assert_eq!(r.tool_calls.len(), 1);
    let reqs = s.requests(OA_PATH).await;
    let res = tool_results(&reqs[2]);
    assert_eq!(res.last().unwrap().0, "call_b");
    assert!(
        res.last().unwrap().1.contains("repeats T1"),
        "{}",
        res.last().unwrap().1
    );
}

#[tokio::test]
async fn malformed_arguments_get_an_actionable_error() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_raw_tool_call(
                M,
                "call_a",
                "read_file",
                "{\"path\": \"/var/log/nginx/error.log\"",
            )),
            Scripted::ok(oa_tool_calls(
                M,
                &[(
                    "call_b",
                    "read_file",
                    json!({"path": "/var/log/nginx/error.log"}),
                )],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let res = tool_results(&reqs[1]);
    assert!(
        res[0].1.contains("invalid arguments for read_file"),
        "{}",
        res[0].1
    );
    assert!(res[0].1.contains("JSON object"));
    assert_eq!(
        runner.calls.lock().unwrap().len(),
        1,
        "only the valid call ran"
    );
    assert_eq!(r.tool_calls[0].status, CallStatus::Error);
    assert_eq!(r.tool_calls[1].status, CallStatus::Ok);
}

#[tokio::test]
async fn step_bound_ends_with_the_best_report() {
    let s = ModelServer::start().await;
    let mut replies = Vec::new();
    for i in 0..3 {
        replies.push(Scripted::ok(oa_tool_calls(
            M,
            &[(
                &*format!("call_{i}"),
                "read_file",
                json!({"path": format!("/etc/f{i}")}),
            )],
        )));
    }
    s.script(OA_PATH, replies).await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 3, ToolMode::Native);
    let r = sess
        .turn("something is off", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 3);
    assert!(
        offered_tools(&reqs[0]).len() == 4 && offered_tools(&reqs[2]).is_empty(),
        "last step has no tools"
    );
    assert!(last_user_text(&reqs[2]).contains("last step"));
    assert!(
        r.warnings.iter().any(|w| w.contains("step limit (3)")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.confidence, "low");
    assert_eq!(runner.calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn text_protocol_after_no_tool_support() {
    let s = ModelServer::start().await;
    let g = "gemma3:4b";
    s.script(OA_PATH, vec![
        Scripted::status(400, oa_error("registry.ollama.ai/library/gemma3:4b does not support tools")),
        Scripted::ok(oa_text(g, "I'll check the service.\n```json\n{\"tool_calls\": [{\"name\": \"service_status\", \"arguments\": {\"unit\": \"nginx\"}}]}\n```")),
        Scripted::ok(oa_text(g, FINAL)),
    ]).await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(sess.mode(), ToolMode::Text);
    assert_eq!(r.tool_calls.len(), 1);
    let reqs = s.requests(OA_PATH).await;
    assert!(
        offered_tools(&reqs[1]).is_empty(),
        "text protocol sends no tools"
    );
    assert!(content_text(&messages(&reqs[1])[0]).contains("Tools (text protocol)"));
    assert!(last_user_text(&reqs[2]).contains("[T1] service_status"));
}

#[tokio::test]
async fn tool_call_in_content_is_rescued() {
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![
        Scripted::ok(oa_text(M, "<tool_call>\n{\"name\": \"disk_usage\", \"arguments\": {\"path\": \"/var\"}}\n</tool_call>")),
        Scripted::ok(oa_text(M, FINAL)),
    ]).await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    sess.turn("disk full", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(runner.calls.lock().unwrap()[0].tool, "disk_usage");
    assert_eq!(sess.mode(), ToolMode::Native);
}

#[tokio::test]
async fn missing_sections_get_one_repair_and_bad_citations_are_flagged() {
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![
        Scripted::ok(oa_tool_calls(M, &[("call_a", "service_status", json!({"unit": "nginx"}))])),
        Scripted::ok(oa_text(M, "## Root Cause\nnginx is stopped, start it.")),
        Scripted::ok(oa_text(M, "## Root Cause\nnginx stopped [T1]\n## Evidence\n- inactive [T1]\n- port free [T8]\n## Recommended Actions\n1. start it\n## Confidence\nmedium")),
    ]).await;
    let mut sess = session(&s.v1_url(), Recording::new(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 3);
    assert!(last_user_text(&reqs[2]).contains("missing these sections"));
    assert!(offered_tools(&reqs[2]).is_empty());
    assert_eq!(r.confidence, "medium");
    assert!(
        r.warnings.iter().any(|w| w.contains("T8")),
        "{:?}",
        r.warnings
    );
}

#[tokio::test]
async fn compaction_marks_old_outputs_and_repeat_guard_survives() {
    let s = ModelServer::start().await;
    let mut replies = Vec::new();
    for i in 0..4 {
        replies.push(Scripted::ok(oa_tool_calls(
            M,
            &[(
                &*format!("call_{i}"),
                "read_file",
                json!({"path": format!("/var/log/f{i}")}),
            )],
        )));
    }
    replies.push(Scripted::ok(oa_tool_calls(
        M,
        &[("call_r", "read_file", json!({"path": "/var/log/f0"}))],
    )));
    replies.push(Scripted::ok(oa_text(M, FINAL)));
    s.script(OA_PATH, replies).await;
    let runner = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        batches: Mutex::new(Vec::new()),
        output_size: 5000,
        delay: Duration::ZERO,
    });
    let mut opts = SessionOptions::new("web01", 12);
    opts.context_tokens = 4000;
    let mut sess = Session::new(opts, client(&s.v1_url()), runner.clone(), ToolMode::Native);
    let r = sess.turn("logs", &CancellationToken::new()).await.unwrap();
    assert!(sess.compactions() >= 1);
    let reqs = s.requests(OA_PATH).await;
    let last = reqs.last().unwrap();
    let all: Vec<(String, String)> = tool_results(last);
    assert!(all[0].1.contains("compacted by tai"), "{}", all[0].1);
    assert!(!all.last().unwrap().1.contains("compacted"));
    assert!(all.last().unwrap().1.contains("repeats T1"));
    assert!(
        all.last().unwrap().1.contains("read_file says"),
        "repeat answered with the saved result"
    );
    assert_eq!(runner.calls.lock().unwrap().len(), 4);
    assert!(r.warnings.iter().any(|w| w.contains("compacted")));
    let size: usize = serde_json::to_string(last).unwrap().len();
    assert!(
        size / 4 < 4000,
        "request stays under the context budget: {size} bytes"
    );
}

#[tokio::test]
async fn cancellation_stops_the_turn_and_keeps_the_session() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_a", "service_status", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let runner = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        batches: Mutex::new(Vec::new()),
        output_size: 100,
        delay: Duration::from_secs(30),
    });
    let mut sess = session(&s.v1_url(), runner, 12, ToolMode::Native);
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c2.cancel();
    });
    let t = std::time::Instant::now();
    let e = sess.turn("nginx is down", &cancel).await.unwrap_err();
    assert!(matches!(e, tai::agent::AgentError::Interrupted));
    assert!(t.elapsed() < Duration::from_secs(5));
    // The session goes on with a fresh token.
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.root_cause, "nginx is stopped.");
}

#[tokio::test]
async fn prose_without_sections_is_nudged_once_to_use_tools() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_text(M, "I will check the nginx service status first.")),
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_a", "service_status", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let runner = Recording::new();
    let mut sess = session(&s.v1_url(), runner.clone(), 12, ToolMode::Native);
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 3);
    assert!(last_user_text(&reqs[1]).contains("Continue the investigation"));
    assert_eq!(
        offered_tools(&reqs[1]).len(),
        4,
        "tools stay available after the nudge"
    );
    assert_eq!(runner.calls.lock().unwrap().len(), 1);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// A front end of its own (as the TUI or an MCP server would be): it builds its runner and
/// starts the session through `Session::start_with`, the call `tai run` and the REPL use.
#[tokio::test]
async fn a_test_front_end_starts_its_session_through_start_with() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_a", "service_status", json!({"unit": "nginx"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let o = tai::config::Overrides {
        tai_home: Some(home.path().join(".tai")),
        base_url: Some(s.v1_url()),
        model: Some(M.into()),
        no_persist: true,
        ..Default::default()
    };
    let cfg = tai::config::Config::resolve_with(&o, &|_| None).expect("config");
    let runner = Recording::new();
    let opts = SessionOptions::from_config(&cfg, "web01");
    let mut sess = Session::start_with(&cfg, runner.clone(), opts)
        .await
        .expect("session starts");
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    assert!(r.root_cause.contains("nginx is stopped"), "{r:?}");
    assert_eq!(runner.calls.lock().unwrap().len(), 1);
    // Nothing was collected before the first turn: no word about detectors.
    let first = &s.requests(OA_PATH).await[0];
    let user = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap()
        .to_string();
    assert!(user.contains("nginx is down"), "{user}");
    assert!(!user.to_lowercase().contains("detector"), "{user}");
}
