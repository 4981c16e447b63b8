//! Host-side shells kept between commands: the cheap path for a command on a live connection.
//!
//! A session channel that execs `/bin/sh` once, then reads tai's command lines from stdin.
//! The shell first runs [`wrapper::shell_prelude`] (the variables tai unsets, `LC_ALL=C`);
//! each command is then the wrapped line ([`Wrapped::shell_line`]: `timeout -k 2 N ARGV
//! </dev/null`, the same prefix minus `exec env …`, which the prelude did once), followed by two
//! `printf` builtins that print an end marker on stdout (with `$?`) and on stderr. The marker
//! carries 128 random bits chosen by tai for this shell plus the command's sequence number,
//! so host content cannot forge the end of a command. Compared with a channel per command
//! this saves the server's session fork and the login shell's start-up (which sources
//! `~/.bashrc` on many hosts) for every command after a shell's first.
//!
//! What stays the same: every command still runs under `timeout(1)` with stdin closed, its
//! streams are redacted as they arrive and capped ([`RedactedCapture`]), and the client's
//! deadline is the same. What a shell adds, and how it is bounded:
//! - An idle shell waits for its next command; it is closed [`LINGER`] after its last
//!   command (so nothing tai started stays on the host between bursts of work), when the
//!   connection closes, and after any command that did not end cleanly (client deadline,
//!   cancellation, bytes after the marker): such a shell is never reused.
//! - A host where `/bin/sh` cannot be started this way (a restricted login shell, a
//!   `ForceCommand`) gets one-off channels for the rest of the connection.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use russh::client::{Handle, Msg};
use russh::{Channel, ChannelMsg, Sig};

use super::exec::ExecFailure;
use super::ClientHandler;
use crate::policy::quote;
use crate::transport::wrapper::{self, Wrapped};
use crate::transport::{CommandOutput, ExecOptions, Expect, RedactedCapture};

/// How long an idle shell is kept for the next command.
pub const LINGER: Duration = Duration::from_secs(1);

/// How long a new shell may take to answer its first marker (login shell start-up included).
const START_DEADLINE: Duration = Duration::from_secs(15);

/// Shells of one connection: idle ones for reuse, at most `cap` kept.
pub struct ShellPool {
    idle: Mutex<Vec<Shell>>,
    cap: usize,
    /// Set when a shell could not be started: one-off channels from then on.
    unusable: AtomicBool,
    /// Bumped on every release; a reaper only closes shells idle for a whole [`LINGER`].
    released: AtomicU64,
}

impl ShellPool {
    pub fn new(cap: usize) -> Arc<ShellPool> {
        Arc::new(ShellPool {
            idle: Mutex::new(Vec::new()),
            cap,
            unusable: AtomicBool::new(false),
            released: AtomicU64::new(0),
        })
    }

    /// Whether shells work on this connection (not known to fail).
    pub fn usable(&self) -> bool {
        self.cap > 0 && !self.unusable.load(Ordering::SeqCst)
    }

