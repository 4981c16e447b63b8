//! The agent: a [`Session`] (one conversation with the model about one host at a time) over a
//! [`ToolRunner`]: bounded steps, concurrent tool calls, budgets, the repeat guard,
//! cancellation, and the final report. `conversation` holds the history and compaction,
//! `calls` the call ids, the repeat guard and tool batches, `turn` one investigation turn,
//! `answer` the report; `runner` the tool side, `no_model` the investigation without a model.
//!
//! # Session API (used by `tai run`, the REPL and every front end)
//!
//! ```text
//! let runner = Arc::new(HostRunner::connect(&config, &target).await?);
//! let opts = SessionOptions::from_config(&config, target.display_name()).with_knowledge(k);
//! let mut s = Session::start_with(&config, runner, opts).await?;
//! s.collect(None, &cancel).await?;               // optional: /collect, the baseline plan
//! let report = s.turn("nginx is down", &cancel).await?;  // one investigation turn
//! let report = s.turn("what about php-fpm?", &cancel).await?; // follow-ups keep the history
//! s.outcomes(); s.tokens(); s.turn_tokens(); s.facts(); s.transcript_markdown();
//! s.save_to_history(&report).await;           // session memory (unless --no-persist)
//! s.close().await;
//! ```
//!
//! [`Session::start_with`] is the one way a front end starts a session: it builds the model
//! client from the configuration and probes the model. The production runner is
//! [`HostRunner`] (builtin registry, policy, transport; the REPL swaps its host with `/host`);
//! [`Session::start`] is [`HostRunner::connect`] plus `start_with`. The first user message
//! carries the host facts, the issue, the baseline results when `/collect` ran, the triage
//! findings of those results ([`SessionOptions::from_config`]; nothing about findings when
//! nothing was collected), and retrieved runbook/session context
//! ([`SessionOptions::with_knowledge`]).
//!
//! A turn is an explicit loop `for step in 0..max_steps`: the model answers with tool calls
//! (run concurrently through [`ToolRunner::run_all`]: `tools::execute` per call, bounded by
//! `max_concurrency`, results in order, as `tools::execute_all` does) or with the
//! final answer; the last step is sent without tools so the model must answer; hitting the
//! bound still ends with the best report so far. Unknown tools, invalid arguments and policy
//! denials come back to the model as messages it can act on; a fatal transport error ends the
//! turn with `Err`. Cancelling the token (Ctrl-C in the CLI) stops the turn, closes in-flight
//! commands and keeps the session usable.
//!
//! Budgets: each call's output is capped for the model (head and tail, with advice to
//! narrow); token use is estimated per turn and per session; when the history nears the
//! context length, older tool outputs are compacted (marked, never silently dropped). The
//! repeat guard answers an identical call (tool + arguments) from the earlier result, also
//! after compaction.
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use rig_core::completion::Message;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::exit::{Code, HasExitCode};
use crate::llm::{LlmError, ModelClient, ToolDef, ToolMode};
use crate::plan::Category;
use crate::report::{Report, Tokens};
use crate::tools::{HostFacts, ToolError, ToolOutcome};

mod answer;
pub mod budget;
mod calls;
mod conversation;
pub mod no_model;
pub mod progress;
pub mod prompts;
pub mod runner;
mod turn;

pub use progress::Progress;
pub use prompts::Prompts;
pub use runner::{ContextSource, Host, HostRunner, SessionTools, ToolRunner};

use conversation::{Entry, ToolMsg};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error("could not start the session: {0}")]
    Setup(String),
}

impl HasExitCode for AgentError {
    fn exit_code(&self) -> Code {
        match self {
            AgentError::Llm(e) => e.exit_code(),
            AgentError::Transport(e) => e.exit_code(),
            AgentError::Interrupted => Code::Interrupted,
            AgentError::Policy(e) => e.exit_code(),
            AgentError::Setup(_) => Code::Failure,
        }
    }
}

impl From<ToolError> for AgentError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Fatal(t) => AgentError::Transport(t),
            ToolError::RespondToModel(m) => AgentError::Setup(m),
        }
    }
}

