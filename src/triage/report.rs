//! The deterministic report: Root Cause from the strongest finding, Evidence lines citing the
//! tool calls they came from, Recommended Actions from the findings' own advice (or from a
//! runbook section when the caller has one).
use crate::report::{Evidence, Report, ToolCallRecord};
use crate::tools::{CallStatus, ToolOutcome};

use super::{Finding, Severity};

/// Most findings whose evidence goes into the report.
const MAX_FINDINGS_IN_EVIDENCE: usize = 5;
/// Most evidence items in the report.
const MAX_EVIDENCE_ITEMS: usize = 14;

/// Order findings for the root cause: severity first, then how specific the finding is, with
/// a bonus when it matches the category the issue was classified as.
pub fn strongest<'a>(category: &str, findings: &'a [Finding]) -> Vec<&'a Finding> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    let score = |f: &Finding| f.rank as u32 + if f.category == category { 10 } else { 0 };
    let weight = |f: &Finding| f.evidence.len() + f.supporting.len();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(score(b).cmp(&score(a)))
            .then(weight(b).cmp(&weight(a)))
    });
    v
}

/// Build the report from the collected outcomes and the findings. `category` is the category
/// the issue was classified as (used when no finding names a better one).
pub fn report(
    host: &str,
    issue: &str,
    category: &str,
    outcomes: &[ToolOutcome],
    findings: &[Finding],
) -> Report {
    report_with_actions(host, issue, category, outcomes, findings, None)
}

/// [`report`] with Recommended Actions taken from a runbook section (`(citation, steps)`) that
/// matches the strongest finding; the finding's own advice follows it.
pub fn report_with_actions(
    host: &str,
    issue: &str,
    category: &str,
    outcomes: &[ToolOutcome],
    findings: &[Finding],
    runbook: Option<(String, Vec<String>)>,
) -> Report {
    let ordered = strongest(category, findings);
    let tool_calls: Vec<ToolCallRecord> = outcomes.iter().map(ToolCallRecord::from).collect();
    let mut warnings = Vec::new();
    for o in outcomes {
        if o.status == CallStatus::Denied {
            warnings.push(format!(
                "{} ({}) was refused by the read-only policy: {}",
                o.call.id,
                o.call.tool,
                first_line(&o.output)
            ));
        }
    }
    let ran_ok = outcomes.iter().any(|o| o.status != CallStatus::Denied);

    let Some(top) = ordered.first().copied() else {
        let root_cause = if ran_ok {
            format!(
                "No deterministic detector fired on the {} collected call(s); the cause is not one of the known patterns (failed units, OOM kills, full disks or inodes, port conflicts, auth modes, DNS, certificates, clock, read-only filesystems, segfaults, I/O errors, load).",
                outcomes.len()
            )
        } else {
            "Nothing could be collected from the host, so nothing could be triaged.".to_string()
        };
        return Report {
            host: host.to_string(),
            issue: issue.to_string(),
            category: category.to_string(),
            root_cause,
            evidence: Vec::new(),
            actions: vec![
                format!("Run `tai {host} \"{issue}\"` with a model to investigate beyond the known patterns"),
                "Read the collected output below (Tool calls) for anything unusual".to_string(),
            ],
            confidence: "low".into(),
            tool_calls,
            tokens: Default::default(),
            mode: "triage".into(),
            warnings,
        };
    };

    let mut root_cause = format!("{}.", top.summary.trim_end_matches('.'));
    let others: Vec<&&Finding> = ordered[1..]
        .iter()
        .filter(|f| f.severity >= Severity::Warning && f.kind != top.kind)
        .take(3)
        .collect();
    if !others.is_empty() {
        let list: Vec<String> = others
            .iter()
            .map(|f| format!("{} [{}]", f.summary, f.call_id))
            .collect();
        root_cause.push_str(&format!(" Also seen: {}.", list.join("; ")));
    }

    // Every line behind the root cause; one line for each other finding.
    let mut evidence: Vec<Evidence> = Vec::new();
    for line in &top.evidence {
        push_evidence(&mut evidence, line, &top.call_id);
    }
    for s in &top.supporting {
        push_evidence(&mut evidence, &s.line, &s.call_id);
    }
    for f in ordered.iter().skip(1).take(MAX_FINDINGS_IN_EVIDENCE - 1) {
        if let Some(line) = f.evidence.first() {
            push_evidence(&mut evidence, line, &f.call_id);
        }
    }
    evidence.truncate(MAX_EVIDENCE_ITEMS);

    let mut actions: Vec<String> = Vec::new();
    if let Some((cite, steps)) = runbook {
        for s in steps.into_iter().take(3) {
            actions.push(format!("{s} [{cite}]"));
        }
    }
    for a in &top.actions {
        if !actions.contains(a) {
            actions.push(a.clone());
        }
    }
    for f in others.iter().take(2) {
        if let Some(a) = f.actions.first() {
            if !actions.contains(a) {
                actions.push(a.clone());
            }
        }
    }

    let confidence = match top.severity {
        Severity::Critical if top.rank >= 60 => "high",
        Severity::Critical | Severity::Warning => "medium",
        Severity::Info => "low",
    };

    Report {
        host: host.to_string(),
        issue: issue.to_string(),
        category: top.category.clone(),
        root_cause,
        evidence,
        actions,
        confidence: confidence.into(),
        tool_calls,
        tokens: Default::default(),
        mode: "triage".into(),
        warnings,
    }
}

