//! Bounded execution, redaction before the cap and host-side path resolution, end to end:
//! tool calls through the policy and the real SSH transport, logged in as root on a loopback
//! `sshd` (where sshd ignores the client's signal requests, so only tai's `timeout -k 2 N`
//! wrapper can end a command).
use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::{descendants, Sshd};
use serde_json::json;
use tai::config::{Config, ExecLimits, Overrides};
use tai::policy::Policy;
use tai::tools::{execute, CallStatus, ExecContext, Registry, ToolCall, ToolOutcome};
use tai::transport::{self, Target};
use tokio_util::sync::CancellationToken;

async fn ssh_context(home: &Path, sshd: &Sshd, limits: ExecLimits) -> ExecContext {
    let o = Overrides {
        tai_home: Some(home.join(".tai")),
        identity_files: vec![sshd.client_key().to_path_buf()],
        known_hosts: Some(home.join("known_hosts")),
        ignore_ssh_config: true,
        ..Default::default()
    };
    let cfg = Config::resolve_with(&o, &|_| None).unwrap();
    let target = Target::parse(&sshd.target()).unwrap();
    let transport = transport::connect(&target, &cfg).await.unwrap();
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::new(
        transport,
        policy,
        Default::default(),
        limits,
        CancellationToken::new(),
    )
}

fn limits(timeout_secs: u64, output_cap: usize) -> ExecLimits {
    ExecLimits {
        command_timeout: Duration::from_secs(timeout_secs),
        output_cap,
        ..ExecLimits::default()
    }
}

async fn run_command(ctx: &ExecContext, line: &str) -> ToolOutcome {
    let call = ToolCall {
        id: "T1".into(),
        tool: "run_command".into(),
        args: json!({ "command": line }),
    };
    execute(ctx, &Registry::builtin(), &call).await.unwrap()
}

/// Command lines of the processes below sshd that are not sshd itself (session processes).
fn started_by_tai(sshd: &Sshd) -> Vec<String> {
    descendants(sshd.pid().unwrap())
        .into_iter()
        .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| !c.is_empty() && !c.starts_with("sshd"))
        .collect()
}

