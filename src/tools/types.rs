//! The tools layer's shared types, imported by every other `tools` module and importing
//! none of them: host facts, calls and outcomes, [`Step`], the [`Tool`] trait, the
//! [`ExecContext`] a session shares (transport, policy, facts, limits, cancellation, the
//! session-wide output budget, the [`KnowledgeSource`]) and the [`Run`] a tool produces.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::ExecLimits;
use crate::exit::{Code, HasExitCode};
use crate::policy::Policy;
use crate::transport::{ExecOptions, Transport, TransportError};

/// What tai knows about a host, detected once per connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostFacts {
    /// `/etc/os-release` `ID`.
    pub os_id: String,
    /// `/etc/os-release` `ID_LIKE`, split on spaces.
    pub os_like: Vec<String>,
    /// `PRETTY_NAME`.
    pub os_pretty: String,
    /// The distro family used to pick command variants: `debian`, `rhel`, `suse`, `arch`, `unknown`.
    pub family: String,
    pub kernel: String,
    pub hostname: String,
    pub uptime: String,
}

/// A tool invocation requested by the model or a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    /// Call id shown to the model and cited in reports (`T3`).
    pub id: String,
    pub tool: String,
    pub args: serde_json::Value,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    Ok,
    Error,
    Denied,
}

/// Tool errors come in two kinds: those the model should see and act on, and fatal ones that
/// end the turn.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Unknown tool, invalid arguments, a policy denial: tell the model, let it retry.
    #[error("{0}")]
    RespondToModel(String),
    /// The transport is gone or the host cannot be trusted: stop the turn.
    #[error(transparent)]
    Fatal(#[from] TransportError),
}

impl From<ArgsError> for ToolError {
    fn from(e: ArgsError) -> ToolError {
        ToolError::RespondToModel(e.to_string())
    }
}

/// A tool call's arguments the model can fix and retry: nothing ran. `render` returns it,
/// and `run` turns it into [`ToolError::RespondToModel`].
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error(
        "invalid arguments for `{tool}`: {reason}. Expected a JSON object matching: {expected}"
    )]
    Invalid {
        tool: String,
        reason: String,
        /// The schema's `properties`, as JSON.
        expected: String,
    },
    #[error("{what} must be 1-255 characters")]
    Length { what: &'static str },
    #[error("{what} `{value}` may not start with `-`")]
    LeadingDash { what: &'static str, value: String },
    #[error("{what} `{value}` may not contain spaces or control characters")]
    Spaces { what: &'static str, value: String },
    #[error("{what} must be an absolute path (start with `/`), got `{value}`")]
    NotAbsolute { what: &'static str, value: String },
    #[error("{what} must be an absolute path without control characters, got `{value}`")]
    AbsolutePath { what: &'static str, value: String },
    #[error("{what} may not contain control characters")]
    ControlCharacters { what: &'static str },
    #[error("{what} must be a non-empty pattern{extra}")]
    Pattern {
        what: &'static str,
        extra: &'static str,
    },
    #[error("{flag} must be a time like `1 hour ago`")]
    Time { flag: &'static str },
    #[error("pid must be a positive process ID")]
    Pid,
    #[error("no {what} is configured for this distro family")]
    NotConfigured { what: &'static str },
    /// A command line the model wrote (`run_command`): shell syntax or a `| STAGE` refused.
    #[error(transparent)]
    Command(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl HasExitCode for ToolError {
    fn exit_code(&self) -> Code {
        match self {
            ToolError::RespondToModel(_) => Code::Failure,
            ToolError::Fatal(e) => e.exit_code(),
        }
    }
}

/// One command a tool call ran (or tried to run) on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandRecord {
    /// The command line as it ran (quoted), or the argv the policy refused.
    pub command: String,
    pub status: CallStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub stdout: String,
    pub stderr: String,
    /// Bytes dropped by the output cap.
    pub truncated: u64,
    /// Why it was denied or failed, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CommandRecord {
    /// A command the policy refused: nothing ran.
    pub fn denied(command: String, rule: &str, reason: &str) -> CommandRecord {
        CommandRecord {
            command,
            status: CallStatus::Denied,
            exit_code: None,
            duration_ms: 0,
            stdout: String::new(),
            stderr: String::new(),
            truncated: 0,
            note: Some(format!("denied by policy rule {rule}: {reason}")),
        }
    }
}

/// The result of one tool call: what ran, how it ended, and the text the model sees.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolOutcome {
    pub call: ToolCall,
    pub status: CallStatus,
    pub commands: Vec<CommandRecord>,
    /// The text handed to the model (already capped and annotated).
    pub output: String,
    pub duration_ms: u64,
}

/// One argv a tool wants to run.
pub type Argv = Vec<String>;

/// One command of a tool call, with alternatives tried in order when the program is missing
/// on the host (`journalctl` → the syslog file, `ss` → `netstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub argv: Argv,
    pub fallbacks: Vec<Argv>,
    /// Exit codes that count as success (`systemctl status` exits 3 for a stopped unit).
    pub ok_codes: Vec<i32>,
}

impl Step {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            fallbacks: Vec::new(),
            ok_codes: vec![0],
        }
    }

    pub fn or<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.fallbacks
            .push(argv.into_iter().map(Into::into).collect());
        self
    }

    pub fn ok_codes(mut self, codes: &[i32]) -> Self {
        self.ok_codes = codes.to_vec();
        self
    }

    /// Every argv this step may run, primary first.
    pub fn all_argv(&self) -> impl Iterator<Item = &Argv> {
        std::iter::once(&self.argv).chain(self.fallbacks.iter())
    }
}

/// A read-only tool the model (or a plan) can call.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// The name the model calls (part of tai's contract).
    fn name(&self) -> &'static str;
    /// One line for `tai tools list` and the model.
    fn description(&self) -> &'static str;
    /// The cleaned JSON schema of the arguments.
    fn parameters(&self) -> Value;
    /// The commands a call renders to on a host with these facts (for multi-stage tools, the
    /// first stage). `Err` is an argument problem the model can fix.
    fn render(&self, args: &Value, facts: &HostFacts) -> Result<Vec<Step>, ArgsError>;
    /// Run one call: every command through policy then transport (`step::run_step`).
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError>;
}

/// What the model sees of a tool.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The cleaned JSON schema.
    pub parameters: Value,
}

/// The knowledge layer as tools see it (implemented by `knowledge`). Errors are the
/// knowledge layer's own, boxed (`tools` does not import `knowledge`); the tool shows them
/// to the model as a failed search.
#[async_trait::async_trait]
pub trait KnowledgeSource: Send + Sync {
    async fn search_runbooks(&self, query: &str, limit: usize) -> Result<String, SearchError>;
    async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, SearchError>;
}

/// A knowledge search that failed (the store could not be read): the knowledge layer's error.
pub type SearchError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a tool call needs. Clones share the session budget.
#[derive(Clone)]
pub struct ExecContext {
    pub transport: Arc<dyn Transport>,
    pub policy: Arc<Policy>,
    pub facts: HostFacts,
    pub limits: ExecLimits,
    pub cancel: CancellationToken,
    pub knowledge: Option<Arc<dyn KnowledgeSource>>,
    /// The audit log this session writes to (`tools::audited::context` sets it).
    pub audit: Option<Arc<crate::audit::Scope>>,
    /// Bytes of command output used so far in this session (stdout + stderr).
    used: Arc<AtomicUsize>,
    /// Absolute path words and where they resolved on this host, as the last allowed check
    /// found them: what `step` expects the host to answer next time (one round trip when it
    /// does). Shared by clones, bounded by [`RESOLVED_PATHS_KEPT`].
    resolved: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// How many path resolutions an [`ExecContext`] remembers (it starts over when full).
pub const RESOLVED_PATHS_KEPT: usize = 1024;

impl std::fmt::Debug for ExecContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecContext")
            .field("transport", &self.transport.name())
            .field("facts", &self.facts)
            .field("limits", &self.limits)
            .field("session_bytes_used", &self.session_bytes_used())
            .finish()
    }
}

