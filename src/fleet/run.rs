//! Running the fleet: per host, one connection (`agent::Host::connect`, audited like every
//! session), the category's baseline plan plus the triage sweep and the figure calls (with the
//! `package_version` calls of the compared packages, named for the host's distro family) through
//! `agent::HostRunner`, and `triage::analyze` over the outputs. Hosts run concurrently, at most
//! `forks` at a time, each bounded by `host_timeout`; a host that fails (auth, changed host key,
//! timeout, refused) fails alone. Progress goes to stderr; each result is handed to the caller
//! as soon as its host finishes.
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::package::{self, Package};
use super::summary::Figures;
use super::targets::FleetTarget;
use crate::agent::{AgentError, Host, HostRunner, SessionTools, ToolRunner};
use crate::config::Config;
use crate::plan::Category;
use crate::report::FindingRecord;
use crate::tools::{ToolCall, ToolError, ToolOutcome};
use crate::transport::TransportError;

/// How to run the fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub issue: String,
    pub category: Category,
    /// Hosts in flight at once (at least 1).
    pub forks: usize,
    /// Connect plus every call, per host.
    pub host_timeout: Duration,
    /// Packages whose version every host reports (empty: none compared).
    pub packages: Vec<Package>,
}

/// Why a host gave no result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unreachable {
    /// `auth`, `host_key_changed`, `timeout`, `refused`, `connect`, `connection_lost`, `error`.
    pub reason: String,
    /// The first line of the error.
    pub message: String,
}

/// One host's result.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    pub host: String,
    /// `hostname` the host reported (empty when unreached).
    pub hostname: String,
    pub findings: Vec<FindingRecord>,
    pub figures: Figures,
    /// Tool calls run (baseline, sweep, figures).
    pub calls: usize,
    pub duration_ms: u64,
    pub error: Option<Unreachable>,
    /// The outputs, for the caller's summary only (never serialised: `--ask` sends the summary).
    #[serde(skip)]
    pub outcomes: Vec<ToolOutcome>,
}

impl HostResult {
    pub fn critical(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == "critical" && f.current)
    }
}

/// Progress on stderr: one updating line on a terminal, plain lines otherwise.
pub struct FleetProgress {
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    running: AtomicUsize,
    tty: bool,
    enabled: bool,
}

impl FleetProgress {
    pub fn stderr(total: usize) -> FleetProgress {
        FleetProgress {
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            tty: std::io::stderr().is_terminal(),
            enabled: true,
        }
    }

    pub fn off(total: usize) -> FleetProgress {
        FleetProgress {
            enabled: false,
            ..FleetProgress::stderr(total)
        }
    }

    fn status(&self) -> String {
        format!(
            "fleet: {}/{} done, {} failed, {} running",
            self.done.load(Ordering::Relaxed),
            self.total,
            self.failed.load(Ordering::Relaxed),
            self.running.load(Ordering::Relaxed)
        )
    }

    /// Redraw the status line (terminal only).
    pub fn draw(&self) {
        if self.enabled && self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{}\x1b[K", self.status());
            let _ = e.flush();
        }
    }

    /// Clear the status line before someone else writes a line (terminal only).
    pub fn clear(&self) {
        if self.enabled && self.tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
        }
    }

    fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
        self.draw();
    }

    fn finished(&self, r: &HostResult) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
        if r.error.is_some() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if self.enabled && !self.tty {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{}", self.status());
        }
    }
}

/// The calls every host runs: the baseline plan of the category, the triage sweep, and the
/// figure calls the sweep does not already make (memory).
pub fn fleet_calls(category: Category) -> Vec<ToolCall> {
    let mut next = 1;
    let mut calls = crate::plan::baseline_calls(category, &mut next);
    calls.extend(crate::triage::sweep_calls(&calls, &mut next));
    if !calls.iter().any(|c| c.tool == "memory_info") {
        calls.push(ToolCall {
            id: format!("T{next}"),
            tool: "memory_info".into(),
            args: serde_json::json!({}),
        });
    }
    calls
}

