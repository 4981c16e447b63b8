//! `tai tools list|show|run`: the tool registry from the command line.
use std::io::Write;

use anyhow::Result;

use super::args::ToolsCommand;
use super::CliError;
use crate::config::Config;
use crate::exit::Code;
use crate::tools::{execute, CallStatus, Registry, ToolCall};

pub async fn run(config: &Config, cmd: ToolsCommand) -> Result<Code> {
    let registry = Registry::builtin();
    let mut out = std::io::stdout().lock();
    match cmd {
        ToolsCommand::List => {
            let specs = registry.specs();
            if config.json {
                serde_json::to_writer_pretty(&mut out, &specs)?;
                writeln!(out)?;
            } else {
                let width = specs.iter().map(|s| s.name.len()).max().unwrap_or(0);
                for s in specs {
                    writeln!(out, "{:width$}  {}", s.name, s.description)?;
                }
            }
            Ok(Code::Success)
        }
        ToolsCommand::Show { name } => {
            let Some(spec) = registry.specs().into_iter().find(|s| s.name == name) else {
                return Err(unknown(&registry, &name).into());
            };
            serde_json::to_writer_pretty(&mut out, &spec)?;
            writeln!(out)?;
            Ok(Code::Success)
        }
        ToolsCommand::Run { host, name, args } => {
            if registry.get(&name).is_none() {
                return Err(unknown(&registry, &name).into());
            }
            let args: serde_json::Value = serde_json::from_str(&args).map_err(|e| {
                CliError::Usage(format!(
                    "--args is not valid JSON: {e}\n  example: --args '{{\"path\": \"/var/log/syslog\", \"lines\": 50}}'; \
                     `tai tools show {name}` prints the schema"
                ))
            })?;
            drop(out);
            let opened = super::host::open(&host, config).await?;
            let ctx = &opened.ctx;
            let call = ToolCall {
                id: "T1".into(),
                tool: name,
                args,
            };
            let outcome = execute(ctx, &registry, &call).await?;
            let mut out = std::io::stdout().lock();
            if config.json {
                serde_json::to_writer_pretty(&mut out, &outcome)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", outcome.output)?;
                if !outcome.output.ends_with('\n') {
                    writeln!(out)?;
                }
            }
            ctx.transport.close().await;
            Ok(match outcome.status {
                CallStatus::Ok => Code::Success,
                CallStatus::Error => Code::Failure,
                CallStatus::Denied => Code::PolicyDenied,
            })
        }
    }
}

fn unknown(registry: &Registry, name: &str) -> CliError {
    CliError::Usage(format!(
        "unknown tool `{name}`; `tai tools list` shows them: {}",
        registry.names().join(", ")
    ))
}
