//! How tai reaches a host: the [`Transport`] trait, its `local` and `ssh` implementations, and
//! the output cap they share.
//!
//! A transport only ever runs an [`ApprovedCommand`], a value that only the policy layer can
//! create: nothing reaches a host unless the policy approved the exact argv that runs. Both
//! transports run it inside the same fixed prefix ([`wrapper`]: `timeout -k 2 N`, stdin
//! closed, `LC_ALL=C`) and redact each output stream as it arrives, before the cap
//! ([`RedactedCapture`]).
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::ExecLimits;
use crate::exit::{Code, HasExitCode};
use crate::policy::ApprovedCommand;

pub mod cap;
pub mod local;
pub mod ssh;
pub mod wrapper;

pub use cap::{CappedOutput, RedactedCapture};

/// Where a session runs: this machine, or a host reached over SSH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Target {
    Local,
    Ssh(HostSpec),
}

/// `[user@]host[:port]` or an ssh_config alias, as typed by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Target {
    /// Parse the HOST argument: `local`, `[user@]host[:port]`, `[user@][v6addr]:port`, or an alias.
    pub fn parse(s: &str) -> Result<Target, TransportError> {
        if s == "local" || s == "localhost-local" {
            return Ok(Target::Local);
        }
        HostSpec::parse(s).map(Target::Ssh)
    }

    pub fn display_name(&self) -> String {
        match self {
            Target::Local => "local".to_string(),
            Target::Ssh(h) => h.to_string(),
        }
    }
}

impl HostSpec {
    pub fn parse(s: &str) -> Result<HostSpec, TransportError> {
        let bad = |why: &str| TransportError::BadHost {
            host: s.to_string(),
            reason: why.to_string(),
        };
        if s.is_empty() {
            return Err(bad("empty host"));
        }
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
            Some(_) => return Err(bad("empty user before '@'")),
            None => (None, s),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or_else(|| bad("missing ']' after IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p).ok_or_else(|| bad("port must be 1-65535"))?),
                None if after.is_empty() => None,
                None => return Err(bad("unexpected text after ']'")),
            };
            (h.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
            (
                h.to_string(),
                Some(parse_port(p).ok_or_else(|| bad("port must be 1-65535"))?),
            )
        } else {
            // Zero colons, or a bare IPv6 address without port.
            (rest.to_string(), None)
        };
        if host.is_empty() {
            return Err(bad("empty host name"));
        }
        if host.starts_with('-') || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("host names cannot start with '-' or contain spaces"));
        }
        Ok(HostSpec { user, host, port })
    }
}

fn parse_port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0)
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Per-call execution options.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// How long the command may run on the host (`timeout(1)` gets it in whole seconds).
    pub timeout: Duration,
    /// Bytes kept per stream (head and tail), see [`CappedOutput`].
    pub output_cap: usize,
    /// Cancelled when the user presses Ctrl-C: the command is stopped, its channel closed.
    pub cancel: CancellationToken,
}

impl ExecOptions {
    pub fn from_limits(limits: &ExecLimits, cancel: CancellationToken) -> Self {
        Self {
            timeout: limits.command_timeout,
            output_cap: limits.output_cap,
            cancel,
        }
    }
}

/// What one command produced.
#[derive(Debug, Clone, Serialize)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    /// Exit status, `None` when killed by a signal, timed out or cancelled.
    pub exit_code: Option<i32>,
    /// Signal name when the command was killed by one (e.g. `KILL`).
    pub signal: Option<String>,
    /// Bytes dropped from the middle of stdout and stderr by the cap.
    pub truncated_bytes: u64,
    pub timed_out: bool,
    pub cancelled: bool,
    pub duration: Duration,
}

impl CommandOutput {
    /// An empty output that ended with `code` (what an audit line of a held guard records).
    pub fn ended(code: i32) -> CommandOutput {
        CommandOutput {
            stdout: String::new(),
            stderr: String::new(),
            exit_code: Some(code),
            signal: None,
            truncated_bytes: 0,
            timed_out: false,
            cancelled: false,
            duration: Duration::ZERO,
        }
    }

    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
    pub fn truncated(&self) -> bool {
        self.truncated_bytes > 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid host {host:?}: {reason}\n  expected [user@]host[:port], an ssh_config alias, or `local`")]
    BadHost { host: String, reason: String },
    #[error("could not connect to {host}: {reason}\n  check the host name and port, that sshd runs there, and any jump host (-J)")]
    Connect { host: String, reason: String },
    #[error("connection to {host} timed out after {secs}s\n  is the host up and port reachable? try `tai doctor {host}`")]
    ConnectTimeout { host: String, secs: u64 },
    #[error("authentication to {host} failed: {reason}")]
    Auth { host: String, reason: String },
    #[error("could not load key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{message}")]
    HostKeyChanged { host: String, message: String },
    #[error("host key for {host} could not be verified: {reason}")]
    HostKey { host: String, reason: String },
    #[error("invalid ssh configuration: {0}")]
    SshConfig(String),
    #[error("connection to {host} lost: {reason}")]
    ConnectionLost { host: String, reason: String },
    #[error("could not start `{program}` on {host}: {reason}")]
    Spawn {
        host: String,
        program: String,
        reason: String,
    },
    #[error("{0}")]
    NotYet(String),
}

impl HasExitCode for TransportError {
    fn exit_code(&self) -> Code {
        match self {
            TransportError::BadHost { .. } | TransportError::NotYet(_) => Code::Usage,
            TransportError::SshConfig(_) => Code::Config,
            TransportError::Auth { .. } | TransportError::Key { .. } => Code::Authentication,
            TransportError::HostKeyChanged { .. } => Code::HostKeyChanged,
            TransportError::HostKey { .. } => Code::HostKeyChanged,
            TransportError::Connect { .. }
            | TransportError::ConnectTimeout { .. }
            | TransportError::ConnectionLost { .. }
            | TransportError::Spawn { .. } => Code::Connection,
        }
    }
}

impl TransportError {
    /// Errors after which no further command on this host can succeed in this turn.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            TransportError::HostKeyChanged { .. }
                | TransportError::HostKey { .. }
                | TransportError::Auth { .. }
                | TransportError::ConnectionLost { .. }
                | TransportError::Connect { .. }
                | TransportError::ConnectTimeout { .. }
        )
    }
}

