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
    /// The deterministic findings, strongest first (the root cause, then its consequences):
    /// for scripts and other tools (`--json`). Empty when no detector fired.
    #[serde(default)]
    pub findings: Vec<FindingRecord>,
}

/// A line behind a finding and the tool call that printed it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvidenceLine {
    pub line: String,
    pub call_id: String,
    pub tool: String,
}

/// A causal link to another finding (`causes.toml`): its kind and subject, and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CauseLink {
    pub kind: String,
    pub subject: String,
    pub why: String,
}

/// One deterministic finding as the report carries it (`findings` in `--json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FindingRecord {
    /// The detector kind (`oom_kill`, `filesystem_full`, …).
    pub kind: String,
    /// The issue category (`disk`, `memory`, `service`, …).
    pub category: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// What it is about: a unit, a mount point, a port, a device.
    pub subject: String,
    /// When the newest log line behind it was written (RFC 3339, UTC); `null` for current
    /// state read from command output.
    pub when: Option<String>,
    /// `false` for history: an earlier boot, before the incident window, or recovered.
    pub current: bool,
    pub summary: String,
    /// The lines behind it, each with the call id and tool that printed it.
    pub evidence: Vec<EvidenceLine>,
    /// The upstream finding that explains this one.
    pub caused_by: Option<CauseLink>,
    /// The findings this one explains.
    pub consequences: Vec<CauseLink>,
    /// What a human should do next.
    pub actions: Vec<String>,
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
        if !self.tool_calls.is_empty() {
            s.push_str(&format!("\n{}\n", p.heading("Commands run (read-only)")));
            for t in &self.tool_calls {
                let mark = match t.status {
                    CallStatus::Ok => p.ok("✓"),
                    CallStatus::Error => p.error("✗"),
                    CallStatus::Denied => p.warn("⊘"),
                };
                let command = if t.command.is_empty() {
                    format!("{} {}", t.tool, t.args)
                } else {
                    t.command.clone()
                };
                let command: String = if command.chars().count() > 100 {
                    format!("{}…", command.chars().take(99).collect::<String>())
                } else {
                    command
                };
                s.push_str(&format!(
                    "  {} {} {} {}\n",
                    p.dim(&t.id),
                    mark,
                    command,
                    p.dim(&format!(
                        "({}, {} ms)",
                        status_word(t.status),
                        t.duration_ms
                    ))
                ));
            }
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

/// The sections read out of a model's final answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedAnswer {
    pub root_cause: String,
    pub evidence: Vec<Evidence>,
    pub actions: Vec<String>,
    pub confidence: String,
    /// Required sections the answer lacks (`Root Cause`, `Evidence`, `Recommended Actions`,
    /// `Confidence`); a non-empty list earns one repair request.
    pub missing: Vec<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Root,
    Evidence,
    Actions,
    Confidence,
}

/// Recognise a section heading in its common spellings: `## Root Cause`, `**Root Cause:**`,
/// `Root cause:` (with text after the colon kept as the section's first line).
fn heading(line: &str) -> Option<(Section, String)> {
    let t = line.trim();
    let stripped = t.trim_start_matches('#').trim();
    let stripped = stripped.trim_start_matches("**").trim();
    let lower = stripped.to_ascii_lowercase();
    let table: [(&str, Section); 8] = [
        ("root cause", Section::Root),
        ("root-cause", Section::Root),
        ("evidence", Section::Evidence),
        ("recommended actions", Section::Actions),
        ("recommended action", Section::Actions),
        ("next steps", Section::Actions),
        ("actions", Section::Actions),
        ("confidence", Section::Confidence),
    ];
    let is_heading_line = t.starts_with('#') || t.starts_with("**");
    for (name, sec) in table {
        if let Some(rest) = lower.strip_prefix(name) {
            let rest_orig = &stripped[name.len()..];
            let rest_trim = rest
                .trim_start_matches(['*', ':', ' '])
                .trim_start_matches("**");
            if is_heading_line && (rest.is_empty() || rest.starts_with(['*', ':', ' '])) {
                let tail = rest_orig
                    .trim_start_matches(['*', ':', ' '])
                    .trim_end_matches('*')
                    .trim();
                return Some((sec, tail.to_string()));
            }
            if !is_heading_line && rest.starts_with(':') {
                let _ = rest_trim;
                return Some((sec, rest_orig[1..].trim().to_string()));
            }
        }
    }
    None
}

/// Strip a list marker (`- `, `* `, `• `, `1. `, `2) `) from a line.
fn strip_marker(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for m in ["- ", "* ", "• ", "+ "] {
        if let Some(r) = t.strip_prefix(m) {
            return Some(r.trim());
        }
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r.trim());
        }
    }
    None
}