    fn take(&self) -> Option<Shell> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(mut shell) = idle.pop() {
            if shell.quiet() {
                return Some(shell);
            }
            // Something arrived while it was idle (output of a process that outlived its
            // command, or the shell's end): it cannot be trusted with another command.
            close_later(shell);
        }
        None
    }

    fn put(self: &Arc<Self>, mut shell: Shell) {
        shell.idle_since = Instant::now();
        let extra = match self.idle.lock() {
            Ok(mut idle) if idle.len() < self.cap => {
                idle.push(shell);
                None
            }
            _ => Some(shell),
        };
        if let Some(s) = extra {
            close_later(s);
            return;
        }
        let tick = self.released.fetch_add(1, Ordering::SeqCst) + 1;
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            if let Some(pool) = pool.upgrade() {
                if pool.released.load(Ordering::SeqCst) == tick {
                    pool.close_idle(LINGER);
                }
            }
        });
    }

    /// Close every shell idle for at least `age`.
    fn close_idle(&self, age: Duration) {
        let stale: Vec<Shell> = match self.idle.lock() {
            Ok(mut idle) => {
                let (old, keep): (Vec<Shell>, Vec<Shell>) =
                    idle.drain(..).partition(|s| s.idle_since.elapsed() >= age);
                *idle = keep;
                old
            }
            Err(_) => Vec::new(),
        };
        for s in stale {
            close_later(s);
        }
    }

    /// Close all idle shells now (the connection is closing).
    pub async fn close_all(&self) {
        let all: Vec<Shell> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for s in all {
            s.close().await;
        }
    }

    /// Run `wrapped` on a pooled shell (or a new one). `Ok(None)`: shells do not work on this
    /// connection, nothing ran; use a one-off channel.
    pub async fn run(
        self: &Arc<Self>,
        handle: &Handle<ClientHandler>,
        wrapped: &Wrapped,
        opts: &ExecOptions,
    ) -> Result<Option<CommandOutput>, ExecFailure> {
        let deadline = wrapper::client_deadline(opts.timeout);
        let ran = self
            .run_line(handle, &wrapped.shell_line, false, deadline, opts)
            .await?;
        Ok(ran.map(|(out, _)| out))
    }

    /// Run `wrapped` only if every guard answers as expected, all in one round trip
    /// ([`crate::transport::Transport::exec_guarded`]). `Ok(None)`: shells do not work on
    /// this connection, nothing ran. `Ok(Some((out, n)))`: `n` guards held; when `n` is the
    /// number of guards `out` is the command's, else the command did not run.
    pub async fn run_guarded(
        self: &Arc<Self>,
        handle: &Handle<ClientHandler>,
        guards: &[(Wrapped, Expect)],
        wrapped: &Wrapped,
        opts: &ExecOptions,
    ) -> Result<Option<(CommandOutput, usize)>, ExecFailure> {
        let line = guarded_line(guards, wrapped);
        let steps = u32::try_from(guards.len() + 1).unwrap_or(u32::MAX);
        let deadline = wrapper::client_deadline(opts.timeout) * steps;
        let ran = self.run_line(handle, &line, true, deadline, opts).await?;
        Ok(ran.map(|(out, held)| (out, held.unwrap_or(0))))
    }

    async fn run_line(
        self: &Arc<Self>,
        handle: &Handle<ClientHandler>,
        line: &str,
        guarded: bool,
        deadline: Duration,
        opts: &ExecOptions,
    ) -> Result<Option<(CommandOutput, Option<usize>)>, ExecFailure> {
        // A pooled shell that died while idle fails before the command starts: one retry on
        // a new shell.
        if let Some(mut shell) = self.take() {
            match shell.run(line, guarded, deadline, opts).await {
                Ok((out, reusable, held)) => {
                    self.keep_or_close(shell, reusable);
                    return Ok(Some((out, held)));
                }
                Err(RunError::Dead) => shell.close().await,
                Err(RunError::Lost(why)) => {
                    shell.close().await;
                    return Err(ExecFailure::Lost(why));
                }
            }
        }
        let mut shell = match Shell::open(handle).await {
            Ok(s) => s,
            Err(OpenError::Channel(why)) => return Err(ExecFailure::NotStarted(why)),
            Err(OpenError::NoShell) => {
                self.unusable.store(true, Ordering::SeqCst);
                return Ok(None);
            }
        };
        match shell.run(line, guarded, deadline, opts).await {
            Ok((out, reusable, held)) => {
                self.keep_or_close(shell, reusable);
                Ok(Some((out, held)))
            }
            Err(RunError::Dead) => {
                shell.close().await;
                Err(ExecFailure::NotStarted(
                    "the host-side shell ended before the command started".into(),
                ))
            }
            Err(RunError::Lost(why)) => {
                shell.close().await;
                Err(ExecFailure::Lost(why))
            }
        }
    }

    fn keep_or_close(self: &Arc<Self>, shell: Shell, reusable: bool) {
        if reusable {
            self.put(shell);
        } else {
            close_later(shell);
        }
    }
}

/// Close a shell's channel without waiting for it.
fn close_later(shell: Shell) {
    tokio::spawn(async move { shell.close().await });
}

enum OpenError {
    /// No channel: the connection is gone (the caller may reconnect).
    Channel(String),
    /// A channel, but no working shell on it.
    NoShell,
}

enum RunError {
    /// The shell was gone before any byte of the command came back.
    Dead,
    /// The shell ended while the command ran.
    Lost(String),
}

/// One host-side `/bin/sh` reading commands on its stdin.
struct Shell {
    channel: Channel<Msg>,
    /// 128 random bits, hex: the marker prefix of every command on this shell.
    nonce: String,
    seq: u64,
    idle_since: Instant,
}

impl Shell {
    async fn open(handle: &Handle<ClientHandler>) -> Result<Shell, OpenError> {
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| OpenError::Channel(e.to_string()))?;
        channel
            .exec(true, &b"exec /bin/sh"[..])
            .await
            .map_err(|e| OpenError::Channel(e.to_string()))?;
        let mut shell = Shell {
            channel,
            nonce: format!("{:032x}", rand::random::<u128>()),
            seq: 0,
            idle_since: Instant::now(),
        };
        // The environment every command inherits, then the first marker: whatever the login
        // shell printed before it is dropped. A shell that cannot run the prelude (a readonly
        // variable ends a POSIX shell) is no shell for tai: one-off channels then.
        let hello = Wrapped {
            argv: Vec::new(),
            line: String::new(),
            shell_line: wrapper::shell_prelude(),
            timeout_secs: 0,
        };
        let opts = ExecOptions {
            timeout: START_DEADLINE,
            output_cap: 4096,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        match shell
            .run(&hello.shell_line, false, START_DEADLINE, &opts)
            .await
        {
            Ok((out, true, _)) if out.exit_code == Some(0) => Ok(shell),
            _ => {
                shell.close().await;
                Err(OpenError::NoShell)
            }
        }
    }