/// Who answered at the other end of a connection, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeerIdentity {
    /// The address the connection reached (`203.0.113.7:22`; through a jump host, the
    /// name and port the jump host was asked for); `None` for `local`.
    pub address: Option<String>,
    /// SHA256 fingerprint of the host key the host presented (`SHA256:...`); `None` for `local`.
    pub host_key: Option<String>,
}

/// A connected host that runs approved commands.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Name shown to the user and the model (`local`, `root@web01:22`).
    fn name(&self) -> String;

    /// The peer's address and host-key fingerprint (of the current connection).
    fn peer(&self) -> PeerIdentity {
        PeerIdentity::default()
    }

    /// Run one approved command. Exit status, timeouts and cancellation are reported in
    /// [`CommandOutput`]; `Err` means the transport itself failed.
    async fn exec(
        &self,
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<CommandOutput, TransportError>;

    /// Run `cmd` only if every guard, run first on the host in order, answers as expected: one
    /// round trip for a command whose host-side checks (`tools::step`) are expected to pass.
    /// `Ok(Guarded::Ran)`: every guard held and `cmd` ran. `Ok(Guarded::Missed)`: guard
    /// `ran - 1` did not hold (the guards before it did; none after it ran) and `cmd` did not
    /// run, or the line did not finish in time (`ran` is then every guard) and nothing of it
    /// is used.
    /// `Ok(Guarded::Unsupported)`: this transport cannot do it here; nothing ran.
    async fn exec_guarded(
        &self,
        _guards: &[Guard],
        _cmd: &ApprovedCommand,
        _opts: &ExecOptions,
    ) -> Result<Guarded, TransportError> {
        Ok(Guarded::Unsupported)
    }

    /// Close the connection (no-op for `local`).
    async fn close(&self) {}
}

/// A check run on the host before a command ([`Transport::exec_guarded`]).
#[derive(Debug, Clone)]
pub struct Guard {
    pub cmd: ApprovedCommand,
    pub expect: Expect,
}

/// What a guard must answer for the command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this on stdout (whatever the status).
    Stdout(String),
    /// This exit status (output discarded).
    Status(i32),
}

/// How [`Transport::exec_guarded`] ended.
#[derive(Debug)]
pub enum Guarded {
    /// Every guard held and the command ran.
    Ran(CommandOutput),
    /// The guards that ran (the last of them did not hold); the command did not run.
    Missed { ran: usize },
    /// Not available on this transport or host; nothing ran.
    Unsupported,
}

/// Open a transport for `target`: `local` runs here, anything else goes over SSH.
pub async fn connect(
    target: &Target,
    config: &crate::config::Config,
) -> Result<std::sync::Arc<dyn Transport>, TransportError> {
    match target {
        Target::Local => Ok(std::sync::Arc::new(local::LocalTransport::new())),
        Target::Ssh(spec) => ssh::connect(spec, config).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_specs() {
        assert_eq!(Target::parse("local").unwrap(), Target::Local);
        let h = HostSpec::parse("root@127.0.0.1:2222").unwrap();
        assert_eq!(
            (h.user.as_deref(), h.host.as_str(), h.port),
            (Some("root"), "127.0.0.1", Some(2222))
        );
        let h = HostSpec::parse("web01").unwrap();
        assert_eq!((h.user, h.host.as_str(), h.port), (None, "web01", None));
        let h = HostSpec::parse("ops@[::1]:22").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("::1", Some(22)));
        assert_eq!(h.to_string(), "ops@[::1]:22");
        let h = HostSpec::parse("fe80::1").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("fe80::1", None));
        for bad in [
            "",
            "@host",
            "host:0",
            "host:99999",
            "-oProxyCommand=x",
            "a b",
        ] {
            assert!(HostSpec::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
