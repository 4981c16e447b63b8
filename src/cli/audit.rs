//! `tai audit [--host H] [--since T] [--json]`: the audit log as a table (time, host, tool,
//! decision, exit, command) or JSON; `tai audit verify`: check the whole hash chain, exit 10
//! naming the first broken line (file and line number).
use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::args::{AuditArgs, AuditCommand};
use super::CliError;
use crate::audit::{self, read::Filter, Entry};
use crate::config::Config;
use crate::exit::Code;
use crate::render::Palette;

pub fn run(config: &Config, args: AuditArgs) -> Result<Code> {
    let dir = audit::dir(&config.tai_home);
    match args.command {
        Some(AuditCommand::Verify) => verify(config, &dir),
        None => {
            let since = match &args.since {
                Some(s) => Some(
                    audit::parse_since(s, chrono::DateTime::from(std::time::SystemTime::now()))
                        .map_err(|e| CliError::Usage(e.to_string()))?,
                ),
                None => None,
            };
            let filter = Filter {
                host: args.host.clone(),
                since,
            };
            show(config, &audit::read::entries(&dir, &filter)?)
        }
    }
}

fn verify(config: &Config, dir: &std::path::Path) -> Result<Code> {
    let report = audit::verify(dir)?;
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if let Some(b) = &report.broken {
        writeln!(
            out,
            "audit chain BROKEN at {}:{}: {}",
            b.file.display(),
            b.line,
            b.reason
        )?;
        writeln!(
            out,
            "  {} line(s) before it verified; the log cannot be trusted from this line on",
            report.lines
        )?;
    } else if report.lines == 0 {
        writeln!(out, "no audit lines yet in {}", dir.display())?;
    } else {
        writeln!(
            out,
            "audit chain verified: {} line(s) in {} file(s) under {}",
            report.lines,
            report.files,
            dir.display()
        )?;
    }
    Ok(if report.broken.is_some() {
        Code::AuditBroken
    } else {
        Code::Success
    })
}

fn show(config: &Config, entries: &[Entry]) -> Result<Code> {
    let mut out = std::io::stdout().lock();
    if config.json {
        let values: Vec<&Value> = entries.iter().map(|e| &e.value).collect();
        serde_json::to_writer_pretty(&mut out, &values)?;
        writeln!(out)?;
        return Ok(Code::Success);
    }
    if entries.is_empty() {
        writeln!(out, "no audit lines match")?;
        return Ok(Code::Success);
    }
    let pal = Palette::stdout(config.color);
    let rows: Vec<[String; 6]> = entries.iter().map(row).collect();
    let headers = ["TIME", "HOST", "TOOL", "DECISION", "EXIT", "COMMAND"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w1, w2, w3, w4) = (width(1), width(2), width(3), width(4));
    writeln!(
        out,
        "{}",
        pal.dim(&format!(
            "{:<24}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  COMMAND",
            "TIME", "HOST", "TOOL", "DECISION", "EXIT"
        ))
    )?;
    for r in &rows {
        let decision = format!("{:<w3$}", r[3]);
        let decision = if r[3] == "deny" {
            pal.bold(&decision)
        } else {
            decision
        };
        writeln!(
            out,
            "{:<24}  {:<w1$}  {:<w2$}  {decision}  {:<w4$}  {}",
            r[0], r[1], r[2], r[4], r[5]
        )?;
    }
    Ok(Code::Success)
}

/// time, host, tool, decision, exit, command (or what stands for it in other events).
fn row(e: &Entry) -> [String; 6] {
    let s = |k: &str| e.str(k).unwrap_or("-").to_string();
    let num = |k: &str| {
        e.value
            .get(k)
            .and_then(Value::as_u64)
            .map_or("-".to_string(), |n| n.to_string())
    };
    let time = s("time");
    match e.str("event").unwrap_or("") {
        "command" | "denied" => {
            let exit = match e.value.get("exit_code").and_then(Value::as_i64) {
                Some(c) => c.to_string(),
                None if e.value["timed_out"] == true => "timeout".into(),
                None if e.value["cancelled"] == true => "cancel".into(),
                None => "-".into(),
            };
            [
                time,
                s("host"),
                s("tool"),
                s("decision"),
                exit,
                s("command"),
            ]
        }
        "model_request" => [
            time,
            "-".into(),
            "model".into(),
            "request".into(),
            num("status"),
            format!(
                "{} {} (tokens in {}, out {})",
                s("endpoint"),
                s("model"),
                num("tokens_in"),
                num("tokens_out")
            ),
        ],
        "retention" => [
            time,
            "-".into(),
            s("op"),
            "retention".into(),
            "-".into(),
            format!("{} {}", s("scope"), e.value["counts"]),
        ],
        other => [
            time,
            "-".into(),
            "-".into(),
            other.to_string(),
            "-".into(),
            "-".into(),
        ],
    }
}
