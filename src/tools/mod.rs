//! The typed, read-only tool registry: each tool has a schemars argument type (the JSON schema
//! the model sees) and renders its arguments to argv for the host's distro family
//! ([`variants`]). Execution always goes policy → transport ([`step`]): a tool can only ask,
//! the policy decides, and the transport runs only what the policy approved.
//!
//! Imports point one way: [`types`] (shared types, the [`Tool`] trait, [`ExecContext`]) ←
//! [`step`] (one command through policy and transport) ← [`builtin`], [`service_config`] ←
//! [`registry`] ← [`exec`] (`execute`, `execute_all`). [`schema`] cleans schemars output for
//! strict servers; [`facts`] detects the host facts.
pub mod audited;
pub mod builtin;
pub mod content_scan;
pub mod exec;
pub mod facts;
pub mod pipeline;
pub mod schema;
pub mod service_config;
pub mod step;
pub mod types;
pub mod variants;

mod registry;

pub use exec::{execute, execute_all, render_records};
pub use facts::detect_facts;
pub use registry::Registry;
pub use step::{resolve_names_on_host, resolve_on_host, run_step};
pub use types::{
    Argv, CallStatus, CommandRecord, ExecContext, HostFacts, KnowledgeSource, Run, Step, Tool,
    ToolCall, ToolError, ToolOutcome, ToolSpec,
};
