//! Knowledge: the arroy/heed store under TAI_HOME, runbooks, session memory, BM25 and hybrid
//! retrieval, per-session chunk retrieval, redaction before persisting. Lands with issue 6.
use crate::exit::{Code, HasExitCode};

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("knowledge store at {path} could not be used: {reason}")]
    Store { path: String, reason: String },
}

impl HasExitCode for KnowledgeError {
    fn exit_code(&self) -> Code {
        Code::Store
    }
}
