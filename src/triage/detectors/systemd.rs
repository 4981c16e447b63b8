//! systemd detectors: dependency failures (the unit that failed first is upstream of the
//! units that needed it), start-limit hits (systemd gave up restarting a unit), and journal
//! rate limiting (messages dropped: a warning that evidence may be missing, never a root cause).
//!
//! Formats (systemd src/core/job.c, unit.c, service.c; journald-rate-limit.c, 219–255):
//! `Dependency failed for Queue worker.` / `Dependency failed for queue-worker.service - Queue
//! worker.`, `queue-worker.service: Job queue-worker.service/start failed with result
//! 'dependency'.`, `x.service: Start request repeated too quickly.` (before 235: `start request
//! repeated too quickly for x.service`), `x.service: Failed with result 'start-limit-hit'.`,
//! `Active: failed (Result: start-limit-hit)`; journald `Suppressed 1234 messages from
//! nginx.service` (older `from /system.slice/nginx.service`), `Missed 12 kernel messages`;
//! rsyslog `imjournal: 2345 messages lost due to rate-limiting`, `imuxsock begins to drop
//! messages from pid 812 due to rate-limiting`.
use super::memory::unit_of;
use super::{ident, support, Corpus, Detector, Finding, Groups, New, Severity, UNIT};

/// The `dependency_failed` detector.
pub(super) const DEPENDENCY: Detector = Detector {
    journal: &[r"dependency failed for", r"failed with result 'dependency'"],
    sweep: &[],
    run: dependency,
};

/// The `start_limit_hit` detector.
pub(super) const START_LIMIT: Detector = Detector {
    journal: &[r"start request repeated too quickly", r"start-limit-hit"],
    sweep: &[],
    run: start_limit,
};

/// The `journal_rate_limited` detector.
pub(super) const RATE_LIMIT: Detector = Detector {
    journal: &[
        r"suppressed \d+ messages from",
        r"missed \d+ kernel messages",
        r"messages lost due to rate-limiting",
        r"drop messages from pid \d+ due to rate-limiting",
    ],
    sweep: &[],
    run: rate_limit,
};

/// `Dependency failed for X` / `Job x/start failed with result 'dependency'`: X never started
/// because a unit it requires failed; the failure before it names that unit.
fn dependency(c: &Corpus, out: &mut Vec<Finding>) {
    let dep_for = re!(&format!(
        r"Dependency failed for (?:({UNIT})(?: - (.+?))?|(.+?))\.?$"
    ));
    let job = re!(&format!(
        r"({UNIT}): Job \S+ failed with result 'dependency'"
    ));
    let failure = re!(&format!(
        r"(?:({UNIT}): (?:Failed with result '([^']+)'|Start request repeated too quickly)|Failed to (?:start|mount) (?:({UNIT})(?: - .+?)?|(.+?))\.?$|Timed out waiting for device (\S+?)\.?$)"
    ));
    for b in c.logs() {
        let mut deps = Groups::default();
        let mut upstream: Vec<(String, String)> = Vec::new();
        // The failure that preceded each dependent: (dependent, upstream unit, line).
        let mut causes: Vec<(String, String, String)> = Vec::new();
        let mut last_failure: Option<(String, String)> = None;
        for line in b.lines() {
            if ident(line).is_some_and(|i| i != "systemd") {
                continue;
            }
            let dependent = if let Some(m) = dep_for.captures(line) {
                m.get(1).or(m.get(3)).map(|x| x.as_str().trim().to_string())
            } else {
                job.captures(line).map(|m| m[1].to_string())
            };
            if let Some(d) = dependent {
                deps.add(&d, line);
                if let Some((u, l)) = &last_failure {
                    if *u != d && !causes.iter().any(|(x, ..)| *x == d) {
                        causes.push((d.clone(), u.clone(), l.clone()));
                    }
                }
                continue;
            }
            if let Some(m) = failure.captures(line) {
                if m.get(2).is_some_and(|r| r.as_str() == "dependency") {
                    continue;
                }
                let unit = m
                    .get(1)
                    .or(m.get(3))
                    .or(m.get(4))
                    .or(m.get(5))
                    .map(|x| x.as_str().trim().to_string())
                    .unwrap_or_default();
                if !deps.lines.contains_key(&unit) {
                    last_failure = Some((unit.clone(), line.to_string()));
                    if !upstream.iter().any(|(u, _)| *u == unit) {
                        upstream.push((unit, line.to_string()));
                    }
                }
            }
        }
        for (unit, lines) in deps.iter() {
            let cause = causes.iter().find(|(d, ..)| d == unit);
            let summary = match cause {
                Some((_, up, _)) => format!(
                    "{unit} did not start because a unit it requires failed first: {up} (fix {up}; {unit} follows)"
                ),
                None => format!(
                    "{unit} did not start because a unit it requires (Requires=/BindsTo=) failed"
                ),
            };
            // The dependent's own lines first, then the failure upstream of it.
            let mut evidence = lines.clone();
            if let Some((_, _, l)) = cause {
                evidence.push(l.clone());
            }
            out.push(
                New {
                    kind: "dependency_failed",
                    category: "service",
                    severity: Severity::Critical,
                    rank: 48,
                    subject: unit.clone(),
                    summary,
                    block: b,
                    evidence,
                    actions: vec![
                        format!("See what {unit} requires and which of those failed: `systemctl list-dependencies {unit}`, `systemctl --failed`"),
                        match cause {
                            Some((_, up, _)) => format!("Fix the failed dependency first: `journalctl -u {up} -n 50 --no-pager`; then `systemctl start {unit}`"),
                            None => format!("Fix the failed dependency, then `systemctl start {unit}`"),
                        },
                    ],
                }
                .build(),
            );
        }
    }
}

