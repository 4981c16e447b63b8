//! The audit log end to end: real `tai` processes (the loopback sshd harness, the local
//! transport, a wiremock model in the OpenAI wire format), the files under `TAI_HOME/audit`,
//! `tai audit` and `tai audit verify`.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use tai::audit::{AuditLog, Scope};
use tai::config::ExecLimits;
use tai::policy::Policy;
use tai::tools::{CallStatus, Registry, ToolCall};
use tai::transport::local::LocalTransport;
use tai::transport::Transport;
use tokio_util::sync::CancellationToken;

use crate::support::model::*;
use crate::support::sshd::Sshd;
use crate::support::{self, stderr_of, stdout_of};

const M: &str = "qwen3:4b";

fn audit_dir(home: &Path) -> PathBuf {
    home.join(".tai").join("audit")
}

/// Every audit line under `home`, oldest first.
fn audit_lines(home: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(audit_dir(home))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn the_month_file(home: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(audit_dir(home))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn verify(home: &Path) -> std::process::Output {
    support::tai_cmd(home)
        .args(["audit", "verify"])
        .output()
        .unwrap()
}

fn collect_local(home: &Path, extra: &[&str]) -> std::process::Output {
    support::tai_cmd(home)
        .args(["collect", "local", "--category", "disk", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn collect_over_ssh_writes_one_line_per_command_with_every_field_and_verifies() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let out = support::tai_cmd(home.path())
        .args(["collect", &sshd.target(), "--category", "disk", "--json"])
        .arg("-i")
        .arg(sshd.client_key())
        .arg("--known-hosts")
        .arg(home.path().join("known_hosts"))
        .arg("--ignore-ssh-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let report: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let rows = report["results"].as_array().unwrap();
    let ran: Vec<&Value> = rows
        .iter()
        .filter(|r| r["command"] != "" && r["status"] != "denied")
        .collect();
    assert!(!ran.is_empty(), "{report}");

    let lines = audit_lines(home.path());
    let commands: Vec<&Value> = lines.iter().filter(|l| l["event"] == "command").collect();
    // Every command the user sees has exactly one line, under its tool call.
    for r in &ran {
        let matching: Vec<&&Value> = commands
            .iter()
            .filter(|l| l["command"] == r["command"] && l["call_id"] == r["id"])
            .collect();
        assert_eq!(matching.len(), 1, "{} in {commands:#?}", r["command"]);
        let l = matching[0];
        assert_eq!(l["tool"], r["tool"]);
        assert_eq!(l["args"], r["args"]);
        assert_eq!(l["exit_code"], r["exit_code"]);
        assert_eq!(l["truncated"], r["truncated_bytes"]);
    }
    // The others are tai's own checks on the host: facts detection (no tool call) and
    // path resolution, name resolution and the key scan (under the call they check for).
    for l in &commands {
        let seen = ran
            .iter()
            .any(|r| l["command"] == r["command"] && l["call_id"] == r["id"]);
        let program = l["argv"][0].as_str().unwrap();
        assert!(
            seen || l["tool"].is_null() || ["readlink", "getent", "grep"].contains(&program),
            "an audit line for a command nobody ran: {l}"
        );
    }
    // A check is written in the same group as what it guards, never alone at the end: each
    // check line under a call is followed by that call's command (or refusal) line.
    let is_check = |l: &Value| {
        !l["tool"].is_null()
            && ["readlink", "getent", "grep"].contains(&l["argv"][0].as_str().unwrap_or(""))
            && !ran
                .iter()
                .any(|r| l["command"] == r["command"] && l["call_id"] == r["id"])
    };
    for (i, l) in lines.iter().enumerate() {
        if l["event"] == "command" && is_check(l) {
            assert!(
                lines[i + 1..]
                    .iter()
                    .any(|n| n["call_id"] == l["call_id"] && !is_check(n)),
                "a check line with nothing after it for its call: {l}"
            );
        }
    }
    let port = sshd.target().rsplit(':').next().unwrap().to_string();
    for l in &commands {
        for k in [
            "time",
            "version",
            "user",
            "uid",
            "session",
            "host",
            "address",
            "host_key",
            "argv",
            "command",
            "rule",
            "decision",
            "exit_code",
            "duration_ms",
            "bytes",
            "truncated",
            "prev",
        ] {
            assert!(l.get(k).is_some(), "missing {k} in {l}");
        }
        assert_eq!(l["decision"], "allow");
        assert_eq!(l["host"], sshd.target());
        assert_eq!(l["address"], format!("127.0.0.1:{port}"));
        assert!(
            l["host_key"].as_str().unwrap().starts_with("SHA256:"),
            "{l}"
        );
        assert_eq!(l["session"], commands[0]["session"]);
        assert_eq!(l["version"], env!("CARGO_PKG_VERSION"));
        assert!(!l["rule"].as_str().unwrap().is_empty());
    }

    let v = verify(home.path());
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}{}",
        stdout_of(&v),
        stderr_of(&v)
    );
    assert!(stdout_of(&v).contains("verified"), "{}", stdout_of(&v));

    // `tai audit` reads it back: by host (as named or by address), as a table or JSON.
    let table = support::tai_cmd(home.path())
        .args(["audit", "--host", "127.0.0.1", "--since", "1h"])
        .output()
        .unwrap();
    let text = stdout_of(&table);
    assert!(text.starts_with("TIME"), "{text}");
    assert!(text.contains("df "), "{text}");
    let json = support::tai_cmd(home.path())
        .args(["audit", "--json", "--host", "elsewhere"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&json.stdout).unwrap(),
        json!([])
    );
    let bad = support::tai_cmd(home.path())
        .args(["audit", "--since", "last tuesday"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));
}

#[test]
fn editing_deleting_or_reordering_a_line_fails_verify_naming_the_line() {
    let home = tempfile::tempdir().unwrap();
    let out = collect_local(home.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let file = the_month_file(home.path());
    let original = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert!(lines.len() >= 4, "{original}");
    assert_eq!(verify(home.path()).status.code(), Some(0));

    let broken_at = |body: String, line: usize| {
        std::fs::write(&file, body).unwrap();
        let v = verify(home.path());
        let text = stdout_of(&v);
        assert_eq!(v.status.code(), Some(10), "{text}{}", stderr_of(&v));
        assert!(
            text.contains(&format!("{}:{line}:", file.display())),
            "expected line {line}: {text}"
        );
    };
    let join = |ls: Vec<String>| ls.join("\n") + "\n";
    let owned = || lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let mut edited = owned();
    edited[1] = edited[1].replacen("\"duration_ms\":", "\"duration_ms\":1", 1);
    assert_ne!(edited[1], lines[1]);
    broken_at(join(edited), 3);

    let mut deleted = owned();
    deleted.remove(1);
    broken_at(join(deleted), 2);

    let mut reordered = owned();
    reordered.swap(1, 2);
    broken_at(join(reordered), 2);

    let mut cut = owned();
    cut.pop();
    broken_at(join(cut), lines.len() - 1);

    std::fs::write(&file, &original).unwrap();
    assert_eq!(verify(home.path()).status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_requests_and_model_requests_are_audited_without_content() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let canary = "canary-content-7f3e9a1b";
    let note = dir.path().join("note.txt");
    std::fs::write(&note, format!("{canary}\n")).unwrap();
    let s = ModelServer::start().await;
    let mut first = oa_tool_calls(
        M,
        &[
            ("call_1", "read_file", json!({"path": note})),
            ("call_2", "read_file", json!({"path": "/etc/shadow"})),
        ],
    );
    first["usage"] = json!({"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333});
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(first),
            Scripted::ok(oa_text(
                M,
                "## Root Cause\nnone\n## Evidence\n- note [T1]\n## Recommended Actions\n1. none\n## Confidence\nlow",
            )),
        ],
    )
    .await;
    let issue = "the quokka-zebra service is slow";
    let mut cmd = support::tai_cmd(home.path());
    cmd.args(["run", "local", issue, "--base-url", &s.v1_url()]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    let lines = audit_lines(home.path());
    let denied: Vec<&Value> = lines.iter().filter(|l| l["event"] == "denied").collect();
    assert_eq!(denied.len(), 1, "{lines:#?}");
    let d = denied[0];
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["tool"], "read_file");
    assert_eq!(d["args"], json!({"path": "/etc/shadow"}));
    assert!(
        d["command"].as_str().unwrap().contains("/etc/shadow"),
        "{d}"
    );
    assert!(
        !d["rule"].as_str().unwrap().is_empty() && d["rule"] != "unknown",
        "{d}"
    );
    assert!(d["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");
    assert_eq!(d["address"], "local");

    let models: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "model_request")
        .collect();
    assert!(models.len() >= 2, "{lines:#?}");
    let chat: Vec<&&Value> = models
        .iter()
        .filter(|l| {
            l["endpoint"]
                .as_str()
                .unwrap()
                .ends_with("/chat/completions")
        })
        .collect();
    assert_eq!(chat.len(), 2, "{models:#?}");
    assert_eq!(chat[0]["model"], M);
    assert_eq!(chat[0]["status"], 200);
    assert_eq!(chat[0]["tokens_in"], 321);
    assert_eq!(chat[0]["tokens_out"], 12);
    assert!(chat[0]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    // Never the content: not the issue, not the tool output the second request carried.
    let text = std::fs::read_to_string(the_month_file(home.path())).unwrap();
    assert!(!text.contains("quokka-zebra"), "{text}");
    assert!(!text.contains(canary), "{text}");
    assert!(lines
        .iter()
        .any(|l| l["event"] == "command" && l["tool"] == "read_file"));
    assert_eq!(verify(home.path()).status.code(), Some(0));
}

#[test]
fn concurrent_processes_appending_keep_one_valid_chain() {
    let home = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            support::tai_cmd(home.path())
                .args(["collect", "local", "--category", "disk", "--json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let lines = audit_lines(home.path());
    let sessions: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["session"].as_str().unwrap())
        .collect();
    assert_eq!(sessions.len(), 4, "four sessions, one chain");
    let v = verify(home.path());
    assert_eq!(v.status.code(), Some(0), "{}", stdout_of(&v));
    assert!(stdout_of(&v).contains(&format!("{} line(s)", lines.len())));
}

#[test]
fn no_persist_writes_nothing_under_tai_home() {
    let home = tempfile::tempdir().unwrap();
    let out = collect_local(home.path(), &["--no-persist"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let tai_home = home.path().join(".tai");
    let listed: Vec<PathBuf> = std::fs::read_dir(&tai_home)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(listed.is_empty(), "--no-persist wrote {listed:?}");
    // Without it, the same command writes the audit log.
    collect_local(home.path(), &[]);
    assert!(!audit_lines(home.path()).is_empty());
}

/// The audit directory becomes unwritable mid-session: the command that ran keeps its result,
/// tai warns what failed and where, and runs no further host command in that session.
#[tokio::test(flavor = "multi_thread")]
async fn when_the_audit_cannot_be_written_the_result_stays_and_later_commands_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let scope = Arc::new(Scope::new(
        Arc::new(AuditLog::open(home.path())),
        "s-test".into(),
        "local".into(),
    ));
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let ctx = tai::tools::audited::context(
        transport,
        Arc::new(Policy::load(false).unwrap()),
        ExecLimits::default(),
        CancellationToken::new(),
        Some(scope.clone()),
    )
    .await;
    let registry = Registry::builtin();
    let call = |id: &str| ToolCall {
        id: id.into(),
        tool: "run_command".into(),
        args: json!({"command": "uname -s"}),
    };
    let ok = tai::tools::execute(&ctx, &registry, &call("T1"))
        .await
        .unwrap();
    assert_eq!(ok.status, CallStatus::Ok, "{}", ok.output);
    let audit = home.path().join("audit");
    assert!(audit.is_dir());
    // Break the log: a plain file where the directory was.
    std::fs::rename(&audit, home.path().join("audit.moved")).unwrap();
    std::fs::write(&audit, "not a directory").unwrap();

    let ran = tai::tools::execute(&ctx, &registry, &call("T2"))
        .await
        .unwrap();
    assert_eq!(
        ran.status,
        CallStatus::Ok,
        "the result is kept: {}",
        ran.output
    );
    assert!(ran.output.contains("Linux"), "{}", ran.output);
    let failure = scope.log.failure().expect("the failure is remembered");
    assert!(failure.contains("audit"), "{failure}");

    let refused = tai::tools::execute(&ctx, &registry, &call("T3"))
        .await
        .unwrap();
    assert_eq!(refused.status, CallStatus::Error, "{}", refused.output);
    assert!(
        refused.output.contains("audit log could not be written"),
        "{}",
        refused.output
    );
}

#[test]
fn an_unwritable_audit_log_is_warned_about_on_stderr() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(audit_dir(home.path()).join(".lock")).unwrap();
    let out = collect_local(home.path(), &[]);
    let err = stderr_of(&out);
    assert!(
        err.contains("the audit log could not be written") && err.contains(".lock"),
        "{err}"
    );
    let report: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let notes: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["note"].as_str())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("no unaudited command")),
        "{report}"
    );
}

#[test]
fn embedding_requests_are_model_request_lines_without_the_text() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(crate::support::knowledge::embed_server("nomic-embed-text"));
    let home = tempfile::tempdir().unwrap();
    let out = support::tai_cmd(home.path())
        .env("TAI_EMBED_BASE_URL", server.uri())
        .args(["runbooks", "sync"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sent = rt
        .block_on(crate::support::knowledge::embed_calls(&server))
        .0;
    assert!(sent > 0);
    let lines = audit_lines(home.path());
    let embeds: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["event"] == "model_request" && l["endpoint"].as_str().unwrap().ends_with("/api/embed")
        })
        .collect();
    assert_eq!(embeds.len(), sent, "one line per request: {lines:#?}");
    assert_eq!(embeds[0]["model"], "nomic-embed-text");
    assert_eq!(embeds[0]["status"], 200);
    // The bundled runbooks' text went to the server; none of it is in the audit.
    let text = std::fs::read_to_string(the_month_file(home.path())).unwrap();
    assert!(!text.contains("\"input\""), "{text}");
    assert!(text.len() < 400 * lines.len(), "lines stay small: {text}");
}
