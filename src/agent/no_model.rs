//! The investigation without a model (`tai run --no-llm`, and the fallback when the model
//! endpoint cannot be reached): the category's baseline plan with the triage sweep beside it,
//! run concurrently on the runner's host, the deterministic detectors over the output, and a
//! report whose actions come from the runbook section matching the strongest finding.
use std::sync::Arc;

use super::{AgentError, HostRunner, Progress, SessionTools};
use crate::config::Config;
use crate::knowledge::{Knowledge, OpenOptions};
use crate::plan::{self, Category};
use crate::report::Report;
use crate::tools::{ToolError, ToolOutcome};
use crate::transport::Target;

/// Connect to `target` for the no-model path: the policy and the registry, no knowledge store
/// for the tools (no model calls the search tools), host facts detected once.
pub async fn connect(config: &Config, target: &Target) -> Result<HostRunner, AgentError> {
    let tools = SessionTools::without_knowledge(config)?;
    let host = super::Host::connect(config, &tools, target).await?;
    Ok(HostRunner::new(tools, host))
}

/// Investigate `issue` on the runner's host without a model: classify (unless `category` is
/// given), run the baseline plan plus the triage sweep, run the detectors, and build the report
/// (`mode = "triage"`). Progress goes to `progress`; `cancel` stops the running commands (what
/// finished is reported). A fatal transport error ends it with `Err`.
pub async fn investigate(
    config: &Config,
    runner: &HostRunner,
    issue: &str,
    category: Option<Category>,
    progress: &Progress,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Report, AgentError> {
    use super::ToolRunner;
    let started = std::time::Instant::now();
    let category = category.unwrap_or_else(|| plan::classify(issue));
    let host = runner.host();
    let mut next_id = 1;
    let mut calls = plan::baseline_calls(category, &mut next_id);
    let planned = calls.len();
    calls.extend(crate::triage::sweep_calls(&calls, &mut next_id));
    let facts = &host.facts;
    progress.note(&format!(
        "{}: {}{}; issue classified as {category}: running {planned} baseline and {} triage calls",
        host.name,
        if facts.hostname.is_empty() {
            "connected"
        } else {
            facts.hostname.as_str()
        },
        if facts.os_pretty.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.os_pretty)
        },
        calls.len() - planned,
    ));
    let outcomes: Vec<ToolOutcome> = runner
        .run_all(&calls, cancel)
        .await
        .into_iter()
        .collect::<Result<_, ToolError>>()?;
    let findings = crate::triage::analyze(&outcomes);
    progress.note(&format!(
        "{} calls in {:.1} s; {} finding(s)",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        findings.len()
    ));
    let runbook = match crate::triage::strongest(category.as_str(), &findings).first() {
        Some(top) => runbook_steps(config, top, progress).await,
        None => None,
    };
    Ok(crate::triage::report_with_actions(
        &host.name,
        issue,
        category.as_str(),
        &outcomes,
        &findings,
        runbook,
    ))
}

/// Recommended Actions from the runbook section that matches the strongest finding:
/// `(citation, steps)`. BM25 only (no embedding server is asked: this is the no-model path);
/// a store that cannot be opened or a section without steps leaves the finding's own advice.
async fn runbook_steps(
    config: &Config,
    top: &crate::triage::Finding,
    progress: &Progress,
) -> Option<(String, Vec<String>)> {
    let options = OpenOptions {
        dir: (!config.no_persist).then(|| Knowledge::store_dir(&config.tai_home)),
        embed: None,
        rag_debug: config.rag_debug,
    };
    // Opening the store reads (and may migrate) LMDB: off the async threads.
    let opened = tokio::task::spawn_blocking(move || Knowledge::open_with(options)).await;
    let knowledge = match opened {
        Ok(Ok(k)) => Arc::new(k),
        Ok(Err(e)) => {
            progress.note(&format!("note: runbooks not used: {e}"));
            return None;
        }
        Err(e) => {
            progress.note(&format!(
                "note: runbooks not used: opening the store failed: {e}"
            ));
            return None;
        }
    };
    let hits = match knowledge
        .search(&crate::triage::runbook_query(top), 10)
        .await
    {
        Ok(h) => h,
        Err(e) => {
            progress.note(&format!("note: runbook search failed: {e}"));
            return None;
        }
    };
    let hits: Vec<(String, String, String)> = hits
        .into_iter()
        .filter(|h| h.bm25.is_some())
        .map(|h| (h.citation, h.section, h.text))
        .collect();
    crate::triage::pick_runbook_section(top, &hits)
}
