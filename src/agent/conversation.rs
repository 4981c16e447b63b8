//! The conversation with the model: the message history (roles kept alternating), one model
//! request with token accounting, cancellation and the switch to the text protocol, and
//! compaction of older tool outputs when the history nears the context length (marked, never
//! silently dropped).
use rig_core::completion::Message;
use rig_core::message::{ToolResultContent, UserContent};
use tokio_util::sync::CancellationToken;

use super::budget::estimate_tokens;
use super::{AgentError, Session};
use crate::llm::{textproto, LlmError, ToolMode};

/// Which history messages carry tool results, for compaction.
#[derive(Debug, Clone)]
pub(super) struct ToolMsg {
    pub(super) index: usize,
    /// The call id each result answers (`None` for a repeat note).
    pub(super) ids: Vec<Option<String>>,
    pub(super) compacted: bool,
}

/// One entry of the human-readable transcript.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) role: &'static str,
    pub(super) text: String,
}

pub(super) fn message_tokens(m: &Message) -> u64 {
    match m {
        Message::System { content } => estimate_tokens(content),
        Message::User { content } => {
            content
                .iter()
                .map(|c| match c {
                    UserContent::Text(t) => estimate_tokens(&t.text),
                    UserContent::ToolResult(r) => {
                        r.content
                            .iter()
                            .map(|x| x.as_text().map(estimate_tokens).unwrap_or(10))
                            .sum::<u64>()
                            + 8
                    }
                    _ => 100,
                })
                .sum::<u64>()
                + 4
        }
        Message::Assistant(a) => {
            a.content
                .iter()
                .map(|c| match c {
                    rig_core::completion::AssistantContent::Text(t) => estimate_tokens(&t.text),
                    rig_core::completion::AssistantContent::ToolCall(tc) => {
                        estimate_tokens(&tc.function.arguments_value().to_string()) + 10
                    }
                    _ => 10,
                })
                .sum::<u64>()
                + 4
        }
    }
}

impl Session {
    /// The estimated size of the history in tokens.
    pub fn history_tokens(&self) -> u64 {
        self.history.iter().map(message_tokens).sum()
    }

    pub(super) fn push_user(&mut self, text: String) {
        // Merge with a trailing plain user message so roles keep alternating.
        if let Some(Message::User { content }) = self.history.last_mut() {
            if content.iter().all(|c| matches!(c, UserContent::Text(_))) {
                content.push(UserContent::text(text));
                return;
            }
        }
        self.history.push(Message::user(text));
    }

    pub(super) fn push_assistant_text(&mut self, text: &str) {
        let t = if text.trim().is_empty() {
            "(no text)"
        } else {
            text
        };
        self.history.push(Message::assistant(t));
    }

