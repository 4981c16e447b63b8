//! The recorded sessions in `fixtures/llm/` (exact Ollama wire format, both routes) replayed
//! through wiremock against a real loopback sshd with the real registry, policy and SSH
//! transport. Each replay must end in a report, and every request tai sends must have the
//! shape of the recorded one (route, model, message roles, tool-call ids and names, offered
//! tools); host output may differ from host to host.
//!
//! `TAI_WRITE_FIXTURES=1 cargo test --test all -- suite::agent_fixtures` re-records the files with
//! `--record` (the responses are scripted below as Ollama writes them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::model::*;
use crate::support::sshd::Sshd;
use serde_json::{json, Value};
use tai::agent::{Session, SessionOptions};
use tai::config::{Config, Overrides};
use tai::transport::Target;
use tokio_util::sync::CancellationToken;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/llm")
}

fn config(
    home: &Path,
    sshd: &Sshd,
    base_url: &str,
    model: &str,
    record: Option<PathBuf>,
) -> Config {
    let o = Overrides {
        tai_home: Some(home.join(".tai")),
        base_url: Some(base_url.to_string()),
        model: Some(model.to_string()),
        identity_files: vec![sshd.client_key().to_path_buf()],
        known_hosts: Some(home.join("known_hosts")),
        ignore_ssh_config: true,
        no_persist: true,
        record_dir: record,
        ..Default::default()
    };
    let mut c = Config::resolve_with(&o, &|_| None).expect("config");
    c.model.timeout = Duration::from_secs(10);
    c
}

struct Script {
    name: &'static str,
    description: &'static str,
    issue: &'static str,
    model: &'static str,
    native: bool,
    show: Value,
    replies: Vec<Scripted>,
}

const REPORT_NGINX: &str = "## Root Cause\nnginx is not running on this host: there is no nginx process and its error log is missing, so the service was never started or is not installed.\n\n## Evidence\n- No nginx process appears among the top processes [T2]\n- /var/log/nginx/error.log does not exist [T3]\n- The host itself is healthy: load and memory are normal [T1]\n\n## Recommended Actions\n1. Check whether nginx is installed: `dpkg -l nginx` or `rpm -q nginx`\n2. Start it and watch the journal: `systemctl start nginx && journalctl -u nginx -n 50`\n\n## Confidence\nmedium — the absence of the process is clear, the reason is not.";

