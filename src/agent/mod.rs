//! The agent loop: bounded steps, concurrent tool calls, budgets, the repeat guard,
//! cancellation, and the final report. Lands with issue 5.
use crate::exit::{Code, HasExitCode};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error("interrupted")]
    Interrupted,
}

impl HasExitCode for AgentError {
    fn exit_code(&self) -> Code {
        match self {
            AgentError::Llm(e) => e.exit_code(),
            AgentError::Transport(e) => e.exit_code(),
            AgentError::Interrupted => Code::Interrupted,
        }
    }
}
