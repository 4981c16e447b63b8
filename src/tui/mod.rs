//! `tai tui HOST [ISSUE...]`: the full-screen, keyboard-first front end (ratatui over the
//! crossterm reedline already uses). A third front end over the one engine: it drives the
//! REPL's [`crate::repl::Session`] (itself `agent::Session::start_with` over
//! `agent::HostRunner`) and parses input with the REPL's commands and completer.
//!
//! [`app`] is the state and the keys (pure), [`panes`] draws it, [`run`] owns the terminal,
//! the key-reading thread and the loop.
pub mod app;
pub mod panes;
mod run;

pub use app::{Action, App, CallRow, Pane, RowStatus};
pub use run::run;

use crate::exit::{Code, HasExitCode};

/// What ends the TUI or keeps it from starting.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the terminal could not be used for the full-screen UI: {0}\n  run `tai HOST` (the line editor) instead, or pipe commands into it")]
    Terminal(std::io::Error),
    #[error(transparent)]
    Repl(#[from] crate::repl::ReplError),
}

impl HasExitCode for TuiError {
    fn exit_code(&self) -> Code {
        match self {
            TuiError::Terminal(_) => Code::Failure,
            TuiError::Repl(e) => e.exit_code(),
        }
    }
}
