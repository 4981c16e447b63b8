//! Network probes run for real through the `local` transport: the DNS names a probe connects
//! to are resolved on the host before it runs (a name is only as safe as the address behind
//! it; curl is pinned to the checked addresses with `--resolve`), the argv that runs starts
//! with tai's own arguments (`curl -q`: no ~/.curlrc), and a metadata address in any
//! spelling runs nothing at all. Local transport, and one probe over a real loopback sshd.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use crate::support::context::ssh_context;
use crate::support::sshd::Sshd;
use serde_json::json;
use tai::config::ExecLimits;
use tai::policy::Policy;
use tai::tools::{execute, CallStatus, ExecContext, Registry, ToolCall};
use tai::transport::local::LocalTransport;
use tai::transport::Transport;
use tokio_util::sync::CancellationToken;

async fn context() -> ExecContext {
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::detect(
        transport,
        policy,
        ExecLimits::default(),
        CancellationToken::new(),
    )
    .await
}

fn run_command(line: &str) -> ToolCall {
    ToolCall {
        id: "T1".into(),
        tool: "run_command".into(),
        args: json!({ "command": line }),
    }
}

fn words(line: &str) -> Vec<String> {
    shell_words::split(line).unwrap()
}

#[test]
fn the_policy_names_what_a_probe_connects_to() {
    let policy = Policy::load(false).unwrap();
    let names = |line: &str| policy.probe_names(&words(line));
    assert_eq!(
        names("curl -sI http://DB01.internal:8080/health http://db01.internal/"),
        ["db01.internal"]
    );
    // Every place a probe connects to is resolved on the host first; a DNS tool's words are
    // questions (it must still run while DNS is what is broken).
    assert_eq!(names("ping -c 1 web01"), ["web01"]);
    assert_eq!(
        names("openssl s_client -connect api.example.com:443 -brief"),
        ["api.example.com"]
    );
    assert!(names("dig @ns1.example.com example.com").is_empty());
    assert!(names("host example.com").is_empty());
    assert!(names("ping -c 1 10.0.0.7").is_empty());
    assert!(names("curl -sI http://10.0.0.5/").is_empty());
    assert!(
        names("curl -sI http://169.254.169.254/").is_empty(),
        "denied: no names"
    );
}

#[tokio::test]
async fn a_probe_by_name_runs_after_its_name_is_checked_on_the_host() {
    let ctx = context().await;
    let out = execute(
        &ctx,
        &Registry::builtin(),
        &run_command("curl -sS -m 2 -o /dev/null http://localhost:9/"),
    )
    .await
    .unwrap();
    assert_ne!(out.status, CallStatus::Denied, "{}", out.output);
    let rec = out.commands.last().unwrap();
    assert!(rec.command.starts_with("curl -q "), "{}", rec.command);
    // Pinned to what the host resolved and tai checked: no second DNS answer.
    assert!(
        rec.command.contains("--resolve localhost:9:"),
        "{}",
        rec.command
    );
    assert!(rec.exit_code.is_some(), "curl itself ran: {rec:?}");
}

#[tokio::test]
async fn metadata_in_any_spelling_runs_nothing() {
    let ctx = context().await;
    for line in [
        "curl -s http://0xa9fea9fe/latest/meta-data/",
        "curl -s 'http://[::ffff:169.254.169.254]/'",
        "curl -s http://x@169.254.169.254/",
        "curl -s -H 'Host: metadata.google.internal' http://localhost/",
        "ping -c 1 2852039166",
        "openssl s_client -connect ::ffff:a9fe:a9fe:80",
        "dig @169.254.43518 example.com",
    ] {
        let out = execute(&ctx, &Registry::builtin(), &run_command(line))
            .await
            .unwrap();
        assert_eq!(out.status, CallStatus::Denied, "{line}: {}", out.output);
        assert!(
            out.commands.iter().all(|c| c.exit_code.is_none()),
            "{line} ran something: {:?}",
            out.commands
        );
    }
}

#[tokio::test]
async fn a_name_that_does_not_resolve_on_the_host_runs_nothing() {
    let ctx = context().await;
    let out = execute(
        &ctx,
        &Registry::builtin(),
        &run_command("curl -sS -m 2 http://no-such-host.invalid/"),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(
        out.output.contains("does not resolve on the host"),
        "{}",
        out.output
    );
    assert!(out.commands.iter().all(|c| c.exit_code.is_none()));
}

/// Over a real sshd (the remote shell sees tai's quoted line, `--noproxy '*'` included), the
/// probe is pinned with `--resolve` and still reaches the service behind the name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_curl_probe_over_ssh_is_pinned_and_reaches_the_service() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nprobe-ok\n");
        }
    });
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd).await;
    let line = format!("curl -sS -m 5 http://localhost:{port}/health");
    let out = execute(&ctx, &Registry::builtin(), &run_command(&line))
        .await
        .unwrap();
    assert_ne!(out.status, CallStatus::Denied, "{}", out.output);
    let rec = out.commands.last().unwrap();
    assert!(
        rec.command
            .starts_with("curl -q --noproxy '*' --resolve localhost:"),
        "{}",
        rec.command
    );
    assert!(rec.stdout.contains("probe-ok"), "{rec:?}");
}
