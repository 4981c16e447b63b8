//! The interactive session (`tai HOST [ISSUE...]`): a reedline editor where the human steers
//! the investigation, or, without a terminal, a line-by-line reader that can be scripted.
//!
//! [`commands`] parses what the user types, [`completer`] completes and hints it, [`prompt`]
//! shows host, turn and tokens, [`session`] holds the state and handles each input, [`view`]
//! renders, and [`engine`] is the one bridge to transport, tools, plans and the model.
use std::io::IsTerminal;
use std::path::PathBuf;

use reedline::{
    default_emacs_keybindings, ColumnarMenu, EditCommand, Emacs, KeyCode, KeyModifiers,
    MenuBuilder, Reedline, ReedlineEvent, ReedlineMenu, Signal, ValidationResult, Validator,
};
use tokio::io::AsyncBufReadExt;

use crate::config::Config;
use crate::exit::{Code, HasExitCode};
use crate::render::Palette;
use crate::transport::{Target, TransportError};

pub mod commands;
pub mod completer;
pub mod engine;
pub mod history;
pub mod prompt;
pub mod session;
mod transcript;
pub mod view;

pub use session::{Io, Session};

/// Errors that end (or refuse to start) a session. Problems inside a session (a bad command,
/// an unreachable model, a failed `/host`) are shown and the session goes on.
#[derive(Debug, thiserror::Error)]
pub enum ReplError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Tool(#[from] crate::tools::ToolError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Agent(#[from] crate::agent::AgentError),
    #[error("the terminal could not be used: {0}\n  pipe commands in instead, e.g. printf '/collect disk\\n' | tai HOST")]
    Terminal(String),
    #[error("could not write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("could not save {}: {reason}", path.display())]
    Save { path: PathBuf, reason: String },
    #[error("{0}")]
    Unavailable(String),
}

impl HasExitCode for ReplError {
    fn exit_code(&self) -> Code {
        match self {
            ReplError::Transport(e) => e.exit_code(),
            ReplError::Tool(e) => e.exit_code(),
            ReplError::Policy(e) => e.exit_code(),
            ReplError::Agent(e) => e.exit_code(),
            ReplError::Terminal(_) | ReplError::Output(_) | ReplError::Save { .. } => Code::Failure,
            ReplError::Unavailable(_) => Code::Usage,
        }
    }
}

/// How many inputs one session reads at most (a bound, not a limit anyone should meet).
const MAX_INPUTS: usize = 1_000_000;
/// History entries kept in `TAI_HOME/repl_history`.
const HISTORY_SIZE: usize = 1000;

/// Whether this process can run the editor: stdin and stderr (where reedline paints) are terminals.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The stdout/stderr writers of a session, with colour and wrapping decided from the terminals.
pub fn std_io(config: &Config, interactive: bool) -> Io {
    let (palette, err_palette, width) = if interactive {
        (
            Palette::stdout(config.color),
            Palette::stderr(config.color),
            view::terminal_width(),
        )
    } else {
        // Piped: plain text, so it can be scripted.
        (Palette::new(false), Palette::new(false), None)
    };
    Io {
        out: Box::new(std::io::stdout()),
        err: Box::new(std::io::stderr()),
        palette,
        err_palette,
        width,
    }
}

/// Run a whole session: connect, show the host facts, run the first turn if there is an issue,
/// then read inputs until `/quit`, Ctrl-D or end of input.
pub async fn run(
    config: Config,
    target: Target,
    issue: Option<String>,
    interactive: bool,
    mut io: Io,
) -> Result<Code, ReplError> {
    io.note(
        &io.err_palette
            .dim(&format!("connecting to {}…", target.display_name())),
    )?;
    let runner = crate::agent::HostRunner::connect(&config, &target).await?;
    let host = runner.host();
    io.say(&view::facts_line(&host.name, &host.facts, &io.palette))?;
    let mut session = Session::new(config, std::sync::Arc::new(runner)).await;
    if let Some(issue) = issue.filter(|i| !i.trim().is_empty()) {
        session.first_turn(&issue, &mut io).await?;
    }
    let code = if interactive {
        interactive_loop(&mut session, &mut io).await?
    } else {
        piped_loop(&mut session, &mut io).await?
    };
    finish(&mut session, &mut io).await?;
    Ok(code)
}

/// End of session: the summary is saved unless `--no-persist` (the REPL and the TUI).
pub async fn finish(session: &mut Session, io: &mut Io) -> Result<(), ReplError> {
    session.runner.host().transport.close().await;
    if session.config.no_persist {
        return Ok(());
    }
    let Some(summary) = session.summary() else {
        return Ok(());
    };
    match session.runner.knowledge() {
        // Ctrl-C skips saving (an embedding server that hangs must not trap the user).
        Some(k) => {
            let cancel = tokio_util::sync::CancellationToken::new();
            match session::cancellable(k.record_session(summary), &cancel, io).await {
                (Some(Ok(id)), _) => io.note(&io.err_palette.dim(&format!(
                    "session saved to history as #{id} (`tai history` lists it)"
                ))),
                (Some(Err(e)), _) => io.problem(&format!("the session summary was not saved: {e}")),
                (None, _) => io.note("the session summary was not saved (Ctrl-C)"),
            }
        }
        None => io.problem(&format!(
            "the session summary was not saved: {}",
            session
                .runner
                .tools()
                .knowledge_problem
                .clone()
                .unwrap_or_default()
        )),
    }
}

