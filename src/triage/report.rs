//! The deterministic report: Root Cause from the strongest finding, Evidence lines citing the
//! tool calls they came from, Recommended Actions from the findings' own advice (or from a
//! runbook section when the caller has one).
use crate::report::{CauseLink, Evidence, EvidenceLine, FindingRecord, Report, ToolCallRecord};
use crate::tools::{CallStatus, ToolOutcome};

use super::{Finding, Link, Severity};

/// The detector families tai checks (`auth`, `disk`, `services`, …): the report's "what was
/// checked" when nothing is wrong.
pub fn families() -> &'static [String] {
    super::detectors::families()
}

fn link_record(l: &Link) -> CauseLink {
    CauseLink {
        kind: l.kind.clone(),
        subject: l.subject.clone(),
        why: l.why.clone(),
    }
}

/// A finding as the report carries it (`findings` in `--json`).
pub fn record(f: &Finding) -> FindingRecord {
    let mut evidence: Vec<EvidenceLine> = f
        .evidence
        .iter()
        .map(|l| EvidenceLine {
            line: l.clone(),
            call_id: f.call_id.clone(),
            tool: f.tool.clone(),
        })
        .collect();
    evidence.extend(f.supporting.iter().map(|s| EvidenceLine {
        line: s.line.clone(),
        call_id: s.call_id.clone(),
        tool: s.tool.clone(),
    }));
    FindingRecord {
        kind: f.kind.clone(),
        category: f.category.clone(),
        severity: f.severity.to_string(),
        subject: f.subject.clone(),
        when: f.when.map(super::time::rfc3339),
        current: f.current,
        summary: f.summary.clone(),
        evidence,
        caused_by: f.caused_by.as_ref().map(link_record),
        consequences: f.consequences.iter().map(link_record).collect(),
        actions: f.actions.clone(),
    }
}

/// Most findings whose evidence goes into the report.
const MAX_FINDINGS_IN_EVIDENCE: usize = 5;
/// Most evidence items in the report.
const MAX_EVIDENCE_ITEMS: usize = 14;

/// Order findings for the root cause: severity first, current before history, then how
/// specific the finding is, with a bonus when it matches the category the issue was classified
/// as. A finding another one caused (`caused_by`) ranks with its cause and right after it, so
/// the first is always the upstream finding.
pub fn strongest<'a>(category: &str, findings: &'a [Finding]) -> Vec<&'a Finding> {
    let score = |f: &Finding| f.rank as u32 + if f.category == category { 10 } else { 0 };
    let key = |f: &Finding| {
        (
            f.severity,
            f.current,
            score(f),
            f.evidence.len() + f.supporting.len(),
        )
    };
    // The root of each finding's cause chain (an index into `findings`).
    let root = |mut i: usize| {
        for _ in 0..8 {
            let Some(c) = &findings[i].caused_by else {
                break;
            };
            match findings
                .iter()
                .position(|p| p.kind == c.kind && p.subject == c.subject)
            {
                Some(j) if j != i => i = j,
                _ => break,
            }
        }
        i
    };
    let mut v: Vec<(usize, usize)> = (0..findings.len()).map(|i| (i, root(i))).collect();
    v.sort_by(|&(a, ra), &(b, rb)| {
        key(&findings[rb])
            .cmp(&key(&findings[ra]))
            .then(ra.cmp(&rb))
            .then((b == rb).cmp(&(a == ra)))
            .then(key(&findings[b]).cmp(&key(&findings[a])))
    });
    v.into_iter().map(|(i, _)| &findings[i]).collect()
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

    let records: Vec<FindingRecord> = ordered.iter().map(|f| record(f)).collect();
    let top = match ordered.first().copied() {
        Some(top) if top.severity >= Severity::Warning => top,
        _ => {
            // Nothing at warning or above: no fault found, and what was checked.
            let root_cause = if ran_ok {
                no_fault(outcomes, &ordered)
            } else {
                "Nothing could be collected from the host, so nothing could be triaged.".to_string()
            };
            let mut evidence: Vec<Evidence> = Vec::new();
            for f in ordered.iter().take(MAX_FINDINGS_IN_EVIDENCE) {
                if let Some(line) = f.evidence.first() {
                    push_evidence(&mut evidence, line, &f.call_id);
                }
            }
            return Report {
                host: host.to_string(),
                issue: issue.to_string(),
                category: category.to_string(),
                root_cause,
                evidence,
                actions: vec![
                    format!("Run `tai {host} \"{issue}\"` with a model to investigate beyond the known patterns"),
                    "Read the collected output below (Tool calls) for anything unusual".to_string(),
                ],
                confidence: "low".into(),
                tool_calls,
                tokens: Default::default(),
                mode: "triage".into(),
                warnings,
                findings: records,
            };
        }
    };

    let mut root_cause = top.summary.trim_end_matches('.').to_string();
    let effects: Vec<&&Finding> = ordered[1..]
        .iter()
        .filter(|f| {
            f.caused_by
                .as_ref()
                .is_some_and(|c| c.kind == top.kind && c.subject == top.subject)
        })
        .take(3)
        .collect();
    for e in &effects {
        root_cause.push_str(&format!(
            "; consequence: {} ({}) [{}]",
            e.summary.trim_end_matches('.'),
            e.caused_by.as_ref().map(|c| c.why.as_str()).unwrap_or(""),
            e.call_id
        ));
    }
    root_cause.push('.');
    let others: Vec<&&Finding> = ordered[1..]
        .iter()
        .filter(|f| {
            f.severity >= Severity::Warning
                && f.kind != top.kind
                && !effects.iter().any(|e| std::ptr::eq(**e, **f))
        })
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
    // The consequences are part of the story: up to three lines each.
    for e in &effects {
        for line in e.evidence.iter().take(3) {
            push_evidence(&mut evidence, line, &e.call_id);
        }
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
        findings: records,
    }
}

/// The root cause of a report with nothing at warning or above: no fault found, the detector
/// families and the calls that were checked, and what was noted (history, info).
fn no_fault(outcomes: &[ToolOutcome], noted: &[&Finding]) -> String {
    let calls: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != CallStatus::Denied)
        .map(|o| format!("{} {}", o.call.id, o.call.tool))
        .collect();
    let mut s = format!(
        "No fault found: no detector found a problem at warning or above. Checked {} detector families ({}) over {} call{} ({}).",
        families().len(),
        families().join(", "),
        calls.len(),
        if calls.len() == 1 { "" } else { "s" },
        calls.join(", ")
    );
    if !noted.is_empty() {
        let list: Vec<String> = noted
            .iter()
            .take(4)
            .map(|f| format!("{} [{}]", f.summary.trim_end_matches('.'), f.call_id))
            .collect();
        s.push_str(&format!(" Noted, not faults: {}.", list.join("; ")));
    }
    s
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
        "kerberos_clock_skew" => "kerberos clock skew too great time sync NTP",
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
        "clock_unsynchronised" | "kerberos_clock_skew" => {
            (&["time source", "ntp", "clock"], &["time-sync"])
        }
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
