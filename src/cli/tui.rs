//! `tai tui HOST [ISSUE...]`: the full-screen front end on this process's stdout (the
//! terminal); errors that end it are the CLI's own, with the same exit codes.
use anyhow::Result;

use crate::config::Config;
use crate::exit::Code;
use crate::repl::ReplError;
use crate::transport::Target;
use crate::tui::{self, TuiError};

pub async fn run(config: &Config, host: &str, issue: &[String]) -> Result<Code> {
    let target = Target::parse(host)?;
    let issue = (!issue.is_empty()).then(|| issue.join(" "));
    match tui::run(config.clone(), target, issue, std::io::stdout()).await {
        Ok(code) => Ok(code),
        // Keep the layer error itself in the chain so the exit code is the transport's.
        Err(TuiError::Repl(ReplError::Transport(e))) => Err(e.into()),
        Err(TuiError::Repl(ReplError::Agent(e))) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
