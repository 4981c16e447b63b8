//! `tai policy check COMMAND...`: would the read-only policy run this argv, and which rule
//! decided. Exit 0 when allowed, 1 when denied.
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::args::PolicyCommand;
use crate::config::Config;
use crate::exit::Code;
use crate::policy::{quote, Decision, Policy};
use crate::tools::pipeline::{describe, split_pipeline};

#[derive(Serialize)]
struct CheckReport<'a> {
    command: String,
    argv: &'a [String],
    #[serde(flatten)]
    decision: &'a Decision,
    /// The argv that would run (with `sudo -n --` under --sudo).
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<String>,
    /// `| STAGE`s tai would apply itself to the output (never run on the host).
    #[serde(skip_serializing_if = "String::is_empty")]
    stages: String,
}

pub fn run(config: &Config, cmd: PolicyCommand) -> Result<Code> {
    let PolicyCommand::Check { command } = cmd;
    let policy = Policy::load(config.sudo)?;
    // One quoted command line (`tai policy check "ps aux | grep x"`) is split the way
    // `run_command` splits the model's lines, shell syntax refused with the same message; the
    // command before the first `|` is judged (the stages after it never run on the host).
    let mut stages = String::new();
    let (command, decision) = match command.as_slice() {
        [line] if line.contains(char::is_whitespace) => match split_pipeline(line) {
            Ok((argv, s)) => {
                stages = describe(&s).trim_start().to_string();
                let d = policy.check(&argv);
                (argv, d)
            }
            Err(reason) => (
                command.clone(),
                Decision::Deny {
                    rule: "shell-syntax".into(),
                    reason: reason.to_string(),
                },
            ),
        },
        _ => {
            let d = policy.check(&command);
            (command, d)
        }
    };
    let runs = match &decision {
        Decision::Allow { .. } => policy.approve(&command).ok().map(|a| a.display()),
        Decision::Deny { .. } => None,
    };
    let mut out = std::io::stdout().lock();
    if config.json {
        let report = CheckReport {
            command: quote::command_line(&command),
            argv: &command,
            decision: &decision,
            runs,
            stages,
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        match &decision {
            Decision::Allow { rule } => {
                writeln!(out, "allow  {}", quote::command_line(&command))?;
                writeln!(out, "  rule: {rule}")?;
                if let Some(r) = &runs {
                    writeln!(out, "  runs: {r}")?;
                }
                if !stages.is_empty() {
                    writeln!(out, "  then: {stages}  (applied by tai to the output)")?;
                }
            }
            Decision::Deny { rule, reason } => {
                writeln!(out, "deny   {}", quote::command_line(&command))?;
                writeln!(out, "  rule: {rule}")?;
                writeln!(out, "  reason: {reason}")?;
            }
        }
    }
    Ok(match decision {
        Decision::Allow { .. } => Code::Success,
        Decision::Deny { .. } => Code::Failure,
    })
}
