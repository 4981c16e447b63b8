//! Agent-loop overhead (not a timed test): the model is a wiremock server that answers
//! instantly, so what remains is tai's own cost per loop step (building the request, rig's
//! encode/decode, the repeat guard, result formatting, budgets) and the time from start to the
//! first model request. The baseline, measured in the same run, is a bare HTTP POST of the same
//! reply to the same server; results are printed as absolute numbers and as ratios.
//!
//! Run: `cargo bench --bench agent_loop` (optional: `TAI_BENCH_TARGET=local` also measures
//! `Session::start` against this machine through the real registry, policy and transport).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tai::agent::{Session, SessionOptions, ToolRunner};
use tai::llm::{ClientOptions, Endpoint, ModelClient, ToolDef, ToolMode};
use tai::tools::{CallStatus, HostFacts, ToolCall, ToolError, ToolOutcome};
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const STEPS: usize = 8;
const SESSIONS: usize = 30;

fn reply(i: usize) -> Value {
    let step = i % STEPS;
    let message = if step + 1 < STEPS {
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": format!("call_{i}a"), "index": 0, "type": "function",
             "function": {"name": "read_file", "arguments": json!({"path": format!("/var/log/f{step}")}).to_string()}},
            {"id": format!("call_{i}b"), "index": 1, "type": "function",
             "function": {"name": "service_status", "arguments": json!({"unit": format!("u{step}")}).to_string()}}
        ]})
    } else {
        json!({"role": "assistant", "content": "## Root Cause\nx [T1]\n## Evidence\n- y [T1]\n## Recommended Actions\n1. z\n## Confidence\nhigh"})
    };
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1764059402, "model": "qwen3:4b",
           "system_fingerprint": "fp_ollama",
           "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 1000, "completion_tokens": 40, "total_tokens": 1040}})
}

struct Cycle {
    n: AtomicUsize,
    first: Arc<Mutex<Option<Instant>>>,
}

impl Respond for Cycle {
    fn respond(&self, _r: &Request) -> ResponseTemplate {
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        let mut f = self.first.lock().unwrap();
        if f.is_none() {
            *f = Some(Instant::now());
        }
        ResponseTemplate::new(200).set_body_json(reply(i))
    }
}

/// Answers every call at once with 2 KB of output: isolates the loop from tool cost.
struct Instant0;

#[async_trait::async_trait]
impl ToolRunner for Instant0 {
    fn specs(&self) -> Vec<ToolDef> {
        ["read_file", "service_status"]
            .iter()
            .map(|n| ToolDef {
                name: n.to_string(),
                description: "tool".into(),
                parameters: json!({"type": "object", "properties": {"path": {"type": "string"}, "unit": {"type": "string"}}}),
            })
            .collect()
    }
    fn facts(&self) -> HostFacts {
        HostFacts::default()
    }
    async fn run_all(
        &self,
        calls: &[ToolCall],
        _c: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>> {
        calls
            .iter()
            .map(|c| {
                Ok(ToolOutcome {
                    call: c.clone(),
                    status: CallStatus::Ok,
                    commands: Vec::new(),
                    output: "log line with some words in it\n".repeat(64),
                    duration_ms: 0,
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
    ModelClient::new(ClientOptions {
        base_url: base.into(),
        model: "qwen3:4b".into(),
        api_key: None,
        endpoint: Endpoint::OpenAi,
        num_ctx: None,
        timeout: Duration::from_secs(10),
        record_dir: None,
        redact: Default::default(),
        retries: 0,
        backoff: Duration::from_millis(1),
        temperature: None,
    })
    .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = MockServer::start().await;
    let first = Arc::new(Mutex::new(None));
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Cycle {
            n: AtomicUsize::new(0),
            first: first.clone(),
        })
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());

    // Baseline: bare POSTs of a typical request body, same server, same reply sizes.
    let http = tai::llm::http::client_builder().build().unwrap();
    let body =
        json!({"model": "qwen3:4b", "messages": [{"role": "user", "content": "x".repeat(4000)}]});
    let mut base_ms = Vec::new();
    for _ in 0..SESSIONS {
        let t = Instant::now();
        for _ in 0..STEPS {
            http.post(format!("{base}/chat/completions"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        base_ms.push(t.elapsed().as_secs_f64() * 1000.0 / STEPS as f64);
    }
    // Reset the reply cycle so sessions start at step 0.
    server.reset().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Cycle {
            n: AtomicUsize::new(0),
            first: first.clone(),
        })
        .mount(&server)
        .await;

    let mut step_ms = Vec::new();
    let mut first_ms = Vec::new();
    for _ in 0..SESSIONS {
        *first.lock().unwrap() = None;
        let t = Instant::now();
        let mut s = Session::new(
            SessionOptions::new("bench", STEPS + 1),
            client(&base),
            Arc::new(Instant0),
            ToolMode::Native,
        );
        let r = s
            .turn("nginx is down", &CancellationToken::new())
            .await
            .unwrap();
        let total = t.elapsed();
        assert_eq!(r.tool_calls.len(), 2 * (STEPS - 1));
        let f = first.lock().unwrap().unwrap();
        first_ms.push((f - t).as_secs_f64() * 1000.0);
        step_ms.push(total.as_secs_f64() * 1000.0 / STEPS as f64);
    }
    let b = median(base_ms);
    let s = median(step_ms);
    let f = median(first_ms);
    println!(
        "agent loop, {STEPS} steps x {SESSIONS} sessions, model answering instantly (wiremock)"
    );
    println!("  baseline: bare HTTP round trip          {b:8.3} ms/request");
    println!(
        "  loop step (model + 2 tool calls, no-op)  {s:8.3} ms/step   ({:.2}x baseline)",
        s / b
    );
    println!(
        "  overhead per step excluding model time   {:8.3} ms/step",
        (s - b).max(0.0)
    );
    println!(
        "  Session::new to first model request      {f:8.3} ms        ({:.2}x baseline)",
        f / b
    );

    // With the real registry, policy and `local` transport: start (connect, detect host facts,
    // probe the model) to the first model request.
    if std::env::var("TAI_BENCH_TARGET").as_deref() == Ok("local") {
        let home = tempfile::tempdir().unwrap();
        let o = tai::config::Overrides {
            tai_home: Some(home.path().join(".tai")),
            base_url: Some(base.clone()),
            no_persist: true,
            ..Default::default()
        };
        let cfg = tai::config::Config::resolve_with(&o, &|_| None).unwrap();
        let target = tai::transport::Target::Local;
        let mut starts = Vec::new();
        for _ in 0..10 {
            server.reset().await;
            Mock::given(wiremock::matchers::method("POST"))
                .and(wiremock::matchers::path("/v1/chat/completions"))
                .respond_with(Cycle {
                    n: AtomicUsize::new(STEPS - 1),
                    first: first.clone(),
                })
                .mount(&server)
                .await;
            *first.lock().unwrap() = None;
            let t = Instant::now();
            let mut s = Session::start(&cfg, &target, SessionOptions::new("local", 4))
                .await
                .unwrap();
            s.turn("nginx is down", &CancellationToken::new())
                .await
                .unwrap();
            let f = first.lock().unwrap().unwrap();
            starts.push((f - t).as_secs_f64() * 1000.0);
        }
        let st = median(starts);
        println!(
            "  Session::start(local) to first request   {st:8.3} ms        ({:.2}x baseline; connect, host facts, model probe)",
            st / b
        );
    }
}
