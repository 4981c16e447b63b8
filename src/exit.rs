//! Stable process exit codes and [`HasExitCode`], which every layer's error enum implements.
//! A leaf: it imports nothing from tai; the CLI walks an error chain to pick the code.
//!
//! The numbers are part of tai's interface (scripts and on-call runbooks test them) and are
//! documented in README.md. Never renumber; only add.

/// The exit codes tai promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Everything worked.
    Success = 0,
    /// A check said no (`tai policy check` denied the command) or a generic failure.
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
    /// Config file or environment could not be used.
    Config = 3,
    /// The host could not be reached (DNS, refused, timeout, connection lost).
    Connection = 4,
    /// The host refused every key, or a key could not be loaded.
    Authentication = 5,
    /// The host key changed since it was recorded: possible man-in-the-middle.
    HostKeyChanged = 6,
    /// The read-only policy refused the requested command.
    PolicyDenied = 7,
    /// The model endpoint failed (unreachable, model missing, no tool support, bad replies).
    ModelBackend = 8,
    /// The knowledge store under TAI_HOME could not be opened or written.
    Store = 9,
    /// `tai audit verify` found the audit log's hash chain broken (a line edited, deleted or
    /// reordered).
    AuditBroken = 10,
    /// `tai fleet`: at least one host has a current critical finding.
    FleetCritical = 20,
    /// `tai fleet`: some hosts could not be reached (and none has a critical finding).
    FleetUnreachable = 21,
    /// Interrupted by the user (Ctrl-C).
    Interrupted = 130,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// Implemented by every layer's error type so the top level can pick the exit code.
pub trait HasExitCode {
    fn exit_code(&self) -> Code;
}
