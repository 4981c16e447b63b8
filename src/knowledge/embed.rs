//! Embeddings from an Ollama server's `POST /api/embed` (`{"model", "input": [..]}` →
//! `{"embeddings": [[..]]}`), batched. Availability is probed with a short timeout and the
//! answer is remembered by the client (and its clones) for a cool-down, so a missing server
//! costs one fast failure per cool-down, not one per search, and a server that comes back
//! (or a 503 while a model loads) is used again after it.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Prefix nomic-embed-text expects on documents.
pub const DOC_PREFIX: &str = "search_document: ";
/// Prefix nomic-embed-text expects on queries.
pub const QUERY_PREFIX: &str = "search_query: ";
/// Texts per `/api/embed` request.
pub const BATCH: usize = 32;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A query embedding (one short text) must be quick, or search goes on with BM25.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A batch before the server has answered this client (model load included).
const FIRST_BATCH_TIMEOUT: Duration = Duration::from_secs(30);
/// A batch once the server is known to answer.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a failure is remembered before the server is tried again.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(60);

/// Why embeddings are not available; search falls back to BM25 and says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding server {url} is unreachable")]
    Unreachable { url: String },
    #[error("embedding server {url} did not answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("embedding model {model:?} is not available at {url} (pull it with `ollama pull {model}`): {body}")]
    ModelMissing {
        model: String,
        url: String,
        body: String,
    },
    #[error("embedding server {url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("embedding server {url} sent an unusable reply: {reason}")]
    BadReply { url: String, reason: String },
}

/// What this client knows about its server.
#[derive(Debug, Default)]
enum Availability {
    #[default]
    Unknown,
    Answered,
    Failed {
        reason: EmbedError,
        at: Instant,
    },
}

#[derive(Debug, Deserialize)]
struct EmbedResponse {
    embeddings: Vec<Vec<f32>>,
}

/// A client for one embedding model on one server.
#[derive(Debug, Clone)]
pub struct Embedder {
    root: String,
    model: String,
    client: reqwest::Client,
    /// Shared by clones: one client's failure spares its clones the same timeout.
    state: Arc<Mutex<Availability>>,
    cooldown: Duration,
}