/// Pull the sources out of an evidence line: `[T3]`, `[T3, T4]`, `[runbook: nginx.md#X]`,
/// `(T5)`. Returns the text without the bracketed sources and the sources.
pub fn split_sources(line: &str) -> (String, Vec<String>) {
    let mut sources = Vec::new();
    let mut text = String::new();
    let mut rest = line;
    while let Some(open) = rest.find(['[', '(']) {
        let close_ch = if rest.as_bytes()[open] == b'[' {
            ']'
        } else {
            ')'
        };
        let Some(close_rel) = rest[open + 1..].find(close_ch) else {
            break;
        };
        let inner = &rest[open + 1..open + 1 + close_rel];
        let parts: Vec<String> = inner
            .split([',', ';'])
            .map(|p| p.trim().trim_matches('`').to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let is_source = !parts.is_empty()
            && parts.iter().all(|p| {
                is_call_id(p)
                    || p.to_ascii_lowercase().starts_with("runbook")
                    || p.to_ascii_lowercase().starts_with("session")
                    || p.ends_with(".md")
                    || p.contains(".md#")
            });
        text.push_str(&rest[..open]);
        if is_source {
            for p in parts {
                let p = p
                    .strip_prefix("runbook:")
                    .or_else(|| p.strip_prefix("runbook "))
                    .map(|s| format!("runbook:{}", s.trim()))
                    .unwrap_or(p);
                if !sources.contains(&p) {
                    sources.push(p);
                }
            }
        } else {
            text.push_str(&rest[open..open + 2 + close_rel]);
        }
        rest = &rest[open + 2 + close_rel..];
    }
    text.push_str(rest);
    let text = text
        .trim()
        .trim_end_matches([' ', '—', '-', ':'])
        .trim()
        .to_string();
    (text, sources)
}

/// `T3`, `T12`: a tool call id.
pub fn is_call_id(s: &str) -> bool {
    let s = s.trim();
    s.len() >= 2 && s.starts_with('T') && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Every call id cited anywhere in `text` (`[T3]`, `T3,` ...), in order of first appearance.
pub fn cited_ids(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let b = text.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'T'
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && i + 1 < b.len()
            && b[i + 1].is_ascii_digit()
        {
            let end = (i + 1..b.len())
                .find(|&j| !b[j].is_ascii_digit())
                .unwrap_or(b.len());
            if end < b.len() && b[end].is_ascii_alphanumeric() {
                continue;
            }
            let id = &text[i..end];
            if !out.iter().any(|x| x == id) {
                out.push(id.to_string());
            }
        }
    }
    out
}

/// Read Root Cause / Evidence / Recommended Actions / Confidence out of a model's answer.
pub fn parse_answer(text: &str) -> ParsedAnswer {
    let mut root = Vec::new();
    let mut evidence_lines: Vec<String> = Vec::new();
    let mut actions: Vec<String> = Vec::new();
    let mut confidence = Vec::new();
    let mut seen = [false; 4];
    let mut current: Option<Section> = None;
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            if current == Some(Section::Actions) {
                continue;
            }
        }
        if !in_fence {
            if let Some((sec, tail)) = heading(line) {
                current = Some(sec);
                seen[sec as usize] = true;
                if !tail.is_empty() {
                    match sec {
                        Section::Root => root.push(tail),
                        Section::Confidence => confidence.push(tail),
                        Section::Evidence => evidence_lines.push(tail),
                        Section::Actions => actions.push(tail),
                    }
                }
                continue;
            }
        }
        let Some(sec) = current else { continue };
        let l = line.trim_end();
        match sec {
            Section::Root => root.push(l.to_string()),
            Section::Confidence => confidence.push(l.to_string()),
            Section::Evidence => match strip_marker(l) {
                Some(item) => evidence_lines.push(item.to_string()),
                None if !l.trim().is_empty() => match evidence_lines.last_mut() {
                    Some(last) => {
                        last.push(' ');
                        last.push_str(l.trim());
                    }
                    None => evidence_lines.push(l.trim().to_string()),
                },
                None => {}
            },
            Section::Actions => match strip_marker(l) {
                Some(item) if !in_fence => actions.push(item.to_string()),
                _ if l.trim().is_empty() => {}
                _ => match actions.last_mut() {
                    Some(last) if !in_fence => {
                        last.push(' ');
                        last.push_str(l.trim());
                    }
                    _ => actions.push(l.trim().to_string()),
                },
            },
        }
    }
    let join = |v: Vec<String>| v.join("\n").trim().to_string();
    let mut missing = Vec::new();
    let names = [
        "Root Cause",
        "Evidence",
        "Recommended Actions",
        "Confidence",
    ];
    for (i, name) in names.iter().enumerate() {
        if !seen[i] {
            missing.push(*name);
        }
    }
    let confidence = normalise_confidence(&join(confidence));
    ParsedAnswer {
        root_cause: join(root),
        evidence: evidence_lines
            .into_iter()
            .map(|l| {
                let (text, sources) = split_sources(&l);
                Evidence { text, sources }
            })
            .filter(|e| !e.text.is_empty() || !e.sources.is_empty())
            .collect(),
        actions: actions
            .into_iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        confidence,
        missing,
    }
}