impl ExecContext {
    pub fn new(
        transport: Arc<dyn Transport>,
        policy: Arc<Policy>,
        facts: HostFacts,
        limits: ExecLimits,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            transport,
            policy,
            facts,
            limits,
            cancel,
            knowledge: None,
            audit: None,
            used: Arc::new(AtomicUsize::new(0)),
            resolved: Arc::default(),
        }
    }

    /// Where `path` resolved on this host when last checked and allowed (`None`: not known).
    pub fn resolved_path(&self, path: &str) -> Option<String> {
        self.resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    /// Remember where absolute path words resolved (after an allowed check).
    pub fn remember_resolved(&self, pairs: &[(String, String)]) {
        let mut map = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() + pairs.len() > RESOLVED_PATHS_KEPT {
            map.clear();
        }
        for (given, resolved) in pairs.iter().filter(|(g, _)| g.starts_with('/')) {
            map.insert(given.clone(), resolved.clone());
        }
    }

    pub fn with_knowledge(mut self, knowledge: Arc<dyn KnowledgeSource>) -> Self {
        self.knowledge = Some(knowledge);
        self
    }

    /// Write denied requests of this session to `scope`'s audit log (`tools::audited`).
    pub fn with_audit(mut self, scope: Arc<crate::audit::Scope>) -> Self {
        self.audit = Some(scope);
        self
    }

    pub fn session_bytes_used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    /// The same context with its own, empty output budget (each `tai mcp` tool call is
    /// budgeted alone, on a connection kept warm across calls).
    pub fn with_fresh_budget(mut self) -> Self {
        self.used = Arc::new(AtomicUsize::new(0));
        self
    }

    pub fn session_bytes_left(&self) -> usize {
        self.limits
            .session_output_cap
            .saturating_sub(self.session_bytes_used())
    }

    /// Reserve up to `want` bytes of the session budget; returns how many were granted.
    pub(super) fn charge(&self, want: usize) -> usize {
        let cap = self.limits.session_output_cap;
        let mut granted = 0;
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                granted = want.min(cap.saturating_sub(used));
                Some(used + granted)
            });
        granted
    }

    pub(super) fn exec_options(&self) -> ExecOptions {
        ExecOptions::from_limits(&self.limits, self.cancel.clone())
    }
}

/// What a tool's run produced, before it becomes a [`ToolOutcome`].
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub commands: Vec<CommandRecord>,
    /// Text for the model; when empty, built from the command records.
    pub output: String,
    /// Overrides the status derived from the records (knowledge tools, argument errors).
    pub status: Option<CallStatus>,
}

impl Run {
    pub fn message(status: CallStatus, text: impl Into<String>) -> Self {
        Run {
            commands: Vec::new(),
            output: text.into(),
            status: Some(status),
        }
    }
}