fn scripts() -> Vec<Script> {
    let q = "qwen3:4b";
    let g = "gemma3:4b";
    vec![
        Script {
            name: "openai-multi-tool",
            description: "OpenAI-compatible /v1, qwen3:4b: one turn with three concurrent tool calls, then the report",
            issue: "nginx is down",
            model: q,
            native: false,
            show: show("qwen3", &["completion", "tools", "thinking"], 40960),
            replies: vec![
                Scripted::ok(oa_tool_calls(q, &[
                    ("call_x1m0wq2p", "system_info", json!({})),
                    ("call_7hd0s2kq", "list_processes", json!({"sort": "cpu", "limit": 15})),
                    ("call_q9v3b8zt", "read_file", json!({"path": "/var/log/nginx/error.log", "lines": 50})),
                ])),
                Scripted::ok(oa_text(q, REPORT_NGINX)),
            ],
        },
        Script {
            name: "openai-tool-error",
            description: "OpenAI-compatible /v1, qwen3:4b: a failing call (missing file) and a denied call (/etc/shadow); the model recovers",
            issue: "users cannot log in",
            model: q,
            native: false,
            show: show("qwen3", &["completion", "tools", "thinking"], 40960),
            replies: vec![
                Scripted::ok(oa_tool_calls(q, &[
                    ("call_n4k8r2xw", "read_file", json!({"path": "/var/log/auth.log.missing", "lines": 100})),
                    ("call_j3p7t1ms", "read_file", json!({"path": "/etc/shadow"})),
                ])),
                Scripted::ok(oa_tool_calls(q, &[("call_c6f1y9ud", "read_file", json!({"path": "/etc/os-release"}))])),
                Scripted::ok(oa_text(q, "## Root Cause\nNot determined: the authentication log could not be read and tai refuses to read password hashes.\n\n## Evidence\n- /var/log/auth.log.missing does not exist [T1]\n- /etc/shadow is refused by the read-only policy [T2]\n- The OS release is known [T3]\n\n## Recommended Actions\n1. Look at `journalctl -u ssh -n 100` for failed logins\n2. Check `/etc/nsswitch.conf` and the PAM stack\n\n## Confidence\nlow — no authentication evidence was available.")),
            ],
        },
        Script {
            name: "openai-malformed-call",
            description: "OpenAI-compatible /v1, qwen3:4b: a tool call with cut-off JSON arguments, tai's actionable error, the corrected call, then the report",
            issue: "the disk is filling up",
            model: q,
            native: false,
            show: show("qwen3", &["completion", "tools", "thinking"], 40960),
            replies: vec![
                Scripted::ok(oa_raw_tool_call(q, "call_m8w2e5ra", "disk_usage", "{\"path\": \"/var\", \"depth\": 2")),
                Scripted::ok(oa_tool_calls(q, &[("call_d0s4l7hv", "disk_usage", json!({"path": "/var", "depth": 2}))])),
                Scripted::ok(oa_text(q, "## Root Cause\nDisk usage is within limits; nothing under /var grows abnormally.\n\n## Evidence\n- Filesystem usage and the largest directories under /var [T2]\n\n## Recommended Actions\n1. Re-check with `df -h` when the alert fires again\n\n## Confidence\nlow")),
            ],
        },
        Script {
            name: "native-tools",
            description: "Ollama native /api/chat (num_ctx sent in options), qwen3:4b with thinking: tool calls with object arguments, then the report",
            issue: "the server is slow",
            model: q,
            native: true,
            show: show("qwen3", &["completion", "tools", "thinking"], 40960),
            replies: vec![
                Scripted::ok(with_thinking(
                    native_tool_calls(q, &[
                        ("call_b7f2k9qa", "cpu_load", json!({})),
                        ("call_r3t8w1zc", "memory_info", json!({})),
                    ]),
                    "The user says the server is slow. I should look at CPU load and memory first.",
                )),
                Scripted::ok(with_thinking(
                    native_text(q, "## Root Cause\nNo resource exhaustion: CPU load and memory are normal, so the slowness is not on this host.\n\n## Evidence\n- Load averages are low [T1]\n- Memory is available and swap is unused [T2]\n\n## Recommended Actions\n1. Measure the application's own latency (upstream, database)\n\n## Confidence\nmedium"),
                    "Both look fine; I can answer.",
                )),
            ],
        },
        Script {
            name: "native-text-protocol",
            description: "Ollama native /api/chat, gemma3:4b (no native tools per /api/show): tool schemas in the prompt, a fenced JSON tool call in the text, then the report",
            issue: "nginx is down",
            model: g,
            native: true,
            show: show("gemma3", &["completion", "vision"], 131072),
            replies: vec![
                Scripted::ok(native_text(g, "I'll start by checking the processes and the OS.\n\n```json\n{\"tool_calls\": [{\"name\": \"list_processes\", \"arguments\": {\"sort\": \"mem\", \"limit\": 10}}, {\"name\": \"system_info\", \"arguments\": {}}]}\n```")),
                Scripted::ok(native_text(g, REPORT_NGINX.replace("[T3]", "[T2]").as_str())),
            ],
        },
        Script {
            name: "openai-content-rescue",
            description: "OpenAI-compatible /v1, qwen3:4b: the model writes its tool call into content (<tool_call> tags) instead of tool_calls; tai rescues it",
            issue: "is the clock in sync?",
            model: q,
            native: false,
            show: show("qwen3", &["completion", "tools", "thinking"], 40960),
            replies: vec![
                Scripted::ok(oa_text(q, "<tool_call>\n{\"name\": \"time_sync\", \"arguments\": {}}\n</tool_call>")),
                Scripted::ok(oa_text(q, "## Root Cause\nTime synchronisation status is reported by the host; see the evidence.\n\n## Evidence\n- time_sync output [T1]\n\n## Recommended Actions\n1. If unsynchronised, check `chronyc sources -v`\n\n## Confidence\nlow")),
            ],
        },
    ]
}

