//! The read-only policy: an argv goes in, `Allow` or `Deny(reason)` comes out, and only an
//! allowed argv becomes an [`ApprovedCommand`] that a transport will run.
//!
//! The allowlist is data (`tools/policy.toml`, compiled in). Every rule carries examples that
//! must and must not match, checked when the policy loads. The rules land with issue 4.
use serde::Serialize;

use crate::exit::{Code, HasExitCode};

pub mod quote;

/// An argv the policy approved. Only this module can create one, so a transport can only run
/// what the policy saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovedCommand {
    /// The argv that was checked.
    inner: Vec<String>,
    /// The argv that runs: `inner`, or `sudo -n` + `inner` with `--sudo`.
    run: Vec<String>,
    /// The rule that allowed it.
    rule: String,
}

impl ApprovedCommand {
    fn new(inner: Vec<String>, rule: String, sudo: bool) -> Self {
        let run = if sudo {
            let mut v = vec!["sudo".to_string(), "-n".to_string(), "--".to_string()];
            v.extend(inner.iter().cloned());
            v
        } else {
            inner.clone()
        };
        Self { inner, run, rule }
    }

    /// The exact argv the transport runs.
    pub fn argv(&self) -> &[String] {
        &self.run
    }

    /// The argv the policy decided on (without any `sudo` prefix).
    pub fn checked_argv(&self) -> &[String] {
        &self.inner
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The remote command line, built by the one quoting function.
    pub fn command_line(&self) -> String {
        quote::command_line(&self.run)
    }

    /// Human-readable form for logs and reports.
    pub fn display(&self) -> String {
        quote::command_line(&self.run)
    }

    #[cfg(test)]
    pub(crate) fn for_tests(argv: Vec<String>) -> Self {
        Self::new(argv, "test".into(), false)
    }
}

/// The outcome of checking one argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    Allow { rule: String },
    Deny { rule: String, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy denied `{command}`: {reason} (rule {rule})")]
    Denied {
        command: String,
        rule: String,
        reason: String,
    },
    #[error("the read-only policy is invalid: {0}")]
    Invalid(String),
}

impl HasExitCode for PolicyError {
    fn exit_code(&self) -> Code {
        match self {
            PolicyError::Denied { .. } => Code::PolicyDenied,
            PolicyError::Invalid(_) => Code::Config,
        }
    }
}

/// The loaded policy.
#[derive(Debug, Clone)]
pub struct Policy {
    sudo: bool,
}

impl Policy {
    /// Load the compiled-in policy and check every rule's examples.
    pub fn load(sudo: bool) -> Result<Policy, PolicyError> {
        Ok(Policy { sudo })
    }

    /// Decide on one argv. Until the rules land (issue 4), everything is denied.
    pub fn check(&self, argv: &[String]) -> Decision {
        let _ = argv;
        Decision::Deny {
            rule: "default-deny".into(),
            reason: "no allowlist rule matches".into(),
        }
    }

    /// Check and, if allowed, produce the command a transport may run.
    pub fn approve(&self, argv: &[String]) -> Result<ApprovedCommand, PolicyError> {
        match self.check(argv) {
            Decision::Allow { rule } => Ok(ApprovedCommand::new(argv.to_vec(), rule, self.sudo)),
            Decision::Deny { rule, reason } => Err(PolicyError::Denied {
                command: quote::command_line(argv),
                rule,
                reason,
            }),
        }
    }
}
