//! The agent loop: bounded steps, concurrent tool calls, budgets, the repeat guard,
//! cancellation, and the final report.
//!
//! # Session API (used by `tai run` and the REPL)
//!
//! ```text
//! let opts = SessionOptions::from_config(&config, target.display_name());
//! let mut s = Session::start(&config, &target, opts).await?;
//! s.collect(None, &cancel).await?;               // optional: /collect, the baseline plan
//! let report = s.turn("nginx is down", &cancel).await?;  // one investigation turn
//! let report = s.turn("what about php-fpm?", &cancel).await?; // follow-ups keep the history
//! s.outcomes(); s.tokens(); s.turn_tokens(); s.facts(); s.transcript_markdown();
//! s.save_to_history(&report).await;           // session memory (unless --no-persist)
//! s.close().await;
//! ```
//!
//! `Session::start` connects (production [`runner::RegistryRunner`]: builtin registry, policy,
//! transport), opens the knowledge store, and probes the model concurrently. A caller with its
//! own connection (the REPL) builds a [`ToolRunner`] and uses [`Session::new`] with
//! [`Session::probe_mode`]. The first user message carries the host facts, the issue, the
//! baseline results when `/collect` ran, the triage findings of those results
//! ([`SessionOptions::from_config`]), and retrieved runbook/session context
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rig_core::completion::Message;
use rig_core::message::{ToolResultContent, UserContent};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::exit::{Code, HasExitCode};
use crate::llm::{textproto, LlmError, ModelCall, ModelClient, ToolDef, ToolMode};
use crate::plan::Category;
use crate::report::{self, Report, Tokens, ToolCallRecord};
use crate::tools::{CallStatus, CommandRecord, HostFacts, ToolCall, ToolError, ToolOutcome};

pub mod budget;
pub mod no_model;
pub mod progress;
pub mod prompts;
pub mod runner;

pub use progress::Progress;
pub use prompts::Prompts;
pub use runner::{ContextSource, Host, HostRunner, SessionTools, ToolRunner};

use budget::{call_key, cap_for_model, estimate_tokens};

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
    /// ([`Session::start_with`] does it for a [`HostRunner`]'s store).
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

/// Which history messages carry tool results, for compaction.
#[derive(Debug, Clone)]
struct ToolMsg {
    index: usize,
    /// The call id each result answers (`None` for a repeat note).
    ids: Vec<Option<String>>,
    compacted: bool,
}

