//! The answer: the report built from the model's final sections (citations checked against the
//! calls that ran), the best report when the step bound is hit, and the Markdown transcript.
use super::{budget, Session};
use crate::plan::Category;
use crate::report::{self, Report, ToolCallRecord};
use crate::tools::HostFacts;

pub(super) fn host_facts_text(f: &HostFacts) -> String {
    if f == &HostFacts::default() {
        return "Host facts: not detected.".to_string();
    }
    format!(
        "Host facts: {} (id {}, family {}); kernel {}; hostname {}; uptime {}",
        if f.os_pretty.is_empty() {
            "unknown OS"
        } else {
            &f.os_pretty
        },
        f.os_id,
        f.family,
        f.kernel,
        f.hostname,
        f.uptime
    )
}

impl Session {
    pub(super) fn known_ids(&self) -> Vec<String> {
        self.outcomes.iter().map(|o| o.call.id.clone()).collect()
    }

    pub(super) fn base_report(&self) -> Report {
        Report {
            host: self.opts.host.clone(),
            issue: self.issue.clone().unwrap_or_default(),
            category: self.category.unwrap_or(Category::General).to_string(),
            tool_calls: self.outcomes.iter().map(ToolCallRecord::from).collect(),
            tokens: self.tokens,
            mode: "llm".into(),
            // The deterministic findings over the same calls, for `--json` consumers.
            findings: crate::triage::analyze(&self.outcomes)
                .iter()
                .map(crate::triage::record)
                .collect(),
            ..Default::default()
        }
    }

    pub(super) fn build_report(&self, a: report::ParsedAnswer, warnings: Vec<String>) -> Report {
        let mut r = self.base_report();
        r.root_cause = a.root_cause;
        r.evidence = a.evidence;
        r.actions = a.actions;
        r.confidence = if a.confidence.is_empty() {
            "low".into()
        } else {
            a.confidence
        };
        r.warnings = warnings;
        r.check_citations(&self.known_ids());
        if self.compactions > 0 {
            r.warnings.push(format!(
                "{} older tool output(s) were compacted to fit the model's context",
                self.compactions
            ));
        }
        r
    }

    /// The step bound was hit: report what is known, honestly marked.
    pub(super) fn best_report(&self, last_text: Option<String>) -> Report {
        let parsed = last_text.as_deref().map(report::parse_answer);
        let mut r = match parsed {
            Some(a) if a.missing.len() < 4 && !a.root_cause.is_empty() => {
                self.build_report(a, Vec::new())
            }
            _ => {
                let mut r = self.base_report();
                r.root_cause = format!(
                    "Not determined: the model used all {} steps without a final answer.",
                    self.opts.max_steps
                );
                r.evidence = self
                    .outcomes
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|o| report::Evidence {
                        text: format!(
                            "{} {} — {}: {}",
                            o.call.tool,
                            budget::short_args(&o.call.args, 60),
                            report::status_word(o.status),
                            o.output
                                .lines()
                                .find(|l| !l.trim().is_empty())
                                .unwrap_or("")
                                .chars()
                                .take(160)
                                .collect::<String>()
                        ),
                        sources: vec![o.call.id.clone()],
                    })
                    .collect();
                r.actions = vec![
                    "Review the tool calls below, then ask a narrower follow-up or rerun with a larger --max-steps.".into(),
                ];
                r.confidence = "low".into();
                r
            }
        };
        r.warnings.push(format!(
            "the step limit ({}) was reached; this is the best report so far",
            self.opts.max_steps
        ));
        r
    }

    /// The conversation so far as Markdown (for `/save` and session memory).
    pub fn transcript_markdown(&self) -> String {
        let mut s = format!("# tai session: {}\n\n", self.opts.host);
        s.push_str(&format!("{}\n\n", host_facts_text(&self.facts)));
        for e in &self.transcript {
            match e.role {
                "user" => s.push_str(&format!("## User\n\n{}\n\n", e.text)),
                "assistant" => s.push_str(&format!("## tai\n\n{}\n\n", e.text)),
                _ => s.push_str(&format!("_{}_\n\n", e.text)),
            }
        }
        if !self.outcomes.is_empty() {
            s.push_str("## Tool calls\n\n| id | tool | command | status | exit | ms |\n|---|---|---|---|---|---|\n");
            for o in &self.outcomes {
                let t = ToolCallRecord::from(o);
                s.push_str(&format!(
                    "| {} | {} | `{}` | {} | {} | {} |\n",
                    t.id,
                    t.tool,
                    t.command.replace('|', "\\|"),
                    report::status_word(t.status),
                    t.exit_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    t.duration_ms
                ));
            }
        }
        s
    }
}
