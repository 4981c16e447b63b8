//! `tai fleet TARGETS... [-- ISSUE...]`: the same investigation on many hosts (see
//! [`crate::fleet`]). Streams one line per host on stdout as each finishes (not with `--json`),
//! then the fleet summary; `--json` prints per-host results and the summary as one object;
//! `--ask` hands the summary (never the raw outputs) to the model for a cross-host root cause.
//! Exit codes: 0, [`Code::FleetCritical`] when any host has a current critical finding,
//! [`Code::FleetUnreachable`] when some hosts were not reached and none is critical.
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::args::FleetArgs;
use super::host::CtrlC;
use crate::config::Config;
use crate::exit::Code;
use crate::fleet::{self, FleetOptions, FleetProgress, FleetSummary, HostResult};
use crate::plan::Category;

/// Entry point for `tai fleet`.
pub async fn run(config: &Config, args: FleetArgs) -> Result<Code> {
    let issue = match &args.issue {
        Some(i) => i.clone(),
        None => args.issue_words.join(" "),
    };
    let category = match &args.category {
        Some(c) => c.parse::<Category>().map_err(super::CliError::Usage)?,
        None => crate::plan::classify(&issue),
    };
    let ssh_config = (!config.ssh.ignore_ssh_config).then_some(config.ssh.config_file.as_path());
    let targets = fleet::resolve(&args.targets, args.inventory.as_deref(), ssh_config)?;
    let packages = if args.packages.is_empty() {
        fleet::package::from_issue(&issue, category)
    } else {
        args.packages
            .iter()
            .map(|p| fleet::Package::named(p))
            .collect::<Result<Vec<_>, _>>()?
    };
    let opts = FleetOptions {
        issue: issue.clone(),
        category,
        forks: args.forks.max(1),
        host_timeout: Duration::from_secs(args.host_timeout.max(1)),
        packages,
    };
    eprintln!(
        "fleet: {} hosts, category {category}, {} at a time, {} s per host{}",
        targets.len(),
        opts.forks,
        opts.host_timeout.as_secs(),
        if opts.packages.is_empty() {
            String::new()
        } else {
            format!(
                ", package versions of {}",
                opts.packages
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let cancel = CancellationToken::new();
    let _interrupt = CtrlC::cancels(cancel.clone(), "interrupted: stopping the running commands");
    let progress = Arc::new(FleetProgress::stderr(targets.len()));
    let json = config.json;
    let results = fleet::run_fleet(config, &targets, &opts, progress, &cancel, |r| {
        if !json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", host_line(r));
            let _ = out.flush();
        }
    })
    .await?;
    let summary = FleetSummary::build(&results);
    let analysis = if args.ask {
        match ask(config, &issue, &summary).await {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("warning: --ask: the model gave no analysis: {e}");
                None
            }
        }
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "issue": issue,
            "category": category.as_str(),
            "hosts": results,
            "summary": summary,
            "analysis": analysis,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write!(out, "\n{}", summary.to_text())?;
        if let Some(a) = &analysis {
            writeln!(out, "\nCross-host analysis (model):\n{}", a.trim())?;
        }
    }
    Ok(exit_code(&summary))
}

/// The exit code for a fleet run.
pub fn exit_code(s: &FleetSummary) -> Code {
    if !s.critical_hosts.is_empty() {
        Code::FleetCritical
    } else if !s.unreachable.is_empty() {
        Code::FleetUnreachable
    } else {
        Code::Success
    }
}

/// One streamed line per host.
fn host_line(r: &HostResult) -> String {
    if let Some(e) = &r.error {
        return format!("✗ {}: {} ({})", r.host, e.reason, e.message);
    }
    let current: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.current && f.severity != "info")
        .map(|f| format!("{} {} {}", f.severity, f.kind, f.subject))
        .collect();
    format!(
        "{} {}{}: {} in {} calls, {:.1} s",
        if r.critical() { "!" } else { "✓" },
        r.host,
        if r.hostname.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.hostname)
        },
        if current.is_empty() {
            "no current finding".to_string()
        } else {
            current.join("; ")
        },
        r.calls,
        r.duration_ms as f64 / 1000.0
    )
}

/// One model request: the fleet summary and the question, for a cross-host root cause.
async fn ask(config: &Config, issue: &str, summary: &FleetSummary) -> Result<String> {
    let client =
        crate::llm::ModelClient::new(crate::llm::ClientOptions::from_settings(&config.model))?;
    let prompt = format!(
        "You are helping an on-call engineer read a fleet of Linux hosts. The same read-only \
         checks ran on every host; below is tai's fleet summary (findings grouped across hosts, \
         outliers against the fleet median, package versions when compared, hosts not \
         reached).\n\nReported issue: {}\n\n{}\n\
         Give the most likely cross-host root cause in a few sentences: which hosts are affected, \
         what they share, and cite hosts and calls exactly as written in the summary \
         (e.g. `web07 T3 disk_usage`). Say what to check next. Do not invent hosts or calls.",
        if issue.trim().is_empty() {
            "(none given)"
        } else {
            issue
        },
        summary.to_text()
    );
    let reply = client
        .complete(&[rig_core::completion::Message::user(prompt)], None)
        .await?;
    Ok(reply.text)
}
