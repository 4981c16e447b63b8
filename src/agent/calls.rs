//! Tool calls: call ids (`T1`, `T2`, ...), the repeat guard (an identical call is answered
//! from the earlier result, also after compaction), the text the model sees for one outcome
//! (capped, or Tier-1 chunks relevant to the question), and running one batch of model calls.
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use rig_core::completion::Message;
use rig_core::message::ToolResultContent;
use tokio_util::sync::CancellationToken;

use super::budget::{call_key, cap_for_model};
use super::conversation::ToolMsg;
use super::{AgentError, Session};
use crate::llm::ModelCall;
use crate::report;
use crate::tools::{CallStatus, CommandRecord, ToolCall, ToolError, ToolOutcome};

pub(super) fn status_text(o: &ToolOutcome) -> String {
    let exit = o
        .commands
        .last()
        .and_then(|c| c.exit_code)
        .map(|c| format!(", exit {c}"))
        .unwrap_or_default();
    match o.status {
        CallStatus::Ok => format!("ok{exit}, {} ms", o.duration_ms),
        CallStatus::Error => format!("ERROR{exit}, {} ms", o.duration_ms),
        CallStatus::Denied => "DENIED by tai's read-only policy (nothing ran)".to_string(),
    }
}

impl Session {
    pub(super) fn take_id(&mut self) -> String {
        let id = format!("T{}", self.next_id);
        self.next_id += 1;
        id
    }

    pub(super) fn remember(&mut self, o: &ToolOutcome) {
        let text = self.result_text(o, self.opts.call_output_chars);
        self.remember_text(o, text);
    }

    pub(super) fn remember_text(&mut self, o: &ToolOutcome, text: String) {
        self.seen
            .entry(call_key(&o.call.tool, &o.call.args))
            .or_insert_with(|| o.call.id.clone());
        self.results.insert(o.call.id.clone(), text);
    }

    /// The text the model sees for one outcome.
    pub(super) fn result_text(&self, o: &ToolOutcome, max_chars: usize) -> String {
        format!(
            "[{}] {} {} — {}\n{}",
            o.call.id,
            o.call.tool,
            o.call.args,
            status_text(o),
            self.fit_output(o, max_chars)
        )
    }

    /// The part of one output the model sees. Within `max_chars`: all of it. Over it, with
    /// retrieval on (the default), Tier 1: the output is cut into chunks at line boundaries and
    /// the chunks most relevant to the question (BM25, rare symptom lines, and the log messages
    /// the matching runbooks name) are sent in output order, saying what was left out. With
    /// `--no-rag`, or when nothing ranks: head and tail. Lexical only (no request is made):
    /// the baseline and `/collect` use it; model calls go through [`Self::fit_output_guided`].
    pub(super) fn fit_output(&self, o: &ToolOutcome, max_chars: usize) -> String {
        let Some((chunks, budget)) = self.tier1_chunks(o, max_chars) else {
            return cap_for_model(o.output.trim_end(), max_chars);
        };
        let sel = chunks.select_guided(&self.question, &self.question_patterns, budget, None);
        self.fitted(o, max_chars, sel)
    }

    /// [`Self::fit_output`] with vectors when the session's knowledge has an embedding server
    /// that is not known to be down: the output's chunks and the question are embedded and the
    /// cosine ranking joins the fusion. Without an embedder, or while it is known to be down,
    /// this is exactly the lexical path and sends no request.
    pub(super) async fn fit_output_guided(&self, o: &ToolOutcome, max_chars: usize) -> String {
        let Some((mut chunks, budget)) = self.tier1_chunks(o, max_chars) else {
            return cap_for_model(o.output.trim_end(), max_chars);
        };
        let sel = match self.knowledge.as_ref().filter(|k| k.embeddings_available()) {
            Some(k) => {
                k.select_chunks_with(&mut chunks, &self.question, &self.question_patterns, budget)
                    .await
            }
            None => chunks.select_guided(&self.question, &self.question_patterns, budget, None),
        };
        self.fitted(o, max_chars, sel)
    }

