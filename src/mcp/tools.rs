//! The MCP tools: every registry tool with its schemars schema plus a required `host` (limited
//! to the allowlist), `triage` (the `--no-llm` investigation: baseline plan, triage sweep,
//! detectors), `collect` (a category's baseline plan), and `search_runbooks` / `search_history`
//! (the knowledge store, no host). Every host-bound call runs on the pool's warm connection
//! through the same `ToolRunner` as `tai run`; failures come back as results with
//! `isError: true` so the client sees the reason and the server keeps serving.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::hosts::{is_dropped_connection, Allowlist, Pool};
use crate::agent::{AgentError, HostRunner, Progress, ToolRunner};
use crate::knowledge::Knowledge;
use crate::plan::Category;
use crate::tools::{CallStatus, ToolCall, ToolError, ToolOutcome};

/// Tools that read the knowledge store and take no host.
const NO_HOST: &[&str] = &["search_runbooks", "search_history"];

/// What a call needs: the allowlist, the warm connections, the knowledge store.
pub struct Tools {
    pub allow: Allowlist,
    pub pool: Arc<Pool>,
    pub knowledge: Option<Arc<Knowledge>>,
    next_id: AtomicU32,
    list: Vec<Tool>,
}

impl Tools {
    pub fn new(allow: Allowlist, pool: Arc<Pool>, knowledge: Option<Arc<Knowledge>>) -> Tools {
        let list = tool_list(&pool, &allow);
        Tools {
            allow,
            pool,
            knowledge,
            next_id: AtomicU32::new(1),
            list,
        }
    }

    /// The tools as `tools/list` returns them.
    pub fn list(&self) -> Vec<Tool> {
        self.list.clone()
    }

    /// Run one `tools/call`. Never fails: problems are tool results with `isError: true`.
    pub async fn call(
        &self,
        name: &str,
        args: Option<JsonObject>,
        cancel: &CancellationToken,
    ) -> CallToolResult {
        let mut args = args.unwrap_or_default();
        if NO_HOST.contains(&name) {
            return self.knowledge_call(name, args).await;
        }
        if name != "triage" && name != "collect" && self.pool.tools().registry.get(name).is_none() {
            return error(format!(
                "unknown tool `{name}`; call tools/list for the tools tai serves"
            ));
        }
        let host = match args.remove("host") {
            Some(Value::String(h)) => h,
            _ => {
                return error(format!(
                    "`{name}` needs a `host` argument: one of {}",
                    allowed_text(&self.allow)
                ))
            }
        };
        if let Err(e) = self.allow.check(&host) {
            return error(e.to_string());
        }
        let result = match name {
            "triage" => {
                let config = self.pool.config().clone();
                self.on_host(&host, |runner| {
                    triage(config.clone(), runner, args.clone(), cancel.clone())
                })
                .await
            }
            "collect" => {
                self.on_host(&host, |runner| {
                    collect(runner, args.clone(), cancel.clone())
                })
                .await
            }
            _ => {
                let call = ToolCall {
                    id: format!("M{}", self.next_id.fetch_add(1, Ordering::Relaxed)),
                    tool: name.to_string(),
                    args: Value::Object(args),
                };
                self.on_host(&host, |runner| {
                    one_call(runner, call.clone(), cancel.clone())
                })
                .await
            }
        };
        match result {
            Ok(r) => r,
            Err(e) => error(format!("{host}: {e}")),
        }
    }

    /// Run `f` on the warm connection to `host`; a connection that dropped is made again and
    /// `f` runs once more. A host whose key changed is refused (and not kept).
    async fn on_host<F, Fut>(&self, host: &str, f: F) -> Result<CallToolResult, AgentError>
    where
        F: Fn(HostRunner) -> Fut,
        Fut: std::future::Future<Output = Result<CallToolResult, AgentError>>,
    {
        let mut retried = false;
        loop {
            let runner = match self.pool.runner(host).await {
                Ok(r) => r,
                Err(e) => {
                    self.pool.forget(host).await;
                    return Err(e);
                }
            };
            match f(runner).await {
                Err(AgentError::Transport(t)) if !retried && is_dropped_connection(&t) => {
                    tracing_note(&format!("{host}: {t}; reconnecting once"));
                    self.pool.forget(host).await;
                    retried = true;
                }
                Err(e) => {
                    if matches!(e, AgentError::Transport(_)) {
                        self.pool.forget(host).await;
                    }
                    return Err(e);
                }
                Ok(r) => return Ok(r),
            }
        }
    }

