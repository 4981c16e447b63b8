//! The model client on rig-core: chat with tools over the OpenAI-compatible and Ollama native
//! endpoints, the capability probe, the text-protocol fallback, embeddings, record/replay.
//! Lands with issue 5.
use crate::exit::{Code, HasExitCode};

pub mod probe;

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
    #[error("model endpoint {url} did not answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("the model returned output tai could not use: {0}")]
    Malformed(String),
}

impl HasExitCode for LlmError {
    fn exit_code(&self) -> Code {
        Code::ModelBackend
    }
}
