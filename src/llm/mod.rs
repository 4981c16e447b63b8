//! The model client on rig-core: chat with tools over the OpenAI-compatible
//! `/v1/chat/completions` (Ollama, vLLM, llama.cpp server, LM Studio) and Ollama's native
//! `/api/chat` (the only route that takes `options.num_ctx`), the capability probe
//! ([`probe`]), the text-protocol fallback and tolerant tool-call parser ([`textproto`]),
//! clear errors with retries for transient failures, and `--record DIR` ([`http`]).
//!
//! rig-core encodes every request and decodes every reply; tai drives the loop itself (see
//! `agent`), so this module answers one question: given a history and maybe tools, what did
//! the model say?
//!
//! Which route: a base URL ending in `/v1` speaks the OpenAI-compatible API; a bare server
//! root (`http://host:11434`) speaks Ollama's native `/api/chat`.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rig_core::completion::{AssistantContent, AssistantMessage, CompletionRequest, Message};
use rig_core::message::{ToolCall as RigToolCall, ToolName};
use rig_core::{Model, ProviderError};
use serde_json::Value;

use crate::config::ModelSettings;
use crate::exit::{Code, HasExitCode};

pub mod http;
pub mod probe;
pub mod textproto;

use http::{FailureKind, Recorder, TaiHttp, TransportFailure};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model endpoint {url} is unreachable: {reason}\n  start the server (e.g. `ollama serve`) or pass --base-url; use --no-llm to triage without a model")]
    Unreachable { url: String, reason: String },
    #[error("model {model:?} is not available at {url}\n  pull it with `ollama pull {model}` or choose another with --model")]
    ModelMissing { model: String, url: String },
    #[error("model endpoint {url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("model endpoint {url} did not answer within {secs}s\n  a large model on CPU can be slow: raise model_timeout_secs (TAI_MODEL_TIMEOUT) or pick a smaller --model")]
    Timeout { url: String, secs: u64 },
    #[error("the model returned output tai could not use: {0}")]
    Malformed(String),
    #[error("model {model:?} does not support native tool calling (the server said: {message})")]
    NoToolSupport { model: String, message: String },
    #[error("could not set up the model client: {0}")]
    Setup(String),
}

impl HasExitCode for LlmError {
    fn exit_code(&self) -> Code {
        Code::ModelBackend
    }
}

impl LlmError {
    /// Worth another attempt: the server is overloaded or restarting, or the connection broke.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments, cleaned with [`clean_schema`].
    pub parameters: Value,
}

/// Clean a tool's argument schema for the server: tai's one schema cleaner
/// ([`crate::json_schema::StrictToolSchema`]), which removes keywords (`$schema`, `title`,
/// non-standard `format`, ...) and keeps properties of the same name.
pub fn clean_schema(v: &mut Value) {
    crate::json_schema::clean_value(v);
}

/// Which API the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST {base}/chat/completions`.
    OpenAi,
    /// `POST {root}/api/chat` (Ollama native; sends `options.num_ctx`).
    OllamaNative,
}

impl Endpoint {
    pub fn for_base_url(base_url: &str) -> Endpoint {
        if base_url.trim_end_matches('/').ends_with("/v1") {
            Endpoint::OpenAi
        } else {
            Endpoint::OllamaNative
        }
    }
}

/// How tools reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolMode {
    /// `tools` in the request, `tool_calls` in the reply.
    Native,
    /// Tool schemas in the system prompt, JSON tool calls in the reply text.
    Text,
}

/// Everything the client needs, resolved from [`ModelSettings`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub endpoint: Endpoint,
    pub num_ctx: Option<u32>,
    pub timeout: Duration,
    pub record_dir: Option<PathBuf>,
    /// What `--record` fixtures go through before they are written.
    pub redact: crate::redact::Redactor,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// First backoff; doubles per attempt.
    pub backoff: Duration,
    pub temperature: Option<f64>,
}