    async fn knowledge_call(&self, name: &str, args: JsonObject) -> CallToolResult {
        let Some(k) = &self.knowledge else {
            return error(
                "the knowledge store is not available to this server; check `tai doctor` \
                 (runbooks and past sessions live under TAI_HOME/knowledge)",
            );
        };
        let args = Value::Object(args);
        let text = if name == "search_runbooks" {
            let a: crate::tools::builtin::knowledge::SearchRunbooksArgs =
                match crate::tools::schema::parse_args(name, &args) {
                    Ok(a) => a,
                    Err(e) => return error(e.to_string()),
                };
            k.search_runbooks(&a.query, clamp(a.limit, 5, 20)).await
        } else {
            let a: crate::tools::builtin::knowledge::SearchHistoryArgs =
                match crate::tools::schema::parse_args(name, &args) {
                    Ok(a) => a,
                    Err(e) => return error(e.to_string()),
                };
            k.search_history(&a.query, a.host.as_deref(), clamp(a.limit, 5, 20))
                .await
        };
        match text {
            Ok(t) => CallToolResult::success(vec![ContentBlock::text(t)]),
            Err(e) => error(format!("{name} failed: {e}")),
        }
    }
}

fn clamp(v: Option<u32>, default: u32, max: u32) -> usize {
    v.unwrap_or(default).clamp(1, max) as usize
}

/// Diagnostics go to stderr: stdout carries the protocol in stdio mode.
fn tracing_note(s: &str) {
    eprintln!("tai mcp: {s}");
}

fn error(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

fn allowed_text(allow: &Allowlist) -> String {
    if allow.is_empty() {
        "(none: start tai mcp with --hosts, --host-pattern or [mcp] hosts)".to_string()
    } else {
        allow.names().join(", ")
    }
}

/// One registry tool call: its capped, redacted output; a denial or a failed command is an
/// error result with the reason (and the policy's alternative, which the output carries).
async fn one_call(
    runner: HostRunner,
    call: ToolCall,
    cancel: CancellationToken,
) -> Result<CallToolResult, AgentError> {
    let mut results = runner.run_all(std::slice::from_ref(&call), &cancel).await;
    match results.pop() {
        Some(Ok(o)) => Ok(outcome_result(&o)),
        Some(Err(ToolError::RespondToModel(m))) => Ok(error(m)),
        Some(Err(ToolError::Fatal(t))) => Err(AgentError::Transport(t)),
        None => Ok(error("the tool produced no result")),
    }
}

fn outcome_result(o: &ToolOutcome) -> CallToolResult {
    let text = match o.status {
        CallStatus::Ok => o.output.clone(),
        CallStatus::Denied => format!("denied by tai's read-only policy: {}", o.output),
        CallStatus::Error => o.output.clone(),
    };
    let block = vec![ContentBlock::text(text)];
    if o.status == CallStatus::Ok {
        CallToolResult::success(block)
    } else {
        CallToolResult::error(block)
    }
}

/// `triage`: `agent::no_model::investigate` on the host (baseline plan of the issue's
/// category, the triage sweep, the detectors): a short summary and the report as JSON.
async fn triage(
    config: crate::config::Config,
    runner: HostRunner,
    args: JsonObject,
    cancel: CancellationToken,
) -> Result<CallToolResult, AgentError> {
    let issue = args
        .get("issue")
        .and_then(Value::as_str)
        .unwrap_or("general health check")
        .to_string();
    let category = match category_arg(&args) {
        Ok(c) => c,
        Err(e) => return Ok(error(e)),
    };
    let report = crate::agent::no_model::investigate(
        &config,
        &runner,
        &issue,
        category,
        &Progress::off(),
        &cancel,
    )
    .await?;
    let mut summary = format!(
        "{}: {} ({} finding(s), confidence {})\nRoot cause: {}\n",
        report.host,
        report.category,
        report.findings.len(),
        report.confidence,
        report.root_cause
    );
    for f in &report.findings {
        summary.push_str(&format!(
            "- [{}] {} {}: {}\n",
            f.severity, f.kind, f.subject, f.summary
        ));
    }
    for a in &report.actions {
        summary.push_str(&format!("  action: {a}\n"));
    }
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| AgentError::Setup(format!("serialising the triage report: {e}")))?;
    let mut result =
        CallToolResult::success(vec![ContentBlock::text(summary), ContentBlock::text(json)]);
    result.structured_content = serde_json::to_value(&report).ok();
    Ok(result)
}

