//! The session's bridge to the layers below: connecting to a host, the baseline plan
//! (`/collect`), the tool registry (names for completion), the model endpoint probe, and the
//! agent session over a [`ReplRunner`] whose host `/host` can switch while the conversation
//! goes on. Everything the REPL needs from `transport`, `tools`, `plan`, `llm` and `agent`
//! goes through here.
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use super::ReplError;
use crate::config::Config;
use crate::knowledge::Knowledge;
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
    /// Runbooks and session memory; `None` when the store could not be opened
    /// (`knowledge_problem` says why), and the session goes on without them.
    pub knowledge: Option<Arc<Knowledge>>,
    pub knowledge_problem: Option<String>,
}

impl Tools {
    pub fn load(config: &Config) -> Result<Tools, ReplError> {
        let (knowledge, knowledge_problem) = match Knowledge::open(config) {
            Ok(k) => (Some(Arc::new(k)), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(Tools {
            policy: Arc::new(Policy::load(config.sudo)?),
            registry: Arc::new(Registry::builtin()),
            knowledge,
            knowledge_problem,
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
    let ctx = match &tools.knowledge {
        Some(k) => ctx.with_knowledge(k.clone()),
        None => ctx,
    };
    Ok(Connected {
        target: target.clone(),
        name: target.display_name(),
        transport,
        facts: ctx.facts.clone(),
        ctx,
    })
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

/// The agent's tool runner in the REPL: the session's registry and policy over the current
/// host's connection. `/host` swaps the host under a running conversation.
pub struct ReplRunner {
    tools: Tools,
    host: RwLock<Connected>,
    specs: Vec<crate::llm::ToolDef>,
}

impl ReplRunner {
    pub fn new(tools: Tools, host: Connected) -> ReplRunner {
        let specs = tools
            .registry
            .specs()
            .into_iter()
            .map(|s| crate::llm::ToolDef {
                name: s.name,
                description: s.description,
                parameters: s.parameters,
            })
            .collect();
        ReplRunner {
            tools,
            host: RwLock::new(host),
            specs,
        }
    }

    /// The current host.
    pub fn host(&self) -> Connected {
        match self.host.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Switch to `host`; returns the previous one (still open: the caller closes it).
    pub fn switch(&self, host: Connected) -> Connected {
        let mut guard = match self.host.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::replace(&mut *guard, host)
    }
}

#[async_trait::async_trait]
impl crate::agent::ToolRunner for ReplRunner {
    fn specs(&self) -> Vec<crate::llm::ToolDef> {
        self.specs.clone()
    }

    fn facts(&self) -> HostFacts {
        self.host().facts
    }

    async fn run_all(
        &self,
        calls: &[crate::tools::ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, crate::tools::ToolError>> {
        let ctx = self.host().ctx_with(cancel);
        crate::tools::execute_all(&ctx, &self.tools.registry, calls).await
    }

    async fn collect(
        &self,
        category: &str,
        next_id: &mut u32,
        cancel: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, crate::tools::ToolError> {
        let category: Category = category
            .parse()
            .map_err(crate::tools::ToolError::RespondToModel)?;
        let calls = crate::plan::baseline_calls(category, next_id);
        self.run_all(&calls, cancel).await.into_iter().collect()
    }

    async fn close(&self) {
        self.host().transport.close().await;
    }
}

/// Start the agent session over `runner`: the model client from the configuration, its tool
/// mode and context length probed (a short probe; an unreachable server is reported by the
/// first turn, so `/collect` still works without one).
pub async fn start_agent(
    config: &Config,
    runner: Arc<ReplRunner>,
) -> Result<crate::agent::Session, crate::agent::AgentError> {
    use crate::agent::{Session, SessionOptions};
    use crate::llm::{ClientOptions, Endpoint, ModelClient};
    let host = runner.host().name;
    let mut opts = SessionOptions::from_config(config, host);
    if let Some(k) = &runner.tools.knowledge {
        opts.context = Some(Arc::new(KnowledgeContext(k.clone())));
    }
    opts.findings = Some(Arc::new(|outcomes: &[ToolOutcome]| {
        Some(crate::triage::prompt_section(&crate::triage::analyze(
            outcomes,
        )))
    }));
    let mut model = ModelClient::new(ClientOptions::from_settings(&config.model))?;
    let mode = if config.no_llm {
        crate::llm::ToolMode::Native
    } else {
        Session::probe_mode(&model, &mut opts).await?
    };
    if model.options().endpoint == Endpoint::OllamaNative && model.options().num_ctx.is_none() {
        // Ollama's own default context is small; ask for what the budget assumes.
        model.set_num_ctx(opts.context_tokens.min(u64::from(u32::MAX)) as u32);
    }
    Ok(Session::new(opts, model, runner, mode))
}

/// Runbooks and similar past sessions for the model's first message.
struct KnowledgeContext(Arc<Knowledge>);

#[async_trait::async_trait]
impl crate::agent::ContextSource for KnowledgeContext {
    async fn context_for(&self, issue: &str, host: &str) -> Option<String> {
        self.0.context_for(issue, host).await
    }
}
