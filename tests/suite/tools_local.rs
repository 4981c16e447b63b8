//! Every host tool run for real through the `local` transport (policy → transport, no mocks),
//! the escape attempts that must run nothing, the session output budget, and how unknown
//! tools, bad arguments and denials come back to the model.

use std::sync::Arc;

use crate::support::tool_samples::{sample_args, KNOWLEDGE_TOOLS};
use serde_json::json;
use tai::config::ExecLimits;
use tai::policy::{Decision, Policy};
use tai::tools::{
    detect_facts, execute, execute_all, CallStatus, ExecContext, KnowledgeSource, Registry,
    ToolCall,
};
use tai::transport::local::LocalTransport;
use tai::transport::Transport;
use tokio_util::sync::CancellationToken;

async fn context(limits: ExecLimits) -> ExecContext {
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::detect(transport, policy, limits, CancellationToken::new()).await
}

fn call(id: &str, tool: &str, args: serde_json::Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        tool: tool.into(),
        args,
    }
}

#[tokio::test]
async fn facts_are_detected_from_the_host() {
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let policy = Policy::load(false).unwrap();
    let facts = detect_facts(
        &transport,
        &policy,
        &ExecLimits::default(),
        &CancellationToken::new(),
    )
    .await;
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    let id = os
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(facts.os_id, id);
    assert_ne!(facts.family, "");
    assert!(!facts.kernel.is_empty());
    assert!(!facts.hostname.is_empty());
}

/// Tools that must succeed on any Linux machine running these tests.
const MUST_SUCCEED: &[&str] = &[
    "resolve_host",
    "disk_usage",
    "inode_usage",
    "mounts",
    "read_file",
    "list_dir",
    "list_processes",
    "process_info",
    "memory_info",
    "cpu_load",
    "system_info",
    "run_command",
    "routes",
    "network_interfaces",
    "list_sockets",
];

#[tokio::test]
async fn every_host_tool_runs_through_the_local_transport() {
    let ctx = context(ExecLimits::default()).await;
    let registry = Registry::builtin();
    let calls: Vec<ToolCall> = registry
        .names()
        .into_iter()
        .filter(|n| !KNOWLEDGE_TOOLS.contains(n))
        .enumerate()
        .map(|(i, n)| call(&format!("T{}", i + 1), n, sample_args(n)))
        .collect();
    let results = execute_all(&ctx, &registry, &calls).await;
    assert_eq!(results.len(), calls.len());
    for (c, r) in calls.iter().zip(results) {
        let out = r.unwrap_or_else(|e| panic!("{}: fatal {e}", c.tool));
        assert_eq!(out.call.id, c.id, "results come back in input order");
        assert_ne!(out.status, CallStatus::Denied, "{}: {}", c.tool, out.output);
        assert!(!out.commands.is_empty(), "{} ran nothing", c.tool);
        for rec in &out.commands {
            assert_ne!(
                rec.status,
                CallStatus::Denied,
                "{}: {}",
                c.tool,
                rec.command
            );
            // Every command either ran (exit status or signal) or was missing on this host.
            assert!(
                rec.exit_code.is_some() || rec.note.is_some(),
                "{}: {} has neither exit code nor note",
                c.tool,
                rec.command
            );
        }
        if MUST_SUCCEED.contains(&c.tool.as_str()) {
            assert_eq!(out.status, CallStatus::Ok, "{}:\n{}", c.tool, out.output);
            assert!(
                out.commands.iter().any(|r| !r.stdout.trim().is_empty()),
                "{}",
                c.tool
            );
        }
    }
}

#[tokio::test]
async fn tools_return_real_host_data() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let out = execute(
        &ctx,
        &r,
        &call("T1", "read_file", json!({"path": "/etc/hostname"})),
    )
    .await
    .unwrap();
    let want = std::fs::read_to_string("/etc/hostname").unwrap();
    assert!(out.output.contains(want.trim()), "{}", out.output);

    let me = std::process::id();
    let out = execute(&ctx, &r, &call("T2", "process_info", json!({"pid": me})))
        .await
        .unwrap();
    assert!(
        out.output.contains(&format!("Pid:\t{me}")),
        "{}",
        out.output
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("big")).unwrap();
    std::fs::write(dir.path().join("big/blob"), vec![b'x'; 300_000]).unwrap();
    std::fs::write(dir.path().join("small"), b"x").unwrap();
    let out = execute(
        &ctx,
        &r,
        &call(
            "T3",
            "disk_usage",
            json!({"path": dir.path().to_str().unwrap()}),
        ),
    )
    .await
    .unwrap();
    let du = &out.commands[1].stdout;
    let first = du.lines().next().unwrap();
    assert!(first.ends_with(dir.path().to_str().unwrap()), "{du}");
    assert!(
        du.lines().nth(1).unwrap().ends_with("/big"),
        "largest first: {du}"
    );
}

