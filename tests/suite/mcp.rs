//! `tai mcp` through a real MCP client: the official Python SDK (`mcp` from PyPI, installed by
//! `.ci/run` into `target/mcp-venv`) runs `tests/mcp_client.py` against the `tai` binary over
//! stdio and streamable HTTP, on a real loopback sshd and on a scenario host. Plus, in process:
//! a dropped connection is made again once and the call succeeds.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::scenario::Scenario;
use crate::support::sshd::Sshd;

/// The venv's Python with the `mcp` SDK. Missing is a failure, not a skip: `.ci/run` installs it.
fn python() -> PathBuf {
    let py = std::env::var_os("TAI_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mcp-venv/bin/python")
        });
    let ok = Command::new(&py)
        .args(["-c", "import mcp"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the MCP client tests need the Python `mcp` SDK at {}: run `python3 -m venv target/mcp-venv && \
         target/mcp-venv/bin/python -m pip install 'mcp==2.3.0'` (bash .ci/run does), or set TAI_MCP_PYTHON",
        py.display()
    );
    py
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py")
}

/// Run `steps` through the Python client; `transport` is `["stdio", ...]`'s tail or `["http", URL, ...]`.
fn run_client(mode: &str, steps: &Value, tail: &[String]) -> Vec<Value> {
    let out = Command::new(python())
        .arg(client_script())
        .arg(mode)
        .arg(steps.to_string())
        .args(tail)
        .stderr(Stdio::piped())
        .output()
        .expect("run the MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the MCP client printed no JSON ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    });
    assert!(
        out.status.success(),
        "MCP client failed: {v}\nstderr: {stderr}"
    );
    v["results"].as_array().cloned().expect("results")
}

/// The environment the client gives the stdio server: HOME and TAI_HOME in the temp dir.
fn server_env(home: &Path) -> Vec<String> {
    vec![
        format!("HOME={}", home.display()),
        format!("TAI_HOME={}", home.join(".tai").display()),
    ]
}

/// The `tai mcp` command line: keys and known_hosts for the test host, `hosts` allowed.
fn tai_mcp_args(key: &Path, known_hosts: &Path, hosts: &str) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_tai").to_string(),
        "--ignore-ssh-config".into(),
        "-i".into(),
        key.display().to_string(),
        "--known-hosts".into(),
        known_hosts.display().to_string(),
        "mcp".into(),
        "--hosts".into(),
        hosts.into(),
    ]
}

