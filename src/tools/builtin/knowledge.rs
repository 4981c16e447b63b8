//! `search_runbooks` and `search_history`: the knowledge layer through the session's
//! [`KnowledgeSource`](crate::tools::KnowledgeSource); no host command runs.
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::common::clamp;
use crate::tools::schema::{parse_args, schema_for};
use crate::tools::types::{
    ArgsError, CallStatus, ExecContext, HostFacts, Run, Step, Tool, ToolError,
};

const NO_KNOWLEDGE: &str = "knowledge layer not available: runbooks and past sessions are not \
                            loaded in this session; continue with the host tools";

/// Arguments of `search_runbooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRunbooksArgs {
    /// What to look for, e.g. `nginx 502 upstream`.
    pub query: String,
    /// Number of results (default 5, at most 20).
    pub limit: Option<u32>,
}

pub struct SearchRunbooks;

#[async_trait::async_trait]
impl Tool for SearchRunbooks {
    fn name(&self) -> &'static str {
        "search_runbooks"
    }
    fn description(&self) -> &'static str {
        "Search the team's runbooks for known problems and fixes"
    }
    fn parameters(&self) -> Value {
        schema_for::<SearchRunbooksArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        parse_args::<SearchRunbooksArgs>("search_runbooks", args)?;
        Ok(Vec::new())
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: SearchRunbooksArgs = parse_args("search_runbooks", args)?;
        let Some(k) = &ctx.knowledge else {
            return Ok(Run::message(CallStatus::Error, NO_KNOWLEDGE));
        };
        Ok(
            match k
                .search_runbooks(&a.query, clamp(a.limit, 5, 20) as usize)
                .await
            {
                Ok(text) => Run::message(CallStatus::Ok, text),
                Err(e) => Run::message(CallStatus::Error, format!("runbook search failed: {e}")),
            },
        )
    }
}

/// Arguments of `search_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchHistoryArgs {
    /// What to look for in past sessions, e.g. `disk full /var`.
    pub query: String,
    /// Only sessions on this host.
    pub host: Option<String>,
    /// Number of results (default 5, at most 20).
    pub limit: Option<u32>,
}

pub struct SearchHistory;

#[async_trait::async_trait]
impl Tool for SearchHistory {
    fn name(&self) -> &'static str {
        "search_history"
    }
    fn description(&self) -> &'static str {
        "Search summaries of past tai sessions (this host or others) for similar incidents"
    }
    fn parameters(&self) -> Value {
        schema_for::<SearchHistoryArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        parse_args::<SearchHistoryArgs>("search_history", args)?;
        Ok(Vec::new())
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: SearchHistoryArgs = parse_args("search_history", args)?;
        let Some(k) = &ctx.knowledge else {
            return Ok(Run::message(CallStatus::Error, NO_KNOWLEDGE));
        };
        Ok(
            match k
                .search_history(&a.query, a.host.as_deref(), clamp(a.limit, 5, 20) as usize)
                .await
            {
                Ok(text) => Run::message(CallStatus::Ok, text),
                Err(e) => Run::message(CallStatus::Error, format!("history search failed: {e}")),
            },
        )
    }
}
