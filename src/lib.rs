//! tai: troubleshoot Linux hosts over SSH with a local LLM, read-only.
//!
//! Layers (dependencies point one way; ARCHITECTURE.md has the whole graph): `cli` → front
//! ends (`repl`, `mcp`, `fleet`, `tui`) → `agent` → `triage`/`knowledge`/`plan` → `tools` →
//! `transport` → `policy`; `llm`, `audit`, `config` beside them; `exit`, `redact`, `render`,
//! `local_user`, `wildcard`, `json_schema` are leaves.
//! Nothing below `cli` prints to stdout: stdout carries results, stderr carries progress.
#![deny(clippy::print_stdout)]

pub mod agent;
pub mod audit;
pub mod cli;
pub mod config;
pub mod exit;
pub mod fleet;
pub mod json_schema;
pub mod knowledge;
pub mod llm;
pub mod local_user;
pub mod mcp;
pub mod plan;
pub mod policy;
pub mod redact;
pub mod render;
pub mod repl;
pub mod report;
pub mod tools;
pub mod transport;
pub mod triage;
pub mod tui;
pub mod wildcard;
