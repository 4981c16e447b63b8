//! Cheap, short-timeout probes of a model endpoint: is it up, which models does it serve, does
//! a model support tools, how long is its context. Used by `tai doctor` and the capability
//! probe before a session.
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LlmError;

/// The server root for an OpenAI-compatible base URL: `http://h:11434/v1` → `http://h:11434`.
pub fn server_root(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    trimmed.strip_suffix("/v1").unwrap_or(trimmed).to_string()
}

/// The OpenAI-compatible base for a URL given either way: adds `/v1` when missing.
pub fn openai_base(base_url: &str) -> String {
    format!("{}/v1", server_root(base_url))
}

fn client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    super::http::client_builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| LlmError::Unreachable {
            url: String::new(),
            reason: e.to_string(),
        })
}

pub(crate) fn map_send_error(url: &str, timeout: Duration, e: reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            url: url.to_string(),
            secs: timeout.as_secs().max(1),
        }
    } else {
        let mut reason = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            reason = format!("{reason}: {s}");
            src = s.source();
        }
        LlmError::Unreachable {
            url: url.to_string(),
            reason,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
struct ModelEntry {
    id: String,
}

/// `GET {base}/models`: the models an OpenAI-compatible server offers.
pub async fn list_models(
    base_url: &str,
    api_key: Option<&str>,
    timeout: Duration,
) -> Result<Vec<String>, LlmError> {
    let url = format!("{}/models", openai_base(base_url));
    let mut req = client(timeout)?.get(&url);
    if let Some(k) = api_key {
        req = req.bearer_auth(k);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| map_send_error(&url, timeout, e))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(LlmError::Http {
            url,
            status: status.as_u16(),
            message: body.chars().take(300).collect(),
        });
    }
    let list: ModelList = serde_json::from_str(&body)
        .map_err(|e| LlmError::Malformed(format!("{url}: not a model list: {e}")))?;
    Ok(list.data.into_iter().map(|m| m.id).collect())
}

/// What Ollama's `/api/show` says about a model.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModelInfo {
    pub capabilities: Vec<String>,
    pub context_length: Option<u64>,
}

impl ModelInfo {
    pub fn supports_tools(&self) -> bool {
        self.capabilities.iter().any(|c| c == "tools")
    }
    pub fn supports_embedding(&self) -> bool {
        self.capabilities.iter().any(|c| c == "embedding")
    }
}

/// `POST {root}/api/show`: Ollama only. `Ok(None)` when the server is not Ollama.
pub async fn ollama_show(
    base_url: &str,
    model: &str,
    timeout: Duration,
) -> Result<Option<ModelInfo>, LlmError> {
    let url = format!("{}/api/show", server_root(base_url));
    let resp = client(timeout)?
        .post(&url)
        .json(&serde_json::json!({ "model": model }))
        .send()
        .await
        .map_err(|e| map_send_error(&url, timeout, e))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.as_u16() == 404 {
        // Ollama answers 404 {"error":"model 'x' not found"}; other servers have no such route.
        if body.contains("not found") && body.contains("error") {
            return Err(LlmError::ModelMissing {
                model: model.to_string(),
                url: base_url.to_string(),
            });
        }
        return Ok(None);
    }
    if !status.is_success() {
        return Ok(None);
    }
    let v: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    Ok(Some(parse_show(&v)))
}

/// Read capabilities and context length out of an `/api/show` body.
pub fn parse_show(v: &serde_json::Value) -> ModelInfo {
    let capabilities = v["capabilities"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let context_length = v["model_info"].as_object().and_then(|m| {
        m.iter()
            .find(|(k, _)| k.ends_with(".context_length"))
            .and_then(|(_, v)| v.as_u64())
    });
    ModelInfo {
        capabilities,
        context_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots() {
        assert_eq!(
            server_root("http://localhost:11434/v1"),
            "http://localhost:11434"
        );
        assert_eq!(
            server_root("http://localhost:11434/v1/"),
            "http://localhost:11434"
        );
        assert_eq!(
            server_root("http://localhost:11434"),
            "http://localhost:11434"
        );
        assert_eq!(openai_base("http://h:1"), "http://h:1/v1");
    }

    #[test]
    fn parses_show() {
        let v = serde_json::json!({
            "capabilities": ["completion", "tools", "thinking"],
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960}
        });
        let info = parse_show(&v);
        assert!(info.supports_tools());
        assert_eq!(info.context_length, Some(40960));
    }
}
