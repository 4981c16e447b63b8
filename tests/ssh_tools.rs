//! The tool registry over the real SSH transport (policy → ApprovedCommand → russh → sshd):
//! every host tool runs on a loopback sshd, and a changed host key ends the turn with exit 6
//! before the server ever sees a login.
mod support;
mod tool_samples;

use std::sync::Arc;

use tai::config::{Config, Overrides};
use tai::exit::{Code, HasExitCode};
use tai::policy::Policy;
use tai::tools::{execute, execute_all, CallStatus, ExecContext, Registry, ToolCall, ToolError};
use tai::transport::{Target, Transport};
use tokio_util::sync::CancellationToken;

use support::sshd::Sshd;
use tool_samples::{sample_args, KNOWLEDGE_TOOLS};

fn config(home: &std::path::Path, sshd: &Sshd) -> Config {
    Config::resolve_with(
        &Overrides {
            tai_home: Some(home.join(".tai")),
            identity_files: vec![sshd.client_key().to_path_buf()],
            known_hosts: Some(home.join("known_hosts")),
            ignore_ssh_config: true,
            ..Default::default()
        },
        &|_| None,
    )
    .unwrap()
}

async fn context(sshd: &Sshd, cfg: &Config) -> ExecContext {
    let transport: Arc<dyn Transport> =
        tai::transport::connect(&Target::parse(&sshd.target()).unwrap(), cfg)
            .await
            .unwrap();
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::detect(transport, policy, cfg.limits, CancellationToken::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_tool_runs_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &sshd);
    let ctx = context(&sshd, &cfg).await;
    assert!(!ctx.facts.kernel.is_empty(), "{:?}", ctx.facts);
    let registry = Registry::builtin();
    let calls: Vec<ToolCall> = registry
        .names()
        .into_iter()
        .filter(|n| !KNOWLEDGE_TOOLS.contains(n))
        .enumerate()
        .map(|(i, n)| ToolCall {
            id: format!("T{}", i + 1),
            tool: n.to_string(),
            args: sample_args(n),
        })
        .collect();
    let results = execute_all(&ctx, &registry, &calls).await;
    let mut ok = 0;
    for (c, r) in calls.iter().zip(results) {
        let out = r.unwrap_or_else(|e| panic!("{}: fatal {e}", c.tool));
        assert_ne!(out.status, CallStatus::Denied, "{}: {}", c.tool, out.output);
        assert!(!out.commands.is_empty(), "{} ran nothing", c.tool);
        if out.status == CallStatus::Ok {
            ok += 1;
        }
    }
    let info = calls.iter().position(|c| c.tool == "system_info").unwrap();
    let again = execute(&ctx, &registry, &calls[info]).await.unwrap();
    assert_eq!(again.status, CallStatus::Ok, "{}", again.output);
    assert!(again.output.contains("Linux"), "{}", again.output);
    assert!(
        ok >= calls.len() / 2,
        "only {ok} of {} tools succeeded",
        calls.len()
    );
    // All of it over one authenticated connection.
    assert_eq!(sshd.log_text().matches("Accepted publickey").count(), 1);
}

#[tokio::test]
async fn changed_host_key_is_fatal_with_exit_6_and_nothing_reaches_the_host() {
    let mut sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &sshd);
    let ctx = context(&sshd, &cfg).await;
    let registry = Registry::builtin();
    let call = ToolCall {
        id: "T1".into(),
        tool: "system_info".into(),
        args: sample_args("system_info"),
    };
    assert_eq!(
        execute(&ctx, &registry, &call).await.unwrap().status,
        CallStatus::Ok
    );

    // Man in the middle: another host key on the same address, the old connection gone.
    sshd.kill_connections();
    sshd.replace_host_key();
    let err = execute(&ctx, &registry, &call)
        .await
        .expect_err("must not run on a host with a changed key");
    assert!(matches!(err, ToolError::Fatal(_)), "{err}");
    assert_eq!(err.exit_code(), Code::HostKeyChanged, "{err}");
    assert!(err
        .to_string()
        .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
    let log = sshd.log_text();
    let since_restart = log.rsplit("Server listening").next().unwrap_or("");
    assert!(!since_restart.contains("Accepted publickey"), "{log}");
    assert!(!since_restart.contains("Starting session"), "{log}");
}