impl ClientOptions {
    pub fn from_settings(m: &ModelSettings) -> ClientOptions {
        ClientOptions {
            base_url: m.base_url.clone(),
            model: m.model.clone(),
            api_key: m.api_key.clone(),
            endpoint: Endpoint::for_base_url(&m.base_url),
            num_ctx: m.num_ctx,
            timeout: m.timeout,
            record_dir: m.record_dir.clone(),
            redact: m.redact.clone(),
            retries: 3,
            backoff: Duration::from_millis(500),
            temperature: Some(0.2),
        }
    }
}

/// One tool call the model asked for.
#[derive(Debug, Clone)]
pub struct ModelCall {
    pub name: String,
    pub args: Value,
    /// Arguments that were not a JSON object, as the model sent them.
    pub invalid_args: Option<String>,
    /// The wire call (for native tool results); `None` for text-protocol calls.
    pub wire: Option<RigToolCall>,
}

/// What the model answered.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The answer text, with any `<think>` block removed.
    pub text: String,
    pub calls: Vec<ModelCall>,
    /// Tokens the server reported: (prompt, completion).
    pub usage: Option<(u64, u64)>,
}

impl Reply {
    /// The assistant turn to append to the history: text and native calls, no reasoning.
    pub fn assistant_message(&self) -> Option<Message> {
        let mut content = Vec::new();
        if !self.text.trim().is_empty() {
            content.push(AssistantContent::text(self.text.clone()));
        }
        for c in &self.calls {
            if let Some(w) = &c.wire {
                content.push(AssistantContent::ToolCall(w.clone()));
            }
        }
        (!content.is_empty()).then(|| Message::Assistant(AssistantMessage::new(content)))
    }
}

enum Wire {
    OpenAi(Box<Model<rig_core::providers::openai::wire::Chat>>),
    Ollama(Model<rig_core::providers::ollama::Chat>),
}

/// The chat client: one rig model on tai's HTTP transport.
pub struct ModelClient {
    opts: ClientOptions,
    wire: Wire,
    recorder: Option<Arc<Recorder>>,
}

impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelClient")
            .field("opts", &self.opts)
            .finish()
    }
}

fn strip_think(text: &str) -> String {
    let mut s = text.to_string();
    for _ in 0..8 {
        let Some(start) = s.find("<think>") else {
            break;
        };
        match s[start..].find("</think>") {
            Some(end) => s.replace_range(start..start + end + "</think>".len(), ""),
            None => s.truncate(start),
        }
    }
    s.trim().to_string()
}

/// The `message` a server put in an error body: OpenAI `{"error":{"message":..}}`, Ollama
/// `{"error":".."}`, or the raw text.
pub fn server_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v["error"]["message"].as_str() {
            return m.to_string();
        }
        if let Some(m) = v["error"].as_str() {
            return m.to_string();
        }
        if let Some(m) = v["message"].as_str() {
            return m.to_string();
        }
    }
    body.chars()
        .take(500)
        .collect::<String>()
        .trim()
        .to_string()
}

