//! The HTTP transport rig-core sends through: reqwest with tai's timeouts, classified transport
//! failures, and `--record DIR` (every request and response written as a fixture exchange).
//!
//! rig's own middleware hook cannot see response bodies, so recording lives here, in a small
//! [`HttpClientExt`] implementation; rig still encodes every request and decodes every reply.
//! Every request is also written to the audit log ([`crate::audit`]: endpoint, model, status,
//! token counts; never the content) before its reply goes back to rig.
//!
//! Every reqwest client tai builds starts from [`client_builder`]: TLS is rustls on the `ring`
//! provider (russh uses `ring` too), installed as the process default on first use, so the
//! aws-lc C library is neither built nor linked (issue 17: release binary size and build time).
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use bytes::Bytes;
use rig_core::http_client::{
    Error as HttpError, HttpClientExt, LazyBody, MultipartForm, Request, Response,
    StreamingResponse,
};
use serde::{Deserialize, Serialize};

/// Why a request produced no HTTP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing listens there, DNS failed, or the TLS handshake failed.
    Connect,
    /// No answer within the timeout.
    Timeout,
    /// The connection broke mid-request (reset, closed early): worth retrying.
    Broken,
}

/// A transport failure with its classification, carried through rig's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportFailure {
    pub kind: FailureKind,
    pub message: String,
}

fn classify(e: &reqwest::Error) -> TransportFailure {
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else if e.is_connect() {
        FailureKind::Connect
    } else {
        FailureKind::Broken
    };
    // The innermost cause says what happened ("Connection refused (os error 111)"); reqwest's
    // outer layers repeat the URL, which the caller's message already names.
    let mut chain = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push(s.to_string());
        src = s.source();
    }
    let message = match chain.len() {
        1 => chain.remove(0),
        n => chain[n - 1].clone(),
    };
    let message = if kind == FailureKind::Timeout && !message.contains("timed out") {
        format!("timed out ({message})")
    } else {
        message
    };
    TransportFailure { kind, message }
}

/// One request/response pair in a fixture file, in the exact wire format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path only (`/v1/chat/completions`, `/api/chat`): fixtures replay on any host.
    pub path: String,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// A recorded session: what `--record DIR` writes and what tests replay through wiremock.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Fixture {
    #[serde(default)]
    pub description: String,
    pub exchanges: Vec<Exchange>,
}

/// A fixture file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("could not read fixture {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fixture {} is not valid JSON for a recorded session: {source}\n  re-record it with `tai --record DIR ...`", path.display())]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| FixtureError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn body_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Every string in `v` through `redactor` (a fixture keeps the shape of what was sent, not
/// the secrets or `[redact] patterns` in tool output).
fn redact_json(v: &mut serde_json::Value, redactor: &crate::redact::Redactor) {
    match v {
        serde_json::Value::String(s) => *s = redactor.redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, redactor)),
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| redact_json(x, redactor)),
        _ => {}
    }
}

/// Writes every exchange of one tai process into `DIR/session-<unix-ms>.json`, rewriting the
/// file after each exchange so an interrupted session still leaves a usable fixture. Every
/// string of both bodies is redacted first (built-ins and `[redact] patterns`).
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    fixture: Mutex<Fixture>,
    redactor: crate::redact::Redactor,
}

impl Recorder {
    pub fn create(dir: &Path, redactor: crate::redact::Redactor) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let path = dir.join(format!("session-{ms}.json"));
        let r = Recorder {
            path,
            fixture: Mutex::new(Fixture {
                description: "recorded by tai --record".into(),
                exchanges: Vec::new(),
            }),
            redactor,
        };
        r.flush()?;
        Ok(r)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn flush(&self) -> std::io::Result<()> {
        let text = {
            let f = self.fixture.lock().unwrap_or_else(|p| p.into_inner());
            serde_json::to_string_pretty(&*f).unwrap_or_default()
        };
        std::fs::write(&self.path, text)
    }

