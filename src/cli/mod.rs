//! The command-line front end: clap definitions ([`args`]), one function per subcommand, and
//! the mapping of errors to exit codes. No business logic lives here; it is the only layer
//! that writes to stdout.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::config::Config;
use crate::exit::{Code, HasExitCode};

pub mod args;
mod audit;
mod cleanup;
mod collect;
mod dist;
mod doctor;
mod export;
mod fleet;
mod history;
mod host;
mod mcp;
mod policy;
mod run;
mod runbooks;
mod session;
mod tools;
mod tui;

use args::{Cli, Command};

/// Errors of the CLI layer itself.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl HasExitCode for CliError {
    fn exit_code(&self) -> Code {
        match self {
            CliError::Usage(_) => Code::Usage,
            CliError::Failed(_) => Code::Failure,
        }
    }
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(Code::Failure.as_u8());
        }
    };
    let result = runtime.block_on(run(cli));
    // Blocking work abandoned on Ctrl-C (a store write of a summary being saved) must not
    // hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => ExitCode::from(code.as_u8()),
        Err(err) => {
            let code = exit_code_for(&err);
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(code.as_u8())
        }
    }
}

/// Run one parsed command line.
pub async fn run(cli: Cli) -> Result<Code> {
    // Release artifacts need no configuration, TAI_HOME or audit log.
    if let Some(Command::Dist(a)) = &cli.command {
        return dist::run(a);
    }
    let config = Config::resolve(&cli.global.overrides())?;
    // The one audit log of this process: every front end below writes to it.
    crate::audit::install(std::sync::Arc::new(
        crate::audit::AuditLog::for_home(&config.tai_home, config.no_persist)
            .with_redactor(config.redact.to_fn()),
    ));
    match cli.command {
        None => match cli.host {
            Some(host) => session::run(&config, &host, &cli.issue).await,
            None => {
                let mut cmd = Cli::command();
                cmd.print_help()?;
                println!();
                Ok(Code::Usage)
            }
        },
        Some(Command::Run(a)) => run::run(&config, a).await,
        Some(Command::Collect(a)) => collect::run(&config, a).await,
        Some(Command::Tools(c)) => tools::run(&config, c).await,
        Some(Command::Policy(c)) => policy::run(&config, c),
        Some(Command::Runbooks(c)) => runbooks::run(&config, c).await,
        Some(Command::History(a)) => history::run(&config, a).await,
        Some(Command::Doctor(a)) => doctor::run(&config, a).await,
        Some(Command::Config) => show_config(&config),
        Some(Command::Audit(a)) => audit::run(&config, a),
        Some(Command::Cleanup(a)) => cleanup::run(&config, a).await,
        Some(Command::Export(a)) => export::run_export(&config, a).await,
        Some(Command::Import(a)) => export::run_import(&config, a).await,
        Some(Command::Mcp(a)) => mcp::run(&config, a).await,
        Some(Command::Fleet(a)) => fleet::run(&config, a).await,
        Some(Command::Tui(a)) => tui::run(&config, &a.host, &a.issue).await,
        Some(Command::Dist(a)) => dist::run(&a),
        Some(Command::Completions(a)) => {
            let shell = match a.shell {
                args::Shell::Bash => clap_complete::Shell::Bash,
                args::Shell::Zsh => clap_complete::Shell::Zsh,
                args::Shell::Fish => clap_complete::Shell::Fish,
                args::Shell::Elvish => clap_complete::Shell::Elvish,
                args::Shell::Powershell => clap_complete::Shell::PowerShell,
            };
            clap_complete::generate(shell, &mut Cli::command(), "tai", &mut std::io::stdout());
            Ok(Code::Success)
        }
    }
}

fn show_config(config: &Config) -> Result<Code> {
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, config)?;
        writeln!(out)?;
        return Ok(Code::Success);
    }
    let value = serde_json::to_value(config)?;
    let mut lines = Vec::new();
    flatten("", &value, &mut lines);
    for (key, val) in lines {
        let leaf = key.rsplit('.').next().unwrap_or(&key).to_string();
        let source = config
            .sources
            .get(leaf.as_str())
            .map(|s| format!("  ({s})"))
            .unwrap_or_default();
        writeln!(out, "{key} = {val}{source}")?;
    }
    Ok(Code::Success)
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "sources" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// The exit code of a failed command: walk the error chain and return the code of the first layer error found.
fn exit_code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::transport::TransportError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::config::ConfigError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::policy::PolicyError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::tools::ToolError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::llm::LlmError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::knowledge::KnowledgeError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::knowledge::store::archive::ArchiveError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::agent::AgentError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::fleet::FleetError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::mcp::McpError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::repl::ReplError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::audit::AuditError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::cli::CliError>() {
            return e.exit_code();
        }
    }
    Code::Failure
}