/// systemd stopped restarting a unit: it hit `StartLimitBurst=` within `StartLimitIntervalSec=`.
fn start_limit(c: &Corpus, out: &mut Vec<Finding>) {
    let too_quick = re!(&format!(
        r"(?:({UNIT}): Start request repeated too quickly|[Ss]tart request repeated too quickly for ({UNIT}))"
    ));
    let result = re!(&format!(r"({UNIT}): Failed with result 'start-limit-hit'"));
    let exited = re!(&format!(
        r"({UNIT}): (?:Main process exited, code=\w+, status=\S+|Failed with result '(?:exit-code|signal|core-dump|timeout|oom-kill)')"
    ));
    let status_head = re!(&format!(r"^\s*[●×○↻*x]?\s*({UNIT})(?:\s+-\s|$)"));
    let active = re!(r"^\s*Active:\s+failed\s+\(Result:\s*start-limit-hit\)");
    let mut found: Vec<Finding> = Vec::new();
    for b in c.logs() {
        let mut hits = Groups::default();
        let mut exits = Groups::default();
        for line in b.lines() {
            if let Some(m) = too_quick.captures(line).or_else(|| result.captures(line)) {
                let u = m.get(1).or(m.get(2)).map(|x| x.as_str()).unwrap_or("");
                hits.add(u, line);
            } else if let Some(m) = exited.captures(line) {
                exits.add(&m[1], line);
            }
        }
        for (unit, lines) in hits.iter() {
            let mut evidence = lines.clone();
            if let Some(e) = exits.lines.get(unit) {
                evidence.extend(e.iter().rev().take(2).cloned());
            }
            found.push(start_limit_finding(b, unit, evidence));
        }
    }
    // `systemctl status`: `Active: failed (Result: start-limit-hit)` under the unit's head line.
    for b in c.by_program("systemctl") {
        let mut current: Option<String> = None;
        for line in b.lines() {
            if let Some(m) = status_head.captures(line) {
                current = Some(m[1].to_string());
            } else if active.is_match(line) {
                if let Some(u) = &current {
                    if let Some(f) = found.iter_mut().find(|f| f.subject == *u) {
                        f.supporting.push(support(b, line));
                    } else {
                        found.push(start_limit_finding(b, u, vec![line.to_string()]));
                    }
                }
            }
        }
    }
    out.extend(found);
}

fn start_limit_finding(b: &super::Block, unit: &str, evidence: Vec<String>) -> Finding {
    New {
        kind: "start_limit_hit",
        category: "service",
        severity: Severity::Critical,
        rank: 64,
        subject: unit.to_string(),
        summary: format!(
            "systemd gave up on {unit}: it failed to start too often in a row and hit its start limit (StartLimitBurst= within StartLimitIntervalSec=); it stays down until reset"
        ),
        block: b,
        evidence,
        actions: vec![
            format!("Read why each start failed (the start limit is only the last step): `journalctl -u {unit} -n 100 --no-pager`"),
            format!("Fix that cause, then `systemctl reset-failed {unit}` and `systemctl start {unit}`"),
        ],
    }
    .build()
}

/// journald (or rsyslog) dropped messages under its rate limit: evidence may be missing.
fn rate_limit(c: &Corpus, out: &mut Vec<Finding>) {
    let suppressed = re!(r"Suppressed (\d+) messages from (\S+)");
    let missed = re!(r"Missed (\d+) kernel messages");
    let imjournal = re!(r"imjournal: (\d+) messages lost due to rate-limiting");
    let imuxsock =
        re!(r"imuxsock (?:begins to drop|lost (\d+)) messages from pid (\d+) due to rate-limiting");
    for b in c.logs() {
        let mut g = Groups::default();
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for line in b.lines() {
            let (who, n) = if let Some(m) = suppressed.captures(line) {
                if ident(line).is_some_and(|i| i != "systemd-journald") {
                    continue;
                }
                let w = unit_of(&m[2]).unwrap_or_else(|| m[2].to_string());
                (w, m[1].parse().unwrap_or(0))
            } else if let Some(m) = missed.captures(line) {
                ("kernel".to_string(), m[1].parse().unwrap_or(0))
            } else if let Some(m) = imjournal.captures(line) {
                ("rsyslog".to_string(), m[1].parse().unwrap_or(0))
            } else if let Some(m) = imuxsock.captures(line) {
                (
                    format!("pid {}", &m[2]),
                    m.get(1).and_then(|x| x.as_str().parse().ok()).unwrap_or(0),
                )
            } else {
                continue;
            };
            *counts.entry(who.clone()).or_default() += n;
            g.add(&who, line);
        }
        for (who, lines) in g.iter() {
            let n = counts.get(who).copied().unwrap_or(0);
            let dropped = if n > 0 {
                format!("{n} messages")
            } else {
                "messages".into()
            };
            out.push(
                New {
                    kind: "journal_rate_limited",
                    category: "general",
                    severity: Severity::Warning,
                    rank: 5,
                    subject: who.clone(),
                    summary: format!(
                        "The log dropped {dropped} from {who} under its rate limit: {who}'s log is incomplete, so evidence may be missing (a symptom of a very noisy service, not a cause)"
                    ),
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("See why {who} logs so much: `journalctl -u {who} --since -10min | cut -c 30- | sort | uniq -c | sort -n | tail`"),
                        "Raise the limit only if the volume is legitimate: RateLimitIntervalSec=/RateLimitBurst= in journald.conf, or LogRateLimitIntervalSec=/LogRateLimitBurst= in the unit".into(),
                    ],
                }
                .build(),
            );
        }
    }
}