fn push_evidence(evidence: &mut Vec<Evidence>, line: &str, call_id: &str) {
    if let Some(e) = evidence.iter_mut().find(|e| e.text == line) {
        if !e.sources.iter().any(|s| s == call_id) {
            e.sources.push(call_id.to_string());
        }
        return;
    }
    evidence.push(Evidence {
        text: line.to_string(),
        sources: vec![call_id.to_string()],
    });
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// Search text for the runbook section that matches a finding: the detector's vocabulary,
/// the summary and the first evidence line.
pub fn runbook_query(f: &Finding) -> String {
    let words = match f.kind.as_str() {
        "port_conflict" => "address already in use port conflict bind listen",
        "unit_crash_loop" => "systemd unit restart loop crash-looping start request repeated",
        "unit_failed" => "systemd unit failed to start",
        "oom_kill" => "out of memory OOM killer killed process",
        "filesystem_full" | "filesystem_nearly_full" | "no_space" => {
            "disk full no space left on device"
        }
        "inode_exhaustion" => "inodes exhausted df -i no space left on device",
        "readonly_filesystem" => "read-only file system remount filesystem errors",
        "io_error" => "I/O error disk failing hardware",
        "auth_bad_modes" => "ssh authorized_keys bad ownership or modes StrictModes",
        "auth_failures" => "ssh failed password authentication failures",
        "dns_failure" | "dns_dead_resolver" | "dns_no_nameserver" => {
            "DNS name resolution resolver resolv.conf"
        }
        "certificate_expiry" => "TLS certificate expired renew",
        "clock_unsynchronised" => "time sync NTP clock not synchronised chrony timesyncd",
        "segfault" => "segfault core dump crash",
        "upstream_unreachable" => "upstream connection refused 502",
        "high_load" => "high load average CPU",
        _ => "",
    };
    let first = f.evidence.first().map(String::as_str).unwrap_or("");
    format!("{words} {} {first}", f.summary)
}

/// The steps of a runbook section: its numbered or bulleted items (continuation lines joined),
/// at most `max`.
pub fn steps_from_section(body: &str, max: usize) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    let mut in_item = false;
    for line in body.lines() {
        let t = line.trim();
        let item = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* "))
            .or_else(|| {
                let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
                (digits > 0 && t[digits..].starts_with(". ")).then(|| &t[digits + 2..])
            });
        if let Some(text) = item {
            if steps.len() >= max {
                break;
            }
            steps.push(text.trim().to_string());
            in_item = true;
        } else if in_item && !t.is_empty() && line.starts_with(char::is_whitespace) {
            if let Some(last) = steps.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
        } else {
            in_item = false;
        }
    }
    steps
}

/// Which runbook sections can answer a finding: words its heading may contain, and runbooks
/// (file stems) whose any non-symptom section may answer it.
fn runbook_match(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "port_conflict" => (&["already in use", "address in use"], &[]),
        "unit_crash_loop" | "unit_failed" => (
            &["restart", "does not start", "fails to start", "failed unit"],
            &["systemd-unit-failures"],
        ),
        "oom_kill" => (&["oom", "out of memory"], &["memory-oom"]),
        "filesystem_full" | "filesystem_nearly_full" | "no_space" => {
            (&["disk full", "space"], &["disk-full"])
        }
        "inode_exhaustion" => (&["inode"], &["inodes"]),
        "readonly_filesystem" => (&["read-only", "read only"], &[]),
        "io_error" => (&["disk and controller", "i/o error"], &[]),
        "auth_bad_modes" => (&["public key", "authorized_keys"], &[]),
        "auth_failures" => (&["brute", "failed login"], &["ssh"]),
        "dns_failure" | "dns_dead_resolver" | "dns_no_nameserver" => {
            (&["resolver", "dns", "name resolution"], &["dns"])
        }
        "certificate_expiry" => (&["expir", "certificate"], &["tls-certificates"]),
        "clock_unsynchronised" => (&["time source", "ntp", "clock"], &["time-sync"]),
        "segfault" => (&["segfault", "core dump"], &[]),
        "upstream_unreachable" => (&["upstream"], &[]),
        "high_load" => (&["load", "cpu-bound"], &["high-load"]),
        _ => (&[], &[]),
    }
}

/// From runbook search hits `(citation, heading, text)`, best first, the section that answers
/// the finding: its heading names the problem, or it is a section (not the symptom list) of the
/// runbook for that problem; and it has steps. Returns `(citation, steps)`.
pub fn pick_runbook_section(
    f: &Finding,
    hits: &[(String, String, String)],
) -> Option<(String, Vec<String>)> {
    let (headings, runbooks) = runbook_match(&f.kind);
    hits.iter().find_map(|(citation, heading, text)| {
        let h = heading.to_lowercase();
        if h == "symptoms" {
            return None;
        }
        let stem = citation
            .split('#')
            .next()
            .unwrap_or("")
            .trim_end_matches(".md");
        let fits = headings.iter().any(|t| h.contains(t)) || runbooks.contains(&stem);
        if !fits {
            return None;
        }
        let steps = steps_from_section(text, 4);
        (!steps.is_empty()).then(|| (citation.clone(), steps))
    })
}
