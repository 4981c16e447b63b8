//! The model client against a scripted server speaking Ollama's wire format: both routes,
//! tool calls, schema cleaning, num_ctx, retries on 5xx, and the errors users see.

use std::time::Duration;

use crate::support::model::*;
use rig_core::completion::Message;
use serde_json::json;
use tai::llm::{ClientOptions, Endpoint, LlmError, ModelClient, ToolDef};

fn opts(base: &str) -> ClientOptions {
    ClientOptions {
        base_url: base.to_string(),
        model: "qwen3:4b".into(),
        api_key: None,
        endpoint: Endpoint::for_base_url(base),
        num_ctx: Some(16384),
        timeout: Duration::from_secs(5),
        record_dir: None,
        redact: Default::default(),
        retries: 2,
        backoff: Duration::from_millis(10),
        temperature: Some(0.2),
    }
}

fn tools() -> Vec<ToolDef> {
    vec![ToolDef {
        name: "service_status".into(),
        description: "Status of a systemd unit".into(),
        parameters: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "ServiceStatusArgs",
            "type": "object",
            "properties": {"unit": {"type": "string", "title": "Unit"}},
            "required": ["unit"],
            "additionalProperties": false
        }),
    }]
}

fn history() -> Vec<Message> {
    vec![
        Message::system("You are tai."),
        Message::user("nginx is down"),
    ]
}

#[tokio::test]
async fn openai_route_sends_clean_tools_and_reads_calls() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![Scripted::ok(oa_tool_calls(
            "qwen3:4b",
            &[
                ("call_x1m0wq2p", "service_status", json!({"unit": "nginx"})),
                (
                    "call_7hd0s2kq",
                    "service_status",
                    json!({"unit": "php-fpm"}),
                ),
            ],
        ))],
    )
    .await;
    let client = ModelClient::new(opts(&s.v1_url())).unwrap();
    let reply = client.complete(&history(), Some(&tools())).await.unwrap();
    assert_eq!(reply.calls.len(), 2);
    assert_eq!(reply.calls[0].name, "service_status");
    assert_eq!(reply.calls[0].args, json!({"unit": "nginx"}));
    assert_eq!(reply.calls[1].args, json!({"unit": "php-fpm"}));
    assert_eq!(reply.usage, Some((900, 40)));

    let reqs = s.requests(OA_PATH).await;
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req["model"], "qwen3:4b");
    assert_eq!(offered_tools(req), vec!["service_status"]);
    let params = &req["tools"][0]["function"]["parameters"];
    assert!(params.get("$schema").is_none() && params.get("title").is_none());
    assert!(params["properties"]["unit"].get("title").is_none());
    assert!(req.get("num_ctx").is_none() && req.get("options").is_none());
    assert_eq!(last_user_text(req), "nginx is down");
}

#[tokio::test]
async fn native_route_sends_num_ctx_and_reads_object_arguments() {
    let s = ModelServer::start().await;
    s.script(
        NATIVE_PATH,
        vec![Scripted::ok(native_tool_calls(
            "qwen3:4b",
            &[("call_ab12cd34", "service_status", json!({"unit": "nginx"}))],
        ))],
    )
    .await;
    let client = ModelClient::new(opts(&s.root_url())).unwrap();
    let reply = client.complete(&history(), Some(&tools())).await.unwrap();
    assert_eq!(reply.calls[0].args, json!({"unit": "nginx"}));
    assert_eq!(reply.usage, Some((850, 45)));
    let req = &s.requests(NATIVE_PATH).await[0];
    assert_eq!(req["options"]["num_ctx"], 16384);
    assert_eq!(req["stream"], false);
    assert_eq!(offered_tools(req), vec!["service_status"]);
}

#[tokio::test]
async fn server_500_is_retried_then_succeeds() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![
            Scripted::status(
                500,
                oa_error("llama runner process has terminated: signal: killed"),
            ),
            Scripted::status(
                503,
                oa_error("server busy, please try again.  maximum pending requests exceeded"),
            ),
            Scripted::ok(oa_text("qwen3:4b", "## Root Cause\nok")),
        ],
    )
    .await;
    let client = ModelClient::new(opts(&s.v1_url())).unwrap();
    let reply = client.complete(&history(), None).await.unwrap();
    assert_eq!(reply.text, "## Root Cause\nok");
    assert_eq!(s.requests(OA_PATH).await.len(), 3);
}

