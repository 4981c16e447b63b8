//! What the loop needs from the tool layer, as one small trait ([`ToolRunner`]): the tool specs,
//! the host facts, and "execute these calls concurrently". [`HostRunner`] is the one production
//! implementation: the builtin registry and the read-only policy ([`SessionTools`], shared by
//! every host of a session) over one connected [`Host`], which a front end can swap (`/host`)
//! while the conversation goes on. `tai run`, the REPL and every later front end build a
//! [`HostRunner`] and hand it to [`super::Session::start_with`].
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use super::AgentError;
use crate::config::Config;
use crate::knowledge::Knowledge;
use crate::llm::ToolDef;
use crate::plan::Category;
use crate::policy::Policy;
use crate::tools::{ExecContext, HostFacts, Registry, ToolCall, ToolError, ToolOutcome};
use crate::transport::{Target, Transport};

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
        category: Category,
        next_id: &mut u32,
        cancel: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, ToolError> {
        let calls = crate::plan::baseline_calls(category, next_id);
        self.run_all(&calls, cancel).await.into_iter().collect()
    }
    /// Close the connection (end of session).
    async fn close(&self) {}
}

/// Runbook and past-session context for the first message (the knowledge layer provides it).
#[async_trait::async_trait]
pub trait ContextSource: Send + Sync {
    /// Context for `issue` on `host`, rendered as Markdown with sources, or `None`.
    async fn context_for(&self, issue: &str, host: &str) -> Option<String>;
}

/// The knowledge layer as the first turn's context source: runbook sections and prior sessions
/// relevant to the issue (`Knowledge::context_for`).
pub struct KnowledgeContext(pub Arc<Knowledge>);

#[async_trait::async_trait]
impl ContextSource for KnowledgeContext {
    async fn context_for(&self, issue: &str, host: &str) -> Option<String> {
        self.0.context_for(issue, host).await
    }
}

/// What every host of a session shares: the read-only policy, the tool registry and the
/// knowledge store.
#[derive(Clone)]
pub struct SessionTools {
    pub policy: Arc<Policy>,
    pub registry: Arc<Registry>,
    /// Runbooks and session memory; `None` when the store could not be opened
    /// (`knowledge_problem` says why), and the session goes on without them.
    pub knowledge: Option<Arc<Knowledge>>,
    pub knowledge_problem: Option<String>,
    /// The audit log (the process's, [`crate::audit::current`]) and this session's id: every
    /// host of the session writes its commands there under the same session.
    pub audit: Arc<crate::audit::AuditLog>,
    pub session_id: String,
}