    /// No message waiting: nothing arrived since the last command ended.
    fn quiet(&mut self) -> bool {
        self.channel.wait().now_or_never().is_none()
    }

    async fn close(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }

    /// Run one command line; the output, whether the shell may take another command, and
    /// (`guarded`) how many guards held ([`guarded_line`]'s counter, printed on the marker's
    /// line after the status).
    async fn run(
        &mut self,
        line: &str,
        guarded: bool,
        deadline: Duration,
        opts: &ExecOptions,
    ) -> Result<(CommandOutput, bool, Option<usize>), RunError> {
        self.seq += 1;
        let marker = format!("__tai_end_{}_{}_", self.nonce, self.seq);
        let (format, held) = if guarded {
            ("%s%s %s", " \"$__tai_held\"")
        } else {
            ("%s%s", "")
        };
        let script = format!(
            "{line}\nprintf '{format}\\n' '{marker}' \"$?\"{held}; printf '%s\\n' '{marker}' >&2\n"
        );
        let start = Instant::now();
        if self.channel.data_bytes(script.into_bytes()).await.is_err() {
            return Err(RunError::Dead);
        }
        let mut stdout = Segment::new(&marker, opts.output_cap);
        let mut stderr = Segment::new(&marker, opts.output_cap);
        let deadline = tokio::time::Instant::now() + deadline;
        let mut timed_out = false;
        let mut cancelled = false;
        // Every iteration consumes one message or ends the loop; the bound is generous for
        // 1 GB of 32 KiB packets plus control messages.
        for _ in 0..usize::MAX / 2 {
            if stdout.complete() && stderr.complete() {
                break;
            }
            tokio::select! {
                msg = self.channel.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => stdout.push(&data),
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => stderr.push(&data),
                    Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::Failure)
                    | Some(ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. })
                    | None => {
                        let got = stdout.received() + stderr.received();
                        if got == 0 {
                            return Err(RunError::Dead);
                        }
                        return Err(RunError::Lost(format!(
                            "the host-side shell ended while the command was running ({got} \
                             bytes of output received)"
                        )));
                    }
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(deadline) => {
                    timed_out = true;
                    break;
                }
                _ = opts.cancel.cancelled() => {
                    cancelled = true;
                    break;
                }
            }
        }
        if timed_out || cancelled {
            // The command may still run (until its timeout(1) ends it); this shell is done.
            let _ = self.channel.signal(Sig::KILL).await;
        }
        let status = stdout.status();
        let held = stdout.held();
        let reusable = !timed_out && !cancelled && stdout.clean() && stderr.clean();
        let (out, dropped_out) = stdout.capture.into_text();
        let (err, dropped_err) = stderr.capture.into_text();
        let (exit_code, signal) = match status {
            _ if timed_out || cancelled => (None, None),
            Some(code) => split_status(code),
            None => (None, None),
        };
        let output = CommandOutput {
            stdout: out,
            stderr: err,
            exit_code,
            signal,
            truncated_bytes: dropped_out + dropped_err,
            timed_out,
            cancelled,
            duration: start.elapsed(),
        };
        Ok((output, reusable, held))
    }
}

/// The shell line of a guarded command: each guard runs in order and the counter
/// `__tai_held` counts those that answered as expected; the command runs only when all did.
/// An output guard compares its whole stdout (`$(…; echo x)` keeps trailing newlines) with the
/// expected text; a status guard discards its output and compares its exit status. Guards'
/// stderr is discarded. Every piece is a wrapped line or a literal quoted by the one quoting
/// function.
fn guarded_line(guards: &[(Wrapped, Expect)], cmd: &Wrapped) -> String {
    let mut line = String::from("__tai_held=0");
    for (n, (g, expect)) in guards.iter().enumerate() {
        let test = match expect {
            Expect::Stdout(text) => format!(
                "[ \"$({} 2>/dev/null; echo x)\" = {} ]",
                g.shell_line,
                quote::quote_arg(&format!("{text}x"))
            ),
            Expect::Status(code) => {
                format!("{{ {} >/dev/null 2>&1; [ $? -eq {code} ]; }}", g.shell_line)
            }
        };
        line.push_str(&format!(" && {test} && __tai_held={}", n + 1));
    }
    line.push_str(&format!(
        "\nif [ \"$__tai_held\" = {} ]; then {}\nfi",
        guards.len(),
        cmd.shell_line
    ));
    line
}

