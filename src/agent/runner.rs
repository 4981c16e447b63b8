//! What the loop needs from the tool layer, as one small trait: the tool specs, the host facts,
//! and "execute these calls concurrently". The production implementation drives
//! `tools::execute_all` over the real registry, policy and transport.
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

/// Connect to `target` and build the production runner: the builtin registry, the read-only
/// policy and the transport, with the host facts detected once.
pub async fn connect(
    config: &crate::config::Config,
    target: &crate::transport::Target,
) -> Result<std::sync::Arc<dyn ToolRunner>, super::AgentError> {
    let _ = (config, target);
    Err(super::AgentError::Setup(
        "the tool registry is not on this branch yet (issue 4)".into(),
    ))
}

/// Runbook and past-session context for the first message (the knowledge layer provides it).
#[async_trait::async_trait]
pub trait ContextSource: Send + Sync {
    /// Context for `issue` on `host`, rendered as Markdown with sources, or `None`.
    async fn context_for(&self, issue: &str, host: &str) -> Option<String>;
}