impl SessionTools {
    /// The policy, the builtin registry, and the knowledge store (a temporary one under
    /// `--no-persist`). Opening the store touches LMDB, so it runs off the async threads.
    pub async fn load(config: &Config) -> Result<SessionTools, AgentError> {
        let policy = Arc::new(Policy::load(config.sudo)?);
        let cfg = config.clone();
        let opened = tokio::task::spawn_blocking(move || Knowledge::open(&cfg))
            .await
            .map_err(|e| AgentError::Setup(format!("opening the knowledge store: {e}")))?;
        let (knowledge, knowledge_problem) = match opened {
            Ok(k) => (Some(Arc::new(k)), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(SessionTools {
            policy,
            registry: Arc::new(Registry::builtin()),
            knowledge,
            knowledge_problem,
            audit: crate::audit::current(),
            session_id: crate::audit::new_session_id(),
        })
    }

    /// The policy and the builtin registry without a knowledge store (the no-model path).
    pub fn without_knowledge(config: &Config) -> Result<SessionTools, AgentError> {
        Ok(SessionTools {
            policy: Arc::new(Policy::load(config.sudo)?),
            registry: Arc::new(Registry::builtin()),
            knowledge: None,
            knowledge_problem: None,
            audit: crate::audit::current(),
            session_id: crate::audit::new_session_id(),
        })
    }

    /// Tool names (for completion).
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
pub struct Host {
    pub target: Target,
    /// The name shown in the prompt, labels and reports (`local`, `ops@web01`).
    pub name: String,
    pub transport: Arc<dyn Transport>,
    pub facts: HostFacts,
    /// Everything a tool call on this host needs (its clones share the host's output budget).
    pub ctx: ExecContext,
}

impl Host {
    /// Connect to `target` and detect its facts (OS, kernel, hostname, uptime).
    pub async fn connect(
        config: &Config,
        tools: &SessionTools,
        target: &Target,
    ) -> Result<Host, AgentError> {
        let transport = crate::transport::connect(target, config).await?;
        let scope = crate::audit::Scope::new(
            tools.audit.clone(),
            tools.session_id.clone(),
            target.display_name(),
        );
        // Every command on this host, the facts detection included, is audited.
        let ctx = crate::tools::audited::context(
            transport,
            tools.policy.clone(),
            config.limits,
            CancellationToken::new(),
            Some(Arc::new(scope)),
        )
        .await;
        let transport = ctx.transport.clone();
        let ctx = match &tools.knowledge {
            Some(k) => ctx.with_knowledge(k.clone()),
            None => ctx,
        };
        Ok(Host {
            target: target.clone(),
            name: target.display_name(),
            transport,
            facts: ctx.facts.clone(),
            ctx,
        })
    }

    /// The host's execution context with `cancel` as its cancellation token.
    pub fn ctx_with(&self, cancel: &CancellationToken) -> ExecContext {
        let mut ctx = self.ctx.clone();
        ctx.cancel = cancel.clone();
        ctx
    }
}

/// The production runner: the session's registry and policy over the current host's
/// connection. [`HostRunner::switch`] swaps the host under a running conversation.
pub struct HostRunner {
    tools: SessionTools,
    host: RwLock<Host>,
    specs: Vec<ToolDef>,
}

impl HostRunner {
    pub fn new(tools: SessionTools, host: Host) -> HostRunner {
        let specs = tools
            .registry
            .specs()
            .into_iter()
            .map(|s| ToolDef {
                name: s.name,
                description: s.description,
                parameters: s.parameters,
            })
            .collect();
        HostRunner {
            tools,
            host: RwLock::new(host),
            specs,
        }
    }

    /// Load the session's tools ([`SessionTools::load`]) and connect to `target`.
    pub async fn connect(config: &Config, target: &Target) -> Result<HostRunner, AgentError> {
        let tools = SessionTools::load(config).await?;
        let host = Host::connect(config, &tools, target).await?;
        Ok(HostRunner::new(tools, host))
    }

    /// What every host of the session shares.
    pub fn tools(&self) -> &SessionTools {
        &self.tools
    }

    /// The knowledge store, if it could be opened.
    pub fn knowledge(&self) -> Option<Arc<Knowledge>> {
        self.tools.knowledge.clone()
    }

    /// The current host.
    pub fn host(&self) -> Host {
        match self.host.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Connect to another host with this session's tools (not yet switched to).
    pub async fn connect_host(&self, config: &Config, target: &Target) -> Result<Host, AgentError> {
        Host::connect(config, &self.tools, target).await
    }

    /// Switch to `host`; returns the previous one (still open: the caller closes it).
    pub fn switch(&self, host: Host) -> Host {
        let mut guard = match self.host.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::replace(&mut *guard, host)
    }
}

#[async_trait::async_trait]
impl ToolRunner for HostRunner {
    fn specs(&self) -> Vec<ToolDef> {
        self.specs.clone()
    }

    fn facts(&self) -> HostFacts {
        self.host().facts
    }

    async fn run_all(
        &self,
        calls: &[ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Result<ToolOutcome, ToolError>> {
        let ctx = self.host().ctx_with(cancel);
        crate::tools::execute_all(&ctx, &self.tools.registry, calls).await
    }

    async fn close(&self) {
        self.host().transport.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(home: &std::path::Path) -> Config {
        let o = crate::config::Overrides {
            tai_home: Some(home.to_path_buf()),
            no_persist: true,
            ..Default::default()
        };
        Config::resolve_with(&o, &|_| None).expect("config")
    }

    #[tokio::test]
    async fn switching_the_host_keeps_the_tools_and_runs_on_the_new_one() {
        let home = tempfile::tempdir().unwrap();
        let cfg = config(home.path());
        let runner = HostRunner::connect(&cfg, &Target::Local).await.unwrap();
        let specs = runner.specs();
        assert!(specs.iter().any(|s| s.name == "disk_usage"));
        let first_budget = runner.host().ctx.session_bytes_used();
        let other = runner.connect_host(&cfg, &Target::Local).await.unwrap();
        let old = runner.switch(other);
        assert_eq!(old.name, "local");
        assert_eq!(runner.specs().len(), specs.len());
        let before = runner.host().ctx.session_bytes_used();
        let mut next = 1;
        let out = runner
            .collect(Category::Disk, &mut next, &CancellationToken::new())
            .await
            .unwrap();
        assert!(!out.is_empty() && next as usize == out.len() + 1);
        // The calls ran on the new host: its budget moved, the old one's did not.
        assert!(runner.host().ctx.session_bytes_used() > before);
        assert_eq!(old.ctx.session_bytes_used(), first_budget);
    }
}