fn text(result: &Value) -> String {
    result["texts"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn sshd_with_known_hosts(home: &Path) -> (Sshd, PathBuf) {
    let sshd = Sshd::start();
    let kh = home.join("known_hosts");
    std::fs::write(&kh, sshd.known_hosts_line()).unwrap();
    (sshd, kh)
}

/// The calls both transports make: list the tools, read a file on the sshd host, a denied read,
/// an unlisted host. Checks the answers.
fn steps_and_checks(target: &str, canary: &Path) -> (Value, impl Fn(&[Value])) {
    let steps = json!([
        {"op": "list_tools"},
        {"op": "call", "tool": "read_file", "args": {"host": target, "path": canary.display().to_string()}},
        {"op": "call", "tool": "read_file", "args": {"host": target, "path": "/etc/shadow"}},
        {"op": "call", "tool": "system_info", "args": {"host": "db-prod-9"}},
        {"op": "call", "tool": "read_file", "args": {"host": target, "path": canary.display().to_string(), "lines": 1}},
    ]);
    let target = target.to_string();
    let check = move |r: &[Value]| {
        let tools = r[0]["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        for want in [
            "read_file",
            "read_journal",
            "run_command",
            "triage",
            "collect",
            "search_runbooks",
            "search_history",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let read_file = tools.iter().find(|t| t["name"] == "read_file").unwrap();
        let schema = &read_file["input_schema"];
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!("host")),
            "{schema}"
        );
        assert!(schema["properties"]["path"].is_object(), "{schema}");
        assert_eq!(schema["properties"]["host"]["enum"], json!([target]));
        let search = tools
            .iter()
            .find(|t| t["name"] == "search_runbooks")
            .unwrap();
        assert!(search["input_schema"]["properties"].get("host").is_none());

        assert_eq!(r[1]["is_error"], false, "{}", r[1]);
        assert!(text(&r[1]).contains("mcp-canary-line"), "{}", r[1]);

        assert_eq!(r[2]["is_error"], true, "{}", r[2]);
        let denied = text(&r[2]);
        assert!(denied.contains("denied"), "{denied}");
        assert!(denied.contains("/etc/shadow"), "{denied}");
        assert!(denied.contains("never read"), "reason missing: {denied}");

        assert_eq!(r[3]["is_error"], true, "{}", r[3]);
        let refused = text(&r[3]);
        assert!(refused.contains("db-prod-9"), "{refused}");
        assert!(refused.contains(&format!("allowed: {target}")), "{refused}");

        // The server kept serving after the denial and the refusal, on the warm connection.
        assert_eq!(r[4]["is_error"], false, "{}", r[4]);
        assert!(text(&r[4]).contains("mcp-canary-line"), "{}", r[4]);
    };
    (steps, check)
}

#[test]
fn stdio_tools_policy_denials_and_the_host_allowlist_with_a_real_client() {
    let home = tempfile::tempdir().unwrap();
    let (sshd, kh) = sshd_with_known_hosts(home.path());
    let canary = home.path().join("canary.log");
    std::fs::write(&canary, "mcp-canary-line\n").unwrap();
    let target = sshd.target();
    let (steps, check) = steps_and_checks(&target, &canary);
    let mut tail = server_env(home.path());
    tail.push("--".into());
    tail.extend(tai_mcp_args(sshd.client_key(), &kh, &target));
    let r = run_client("stdio", &steps, &tail);
    check(&r);
    // One SSH login served every call (the connection stays warm).
    assert_eq!(
        sshd.log_text().matches("Accepted publickey").count(),
        1,
        "{}",
        sshd.log_text()
    );
    // The audit log covers MCP calls: the read that ran and the one refused.
    let audit = crate::support::tai_cmd(home.path())
        .env("TAI_HOME", home.path().join(".tai"))
        .args(["audit", "--json"])
        .output()
        .unwrap();
    let audit_text = crate::support::stdout_of(&audit);
    assert!(audit_text.contains("canary.log"), "audit: {audit_text}");
    assert!(audit_text.contains("/etc/shadow"), "audit: {audit_text}");
}

#[test]
fn triage_on_a_scenario_host_returns_its_finding() {
    let _host = crate::support::host_state_lock_blocking();
    let sc = Scenario::start("port-conflict");
    let home = tempfile::tempdir().unwrap();
    let target = sc.target();
    let steps = json!([
        {"op": "call", "tool": "triage", "args": {"host": target, "issue": sc.spec.issue}},
        {"op": "get_prompt", "name": "investigate", "args": {"host": target, "issue": sc.spec.issue}},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "tai://runbooks/nginx.md#Upstream timeouts (504)"},
    ]);
    let mut tail = server_env(home.path());
    tail.push("--".into());
    tail.extend(tai_mcp_args(sc.key(), sc.known_hosts(), &target));
    let r = run_client("stdio", &steps, &tail);
    assert_eq!(r[0]["is_error"], false, "{}", r[0]);
    let summary = r[0]["texts"][0].as_str().unwrap();
    let report: tai::report::Report =
        serde_json::from_str(r[0]["texts"][1].as_str().unwrap()).expect("report JSON");
    eprintln!("triage summary:\n{summary}");
    let kinds: Vec<&str> = report.findings.iter().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&"port_conflict"), "{kinds:?}\n{summary}");
    assert!(summary.contains("port_conflict"), "{summary}");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.summary.contains("80") || f.subject.contains("80")),
        "{kinds:?}"
    );
    assert_eq!(report.mode, "triage");
    assert!(text(&r[1]).contains(&target), "{}", r[1]);
    // Runbook sections are resources.
    let uris = r[2]["uris"].as_array().unwrap();
    assert!(
        uris.contains(&json!("tai://runbooks/nginx.md#Upstream timeouts (504)")),
        "{uris:?}"
    );
    let section = text(&r[3]);
    assert!(
        section.starts_with("## Upstream timeouts (504)"),
        "{section}"
    );
    assert!(section.contains("proxy_read_timeout"), "{section}");
    sc.finish();
}

