//! The `local` transport: runs an approved argv on this machine, never through a shell, with
//! the same wrapper (`env LC_ALL=C timeout -k 2 N`, stdin closed), streaming redaction,
//! output caps and cancellation as the SSH transport; on the client's deadline or Ctrl-C the
//! whole process group is killed.
use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::wrapper;
use super::{CommandOutput, ExecOptions, RedactedCapture, Transport, TransportError};
use crate::policy::ApprovedCommand;

/// Runs commands on this machine as the current user.
#[derive(Debug, Default, Clone)]
pub struct LocalTransport;

impl LocalTransport {
    pub fn new() -> Self {
        LocalTransport
    }
}

async fn drain<R: AsyncRead + Unpin>(mut r: R, cap: usize) -> RedactedCapture {
    let mut out = RedactedCapture::new(cap);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push(&buf[..n]),
        }
    }
    out
}

#[async_trait::async_trait]
impl Transport for LocalTransport {
    fn name(&self) -> String {
        "local".to_string()
    }

    async fn exec(
        &self,
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<CommandOutput, TransportError> {
        let wrapped = wrapper::wrap(cmd, opts.timeout);
        let argv = &wrapped.argv;
        let program = cmd.checked_argv().first().cloned().unwrap_or_default();
        let start = Instant::now();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Spawn {
                host: "local".into(),
                program: program.clone(),
                reason: match e.kind() {
                    std::io::ErrorKind::NotFound if argv[0] == "env" => {
                        wrapper::wrapper_missing_reason("env: not found")
                    }
                    std::io::ErrorKind::NotFound => "command not found on this host".into(),
                    _ => e.to_string(),
                },
            })?;
        let pid = child.id();
        let stdout = tokio::spawn(drain(child.stdout.take().expect("piped"), opts.output_cap));
        let stderr = tokio::spawn(drain(child.stderr.take().expect("piped"), opts.output_cap));

        let mut timed_out = false;
        let mut cancelled = false;
        let status = tokio::select! {
            s = child.wait() => s.ok(),
            _ = tokio::time::sleep(wrapper::client_deadline(opts.timeout)) => { timed_out = true; None }
            _ = opts.cancel.cancelled() => { cancelled = true; None }
        };
        if status.is_none() {
            if let Some(pid) = pid {
                // Kill the whole process group the command started.
                // SAFETY: plain syscall with a pid we spawned; errors are ignored.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
            }
            let _ = child.wait().await;
        }
        let (stdout, out_dropped) = stdout
            .await
            .unwrap_or_else(|_| RedactedCapture::new(0))
            .into_text();
        let (stderr, err_dropped) = stderr
            .await
            .unwrap_or_else(|_| RedactedCapture::new(0))
            .into_text();
        use std::os::unix::process::ExitStatusExt;
        let (exit_code, signal) = match status {
            Some(s) => (s.code(), s.signal().map(signal_name)),
            None => (None, Some("KILL".to_string())),
        };
        let out = CommandOutput {
            stdout,
            stderr,
            exit_code,
            signal,
            truncated_bytes: out_dropped + err_dropped,
            timed_out,
            cancelled,
            duration: start.elapsed(),
        };
        wrapped.finish(out, |reason| TransportError::Spawn {
            host: "local".into(),
            program,
            reason,
        })
    }
}

