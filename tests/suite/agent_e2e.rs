//! End to end with real parts: a scripted model (Ollama wire format through wiremock) and a
//! real OpenSSH sshd on loopback, through the real registry, policy and SSH transport.
use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::model::*;
use crate::support::sshd::Sshd;
use serde_json::{json, Value};
use tai::agent::{Session, SessionOptions};
use tai::config::{Config, Overrides};
use tai::transport::Target;
use tokio_util::sync::CancellationToken;

const M: &str = "qwen3:4b";

fn config(home: &Path, sshd: &Sshd, base_url: &str) -> Config {
    let o = Overrides {
        tai_home: Some(home.join(".tai")),
        base_url: Some(base_url.to_string()),
        identity_files: vec![sshd.client_key().to_path_buf()],
        known_hosts: Some(home.join("known_hosts")),
        ignore_ssh_config: true,
        no_persist: true,
        ..Default::default()
    };
    let mut c = Config::resolve_with(&o, &|_| None).expect("config");
    c.model.timeout = Duration::from_secs(10);
    c
}

async fn session(cfg: &Config, sshd: &Sshd) -> Session {
    let target = Target::parse(&sshd.target()).unwrap();
    Session::start(
        cfg,
        &target,
        SessionOptions::new(sshd.target(), cfg.model.max_steps),
    )
    .await
    .expect("session starts")
}

