//! The session's bridge to the layers below: connecting to a host, the baseline plan
//! (`/collect`), the tool registry (names for completion), and the model endpoint probe.
//! Everything the REPL needs from `transport`, `tools`, `plan` and `llm` goes through here.
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ReplError;
use crate::config::Config;
use crate::llm::LlmError;
use crate::plan::Category;
use crate::policy::Policy;
use crate::tools::{ExecContext, HostFacts, Registry, ToolOutcome};
use crate::transport::{Target, Transport};

/// The issue category names, in the order completion offers them.
pub fn category_names() -> Vec<String> {
    Category::ALL.iter().map(|c| c.to_string()).collect()
}

/// What every host of a session shares: the read-only policy and the tool registry.
#[derive(Clone)]
pub struct Tools {
    pub policy: Arc<Policy>,
    pub registry: Arc<Registry>,
}

impl Tools {
    pub fn load(config: &Config) -> Result<Tools, ReplError> {
        Ok(Tools {
            policy: Arc::new(Policy::load(config.sudo)?),
            registry: Arc::new(Registry::builtin()),
        })
    }

    /// Tool names for completion.
    pub fn names(&self) -> Vec<String> {
        self.registry
            .names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}

/// A connected host and what tai learned about it.
#[derive(Clone)]
pub struct Connected {
    pub target: Target,
    /// The name shown in the prompt and labels (`local`, `ops@web01`).
    pub name: String,
    pub transport: Arc<dyn Transport>,
    pub facts: HostFacts,
    /// Everything a tool call on this host needs (its clones share the session output budget).
    pub ctx: ExecContext,
}

impl Connected {
    /// The host's execution context with its own cancellation token.
    pub fn ctx_with(&self, cancel: &CancellationToken) -> ExecContext {
        let mut ctx = self.ctx.clone();
        ctx.cancel = cancel.clone();
        ctx
    }
}

/// Connect to `target` and detect its facts (OS, kernel, hostname, uptime).
pub async fn connect(
    config: &Config,
    tools: &Tools,
    target: &Target,
) -> Result<Connected, ReplError> {
    let transport = crate::transport::connect(target, config).await?;
    let ctx = ExecContext::detect(
        transport.clone(),
        tools.policy.clone(),
        config.limits,
        CancellationToken::new(),
    )
    .await;
    Ok(Connected {
        target: target.clone(),
        name: target.display_name(),
        transport,
        facts: ctx.facts.clone(),
        ctx,
    })
}

/// Run the baseline plan of `category` on the host; ids continue from `next_id`. Cancelling
/// stops the running commands; what finished (and what was cut short, marked so) comes back.
pub async fn collect(
    tools: &Tools,
    host: &Connected,
    category: Category,
    next_id: &mut u32,
    cancel: &CancellationToken,
) -> Result<Vec<ToolOutcome>, ReplError> {
    let ctx = host.ctx_with(cancel);
    Ok(crate::plan::collect(&ctx, &tools.registry, category, next_id).await?)
}

/// Is the configured model usable? `Err` carries a message that says what to do.
pub async fn probe_model(config: &Config) -> Result<(), String> {
    let m = &config.model;
    match crate::llm::probe::list_models(&m.base_url, m.api_key.as_deref(), PROBE_TIMEOUT).await {
        Ok(models) => {
            let wanted = &m.model;
            let found = models
                .iter()
                .any(|id| id == wanted || *id == format!("{wanted}:latest"));
            if found || models.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "model {wanted:?} is not available at {}\n  pull it with `ollama pull {wanted}` or pass --model (available: {}); /collect works without a model",
                    m.base_url,
                    models.join(", ")
                ))
            }
        }
        Err(e) => Err(unreachable_message(&m.base_url, &e)),
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

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
