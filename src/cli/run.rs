//! `tai run HOST ISSUE...`: a one-shot investigation. Connect, run the agent loop once, print
//! the report (terminal, or JSON with `--json`), write Markdown with `--output-file`.
//!
//! [`run_model`] is the model path; the no-model path (`--no-llm`, and the automatic fallback
//! when the model is unreachable) sits beside it and shares [`emit`].
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
    let report = result?;
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
