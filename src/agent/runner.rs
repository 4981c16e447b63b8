//! What the loop needs from the tool layer, as one small trait: the tool specs, the host facts,
//! and "execute these calls concurrently". [`RegistryRunner`], the production implementation,
//! drives `tools::execute` over the real registry, policy and transport; [`connect`] builds it.
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::llm::ToolDef;
use crate::tools::{HostFacts, ToolCall, ToolError, ToolOutcome};

/// Runs tool calls for the loop.
#[async_trait::async_trait]
pub trait ToolRunner: Send + Sync {
    /// The tools the model may call (schemas already cleaned).
    fn specs(&self) -> Vec<ToolDef>;
    /// What tai knows about the host.
    fn facts(&self) -> HostFacts;
    /// Run `calls` concurrently; results in input order. `cancel` stops in-flight commands.
    async fn run_all(
        &self,
        calls: &[ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>>;
    /// Run the baseline plan of `category` (`/collect`), numbering calls from `next_id`.
    async fn collect(
        &self,
        category: &str,
        next_id: &mut u32,
        cancel: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, ToolError>;
    /// Close the connection (end of session).
    async fn close(&self) {}
}

/// Runbook and past-session context for the first message (the knowledge layer provides it).
#[async_trait::async_trait]
pub trait ContextSource: Send + Sync {
    /// Context for `issue` on `host`, rendered as Markdown with sources, or `None`.
    async fn context_for(&self, issue: &str, host: &str) -> Option<String>;
}

/// The production runner: the builtin registry, the read-only policy and a transport.
pub struct RegistryRunner {
    ctx: crate::tools::ExecContext,
    registry: crate::tools::Registry,
    specs: Vec<ToolDef>,
}

impl RegistryRunner {
    pub fn new(ctx: crate::tools::ExecContext, registry: crate::tools::Registry) -> RegistryRunner {
        let specs = registry
            .specs()
            .into_iter()
            .map(|s| ToolDef {
                name: s.name,
                description: s.description,
                parameters: s.parameters,
            })
            .collect();
        RegistryRunner {
            ctx,
            registry,
            specs,
        }
    }

    /// The execution context with this turn's cancellation token (clones share the budget).
    fn ctx_for(&self, cancel: &CancellationToken) -> crate::tools::ExecContext {
        let mut ctx = self.ctx.clone();
        ctx.cancel = cancel.clone();
        ctx
    }
}

#[async_trait::async_trait]
impl ToolRunner for RegistryRunner {
    fn specs(&self) -> Vec<ToolDef> {
        self.specs.clone()
    }

    fn facts(&self) -> HostFacts {
        self.ctx.facts.clone()
    }

    async fn run_all(
        &self,
        calls: &[ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>> {
        crate::tools::execute_all(&self.ctx_for(cancel), &self.registry, calls).await
    }

    async fn collect(
        &self,
        category: &str,
        next_id: &mut u32,
        cancel: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, ToolError> {
        let cat = category
            .parse::<crate::plan::Category>()
            .map_err(ToolError::RespondToModel)?;
        let calls = crate::plan::baseline_calls(cat, next_id);
        let mut out = Vec::with_capacity(calls.len());
        for r in self.run_all(&calls, cancel).await {
            out.push(r?);
        }
        Ok(out)
    }

    async fn close(&self) {
        self.ctx.transport.close().await;
    }
}

/// The knowledge layer as the first turn's context source: runbook sections and prior sessions
/// relevant to the issue (`Knowledge::context_for`).
pub struct KnowledgeContext(pub Arc<crate::knowledge::Knowledge>);

#[async_trait::async_trait]
impl ContextSource for KnowledgeContext {
    async fn context_for(&self, issue: &str, host: &str) -> Option<String> {
        self.0.context_for(issue, host).await
    }
}

/// Connect to `target` and build the production runner: the builtin registry, the read-only
/// policy and the transport, with the host facts detected once; `knowledge` serves the
/// `search_runbooks` / `search_history` tools.
pub async fn connect(
    config: &crate::config::Config,
    target: &crate::transport::Target,
    knowledge: Option<Arc<dyn crate::tools::KnowledgeSource>>,
) -> Result<Arc<dyn ToolRunner>, super::AgentError> {
    let transport = crate::transport::connect(target, config).await?;
    let policy = crate::policy::Policy::load(config.sudo)?;
    let ctx = crate::tools::ExecContext::detect(
        transport,
        Arc::new(policy),
        config.limits,
        CancellationToken::new(),
    )
    .await;
    let ctx = match knowledge {
        Some(k) => ctx.with_knowledge(k),
        None => ctx,
    };
    Ok(Arc::new(RegistryRunner::new(
        ctx,
        crate::tools::Registry::builtin(),
    )))
}