/// Deterministic findings for the first message: the whole section with its heading
/// (`triage::prompt_section(&triage::analyze(outcomes))`), or `None` to leave it out.
pub type FindingsFn = Arc<dyn Fn(&[ToolOutcome]) -> Option<String> + Send + Sync>;

impl SessionOptions {
    /// Use the knowledge store of `runner` ([`SessionOptions::with_knowledge`]); when it could
    /// not be opened, say so on the progress line and go on without it.
    pub fn with_store_of(self, runner: &HostRunner) -> Self {
        match (runner.knowledge(), &runner.tools().knowledge_problem) {
            (Some(k), _) => self.with_knowledge(k),
            (None, Some(why)) => {
                self.progress
                    .note(&format!("warning: runbooks and history unavailable: {why}"));
                self
            }
            (None, None) => self,
        }
    }

    /// Use the knowledge store: runbook sections and prior sessions relevant to the issue go
    /// into the first message (unless a context source is already set), the runbooks' log
    /// messages guide Tier-1 retrieval, and [`Session::save_to_history`] records the session.
    pub fn with_knowledge(mut self, knowledge: Arc<crate::knowledge::Knowledge>) -> Self {
        if self.context.is_none() {
            self.context = Some(Arc::new(runner::KnowledgeContext(knowledge.clone())));
        }
        self.knowledge = Some(knowledge);
        self
    }
}

/// Knobs of one session.
#[derive(Clone)]
pub struct SessionOptions {
    /// Host name as shown to the user and the model.
    pub host: String,
    pub max_steps: usize,
    /// Context window in tokens; compaction starts at 3/4 of it.
    pub context_tokens: u64,
    /// Characters of one call's output the model sees (head and tail kept).
    pub call_output_chars: usize,
    /// Issue category override (`--category`); otherwise classified from the issue text.
    pub category: Option<Category>,
    pub prompts: Prompts,
    pub progress: Progress,
    pub findings: Option<FindingsFn>,
    pub context: Option<Arc<dyn ContextSource>>,
    /// The knowledge store ([`SessionOptions::with_knowledge`]).
    pub knowledge: Option<Arc<crate::knowledge::Knowledge>>,
    /// Tier-1 retrieval: an output over its cap is sent as the chunks most relevant to the
    /// question instead of head and tail. Off with `--no-rag`.
    pub rag: bool,
}

/// Context assumed for an OpenAI-compatible server, where tai cannot set or learn `num_ctx`.
pub const DEFAULT_CONTEXT_TOKENS: u64 = 8192;
/// Context tai asks for on Ollama's native route when none is configured (capped by the model).
pub const DEFAULT_NATIVE_CONTEXT_TOKENS: u64 = 16384;
/// Characters of one tool output the model sees.
pub const DEFAULT_CALL_OUTPUT_CHARS: usize = 6000;

impl SessionOptions {
    pub fn new(host: impl Into<String>, max_steps: usize) -> SessionOptions {
        SessionOptions {
            host: host.into(),
            max_steps: max_steps.max(1),
            context_tokens: DEFAULT_CONTEXT_TOKENS,
            call_output_chars: DEFAULT_CALL_OUTPUT_CHARS,
            category: None,
            prompts: Prompts::default(),
            progress: Progress::off(),
            findings: None,
            context: None,
            knowledge: None,
            rag: true,
        }
    }

    /// Options from the resolved configuration: steps, prompts from TAI_HOME, progress on
    /// stderr, and the deterministic findings (`triage`) of collected output for the first
    /// message. The knowledge store is added by [`SessionOptions::with_knowledge`]
    /// ([`SessionOptions::with_store_of`] for a [`HostRunner`]'s store).
    pub fn from_config(config: &Config, host: impl Into<String>) -> SessionOptions {
        let mut o = SessionOptions::new(host, config.model.max_steps);
        o.prompts = Prompts::load(&config.tai_home);
        o.progress = Progress::stderr(config.color);
        o.findings = Some(Arc::new(|outcomes: &[ToolOutcome]| {
            // Nothing collected yet: no findings section rather than "nothing fired".
            (!outcomes.is_empty())
                .then(|| crate::triage::prompt_section(&crate::triage::analyze(outcomes)))
        }));
        if let Some(n) = config.model.num_ctx {
            o.context_tokens = u64::from(n);
        }
        o.rag = !config.no_rag;
        o
    }
}

