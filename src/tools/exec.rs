//! Running tool calls: [`execute`] / [`execute_all`] look the tool up in the [`Registry`],
//! run it (every command through [`super::step::run_step`]) and turn its [`Run`] into a
//! [`ToolOutcome`]. Each call's commands are audited under it ([`super::audited`]), and the
//! commands the policy refused are written to the audit log here, before the outcome returns.
use std::time::Instant;

use futures::StreamExt;

use serde_json::Value;

use super::audited::{peer_fields, within_call, CallInfo};
use super::registry::Registry;
use super::types::{CallStatus, CommandRecord, ExecContext, Run, ToolCall, ToolError, ToolOutcome};
use crate::audit::{AuditEvent, CommandEvent, Decision};

/// The text the model sees for a list of command records.
pub fn render_records(records: &[CommandRecord]) -> String {
    let mut out = String::new();
    for r in records {
        let exit = match (r.status, r.exit_code) {
            (CallStatus::Denied, _) => "denied".to_string(),
            (_, Some(c)) => format!("exit {c}"),
            (_, None) => "no exit status".to_string(),
        };
        out.push_str(&format!(
            "$ {}  ({exit}, {} ms)\n",
            r.command, r.duration_ms
        ));
        if !r.stdout.is_empty() {
            out.push_str(&r.stdout);
            if !r.stdout.ends_with('\n') {
                out.push('\n');
            }
        } else if r.stderr.trim().is_empty() && r.status == CallStatus::Ok {
            out.push_str("(no output)\n");
        }
        if !r.stderr.trim().is_empty() {
            out.push_str("[stderr]\n");
            out.push_str(&r.stderr);
            if !r.stderr.ends_with('\n') {
                out.push('\n');
            }
        }
        if r.truncated > 0 {
            out.push_str(&format!(
                "[{} bytes of output were cut from the middle; narrow the query to see them]\n",
                r.truncated
            ));
        }
        if let Some(n) = &r.note {
            out.push_str(&format!("[{n}]\n"));
        }
    }
    out
}

fn status_of(records: &[CommandRecord]) -> CallStatus {
    if records.iter().any(|r| r.status == CallStatus::Denied) {
        CallStatus::Denied
    } else if records.iter().any(|r| r.status == CallStatus::Ok) {
        CallStatus::Ok
    } else {
        CallStatus::Error
    }
}

/// Run one tool call. Model-fixable problems (unknown tool, bad arguments, a policy denial, a
/// failing command) come back as an outcome with status `error` or `denied`; `Err` only when
/// the transport is gone or the host cannot be trusted.
pub async fn execute(
    ctx: &ExecContext,
    registry: &Registry,
    call: &ToolCall,
) -> Result<ToolOutcome, ToolError> {
    let started = Instant::now();
    let finish = |run: Run| {
        let status = run.status.unwrap_or_else(|| status_of(&run.commands));
        let output = if run.output.is_empty() {
            render_records(&run.commands)
        } else if run.commands.is_empty() {
            run.output.clone()
        } else {
            format!("{}{}", render_records(&run.commands), run.output)
        };
        ToolOutcome {
            call: call.clone(),
            status,
            commands: run.commands,
            output,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    };
    let Some(tool) = registry.get(&call.tool) else {
        return Ok(finish(Run::message(
            CallStatus::Error,
            format!(
                "unknown tool `{}`; available tools: {}",
                call.tool,
                registry.names().join(", ")
            ),
        )));
    };
    let args = match &call.args {
        serde_json::Value::Null => serde_json::json!({}),
        a => a.clone(),
    };
    let info = CallInfo {
        id: call.id.clone(),
        tool: call.tool.clone(),
        args: args.clone(),
    };
    match within_call(info, tool.run(ctx, &args)).await {
        Ok(run) => {
            audit_denials(ctx, call, &args, &run.commands).await;
            Ok(finish(run))
        }
        Err(ToolError::RespondToModel(msg)) => Ok(finish(Run::message(CallStatus::Error, msg))),
        Err(e) => Err(e),
    }
}

/// Write every refused command of a call to the session's audit log, before the outcome
/// goes back to the model or the user. The rule and the reason come from the record's note
/// (`CommandRecord::denied`: "denied by policy rule RULE: REASON").
async fn audit_denials(
    ctx: &ExecContext,
    call: &ToolCall,
    args: &Value,
    records: &[CommandRecord],
) {
    let Some(scope) = &ctx.audit else {
        return;
    };
    for r in records.iter().filter(|r| r.status == CallStatus::Denied) {
        let note = r.note.as_deref().unwrap_or_default();
        let (rule, reason) = note
            .strip_prefix("denied by policy rule ")
            .and_then(|rest| rest.split_once(": "))
            .unwrap_or(("unknown", note));
        let (address, host_key) = peer_fields(&*ctx.transport);
        let event = CommandEvent {
            session: scope.session.clone(),
            host: scope.host.clone(),
            address,
            host_key,
            call_id: Some(call.id.clone()),
            tool: Some(call.tool.clone()),
            args: Some(args.clone()),
            argv: shell_words::split(&r.command).unwrap_or_else(|_| vec![r.command.clone()]),
            command: r.command.clone(),
            rule: rule.to_string(),
            decision: Decision::Deny,
            reason: Some(reason.to_string()),
            exit_code: None,
            signal: None,
            timed_out: false,
            cancelled: false,
            duration_ms: r.duration_ms,
            bytes: 0,
            truncated: 0,
        };
        // A failed write is warned about and remembered by the log (later commands refused).
        let _ = scope.append(AuditEvent::Denied(event)).await;
    }
}

/// Run several calls concurrently (at most `limits.max_concurrency` at once); results come
/// back in input order.
pub async fn execute_all(
    ctx: &ExecContext,
    registry: &Registry,
    calls: &[ToolCall],
) -> Vec<Result<ToolOutcome, ToolError>> {
    // Each call's future is boxed before it enters the stream: a closure-built stream cannot be
    // proven `Send` through `async_trait`'s borrowed signatures (a rustc limitation), and the
    // agent's and the REPL's runners call this from such methods.
    type CallFuture<'a> = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ToolOutcome, ToolError>> + Send + 'a>,
    >;
    let width = ctx.limits.max_concurrency.max(1);
    let futures: Vec<CallFuture<'_>> = calls
        .iter()
        .map(|c| Box::pin(execute(ctx, registry, c)) as CallFuture<'_>)
        .collect();
    futures::stream::iter(futures)
        .buffered(width)
        .collect()
        .await
}
