//! `tai HOST [ISSUE...]`: open the interactive session (or, with stdin piped, the scripted one).
use anyhow::Result;

use crate::config::Config;
use crate::exit::Code;
use crate::repl;
use crate::transport::Target;

pub async fn run(config: &Config, host: &str, issue: &[String]) -> Result<Code> {
    let target = Target::parse(host)?;
    let interactive = repl::is_interactive();
    if interactive && config.ui == crate::config::UiDefault::Tui {
        // `[ui] default = "tui"`: the full-screen workspace instead of the line editor.
        return super::tui::run(config, host, issue).await;
    }
    let issue = (!issue.is_empty()).then(|| issue.join(" "));
    let io = repl::std_io(config, interactive);
    match repl::run(config.clone(), target, issue, interactive, io).await {
        Ok(code) => Ok(code),
        // Keep the layer error itself in the chain so the exit code is the transport's.
        Err(repl::ReplError::Transport(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
