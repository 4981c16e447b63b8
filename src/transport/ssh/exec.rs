//! One command on one session channel: exec the wrapped command line
//! ([`crate::transport::wrapper`]), read stdout and stderr apart into redacted, capped
//! buffers, collect the exit status or signal, and close the channel when the client's
//! deadline passes or the user cancels.
use std::time::Instant;

use russh::client::Handle;
use russh::{ChannelMsg, Sig};

use super::ClientHandler;
use crate::transport::wrapper::{self, Wrapped};
use crate::transport::{CommandOutput, ExecOptions, RedactedCapture};

/// Why a command produced no [`CommandOutput`].
#[derive(Debug)]
pub enum ExecFailure {
    /// The channel could not be opened or the command not started: nothing ran, so the
    /// caller may reconnect and try once more.
    NotStarted(String),
    /// The connection died while the command ran.
    Lost(String),
    /// The server refused to run the command on the channel.
    Refused(String),
}

/// Run `wrapped` on a fresh session channel of `handle`, the client's own deadline as the
/// backstop behind the host's `timeout(1)` (the caller settles the status with
/// [`Wrapped::settle`]).
pub async fn run(
    handle: &Handle<ClientHandler>,
    wrapped: &Wrapped,
    opts: &ExecOptions,
) -> Result<CommandOutput, ExecFailure> {
    let command_line = wrapped.line.as_str();
    let start = Instant::now();
    let mut channel = handle
        .channel_open_session()
        .await
        .map_err(|e| ExecFailure::NotStarted(e.to_string()))?;
    channel
        .exec(true, command_line.as_bytes())
        .await
        .map_err(|e| ExecFailure::NotStarted(e.to_string()))?;

    let mut stdout = RedactedCapture::new(opts.output_cap);
    let mut stderr = RedactedCapture::new(opts.output_cap);
    let mut exit_code: Option<i32> = None;
    let mut signal: Option<String> = None;
    let mut timed_out = false;
    let mut cancelled = false;
    let mut closed = false;
    let deadline = tokio::time::Instant::now() + wrapper::client_deadline(opts.timeout);

    // Every iteration consumes one message or ends the loop; the bound is generous for
    // 1 GB of 32 KiB packets plus control messages.
    for _ in 0..usize::MAX / 2 {
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => stdout.push(&data),
                Some(ChannelMsg::ExtendedData { data, ext }) => {
                    if ext == 1 {
                        stderr.push(&data);
                    }
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    exit_code = Some(exit_status as i32);
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    signal = Some(sig_name(&signal_name));
                }
                Some(ChannelMsg::Failure) => {
                    let _ = channel.close().await;
                    return Err(ExecFailure::Refused(
                        "the server refused to execute the command on a session channel".into(),
                    ));
                }
                Some(ChannelMsg::Close) => {
                    closed = true;
                    break;
                }
                Some(_) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                stop(&channel).await;
                break;
            }
            _ = opts.cancel.cancelled() => {
                cancelled = true;
                stop(&channel).await;
                break;
            }
        }
    }
    if !closed && !timed_out && !cancelled && exit_code.is_none() && signal.is_none() {
        return Err(ExecFailure::Lost(format!(
            "the connection closed while the command was running ({} bytes of output received)",
            stdout.received_bytes() + stderr.received_bytes()
        )));
    }
    let (out, dropped_out) = stdout.into_text();
    let (err, dropped_err) = stderr.into_text();
    Ok(CommandOutput {
        stdout: out,
        stderr: err,
        exit_code: if timed_out || cancelled {
            None
        } else {
            exit_code
        },
        signal,
        truncated_bytes: dropped_out + dropped_err,
        timed_out,
        cancelled,
        duration: start.elapsed(),
    })
}

/// Ask the server to kill the command, then close the channel. OpenSSH honours the signal
/// request only for non-root logins (it skips post-auth privilege separation for root); the
/// host's `timeout(1)` ends the command either way within its N + 2 seconds.
async fn stop(channel: &russh::Channel<russh::client::Msg>) {
    let _ = channel.signal(Sig::KILL).await;
    let _ = channel.eof().await;
    let _ = channel.close().await;
}

fn sig_name(s: &Sig) -> String {
    match s {
        Sig::ABRT => "ABRT".into(),
        Sig::ALRM => "ALRM".into(),
        Sig::FPE => "FPE".into(),
        Sig::HUP => "HUP".into(),
        Sig::ILL => "ILL".into(),
        Sig::INT => "INT".into(),
        Sig::KILL => "KILL".into(),
        Sig::PIPE => "PIPE".into(),
        Sig::QUIT => "QUIT".into(),
        Sig::SEGV => "SEGV".into(),
        Sig::TERM => "TERM".into(),
        Sig::USR1 => "USR1".into(),
        Sig::Custom(s) => s.clone(),
    }
}