impl ModelClient {
    pub fn new(opts: ClientOptions) -> Result<ModelClient, LlmError> {
        let recorder = match &opts.record_dir {
            Some(dir) => Some(Arc::new(
                Recorder::create(dir, opts.redact.clone()).map_err(|e| {
                    LlmError::Setup(format!(
                        "could not create the recording directory {}: {e}",
                        dir.display()
                    ))
                })?,
            )),
            None => None,
        };
        let http = TaiHttp::new(opts.timeout, recorder.clone())?;
        let key = opts.api_key.clone().unwrap_or_default();
        let wire = match opts.endpoint {
            Endpoint::OpenAi => {
                // The Ollama dialect is plain OpenAI Chat Completions that omits the
                // Authorization header when no key is set (vLLM/llama.cpp/LM Studio accept it).
                let cfg = rig_core::providers::openai::OpenAIConfig::with_key(
                    &rig_core::providers::openai::wire::OLLAMA,
                    key,
                )
                .with_base_url(probe::openai_base(&opts.base_url));
                Wire::OpenAi(Box::new(cfg.connect(http).chat(opts.model.clone())))
            }
            Endpoint::OllamaNative => {
                let mut cfg = rig_core::providers::ollama::OllamaConfig::new()
                    .with_base_url(probe::server_root(&opts.base_url));
                if !key.is_empty() {
                    cfg = cfg.with_api_key(key);
                }
                Wire::Ollama(cfg.connect(http).native_completion(opts.model.clone()))
            }
        };
        Ok(ModelClient {
            opts,
            wire,
            recorder,
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The context length sent as `options.num_ctx` on the native route (ignored on `/v1`,
    /// which cannot carry it).
    pub fn set_num_ctx(&mut self, n: u32) {
        self.opts.num_ctx = Some(n);
    }

    /// Where `--record` writes this session, when it does.
    pub fn recording(&self) -> Option<PathBuf> {
        self.recorder.as_ref().map(|r| r.path().to_path_buf())
    }

    fn url(&self) -> String {
        match self.opts.endpoint {
            Endpoint::OpenAi => format!(
                "{}/chat/completions",
                probe::openai_base(&self.opts.base_url)
            ),
            Endpoint::OllamaNative => {
                format!("{}/api/chat", probe::server_root(&self.opts.base_url))
            }
        }
    }

    /// Send `history` (with `tools` when given) and return the model's answer. Transient
    /// failures (HTTP 429/5xx, a broken connection) are retried with exponential backoff;
    /// everything else fails at once with an error that says what to do.
    pub async fn complete(
        &self,
        history: &[Message],
        tools: Option<&[ToolDef]>,
    ) -> Result<Reply, LlmError> {
        let mut req = CompletionRequest::from(history.to_vec());
        if let Some(tools) = tools {
            req.tools = tools
                .iter()
                .filter_map(|t| {
                    let name = ToolName::new(t.name.clone()).ok()?;
                    let mut params = t.parameters.clone();
                    clean_schema(&mut params);
                    Some(rig_core::completion::ToolDefinition::new(
                        name,
                        t.description.clone(),
                        params,
                    ))
                })
                .collect();
        }
        req.temperature = self.opts.temperature;
        if let (Endpoint::OllamaNative, Some(n)) = (self.opts.endpoint, self.opts.num_ctx) {
            req.additional_params = Some(serde_json::json!({ "num_ctx": n }));
        }
        let mut delay = self.opts.backoff;
        let mut last = None;
        for attempt in 0..=self.opts.retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let result = match &self.wire {
                Wire::OpenAi(m) => m.call(req.clone()).await,
                Wire::Ollama(m) => m.call(req.clone()).await,
            };
            match result {
                Ok(resp) => return Ok(self.reply(resp)),
                Err(e) => {
                    let (err, transient) = self.map_error(e);
                    if !transient {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| LlmError::Malformed("no attempt was made".into())))
    }

    fn reply(&self, resp: rig_core::completion::CompletionResponse) -> Reply {
        let text = strip_think(&resp.text());
        let calls = resp
            .tool_calls()
            .map(|c| ModelCall {
                name: c.function.name.to_string(),
                args: c.function.arguments_value(),
                invalid_args: c.function.invalid_arguments.clone(),
                wire: Some(c.clone()),
            })
            .collect();
        let usage = match (resp.usage.input_tokens, resp.usage.output_tokens) {
            (None, None) => None,
            (p, c) => Some((p.unwrap_or(0), c.unwrap_or(0))),
        };
        Reply { text, calls, usage }
    }

    /// Map rig's error to tai's, and say whether another attempt may help.
    fn map_error(&self, e: ProviderError) -> (LlmError, bool) {
        let url = self.url();
        let model = self.opts.model.clone();
        let from_reply = |status: u16, body: &str| -> LlmError {
            let message = server_message(body);
            let lower = message.to_ascii_lowercase();
            if lower.contains("does not support tools") {
                return LlmError::NoToolSupport {
                    model: model.clone(),
                    message,
                };
            }
            if status == 404 && lower.contains("not found") && lower.contains("model") {
                return LlmError::ModelMissing {
                    model: model.clone(),
                    url: self.opts.base_url.clone(),
                };
            }
            let message = match status {
                401 | 403 => format!("{message}\n  the server wants a credential: set TAI_API_KEY (or OPENAI_API_KEY)"),
                _ => message,
            };
            LlmError::Http {
                url: url.clone(),
                status,
                message,
            }
        };
        match &e {
            ProviderError::ProviderResponse(r) | ProviderError::InvalidAuthentication(r) => {
                let status = r.status.map(|s| s.as_u16()).unwrap_or(0);
                let err = from_reply(status, &r.body);
                let transient = err.is_transient();
                (err, transient)
            }
            ProviderError::Http(h) => {
                if let Some(status) = h.non_success_status() {
                    let err = from_reply(status.as_u16(), h.non_success_body().unwrap_or(""));
                    let transient = err.is_transient();
                    return (err, transient);
                }
                let mut src: Option<&(dyn std::error::Error + 'static)> = Some(h.as_ref());
                while let Some(s) = src {
                    if let Some(f) = s.downcast_ref::<TransportFailure>() {
                        return match f.kind {
                            FailureKind::Timeout => (
                                LlmError::Timeout {
                                    url,
                                    secs: self.opts.timeout.as_secs().max(1),
                                },
                                false,
                            ),
                            FailureKind::Connect => (
                                LlmError::Unreachable {
                                    url,
                                    reason: f.message.clone(),
                                },
                                false,
                            ),
                            FailureKind::Broken => (
                                LlmError::Unreachable {
                                    url,
                                    reason: f.message.clone(),
                                },
                                true,
                            ),
                        };
                    }
                    src = s.source();
                }
                (
                    LlmError::Unreachable {
                        url,
                        reason: h.to_string(),
                    },
                    false,
                )
            }
            ProviderError::Truncated => (
                LlmError::Malformed(format!("the reply from {url} was cut short")),
                true,
            ),
            other => (LlmError::Malformed(format!("{url}: {other}")), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleans_schema_keywords_not_properties() {
        let mut s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "ReadFileArgs",
            "type": "object",
            "properties": {
                "path": {"type": "string", "title": "Path"},
                "title": {"type": "string"},
                "lines": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "opts": {"anyOf": [{"$ref": "#/$defs/O"}, {"type": "null"}]}
            },
            "$defs": {"O": {"title": "O", "type": "object", "properties": {"n": {"type": "integer", "format": "int64"}}}}
        });
        clean_schema(&mut s);
        assert!(s.get("$schema").is_none());
        assert!(s.get("title").is_none());
        assert!(
            s["properties"]["title"].is_object(),
            "a property named title stays"
        );
        assert!(s["properties"]["path"].get("title").is_none());
        assert!(s["properties"]["lines"].get("format").is_none());
        assert_eq!(s["properties"]["lines"]["minimum"], 0);
        assert!(s["$defs"]["O"]["properties"]["n"].get("format").is_none());
    }

    #[test]
    fn endpoints_and_messages() {
        assert_eq!(
            Endpoint::for_base_url("http://h:11434/v1"),
            Endpoint::OpenAi
        );
        assert_eq!(
            Endpoint::for_base_url("http://h:11434/v1/"),
            Endpoint::OpenAi
        );
        assert_eq!(
            Endpoint::for_base_url("http://h:11434"),
            Endpoint::OllamaNative
        );
        assert_eq!(
            server_message(
                r#"{"error":{"message":"model \"x\" not found, try pulling it first","type":"api_error","param":null,"code":null}}"#
            ),
            "model \"x\" not found, try pulling it first"
        );
        assert_eq!(
            server_message(
                r#"{"error":"registry.ollama.ai/library/gemma3:4b does not support tools"}"#
            ),
            "registry.ollama.ai/library/gemma3:4b does not support tools"
        );
        assert_eq!(strip_think("<think>\nhmm\n</think>\n\nAnswer"), "Answer");
    }
}
