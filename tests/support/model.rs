//! A scripted model server on loopback (wiremock), in the spirit of codex-rs
//! `core_test_support`: builders for responses in Ollama's exact wire format (OpenAI-compatible
//! `/v1/chat/completions` and native `/api/chat`), sequenced replies per route, fixture replay,
//! and assertions on the requests tai sent.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OA_PATH: &str = "/v1/chat/completions";
pub const NATIVE_PATH: &str = "/api/chat";
pub const SHOW_PATH: &str = "/api/show";

/// One scripted reply: status and JSON body.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub body: Value,
}

impl Scripted {
    pub fn ok(body: Value) -> Self {
        Scripted { status: 200, body }
    }
    pub fn status(status: u16, body: Value) -> Self {
        Scripted { status, body }
    }
}

/// Answers the n-th request with the n-th scripted reply; past the end, HTTP 500 with a message
/// that names the exhausted script (so a test that asks too often fails loudly).
struct Sequence {
    replies: Vec<Scripted>,
    next: AtomicUsize,
    route: String,
}

impl Respond for Sequence {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        match self.replies.get(i) {
            Some(r) => ResponseTemplate::new(r.status).set_body_json(&r.body),
            None => ResponseTemplate::new(500).set_body_json(json!({
                "error": format!("test script for {} exhausted after {} replies", self.route, self.replies.len())
            })),
        }
    }
}

/// The scripted server.
pub struct ModelServer {
    pub server: MockServer,
}

impl ModelServer {
    pub async fn start() -> ModelServer {
        ModelServer {
            server: MockServer::start().await,
        }
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI-compatible base URL.
    pub fn v1_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// `http://127.0.0.1:PORT`: the Ollama root (native `/api/chat`).
    pub fn root_url(&self) -> String {
        self.server.uri()
    }

    pub fn port(&self) -> u16 {
        self.server.address().port()
    }

    /// Serve `replies` in order on POST `route`.
    pub async fn script(&self, route: &str, replies: Vec<Scripted>) {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(Sequence {
                replies,
                next: AtomicUsize::new(0),
                route: route.to_string(),
            })
            .mount(&self.server)
            .await;
    }

    /// Replay a recorded fixture: each route answers with its recorded responses, in order.
    pub async fn replay(&self, fixture: &Path) -> Value {
        let text = std::fs::read_to_string(fixture).expect("fixture readable");
        let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let mut by_route: BTreeMap<String, Vec<Scripted>> = BTreeMap::new();
        for ex in v["exchanges"].as_array().expect("exchanges") {
            let route = ex["request"]["path"].as_str().expect("path").to_string();
            by_route.entry(route).or_default().push(Scripted {
                status: ex["response"]["status"].as_u64().expect("status") as u16,
                body: ex["response"]["body"].clone(),
            });
        }
        for (route, replies) in by_route {
            self.script(&route, replies).await;
        }
        v
    }

    /// Every JSON body tai POSTed to `route`, in order.
    pub async fn requests(&self, route: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == route)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }
}

/// Arc'd for sharing with spawned tasks.
pub type SharedServer = Arc<ModelServer>;

// ---------- OpenAI-compatible (`/v1/chat/completions`) replies, as Ollama writes them ----------

fn oa_envelope(model: &str, message: Value, finish: &str, prompt: u64, completion: u64) -> Value {
    json!({
        "id": "chatcmpl-417",
        "object": "chat.completion",
        "created": 1764059402,
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    })
}

/// A turn with tool calls: `(call id, tool, arguments)`; arguments are sent as a JSON string.
pub fn oa_tool_calls(model: &str, calls: &[(&str, &str, Value)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (id, name, args))| {
            json!({"id": id, "index": i, "type": "function",
                   "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    oa_envelope(
        model,
        json!({"role": "assistant", "content": "", "tool_calls": tool_calls}),
        "tool_calls",
        900,
        40,
    )
}

/// A tool call whose `arguments` string is given verbatim (for malformed arguments).
pub fn oa_raw_tool_call(model: &str, id: &str, name: &str, raw_args: &str) -> Value {
    oa_envelope(
        model,
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": id, "index": 0, "type": "function", "function": {"name": name, "arguments": raw_args}}
        ]}),
        "tool_calls",
        900,
        30,
    )
}