/// A unique directory on the host (this machine, reached over SSH).
fn scratch(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("tai-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

const FINAL: &str = "## Root Cause\nThe marker file says nginx is down.\n\n## Evidence\n- The file holds the marker [T1]\n\n## Recommended Actions\n1. `systemctl start nginx`\n\n## Confidence\nmedium";

#[tokio::test(flavor = "multi_thread")]
async fn second_request_carries_real_host_output() {
    let sshd = Sshd::start();
    let dir = scratch("marker");
    let marker = format!("tai-marker-{}", std::process::id());
    std::fs::write(dir.join("note.txt"), format!("{marker}\nnginx is down\n")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[(
                    "call_k2j4h6g8",
                    "read_file",
                    json!({"path": dir.join("note.txt")}),
                )],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    let r = sess
        .turn("nginx is down", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 2);
    let results = tool_results(&reqs[1]);
    assert_eq!(results[0].0, "call_k2j4h6g8");
    assert!(
        results[0].1.contains(&marker),
        "real host output reaches the model: {}",
        results[0].1
    );
    assert_eq!(r.tool_calls[0].status, tai::tools::CallStatus::Ok);
    assert!(!r.tool_calls[0].command.is_empty());
    // The first message carried the host facts detected over SSH.
    let first = content_text(&messages(&reqs[0])[1]);
    assert!(
        first.contains("Host facts:") && !first.contains("not detected"),
        "{first}"
    );
    // Retrieved runbook context (bundled runbooks, a temporary store under --no-persist).
    assert!(first.contains("[runbook: nginx.md"), "{first}");
    assert!(
        !first.contains("Deterministic findings"),
        "nothing collected, no findings section"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_calls_are_denied_and_the_host_is_unchanged() {
    let sshd = Sshd::start();
    let dir = scratch("victim");
    std::fs::write(dir.join("keep"), "still here").unwrap();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    let rm = format!("rm -rf {}", dir.display());
    s.script(OA_PATH, vec![
        Scripted::ok(oa_tool_calls(M, &[
            ("call_s1", "read_file", json!({"path": "/etc/shadow"})),
            ("call_s2", "run_command", json!({"command": rm})),
            ("call_s3", "run_command", json!({"command": format!("touch {}/pwned", dir.display())})),
            ("call_s4", "run_command", json!({"command": format!("cat /etc/hostname; touch {}/pwned2", dir.display())})),
        ])),
        Scripted::ok(oa_text(M, "## Root Cause\nunknown\n## Evidence\n- denied [T1]\n## Recommended Actions\n1. none\n## Confidence\nlow")),
    ]).await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    let r = sess
        .turn("check the host", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let results = tool_results(&reqs[1]);
    assert_eq!(results.len(), 4);
    for (_, text) in &results[..3] {
        assert!(
            text.contains("DENIED"),
            "the model is told it was refused: {text}"
        );
    }
    assert!(
        results[3].1.contains("ERROR") && results[3].1.contains("`;`"),
        "shell syntax is refused with a reason: {}",
        results[3].1
    );
    assert!(
        r.tool_calls[..3]
            .iter()
            .all(|t| t.status == tai::tools::CallStatus::Denied),
        "{:?}",
        r.tool_calls
    );
    assert!(
        r.tool_calls.iter().all(|t| t.exit_code.is_none()),
        "nothing ran: {:?}",
        r.tool_calls
    );
    assert!(dir.join("keep").exists(), "rm -rf did not run");
    assert!(
        !dir.join("pwned").exists() && !dir.join("pwned2").exists(),
        "touch did not run"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tai run` as a user runs it (the issue's "Done when"), against sshd and a scripted server.
#[tokio::test(flavor = "multi_thread")]
async fn tai_run_json_against_sshd_and_scripted_model() {
    let sshd = Sshd::start();
    let dir = scratch("run");
    std::fs::write(
        dir.join("error.log"),
        "2026/11/25 08:00:01 [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n",
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![
        Scripted::ok(oa_tool_calls(M, &[
            ("call_a1", "read_file", json!({"path": dir.join("error.log")})),
            ("call_a2", "system_info", json!({})),
            ("call_a3", "read_file", json!({"path": "/etc/shadow"})),
        ])),
        Scripted::ok(oa_tool_calls(M, &[("call_b1", "run_command", json!({"command": format!("rm -rf {}", dir.display())}))])),
        Scripted::ok(oa_text(M, "## Root Cause\nnginx cannot bind port 80 because another process holds it.\n\n## Evidence\n- error.log: bind() to 0.0.0.0:80 failed (98: Address already in use) [T1]\n- host is up [T2]\n\n## Recommended Actions\n1. `ss -ltnp 'sport = :80'` to find the holder\n2. stop it, then `systemctl start nginx`\n\n## Confidence\nhigh")),
    ]).await;
    let out_md = home.path().join("report.md");
    let mut cmd = support::tai_cmd(home.path());
    cmd.args([
        "run",
        &sshd.target(),
        "nginx is down",
        "--base-url",
        &s.v1_url(),
        "--json",
        "--no-persist",
    ])
    .arg("-i")
    .arg(sshd.client_key())
    .arg("--known-hosts")
    .arg(home.path().join("known_hosts"))
    .arg("--ignore-ssh-config")
    .arg("--output-file")
    .arg(&out_md);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tai run failed: {stderr}");
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    for k in [
        "host",
        "issue",
        "category",
        "root_cause",
        "evidence",
        "actions",
        "confidence",
        "tool_calls",
        "tokens",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["issue"], "nginx is down");
    assert_eq!(v["confidence"], "high");
    assert_eq!(v["evidence"][0]["sources"], json!(["T1"]));
    assert!(
        v["tokens"]["prompt"].as_u64().unwrap() > 0
            && v["tokens"]["completion"].as_u64().unwrap() > 0
    );
    let calls = v["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4);
    for c in calls {
        for k in [
            "id",
            "tool",
            "args",
            "command",
            "status",
            "exit_code",
            "duration_ms",
        ] {
            assert!(c.get(k).is_some(), "tool call lacks {k}: {c}");
        }
    }
    assert_eq!(calls[0]["status"], "ok");
    assert_eq!(calls[0]["exit_code"], 0);
    assert_eq!(calls[2]["status"], "denied");
    assert_eq!(calls[3]["status"], "denied");
    assert!(dir.join("error.log").exists(), "the host is unchanged");
    // Progress went to stderr, the report to the file.
    assert!(stderr.contains("read_file"), "{stderr}");
    let md = std::fs::read_to_string(&out_md).unwrap();
    assert!(
        md.contains("## Root Cause") && md.contains("| T1 | read_file |"),
        "{md}"
    );
    // The real host output reached the model.
    let reqs = s.requests(OA_PATH).await;
    assert!(tool_results(&reqs[1])[0]
        .1
        .contains("Address already in use"));
    assert!(
        !home.path().join(".tai").exists()
            || std::fs::read_dir(home.path().join(".tai"))
                .unwrap()
                .next()
                .is_none(),
        "--no-persist wrote nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rewrites a file on the host when the model is asked for the n-th time: if the repeated call
/// ran again, the model would see the new content.
struct RewriteOn {
    n: usize,
    path: PathBuf,
    replies: Vec<Value>,
    count: std::sync::atomic::AtomicUsize,
}

impl wiremock::Respond for RewriteOn {
    fn respond(&self, _r: &wiremock::Request) -> wiremock::ResponseTemplate {
        let i = self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if i == self.n {
            std::fs::write(&self.path, "CHANGED\n").unwrap();
        }
        wiremock::ResponseTemplate::new(200)
            .set_body_json(&self.replies[i.min(self.replies.len() - 1)])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_call_is_answered_from_the_first_result_not_rerun() {
    let sshd = Sshd::start();
    let dir = scratch("repeat");
    let file = dir.join("state.txt");
    std::fs::write(&file, "ORIGINAL\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path(OA_PATH))
        .respond_with(RewriteOn {
            n: 1,
            path: file.clone(),
            replies: vec![
                oa_tool_calls(M, &[("call_r1", "read_file", json!({"path": file}))]),
                oa_tool_calls(M, &[("call_r2", "read_file", json!({"path": file}))]),
                oa_text(M, FINAL),
            ],
            count: Default::default(),
        })
        .mount(&s.server)
        .await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    let r = sess
        .turn("what is in the state file?", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let res = tool_results(&reqs[2]);
    assert_eq!(res[1].0, "call_r2");
    assert!(res[1].1.contains("repeats T1"), "{}", res[1].1);
    assert!(
        res[1].1.contains("ORIGINAL") && !res[1].1.contains("CHANGED"),
        "answered from T1, not re-run: {}",
        res[1].1
    );
    assert_eq!(r.tool_calls.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_500_then_success_and_malformed_arguments() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::status(
                500,
                oa_error("llama runner process has terminated: signal: killed"),
            ),
            Scripted::ok(oa_raw_tool_call(
                M,
                "call_m1",
                "read_file",
                "{\"path\": \"/etc/hostname\"",
            )),
            Scripted::status(502, oa_error("bad gateway")),
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_m2", "read_file", json!({"path": "/etc/hostname"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let mut cfg = config(home.path(), &sshd, &s.v1_url());
    cfg.model.timeout = Duration::from_secs(5);
    let mut sess = session(&cfg, &sshd).await;
    let r = sess
        .turn("which host is this?", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 5, "each 5xx was retried once");
    let res = tool_results(&reqs[3]);
    assert!(
        res[0].1.contains("invalid arguments for read_file"),
        "{}",
        res[0].1
    );
    let host = std::fs::read_to_string("/etc/hostname").unwrap();
    let res = tool_results(&reqs[4]);
    assert!(
        res[1].1.contains(host.trim()),
        "the corrected call ran on the host: {}",
        res[1].1
    );
    assert_eq!(r.tool_calls.len(), 2);
    assert_eq!(r.tool_calls[0].status, tai::tools::CallStatus::Error);
    assert_eq!(r.tool_calls[1].status, tai::tools::CallStatus::Ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_steps_reached_ends_with_the_best_report() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_1", "read_file", json!({"path": "/etc/hostname"}))],
            )),
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_2", "read_file", json!({"path": "/etc/os-release"}))],
            )),
            // The last step is sent without tools; this model still asks for one (in its text).
            Scripted::ok(oa_text(
                M,
                "{\"name\": \"read_file\", \"arguments\": {\"path\": \"/etc/hosts\"}}",
            )),
        ],
    )
    .await;
    let mut cfg = config(home.path(), &sshd, &s.v1_url());
    cfg.model.max_steps = 3;
    let target = Target::parse(&sshd.target()).unwrap();
    let mut sess = Session::start(&cfg, &target, SessionOptions::new(sshd.target(), 3))
        .await
        .unwrap();
    let r = sess
        .turn("something is wrong", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    assert!(!offered_tools(&reqs[0]).is_empty());
    assert!(
        offered_tools(&reqs[2]).is_empty(),
        "the last step has no tools"
    );
    assert!(last_user_text(&reqs[2]).contains("last step"));
    assert_eq!(reqs.len(), 3, "the bound holds");
    assert_eq!(
        r.tool_calls.len(),
        2,
        "the call asked for at the bound did not run"
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("step limit (3)")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.confidence, "low");
    assert_eq!(r.evidence.len(), 2);
    assert_eq!(r.evidence[0].sources, vec!["T1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn text_protocol_fallback_runs_real_tools() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    let g = "gemma3:4b";
    s.script(OA_PATH, vec![
        Scripted::status(400, oa_error("registry.ollama.ai/library/gemma3:4b does not support tools")),
        Scripted::ok(oa_text(g, "Let me read the hostname.\n```json\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"/etc/hostname\"}}\n```")),
        Scripted::ok(oa_text(g, FINAL)),
    ]).await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    let r = sess
        .turn("which host is this?", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(sess.mode(), tai::llm::ToolMode::Text);
    let reqs = s.requests(OA_PATH).await;
    assert!(offered_tools(&reqs[1]).is_empty());
    let host = std::fs::read_to_string("/etc/hostname").unwrap();
    assert!(last_user_text(&reqs[2]).contains(host.trim()));
    assert_eq!(r.tool_calls[0].status, tai::tools::CallStatus::Ok);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_compaction_keeps_requests_under_the_budget() {
    let sshd = Sshd::start();
    let dir = scratch("big");
    for i in 0..4 {
        let body: String = (0..400)
            .map(|n| format!("{i}: log line {n} with some words to fill the context\n"))
            .collect();
        std::fs::write(dir.join(format!("f{i}.log")), body).unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    let mut replies: Vec<Scripted> = (0..4)
        .map(|i| {
            Scripted::ok(oa_tool_calls(
                M,
                &[(
                    &*format!("call_{i}"),
                    "read_file",
                    json!({"path": dir.join(format!("f{i}.log"))}),
                )],
            ))
        })
        .collect();
    replies.push(Scripted::ok(oa_tool_calls(
        M,
        &[(
            "call_again",
            "read_file",
            json!({"path": dir.join("f0.log")}),
        )],
    )));
    replies.push(Scripted::ok(oa_text(M, FINAL)));
    s.script(OA_PATH, replies).await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let target = Target::parse(&sshd.target()).unwrap();
    let mut opts = SessionOptions::new(sshd.target(), 12);
    opts.context_tokens = 8000;
    let mut sess = Session::start(&cfg, &target, opts).await.unwrap();
    let r = sess
        .turn("read the logs", &CancellationToken::new())
        .await
        .unwrap();
    assert!(sess.compactions() >= 1);
    let reqs = s.requests(OA_PATH).await;
    let last = reqs.last().unwrap();
    let res = tool_results(last);
    assert!(res[0].1.contains("compacted by tai"), "{}", res[0].1);
    assert!(
        res.last().unwrap().1.contains("repeats T1")
            && res.last().unwrap().1.contains("0: log line"),
        "repeat guard works after compaction"
    );
    for req in &reqs {
        let tokens = serde_json::to_string(req).unwrap().len() / 4;
        assert!(
            tokens < 8000 * 9 / 10,
            "request of ~{tokens} tokens exceeds the budget"
        );
    }
    assert!(r.warnings.iter().any(|w| w.contains("compacted")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn collect_puts_the_baseline_into_the_first_message() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![Scripted::ok(oa_text(M, FINAL))])
        .await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    // The options `tai run` and the REPL use: triage findings for the first message.
    let target = Target::parse(&sshd.target()).unwrap();
    let opts = SessionOptions::from_config(&cfg, sshd.target());
    let mut sess = Session::start(&cfg, &target, opts).await.unwrap();
    let baseline = sess
        .collect(Some(tai::plan::Category::Disk), &CancellationToken::new())
        .await
        .unwrap();
    assert!(!baseline.is_empty());
    assert_eq!(baseline[0].call.id, "T1");
    let n = baseline.len();
    let r = sess
        .turn("the disk is full", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.category, "disk");
    assert_eq!(
        r.tool_calls.len(),
        n,
        "baseline calls are part of the report"
    );
    let reqs = s.requests(OA_PATH).await;
    let first = content_text(&messages(&reqs[0])[1]);
    assert!(
        first.contains("Baseline collected by tai (plan for category disk)"),
        "{first}"
    );
    assert!(first.contains(&format!("[T{n}]")), "{first}");
    assert!(
        first.contains("Deterministic findings"),
        "triage ran on the baseline: {first}"
    );
    assert!(r.warnings.is_empty(), "T1 is a real call: {:?}", r.warnings);
}

/// Kills the sshd (connections and listener) when the model is asked for the n-th time.
struct KillOn {
    n: usize,
    sshd: std::sync::Mutex<Option<Sshd>>,
    replies: Vec<Value>,
    count: std::sync::atomic::AtomicUsize,
}

impl wiremock::Respond for KillOn {
    fn respond(&self, _r: &wiremock::Request) -> wiremock::ResponseTemplate {
        let i = self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if i == self.n {
            if let Some(s) = self.sshd.lock().unwrap().as_mut() {
                s.kill_all();
            }
        }
        wiremock::ResponseTemplate::new(200)
            .set_body_json(&self.replies[i.min(self.replies.len() - 1)])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_host_ends_the_turn_with_a_transport_error() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    wiremock::Mock::given(wiremock::matchers::path(OA_PATH))
        .respond_with(KillOn {
            n: 1,
            sshd: std::sync::Mutex::new(Some(sshd)),
            replies: vec![
                oa_tool_calls(
                    M,
                    &[("call_1", "read_file", json!({"path": "/etc/hostname"}))],
                ),
                oa_tool_calls(
                    M,
                    &[("call_2", "read_file", json!({"path": "/etc/os-release"}))],
                ),
                oa_text(M, FINAL),
            ],
            count: Default::default(),
        })
        .mount(&s.server)
        .await;
    let e = sess
        .turn("which host is this?", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(e, tai::agent::AgentError::Transport(_)), "{e:?}");
    assert_eq!(
        tai::exit::HasExitCode::exit_code(&e),
        tai::exit::Code::Connection,
        "{e}"
    );
    assert_eq!(
        s.requests(OA_PATH).await.len(),
        2,
        "the turn ended at the fatal error"
    );
    assert_eq!(sess.outcomes().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_turn_keeps_the_session_and_its_connection() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    // The first request hangs (a slow model); the user presses Ctrl-C.
    wiremock::Mock::given(wiremock::matchers::path(OA_PATH))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(oa_text(M, FINAL))
                .set_delay(Duration::from_secs(8)),
        )
        .up_to_n_times(1)
        .mount(&s.server)
        .await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[("call_1", "read_file", json!({"path": "/etc/hostname"}))],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let cfg = config(home.path(), &sshd, &s.v1_url());
    let mut sess = session(&cfg, &sshd).await;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel();
    });
    let t = std::time::Instant::now();
    let e = sess.turn("which host is this?", &cancel).await.unwrap_err();
    assert!(matches!(e, tai::agent::AgentError::Interrupted));
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "Ctrl-C stops the turn at once"
    );
    // Same session, same SSH connection: the next turn runs real tools.
    let r = sess
        .turn("which host is this?", &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].status, tai::tools::CallStatus::Ok);
    assert!(sess.transcript_markdown().contains("turn interrupted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tai_run_terminal_report_is_plain_under_no_color() {
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[
                    ("call_1", "read_file", json!({"path": "/etc/hostname"})),
                    ("call_2", "read_file", json!({"path": "/etc/shadow"})),
                ],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let mut cmd = support::tai_cmd(home.path());
    cmd.args([
        "run",
        "local",
        "which",
        "host",
        "is",
        "this?",
        "--base-url",
        &s.v1_url(),
        "--no-persist",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "NO_COLOR: no escapes"
    );
    for h in [
        "Root Cause",
        "Evidence",
        "Recommended Actions",
        "Commands run (read-only)",
    ] {
        assert!(stdout.contains(h), "missing {h}: {stdout}");
    }
    assert!(
        stdout.contains("T2 ⊘") && stdout.contains("denied"),
        "{stdout}"
    );
    assert!(
        stderr.contains("✓ T1 read_file") && stderr.contains("✗ T2 read_file"),
        "{stderr}"
    );
    let reqs = s.requests(OA_PATH).await;
    assert_eq!(
        last_user_text(&reqs[0]).lines().nth(4),
        Some("which host is this?")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tools_and_bad_arguments_come_back_as_actionable_errors() {
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_tool_calls(
                M,
                &[
                    ("call_u1", "restart_service", json!({"unit": "nginx"})),
                    ("call_u2", "read_file", json!({"file": "/etc/hostname"})),
                ],
            )),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let o = Overrides {
        tai_home: Some(home.path().join(".tai")),
        base_url: Some(s.v1_url()),
        no_persist: true,
        ..Default::default()
    };
    let cfg = Config::resolve_with(&o, &|_| None).unwrap();
    let mut sess = Session::start(&cfg, &Target::Local, SessionOptions::new("local", 12))
        .await
        .unwrap();
    let r = sess
        .turn("restart nginx", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let res = tool_results(&reqs[1]);
    assert!(
        res[0].1.contains("unknown tool `restart_service`") && res[0].1.contains("read_file"),
        "{}",
        res[0].1
    );
    assert!(
        res[1].1.contains("ERROR") && res[1].1.to_lowercase().contains("path"),
        "{}",
        res[1].1
    );
    assert!(r
        .tool_calls
        .iter()
        .all(|t| t.status == tai::tools::CallStatus::Error));
}

#[tokio::test(flavor = "multi_thread")]
async fn tai_run_saves_the_session_to_history_unless_no_persist() {
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![
        Scripted::ok(oa_tool_calls(M, &[("call_1", "read_file", json!({"path": "/etc/hostname"}))])),
        Scripted::ok(oa_text(M, "## Root Cause\nThe marker service zebra-frobnicator is stopped.\n## Evidence\n- hostname read [T1]\n## Recommended Actions\n1. start it\n## Confidence\nlow")),
    ]).await;
    let mut cmd = support::tai_cmd(home.path());
    cmd.args([
        "run",
        "local",
        "zebra-frobnicator is down",
        "--base-url",
        &s.v1_url(),
        "--json",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = support::tai_cmd(home.path());
    cmd.args(["history", "zebra-frobnicator"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("zebra-frobnicator is stopped"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn collect_between_turns_reaches_the_follow_up_message() {
    let home = tempfile::tempdir().unwrap();
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::ok(oa_text(M, FINAL)),
            Scripted::ok(oa_text(M, FINAL)),
        ],
    )
    .await;
    let o = Overrides {
        tai_home: Some(home.path().join(".tai")),
        base_url: Some(s.v1_url()),
        no_persist: true,
        ..Default::default()
    };
    let cfg = Config::resolve_with(&o, &|_| None).unwrap();
    let opts = SessionOptions::from_config(&cfg, "local");
    let mut sess = Session::start(&cfg, &Target::Local, opts).await.unwrap();
    sess.turn("the disk is full", &CancellationToken::new())
        .await
        .unwrap();
    let baseline = sess.collect(None, &CancellationToken::new()).await.unwrap();
    assert_eq!(baseline[0].call.id, "T1", "ids continue from the session");
    sess.turn("and now?", &CancellationToken::new())
        .await
        .unwrap();
    let reqs = s.requests(OA_PATH).await;
    let follow = last_user_text(&reqs[1]);
    assert!(follow.starts_with("and now?"), "{follow}");
    assert!(
        follow.contains("Baseline collected by tai (plan for category disk)"),
        "{follow}"
    );
    assert!(follow.contains("Deterministic findings"), "{follow}");
    assert!(!last_user_text(&reqs[0]).contains("Baseline collected"));
}