    /// The text the model sees for one outcome of a model call ([`Self::result_text`] through
    /// [`Self::fit_output_guided`]).
    pub(super) async fn result_text_guided(&self, o: &ToolOutcome, max_chars: usize) -> String {
        format!(
            "[{}] {} {} — {}\n{}",
            o.call.id,
            o.call.tool,
            o.call.args,
            status_text(o),
            self.fit_output_guided(o, max_chars).await
        )
    }

    /// The output's Tier-1 chunks and token budget, or `None` when the output is sent whole
    /// or capped (within `max_chars`, or `--no-rag`).
    fn tier1_chunks(
        &self,
        o: &ToolOutcome,
        max_chars: usize,
    ) -> Option<(crate::knowledge::chunks::SessionChunks, usize)> {
        if !self.opts.rag || o.output.trim_end().chars().count() <= max_chars {
            return None;
        }
        let mut chunks = crate::knowledge::chunks::SessionChunks::default();
        chunks.add_outcome(o);
        Some((chunks, (max_chars / 4).max(64)))
    }

    /// The selected chunks with tai's note, counted in the session's Tier-1 totals; head and
    /// tail when nothing ranked or the rendering would not fit.
    fn fitted(
        &self,
        o: &ToolOutcome,
        max_chars: usize,
        sel: crate::knowledge::chunks::Selection,
    ) -> String {
        if sel.chunks.is_empty() || sel.rendered.chars().count() > max_chars * 5 / 4 {
            return cap_for_model(o.output.trim_end(), max_chars);
        }
        self.retrieval_sent
            .fetch_add(sel.tokens_sent as u64, Ordering::Relaxed);
        self.retrieval_full
            .fetch_add(sel.tokens_full as u64, Ordering::Relaxed);
        format!(
            "{}\n[tai: this output is larger than its share of the context; {} — these are the parts most relevant to the question. Narrow the query (a `grep` pattern, a `since` window, a unit, fewer `lines`) to see others.]",
            sel.rendered.trim_end(),
            sel.summary()
        )
    }

    /// Tier-1 retrieval so far: (tokens sent, tokens the full outputs would have cost), for
    /// outputs that were over their cap.
    pub fn retrieval_tokens(&self) -> (u64, u64) {
        (
            self.retrieval_sent.load(Ordering::Relaxed),
            self.retrieval_full.load(Ordering::Relaxed),
        )
    }

    /// Characters each of `n` results of one batch may use: a batch takes at most about a third
    /// of the context, never more than `call_output_chars` per call, never less than 1200.
    pub(super) fn per_call_chars(&self, n: usize) -> usize {
        let third = (self.opts.context_tokens as usize).saturating_mul(4) / 3;
        (third / n.max(1)).clamp(1200, self.opts.call_output_chars.max(1200))
    }