#[tokio::test]
async fn read_file_resolves_symlinks_on_the_host_and_rechecks_them() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("innocent.log");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    let out = execute(&ctx, &r, &call("T1", "read_file", json!({"path": link})))
        .await
        .unwrap();
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(out.output.contains("/etc/shadow"), "{}", out.output);
    // Only the resolution ran; nothing read the target.
    assert_eq!(out.commands.len(), 1);
    assert_eq!(out.commands[0].exit_code, None);
    assert!(
        out.output.contains("resolves to /etc/shadow"),
        "{}",
        out.output
    );

    let ok = dir.path().join("ok.log");
    std::fs::write(dir.path().join("real.log"), "line1\nline2\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("real.log"), &ok).unwrap();
    let out = execute(&ctx, &r, &call("T2", "read_file", json!({"path": ok})))
        .await
        .unwrap();
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert!(out.output.contains("line2") && out.output.contains("resolves to"));
}

#[tokio::test]
async fn run_command_resolves_symlinked_paths_on_the_host() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("app.log");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    let line = format!("grep -c root {}", link.display());
    let out = execute(
        &ctx,
        &r,
        &call("T1", "run_command", json!({"command": line})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(
        out.output.contains("resolves to /etc/shadow"),
        "{}",
        out.output
    );
    // Nothing but the resolution ran: the one record is the refused command.
    assert_eq!(out.commands.len(), 1);
    assert_eq!(out.commands[0].exit_code, None);

    std::fs::write(dir.path().join("real.log"), "a\nb\n").unwrap();
    let ok = dir.path().join("ok.log");
    std::os::unix::fs::symlink(dir.path().join("real.log"), &ok).unwrap();
    let line = format!("tail -n 1 {}", ok.display());
    let out = execute(
        &ctx,
        &r,
        &call("T2", "run_command", json!({"command": line})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert_eq!(out.commands.len(), 1, "only the command itself is recorded");
    assert_eq!(out.commands[0].stdout, "b\n");
}

#[tokio::test]
async fn escape_attempts_run_nothing() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let pwned = |n: u32| dir.path().join(format!("pwned{n}"));
    let attempts = [
        call(
            "T1",
            "read_file",
            json!({"path": format!("{d}/x; touch {d}/pwned1")}),
        ),
        call(
            "T2",
            "read_file",
            json!({"path": format!("{d}/$(touch {d}/pwned2)")}),
        ),
        call(
            "T3",
            "read_file",
            json!({"path": format!("{d}/`touch {d}/pwned3`")}),
        ),
        call(
            "T4",
            "list_dir",
            json!({"path": format!("{d} && touch {d}/pwned4")}),
        ),
        call(
            "T5",
            "read_journal",
            json!({"unit": format!("x;touch${{IFS}}{d}/pwned5"), "grep": format!("'; touch {d}/pwned6 #")}),
        ),
        call(
            "T6",
            "run_command",
            json!({"command": format!("cat '{d}/x; touch {d}/pwned7'")}),
        ),
        call(
            "T7",
            "run_command",
            json!({"command": format!("ls; touch {d}/pwned8")}),
        ),
        call(
            "T8",
            "cert_info",
            json!({"path": format!("{d}/c.pem\ntouch {d}/pwned9")}),
        ),
    ];
    for c in &attempts {
        let out = execute(&ctx, &r, c).await.unwrap();
        // Whatever ran, ran as literal argv. Replaying each approved command line through a
        // real POSIX shell (what sshd does with it) must not run anything either.
        for rec in &out.commands {
            if rec.status != CallStatus::Denied {
                std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&rec.command)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .unwrap();
            }
        }
    }
    for n in 1..=9 {
        assert!(!pwned(n).exists(), "pwned{n} was created");
    }
}

#[tokio::test]
async fn the_session_output_budget_stops_runaway_output() {
    let limits = ExecLimits {
        session_output_cap: 4096,
        ..ExecLimits::default()
    };
    let ctx = context(limits).await;
    let r = Registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.log");
    std::fs::write(&f, "a line of log output\n".repeat(2000)).unwrap();
    let args = json!({"path": f, "lines": 5000});
    let first = execute(&ctx, &r, &call("T1", "read_file", args.clone()))
        .await
        .unwrap();
    assert!(ctx.session_bytes_used() <= 4096);
    assert!(
        first.output.contains("session output budget"),
        "{}",
        first.output
    );
    let second = execute(&ctx, &r, &call("T2", "read_file", args))
        .await
        .unwrap();
    assert_eq!(second.status, CallStatus::Error);
    assert!(second.output.contains("budget"), "{}", second.output);
    assert_eq!(ctx.session_bytes_left(), 0);
}

#[tokio::test]
async fn model_mistakes_come_back_as_outcomes() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let out = execute(&ctx, &r, &call("T1", "rm_rf", json!({})))
        .await
        .unwrap();
    assert_eq!(out.status, CallStatus::Error);
    assert!(out.output.contains("unknown tool") && out.output.contains("read_file"));

    let out = execute(
        &ctx,
        &r,
        &call("T2", "read_file", json!({"file": "/etc/hosts"})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Error);
    assert!(out.output.contains("invalid arguments"), "{}", out.output);

    let victim = tempfile::NamedTempFile::new().unwrap();
    let line = format!("rm -f {}", victim.path().display());
    let out = execute(
        &ctx,
        &r,
        &call("T3", "run_command", json!({"command": line})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Denied);
    assert!(
        out.output.contains("denied by policy rule deny-write"),
        "{}",
        out.output
    );
    assert!(victim.path().exists(), "a denied command must not run");
    assert!(out.commands.iter().all(|c| c.exit_code.is_none()));

    let out = execute(
        &ctx,
        &r,
        &call("T4", "read_file", json!({"path": "/etc/shadow"})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(matches!(
        ctx.policy.check(&["cat".into(), "/etc/shadow".into()]),
        Decision::Deny { .. }
    ));

    let out = execute(
        &ctx,
        &r,
        &call("T5", "run_command", json!({"command": "ps aux | sh"})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Error);
    assert!(
        out.output.contains("not a supported stage"),
        "{}",
        out.output
    );
    assert!(out.commands.is_empty(), "nothing runs: {:?}", out.commands);
}

struct FakeKnowledge;

#[async_trait::async_trait]
impl KnowledgeSource for FakeKnowledge {
    async fn search_runbooks(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<String, tai::tools::types::SearchError> {
        Ok(format!("runbooks for {query} (limit {limit})"))
    }
    async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, tai::tools::types::SearchError> {
        Err(format!("store closed ({query}, {host:?}, {limit})").into())
    }
}

#[tokio::test]
async fn knowledge_tools_need_a_knowledge_source() {
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    for name in KNOWLEDGE_TOOLS {
        let out = execute(&ctx, &r, &call("T1", name, sample_args(name)))
            .await
            .unwrap();
        assert_eq!(out.status, CallStatus::Error);
        assert!(
            out.output.contains("knowledge layer not available"),
            "{}",
            out.output
        );
        assert!(out.commands.is_empty());
    }
    let ctx = ctx.with_knowledge(Arc::new(FakeKnowledge));
    let out = execute(
        &ctx,
        &r,
        &call("T2", "search_runbooks", json!({"query": "nginx"})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Ok);
    assert_eq!(out.output, "runbooks for nginx (limit 5)");
    let out = execute(
        &ctx,
        &r,
        &call("T3", "search_history", json!({"query": "q", "host": "h"})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Error);
    assert!(out.output.contains("store closed"), "{}", out.output);
}

/// A file holding a private key is never printed, whatever its name: readers of it are
/// refused, a recursive grep over its directory skips it, and a name with a newline in it
/// (which a line-based list would split in two) is still one name.
#[tokio::test]
async fn files_holding_private_keys_are_never_printed() {
    // The key holders live under the real /var/log for a moment: hold the host-state lock so
    // no scenario host sees /var/log change while it checks the real machine is untouched.
    let _host = crate::support::host_state_lock().await;
    let ctx = context(ExecLimits::default()).await;
    let r = Registry::builtin();
    let dir = tempfile::Builder::new()
        .prefix("tai-keyscan-")
        .tempdir_in("/var/log")
        .unwrap();
    let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz";
    let key =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n");
    std::fs::write(dir.path().join("bundle.log"), &key).unwrap();
    std::fs::write(dir.path().join("odd\nname.log"), &key).unwrap();
    std::fs::write(dir.path().join("app.log"), "listen 80\n").unwrap();
    let d = dir.path().display();
    for (i, line) in [
        format!("cut -c1-8 {d}/bundle.log"),
        format!("awk '{{print substr($0, 3, 6)}}' {d}/bundle.log"),
        format!("grep -rn . {d}"),
        format!("grep -rho ...... {d}"),
    ]
    .iter()
    .enumerate()
    {
        let out = execute(
            &ctx,
            &r,
            &call(&format!("T{i}"), "run_command", json!({"command": line})),
        )
        .await
        .unwrap();
        for piece in body.as_bytes().chunks(6) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                piece.len() < 6 || !out.output.contains(piece),
                "{line}: key bytes `{piece}` in\n{}",
                out.output
            );
        }
        // Every read meets a key holder; the newline name cannot be excluded exactly, so
        // even the greps are refused whole.
        assert_eq!(out.status, CallStatus::Denied, "{line}: {}", out.output);
        assert!(out.output.contains("private key"), "{}", out.output);
    }
    // Without the odd name, a recursive grep runs with the holder excluded.
    std::fs::remove_file(dir.path().join("odd\nname.log")).unwrap();
    let line = format!("grep -rn . {d}");
    let out = execute(
        &ctx,
        &r,
        &call("T9", "run_command", json!({"command": line})),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert!(out.output.contains("listen 80"), "{}", out.output);
    assert!(
        out.output.contains("--exclude=bundle.log"),
        "{}",
        out.output
    );
    assert!(!out.output.contains(&body[..12]), "{}", out.output);
}