/// A conversation with one host.
pub struct Session {
    opts: SessionOptions,
    model: ModelClient,
    runner: Arc<dyn ToolRunner>,
    mode: ToolMode,
    specs: Vec<ToolDef>,
    history: Vec<Message>,
    tool_msgs: Vec<ToolMsg>,
    outcomes: Vec<ToolOutcome>,
    /// Repeat guard: call key → id of the call that answered it.
    seen: HashMap<String, String>,
    /// Full (model-capped) result text per call id, kept even after compaction.
    results: HashMap<String, String>,
    next_id: u32,
    tokens: Tokens,
    turn_tokens: Tokens,
    facts: HostFacts,
    issue: Option<String>,
    category: Option<Category>,
    /// Baseline outcomes not yet shown to the model.
    pending_baseline: Vec<ToolOutcome>,
    transcript: Vec<Entry>,
    compactions: usize,
    knowledge: Option<Arc<crate::knowledge::Knowledge>>,
    /// The text outputs are ranked against: the issue and the latest user turn.
    question: String,
    /// Log messages the runbooks matching `question` say to look for (ranked first by Tier 1).
    question_patterns: Vec<String>,
    /// Tier-1 retrieval totals: tokens sent for outputs over their cap, and what they held.
    retrieval_sent: AtomicU64,
    retrieval_full: AtomicU64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.opts.host)
            .field("mode", &self.mode)
            .field("steps", &self.opts.max_steps)
            .field("outcomes", &self.outcomes.len())
            .finish()
    }
}

impl Session {
    /// A session over an already connected runner and model client.
    pub fn new(
        opts: SessionOptions,
        model: ModelClient,
        runner: Arc<dyn ToolRunner>,
        mode: ToolMode,
    ) -> Session {
        let facts = runner.facts();
        let specs = runner.specs();
        let knowledge = opts.knowledge.clone();
        Session {
            opts,
            model,
            runner,
            mode,
            specs,
            history: Vec::new(),
            tool_msgs: Vec::new(),
            outcomes: Vec::new(),
            seen: HashMap::new(),
            results: HashMap::new(),
            next_id: 1,
            tokens: Tokens::default(),
            turn_tokens: Tokens::default(),
            facts,
            issue: None,
            category: None,
            pending_baseline: Vec::new(),
            transcript: Vec::new(),
            compactions: 0,
            knowledge,
            question: String::new(),
            question_patterns: Vec::new(),
            retrieval_sent: AtomicU64::new(0),
            retrieval_full: AtomicU64::new(0),
        }
    }

    /// Record the session's outcome in session memory (redacted by the knowledge layer; a
    /// temporary store under --no-persist), so later sessions on this host can retrieve it.
    /// Returns the session id, or `None` without a store.
    pub async fn save_to_history(
        &self,
        report: &Report,
    ) -> Option<Result<u32, crate::knowledge::KnowledgeError>> {
        let k = self.knowledge.as_ref()?;
        let mut summary = crate::knowledge::SessionSummary::from_report(
            report,
            Some(self.model.options().model.as_str()),
        );
        summary.host = self.opts.host.clone();
        // The store runs its LMDB write on a blocking thread.
        Some(k.record_session(summary).await)
    }

    /// Probe the model (Ollama `/api/show`): pick native tools or the text protocol, and learn
    /// the context length. A model Ollama does not have fails here with `ollama pull <model>`.
    pub async fn probe_mode(
        model: &ModelClient,
        opts: &mut SessionOptions,
    ) -> Result<ToolMode, LlmError> {
        let o = model.options();
        match crate::llm::probe::ollama_show(
            &o.base_url,
            &o.model,
            std::time::Duration::from_secs(10),
        )
        .await
        {
            Ok(Some(info)) => {
                if let Some(ctx) = info.context_length {
                    let want = o.num_ctx.map(u64::from).unwrap_or(match o.endpoint {
                        crate::llm::Endpoint::OllamaNative => DEFAULT_NATIVE_CONTEXT_TOKENS,
                        crate::llm::Endpoint::OpenAi => DEFAULT_CONTEXT_TOKENS,
                    });
                    opts.context_tokens = want.min(ctx);
                }
                Ok(if info.capabilities.is_empty() || info.supports_tools() {
                    ToolMode::Native
                } else {
                    ToolMode::Text
                })
            }
            Ok(None) => Ok(ToolMode::Native),
            Err(e @ LlmError::ModelMissing { .. }) => Err(e),
            // An unreachable server shows up on the first chat request with the full message.
            Err(_) => Ok(ToolMode::Native),
        }
    }