impl Embedder {
    /// `base_url` may be an OpenAI-style `/v1` URL or a server root.
    pub fn new(base_url: &str, model: &str) -> Self {
        let client = crate::llm::http::client_builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            root: crate::llm::probe::server_root(base_url),
            model: model.to_string(),
            client,
            state: Arc::default(),
            cooldown: DEFAULT_COOLDOWN,
        }
    }

    /// The same client with another cool-down after a failure.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn url(&self) -> String {
        format!("{}/api/embed", self.root)
    }

    /// `Some(reason)` when this client found the server unusable less than a cool-down ago.
    pub fn known_unavailable(&self) -> Option<EmbedError> {
        match &*self.state.lock().ok()? {
            Availability::Failed { reason, at } if at.elapsed() < self.cooldown => {
                Some(reason.clone())
            }
            _ => None,
        }
    }

    fn known_available(&self) -> bool {
        self.state
            .lock()
            .is_ok_and(|s| matches!(*s, Availability::Answered))
    }

    fn remember(&self, r: Result<(), EmbedError>) {
        if let Ok(mut s) = self.state.lock() {
            *s = match r {
                Ok(()) => Availability::Answered,
                Err(reason) => Availability::Failed {
                    reason,
                    at: Instant::now(),
                },
            };
        }
    }

    /// Embed one query (with the query prefix). `Err` carries why vectors are not available;
    /// callers fall back to BM25.
    pub async fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let text = format!("{QUERY_PREFIX}{query}");
        let mut v = self.embed_raw(&[text], PROBE_TIMEOUT).await?;
        v.pop().ok_or_else(|| EmbedError::BadReply {
            url: self.url(),
            reason: "no embedding in the reply".into(),
        })
    }

    /// Embed documents (with the document prefix), in batches of [`BATCH`].
    pub async fn embed_documents(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let batch: Vec<String> = batch.iter().map(|t| format!("{DOC_PREFIX}{t}")).collect();
            let timeout = if self.known_available() {
                BATCH_TIMEOUT
            } else {
                FIRST_BATCH_TIMEOUT
            };
            out.extend(self.embed_raw(&batch, timeout).await?);
        }
        Ok(out)
    }

    /// One `/api/embed` request with the texts as given.
    pub async fn embed_raw(
        &self,
        input: &[String],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if let Some(reason) = self.known_unavailable() {
            return Err(reason);
        }
        let started = Instant::now();
        let r = self.request(input, timeout).await;
        self.audit(&r, started.elapsed()).await;
        match &r {
            Ok(_) => self.remember(Ok(())),
            Err(reason) => self.remember(Err(reason.clone())),
        }
        r
    }

    /// One `model_request` line in the audit log (endpoint, model, status; never the text).
    async fn audit(&self, r: &Result<Vec<Vec<f32>>, EmbedError>, elapsed: Duration) {
        let log = crate::audit::current();
        if !log.is_enabled() {
            return;
        }
        let status = match r {
            Ok(_) => Some(200),
            Err(EmbedError::Http { status, .. }) => Some(*status),
            Err(EmbedError::ModelMissing { .. }) => Some(404),
            Err(_) => None,
        };
        let endpoint = self.url();
        let endpoint = match endpoint.split_once("://") {
            // No credentials in the line: `user:pass@` dropped from the authority.
            Some((scheme, rest)) => match rest.split_once('/') {
                Some((auth, path)) => format!(
                    "{scheme}://{}/{path}",
                    auth.rsplit_once('@').map_or(auth, |(_, h)| h)
                ),
                None => format!(
                    "{scheme}://{}",
                    rest.rsplit_once('@').map_or(rest, |(_, h)| h)
                ),
            },
            None => endpoint,
        };
        let event = crate::audit::AuditEvent::ModelRequest {
            endpoint,
            model: Some(self.model.clone()),
            status,
            tokens_in: None,
            tokens_out: None,
            duration_ms: elapsed.as_millis() as u64,
        };
        // A failed write is warned about and remembered by the log.
        let _ = tokio::task::spawn_blocking(move || log.append(event)).await;
    }

    async fn request(
        &self,
        input: &[String],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = self.url();
        let body = serde_json::json!({ "model": self.model, "input": input });
        let resp = self
            .client
            .post(&url)
            .timeout(timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    EmbedError::Timeout {
                        url: url.clone(),
                        secs: timeout.as_secs(),
                    }
                } else {
                    EmbedError::Unreachable { url: url.clone() }
                }
            })?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let msg: String = text.chars().take(200).collect();
            return Err(if status.as_u16() == 404 {
                EmbedError::ModelMissing {
                    model: self.model.clone(),
                    url,
                    body: msg,
                }
            } else {
                EmbedError::Http {
                    url,
                    status: status.as_u16(),
                    body: msg,
                }
            });
        }
        let parsed: EmbedResponse = resp.json().await.map_err(|e| EmbedError::BadReply {
            url: url.clone(),
            reason: format!("unreadable JSON: {e}"),
        })?;
        if parsed.embeddings.len() != input.len() {
            return Err(EmbedError::BadReply {
                url,
                reason: format!(
                    "{} vectors for {} inputs",
                    parsed.embeddings.len(),
                    input.len()
                ),
            });
        }
        let dims = parsed.embeddings.first().map(Vec::len).unwrap_or(0);
        if dims == 0 || parsed.embeddings.iter().any(|v| v.len() != dims) {
            return Err(EmbedError::BadReply {
                url,
                reason: "vectors of mixed or zero width".into(),
            });
        }
        Ok(parsed.embeddings)
    }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let mut dot = 0.0f32;
    let mut na = 0.0f32;
    let mut nb = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= f32::EPSILON || nb <= f32::EPSILON {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