    fn record(&self, method: &str, path: &str, req: &[u8], status: u16, resp: &[u8]) {
        let mut req = body_json(req);
        let mut resp = body_json(resp);
        redact_json(&mut req, &self.redactor);
        redact_json(&mut resp, &self.redactor);
        {
            let mut f = self.fixture.lock().unwrap_or_else(|p| p.into_inner());
            f.exchanges.push(Exchange {
                request: RecordedRequest {
                    method: method.to_string(),
                    path: path.to_string(),
                    body: req,
                },
                response: RecordedResponse { status, body: resp },
            });
        }
        if let Err(e) = self.flush() {
            eprintln!(
                "warning: could not write model recording {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The audit line of one model request: where it went, the model, the reply's status and
/// token counts (OpenAI `usage`, Ollama `prompt_eval_count`/`eval_count`); never the content.
fn model_request_event(
    uri: &rig_core::http_client::Uri,
    request: &[u8],
    reply: Option<(u16, &Bytes)>,
    elapsed: Duration,
) -> crate::audit::AuditEvent {
    // scheme://host:port/path: no credentials, no query.
    let endpoint = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("http"),
        uri.host().unwrap_or(""),
        uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default()
    ) + uri.path();
    let model = serde_json::from_slice::<serde_json::Value>(request)
        .ok()
        .and_then(|v| v.get("model")?.as_str().map(str::to_string));
    let answer = reply.and_then(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).ok());
    let count = |keys: &[&[&str]]| {
        let a = answer.as_ref()?;
        keys.iter().find_map(|path| {
            path.iter()
                .try_fold(a, |v, k| v.get(*k))
                .and_then(serde_json::Value::as_u64)
        })
    };
    crate::audit::AuditEvent::ModelRequest {
        endpoint,
        model,
        status: reply.map(|(st, _)| st),
        tokens_in: count(&[&["usage", "prompt_tokens"], &["prompt_eval_count"]]),
        tokens_out: count(&[&["usage", "completion_tokens"], &["eval_count"]]),
        duration_ms: elapsed.as_millis() as u64,
    }
}

/// A reqwest client builder whose TLS uses rustls's `ring` provider. reqwest is built without
/// a provider of its own (`rustls-no-provider`) and takes the process default, so that default
/// is installed here, once, before any client exists. If something else installed one first,
/// that one is kept.
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // An error only means a provider is already installed: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// reqwest with tai's timeouts and optional recording; what every rig model sends through.
#[derive(Debug, Clone)]
pub struct TaiHttp {
    client: reqwest::Client,
    recorder: Option<Arc<Recorder>>,
}

impl TaiHttp {
    pub fn new(
        timeout: Duration,
        recorder: Option<Arc<Recorder>>,
    ) -> Result<TaiHttp, super::LlmError> {
        let client = client_builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .build()
            .map_err(|e| super::LlmError::Setup(format!("could not build the HTTP client: {e}")))?;
        Ok(TaiHttp { client, recorder })
    }
}

impl HttpClientExt for TaiHttp {
    fn send<T, U>(
        &self,
        req: Request<T>,
    ) -> impl std::future::Future<Output = Result<Response<LazyBody<U>>, HttpError>> + Send + 'static
    where
        T: Into<Bytes> + Send,
        U: From<Bytes> + Send + 'static,
    {
        let client = self.client.clone();
        let recorder = self.recorder.clone();
        let audit = crate::audit::current();
        let (parts, body) = req.into_parts();
        let body: Bytes = body.into();
        async move {
            let started = std::time::Instant::now();
            let sent = async {
                let resp = client
                    .request(parts.method.clone(), parts.uri.to_string())
                    .headers(parts.headers.clone())
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| HttpError::instance(classify(&e)))?;
                let status = resp.status();
                let headers = resp.headers().clone();
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| HttpError::instance(classify(&e)))?;
                Ok::<_, HttpError>((status, headers, bytes))
            }
            .await;
            if audit.is_enabled() {
                let reply = sent.as_ref().ok().map(|(st, _, b)| (st.as_u16(), b));
                let event = model_request_event(&parts.uri, &body, reply, started.elapsed());
                // A failed write is warned about and remembered by the log; the reply goes on.
                let _ = tokio::task::spawn_blocking(move || audit.append(event)).await;
            }
            let (status, headers, bytes) = sent?;
            if let Some(r) = &recorder {
                r.record(
                    parts.method.as_str(),
                    parts.uri.path(),
                    &body,
                    status.as_u16(),
                    &bytes,
                );
            }
            if !status.is_success() {
                return Err(HttpError::non_success_with_details(
                    status,
                    headers,
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
            let mut res = Response::builder().status(status);
            if let Some(h) = res.headers_mut() {
                *h = headers;
            }
            let lazy: LazyBody<U> = Box::pin(async move { Ok(U::from(bytes)) });
            res.body(lazy).map_err(HttpError::Protocol)
        }
    }

    #[allow(clippy::manual_async_fn)]
    fn send_multipart<U>(
        &self,
        _req: Request<MultipartForm>,
    ) -> impl std::future::Future<Output = Result<Response<LazyBody<U>>, HttpError>> + Send + 'static
    where
        U: From<Bytes> + Send + 'static,
    {
        async {
            Err(HttpError::instance(TransportFailure {
                kind: FailureKind::Broken,
                message: "tai does not send multipart requests".into(),
            }))
        }
    }

    fn send_streaming<T>(
        &self,
        req: Request<T>,
    ) -> impl std::future::Future<Output = Result<StreamingResponse, HttpError>> + Send
    where
        T: Into<Bytes> + Send,
    {
        // tai asks for whole replies; a streaming request is read whole and handed on as one chunk.
        let fut = self.send::<T, Bytes>(req);
        async move {
            let resp = fut.await?;
            let (parts, body) = resp.into_parts();
            let bytes = body.await?;
            let stream: rig_core::http_client::BoxedStream =
                Box::pin(futures::stream::once(async move { Ok(bytes) }));
            Ok(Response::from_parts(parts, stream))
        }
    }
}
