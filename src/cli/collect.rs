//! `tai collect HOST [--category CAT] [ISSUE...] [--json]`: run a category's baseline plan
//! (no model) and print each call's command, exit code, duration and capped output.
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::args::CollectArgs;
use super::CliError;
use crate::config::Config;
use crate::exit::Code;
use crate::plan::{self, Category};
use crate::render::Palette;
use crate::tools::{CallStatus, Registry, ToolOutcome};

/// One row of `--json` output: one command a call ran (or the call itself when it ran none).
#[derive(Debug, Serialize)]
struct ResultRow<'a> {
    id: &'a str,
    tool: &'a str,
    args: &'a serde_json::Value,
    command: &'a str,
    exit_code: Option<i32>,
    duration_ms: u64,
    stdout: &'a str,
    stderr: &'a str,
    truncated: bool,
    truncated_bytes: u64,
    status: CallStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct CollectReport<'a> {
    host: &'a str,
    category: Category,
    results: Vec<ResultRow<'a>>,
}

fn rows(outcomes: &[ToolOutcome]) -> Vec<ResultRow<'_>> {
    let mut rows = Vec::new();
    for o in outcomes {
        if o.commands.is_empty() {
            rows.push(ResultRow {
                id: &o.call.id,
                tool: &o.call.tool,
                args: &o.call.args,
                command: "",
                exit_code: None,
                duration_ms: o.duration_ms,
                stdout: &o.output,
                stderr: "",
                truncated: false,
                truncated_bytes: 0,
                status: o.status,
                note: None,
            });
        }
        for c in &o.commands {
            rows.push(ResultRow {
                id: &o.call.id,
                tool: &o.call.tool,
                args: &o.call.args,
                command: &c.command,
                exit_code: c.exit_code,
                duration_ms: c.duration_ms,
                stdout: &c.stdout,
                stderr: &c.stderr,
                truncated: c.truncated > 0,
                truncated_bytes: c.truncated,
                status: c.status,
                note: c.note.as_deref(),
            });
        }
    }
    rows
}

pub async fn run(config: &Config, args: CollectArgs) -> Result<Code> {
    let category = match &args.category {
        Some(c) => c.parse::<Category>().map_err(CliError::Usage)?,
        None => plan::classify(&args.issue.join(" ")),
    };
    let opened = super::host::open(&args.host, config).await?;
    let (ctx, host) = (&opened.ctx, opened.name.as_str());
    let registry = Registry::builtin();
    let mut next_id = 1;
    eprintln!(
        "collecting the {category} baseline from {host} ({} calls)",
        plan::baseline_calls(category, &mut next_id.clone()).len()
    );
    let outcomes = plan::collect(ctx, &registry, category, &mut next_id).await?;
    ctx.transport.close().await;
    let mut out = std::io::stdout().lock();
    if config.json {
        let report = CollectReport {
            host,
            category,
            results: rows(&outcomes),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(Code::Success);
    }
    let p = Palette::stdout(config.color);
    for o in &outcomes {
        writeln!(
            out,
            "{}",
            p.bold(&format!(
                "── {} {} {}",
                o.call.id,
                o.call.tool,
                compact(&o.call.args)
            ))
        )?;
        if o.commands.is_empty() {
            writeln!(out, "  [{}] {}", status_word(o.status), o.output.trim_end())?;
        }
        for c in &o.commands {
            let exit = c
                .exit_code
                .map_or_else(|| "-".to_string(), |e| e.to_string());
            writeln!(
                out,
                "$ {}   [{} · exit {exit} · {} ms]",
                c.command,
                status_word(c.status),
                c.duration_ms
            )?;
            write_block(&mut out, &c.stdout)?;
            if !c.stderr.trim().is_empty() {
                writeln!(out, "{}", p.dim("[stderr]"))?;
                write_block(&mut out, &c.stderr)?;
            }
            if c.truncated > 0 {
                writeln!(
                    out,
                    "{}",
                    p.dim(&format!("[{} bytes truncated]", c.truncated))
                )?;
            }
            if let Some(n) = &c.note {
                writeln!(out, "{}", p.dim(&format!("[{n}]")))?;
            }
        }
        writeln!(out)?;
    }
    Ok(Code::Success)
}

fn write_block(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

fn compact(args: &serde_json::Value) -> String {
    match args {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        other => other.to_string(),
    }
}

fn status_word(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Ok => "ok",
        CallStatus::Error => "error",
        CallStatus::Denied => "denied",
    }
}
