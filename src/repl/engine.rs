//! The session's bridge to the layers below: the category names (completion), the model
//! endpoint message, and the agent session over the one production runner
//! ([`crate::agent::HostRunner`], whose host `/host` can switch while the conversation goes on),
//! started through [`crate::agent::Session::start_with`] like every front end.
use std::sync::Arc;

use crate::agent::{AgentError, HostRunner, Session, SessionOptions};
use crate::config::Config;
use crate::llm::LlmError;
use crate::plan::Category;

/// The issue category names, in the order completion offers them.
pub fn category_names() -> Vec<String> {
    Category::ALL.iter().map(|c| c.to_string()).collect()
}

/// The message for a model endpoint that cannot be used, with what to try.
pub fn unreachable_message(base_url: &str, e: &LlmError) -> String {
    let why = match e {
        // The innermost cause says it best ("Connection refused (os error 111)").
        LlmError::Unreachable { reason, .. } => {
            reason.rsplit(": ").next().unwrap_or(reason).to_string()
        }
        LlmError::Timeout { secs, .. } => format!("no answer within {secs}s"),
        LlmError::Http {
            status, message, ..
        } => format!("HTTP {status}: {message}"),
        other => other.to_string(),
    };
    format!(
        "model endpoint {base_url} is unreachable: {why}\n  start `ollama serve` or pass --base-url; /collect works without a model"
    )
}

/// Start the agent session over `runner` ([`Session::start_with`]) with the options
/// `tai run` uses, the host's name, and the session's knowledge store.
pub async fn start_agent(config: &Config, runner: Arc<HostRunner>) -> Result<Session, AgentError> {
    // (A store that could not be opened is reported by the session's own commands.)
    let mut opts = SessionOptions::from_config(config, runner.host().name);
    if let Some(k) = runner.knowledge() {
        opts = opts.with_knowledge(k);
    }
    Session::start_with(config, runner, opts).await
}