/// Wait until nothing tai started is alive; fail if something is 5 s after `reported`.
async fn nothing_left(sshd: &Sshd, reported: Instant, what: &str) {
    loop {
        let alive = started_by_tai(sshd);
        if alive.is_empty() {
            return;
        }
        assert!(
            reported.elapsed() < Duration::from_secs(5),
            "{what}: still running on the host 5 s after tai reported: {alive:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_tai_starts_outlives_its_timeout_in_a_root_session() {
    assert_eq!(
        support::sshd::current_user(),
        "root",
        "this test logs in as root"
    );
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd, limits(2, 64 * 1024)).await;
    let marker = format!("tai-bound-{}", std::process::id());
    let awk = format!("awk 'BEGIN{{m=\"{marker}\"; while(1);}}'");
    for line in [awk.as_str(), "vmstat 1 10", "ping -c 10 -i 1 127.0.0.1"] {
        let start = Instant::now();
        let out = run_command(&ctx, line).await;
        let reported = Instant::now();
        assert_ne!(out.status, CallStatus::Denied, "{line}: {}", out.output);
        let rec = out.commands.last().unwrap();
        if rec.note.as_deref().is_some_and(|n| n.contains("not found")) {
            continue; // not installed on this machine (ping)
        }
        assert!(
            rec.note.as_deref().is_some_and(|n| n.contains("timed out")),
            "{line}: {}",
            out.output
        );
        assert!(start.elapsed() < Duration::from_secs(2 + 3 + 1), "{line}");
        nothing_left(&sshd, reported, line).await;
    }
    // Nothing with the marker anywhere on the machine either.
    assert!(!std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
    }));
    ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_is_closed_so_readers_of_it_return_at_once() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd, limits(20, 64 * 1024)).await;
    for line in ["cat", "sort", "wc -l"] {
        let start = Instant::now();
        let out = run_command(&ctx, line).await;
        assert_eq!(out.status, CallStatus::Ok, "{line}: {}", out.output);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{line} waited for stdin: {:?}",
            start.elapsed()
        );
    }
    ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_begin_line_falls_in_the_dropped_middle_leaves_no_body() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd, limits(30, 4096)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz";
    let mut data =
        "Dec  2 03:00:01 web01 app[811]: ordinary line, nothing to see\n".repeat(160_000);
    data.push_str("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    data.push_str(&format!("{body}\n").repeat(4_000));
    data.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    data.push_str(&"DB_PASSWORD=hunter2hunter2 after the key\n".repeat(20));
    assert!(data.len() > 10_000_000);
    std::fs::write(&path, &data).unwrap();
    // Through run_command the content scan refuses to print a file that holds a key.
    let out = run_command(&ctx, &format!("cat {}", path.display())).await;
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(out.output.contains("holds a private key"), "{}", out.output);
    assert!(!out.output.contains(&body[..24]), "key body in output");
    // Beneath it, the transport redacts the stream before the cap drops the middle: the same
    // approved read, run directly, keeps neither the body nor the password after it.
    let argv = vec!["cat".to_string(), path.display().to_string()];
    let approved = ctx.policy.approve(&argv).unwrap();
    let opts = tai::transport::ExecOptions::from_limits(&ctx.limits, CancellationToken::new());
    let out = ctx.transport.exec(&approved, &opts).await.unwrap();
    assert!(out.truncated_bytes > 0, "the cap dropped the middle");
    assert!(!out.stdout.contains(&body[..24]), "key body in output");
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    assert!(
        out.stdout.contains("[REDACTED:private-key]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("after the key"));
    ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_resolved_on_the_host_for_every_command() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd, limits(20, 64 * 1024)).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("real.log"), "a\nb\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", d.join("app.log")).unwrap();
    std::os::unix::fs::symlink("/etc", d.join("conf")).unwrap();
    // A link, `..` after a link, and a relative path from the remote home (/root), in any
    // position: every one of them is resolved, not only the first.
    let rel = format!("..{}/app.log", d.display());
    for line in [
        format!("grep -c root {}/app.log", d.display()),
        format!(
            "grep -c root {0}/real.log {0}/real.log {0}/app.log",
            d.display()
        ),
        format!("cat {}/conf/../etc/shadow", d.display()),
        format!("wc -l {}/conf/shadow", d.display()),
        format!("head -n 1 {rel}"),
    ] {
        let out = run_command(&ctx, &line).await;
        assert_eq!(out.status, CallStatus::Denied, "{line}: {}", out.output);
        assert!(
            out.output.contains("resolves to /etc/shadow") || out.output.contains("denied"),
            "{line}: {}",
            out.output
        );
        assert!(out.commands.iter().all(|c| c.exit_code.is_none()), "{line}");
    }
    let out = run_command(&ctx, &format!("wc -l {rel}")).await;
    assert!(
        out.output.contains("resolves to /etc/shadow"),
        "{}",
        out.output
    );
    // Fine paths run, with the resolution noted when it moved.
    std::os::unix::fs::symlink(d.join("real.log"), d.join("ok.log")).unwrap();
    let out = run_command(&ctx, &format!("tail -n 1 {}/ok.log", d.display())).await;
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert_eq!(out.commands.len(), 1);
    assert_eq!(out.commands[0].stdout, "b\n");

    ctx.transport.close().await;
}

/// Cost on a loopback host whose shell starts quietly (no ~/.bashrc), so the numbers are
/// tai's: one extra round trip per command with paths, none without; and the wrapper's
/// host-side cost (two extra execs: env, timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_of_resolution_and_wrapper() {
    let sshd = Sshd::builder().quiet_shell().start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd, limits(20, 64 * 1024)).await;
    let dir = tempfile::tempdir().unwrap();
    let real = format!("{}/real.log", dir.path().display());
    std::fs::write(&real, "a\nb\n").unwrap();
    let registry = Registry::builtin();
    let tool = |line: String| ToolCall {
        id: "T1".into(),
        tool: "run_command".into(),
        args: json!({ "command": line }),
    };
    let exec = |argv: &[&str]| {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        ctx.policy.approve(&argv).unwrap()
    };
    let (uptime, resolver) = (
        exec(&["uptime"]),
        exec(&["readlink", "-m", "-z", "--", &real]),
    );
    let opts = tai::transport::ExecOptions::from_limits(&ctx.limits, CancellationToken::new());
    let mut t = [Duration::ZERO; 4];
    const N: u32 = 20;
    for _ in 0..N {
        let s = Instant::now();
        assert!(ctx.transport.exec(&uptime, &opts).await.unwrap().success());
        t[0] += s.elapsed();
        let s = Instant::now();
        assert!(ctx
            .transport
            .exec(&resolver, &opts)
            .await
            .unwrap()
            .success());
        t[1] += s.elapsed();
        let s = Instant::now();
        let out = execute(&ctx, &registry, &tool(format!("cat {real}")))
            .await
            .unwrap();
        assert_eq!(out.status, CallStatus::Ok);
        t[2] += s.elapsed();
        let s = Instant::now();
        let out = execute(&ctx, &registry, &tool("uptime".into()))
            .await
            .unwrap();
        assert_eq!(out.status, CallStatus::Ok);
        t[3] += s.elapsed();
    }
    let spawn = |argv: &[&str]| {
        let s = Instant::now();
        for _ in 0..N {
            let st = std::process::Command::new(argv[0])
                .args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
        }
        s.elapsed() / N
    };
    let bare = spawn(&["uptime"]);
    let wrapped = spawn(&["env", "LC_ALL=C", "timeout", "-k", "2", "20", "uptime"]);
    eprintln!("exec_bounds: host-side spawn of uptime {bare:?}, under the wrapper {wrapped:?}");
    eprintln!(
        "exec_bounds: loopback sshd, mean over {N}: one wrapped command {:?}, the batched \
         readlink round trip {:?}; tool call with one path {:?}, without paths {:?}",
        t[0] / N,
        t[1] / N,
        t[2] / N,
        t[3] / N
    );
    ctx.transport.close().await;
}