async fn start(cfg: &Config, sshd: &Sshd) -> Session {
    let target = Target::parse(&sshd.target()).unwrap();
    Session::start(
        cfg,
        &target,
        SessionOptions::new(sshd.target(), cfg.model.max_steps),
    )
    .await
    .expect("session starts")
}

async fn record(script: &Script, sshd: &Sshd) {
    let s = ModelServer::start().await;
    s.script(SHOW_PATH, vec![Scripted::ok(script.show.clone())])
        .await;
    let route = if script.native { NATIVE_PATH } else { OA_PATH };
    s.script(route, script.replies.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let rec = home.path().join("rec");
    let base = if script.native {
        s.root_url()
    } else {
        s.v1_url()
    };
    let cfg = config(home.path(), sshd, &base, script.model, Some(rec.clone()));
    let mut sess = start(&cfg, sshd).await;
    sess.turn(script.issue, &CancellationToken::new())
        .await
        .expect("scripted session completes");
    let file = std::fs::read_dir(&rec)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let show_ex = json!({
        "request": {"method": "POST", "path": SHOW_PATH, "body": {"model": script.model}},
        "response": {"status": 200, "body": script.show}
    });
    let mut exchanges = vec![show_ex];
    exchanges.extend(v["exchanges"].as_array().unwrap().iter().cloned());
    v = json!({
        "description": script.description,
        "issue": script.issue,
        "exchanges": exchanges,
    });
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    std::fs::write(
        fixtures_dir().join(format!("{}.json", script.name)),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
}

/// The parts of a chat request that must match between recording and replay.
fn shape(req: &Value) -> Value {
    let msgs: Vec<Value> = req["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    json!({
                        "role": m["role"],
                        "tool_call_id": m.get("tool_call_id"),
                        "calls": m["tool_calls"].as_array().map(|c| c.iter().map(|t| json!([t["id"], t["function"]["name"], t["function"]["arguments"]])).collect::<Vec<_>>()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"model": req["model"], "messages": msgs, "tools": offered_tools(req), "num_ctx": req["options"]["num_ctx"]})
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_sessions_replay_against_a_real_host() {
    let sshd = Sshd::start();
    if std::env::var("TAI_WRITE_FIXTURES").is_ok() {
        for s in scripts() {
            record(&s, &sshd).await;
        }
    }
    let mut seen = 0;
    let mut kinds = std::collections::BTreeSet::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let s = ModelServer::start().await;
        let fx = s.replay(&path).await;
        let chat: Vec<&Value> = fx["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["request"]["path"] != SHOW_PATH)
            .collect();
        let route = chat[0]["request"]["path"].as_str().unwrap().to_string();
        let model = chat[0]["request"]["body"]["model"]
            .as_str()
            .unwrap()
            .to_string();
        kinds.insert(route.clone());
        let base = if route == NATIVE_PATH {
            s.root_url()
        } else {
            s.v1_url()
        };
        let home = tempfile::tempdir().unwrap();
        let cfg = config(home.path(), &sshd, &base, &model, None);
        let mut sess = start(&cfg, &sshd).await;
        let report = sess
            .turn(fx["issue"].as_str().unwrap(), &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !report.root_cause.is_empty() && !report.evidence.is_empty(),
            "{}: {report:?}",
            path.display()
        );
        let sent = s.requests(&route).await;
        assert_eq!(sent.len(), chat.len(), "{}: request count", path.display());
        for (i, (got, want)) in sent.iter().zip(chat.iter()).enumerate() {
            assert_eq!(
                shape(got),
                shape(&want["request"]["body"]),
                "{}: request {i} differs in shape",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 5, "at least five recorded sessions, found {seen}");
    assert!(
        kinds.contains(OA_PATH) && kinds.contains(NATIVE_PATH),
        "both routes covered: {kinds:?}"
    );
}