/// A child process killed (and reaped) when the test ends, passing or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tai mcp --http 127.0.0.1:0` with a token; returns the child and the URL it printed.
fn spawn_http(home: &Path, args: &[String], token: &str) -> (KillOnDrop, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = crate::support::tai_cmd(home);
    cmd.args(&args[1..])
        .args(["--http", "127.0.0.1:0", "--idle-timeout", "60"])
        .env("TAI_MCP_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: prctl in the child before exec: the server dies with the test process even when
    // a test run is killed and never reaches the guard's drop.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("tai mcp: {line}");
            if let Some(rest) = line.split("serving streamable HTTP on ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("tai mcp --http printed its address");
    (child, url)
}

#[tokio::test]
async fn streamable_http_needs_the_bearer_token_and_serves_the_same_tools() {
    let home = tempfile::tempdir().unwrap();
    let (sshd, kh) = sshd_with_known_hosts(home.path());
    let canary = home.path().join("canary.log");
    std::fs::write(&canary, "mcp-canary-line\n").unwrap();
    let target = sshd.target();
    let args = tai_mcp_args(sshd.client_key(), &kh, &target);
    let token = "t0ken-for-the-mcp-test";
    let (_server, url) = spawn_http(home.path(), &args, token);

    // Without the token (and with a wrong one): 401, nothing served.
    let http = tai::llm::http::client_builder().build().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    for auth in [None, Some("Bearer wrong")] {
        let mut req = http
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
    }

    // With it, the real client: the same checks as over stdio.
    let (steps, check) = steps_and_checks(&target, &canary);
    let r = tokio::task::spawn_blocking(move || {
        run_client("http", &steps, &[url, "--token".into(), token.into()])
    })
    .await
    .unwrap();
    check(&r);
}

#[test]
fn a_non_loopback_address_without_a_token_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = crate::support::tai_cmd(home.path())
        .args(["mcp", "--hosts", "local", "--http", "0.0.0.0:0"])
        .output()
        .unwrap();
    let stderr = crate::support::stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("without a bearer token"), "{stderr}");
    assert!(stderr.contains("TAI_MCP_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn a_dropped_connection_is_made_again_once_and_a_changed_host_key_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let (mut sshd, kh) = sshd_with_known_hosts(home.path());
    let cfg = tai::config::Config::resolve_with(
        &tai::config::Overrides {
            tai_home: Some(home.path().join(".tai")),
            identity_files: vec![sshd.client_key().to_path_buf()],
            known_hosts: Some(kh),
            ignore_ssh_config: true,
            no_persist: true,
            ..Default::default()
        },
        &|_| None,
    )
    .unwrap();
    let target = sshd.target();
    let opts = tai::mcp::Options {
        hosts: vec![target.clone()],
        host_patterns: vec![],
        idle_timeout: Duration::from_secs(300),
        http: None,
        token: None,
    };
    let server = tai::mcp::TaiMcp::new(&cfg, &opts).await.unwrap();
    let tools = server.tools();
    let cancel = tokio_util::sync::CancellationToken::new();
    let args = |v: Value| v.as_object().cloned();
    let first = tools
        .call("system_info", args(json!({"host": target})), &cancel)
        .await;
    assert_eq!(first.is_error, Some(false), "{first:?}");
    sshd.kill_connections();
    let second = tools
        .call("system_info", args(json!({"host": target})), &cancel)
        .await;
    assert_eq!(second.is_error, Some(false), "{second:?}");
    assert_eq!(
        sshd.log_text().matches("Accepted publickey").count(),
        2,
        "one login, then one reconnect:\n{}",
        sshd.log_text()
    );

    // Another host key on the same address: that host is refused, as a tool error, and
    // the server goes on answering (here: the allowlist refusal of another host).
    sshd.kill_connections();
    sshd.replace_host_key();
    let third = tools
        .call("system_info", args(json!({"host": target})), &cancel)
        .await;
    assert_eq!(third.is_error, Some(true), "{third:?}");
    let said = format!("{:?}", third.content).to_lowercase();
    assert!(said.contains("host key"), "{said}");
    let fourth = tools
        .call("system_info", args(json!({"host": "elsewhere"})), &cancel)
        .await;
    assert_eq!(fourth.is_error, Some(true), "{fourth:?}");
    assert_eq!(
        sshd.log_text().matches("Accepted publickey").count(),
        2,
        "no login after the key changed:\n{}",
        sshd.log_text()
    );
}