/// Counts what a session asks of its transport: commands run on their own, and guarded runs
/// by outcome (checks and command in one round trip, or a guard that did not hold).
struct Counting {
    inner: Arc<dyn transport::Transport>,
    execs: std::sync::Mutex<Vec<String>>,
    guarded: std::sync::Mutex<Vec<&'static str>>,
}

#[async_trait::async_trait]
impl transport::Transport for Counting {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn exec(
        &self,
        cmd: &tai::policy::ApprovedCommand,
        opts: &transport::ExecOptions,
    ) -> Result<transport::CommandOutput, transport::TransportError> {
        self.execs.lock().unwrap().push(cmd.display());
        self.inner.exec(cmd, opts).await
    }
    async fn exec_guarded(
        &self,
        guards: &[transport::Guard],
        cmd: &tai::policy::ApprovedCommand,
        opts: &transport::ExecOptions,
    ) -> Result<transport::Guarded, transport::TransportError> {
        let r = self.inner.exec_guarded(guards, cmd, opts).await;
        let what = match &r {
            Ok(transport::Guarded::Ran(_)) => "ran",
            Ok(transport::Guarded::Missed { .. }) => "missed",
            Ok(transport::Guarded::Unsupported) => "unsupported",
            Err(_) => "error",
        };
        self.guarded.lock().unwrap().push(what);
        r
    }
}

/// A read through a symlink: the first time the host's answer (the link goes elsewhere) misses
/// the one-round-trip guard and the checks run one by one; the second time the guard expects
/// where the allowed check found it, and checks and read are one round trip. When the link is
/// pointed at a secret, the guard misses again and the checks refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_through_a_known_link_is_one_round_trip_until_the_link_moves() {
    let _host = support::host_state_lock();
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let base = ssh_context(home.path(), &sshd, limits(10, 64 * 1024)).await;
    let counting = Arc::new(Counting {
        inner: base.transport.clone(),
        execs: Default::default(),
        guarded: Default::default(),
    });
    let ctx = ExecContext::new(
        counting.clone(),
        base.policy.clone(),
        Default::default(),
        base.limits,
        CancellationToken::new(),
    );
    let dir = tempfile::Builder::new()
        .prefix("tai-link-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let target = dir.path().join("app.log");
    std::fs::write(&target, "started\n").unwrap();
    let link = dir.path().join("current.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let read = |n: &str| ToolCall {
        id: n.into(),
        tool: "read_file".into(),
        args: json!({ "path": link.to_str().unwrap() }),
    };
    let registry = Registry::builtin();

    let first = execute(&ctx, &registry, &read("T1")).await.unwrap();
    assert_eq!(first.status, CallStatus::Ok, "{}", first.output);
    assert!(first.output.contains("started"), "{}", first.output);
    assert_eq!(*counting.guarded.lock().unwrap(), ["missed"]);
    assert!(counting
        .execs
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.starts_with("readlink -m -z")));

    counting.execs.lock().unwrap().clear();
    let second = execute(&ctx, &registry, &read("T2")).await.unwrap();
    assert_eq!(second.status, CallStatus::Ok, "{}", second.output);
    assert!(second.output.contains("started"), "{}", second.output);
    assert!(
        second.output.contains("resolves to"),
        "the note still says where it led: {}",
        second.output
    );
    assert_eq!(*counting.guarded.lock().unwrap(), ["missed", "ran"]);
    assert_eq!(*counting.execs.lock().unwrap(), Vec::<String>::new());

    // The link now leads to a secret: the guard's answer differs, the checks refuse it.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    let third = execute(&ctx, &registry, &read("T3")).await.unwrap();
    assert_eq!(third.status, CallStatus::Denied, "{}", third.output);
    assert!(!third.output.contains("root:"), "{}", third.output);
    assert_eq!(
        *counting.guarded.lock().unwrap(),
        ["missed", "ran", "missed"]
    );
    base.transport.close().await;
}
