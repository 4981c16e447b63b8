//! The tool registry over the real SSH transport (policy → ApprovedCommand → russh → sshd):
//! fact detection and tools share one connection, and a changed host key ends the turn with
//! exit 6 before the server ever sees a login. (Every tool over SSH: tests/suite/tools_ssh.rs.)

use std::sync::Arc;

use tai::config::{Config, Overrides};
use tai::exit::{Code, HasExitCode};
use tai::policy::Policy;
use tai::tools::{execute, CallStatus, ExecContext, Registry, ToolCall, ToolError};
use tai::transport::{Target, Transport};
use tokio_util::sync::CancellationToken;

use crate::support::sshd::Sshd;
use crate::support::tool_samples::sample_args;

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
    let first = execute(&ctx, &registry, &call).await.unwrap();
    assert_eq!(first.status, CallStatus::Ok, "{}", first.output);
    assert!(first.output.contains("Linux"), "{}", first.output);
    // Fact detection and the tool ran over one authenticated connection.
    assert_eq!(sshd.log_text().matches("Accepted publickey").count(), 1);

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