/// A plain text answer.
pub fn oa_text(model: &str, text: &str) -> Value {
    oa_envelope(
        model,
        json!({"role": "assistant", "content": text}),
        "stop",
        1200,
        180,
    )
}

/// The error body Ollama's OpenAI layer sends.
pub fn oa_error(message: &str) -> Value {
    json!({"error": {"message": message, "type": "api_error", "param": null, "code": null}})
}

// ---------- native (`/api/chat`) replies ----------

fn native_envelope(model: &str, message: Value, prompt: u64, eval: u64) -> Value {
    json!({
        "model": model,
        "created_at": "2026-11-25T08:41:12.503817Z",
        "message": message,
        "done": true,
        "done_reason": "stop",
        "total_duration": 4183920417u64,
        "load_duration": 61830292u64,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 1203716000u64,
        "eval_count": eval,
        "eval_duration": 2911893000u64
    })
}

/// Native tool calls: arguments are JSON objects, not strings.
pub fn native_tool_calls(model: &str, calls: &[(&str, &str, Value)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (id, name, args))| {
            json!({"id": id, "function": {"index": i, "name": name, "arguments": args}})
        })
        .collect();
    native_envelope(
        model,
        json!({"role": "assistant", "content": "", "tool_calls": tool_calls}),
        850,
        45,
    )
}

pub fn native_text(model: &str, text: &str) -> Value {
    native_envelope(
        model,
        json!({"role": "assistant", "content": text}),
        1300,
        210,
    )
}

/// Ollama native error body.
pub fn native_error(message: &str) -> Value {
    json!({ "error": message })
}

/// An `/api/show` body with `capabilities` and a context length.
pub fn show(arch: &str, capabilities: &[&str], ctx: u64) -> Value {
    let mut info = serde_json::Map::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert(format!("{arch}.context_length"), json!(ctx));
    json!({
        "license": "",
        "modelfile": "# Modelfile generated by \"ollama show\"",
        "parameters": "temperature 0.6",
        "template": "{{ .Prompt }}",
        "details": {"parent_model": "", "format": "gguf", "family": arch, "families": [arch],
                    "parameter_size": "4.0B", "quantization_level": "Q4_K_M"},
        "model_info": Value::Object(info),
        "capabilities": capabilities,
        "modified_at": "2026-11-20T10:12:44.19112334Z"
    })
}

// ---------- assertions on what tai sent ----------

/// The messages of a chat request.
pub fn messages(req: &Value) -> &Vec<Value> {
    req["messages"].as_array().expect("request has messages")
}

/// The text of a message's content (string or array of text parts).
pub fn content_text(msg: &Value) -> String {
    match &msg["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The `tool` messages of a request, as (tool_call_id, content).
pub fn tool_results(req: &Value) -> Vec<(String, String)> {
    messages(req)
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap_or("").to_string(),
                content_text(m),
            )
        })
        .collect()
}

/// Names of the tools a request offered.
pub fn offered_tools(req: &Value) -> Vec<String> {
    req["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The last user message's text.
pub fn last_user_text(req: &Value) -> String {
    messages(req)
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(content_text)
        .unwrap_or_default()
}

/// Add Ollama's `thinking` to a native reply, in the field order Ollama writes
/// (`role`, `content`, `thinking`, `tool_calls`).
pub fn with_thinking(mut reply: Value, thinking: &str) -> Value {
    let old = reply["message"].take();
    let mut m = serde_json::Map::new();
    m.insert("role".into(), old["role"].clone());
    m.insert("content".into(), old["content"].clone());
    m.insert("thinking".into(), json!(thinking));
    if let Some(tc) = old.get("tool_calls") {
        m.insert("tool_calls".into(), tc.clone());
    }
    reply["message"] = Value::Object(m);
    reply
}

/// A model client for `model` at `base` with test timings: 5 s timeout, one quick retry.
pub fn test_client(base: &str, model: &str) -> tai::llm::ModelClient {
    tai::llm::ModelClient::new(tai::llm::ClientOptions {
        base_url: base.into(),
        model: model.into(),
        api_key: None,
        endpoint: tai::llm::Endpoint::for_base_url(base),
        num_ctx: None,
        timeout: std::time::Duration::from_secs(5),
        record_dir: None,
        redact: Default::default(),
        retries: 1,
        backoff: std::time::Duration::from_millis(5),
        temperature: None,
    })
    .expect("model client")
}
