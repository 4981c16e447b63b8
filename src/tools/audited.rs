//! The audit hook below every front end: [`AuditedTransport`] wraps a host's transport so
//! every command it runs is written to the audit log ([`crate::audit`]) before its output
//! goes back up (to `step`, then the model or the user), and [`context`] builds the
//! [`ExecContext`] of a session on it. `tai run`, `tai collect`, `tai tools run`, the REPL and
//! later front ends all get their context here, so none of them audits by hand; the denied
//! requests, which never reach a transport, are written by [`super::exec`].
//!
//! The tool call a command runs for (id, tool, arguments) reaches the transport through a
//! task-local set by [`super::exec::execute`] ([`within_call`]); commands outside a call
//! (host facts detection) are written without one.
//!
//! When the log cannot be written, the command's result is still returned, the log warns
//! on stderr once, and every later command on this transport is refused before it runs:
//! tai runs no unaudited command.
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::types::ExecContext;
use crate::audit::{AuditEvent, CommandEvent, Decision, Scope};
use crate::config::ExecLimits;
use crate::policy::{ApprovedCommand, Policy};
use crate::transport::{
    CommandOutput, ExecOptions, Expect, Guard, Guarded, PeerIdentity, Transport, TransportError,
};

/// The tool call a command runs for.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub id: String,
    pub tool: String,
    pub args: Value,
}

tokio::task_local! {
    static CALL: CallInfo;
    static CHECKS: ();
}

/// Run `f`, the host-side checks of one step (paths resolved, key holders searched, probe
/// names resolved), with their audit lines held back ([`crate::audit::Scope::defer`]) and
/// written in one group commit with the line that follows: the command they guard, or its
/// refusal. Their output only feeds tai's policy, so invariant 10 (a command is on disk before
/// its output reaches the model or the user) holds with one sync per step instead of two.
pub async fn checks<F: Future>(f: F) -> F::Output {
    CHECKS.scope((), f).await
}

/// Run `f` with `call` as the tool call its commands are audited under.
pub async fn within_call<F: Future>(call: CallInfo, f: F) -> F::Output {
    CALL.scope(call, f).await
}

fn current_call() -> Option<CallInfo> {
    CALL.try_with(Clone::clone).ok()
}

/// The address and host key as the audit shows them (`local` has neither).
pub fn peer_fields(transport: &dyn Transport) -> (String, Option<String>) {
    let PeerIdentity { address, host_key } = transport.peer();
    let address = match address {
        Some(a) => a,
        None if transport.name() == "local" => "local".to_string(),
        None => "unknown".to_string(),
    };
    (address, host_key)
}

/// A transport that audits every command it runs (see the module doc).
pub struct AuditedTransport {
    inner: Arc<dyn Transport>,
    scope: Arc<Scope>,
}

impl AuditedTransport {
    pub fn wrap(inner: Arc<dyn Transport>, scope: Arc<Scope>) -> Arc<dyn Transport> {
        Arc::new(AuditedTransport { inner, scope })
    }

    fn event(
        &self,
        cmd: &ApprovedCommand,
        result: Result<&CommandOutput, &TransportError>,
        elapsed_ms: u64,
    ) -> CommandEvent {
        let (address, host_key) = peer_fields(&*self.inner);
        let call = current_call();
        let mut e = CommandEvent {
            session: self.scope.session.clone(),
            host: self.scope.host.clone(),
            address,
            host_key,
            call_id: call.as_ref().map(|c| c.id.clone()),
            tool: call.as_ref().map(|c| c.tool.clone()),
            args: call.map(|c| c.args),
            argv: cmd.argv().to_vec(),
            command: cmd.display(),
            rule: cmd.rule().to_string(),
            decision: Decision::Allow,
            reason: None,
            exit_code: None,
            signal: None,
            timed_out: false,
            cancelled: false,
            duration_ms: elapsed_ms,
            bytes: 0,
            truncated: 0,
        };
        match result {
            Ok(out) => {
                e.exit_code = out.exit_code;
                e.signal = out.signal.clone();
                e.timed_out = out.timed_out;
                e.cancelled = out.cancelled;
                e.duration_ms = out.duration.as_millis() as u64;
                e.bytes = (out.stdout.len() + out.stderr.len()) as u64;
                e.truncated = out.truncated_bytes;
            }
            Err(err) => e.reason = Some(err.to_string()),
        }
        e
    }
}

