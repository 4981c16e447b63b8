//! `run_command` with `| STAGE`s through real transports (local, and a loopback OpenSSH sshd):
//! only the first command runs on the host, the stages are applied by tai to its output, the
//! record says so, and a pipe into anything that is not a stage runs nothing at all.

use std::path::Path;

use crate::support::context::{local_context, ssh_context};
use crate::support::sshd::Sshd;
use serde_json::json;
use tai::tools::{execute, CallStatus, ExecContext, Registry, ToolCall, ToolOutcome};

async fn run(ctx: &ExecContext, line: &str) -> ToolOutcome {
    let call = ToolCall {
        id: "T1".into(),
        tool: "run_command".into(),
        args: json!({ "command": line }),
    };
    execute(ctx, &Registry::builtin(), &call).await.unwrap()
}

/// A log with a known distribution of client addresses.
fn access_log(dir: &Path) -> String {
    let mut text = String::new();
    for (ip, n) in [
        ("10.0.0.1", 5),
        ("10.0.0.2", 2),
        ("10.0.0.3", 9),
        ("10.0.0.4", 1),
    ] {
        for i in 0..n {
            text.push_str(&format!("{ip} - - \"GET /page{i} HTTP/1.1\" 200 512\n"));
        }
    }
    text.push_str("10.0.0.9 - - \"GET /boom HTTP/1.1\" 502 0\n");
    let path = dir.join("access.log");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The checks every transport must pass.
async fn pipelines_work(ctx: &ExecContext, dir: &Path) {
    let log = access_log(dir);
    let line = format!("cat {log} | awk '{{print $1}}' | sort | uniq -c | sort -rn | head -n 2");
    let out = run(ctx, &line).await;
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    assert_eq!(
        out.commands.len(),
        1,
        "one command ran on the host: {:?}",
        out.commands
    );
    let rec = &out.commands[0];
    assert_eq!(rec.stdout, "      9 10.0.0.3\n      5 10.0.0.1\n");
    assert_eq!(
        rec.command,
        format!("cat {log}  | awk '{{print $1}}' | sort | uniq -c | sort -rn | head -n 2  (stages applied by tai)")
    );
    assert!(
        out.output.contains("(stages applied by tai)"),
        "{}",
        out.output
    );

    let out = run(ctx, &format!("cat {log} | grep -c ' 200 '")).await;
    assert_eq!(out.commands[0].stdout, "17\n", "{}", out.output);
    let out = run(
        ctx,
        &format!("cat {log} | grep -E ' 50[0-9] ' | cut -d' ' -f1"),
    )
    .await;
    assert_eq!(out.commands[0].stdout, "10.0.0.9\n", "{}", out.output);
    let out = run(ctx, &format!("cat {log} | tail -n 1 | wc -w")).await;
    assert_eq!(out.commands[0].stdout, "8\n", "{}", out.output);

    // The first command is judged by the policy exactly as without stages.
    let out = run(ctx, "cat /etc/shadow | wc -l").await;
    assert_eq!(out.status, CallStatus::Denied, "{}", out.output);
    assert!(out.commands.iter().all(|c| c.exit_code.is_none()));
    assert!(!out.output.contains("stages applied"), "{}", out.output);

    // A pipe into a program that is not a stage runs nothing, not even the first command.
    let marker = dir.join("pwned");
    for line in [
        format!("cat {log} | tee {}", marker.display()),
        format!("cat {log} | sh -c 'touch {}'", marker.display()),
        format!("cat {log} | xargs touch {}", marker.display()),
        format!("cat {log} | sort -o {}", marker.display()),
        format!("cat {log} | awk '{{print > \"{}\"}}'", marker.display()),
        format!("cat {log} || touch {}", marker.display()),
    ] {
        let out = run(ctx, &line).await;
        assert_eq!(out.status, CallStatus::Error, "{line}: {}", out.output);
        assert!(out.commands.is_empty(), "{line} ran: {:?}", out.commands);
        assert!(!marker.exists(), "{line} created the marker");
    }
}

#[tokio::test]
async fn pipelines_through_the_local_transport() {
    let ctx = local_context().await;
    let dir = tempfile::tempdir().unwrap();
    pipelines_work(&ctx, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd).await;
    let dir = tempfile::tempdir().unwrap();
    pipelines_work(&ctx, dir.path()).await;
}
