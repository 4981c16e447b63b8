//! The fixed prefix tai puts around every approved command so that nothing it starts on a
//! host outlives its timeout (DESIGN safety invariant 4):
//!
//! `exec env -u VAR... LC_ALL=C timeout -k 2 N ARGV </dev/null` — with `--sudo`,
//! `exec sudo -n -- env -u VAR... LC_ALL=C timeout -k 2 N ARGV </dev/null` (timeout inside sudo, so it
//! may signal root processes). `exec` replaces the login shell, so the exit status or signal
//! sshd reports is the command's own (timeout(1) passes a signal death on).
//!
//! `timeout(1)` (without `--foreground`) puts the command in its own process group and, after
//! N seconds, sends TERM to the whole group, then KILL two seconds later: children die too,
//! even in a root session where sshd ignores the client's signal request. stdin is closed, so
//! a program that reads it (`cat`, `sort` with no file, `openssl s_client`) ends at once.
//! `LC_ALL=C` keeps messages and number formats the same on every host; the variables in
//! [`UNSET_ENV`] are removed. The client waits
//! [`client_deadline`] (N + [`KILL_AFTER_SECS`] + 1 s) before giving up on its side.
//!
//! The one exception is the shell builtin `command` (`command -v NAME`): it has no program
//! to wrap, ends at once, and runs as its own quoted line (locally through `sh -c`).
//! Records and the model see the approved argv; the prefix is the same for every command.
use std::time::Duration;

use crate::policy::{quote, ApprovedCommand};

use super::{CommandOutput, TransportError};

/// Variables removed from the command's environment: each changes how an allowed program
/// parses its arguments or makes it write a file, so the policy's model of that program
/// would no longer be exact. `POSIXLY_CORRECT` / `POSIX_ME_HARDER` stop GNU getopt from
/// permuting (an option after an operand would become an unchecked file operand);
/// `PS_PERSONALITY` / `CMD_ENV` switch procps' parser; `GREP_OPTIONS` prepends options
/// (older grep); `SSLKEYLOGFILE` makes curl and openssl write TLS secrets to a file.
pub const UNSET_ENV: [&str; 6] = [
    "POSIXLY_CORRECT",
    "POSIX_ME_HARDER",
    "PS_PERSONALITY",
    "CMD_ENV",
    "GREP_OPTIONS",
    "SSLKEYLOGFILE",
];

/// What a kept host shell (`transport::ssh::shell`) runs once before its first command: the
/// environment part of the prefix ([`UNSET_ENV`] removed, `LC_ALL=C`), which every command it
/// runs then inherits, so each command line there starts at `timeout`.
pub fn shell_prelude() -> String {
    format!("unset {}; LC_ALL=C; export LC_ALL", UNSET_ENV.join(" "))
}

/// Seconds between timeout's TERM and its KILL.
pub const KILL_AFTER_SECS: u64 = 2;

/// What runs for an approved command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The argv to spawn directly (local transport, no shell).
    pub argv: Vec<String>,
    /// The remote command line (SSH transport), built by the one quoting function.
    pub line: String,
    /// The line for tai's kept host-side shell (`transport::ssh::shell`), which must survive
    /// the command: no `exec`, and (outside sudo) no `env`, since the shell's environment was
    /// set once by [`shell_prelude`]: `timeout -k 2 N ARGV </dev/null`.
    pub shell_line: String,
    /// N, the host-side timeout in whole seconds (0 for the unwrapped builtin).
    pub timeout_secs: u64,
}

/// The command's timeout in whole seconds for `timeout(1)`: rounded up, at least 1.
pub fn timeout_secs(timeout: Duration) -> u64 {
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    secs.max(1)
}

/// How long the client waits before it stops waiting for the host: N + the KILL delay + 1 s,
/// so that normally timeout(1) ends the command and the client sees its status.
pub fn client_deadline(timeout: Duration) -> Duration {
    Duration::from_secs(timeout_secs(timeout) + KILL_AFTER_SECS + 1)
}

/// `sudo -n --` when the policy added it in front of the checked argv.
fn split_sudo(cmd: &ApprovedCommand) -> (&[String], &[String]) {
    let run = cmd.argv();
    let sudo = run.len() >= 3
        && run[..3] == ["sudo", "-n", "--"]
        && cmd.checked_argv().first().map(String::as_str) != Some("sudo");
    if sudo {
        run.split_at(3)
    } else {
        run.split_at(0)
    }
}

