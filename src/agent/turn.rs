//! One investigation turn: the first message (host facts, issue, baseline, findings, retrieved
//! context) or a follow-up, then the bounded loop of model steps and tool batches until the
//! model answers with the report sections.
use rig_core::completion::Message;
use tokio_util::sync::CancellationToken;

use super::answer::host_facts_text;
use super::calls::status_text;
use super::conversation::Entry;
use super::{prompts, AgentError, Session};
use crate::llm::{textproto, ModelCall, ToolMode};
use crate::plan::Category;
use crate::report::{self, Report, Tokens};

impl Session {
    pub(super) fn baseline_text(&mut self) -> String {
        if self.pending_baseline.is_empty() {
            return String::new();
        }
        let per_call = (self.opts.call_output_chars / 2).max(500);
        let mut s = format!(
            "\nBaseline collected by tai (plan for category {}):\n",
            self.category.unwrap_or(Category::General)
        );
        for o in &self.pending_baseline {
            s.push_str(&format!(
                "\n[{}] {} {} — {}\n{}\n",
                o.call.id,
                o.call.tool,
                o.call.args,
                status_text(o),
                self.fit_output(o, per_call)
            ));
        }
        s
    }

    /// One investigation turn: the model investigates with tools and answers with a report.
    pub async fn turn(
        &mut self,
        user_text: &str,
        cancel: &CancellationToken,
    ) -> Result<Report, AgentError> {
        let mark = (
            self.history.len(),
            self.tool_msgs.len(),
            self.transcript.len(),
        );
        self.turn_tokens = Tokens::default();
        let result = self.turn_inner(user_text, cancel).await;
        if !matches!(result, Err(AgentError::Interrupted)) {
            // The baseline reached the model; an interrupted turn shows it again next time.
            self.pending_baseline.clear();
        }
        match result {
            Err(AgentError::Interrupted) => {
                // Keep the session usable: drop the half-finished exchange, note it, go on.
                self.history.truncate(mark.0.max(1).min(self.history.len()));
                if mark.0 == 0 {
                    self.history.clear();
                }
                self.tool_msgs.truncate(mark.1);
                self.transcript.truncate(mark.2);
                self.transcript.push(Entry {
                    role: "note",
                    text: format!("(turn interrupted: {user_text})"),
                });
                Err(AgentError::Interrupted)
            }
            Ok(report) => {
                let t = self.turn_tokens;
                self.opts.progress.note(&format!(
                    "tokens: {} prompt + {} completion this turn; {} + {} this session (~{} in the history)",
                    t.prompt,
                    t.completion,
                    self.tokens.prompt,
                    self.tokens.completion,
                    self.history_tokens()
                ));
                let (sent, full) = self.retrieval_tokens();
                if full > 0 {
                    self.opts.progress.note(&format!(
                        "retrieval: large outputs sent as relevant chunks, {sent} of {full} tokens ({:.0}% saved; --no-rag sends them whole within the cap)",
                        100.0 * (1.0 - sent as f64 / full as f64)
                    ));
                }
                Ok(report)
            }
            other => other,
        }
    }