#[async_trait::async_trait]
impl Transport for AuditedTransport {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn peer(&self) -> PeerIdentity {
        self.inner.peer()
    }

    async fn exec(
        &self,
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<CommandOutput, TransportError> {
        if let Some(why) = self.scope.log.failure() {
            return Err(TransportError::Spawn {
                host: self.inner.name(),
                program: cmd.checked_argv().first().cloned().unwrap_or_default(),
                reason: format!(
                    "refused because the audit log could not be written earlier in this session \
                     ({}); tai runs no unaudited command: make TAI_HOME/audit writable (free \
                     space, permissions), then start a new session",
                    why.lines().next().unwrap_or_default()
                ),
            });
        }
        let started = Instant::now();
        let result = self.inner.exec(cmd, opts).await;
        let event = AuditEvent::Command(self.event(
            cmd,
            result.as_ref(),
            started.elapsed().as_millis() as u64,
        ));
        if CHECKS.try_with(|_| ()).is_ok() {
            self.scope.defer(event);
            return result;
        }
        // A failed write is warned about and remembered by the log; the result still goes back.
        let _ = self.scope.append(event).await;
        result
    }

    async fn exec_guarded(
        &self,
        guards: &[Guard],
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<Guarded, TransportError> {
        if self.scope.log.failure().is_some() {
            // `exec` refuses it with the reason.
            return Ok(Guarded::Unsupported);
        }
        let started = Instant::now();
        let result = self.inner.exec_guarded(guards, cmd, opts).await;
        let elapsed = started.elapsed().as_millis() as u64;
        // A guard that held answered exactly as expected: an output guard (a resolver) printed
        // the text with status 0, a status guard ended with that status.
        let held = |g: &Guard| {
            let code = match g.expect {
                Expect::Stdout(_) => 0,
                Expect::Status(c) => c,
            };
            AuditEvent::Command(self.event(&g.cmd, Ok(&CommandOutput::ended(code)), 0))
        };
        match &result {
            Ok(Guarded::Ran(out)) => {
                // One group commit for all of them: the guards are deferred, and the command's
                // append writes them first.
                for g in guards {
                    self.scope.defer(held(g));
                }
                let _ = self
                    .scope
                    .append(AuditEvent::Command(self.event(cmd, Ok(out), elapsed)))
                    .await;
            }
            Ok(Guarded::Missed { ran }) => {
                // Checks only (the command did not run): written with what the step does next.
                for g in guards.iter().take(ran.saturating_sub(1)) {
                    self.scope.defer(held(g));
                }
                if let Some(g) = guards.get(ran.saturating_sub(1)) {
                    let missed = Err(TransportError::Spawn {
                        host: self.inner.name(),
                        program: g.cmd.checked_argv().first().cloned().unwrap_or_default(),
                        reason: "the host-side check did not answer as expected (or not in \
                                 time); checked again one by one"
                            .into(),
                    });
                    self.scope.defer(AuditEvent::Command(self.event(
                        &g.cmd,
                        missed.as_ref(),
                        elapsed,
                    )));
                }
            }
            Ok(Guarded::Unsupported) => {}
            Err(e) => {
                let event = self.event(cmd, Err(e), elapsed);
                let _ = self.scope.append(AuditEvent::Command(event)).await;
            }
        }
        result
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}

/// The execution context of a session on `transport`: wrapped in [`AuditedTransport`] when
/// `scope` is given (before the host facts are detected, so those commands are audited too).
pub async fn context(
    transport: Arc<dyn Transport>,
    policy: Arc<Policy>,
    limits: ExecLimits,
    cancel: CancellationToken,
    scope: Option<Arc<Scope>>,
) -> ExecContext {
    match scope {
        Some(scope) => {
            let transport = AuditedTransport::wrap(transport, scope.clone());
            ExecContext::detect(transport, policy, limits, cancel)
                .await
                .with_audit(scope)
        }
        None => ExecContext::detect(transport, policy, limits, cancel).await,
    }
}