#[tokio::test]
async fn persistent_500_gives_up_with_the_server_message() {
    let s = ModelServer::start().await;
    let e = oa_error("llama runner process has terminated: exit status 2");
    s.script(
        OA_PATH,
        vec![
            Scripted::status(500, e.clone()),
            Scripted::status(500, e.clone()),
            Scripted::status(500, e),
        ],
    )
    .await;
    let client = ModelClient::new(opts(&s.v1_url())).unwrap();
    let err = client.complete(&history(), None).await.unwrap_err();
    match &err {
        LlmError::Http {
            status, message, ..
        } => {
            assert_eq!(*status, 500);
            assert!(
                message.contains("llama runner process has terminated"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.requests(OA_PATH).await.len(), 3, "1 try + 2 retries");
}

#[tokio::test]
async fn model_missing_says_ollama_pull_and_is_not_retried() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![Scripted::status(
            404,
            oa_error("model \"qwen3:4b\" not found, try pulling it first"),
        )],
    )
    .await;
    let client = ModelClient::new(opts(&s.v1_url())).unwrap();
    let err = client.complete(&history(), None).await.unwrap_err();
    assert!(matches!(err, LlmError::ModelMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("ollama pull qwen3:4b"), "{err}");
    assert_eq!(s.requests(OA_PATH).await.len(), 1);
}

#[tokio::test]
async fn no_tool_support_is_recognised_on_both_routes() {
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![Scripted::status(
            400,
            oa_error("registry.ollama.ai/library/gemma3:4b does not support tools"),
        )],
    )
    .await;
    s.script(
        NATIVE_PATH,
        vec![Scripted::status(
            400,
            native_error("registry.ollama.ai/library/gemma3:4b does not support tools"),
        )],
    )
    .await;
    for base in [s.v1_url(), s.root_url()] {
        let client = ModelClient::new(opts(&base)).unwrap();
        let err = client
            .complete(&history(), Some(&tools()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::NoToolSupport { .. }),
            "{base}: {err:?}"
        );
    }
}

#[tokio::test]
async fn unreachable_and_timeout_are_clear() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ModelClient::new(opts(&format!("http://127.0.0.1:{port}/v1"))).unwrap();
    let err = client.complete(&history(), None).await.unwrap_err();
    assert!(matches!(err, LlmError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("ollama serve"), "{err}");

    let s = ModelServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path(OA_PATH))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(oa_text("qwen3:4b", "late"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&s.server)
        .await;
    let mut o = opts(&s.v1_url());
    o.timeout = Duration::from_secs(1);
    let client = ModelClient::new(o).unwrap();
    let err = client.complete(&history(), None).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn record_writes_a_replayable_fixture() {
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![Scripted::ok(oa_text("qwen3:4b", "hello"))])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&s.v1_url());
    o.record_dir = Some(dir.path().join("rec"));
    let client = ModelClient::new(o).unwrap();
    client.complete(&history(), None).await.unwrap();
    let path = client.recording().unwrap();
    let fx = tai::llm::http::Fixture::load(&path).unwrap();
    assert_eq!(fx.exchanges.len(), 1);
    assert_eq!(fx.exchanges[0].request.path, "/v1/chat/completions");
    assert_eq!(fx.exchanges[0].request.body["model"], "qwen3:4b");
    assert_eq!(fx.exchanges[0].response.status, 200);
    assert_eq!(
        fx.exchanges[0].response.body["choices"][0]["message"]["content"],
        "hello"
    );
    // And it replays.
    let s2 = ModelServer::start().await;
    s2.replay(&path).await;
    let client = ModelClient::new(opts(&s2.v1_url())).unwrap();
    assert_eq!(
        client.complete(&history(), None).await.unwrap().text,
        "hello"
    );
}

#[tokio::test]
async fn probe_picks_the_mode_and_reports_a_missing_model() {
    use tai::agent::{Session, SessionOptions};
    use tai::llm::ToolMode;
    let s = ModelServer::start().await;
    s.script(
        SHOW_PATH,
        vec![
            Scripted::ok(show("qwen3", &["completion", "tools", "thinking"], 40960)),
            Scripted::ok(show("gemma3", &["completion", "vision"], 131072)),
            Scripted::status(404, native_error("model 'qwen3:4b' not found")),
        ],
    )
    .await;
    let client = ModelClient::new(opts(&s.root_url())).unwrap();
    let mut o = SessionOptions::new("h", 12);
    assert_eq!(
        Session::probe_mode(&client, &mut o).await.unwrap(),
        ToolMode::Native
    );
    assert_eq!(
        o.context_tokens, 16384,
        "num_ctx from the options, capped by the model"
    );
    let mut o = SessionOptions::new("h", 12);
    assert_eq!(
        Session::probe_mode(&client, &mut o).await.unwrap(),
        ToolMode::Text
    );
    let err = Session::probe_mode(&client, &mut SessionOptions::new("h", 12))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ollama pull qwen3:4b"), "{err}");
    // A server without /api/show (vLLM, llama.cpp): native tools, default budget.
    let other = ModelServer::start().await;
    let client = ModelClient::new(opts(&other.v1_url())).unwrap();
    let mut o = SessionOptions::new("h", 12);
    assert_eq!(
        Session::probe_mode(&client, &mut o).await.unwrap(),
        ToolMode::Native
    );
    assert_eq!(o.context_tokens, tai::agent::DEFAULT_CONTEXT_TOKENS);
}

#[tokio::test]
async fn reasoning_and_thinking_stay_out_of_the_answer_text() {
    let s = ModelServer::start().await;
    let mut v1 = oa_text("qwen3:4b", "## Root Cause\nfine");
    v1["choices"][0]["message"]["reasoning"] = json!("Let me think about nginx first.");
    s.script(OA_PATH, vec![Scripted::ok(v1)]).await;
    s.script(
        NATIVE_PATH,
        vec![Scripted::ok(with_thinking(
            native_text("qwen3:4b", "## Root Cause\nfine"),
            "Let me think about nginx first.",
        ))],
    )
    .await;
    for base in [s.v1_url(), s.root_url()] {
        let client = ModelClient::new(opts(&base)).unwrap();
        let reply = client.complete(&history(), None).await.unwrap();
        assert_eq!(reply.text, "## Root Cause\nfine", "{base}");
    }
    // Older Ollama versions put thinking inline.
    let s = ModelServer::start().await;
    s.script(
        OA_PATH,
        vec![Scripted::ok(oa_text(
            "qwen3:4b",
            "<think>\nhmm, nginx\n</think>\n\n## Root Cause\nfine",
        ))],
    )
    .await;
    let client = ModelClient::new(opts(&s.v1_url())).unwrap();
    assert_eq!(
        client.complete(&history(), None).await.unwrap().text,
        "## Root Cause\nfine"
    );
}