    pub(super) async fn turn_inner(
        &mut self,
        user_text: &str,
        cancel: &CancellationToken,
    ) -> Result<Report, AgentError> {
        self.question = match &self.issue {
            Some(issue) if issue != user_text.trim() => format!("{issue}\n{}", user_text.trim()),
            _ => user_text.trim().to_string(),
        };
        self.question_patterns = match self.knowledge.clone() {
            // A BM25 search over the runbooks in LMDB: off the async workers.
            Some(k) => {
                let question = self.question.clone();
                tokio::task::spawn_blocking(move || k.evidence_patterns(&question, 5))
                    .await
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let first = self.history.is_empty();
        if first {
            let issue = user_text.trim().to_string();
            let category = self
                .category
                .or(self.opts.category)
                .unwrap_or_else(|| crate::plan::classify(&issue));
            self.category = Some(category);
            self.issue = Some(issue.clone());
            let mut system = self.opts.prompts.system.clone();
            if self.mode == ToolMode::Text {
                system.push_str("\n\n");
                system.push_str(&textproto::render_tools(&self.specs));
            }
            self.history.push(Message::system(system));
            let baseline = self.baseline_text();
            let findings = match &self.opts.findings {
                Some(f) => f(&self.outcomes)
                    .map(|t| format!("\n{}\n", t.trim_end()))
                    .unwrap_or_default(),
                None => String::new(),
            };
            let knowledge = match self.opts.context.clone() {
                // Retrieval may ask the embedding server: bounded, and Ctrl-C still works.
                Some(c) => tokio::select! {
                    r = tokio::time::timeout(
                        std::time::Duration::from_secs(20),
                        c.context_for(&issue, &self.opts.host),
                    ) => r.ok().flatten(),
                    _ = cancel.cancelled() => return Err(AgentError::Interrupted),
                }
                .map(|t| format!("\nRetrieved context (runbooks and past sessions; cite as [runbook: file#section]):\n{t}\n"))
                .unwrap_or_default(),
                None => String::new(),
            };
            let msg = prompts::fill(
                &self.opts.prompts.first_turn,
                &[
                    ("host", &self.opts.host),
                    ("facts", &host_facts_text(&self.facts)),
                    ("issue", &issue),
                    ("category", category.as_str()),
                    ("baseline", &baseline),
                    ("findings", &findings),
                    ("knowledge", &knowledge),
                ],
            );
            self.history.push(Message::user(msg));
        } else {
            let mut baseline = self.baseline_text();
            if !baseline.is_empty() {
                if let Some(t) = self.opts.findings.as_ref().and_then(|f| f(&self.outcomes)) {
                    baseline.push_str(&format!("\n{}\n", t.trim_end()));
                }
            }
            let msg = prompts::fill(
                &self.opts.prompts.follow_up,
                &[("text", &format!("{}{baseline}", user_text.trim()))],
            );
            self.push_user(msg);
        }
        self.transcript.push(Entry {
            role: "user",
            text: user_text.trim().to_string(),
        });

        let max = self.opts.max_steps;
        let mut last_text: Option<String> = None;
        let mut nudged = false;
        for step in 0..max {
            let last_step = step + 1 == max;
            if last_step && max > 1 {
                let note = self.opts.prompts.final_step.clone();
                self.push_user(note);
            }
            let reply = self.ask(step, !last_step, cancel).await?;
            let mut calls = reply.calls.clone();
            let mut malformed = None;
            let parsed_answer = report::parse_answer(&reply.text);
            if calls.is_empty() && !reply.text.trim().is_empty() {
                let names: Vec<String> = self.specs.iter().map(|s| s.name.clone()).collect();
                let known = (self.mode == ToolMode::Native).then_some(names.as_slice());
                let parsed = textproto::parse(&reply.text, known);
                // A complete report is an answer even if it quotes JSON.
                if parsed_answer.missing.is_empty() {
                } else if !parsed.calls.is_empty() {
                    calls = parsed
                        .calls
                        .into_iter()
                        .map(|c| ModelCall {
                            name: c.name,
                            args: c.args,
                            invalid_args: c.invalid_args,
                            wire: None,
                        })
                        .collect();
                } else if parsed.malformed.is_some() && parsed_answer.missing.len() == 4 {
                    malformed = parsed.malformed;
                }
            }
            if let Some(bad) = malformed {
                self.push_assistant_text(&reply.text);
                let snippet: String = bad.chars().take(300).collect();
                self.push_user(format!(
                    "tai could not read your tool call as JSON: `{snippet}`. Send the call again as valid JSON \
                     ({}), or answer with the report sections if you are done.",
                    match self.mode {
                        ToolMode::Native => "use the tool-calling interface",
                        ToolMode::Text => "only a ```json {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}``` block",
                    }
                ));
                self.opts
                    .progress
                    .note("✗ the model sent a malformed tool call; asked it to resend");
                continue;
            }
            if calls.is_empty() {
                if reply.text.trim().is_empty() {
                    self.push_user(
                        "Your reply was empty. Call a tool, or answer with the report sections."
                            .to_string(),
                    );
                    continue;
                }
                if parsed_answer.missing.len() == 4 && !last_step && !nudged {
                    // Prose without a single report section ("I will check the logs"): small
                    // models often announce a call instead of making it. Once per turn, let
                    // it go on with tools before asking for the report.
                    nudged = true;
                    self.push_assistant_text(&reply.text);
                    self.push_user(
                        "Continue the investigation: call the tools you need now. If you are done, answer \
                         with the report sections (## Root Cause, ## Evidence, ## Recommended Actions, ## Confidence)."
                            .to_string(),
                    );
                    continue;
                }
                self.push_assistant_text(&reply.text);
                self.transcript.push(Entry {
                    role: "assistant",
                    text: reply.text.clone(),
                });
                let mut answer = parsed_answer;
                let mut warnings = Vec::new();
                if !answer.missing.is_empty() {
                    // One repair request, then the answer is taken as it is.
                    let missing = answer.missing.join(", ");
                    let repair = prompts::fill(&self.opts.prompts.repair, &[("missing", &missing)]);
                    self.push_user(repair);
                    self.opts
                        .progress
                        .note(&format!("answer lacks {missing}; asking once for a repair"));
                    let fixed = self.ask(step, false, cancel).await?;
                    if !fixed.text.trim().is_empty() {
                        self.push_assistant_text(&fixed.text);
                        self.transcript.push(Entry {
                            role: "assistant",
                            text: fixed.text.clone(),
                        });
                        let reparsed = report::parse_answer(&fixed.text);
                        if reparsed.missing.len() <= answer.missing.len() {
                            answer = reparsed;
                        }
                    }
                }
                if !answer.missing.is_empty() {
                    warnings.push(format!(
                        "the model's answer lacks {}; shown as given",
                        answer.missing.join(", ")
                    ));
                    if answer.root_cause.is_empty() {
                        answer.root_cause = reply.text.trim().to_string();
                    }
                }
                return Ok(self.build_report(answer, warnings));
            }
            if last_step {
                last_text = Some(reply.text.clone());
                break;
            }
            // Tool calls: record the assistant turn, run, answer.
            match self.mode {
                ToolMode::Native => {
                    let has_wire = calls.iter().all(|c| c.wire.is_some());
                    if has_wire {
                        if let Some(m) = reply.assistant_message() {
                            self.history.push(m);
                        }
                    } else {
                        self.push_assistant_text(&reply.text);
                    }
                }
                ToolMode::Text => self.push_assistant_text(&reply.text),
            }
            self.run_calls(calls, cancel).await?;
        }
        // The bound was hit without a usable answer: the best report so far.
        Ok(self.best_report(last_text))
    }
}