    /// One model request, with the spinner, compaction, token accounting, cancellation, and the
    /// switch to the text protocol when the server says the model has no tool support.
    pub(super) async fn ask(
        &mut self,
        step: usize,
        with_tools: bool,
        cancel: &CancellationToken,
    ) -> Result<crate::llm::Reply, AgentError> {
        for _attempt in 0..2 {
            self.compact_if_needed(with_tools);
            let tools =
                (with_tools && self.mode == ToolMode::Native).then_some(self.specs.as_slice());
            let prompt_estimate = self.history_tokens()
                + tools
                    .map(|t| {
                        t.iter()
                            .map(|d| estimate_tokens(&d.parameters.to_string()) + 20)
                            .sum()
                    })
                    .unwrap_or(0);
            let result = {
                let _spin = self.opts.progress.thinking(step, self.opts.max_steps);
                tokio::select! {
                    r = self.model.complete(&self.history, tools) => r,
                    _ = cancel.cancelled() => return Err(AgentError::Interrupted),
                }
            };
            match result {
                Ok(reply) => {
                    let (p, c) = reply.usage.unwrap_or((
                        prompt_estimate,
                        estimate_tokens(&reply.text)
                            + reply
                                .calls
                                .iter()
                                .map(|c| estimate_tokens(&c.args.to_string()) + 5)
                                .sum::<u64>(),
                    ));
                    self.tokens.prompt += p;
                    self.tokens.completion += c;
                    self.turn_tokens.prompt += p;
                    self.turn_tokens.completion += c;
                    return Ok(reply);
                }
                Err(LlmError::NoToolSupport { .. }) if self.mode == ToolMode::Native => {
                    self.opts.progress.note(
                        "the model has no native tool calling; switching to tai's text protocol",
                    );
                    self.switch_to_text();
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AgentError::Llm(LlmError::Malformed(
            "the server refused tools even in text-protocol mode".into(),
        )))
    }

    pub(super) fn switch_to_text(&mut self) {
        self.mode = ToolMode::Text;
        if let Some(Message::System { content }) = self.history.first_mut() {
            content.push_str("\n\n");
            content.push_str(&textproto::render_tools(&self.specs));
        }
    }

    /// When the history nears the context length, replace the oldest tool outputs (never the
    /// latest batch) with a marked note, until it is back under half the budget.
    pub(super) fn compact_if_needed(&mut self, with_tools: bool) {
        let tools_cost: u64 = if with_tools && self.mode == ToolMode::Native {
            self.specs
                .iter()
                .map(|d| {
                    estimate_tokens(&d.parameters.to_string())
                        + estimate_tokens(&d.description)
                        + 10
                })
                .sum()
        } else {
            0
        };
        let budget = self.opts.context_tokens;
        let total = self.history_tokens() + tools_cost;
        if total * 4 <= budget * 3 {
            return;
        }
        let target = budget / 2;
        let mut current = total;
        let n = self.tool_msgs.len();
        for k in 0..n.saturating_sub(1) {
            if current <= target {
                break;
            }
            if self.tool_msgs[k].compacted {
                continue;
            }
            let idx = self.tool_msgs[k].index;
            let ids = self.tool_msgs[k].ids.clone();
            let before = message_tokens(&self.history[idx]);
            let results = &self.results;
            let note = |id: &Option<String>| match id {
                Some(id) => {
                    // Keep the header (tool, arguments, status) and the first lines as a summary.
                    let full = results.get(id).map(String::as_str).unwrap_or("");
                    let mut lines = full.lines().filter(|l| !l.trim().is_empty());
                    let header = lines.next().unwrap_or("").to_string();
                    let excerpt: String = lines
                        .take(3)
                        .map(|l| l.chars().take(160).collect::<String>())
                        .collect::<Vec<_>>()
                        .join("\n");
                    format!(
                        "{header}\n[output compacted by tai to fit the model's context window; first lines kept:]\n{excerpt}\n\
                         [The call did run; cite {id} as before. Calling it again with the same arguments returns the saved result.]"
                    )
                }
                None => "(a repeat note from tai, compacted to fit the context window)".to_string(),
            };
            match &mut self.history[idx] {
                Message::User { content } => {
                    let mut j = 0;
                    for part in content.iter_mut() {
                        match part {
                            UserContent::ToolResult(r) => {
                                let id = ids.get(j).cloned().flatten();
                                r.content = vec![ToolResultContent::text(note(&id))];
                                j += 1;
                            }
                            UserContent::Text(_) => {
                                let body = ids.iter().map(&note).collect::<Vec<_>>().join("\n");
                                *part =
                                    UserContent::text(format!("Tool results (compacted):\n{body}"));
                            }
                            _ => {}
                        }
                    }
                }
                _ => continue,
            }
            self.tool_msgs[k].compacted = true;
            self.compactions += ids.len().max(1);
            let after = message_tokens(&self.history[idx]);
            current = current.saturating_sub(before.saturating_sub(after));
        }
        if self.compactions > 0 {
            self.opts.progress.note(&format!(
                "compacted older tool outputs to fit the context (~{current} of {budget} tokens)"
            ));
        }
    }
}