/// Build what runs for `cmd` with the given timeout.
pub fn wrap(cmd: &ApprovedCommand, timeout: Duration) -> Wrapped {
    let (sudo, argv) = split_sudo(cmd);
    if argv.first().map(String::as_str) == Some("command") {
        // The shell builtin: no sudo (it only looks a name up), nothing to wait for.
        let mut local = vec!["sh".to_string(), "-c".into(), "command \"$@\"".into()];
        local.push("sh".into());
        local.extend(argv[1..].iter().cloned());
        let line = format!("{} </dev/null", quote::command_line(argv));
        return Wrapped {
            shell_line: line.clone(),
            line,
            argv: local,
            timeout_secs: 0,
        };
    }
    let n = timeout_secs(timeout);
    let mut full: Vec<String> = sudo.to_vec();
    full.push("env".into());
    for name in UNSET_ENV {
        full.push("-u".into());
        full.push(name.to_string());
    }
    full.extend(
        [
            "LC_ALL=C",
            "timeout",
            "-k",
            &KILL_AFTER_SECS.to_string(),
            &n.to_string(),
        ]
        .map(String::from),
    );
    full.extend(argv.iter().cloned());
    let line = format!("exec {} </dev/null", quote::command_line(&full));
    // On a kept shell the environment part is done once, when the shell starts
    // ([`shell_prelude`]); sudo resets the environment, so under sudo `env` stays.
    let shell_line = if sudo.is_empty() {
        let start = full.len() - argv.len() - 4;
        format!("{} </dev/null", quote::command_line(&full[start..]))
    } else {
        line["exec ".len()..].to_string()
    };
    Wrapped {
        line,
        shell_line,
        argv: full,
        timeout_secs: n,
    }
}

/// How a finished wrapped command ended, beyond its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Its own exit status or signal.
    Normal,
    /// timeout(1) stopped it (status 124, or 137 / KILL after the grace period).
    TimedOut,
    /// timeout(1) could not start the program: not installed (127) on this host.
    ProgramMissing,
    /// The host has no usable `timeout`/`env`: tai runs nothing without the wrapper.
    WrapperMissing,
}

impl Wrapped {
    /// The tail every transport shares once a command has ended: a command the client
    /// stopped (its own deadline, or the user's Ctrl-C) keeps no exit status; otherwise
    /// [`Self::settle`] classifies it, and a program or wrapper missing on the host becomes
    /// the transport's spawn error (`spawn` builds it from the reason).
    pub fn finish(
        &self,
        mut out: CommandOutput,
        spawn: impl FnOnce(String) -> TransportError,
    ) -> Result<CommandOutput, TransportError> {
        if out.timed_out || out.cancelled {
            out.exit_code = None;
            return Ok(out);
        }
        match self.settle(&mut out) {
            Ending::Normal | Ending::TimedOut => Ok(out),
            Ending::ProgramMissing => Err(spawn("command not found on this host".into())),
            Ending::WrapperMissing => Err(spawn(wrapper_missing_reason(&out.stderr))),
        }
    }

    /// Classify a finished command and fold a timeout into `out` (`timed_out`, no exit code).
    pub fn settle(&self, out: &mut CommandOutput) -> Ending {
        if self.timeout_secs == 0 {
            return Ending::Normal;
        }
        let by_timeout = matches!(out.exit_code, Some(124) | Some(137))
            || matches!(out.signal.as_deref(), Some("KILL") | Some("TERM"));
        if by_timeout && out.duration >= Duration::from_secs(self.timeout_secs) {
            out.timed_out = true;
            out.exit_code = None;
            out.signal = None;
            return Ending::TimedOut;
        }
        if out.exit_code == Some(127) {
            let err = &out.stderr;
            if err.contains("timeout: failed to run command") {
                return Ending::ProgramMissing;
            }
            if err.contains("timeout: not found")
                || err.contains("timeout: command not found")
                || err.contains("env: 'timeout'")
                || err.contains("env: timeout")
                || err.contains("env: not found")
                || err.contains("env: command not found")
                || (err.contains("timeout") && err.contains("unrecognized option"))
            {
                return Ending::WrapperMissing;
            }
        }
        if out.exit_code == Some(125) && out.stderr.contains("timeout:") {
            return Ending::WrapperMissing;
        }
        Ending::Normal
    }
}

