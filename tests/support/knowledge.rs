//! Shared helpers for the knowledge tests: an `/api/embed` server on wiremock that speaks
//! Ollama's exact wire format, with a deterministic feature-hashing "model" behind it, and
//! the real `tai` binary with the knowledge layer's environment.

use std::path::Path;
use std::process::{Command, Output};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const DIMS: usize = 768;

/// Deterministic stand-in for nomic-embed-text: word and bigram features hashed into 768
/// dimensions, L2-normalised. Strips the nomic prefixes like the real model's training does.
pub fn embed_text(text: &str) -> Vec<f32> {
    let text = text
        .strip_prefix("search_document: ")
        .or_else(|| text.strip_prefix("search_query: "))
        .unwrap_or(text);
    let words: Vec<String> = tai::knowledge::bm25::tokenize(text);
    let mut v = vec![0.0f32; DIMS];
    let mut add = |s: &str, w: f32| {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in s.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        let i = (h % DIMS as u64) as usize;
        let sign = if (h >> 32) & 1 == 0 { 1.0 } else { -1.0 };
        v[i] += sign * w;
    };
    for w in &words {
        add(w, 1.0);
    }
    for pair in words.windows(2) {
        add(&format!("{} {}", pair[0], pair[1]), 0.5);
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    } else {
        v[0] = 1.0;
    }
    v
}

/// Answers `POST /api/embed` `{"model","input":[..]}` with
/// `{"model","embeddings":[[..]],"total_duration","load_duration","prompt_eval_count"}`.
pub struct EmbedResponder {
    pub model: String,
}

impl Respond for EmbedResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: serde_json::Value = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": e.to_string()}))
            }
        };
        if body["model"] != self.model.as_str() {
            return ResponseTemplate::new(404).set_body_json(serde_json::json!({
                "error": format!("model \"{}\" not found, try pulling it first", body["model"].as_str().unwrap_or(""))
            }));
        }
        let inputs: Vec<String> = match &body["input"] {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => {
                return ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "missing input"}))
            }
        };
        let embeddings: Vec<Vec<f32>> = inputs.iter().map(|t| embed_text(t)).collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "model": self.model,
            "embeddings": embeddings,
            "total_duration": 14_143_917u64,
            "load_duration": 1_019_500u64,
            "prompt_eval_count": inputs.len() * 8,
        }))
    }
}

/// A wiremock server serving `/api/embed` for `model`.
pub async fn embed_server(model: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(EmbedResponder {
            model: model.to_string(),
        })
        .mount(&server)
        .await;
    server
}

/// Number of `/api/embed` requests and texts the server received.
pub async fn embed_calls(server: &MockServer) -> (usize, usize) {
    let reqs = server.received_requests().await.unwrap_or_default();
    let texts = reqs
        .iter()
        .filter(|r| r.url.path() == "/api/embed")
        .map(|r| {
            let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            b["input"].as_array().map(|a| a.len()).unwrap_or(1)
        })
        .sum();
    (reqs.len(), texts)
}

/// An endpoint where nothing listens (connection refused at once).
pub fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// [`super::tai_cmd`] with `home` itself as TAI_HOME and embeddings pointed at a dead endpoint.
pub fn tai(home: &Path) -> Command {
    let mut c = super::tai_cmd(home);
    c.env("TAI_HOME", home)
        .env("TAI_EMBED_BASE_URL", dead_endpoint());
    c
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "tai failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    for _ in 0..10_000 {
        let Some(d) = stack.pop() else { break };
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