/// Lines ending in `\` continue on the next line (multi-line input).
struct ContinuationValidator;

impl Validator for ContinuationValidator {
    fn validate(&self, line: &str) -> ValidationResult {
        if line.ends_with('\\') && !line.ends_with("\\\\") {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Complete
        }
    }
}

/// Join continued lines: `a \` + newline + `b` → `a\nb`.
pub fn join_continuations(buffer: &str) -> String {
    buffer
        .split('\n')
        .map(|l| l.strip_suffix('\\').unwrap_or(l).trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn build_editor(session: &Session, color: bool) -> Result<Reedline, ReplError> {
    let config = &session.config;
    let hosts = {
        let mut h = vec!["local".to_string()];
        if !config.ssh.ignore_ssh_config {
            h.extend(crate::transport::ssh::config::host_aliases(
                &config.ssh.config_file,
            ));
        }
        h
    };
    let vocab = completer::Vocabulary {
        categories: engine::category_names(),
        tools: session.runner.tools().names(),
        hosts,
    };
    // Lines are redacted (tokens, passwords, keys, `[redact] patterns`) before they are kept.
    let redactor = config.redact.clone();
    let history = history::RedactingHistory::open(
        HISTORY_SIZE,
        (!config.no_persist).then(|| config.tai_home.join("repl_history")),
        move |line: &str| redactor.redact(line),
    )
    .map_err(|e| {
        ReplError::Terminal(format!(
            "history file {} could not be used: {e}; pass --no-persist to run without it",
            config.tai_home.join("repl_history").display()
        ))
    })?;
    let mut keybindings = default_emacs_keybindings();
    keybindings.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    keybindings.add_binding(
        KeyModifiers::ALT,
        KeyCode::Enter,
        ReedlineEvent::Edit(vec![EditCommand::InsertNewline]),
    );
    let menu = ColumnarMenu::default().with_name("completion_menu");
    Ok(Reedline::create()
        .with_history(Box::new(history))
        // A line starting with a space is not remembered (like HISTCONTROL=ignorespace).
        .with_history_exclusion_prefix(Some(" ".to_string()))
        .with_completer(Box::new(completer::SlashCompleter::new(vocab)))
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(menu)))
        // Tab completes a single match at once and a shared prefix first, like a shell.
        .with_quick_completions(true)
        .with_partial_completions(true)
        .with_hinter(Box::new(completer::SlashHinter::new(color)))
        .with_validator(Box::new(ContinuationValidator))
        .with_edit_mode(Box::new(Emacs::new(keybindings)))
        .with_ansi_colors(color))
}

async fn interactive_loop(session: &mut Session, io: &mut Io) -> Result<Code, ReplError> {
    let color = io.err_palette.enabled;
    let mut editor = build_editor(session, color)?;
    io.note(
        &io.err_palette
            .dim("type a question, or /help for commands (Tab completes; Ctrl-D or /quit ends)"),
    )?;
    for _ in 0..MAX_INPUTS {
        let prompt = prompt::SessionPrompt::new(
            session.host_name(),
            session.next_turn(),
            session.total_tokens(),
        );
        let signal = tokio::task::block_in_place(|| editor.read_line(&prompt))
            .map_err(|e| ReplError::Terminal(e.to_string()))?;
        match signal {
            Signal::Success(buffer) => {
                let line = join_continuations(&buffer);
                if session.handle_line(&line, io).await? == session::Flow::Quit {
                    return Ok(Code::Success);
                }
            }
            Signal::CtrlC => {
                io.note(&io.err_palette.dim(
                    "(Ctrl-C clears the line; type /quit or press Ctrl-D to end the session)",
                ))?;
            }
            Signal::CtrlD => {
                io.note("bye")?;
                return Ok(Code::Success);
            }
            _ => {}
        }
    }
    Ok(Code::Success)
}

async fn piped_loop(session: &mut Session, io: &mut Io) -> Result<Code, ReplError> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut pending = String::new();
    for _ in 0..MAX_INPUTS {
        let next = tokio::select! {
            l = lines.next_line() => l?,
            _ = tokio::signal::ctrl_c() => return Ok(Code::Interrupted),
        };
        let Some(line) = next else {
            if !pending.is_empty() {
                session.handle_line(&pending, io).await?;
            }
            return Ok(Code::Success);
        };
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push('\n');
            continue;
        }
        pending.push_str(&line);
        let text = std::mem::take(&mut pending);
        if session.handle_line(&text, io).await? == session::Flow::Quit {
            return Ok(Code::Success);
        }
    }
    Ok(Code::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines() {
        let v = ContinuationValidator;
        assert!(matches!(v.validate("a \\"), ValidationResult::Incomplete));
        assert!(matches!(v.validate("a"), ValidationResult::Complete));
        assert!(matches!(v.validate("a \\\\"), ValidationResult::Complete));
        assert_eq!(
            join_continuations("why is \\\nnginx down"),
            "why is \nnginx down"
        );
        assert_eq!(join_continuations("one line"), "one line");
    }
}