/// `High — the logs show ...` → `high`; keeps the raw text when no level word is found.
fn normalise_confidence(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    for level in ["high", "medium", "low"] {
        if lower.trim_start_matches(['*', ' ']).starts_with(level) {
            return level.to_string();
        }
    }
    for level in ["medium", "high", "low"] {
        if lower.contains(level) {
            return level.to_string();
        }
    }
    s.to_string()
}

impl Report {
    /// Flag citations of tool calls that never happened (the guardrail): every `T<n>` cited in
    /// the evidence or root cause must be one of `known_ids`.
    pub fn check_citations(&mut self, known_ids: &[String]) {
        let mut cited: Vec<String> = Vec::new();
        for e in &self.evidence {
            for s in &e.sources {
                if is_call_id(s) && !cited.contains(s) {
                    cited.push(s.clone());
                }
            }
            for id in cited_ids(&e.text) {
                if !cited.contains(&id) {
                    cited.push(id);
                }
            }
        }
        for id in cited_ids(&self.root_cause) {
            if !cited.contains(&id) {
                cited.push(id);
            }
        }
        for id in cited {
            if !known_ids.iter().any(|k| k == &id) {
                self.warnings.push(format!(
                    "the answer cites {id}, but no tool call {id} happened in this session"
                ));
            }
        }
        if !self.evidence.is_empty() && self.evidence.iter().all(|e| e.sources.is_empty()) {
            self.warnings
                .push("no evidence item cites a tool call or runbook".to_string());
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parses_sections_and_sources() {
        let text = "Some preamble.\n\n## Root Cause\nnginx cannot bind port 80: apache2 holds it.\n\n## Evidence\n- `ss -ltnp` shows apache2 on :80 [T2]\n- nginx error log: bind() failed (98: Address already in use) [T3, T5]\n- The runbook says so [runbook: nginx.md#Port conflicts]\n\n## Recommended Actions\n1. Stop apache2: `systemctl stop apache2`\n2. Start nginx:\n   `systemctl start nginx`\n\n## Confidence\nHigh — the log line is explicit.";
        let p = parse_answer(text);
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        assert_eq!(p.root_cause, "nginx cannot bind port 80: apache2 holds it.");
        assert_eq!(p.evidence.len(), 3);
        assert_eq!(p.evidence[0].sources, vec!["T2"]);
        assert_eq!(p.evidence[1].sources, vec!["T3", "T5"]);
        assert_eq!(
            p.evidence[2].sources,
            vec!["runbook:nginx.md#Port conflicts"]
        );
        assert_eq!(p.actions.len(), 2);
        assert!(p.actions[1].contains("systemctl start nginx"));
        assert_eq!(p.confidence, "high");
    }

    #[test]
    fn bold_headings_and_missing() {
        let p = parse_answer(
            "**Root Cause:** disk full on /var\n\n**Evidence**\n* df shows 100% (T1)\n",
        );
        assert_eq!(p.root_cause, "disk full on /var");
        assert_eq!(p.evidence[0].sources, vec!["T1"]);
        assert_eq!(p.missing, vec!["Recommended Actions", "Confidence"]);
        let p = parse_answer("I think it is DNS.");
        assert_eq!(p.missing.len(), 4);
    }

    #[test]
    fn flags_citations_of_calls_that_did_not_happen() {
        let p = parse_answer("## Root Cause\nx [T9]\n## Evidence\n- a [T1]\n- b [T7]\n## Recommended Actions\n1. y\n## Confidence\nlow");
        let mut r = Report {
            root_cause: p.root_cause,
            evidence: p.evidence,
            ..Default::default()
        };
        r.check_citations(&["T1".to_string(), "T2".to_string()]);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.warnings.iter().any(|w| w.contains("T7")));
        assert!(r.warnings.iter().any(|w| w.contains("T9")));
        assert_eq!(cited_ids("see T3, T10 and XT4 or T5a"), vec!["T3", "T10"]);
    }
}