/// The message for [`Ending::WrapperMissing`].
pub fn wrapper_missing_reason(stderr: &str) -> String {
    format!(
        "the host has no usable coreutils `env`/`timeout` ({}); tai runs every command under \
         `timeout -k {KILL_AFTER_SECS} N` so nothing outlives its timeout, and runs nothing \
         without it: install coreutils on the host",
        stderr.lines().next().unwrap_or("").trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &[&str]) -> ApprovedCommand {
        ApprovedCommand::for_tests(argv.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn every_command_gets_the_same_prefix() {
        let w = wrap(
            &cmd(&["awk", "BEGIN{while(1);}"]),
            Duration::from_millis(1500),
        );
        assert_eq!(
            w.line,
            "exec env -u POSIXLY_CORRECT -u POSIX_ME_HARDER -u PS_PERSONALITY -u CMD_ENV -u GREP_OPTIONS -u SSLKEYLOGFILE 'LC_ALL=C' timeout -k 2 2 awk 'BEGIN{while(1);}' </dev/null"
        );
        assert_eq!(
            w.shell_line,
            "timeout -k 2 2 awk 'BEGIN{while(1);}' </dev/null"
        );
        assert_eq!(
            shell_prelude(),
            "unset POSIXLY_CORRECT POSIX_ME_HARDER PS_PERSONALITY CMD_ENV GREP_OPTIONS SSLKEYLOGFILE; LC_ALL=C; export LC_ALL"
        );
        assert_eq!(w.argv[0], "env");
        assert_eq!(w.argv[13..18], ["LC_ALL=C", "timeout", "-k", "2", "2"]);
        assert_eq!(w.timeout_secs, 2);
        assert_eq!(timeout_secs(Duration::from_millis(200)), 1);
        assert_eq!(timeout_secs(Duration::from_secs(30)), 30);
        assert_eq!(
            client_deadline(Duration::from_secs(30)),
            Duration::from_secs(33)
        );
    }

    #[test]
    fn timeout_runs_inside_sudo() {
        let p = crate::policy::Policy::load(true).unwrap();
        let a = p.approve(&["uptime".to_string()]).unwrap();
        let w = wrap(&a, Duration::from_secs(5));
        assert_eq!(
            w.line,
            "exec sudo -n -- env -u POSIXLY_CORRECT -u POSIX_ME_HARDER -u PS_PERSONALITY -u CMD_ENV -u GREP_OPTIONS -u SSLKEYLOGFILE 'LC_ALL=C' timeout -k 2 5 uptime </dev/null"
        );
        assert_eq!(w.shell_line, w.line["exec ".len()..]);
    }

    #[test]
    fn the_command_builtin_is_not_wrapped() {
        let w = wrap(&cmd(&["command", "-v", "nginx"]), Duration::from_secs(5));
        assert_eq!(w.line, "command -v nginx </dev/null");
        assert_eq!(w.argv, ["sh", "-c", "command \"$@\"", "sh", "-v", "nginx"]);
        assert_eq!(w.timeout_secs, 0);
    }

    #[test]
    fn a_timeout_status_after_n_seconds_is_a_timeout() {
        let w = wrap(&cmd(&["sleep", "9"]), Duration::from_secs(1));
        let out = |code, secs| CommandOutput {
            duration: Duration::from_millis(secs),
            ..CommandOutput::ended(code)
        };
        let mut o = out(124, 1005);
        assert_eq!(w.settle(&mut o), Ending::TimedOut);
        assert!(o.timed_out && o.exit_code.is_none());
        let mut o = out(137, 3010);
        assert_eq!(w.settle(&mut o), Ending::TimedOut);
        // A program's own 124 before the deadline is its status.
        let mut o = out(124, 10);
        assert_eq!(w.settle(&mut o), Ending::Normal);
        assert_eq!(o.exit_code, Some(124));
        let mut o = out(127, 10);
        o.stderr = "timeout: failed to run command 'nope': No such file or directory\n".into();
        assert_eq!(w.settle(&mut o), Ending::ProgramMissing);
        let mut o = out(127, 10);
        o.stderr = "sh: 1: timeout: not found\n".into();
        assert_eq!(w.settle(&mut o), Ending::WrapperMissing);
    }
}