fn category_arg(args: &JsonObject) -> Result<Option<Category>, String> {
    match args.get("category").and_then(Value::as_str) {
        None => Ok(None),
        Some(c) => c.parse::<Category>().map(Some),
    }
}

/// `collect`: the category's baseline plan (`plan::baseline_calls` through the runner).
async fn collect(
    runner: HostRunner,
    args: JsonObject,
    cancel: CancellationToken,
) -> Result<CallToolResult, AgentError> {
    let category = match category_arg(&args) {
        Ok(Some(c)) => c,
        Ok(None) => crate::plan::classify(
            args.get("issue")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        Err(e) => return Ok(error(e)),
    };
    let mut next_id = 1;
    let outcomes = match runner.collect(category, &mut next_id, &cancel).await {
        Ok(o) => o,
        Err(ToolError::RespondToModel(m)) => return Ok(error(m)),
        Err(ToolError::Fatal(t)) => return Err(AgentError::Transport(t)),
    };
    let mut text = format!("baseline plan for {category}: {} call(s)\n", outcomes.len());
    for o in &outcomes {
        text.push_str(&format!(
            "\n## {} {} {} ({})\n{}\n",
            o.call.id,
            o.call.tool,
            o.call.args,
            crate::report::status_word(o.status),
            o.output
        ));
    }
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// Every tool with its schema; host-bound ones get a required `host` listing the allowlist.
fn tool_list(pool: &Pool, allow: &Allowlist) -> Vec<Tool> {
    let mut host_prop = json!({
        "type": "string",
        "description": format!(
            "Host to run on (tai's allowlist: {}). Refused if not listed.",
            allowed_text(allow)
        ),
    });
    // An empty `enum` is a schema nothing satisfies; some clients reject it.
    if !allow.is_empty() {
        host_prop["enum"] = json!(allow.names());
    }
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .open_world(false);
    let mut out = Vec::new();
    for spec in pool.tools().registry.specs() {
        let mut schema = match spec.parameters {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        };
        if !NO_HOST.contains(&spec.name.as_str()) {
            add_host(&mut schema, &host_prop);
        }
        out.push(Tool::new(spec.name, spec.description, schema).annotate(read_only.clone()));
    }
    let mut triage = json!({
        "type": "object",
        "properties": {
            "issue": {"type": "string", "description": "What is wrong, in words (picks the category when none is given)."},
            "category": {"type": "string", "description": "Issue category: service, network, dns, disk, memory, kernel, auth, time, tls, performance, general."}
        },
        "additionalProperties": false
    });
    if let Value::Object(m) = &mut triage {
        add_host(m, &host_prop);
        out.push(
            Tool::new(
                "triage",
                "Deterministic investigation without a model: the category's baseline plan plus \
                 tai's triage sweep, read-only, then tai's detectors; returns the findings (root \
                 cause first) as a short summary and the report as JSON",
                m.clone(),
            )
            .annotate(read_only.clone()),
        );
        let mut collect = m.clone();
        add_host(&mut collect, &host_prop);
        out.push(
            Tool::new(
                "collect",
                "Run the read-only baseline plan of an issue category (or the category of `issue`) \
                 and return every call's output",
                collect,
            )
            .annotate(read_only),
        );
    }
    out
}

fn add_host(schema: &mut JsonObject, host_prop: &Value) {
    let props = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    if let Value::Object(p) = props {
        p.insert("host".to_string(), host_prop.clone());
    }
    let required = schema
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(r) = required {
        if !r.iter().any(|v| v == "host") {
            r.insert(0, Value::String("host".into()));
        }
    }
    schema
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
}