/// `$?` as the shell reports it: above 128 a signal death (what sshd would have sent as
/// exit-signal for a command run with `exec`), else the exit status.
fn split_status(code: i32) -> (Option<i32>, Option<String>) {
    let name = match code - 128 {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        6 => "ABRT",
        8 => "FPE",
        9 => "KILL",
        10 => "USR1",
        11 => "SEGV",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return (Some(code), None),
    };
    (None, Some(name.to_string()))
}

/// One stream of one command: bytes up to the end marker go to the capture; after it, the
/// marker's line (the status on stdout).
struct Segment {
    marker: Vec<u8>,
    capture: RedactedCapture,
    /// Bytes not yet known to be before the marker (at most the marker's length).
    pending: Vec<u8>,
    /// Bytes after the marker, once seen.
    after: Option<Vec<u8>>,
}

impl Segment {
    fn new(marker: &str, cap: usize) -> Self {
        Segment {
            marker: marker.as_bytes().to_vec(),
            capture: RedactedCapture::new(cap),
            pending: Vec::new(),
            after: None,
        }
    }

    fn received(&self) -> u64 {
        self.capture.received_bytes() + self.pending.len() as u64
    }

    fn push(&mut self, data: &[u8]) {
        if let Some(after) = self.after.as_mut() {
            after.extend_from_slice(&data[..data.len().min(64)]);
            return;
        }
        self.pending.extend_from_slice(data);
        if let Some(i) = find(&self.pending, &self.marker) {
            self.capture.push(&self.pending[..i]);
            let rest = self.pending[i + self.marker.len()..].to_vec();
            self.pending.clear();
            self.after = Some(rest);
            return;
        }
        let keep = self.marker.len().saturating_sub(1);
        if self.pending.len() > keep {
            let cut = self.pending.len() - keep;
            self.capture.push(&self.pending[..cut]);
            self.pending.drain(..cut);
        }
    }

    /// The marker and the end of its line arrived.
    fn complete(&self) -> bool {
        self.after.as_ref().is_some_and(|a| a.contains(&b'\n'))
    }

    /// Exactly the marker's line after the marker: nothing else wrote to the stream.
    fn clean(&self) -> bool {
        self.after
            .as_ref()
            .is_some_and(|a| a.iter().position(|b| *b == b'\n') == Some(a.len() - 1))
    }

    /// The words of the stdout marker's line: the status, then (guarded) the guards held.
    fn marker_words(&self) -> Vec<&str> {
        let Some(after) = self.after.as_ref() else {
            return Vec::new();
        };
        let line = after.split(|b| *b == b'\n').next().unwrap_or_default();
        std::str::from_utf8(line)
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// The status printed after the stdout marker.
    fn status(&self) -> Option<i32> {
        self.marker_words().first()?.parse().ok()
    }

    /// How many guards held, printed after the status by a guarded line.
    fn held(&self) -> Option<usize> {
        self.marker_words().get(1)?.parse().ok()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg() -> Segment {
        Segment::new("__tai_end_ab_1_", 1 << 20)
    }

    #[test]
    fn a_marker_split_across_packets_ends_the_segment() {
        let mut s = seg();
        s.push(b"hello\nwor");
        s.push(b"ld__tai_en");
        assert!(!s.complete());
        s.push(b"d_ab_1_0");
        assert!(!s.complete());
        s.push(b"\n");
        assert!(s.complete() && s.clean());
        assert_eq!(s.status(), Some(0));
        assert_eq!(s.capture.into_text().0, "hello\nworld");
    }

    #[test]
    fn output_without_a_final_newline_is_kept_exactly() {
        let mut s = seg();
        s.push(b"no newline__tai_end_ab_1_2\n");
        assert_eq!(s.status(), Some(2));
        assert_eq!(s.capture.into_text().0, "no newline");
    }

    #[test]
    fn another_commands_marker_is_output() {
        let mut s = seg();
        s.push(b"__tai_end_ab_2_0\n__tai_end_ab_1_0\n");
        assert!(s.complete());
        assert_eq!(s.capture.into_text().0, "__tai_end_ab_2_0\n");
    }

    #[test]
    fn bytes_after_the_marker_line_make_the_shell_unusable() {
        let mut s = seg();
        s.push(b"x__tai_end_ab_1_0\nlate output\n");
        assert!(s.complete());
        assert!(!s.clean());
    }

    #[test]
    fn statuses_above_128_are_signals() {
        assert_eq!(split_status(0), (Some(0), None));
        assert_eq!(split_status(124), (Some(124), None));
        assert_eq!(split_status(137), (None, Some("KILL".into())));
        assert_eq!(split_status(139), (None, Some("SEGV".into())));
        assert_eq!(split_status(200), (Some(200), None));
    }
}