/// One entry of the human-readable transcript.
#[derive(Debug, Clone)]
struct Entry {
    role: &'static str,
    text: String,
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

fn host_facts_text(f: &HostFacts) -> String {
    if f == &HostFacts::default() {
        return "Host facts: not detected.".to_string();
    }
    format!(
        "Host facts: {} (id {}, family {}); kernel {}; hostname {}; uptime {}",
        if f.os_pretty.is_empty() {
            "unknown OS"
        } else {
            &f.os_pretty
        },
        f.os_id,
        f.family,
        f.kernel,
        f.hostname,
        f.uptime
    )
}

fn status_text(o: &ToolOutcome) -> String {
    let exit = o
        .commands
        .last()
        .and_then(|c| c.exit_code)
        .map(|c| format!(", exit {c}"))
        .unwrap_or_default();
    match o.status {
        CallStatus::Ok => format!("ok{exit}, {} ms", o.duration_ms),
        CallStatus::Error => format!("ERROR{exit}, {} ms", o.duration_ms),
        CallStatus::Denied => "DENIED by tai's read-only policy (nothing ran)".to_string(),
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
        mut opts: SessionOptions,
    ) -> Result<Session, AgentError> {
        let runner = HostRunner::connect(config, target).await?;
        match (runner.knowledge(), &runner.tools().knowledge_problem) {
            (Some(k), _) => opts = opts.with_knowledge(k),
            (None, Some(why)) => opts
                .progress
                .note(&format!("warning: runbooks and history unavailable: {why}")),
            (None, None) => {}
        }
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
    /// The estimated size of the history in tokens.
    pub fn history_tokens(&self) -> u64 {
        self.history.iter().map(message_tokens).sum()
    }

    fn take_id(&mut self) -> String {
        let id = format!("T{}", self.next_id);
        self.next_id += 1;
        id
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

    fn remember(&mut self, o: &ToolOutcome) {
        let text = self.result_text(o, self.opts.call_output_chars);
        self.remember_text(o, text);
    }

    fn remember_text(&mut self, o: &ToolOutcome, text: String) {
        self.seen
            .entry(call_key(&o.call.tool, &o.call.args))
            .or_insert_with(|| o.call.id.clone());
        self.results.insert(o.call.id.clone(), text);
    }

    /// The text the model sees for one outcome.
    fn result_text(&self, o: &ToolOutcome, max_chars: usize) -> String {
        format!(
            "[{}] {} {} — {}\n{}",
            o.call.id,
            o.call.tool,
            o.call.args,
            status_text(o),
            self.fit_output(o, max_chars)
        )
    }

    /// The part of one output the model sees. Within `max_chars`: all of it. Over it, with
    /// retrieval on (the default), Tier 1: the output is cut into chunks at line boundaries and
    /// the chunks most relevant to the question (BM25, rare symptom lines, and the log messages
    /// the matching runbooks name) are sent in output order, saying what was left out. With
    /// `--no-rag`, or when nothing ranks: head and tail.
    fn fit_output(&self, o: &ToolOutcome, max_chars: usize) -> String {
        let out = o.output.trim_end();
        if !self.opts.rag || out.chars().count() <= max_chars {
            return cap_for_model(out, max_chars);
        }
        let mut chunks = crate::knowledge::chunks::SessionChunks::default();
        chunks.add_outcome(o);
        let budget = (max_chars / 4).max(64);
        let sel = chunks.select_guided(&self.question, &self.question_patterns, budget, None);
        if sel.chunks.is_empty() || sel.rendered.chars().count() > max_chars * 5 / 4 {
            return cap_for_model(out, max_chars);
        }
        self.retrieval_sent
            .fetch_add(sel.tokens_sent as u64, Ordering::Relaxed);
        self.retrieval_full
            .fetch_add(sel.tokens_full as u64, Ordering::Relaxed);
        format!(
            "{}\n[tai: this output is larger than its share of the context; {} — these are the parts most relevant to the question. Narrow the query (a `grep` pattern, a `since` window, a unit, fewer `lines`) to see others.]",
            sel.rendered.trim_end(),
            sel.summary()
        )
    }

    /// Tier-1 retrieval so far: (tokens sent, tokens the full outputs would have cost), for
    /// outputs that were over their cap.
    pub fn retrieval_tokens(&self) -> (u64, u64) {
        (
            self.retrieval_sent.load(Ordering::Relaxed),
            self.retrieval_full.load(Ordering::Relaxed),
        )
    }

    /// Characters each of `n` results of one batch may use: a batch takes at most about a third
    /// of the context, never more than `call_output_chars` per call, never less than 1200.
    fn per_call_chars(&self, n: usize) -> usize {
        let third = (self.opts.context_tokens as usize).saturating_mul(4) / 3;
        (third / n.max(1)).clamp(1200, self.opts.call_output_chars.max(1200))
    }

    fn baseline_text(&mut self) -> String {
        if self.pending_baseline.is_empty() {
            return String::new();
        }
        let per_call = (self.opts.call_output_chars / 2).max(500);
        let mut s = format!(
            "\nBaseline collected by tai (plan for category {}):\n",
            self.category.unwrap_or(Category::General)
        );
        for o in &self.pending_baseline {
            s.push_str(&format!(
                "\n[{}] {} {} — {}\n{}\n",
                o.call.id,
                o.call.tool,
                o.call.args,
                status_text(o),
                self.fit_output(o, per_call)
            ));
        }
        s
    }

    /// One investigation turn: the model investigates with tools and answers with a report.
    pub async fn turn(
        &mut self,
        user_text: &str,
        cancel: &CancellationToken,
    ) -> Result<Report, AgentError> {
        let mark = (
            self.history.len(),
            self.tool_msgs.len(),
            self.transcript.len(),
        );
        self.turn_tokens = Tokens::default();
        let result = self.turn_inner(user_text, cancel).await;
        if !matches!(result, Err(AgentError::Interrupted)) {
            // The baseline reached the model; an interrupted turn shows it again next time.
            self.pending_baseline.clear();
        }
        match result {
            Err(AgentError::Interrupted) => {
                // Keep the session usable: drop the half-finished exchange, note it, go on.
                self.history.truncate(mark.0.max(1).min(self.history.len()));
                if mark.0 == 0 {
                    self.history.clear();
                }
                self.tool_msgs.truncate(mark.1);
                self.transcript.truncate(mark.2);
                self.transcript.push(Entry {
                    role: "note",
                    text: format!("(turn interrupted: {user_text})"),
                });
                Err(AgentError::Interrupted)
            }
            Ok(report) => {
                let t = self.turn_tokens;
                self.opts.progress.note(&format!(
                    "tokens: {} prompt + {} completion this turn; {} + {} this session (~{} in the history)",
                    t.prompt,
                    t.completion,
                    self.tokens.prompt,
                    self.tokens.completion,
                    self.history_tokens()
                ));
                let (sent, full) = self.retrieval_tokens();
                if full > 0 {
                    self.opts.progress.note(&format!(
                        "retrieval: large outputs sent as relevant chunks, {sent} of {full} tokens ({:.0}% saved; --no-rag sends them whole within the cap)",
                        100.0 * (1.0 - sent as f64 / full as f64)
                    ));
                }
                Ok(report)
            }
            other => other,
        }
    }

    async fn turn_inner(
        &mut self,
        user_text: &str,
        cancel: &CancellationToken,
    ) -> Result<Report, AgentError> {
        self.question = match &self.issue {
            Some(issue) if issue != user_text.trim() => format!("{issue}\n{}", user_text.trim()),
            _ => user_text.trim().to_string(),
        };
        self.question_patterns = self
            .knowledge
            .as_ref()
            .map(|k| k.evidence_patterns(&self.question, 5))
            .unwrap_or_default();
        let first = self.history.is_empty();
        if first {
            let issue = user_text.trim().to_string();
            let category = self
                .category
                .or(self.opts.category)
                .unwrap_or_else(|| crate::plan::classify(&issue));
            self.category = Some(category);
            self.issue = Some(issue.clone());
            let mut system = self.opts.prompts.system.clone();
            if self.mode == ToolMode::Text {
                system.push_str("\n\n");
                system.push_str(&textproto::render_tools(&self.specs));
            }
            self.history.push(Message::system(system));
            let baseline = self.baseline_text();
            let findings = match &self.opts.findings {
                Some(f) => f(&self.outcomes)
                    .map(|t| format!("\n{}\n", t.trim_end()))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let knowledge = match self.opts.context.clone() {
                // Retrieval may ask the embedding server: bounded, and Ctrl-C still works.
                Some(c) => tokio::select! {
                    r = tokio::time::timeout(
                        std::time::Duration::from_secs(20),
                        c.context_for(&issue, &self.opts.host),
                    ) => r.ok().flatten(),
                    _ = cancel.cancelled() => return Err(AgentError::Interrupted),
                }
                .map(|t| format!("\nRetrieved context (runbooks and past sessions; cite as [runbook: file#section]):\n{t}\n"))
                .unwrap_or_default(),
                None => String::new(),
            };
            let msg = prompts::fill(
                &self.opts.prompts.first_turn,
                &[
                    ("host", &self.opts.host),
                    ("facts", &host_facts_text(&self.facts)),
                    ("issue", &issue),
                    ("category", category.as_str()),
                    ("baseline", &baseline),
                    ("findings", &findings),
                    ("knowledge", &knowledge),
                ],
            );
            self.history.push(Message::user(msg));
        } else {
            let mut baseline = self.baseline_text();
            if !baseline.is_empty() {
                if let Some(t) = self.opts.findings.as_ref().and_then(|f| f(&self.outcomes)) {
                    baseline.push_str(&format!("\n{}\n", t.trim_end()));
                }
            }
            let msg = prompts::fill(
                &self.opts.prompts.follow_up,
                &[("text", &format!("{}{baseline}", user_text.trim()))],
            );
            self.push_user(msg);
        }
        self.transcript.push(Entry {
            role: "user",
            text: user_text.trim().to_string(),
        });

        let max = self.opts.max_steps;
        let mut last_text: Option<String> = None;
        let mut nudged = false;
        for step in 0..max {
            let last_step = step + 1 == max;
            if last_step && max > 1 {
                let note = self.opts.prompts.final_step.clone();
                self.push_user(note);
            }
            let reply = self.ask(step, !last_step, cancel).await?;
            let mut calls = reply.calls.clone();
            let mut malformed = None;
            let parsed_answer = report::parse_answer(&reply.text);
            if calls.is_empty() && !reply.text.trim().is_empty() {
                let names: Vec<String> = self.specs.iter().map(|s| s.name.clone()).collect();
                let known = (self.mode == ToolMode::Native).then_some(names.as_slice());
                let parsed = textproto::parse(&reply.text, known);
                // A complete report is an answer even if it quotes JSON.
                if parsed_answer.missing.is_empty() {
                } else if !parsed.calls.is_empty() {
                    calls = parsed
                        .calls
                        .into_iter()
                        .map(|c| ModelCall {
                            name: c.name,
                            args: c.args,
                            invalid_args: c.invalid_args,
                            wire: None,
                        })
                        .collect();
                } else if parsed.malformed.is_some() && parsed_answer.missing.len() == 4 {
                    malformed = parsed.malformed;
                }
            }
            if let Some(bad) = malformed {
                self.push_assistant_text(&reply.text);
                let snippet: String = bad.chars().take(300).collect();
                self.push_user(format!(
                    "tai could not read your tool call as JSON: `{snippet}`. Send the call again as valid JSON \
                     ({}), or answer with the report sections if you are done.",
                    match self.mode {
                        ToolMode::Native => "use the tool-calling interface",
                        ToolMode::Text => "only a ```json {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}``` block",
                    }
                ));
                self.opts
                    .progress
                    .note("✗ the model sent a malformed tool call; asked it to resend");
                continue;
            }
            if calls.is_empty() {
                if reply.text.trim().is_empty() {
                    self.push_user(
                        "Your reply was empty. Call a tool, or answer with the report sections."
                            .to_string(),
                    );
                    continue;
                }
                if parsed_answer.missing.len() == 4 && !last_step && !nudged {
                    // Prose without a single report section ("I will check the logs"): small
                    // models often announce a call instead of making it. Once per turn, let
                    // it go on with tools before asking for the report.
                    nudged = true;
                    self.push_assistant_text(&reply.text);
                    self.push_user(
                        "Continue the investigation: call the tools you need now. If you are done, answer \
                         with the report sections (## Root Cause, ## Evidence, ## Recommended Actions, ## Confidence)."
                            .to_string(),
                    );
                    continue;
                }
                self.push_assistant_text(&reply.text);
                self.transcript.push(Entry {
                    role: "assistant",
                    text: reply.text.clone(),
                });
                let mut answer = parsed_answer;
                let mut warnings = Vec::new();
                if !answer.missing.is_empty() {
                    // One repair request, then the answer is taken as it is.
                    let missing = answer.missing.join(", ");
                    let repair = prompts::fill(&self.opts.prompts.repair, &[("missing", &missing)]);
                    self.push_user(repair);
                    self.opts
                        .progress
                        .note(&format!("answer lacks {missing}; asking once for a repair"));
                    let fixed = self.ask(step, false, cancel).await?;
                    if !fixed.text.trim().is_empty() {
                        self.push_assistant_text(&fixed.text);
                        self.transcript.push(Entry {
                            role: "assistant",
                            text: fixed.text.clone(),
                        });
                        let reparsed = report::parse_answer(&fixed.text);
                        if reparsed.missing.len() <= answer.missing.len() {
                            answer = reparsed;
                        }
                    }
                }
                if !answer.missing.is_empty() {
                    warnings.push(format!(
                        "the model's answer lacks {}; shown as given",
                        answer.missing.join(", ")
                    ));
                    if answer.root_cause.is_empty() {
                        answer.root_cause = reply.text.trim().to_string();
                    }
                }
                return Ok(self.build_report(answer, warnings));
            }
            if last_step {
                last_text = Some(reply.text.clone());
                break;
            }
            // Tool calls: record the assistant turn, run, answer.
            match self.mode {
                ToolMode::Native => {
                    let has_wire = calls.iter().all(|c| c.wire.is_some());
                    if has_wire {
                        if let Some(m) = reply.assistant_message() {
                            self.history.push(m);
                        }
                    } else {
                        self.push_assistant_text(&reply.text);
                    }
                }
                ToolMode::Text => self.push_assistant_text(&reply.text),
            }
            self.run_calls(calls, cancel).await?;
        }
        // The bound was hit without a usable answer: the best report so far.
        Ok(self.best_report(last_text))
    }

    fn push_user(&mut self, text: String) {
        // Merge with a trailing plain user message so roles keep alternating.
        if let Some(Message::User { content }) = self.history.last_mut() {
            if content.iter().all(|c| matches!(c, UserContent::Text(_))) {
                content.push(UserContent::text(text));
                return;
            }
        }
        self.history.push(Message::user(text));
    }

    fn push_assistant_text(&mut self, text: &str) {
        let t = if text.trim().is_empty() {
            "(no text)"
        } else {
            text
        };
        self.history.push(Message::assistant(t));
    }

    /// One model request, with the spinner, compaction, token accounting, cancellation, and the
    /// switch to the text protocol when the server says the model has no tool support.
    async fn ask(
        &mut self,
        step: usize,
        with_tools: bool,
        cancel: &CancellationToken,
    ) -> Result<crate::llm::Reply, AgentError> {
        for _attempt in 0..2 {
            self.compact_if_needed(with_tools);
            let tools =
                (with_tools && self.mode == ToolMode::Native).then_some(self.specs.as_slice());
            let prompt_estimate = self.history_tokens()
                + tools
                    .map(|t| {
                        t.iter()
                            .map(|d| estimate_tokens(&d.parameters.to_string()) + 20)
                            .sum()
                    })
                    .unwrap_or(0);
            let result = {
                let _spin = self.opts.progress.thinking(step, self.opts.max_steps);
                tokio::select! {
                    r = self.model.complete(&self.history, tools) => r,
                    _ = cancel.cancelled() => return Err(AgentError::Interrupted),
                }
            };
            match result {
                Ok(reply) => {
                    let (p, c) = reply.usage.unwrap_or((
                        prompt_estimate,
                        estimate_tokens(&reply.text)
                            + reply
                                .calls
                                .iter()
                                .map(|c| estimate_tokens(&c.args.to_string()) + 5)
                                .sum::<u64>(),
                    ));
                    self.tokens.prompt += p;
                    self.tokens.completion += c;
                    self.turn_tokens.prompt += p;
                    self.turn_tokens.completion += c;
                    return Ok(reply);
                }
                Err(LlmError::NoToolSupport { .. }) if self.mode == ToolMode::Native => {
                    self.opts.progress.note(
                        "the model has no native tool calling; switching to tai's text protocol",
                    );
                    self.switch_to_text();
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AgentError::Llm(LlmError::Malformed(
            "the server refused tools even in text-protocol mode".into(),
        )))
    }

    fn switch_to_text(&mut self) {
        self.mode = ToolMode::Text;
        if let Some(Message::System { content }) = self.history.first_mut() {
            content.push_str("\n\n");
            content.push_str(&textproto::render_tools(&self.specs));
        }
    }

    /// Run one batch of model calls: repeat guard, argument checks, then the real tools.
    async fn run_calls(
        &mut self,
        calls: Vec<ModelCall>,
        cancel: &CancellationToken,
    ) -> Result<(), AgentError> {
        // What each model call is answered with, in order: Ok(text) or a pending run index.
        enum Slot {
            Ready(String, bool),
            Run(usize),
        }
        let mut slots = Vec::new();
        let mut to_run: Vec<ToolCall> = Vec::new();
        let mut batch_keys: HashMap<String, usize> = HashMap::new();
        for c in &calls {
            if let Some(raw) = &c.invalid_args {
                let id = self.take_id();
                let schema = self
                    .specs
                    .iter()
                    .find(|s| s.name == c.name)
                    .map(|s| s.parameters.to_string())
                    .unwrap_or_else(|| "{}".into());
                let output = format!(
                    "invalid arguments for {}: {raw:?} is not a JSON object. Call {} again with arguments as a JSON object matching this schema: {schema}",
                    c.name, c.name
                );
                let o = ToolOutcome {
                    call: ToolCall {
                        id: id.clone(),
                        tool: c.name.clone(),
                        args: serde_json::Value::String(raw.clone()),
                    },
                    status: CallStatus::Error,
                    commands: Vec::new(),
                    output: output.clone(),
                    duration_ms: 0,
                };
                self.opts.progress.tool_end(&o);
                let text = self.result_text(&o, self.opts.call_output_chars);
                self.results.insert(id, text.clone());
                self.outcomes.push(o);
                slots.push(Slot::Ready(text, true));
                continue;
            }
            let key = call_key(&c.name, &c.args);
            if let Some(prev) = self.seen.get(&key).cloned() {
                let prev_text = self.results.get(&prev).cloned().unwrap_or_default();
                self.opts.progress.note(&format!(
                    "↺ {} repeats {prev}; answered from its result",
                    c.name
                ));
                slots.push(Slot::Ready(
                    format!(
                        "Note from tai: this call repeats {prev} (same tool and arguments), so it was not run again. \
                         Cite {prev}. Its result:\n{prev_text}"
                    ),
                    false,
                ));
                continue;
            }
            if let Some(&i) = batch_keys.get(&key) {
                slots.push(Slot::Run(i));
                continue;
            }
            let id = self.take_id();
            let call = ToolCall {
                id,
                tool: c.name.clone(),
                args: c.args.clone(),
            };
            self.opts
                .progress
                .tool_start(&call.id, &call.tool, &call.args);
            batch_keys.insert(key, to_run.len());
            slots.push(Slot::Run(to_run.len()));
            to_run.push(call);
        }
        let results = if to_run.is_empty() {
            Vec::new()
        } else {
            let runner = self.runner.clone();
            tokio::select! {
                r = runner.run_all(&to_run, cancel) => r,
                _ = cancel.cancelled() => return Err(AgentError::Interrupted),
            }
        };
        if cancel.is_cancelled() {
            return Err(AgentError::Interrupted);
        }
        let mut texts: Vec<(String, bool)> = Vec::new();
        let per_call = self.per_call_chars(to_run.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(o) => {
                    self.opts.progress.tool_end(&o);
                    let text = self.result_text(&o, per_call);
                    self.remember_text(&o, text.clone());
                    let err = o.status != CallStatus::Ok;
                    self.outcomes.push(o);
                    texts.push((text, err));
                }
                Err(ToolError::RespondToModel(m)) => {
                    let call = to_run[i].clone();
                    let o = ToolOutcome {
                        call,
                        status: CallStatus::Error,
                        commands: Vec::<CommandRecord>::new(),
                        output: m,
                        duration_ms: 0,
                    };
                    self.opts.progress.tool_end(&o);
                    let text = self.result_text(&o, per_call);
                    self.remember_text(&o, text.clone());
                    self.outcomes.push(o);
                    texts.push((text, true));
                }
                Err(ToolError::Fatal(e)) => return Err(AgentError::Transport(e)),
            }
        }
        let answers: Vec<(String, bool)> = slots
            .into_iter()
            .map(|s| match s {
                Slot::Ready(t, e) => (t, e),
                Slot::Run(i) => texts.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let ids: Vec<Option<String>> = answers
            .iter()
            .map(|(t, _)| {
                t.strip_prefix('[')
                    .and_then(|r| r.split(']').next())
                    .filter(|id| report::is_call_id(id))
                    .map(str::to_string)
            })
            .collect();
        let native = calls.iter().all(|c| c.wire.is_some());
        if native {
            let results: Vec<rig_core::message::ToolResult> = calls
                .iter()
                .zip(answers.iter())
                .filter_map(|(c, (text, err))| {
                    let w = c.wire.as_ref()?;
                    let content = vec![ToolResultContent::text(text.clone())];
                    Some(if *err {
                        w.error_result(content)
                    } else {
                        w.result(content)
                    })
                })
                .collect();
            self.history.push(Message::tool_results(results));
        } else {
            let body = answers
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            self.history.push(Message::user(format!(
                "Tool results:\n\n{body}\n\nContinue: call more tools, or answer with the report sections."
            )));
        }
        self.tool_msgs.push(ToolMsg {
            index: self.history.len() - 1,
            ids,
            compacted: false,
        });
        Ok(())
    }

    /// When the history nears the context length, replace the oldest tool outputs (never the
    /// latest batch) with a marked note, until it is back under half the budget.
    fn compact_if_needed(&mut self, with_tools: bool) {
        let tools_cost: u64 = if with_tools && self.mode == ToolMode::Native {
            self.specs
                .iter()
                .map(|d| {
                    estimate_tokens(&d.parameters.to_string())
                        + estimate_tokens(&d.description)
                        + 10
                })
                .sum()
        } else {
            0
        };
        let budget = self.opts.context_tokens;
        let total = self.history_tokens() + tools_cost;
        if total * 4 <= budget * 3 {
            return;
        }
        let target = budget / 2;
        let mut current = total;
        let n = self.tool_msgs.len();
        for k in 0..n.saturating_sub(1) {
            if current <= target {
                break;
            }
            if self.tool_msgs[k].compacted {
                continue;
            }
            let idx = self.tool_msgs[k].index;
            let ids = self.tool_msgs[k].ids.clone();
            let before = message_tokens(&self.history[idx]);
            let results = &self.results;
            let note = |id: &Option<String>| match id {
                Some(id) => {
                    // Keep the header (tool, arguments, status) and the first lines as a summary.
                    let full = results.get(id).map(String::as_str).unwrap_or("");
                    let mut lines = full.lines().filter(|l| !l.trim().is_empty());
                    let header = lines.next().unwrap_or("").to_string();
                    let excerpt: String = lines
                        .take(3)
                        .map(|l| l.chars().take(160).collect::<String>())
                        .collect::<Vec<_>>()
                        .join("\n");
                    format!(
                        "{header}\n[output compacted by tai to fit the model's context window; first lines kept:]\n{excerpt}\n\
                         [The call did run; cite {id} as before. Calling it again with the same arguments returns the saved result.]"
                    )
                }
                None => "(a repeat note from tai, compacted to fit the context window)".to_string(),
            };
            match &mut self.history[idx] {
                Message::User { content } => {
                    let mut j = 0;
                    for part in content.iter_mut() {
                        match part {
                            UserContent::ToolResult(r) => {
                                let id = ids.get(j).cloned().flatten();
                                r.content = vec![ToolResultContent::text(note(&id))];
                                j += 1;
                            }
                            UserContent::Text(_) => {
                                let body = ids.iter().map(&note).collect::<Vec<_>>().join("\n");
                                *part =
                                    UserContent::text(format!("Tool results (compacted):\n{body}"));
                            }
                            _ => {}
                        }
                    }
                }
                _ => continue,
            }
            self.tool_msgs[k].compacted = true;
            self.compactions += ids.len().max(1);
            let after = message_tokens(&self.history[idx]);
            current = current.saturating_sub(before.saturating_sub(after));
        }
        if self.compactions > 0 {
            self.opts.progress.note(&format!(
                "compacted older tool outputs to fit the context (~{current} of {budget} tokens)"
            ));
        }
    }

    fn known_ids(&self) -> Vec<String> {
        self.outcomes.iter().map(|o| o.call.id.clone()).collect()
    }

    fn base_report(&self) -> Report {
        Report {
            host: self.opts.host.clone(),
            issue: self.issue.clone().unwrap_or_default(),
            category: self.category.unwrap_or(Category::General).to_string(),
            tool_calls: self.outcomes.iter().map(ToolCallRecord::from).collect(),
            tokens: self.tokens,
            mode: "llm".into(),
            ..Default::default()
        }
    }

    fn build_report(&self, a: report::ParsedAnswer, warnings: Vec<String>) -> Report {
        let mut r = self.base_report();
        r.root_cause = a.root_cause;
        r.evidence = a.evidence;
        r.actions = a.actions;
        r.confidence = if a.confidence.is_empty() {
            "low".into()
        } else {
            a.confidence
        };
        r.warnings = warnings;
        r.check_citations(&self.known_ids());
        if self.compactions > 0 {
            r.warnings.push(format!(
                "{} older tool output(s) were compacted to fit the model's context",
                self.compactions
            ));
        }
        r
    }

    /// The step bound was hit: report what is known, honestly marked.
    fn best_report(&self, last_text: Option<String>) -> Report {
        let parsed = last_text.as_deref().map(report::parse_answer);
        let mut r = match parsed {
            Some(a) if a.missing.len() < 4 && !a.root_cause.is_empty() => {
                self.build_report(a, Vec::new())
            }
            _ => {
                let mut r = self.base_report();
                r.root_cause = format!(
                    "Not determined: the model used all {} steps without a final answer.",
                    self.opts.max_steps
                );
                r.evidence = self
                    .outcomes
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|o| report::Evidence {
                        text: format!(
                            "{} {} — {}: {}",
                            o.call.tool,
                            budget::short_args(&o.call.args, 60),
                            report::status_word(o.status),
                            o.output
                                .lines()
                                .find(|l| !l.trim().is_empty())
                                .unwrap_or("")
                                .chars()
                                .take(160)
                                .collect::<String>()
                        ),
                        sources: vec![o.call.id.clone()],
                    })
                    .collect();
                r.actions = vec![
                    "Review the tool calls below, then ask a narrower follow-up or rerun with a larger --max-steps.".into(),
                ];
                r.confidence = "low".into();
                r
            }
        };
        r.warnings.push(format!(
            "the step limit ({}) was reached; this is the best report so far",
            self.opts.max_steps
        ));
        r
    }

    /// The conversation so far as Markdown (for `/save` and session memory).
    pub fn transcript_markdown(&self) -> String {
        let mut s = format!("# tai session: {}\n\n", self.opts.host);
        s.push_str(&format!("{}\n\n", host_facts_text(&self.facts)));
        for e in &self.transcript {
            match e.role {
                "user" => s.push_str(&format!("## User\n\n{}\n\n", e.text)),
                "assistant" => s.push_str(&format!("## tai\n\n{}\n\n", e.text)),
                _ => s.push_str(&format!("_{}_\n\n", e.text)),
            }
        }
        if !self.outcomes.is_empty() {
            s.push_str("## Tool calls\n\n| id | tool | command | status | exit | ms |\n|---|---|---|---|---|---|\n");
            for o in &self.outcomes {
                let t = ToolCallRecord::from(o);
                s.push_str(&format!(
                    "| {} | {} | `{}` | {} | {} | {} |\n",
                    t.id,
                    t.tool,
                    t.command.replace('|', "\\|"),
                    report::status_word(t.status),
                    t.exit_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    t.duration_ms
                ));
            }
        }
        s
    }
}

fn message_tokens(m: &Message) -> u64 {
    match m {
        Message::System { content } => estimate_tokens(content),
        Message::User { content } => {
            content
                .iter()
                .map(|c| match c {
                    UserContent::Text(t) => estimate_tokens(&t.text),
                    UserContent::ToolResult(r) => {
                        r.content
                            .iter()
                            .map(|x| x.as_text().map(estimate_tokens).unwrap_or(10))
                            .sum::<u64>()
                            + 8
                    }
                    _ => 100,
                })
                .sum::<u64>()
                + 4
        }
        Message::Assistant(a) => {
            a.content
                .iter()
                .map(|c| match c {
                    rig_core::completion::AssistantContent::Text(t) => estimate_tokens(&t.text),
                    rig_core::completion::AssistantContent::ToolCall(tc) => {
                        estimate_tokens(&tc.function.arguments_value().to_string()) + 10
                    }
                    _ => 10,
                })
                .sum::<u64>()
                + 4
        }
    }
}
