//! The real binary: `tai policy check`, `tai tools list|show|run`, `tai collect` on `local`.
use crate::support::tool_samples;

use crate::support::{stderr_of as stderr, stdout_of as stdout, tai_env as tai};

#[test]
fn policy_check_exit_codes_and_reasons() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path())
        .args(["policy", "check", "rm", "-rf", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("deny"), "{text}");
    assert!(
        text.contains("reason:") && text.contains("rule: deny-write"),
        "{text}"
    );

    let out = tai(home.path())
        .args(["policy", "check", "journalctl", "-u", "nginx", "-n", "50"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("rule: journalctl"));

    let out = tai(home.path())
        .args(["--json", "policy", "check", "cat", "/etc/../etc/shadow"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["rule"], "path-shadow");
    assert!(v["reason"].as_str().unwrap().contains("/etc/shadow"));

    let out = tai(home.path())
        .args(["policy", "check", "ps aux | sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("rule: shell-syntax"),
        "{}",
        stdout(&out)
    );
    // `| grep` is a stage tai applies itself: only `ps aux` is judged and would run.
    let out = tai(home.path())
        .args(["policy", "check", "ps aux | grep nginx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("runs: ps aux\n"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("then: | grep nginx  (applied by tai"),
        "{}",
        stdout(&out)
    );
    let out = tai(home.path())
        .args(["policy", "check", "journalctl -u nginx -n 50"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let out = tai(home.path())
        .args(["--sudo", "policy", "check", "ss", "-tlnp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("runs: sudo -n -- ss -tlnp"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn tools_list_and_show() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path()).args(["tools", "list"]).output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    for name in tool_samples::CONTRACT {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing from:\n{text}"
        );
    }
    let out = tai(home.path())
        .args(["tools", "show", "read_file"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "read_file");
    assert_eq!(v["parameters"]["additionalProperties"], false);
    assert_eq!(v["parameters"]["required"], serde_json::json!(["path"]));

    let out = tai(home.path())
        .args(["tools", "show", "rm_rf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tai tools list"), "{}", stderr(&out));
}

#[test]
fn tools_run_on_local() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path())
        .args([
            "tools",
            "run",
            "local",
            "read_file",
            "--args",
            r#"{"path": "/etc/hostname"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let host = std::fs::read_to_string("/etc/hostname").unwrap();
    assert!(stdout(&out).contains(host.trim()), "{}", stdout(&out));

    let out = tai(home.path())
        .args([
            "--json",
            "tools",
            "run",
            "local",
            "run_command",
            "--args",
            r#"{"command": "rm -rf /tmp/nothing"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "denied → exit 7: {}",
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "denied");

    let out = tai(home.path())
        .args(["tools", "run", "local", "read_file", "--args", "{not json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
}

#[test]
fn collect_disk_json_has_real_output() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path())
        .args(["collect", "local", "--category", "disk", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host"], "local");
    assert_eq!(v["category"], "disk");
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 5);
    for r in results {
        for key in [
            "tool",
            "args",
            "command",
            "exit_code",
            "duration_ms",
            "stdout",
            "stderr",
            "truncated",
            "status",
        ] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        assert!(["ok", "error", "denied"].contains(&r["status"].as_str().unwrap()));
        assert_ne!(r["status"], "denied", "{r}");
    }
    let df = results.iter().find(|r| r["command"] == "df -hPT").unwrap();
    assert_eq!(df["exit_code"], 0);
    assert!(
        df["stdout"].as_str().unwrap().contains("Filesystem"),
        "{df}"
    );
}

#[test]
fn collect_classifies_issue_text_and_rejects_bad_categories() {
    let home = tempfile::tempdir().unwrap();
    let out = tai(home.path())
        .args([
            "--json", "collect", "local", "the", "clock", "drifts", "and", "chrony", "is", "out",
            "of", "sync",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["category"], "time");

    let out = tai(home.path())
        .args(["collect", "local", "--category", "weather"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected one of"), "{}", stderr(&out));
}