    /// Start a session over `runner`: the model client from the configuration, its tool mode
    /// and context length probed (a short probe; an unreachable server is reported by the first
    /// turn, so `/collect` still works without one; none under `--no-llm`), and `num_ctx` set on
    /// Ollama's native route. Every front end (`tai run`, the REPL, tests) starts here.
    pub async fn start_with(
        config: &Config,
        runner: Arc<dyn ToolRunner>,
        mut opts: SessionOptions,
    ) -> Result<Session, AgentError> {
        let mut model = ModelClient::new(crate::llm::ClientOptions::from_settings(&config.model))?;
        let mode = if config.no_llm {
            ToolMode::Native
        } else {
            Session::probe_mode(&model, &mut opts).await?
        };
        if model.options().endpoint == crate::llm::Endpoint::OllamaNative
            && model.options().num_ctx.is_none()
        {
            // Ollama's own default context is small; ask for what the budget assumes.
            model.set_num_ctx(opts.context_tokens.min(u64::from(u32::MAX)) as u32);
        }
        if let Some(path) = model.recording() {
            opts.progress
                .note(&format!("recording model exchanges to {}", path.display()));
        }
        Ok(Session::new(opts, model, runner, mode))
    }

    /// Connect to `target` ([`HostRunner::connect`]: policy, registry, knowledge store, host
    /// facts) and [`Session::start_with`] over it, with the knowledge store in `opts`.
    pub async fn start(
        config: &Config,
        target: &crate::transport::Target,
        opts: SessionOptions,
    ) -> Result<Session, AgentError> {
        let runner = HostRunner::connect(config, target).await?;
        let opts = opts.with_store_of(&runner);
        Session::start_with(config, Arc::new(runner), opts).await
    }

    /// End the session: close the connection.
    pub async fn close(&self) {
        self.runner.close().await;
    }

    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }
    pub fn mode(&self) -> ToolMode {
        self.mode
    }
    /// Every tool call of the session, in order.
    pub fn outcomes(&self) -> &[ToolOutcome] {
        &self.outcomes
    }
    /// Tokens used by the whole session (server-reported where available, else estimated).
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }
    /// Tokens used by the last turn.
    pub fn turn_tokens(&self) -> Tokens {
        self.turn_tokens
    }
    pub fn facts(&self) -> &HostFacts {
        &self.facts
    }
    pub fn category(&self) -> Option<Category> {
        self.category
    }
    /// How many tool outputs were compacted to fit the context.
    pub fn compactions(&self) -> usize {
        self.compactions
    }
    /// `/collect`: run the baseline plan of `category` (default: the session's category, else
    /// `general`). The results go into the next message to the model.
    pub async fn collect(
        &mut self,
        category: Option<Category>,
        cancel: &CancellationToken,
    ) -> Result<Vec<ToolOutcome>, AgentError> {
        let cat = category
            .or(self.category)
            .or(self.opts.category)
            .unwrap_or(Category::General);
        if self.category.is_none() {
            self.category = Some(cat);
        }
        self.opts
            .progress
            .note(&format!("collecting the {cat} baseline"));
        let mut next = self.next_id;
        let runner = self.runner.clone();
        // No race against `cancel` here: the runner stops its commands when it fires and
        // returns what finished, so an interrupted /collect keeps its partial results.
        let outcomes = runner.collect(cat, &mut next, cancel).await?;
        self.next_id = next;
        for o in &outcomes {
            self.opts.progress.tool_end(o);
            self.remember(o);
        }
        self.outcomes.extend(outcomes.iter().cloned());
        self.pending_baseline.extend(outcomes.iter().cloned());
        Ok(outcomes)
    }
}
