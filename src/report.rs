//! The report type (Root Cause / Evidence / Recommended Actions / Confidence) and its
//! renderings: terminal (nu-ansi-term), Markdown and JSON. The model's answer and the
//! deterministic triage both end in this one shape.
use serde::{Deserialize, Serialize};

use crate::render::Palette;
use crate::tools::{CallStatus, ToolOutcome};

/// One piece of evidence and what it rests on: tool call ids (`T3`) and runbook sections
/// (`nginx.md#Upstream timeouts`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub text: String,
    pub sources: Vec<String>,
}

/// A tool call as listed in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCallRecord {
    pub id: String,
    pub tool: String,
    pub args: serde_json::Value,
    /// The command line(s) that ran, joined with ` ; ` when a tool ran several.
    pub command: String,
    pub status: CallStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
}

impl From<&ToolOutcome> for ToolCallRecord {
    fn from(o: &ToolOutcome) -> Self {
        ToolCallRecord {
            id: o.call.id.clone(),
            tool: o.call.tool.clone(),
            args: o.call.args.clone(),
            command: o
                .commands
                .iter()
                .map(|c| c.command.as_str())
                .collect::<Vec<_>>()
                .join(" ; "),
            status: o.status,
            exit_code: o.commands.last().and_then(|c| c.exit_code),
            duration_ms: o.duration_ms,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
}

/// The final answer of an investigation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub host: String,
    pub issue: String,
    pub category: String,
    pub root_cause: String,
    pub evidence: Vec<Evidence>,
    /// Commands or steps for the human; tai never runs them.
    pub actions: Vec<String>,
    /// `high`, `medium` or `low`.
    pub confidence: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub tokens: Tokens,
    /// `llm` when a model wrote it, `triage` when deterministic detectors did.
    pub mode: String,
    /// Problems with the report itself: citations of calls that never happened, a model that
    /// could not be reached, a step bound that was hit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Report {
    /// Markdown, for `--output-file` and `/save`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("# tai report: {}\n\n", self.host));
        s.push_str(&format!("**Issue:** {}  \n", self.issue));
        s.push_str(&format!("**Category:** {}  \n", self.category));
        s.push_str(&format!("**Confidence:** {}\n\n", self.confidence));
        s.push_str("## Root Cause\n\n");
        s.push_str(&self.root_cause);
        s.push_str("\n\n## Evidence\n\n");
        for e in &self.evidence {
            s.push_str(&format!("- {}{}\n", e.text, cite(&e.sources)));
        }
        s.push_str("\n## Recommended Actions\n\n");
        for (i, a) in self.actions.iter().enumerate() {
            s.push_str(&format!("{}. {}\n", i + 1, a));
        }
        if !self.warnings.is_empty() {
            s.push_str("\n## Warnings\n\n");
            for w in &self.warnings {
                s.push_str(&format!("- {w}\n"));
            }
        }
        s.push_str("\n## Tool calls\n\n| id | tool | command | status | exit | ms |\n|---|---|---|---|---|---|\n");
        for t in &self.tool_calls {
            s.push_str(&format!(
                "| {} | {} | `{}` | {} | {} | {} |\n",
                t.id,
                t.tool,
                t.command.replace('|', "\\|"),
                status_word(t.status),
                t.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                t.duration_ms
            ));
        }
        s
    }

    /// Terminal rendering: headings in colour when `p` allows it.
    pub fn to_terminal(&self, p: &Palette) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{} {} ({}, confidence {})\n\n",
            p.heading("Report for"),
            p.bold(&self.host),
            self.category,
            self.confidence
        ));
        s.push_str(&format!(
            "{}\n  {}\n\n",
            p.heading("Root Cause"),
            self.root_cause.replace('\n', "\n  ")
        ));
        s.push_str(&format!("{}\n", p.heading("Evidence")));
        for e in &self.evidence {
            s.push_str(&format!("  • {}{}\n", e.text, p.dim(&cite(&e.sources))));
        }
        s.push_str(&format!("\n{}\n", p.heading("Recommended Actions")));
        for (i, a) in self.actions.iter().enumerate() {
            s.push_str(&format!("  {}. {}\n", i + 1, a));
        }
        for w in &self.warnings {
            s.push_str(&format!("\n{} {}", p.warn("warning:"), w));
        }
        if !self.warnings.is_empty() {
            s.push('\n');
        }
        s
    }
}

fn cite(sources: &[String]) -> String {
    if sources.is_empty() {
        String::new()
    } else {
        format!(" [{}]", sources.join(", "))
    }
}

pub fn status_word(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Ok => "ok",
        CallStatus::Error => "error",
        CallStatus::Denied => "denied",
    }
}
