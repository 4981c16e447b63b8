//! The typed, read-only tool registry: each tool has a schemars argument type (the JSON schema
//! the model sees) and renders its arguments to argv for the host's distro family
//! ([`variants`]). Execution always goes policy → transport ([`exec`]): a tool can only ask,
//! the policy decides, and the transport runs only what the policy approved.
//!
//! [`builtin`] holds the tools; [`schema`] cleans schemars output for strict servers.
use serde::{Deserialize, Serialize};

use crate::exit::{Code, HasExitCode};
use crate::transport::TransportError;

pub mod builtin;
pub mod exec;
pub mod pipeline;
pub mod schema;
pub mod service_config;
pub mod variants;

pub use exec::{detect_facts, execute, execute_all, ExecContext, KnowledgeSource};
pub use registry::{Registry, Step, Tool, ToolSpec};

mod registry;

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