    /// Run one batch of model calls: repeat guard, argument checks, then the real tools.
    pub(super) async fn run_calls(
        &mut self,
        calls: Vec<ModelCall>,
        cancel: &CancellationToken,
    ) -> Result<(), AgentError> {
        // What each model call is answered with, in order: Ok(text) or a pending run index.
        enum Slot {
            Ready(String, bool),
            Run(usize),
        }
        let mut slots = Vec::new();
        let mut to_run: Vec<ToolCall> = Vec::new();
        let mut batch_keys: HashMap<String, usize> = HashMap::new();
        for c in &calls {
            if let Some(raw) = &c.invalid_args {
                let id = self.take_id();
                let schema = self
                    .specs
                    .iter()
                    .find(|s| s.name == c.name)
                    .map(|s| s.parameters.to_string())
                    .unwrap_or_else(|| "{}".into());
                let output = format!(
                    "invalid arguments for {}: {raw:?} is not a JSON object. Call {} again with arguments as a JSON object matching this schema: {schema}",
                    c.name, c.name
                );
                let o = ToolOutcome {
                    call: ToolCall {
                        id: id.clone(),
                        tool: c.name.clone(),
                        args: serde_json::Value::String(raw.clone()),
                    },
                    status: CallStatus::Error,
                    commands: Vec::new(),
                    output: output.clone(),
                    duration_ms: 0,
                };
                self.opts.progress.tool_end(&o);
                let text = self.result_text(&o, self.opts.call_output_chars);
                self.results.insert(id, text.clone());
                self.outcomes.push(o);
                slots.push(Slot::Ready(text, true));
                continue;
            }
            let key = call_key(&c.name, &c.args);
            if let Some(prev) = self.seen.get(&key).cloned() {
                let prev_text = self.results.get(&prev).cloned().unwrap_or_default();
                self.opts.progress.note(&format!(
                    "↺ {} repeats {prev}; answered from its result",
                    c.name
                ));
                slots.push(Slot::Ready(
                    format!(
                        "Note from tai: this call repeats {prev} (same tool and arguments), so it was not run again. \
                         Cite {prev}. Its result:\n{prev_text}"
                    ),
                    false,
                ));
                continue;
            }
            if let Some(&i) = batch_keys.get(&key) {
                slots.push(Slot::Run(i));
                continue;
            }
            let id = self.take_id();
            let call = ToolCall {
                id,
                tool: c.name.clone(),
                args: c.args.clone(),
            };
            self.opts
                .progress
                .tool_start(&call.id, &call.tool, &call.args);
            batch_keys.insert(key, to_run.len());
            slots.push(Slot::Run(to_run.len()));
            to_run.push(call);
        }
        let results = if to_run.is_empty() {
            Vec::new()
        } else {
            let runner = self.runner.clone();
            tokio::select! {
                r = runner.run_all(&to_run, cancel) => r,
                _ = cancel.cancelled() => return Err(AgentError::Interrupted),
            }
        };
        if cancel.is_cancelled() {
            return Err(AgentError::Interrupted);
        }
        let mut texts: Vec<(String, bool)> = Vec::new();
        let per_call = self.per_call_chars(to_run.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(o) => {
                    self.opts.progress.tool_end(&o);
                    let text = self.result_text_guided(&o, per_call).await;
                    self.remember_text(&o, text.clone());
                    let err = o.status != CallStatus::Ok;
                    self.outcomes.push(o);
                    texts.push((text, err));
                }
                Err(ToolError::RespondToModel(m)) => {
                    let call = to_run[i].clone();
                    let o = ToolOutcome {
                        call,
                        status: CallStatus::Error,
                        commands: Vec::<CommandRecord>::new(),
                        output: m,
                        duration_ms: 0,
                    };
                    self.opts.progress.tool_end(&o);
                    let text = self.result_text(&o, per_call);
                    self.remember_text(&o, text.clone());
                    self.outcomes.push(o);
                    texts.push((text, true));
                }
                Err(ToolError::Fatal(e)) => return Err(AgentError::Transport(e)),
            }
        }
        let answers: Vec<(String, bool)> = slots
            .into_iter()
            .map(|s| match s {
                Slot::Ready(t, e) => (t, e),
                Slot::Run(i) => texts.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let ids: Vec<Option<String>> = answers
            .iter()
            .map(|(t, _)| {
                t.strip_prefix('[')
                    .and_then(|r| r.split(']').next())
                    .filter(|id| report::is_call_id(id))
                    .map(str::to_string)
            })
            .collect();
        let native = calls.iter().all(|c| c.wire.is_some());
        if native {
            let results: Vec<rig_core::message::ToolResult> = calls
                .iter()
                .zip(answers.iter())
                .filter_map(|(c, (text, err))| {
                    let w = c.wire.as_ref()?;
                    let content = vec![ToolResultContent::text(text.clone())];
                    Some(if *err {
                        w.error_result(content)
                    } else {
                        w.result(content)
                    })
                })
                .collect();
            self.history.push(Message::tool_results(results));
        } else {
            let body = answers
                .iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            self.history.push(Message::user(format!(
                "Tool results:\n\n{body}\n\nContinue: call more tools, or answer with the report sections."
            )));
        }
        self.tool_msgs.push(ToolMsg {
            index: self.history.len() - 1,
            ids,
            compacted: false,
        });
        Ok(())
    }
}
