//! Every host tool through the real SSH transport against a loopback OpenSSH `sshd` (harness
//! in tests/support), and the end-to-end escape test: a plan whose inputs try to break out of
//! their argument runs nothing harmful on the host.
use crate::support;

use std::path::Path;

use crate::support::context::ssh_context;
use crate::support::sshd::Sshd;
use crate::support::tool_samples::{sample_args, KNOWLEDGE_TOOLS};
use serde_json::json;
use tai::tools::{execute_all, CallStatus, Registry, ToolCall};

fn call(id: &str, tool: &str, args: serde_json::Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        tool: tool.into(),
        args,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_tool_runs_over_ssh() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd).await;
    assert!(!ctx.facts.os_id.is_empty(), "{:?}", ctx.facts);
    assert_ne!(ctx.facts.family, "");
    let registry = Registry::builtin();
    let calls: Vec<ToolCall> = registry
        .names()
        .into_iter()
        .filter(|n| !KNOWLEDGE_TOOLS.contains(n))
        .enumerate()
        .map(|(i, n)| call(&format!("T{}", i + 1), n, sample_args(n)))
        .collect();
    let results = execute_all(&ctx, &registry, &calls).await;
    for (c, r) in calls.iter().zip(results) {
        let out = r.unwrap_or_else(|e| panic!("{}: fatal {e}", c.tool));
        assert_eq!(out.call.id, c.id);
        assert_ne!(out.status, CallStatus::Denied, "{}: {}", c.tool, out.output);
        assert!(!out.commands.is_empty(), "{} ran nothing", c.tool);
        for rec in &out.commands {
            assert!(
                rec.exit_code.is_some() || rec.note.is_some(),
                "{}: {}",
                c.tool,
                rec.command
            );
        }
    }
    // The same file read locally and over SSH gives the same bytes.
    let out = tai::tools::execute(
        &ctx,
        &registry,
        &call(
            "T99",
            "read_file",
            json!({"path": "/etc/os-release", "lines": 100}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(out.status, CallStatus::Ok, "{}", out.output);
    let local = std::fs::read_to_string("/etc/os-release").unwrap();
    assert_eq!(out.commands.last().unwrap().stdout.trim(), local.trim());
    ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_inputs_try_to_escape_runs_nothing_harmful() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let ctx = ssh_context(home.path(), &sshd).await;
    let registry = Registry::builtin();
    // The literal example from the issue, plus variants in a private directory.
    let _ = std::fs::remove_file("/tmp/pwned");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let calls = vec![
        call(
            "T1",
            "read_file",
            json!({"path": "/tmp/x; touch /tmp/pwned"}),
        ),
        call(
            "T2",
            "read_file",
            json!({"path": format!("{d}/$(touch {d}/p2)")}),
        ),
        call(
            "T3",
            "read_file",
            json!({"path": format!("{d}/`touch {d}/p3`")}),
        ),
        call(
            "T4",
            "read_file",
            json!({"path": format!("{d}/x' ; touch {d}/p4 ; echo '")}),
        ),
        call(
            "T5",
            "list_dir",
            json!({"path": format!("{d} && touch {d}/p5")}),
        ),
        call(
            "T6",
            "read_journal",
            json!({"unit": "x", "grep": format!("'; touch {d}/p6; '")}),
        ),
        call(
            "T7",
            "read_journal",
            json!({"since": format!("$(touch {d}/p7)")}),
        ),
        call(
            "T8",
            "disk_usage",
            json!({"path": format!("{d}/a\nb | touch {d}/p8")}),
        ),
        call(
            "T9",
            "cert_info",
            json!({"path": format!("{d}/c.pem > {d}/p9")}),
        ),
        call(
            "T10",
            "run_command",
            json!({"command": format!("cat '{d}/x; touch {d}/p10'")}),
        ),
        call(
            "T11",
            "run_command",
            json!({"command": format!("cat \"{d}/$(touch {d}/p11)\"")}),
        ),
        call(
            "T12",
            "resolve_host",
            json!({"name": format!("x;touch${{IFS}}{d}/p12")}),
        ),
        call(
            "T13",
            "package_version",
            json!({"name": format!("bash`touch {d}/p13`")}),
        ),
        call(
            "T14",
            "service_status",
            json!({"unit": format!("x|touch {d}/p14")}),
        ),
    ];
    let results = execute_all(&ctx, &registry, &calls).await;
    let mut ran = 0;
    for r in results {
        let out = r.unwrap();
        ran += out
            .commands
            .iter()
            .filter(|c| c.status != CallStatus::Denied && c.exit_code.is_some())
            .count();
    }
    assert!(
        ran >= 5,
        "the attempts must actually reach the host as literal arguments"
    );
    assert!(!Path::new("/tmp/pwned").exists(), "/tmp/pwned was created");
    for n in 2..=14 {
        assert!(
            !dir.path().join(format!("p{n}")).exists(),
            "p{n} was created"
        );
    }
    ctx.transport.close().await;
}

#[test]
fn tai_collect_over_ssh_returns_json() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let out = support::tai_cmd(home.path())
        .args([
            "collect",
            &sshd.target(),
            "--category",
            "memory",
            "--json",
            "--ignore-ssh-config",
        ])
        .arg("-i")
        .arg(sshd.client_key())
        .arg("--known-hosts")
        .arg(home.path().join("known_hosts"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["category"], "memory");
    let free = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["command"] == "free -m")
        .expect("free -m ran");
    assert_eq!(free["exit_code"], 0);
    assert!(free["stdout"].as_str().unwrap().contains("Mem:"), "{free}");
}