/// Short signal name as OpenSSH reports it (`KILL`, `TERM`, …).
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "HUP",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGILL => "ILL",
        libc::SIGABRT => "ABRT",
        libc::SIGFPE => "FPE",
        libc::SIGKILL => "KILL",
        libc::SIGSEGV => "SEGV",
        libc::SIGPIPE => "PIPE",
        libc::SIGALRM => "ALRM",
        libc::SIGTERM => "TERM",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        other => return other.to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn opts(timeout_ms: u64, cap: usize) -> ExecOptions {
        ExecOptions {
            timeout: Duration::from_millis(timeout_ms),
            output_cap: cap,
            cancel: CancellationToken::new(),
        }
    }

    fn cmd(argv: &[&str]) -> ApprovedCommand {
        ApprovedCommand::for_tests(argv.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test]
    async fn runs_argv_without_a_shell() {
        let out = LocalTransport
            .exec(
                &cmd(&["echo", "a; touch /tmp/x", "$(id)"]),
                &opts(5000, 1024),
            )
            .await
            .unwrap();
        assert_eq!(out.stdout, "a; touch /tmp/x $(id)\n");
        assert_eq!(out.exit_code, Some(0));
    }

    #[tokio::test]
    async fn timeout_kills_and_reports() {
        let out = LocalTransport
            .exec(&cmd(&["sleep", "5"]), &opts(200, 1024))
            .await
            .unwrap();
        assert!(out.timed_out);
        assert!(out.duration < Duration::from_secs(2));
        assert_eq!(out.exit_code, None);
    }

    #[tokio::test]
    async fn the_command_builtin_runs_in_a_shell() {
        let out = LocalTransport
            .exec(&cmd(&["command", "-v", "sh"]), &opts(5000, 1024))
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(0), "{out:?}");
        assert!(out.stdout.trim_end().ends_with("/sh"), "{out:?}");
        let out = LocalTransport
            .exec(
                &cmd(&["command", "-v", "no-such-program-xyz; touch /tmp/x"]),
                &opts(5000, 1024),
            )
            .await
            .unwrap();
        assert_ne!(out.exit_code, Some(0));
        assert!(out.stdout.is_empty());
    }

    #[tokio::test]
    async fn stdin_is_closed() {
        let out = LocalTransport
            .exec(&cmd(&["cat"]), &opts(5000, 1024))
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert!(out.duration < Duration::from_secs(2), "{:?}", out.duration);
    }

    #[tokio::test]
    async fn children_die_with_the_command_and_locale_is_c() {
        let marker = format!("tai-local-marker-{}", std::process::id());
        let script = format!("sleep 100 & sleep 101 # {marker}\n");
        let out = LocalTransport
            .exec(&cmd(&["sh", "-c", &script]), &opts(1000, 1024))
            .await
            .unwrap();
        assert!(out.timed_out, "{out:?}");
        std::thread::sleep(Duration::from_millis(300));
        let alive: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .filter(|c| c.contains(&marker))
            .collect();
        assert!(alive.is_empty(), "still running: {alive:?}");
        let out = LocalTransport
            .exec(&cmd(&["sh", "-c", "echo $LC_ALL"]), &opts(5000, 1024))
            .await
            .unwrap();
        assert_eq!(out.stdout, "C\n");
    }

    #[tokio::test]
    async fn a_key_in_the_dropped_middle_leaves_no_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut data = "ordinary log line number padding padding padding\n".repeat(100_000);
        data.push_str("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        data.push_str(
            &"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n".repeat(2000),
        );
        data.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        data.push_str(&"after the key\n".repeat(10));
        std::fs::write(&path, &data).unwrap();
        let out = LocalTransport
            .exec(&cmd(&["cat", path.to_str().unwrap()]), &opts(20_000, 4096))
            .await
            .unwrap();
        assert!(out.truncated_bytes > 0);
        assert!(!out.stdout.contains("b3BlbnNzaC1rZXkt"), "{}", out.stdout);
        assert!(out.stdout.ends_with("after the key\n"));
    }

    #[tokio::test]
    async fn output_is_capped() {
        let out = LocalTransport
            .exec(
                &cmd(&["head", "-c", "1000000", "/dev/zero"]),
                &opts(5000, 1000),
            )
            .await
            .unwrap();
        assert_eq!(out.truncated_bytes, 999_000);
        assert!(out.stdout.contains("[… 999000 bytes truncated …]"));
    }

    #[tokio::test]
    async fn missing_program_is_a_clear_error() {
        let err = LocalTransport
            .exec(&cmd(&["definitely-not-a-command-xyz"]), &opts(1000, 100))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    }
}
