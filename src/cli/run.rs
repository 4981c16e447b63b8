//! `tai run HOST ISSUE...`: a one-shot investigation. Connect, run the agent loop once, print
//! the report (terminal, or JSON with `--json`), write Markdown with `--output-file`.
//!
//! [`run_model`] is the model path. [`run_no_llm`] is the path without a model (`--no-llm`, and
//! the automatic fallback when the model endpoint cannot be reached, said on stderr and in the
//! report's warnings): connect, detect the host facts, classify the issue, run the category's
//! baseline plan with the triage sweep beside it, run the deterministic detectors, report.
//! Both share [`emit`].
use std::io::Write;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use crate::agent::{AgentError, Session, SessionOptions};
use crate::config::Config;
use crate::exit::Code;
use crate::render::Palette;
use crate::report::Report;
use crate::transport::Target;

/// Entry point for `tai run`.
pub async fn run(config: &Config, args: RunArgs) -> Result<Code> {
    let issue = args.issue.join(" ");
    if issue.trim().is_empty() {
        return Err(super::CliError::Usage(
            "tai run needs an issue: tai run HOST \"what is wrong\"".into(),
        )
        .into());
    }
    if let Some(cat) = &args.category {
        cat.parse::<crate::plan::Category>()
            .map_err(super::CliError::Usage)?;
    }
    if config.no_llm {
        return run_no_llm(config, &args, None).await;
    }
    let target = Target::parse(&args.host)?;
    let cancel = CancellationToken::new();
    let guard = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: stopping the running commands");
            guard.cancel();
        }
    });
    let result = run_model(config, &target, &issue, args.category.as_deref(), &cancel).await;
    ctrl_c.abort();
    let report = match result {
        Err(AgentError::Llm(e)) if model_unreachable(&e) => {
            let reason = e.to_string().lines().next().unwrap_or_default().to_string();
            eprintln!(
                "warning: {reason}\n  the model cannot be reached: running the baseline plan and deterministic triage instead"
            );
            return run_no_llm(config, &args, Some(reason)).await;
        }
        r => r?,
    };
    emit(config, &report)?;
    Ok(Code::Success)
}

/// The model path: a session, one turn, its report. Model errors come back as
/// `AgentError::Llm` so a caller can fall back to deterministic triage.
pub async fn run_model(
    config: &Config,
    target: &Target,
    issue: &str,
    category: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Report, AgentError> {
    let mut opts = SessionOptions::from_config(config, target.display_name());
    opts.category = category.map(str::to_string);
    let mut session = Session::start(config, target, opts).await?;
    let report = session.turn(issue, cancel).await;
    if let Ok(r) = &report {
        if let Some(Err(e)) = session.save_to_history(r).await {
            eprintln!("warning: the session was not saved to history: {e}");
        }
    }
    session.close().await;
    report
}

/// Print the report on stdout (JSON or terminal) and write Markdown to `--output-file`.
pub fn emit(config: &Config, report: &Report) -> Result<()> {
    if let Some(path) = &config.output_file {
        std::fs::write(path, report.to_markdown())
            .with_context(|| format!("could not write the report to {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        write!(
            out,
            "{}",
            report.to_terminal(&Palette::stdout(config.color))
        )?;
    }
    Ok(())
}

/// Model errors that mean "there is no model to talk to": fall back to triage on these.
fn model_unreachable(e: &crate::llm::LlmError) -> bool {
    matches!(
        e,
        crate::llm::LlmError::Unreachable { .. } | crate::llm::LlmError::Timeout { .. }
    )
}

/// The no-model path of `tai run`: connect, host facts, classify, baseline plan plus the
/// triage sweep (concurrently), deterministic detectors, report (`mode = "triage"`).
/// `model_unreachable` is the reason when it runs because no model answered; it goes into the
/// report's warnings.
pub async fn run_no_llm(
    config: &Config,
    args: &RunArgs,
    model_unreachable: Option<String>,
) -> Result<Code> {
    use crate::plan::{self, Category};
    use crate::tools::{self, Registry, ToolOutcome};
    use crate::triage;

    let started = std::time::Instant::now();
    let issue = args.issue.join(" ");
    let category = match &args.category {
        Some(c) => c.parse::<Category>().map_err(super::CliError::Usage)?,
        None => plan::classify(&issue),
    };
    let (ctx, host) = super::host::open(&args.host, config).await?;
    let registry = Registry::builtin();
    let mut next_id = 1;
    let mut calls = plan::baseline_calls(category, &mut next_id);
    let planned = calls.len();
    calls.extend(triage::sweep_calls(&calls, &mut next_id));
    let facts = &ctx.facts;
    eprintln!(
        "{host}: {}{}; issue classified as {category}: running {planned} baseline and {} triage calls",
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
    );
    let results = tools::execute_all(&ctx, &registry, &calls).await;
    ctx.transport.close().await;
    let outcomes: Vec<ToolOutcome> = results
        .into_iter()
        .collect::<Result<_, _>>()
        .with_context(|| format!("collecting from {host}"))?;
    let findings = triage::analyze(&outcomes);
    eprintln!(
        "{} calls in {:.1} s; {} finding(s)",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        findings.len()
    );
    let mut report = triage::report(&host, &issue, category.as_str(), &outcomes, &findings);
    if let Some(reason) = model_unreachable {
        report.warnings.push(format!(
            "no model was used ({reason}); this report comes from deterministic triage"
        ));
    }
    emit(config, &report)?;
    Ok(Code::Success)
}