/// Run the fleet; `on_result` sees each host's result as it finishes (stream it). Returns the
/// results in target order. Only setup problems (the policy cannot load) are `Err`.
pub async fn run_fleet(
    config: &Config,
    targets: &[FleetTarget],
    opts: &FleetOptions,
    progress: Arc<FleetProgress>,
    cancel: &CancellationToken,
    mut on_result: impl FnMut(&HostResult),
) -> Result<Vec<HostResult>, AgentError> {
    let tools = SessionTools::without_knowledge(config)?;
    let config = Arc::new(config.clone());
    let calls = Arc::new(fleet_calls(opts.category));
    let packages = Arc::new(opts.packages.clone());
    let forks = Arc::new(tokio::sync::Semaphore::new(opts.forks.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (tools, config, calls, packages, forks, progress) = (
            tools.clone(),
            config.clone(),
            calls.clone(),
            packages.clone(),
            forks.clone(),
            progress.clone(),
        );
        let (t, timeout, cancel) = (t.clone(), opts.host_timeout, cancel.child_token());
        set.spawn(async move {
            let _permit = forks.acquire_owned().await;
            progress.started();
            let r = one_host(&config, &tools, &t, &calls, &packages, timeout, &cancel).await;
            progress.finished(&r);
            (i, r)
        });
    }
    let mut results: Vec<Option<HostResult>> = vec![None; targets.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                progress.clear();
                on_result(&r);
                progress.draw();
                results[i] = Some(r);
            }
            Err(e) => return Err(AgentError::Setup(format!("a fleet task failed: {e}"))),
        }
    }
    progress.clear();
    Ok(results.into_iter().flatten().collect())
}

async fn one_host(
    config: &Config,
    tools: &SessionTools,
    t: &FleetTarget,
    calls: &[ToolCall],
    packages: &[Package],
    timeout: Duration,
    cancel: &CancellationToken,
) -> HostResult {
    let started = Instant::now();
    let mut r = HostResult {
        host: t.name.clone(),
        hostname: String::new(),
        findings: Vec::new(),
        figures: Figures::default(),
        calls: 0,
        duration_ms: 0,
        error: None,
        outcomes: Vec::new(),
    };
    let work = async {
        let host = Host::connect(config, tools, &t.target).await?;
        let hostname = host.facts.hostname.clone();
        let mut calls = calls.to_vec();
        calls.extend(package::calls(
            packages,
            &host.facts.family,
            calls.len() + 1,
        ));
        let runner = HostRunner::new(tools.clone(), host);
        let outcomes: Result<Vec<ToolOutcome>, ToolError> =
            runner.run_all(&calls, cancel).await.into_iter().collect();
        runner.close().await;
        Ok::<_, AgentError>((hostname, outcomes?))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok((hostname, outcomes))) => {
            let findings = crate::triage::analyze(&outcomes);
            r.hostname = hostname;
            r.findings = findings.iter().map(crate::triage::record).collect();
            r.figures = Figures::from_outcomes(&outcomes);
            r.calls = outcomes.len();
            r.outcomes = outcomes;
        }
        Ok(Err(e)) => r.error = Some(classify(&e)),
        Err(_) => {
            cancel.cancel();
            r.error = Some(Unreachable {
                reason: "timeout".into(),
                message: format!(
                    "no result within the per-host timeout of {} s",
                    timeout.as_secs()
                ),
            })
        }
    }
    r.duration_ms = started.elapsed().as_millis() as u64;
    r
}

/// The reason a host failed, from the engine's error.
pub fn classify(e: &AgentError) -> Unreachable {
    let message = e.to_string().lines().next().unwrap_or_default().to_string();
    let reason = match e {
        AgentError::Transport(t) => match t {
            TransportError::Auth { .. } | TransportError::Key { .. } => "auth",
            TransportError::HostKeyChanged { .. } | TransportError::HostKey { .. } => {
                "host_key_changed"
            }
            TransportError::ConnectTimeout { .. } => "timeout",
            TransportError::Connect { reason, .. }
                if reason.to_ascii_lowercase().contains("refused") =>
            {
                "refused"
            }
            TransportError::Connect { .. } => "connect",
            TransportError::ConnectionLost { .. } => "connection_lost",
            _ => "error",
        },
        AgentError::Interrupted => "interrupted",
        _ => "error",
    };
    Unreachable {
        reason: reason.into(),
        message,
    }
}
