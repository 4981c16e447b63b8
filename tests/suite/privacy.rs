//! Privacy of what tai keeps: a session whose host output and report carry a planted secret
//! and a string matching the user's `[redact] patterns` leaves neither anywhere under
//! TAI_HOME (the LMDB store, `--record` fixtures, the audit log, every other file), while the
//! full tool output still reached the model in memory. Bad patterns are config errors.
use crate::support;

use std::path::{Path, PathBuf};

use crate::support::model::*;
use serde_json::json;

const M: &str = "qwen3:4b";
/// Matches the user pattern below; the built-in rules alone leave it.
const USER_SECRET: &str = "bluebird-4242";
/// A built-in kind (an environment secret).
const PLANTED: &str = "hunter2planted77";

fn write_config(home: &Path, body: &str) {
    let dir = home.join(".tai");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), body).unwrap();
}

/// Every regular file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_under_tai_home_holds_the_secret_or_the_user_pattern() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[redact]\npatterns = [\"bluebird-[0-9]{4}\"]\n",
    );
    // The user's string is in the path too, so the audit log's command lines carry it.
    let scratch = tempfile::tempdir().unwrap();
    let log_dir = scratch.path().join(USER_SECRET);
    std::fs::create_dir_all(&log_dir).unwrap();
    let log = log_dir.join("app.log");
    std::fs::write(
        &log,
        format!("2026-12-02 starting {USER_SECRET}\nDB_PASSWORD={PLANTED}\nconnect failed\n"),
    )
    .unwrap();
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![
        Scripted::ok(oa_tool_calls(M, &[("call_1", "read_file", json!({"path": log}))])),
        Scripted::ok(oa_text(M, &format!("## Root Cause\nThe {USER_SECRET} app cannot log in with DB_PASSWORD={PLANTED}.\n## Evidence\n- {USER_SECRET} starting, then connect failed [T1]\n## Recommended Actions\n1. rotate the password of {USER_SECRET}\n## Confidence\nmedium"))),
    ]).await;
    let records = home.path().join(".tai").join("records");
    let mut cmd = support::tai_cmd(home.path());
    cmd.args([
        "run",
        "local",
        &format!("why does {USER_SECRET} fail to connect"),
        "--base-url",
        &s.v1_url(),
        "--json",
    ])
    .arg("--record")
    .arg(&records);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr_of(&out));

    // The full output was prompt-only data: the model saw the user's string (the built-ins
    // had already taken the password out on capture).
    let reqs = s.requests(OA_PATH).await;
    let result = &tool_results(&reqs[1])[0].1;
    assert!(result.contains(USER_SECRET), "{result}");
    assert!(!result.contains(PLANTED), "{result}");

    // The session was kept, redacted.
    let mut cmd = support::tai_cmd(home.path());
    cmd.args(["history", "connect", "--json"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = support::stdout_of(&out);
    assert!(out.status.success(), "{}", support::stderr_of(&out));
    assert!(text.contains("[REDACTED:user-pattern]"), "{text}");

    // A fixture was written, and it is redacted too.
    let tai_home = home.path().join(".tai");
    let all = files(&tai_home);
    let fixtures: Vec<&PathBuf> = all.iter().filter(|p| p.starts_with(&records)).collect();
    assert_eq!(fixtures.len(), 1, "{all:?}");
    let fixture = std::fs::read_to_string(fixtures[0]).unwrap();
    assert!(fixture.contains("[REDACTED:user-pattern]"), "{fixture}");
    assert!(
        all.iter().any(|p| p.ends_with("data.mdb")),
        "the store was written: {all:?}"
    );
    let audit: String = all
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        audit.contains("read_file") && audit.contains("[REDACTED:user-pattern]"),
        "the audit log has the command, redacted: {audit}"
    );
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        for needle in [USER_SECRET, PLANTED] {
            assert!(
                !contains(&bytes, needle),
                "{needle} is stored in {}",
                f.display()
            );
        }
    }
}

#[test]
fn an_invalid_pattern_is_a_config_error_naming_it() {
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[redact]\npatterns = [\"ok-[0-9]+\", \"bad(\"]\n",
    );
    let out = support::tai_cmd(home.path())
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", support::stderr_of(&out));
    let err = support::stderr_of(&out);
    assert!(
        err.contains("\"bad(\"") && err.contains("pattern 2"),
        "{err}"
    );
    assert!(err.contains("config.toml"), "{err}");
}

#[test]
fn tai_config_shows_the_patterns() {
    let home = tempfile::tempdir().unwrap();
    write_config(home.path(), "[redact]\npatterns = [\"ACME-[0-9]{6}\"]\n");
    let out = support::tai_cmd(home.path())
        .arg("config")
        .output()
        .unwrap();
    let text = support::stdout_of(&out);
    assert!(out.status.success(), "{}", support::stderr_of(&out));
    assert!(
        text.contains("redact.patterns = [\"ACME-[0-9]{6}\"]  (file)"),
        "{text}"
    );
}
