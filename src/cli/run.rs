//! `tai run HOST ISSUE...`: a one-shot investigation. Connect, run the agent loop once, print
//! the report (terminal, or JSON with `--json`), write Markdown with `--output-file`.
//!
//! [`run_model`] is the model path. [`run_no_llm`] is the path without a model (`--no-llm`, and
//! the automatic fallback when the model endpoint cannot be reached, said on stderr and in the
//! report's warnings): `agent::no_model::investigate` runs the baseline plan, the triage sweep
//! and the detectors. Both share [`emit`].
use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use super::host::CtrlC;
use crate::agent::{AgentError, HostRunner, Progress, Session, SessionOptions};
use crate::config::Config;
use crate::exit::Code;
use crate::plan::Category;
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
    let category = match &args.category {
        Some(c) => Some(c.parse::<Category>().map_err(super::CliError::Usage)?),
        None => None,
    };
    let target = Target::parse(&args.host)?;
    if config.no_llm {
        return run_no_llm(config, &target, &issue, category, None).await;
    }
    let cancel = CancellationToken::new();
    let interrupt = CtrlC::cancels(cancel.clone(), "interrupted: stopping the running commands");
    let result = run_model(config, &target, &issue, category, &cancel).await;
    drop(interrupt);
    let report = match result {
        Err(AgentError::Llm(e)) if model_unreachable(&e) => {
            let reason = e.to_string().lines().next().unwrap_or_default().to_string();
            eprintln!(
                "warning: {reason}\n  the model cannot be reached: running the baseline plan and deterministic triage instead"
            );
            return run_no_llm(config, &target, &issue, category, Some(reason)).await;
        }
        r => r?,
    };
    emit(config, &report)?;
    Ok(Code::Success)
}

/// The model path: a session over a [`HostRunner`] ([`Session::start_with`], as every front end
/// starts one), one turn, its report. Model errors come back as `AgentError::Llm` so a caller
/// can fall back to deterministic triage.
pub async fn run_model(
    config: &Config,
    target: &Target,
    issue: &str,
    category: Option<Category>,
    cancel: &CancellationToken,
) -> Result<Report, AgentError> {
    let runner = HostRunner::connect(config, target).await?;
    let mut opts =
        SessionOptions::from_config(config, target.display_name()).with_store_of(&runner);
    opts.category = category;
    let mut session = Session::start_with(config, Arc::new(runner), opts).await?;
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

/// The no-model path of `tai run` (`mode = "triage"`): connect, then
/// `agent::no_model::investigate`. `model_unreachable` is the reason when it runs because no
/// model answered; it goes into the report's warnings.
pub async fn run_no_llm(
    config: &Config,
    target: &Target,
    issue: &str,
    category: Option<Category>,
    model_unreachable: Option<String>,
) -> Result<Code> {
    use crate::agent::no_model;
    let cancel = CancellationToken::new();
    let _interrupt = CtrlC::cancels(cancel.clone(), "interrupted: stopping running commands");
    let runner = no_model::connect(config, target).await?;
    let progress = Progress::stderr(config.color);
    let result = no_model::investigate(config, &runner, issue, category, &progress, &cancel).await;
    crate::agent::ToolRunner::close(&runner).await;
    let mut report =
        result.with_context(|| format!("collecting from {}", target.display_name()))?;
    if let Some(reason) = model_unreachable {
        report.warnings.push(format!(
            "no model was used ({reason}); this report comes from deterministic triage"
        ));
    }
    emit(config, &report)?;
    Ok(Code::Success)
}
