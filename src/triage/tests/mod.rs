//! Detector tests on lines as the real software prints them, with negatives that must not fire:
//! one module per detector family; the shared helpers, fixtures and the plumbing (merging,
//! the report, the sweep) here.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::tools::{CommandRecord, ToolCall};

mod auth;
mod causes;
mod clock;
mod crashes;
mod databases;
mod disk;
mod dns;
mod history;
mod kernel;
mod limits;
mod load;
mod memory;
mod network_link;
mod packages;
mod processes;
mod security;
mod services;
mod source;
mod storage;
mod systemd;
mod tls;

fn outcome(id: &str, tool: &str, command: &str, stdout: &str) -> ToolOutcome {
    outcome_args(id, tool, json!({}), command, stdout)
}

fn outcome_args(
    id: &str,
    tool: &str,
    args: serde_json::Value,
    command: &str,
    stdout: &str,
) -> ToolOutcome {
    ToolOutcome {
        call: ToolCall {
            id: id.into(),
            tool: tool.into(),
            args,
        },
        status: CallStatus::Ok,
        commands: vec![CommandRecord {
            command: command.into(),
            status: CallStatus::Ok,
            exit_code: Some(0),
            duration_ms: 5,
            stdout: stdout.into(),
            stderr: String::new(),
            truncated: 0,
            note: None,
        }],
        output: stdout.into(),
        duration_ms: 5,
    }
}

fn journal(stdout: &str) -> ToolOutcome {
    outcome("T1", "read_journal", "journalctl --no-pager -n 200", stdout)
}

/// 2026-11-25 12:00:00 UTC.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_608_000)
}

/// Analyze, and check that every finding made from journal lines would also be made from the
/// triage sweep's journal search: one of its journal evidence lines matches the signatures.
fn run(outcomes: &[ToolOutcome]) -> Vec<Finding> {
    let findings = analyze_at(outcomes, now());
    let sigs = regex::Regex::new(&format!("(?i){}", journal_signatures())).unwrap();
    for f in &findings {
        let journal_lines: Vec<&String> = if f.tool == "read_journal" {
            f.evidence.iter().collect()
        } else {
            f.supporting
                .iter()
                .filter(|s| s.tool == "read_journal")
                .map(|s| &s.line)
                .collect()
        };
        assert!(
            journal_lines.is_empty() || journal_lines.iter().any(|l| sigs.is_match(l)),
            "the sweep's journal search misses the lines behind {} ({}): {journal_lines:#?}",
            f.kind,
            f.subject
        );
    }
    findings
}

fn kinds(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.kind.as_str()).collect()
}

fn only(f: &[Finding], kind: &str) -> Finding {
    let v: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
    assert_eq!(v.len(), 1, "expected one {kind} finding, got {f:#?}");
    v[0].clone()
}

fn none(f: &[Finding]) {
    assert!(f.is_empty(), "expected no findings, got {f:#?}");
}

const NGINX_BIND: &str = "\
Nov 25 08:01:02 web01 systemd[1]: Starting nginx.service - A high performance web server and a reverse proxy server...
Nov 25 08:01:02 web01 nginx[2231]: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
Nov 25 08:01:03 web01 nginx[2231]: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
Nov 25 08:01:04 web01 nginx[2231]: nginx: [emerg] still could not bind()
Nov 25 08:01:04 web01 systemd[1]: nginx.service: Control process exited, code=exited, status=1/FAILURE
Nov 25 08:01:04 web01 systemd[1]: nginx.service: Failed with result 'exit-code'.
Nov 25 08:01:04 web01 systemd[1]: Failed to start nginx.service - A high performance web server and a reverse proxy server.
";

const SS_LISTEN: &str = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:((\"sshd\",pid=611,fd=3))
LISTEN 0      5            0.0.0.0:80         0.0.0.0:*    users:((\"perl\",pid=4242,fd=3))
";

const DF_FULL: &str = "\
Filesystem     Type     Size  Used Avail Use% Mounted on
udev           devtmpfs  3.9G     0  3.9G   0% /dev
/dev/vda1      ext4       40G   21G   17G  56% /
/dev/vdb1      ext4      100G   95G     0 100% /data
/dev/vdc1      xfs        50G   46G  4.0G  92% /srv/backup
/dev/loop0     squashfs   64M   64M     0 100% /snap/core20/2318
/dev/mapper/vg0-very--long--logical--volume--name
               ext4       20G  3.0G   16G  16% /var/lib/docker
";

#[test]
fn runbook_text_and_denied_calls_are_not_host_state() {
    let runbook = "If you see `bind() to 0.0.0.0:80 failed (98: Address already in use)` stop the other listener.\nOut of memory: Killed process 1 (x)\n";
    let mut denied = journal(NGINX_BIND);
    denied.status = CallStatus::Denied;
    none(&run(&[
        outcome("T1", "search_runbooks", "", runbook),
        denied,
    ]));
}

#[test]
fn the_same_finding_in_two_calls_is_merged() {
    let f = run(&[
        journal(NGINX_BIND),
        outcome("T9", "service_status", "journalctl -u nginx", NGINX_BIND),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.call_id, "T1");
    assert_eq!(p.sources(), vec!["T1".to_string(), "T9".to_string()]);
    let r = report("web01", "down", "service", &[], &f);
    let bind = r
        .evidence
        .iter()
        .find(|e| e.text.contains("0.0.0.0:80 failed"))
        .unwrap();
    assert_eq!(bind.sources, vec!["T1".to_string(), "T9".to_string()]);
}

#[test]
fn report_from_findings() {
    let outcomes = [
        journal(NGINX_BIND),
        outcome("T2", "list_sockets", "ss -ltnp", SS_LISTEN),
    ];
    let f = run(&outcomes);
    let r = report("web01", "the site is down", "network", &outcomes, &f);
    assert_eq!(r.mode, "triage");
    assert_eq!(r.category, "service");
    assert_eq!(r.confidence, "high");
    assert!(
        r.root_cause.contains("Address already in use"),
        "{}",
        r.root_cause
    );
    assert!(r
        .evidence
        .iter()
        .any(|e| e.text.contains("Address already in use") && e.sources == vec!["T1".to_string()]));
    assert!(r
        .evidence
        .iter()
        .any(|e| e.text.contains("perl") && e.sources == vec!["T2".to_string()]));
    assert!(r.actions.iter().any(|a| a.contains("ss -ltnp")));
    assert_eq!(r.tool_calls.len(), 2);
    let md = r.to_markdown();
    assert!(md.contains("[T1]"), "{md}");
}

#[test]
fn report_without_findings_says_so() {
    let outcomes = [outcome(
        "T1",
        "cpu_load",
        "uptime",
        " 10:00:00 up 1 day, load average: 0.10, 0.20, 0.30\n",
    )];
    let r = report("web01", "slow", "performance", &outcomes, &run(&outcomes));
    assert_eq!(r.category, "performance");
    assert_eq!(r.confidence, "low");
    assert!(
        r.root_cause.starts_with("No fault found"),
        "{}",
        r.root_cause
    );
    // What was checked: the detector families and the calls.
    assert!(r.root_cause.contains("services") && r.root_cause.contains("T1 cpu_load"));
    assert!(r.evidence.is_empty());
    assert!(r.findings.is_empty());
}

#[test]
fn prompt_section_lists_findings_with_call_ids() {
    let outcomes = [journal(NGINX_BIND)];
    let s = prompt_section(&run(&outcomes));
    assert!(s.starts_with("Deterministic findings"));
    assert!(s.contains("port_conflict") && s.contains("T1"));
}

trait WithId {
    fn clone_with_id(&self, id: &str) -> ToolOutcome;
}

impl WithId for ToolOutcome {
    fn clone_with_id(&self, id: &str) -> ToolOutcome {
        let mut o = self.clone();
        o.call.id = id.to_string();
        o
    }
}

#[test]
fn runbook_steps_and_query() {
    let body = "Error log: `connect() failed (111: Connection refused)`.\n\n1. Check the upstream unit: `systemctl status app`.\n2. Read its log with `journalctl -u app`\n   and look for the exit reason.\n3. Restart it once fixed.\n\nNotes afterwards.\n- a bullet\n";
    let steps = steps_from_section(body, 3);
    assert_eq!(
        steps,
        vec![
            "Check the upstream unit: `systemctl status app`.".to_string(),
            "Read its log with `journalctl -u app` and look for the exit reason.".to_string(),
            "Restart it once fixed.".to_string(),
        ]
    );
    let f = run(&[journal(NGINX_BIND)]);
    let q = runbook_query(&f[0]);
    assert!(
        q.contains("address already in use") && q.contains("0.0.0.0:80"),
        "{q}"
    );

    let outcomes = [journal(NGINX_BIND)];
    let r = report_with_actions(
        "web01",
        "down",
        "service",
        &outcomes,
        &f,
        Some(("nginx.md#Port already in use".into(), steps)),
    );
    assert!(
        r.actions[0].ends_with("[nginx.md#Port already in use]"),
        "{:?}",
        r.actions
    );
    assert!(r.actions.iter().any(|a| a.contains("ss -ltnp")));
}

#[test]
fn resolver_and_time_daemon_failures_belong_to_dns_and_time() {
    let log = "\
Nov 25 08:00:40 app02 systemd[1]: systemd-resolved.service: Start request repeated too quickly.
Nov 25 08:00:40 app02 systemd[1]: systemd-resolved.service: Failed with result 'signal'.
Nov 25 08:00:41 app02 systemd[1]: chrony.service: Failed with result 'exit-code'.
Nov 25 08:00:42 app02 systemd[1]: postgresql@15-main.service: Failed with result 'exit-code'.
";
    let f = run(&[journal(log)]);
    let cat = |s: &str| {
        f.iter()
            .find(|x| x.subject == s && x.kind.starts_with("unit_"))
            .unwrap()
            .category
            .clone()
    };
    assert_eq!(cat("systemd-resolved.service"), "dns");
    assert_eq!(cat("chrony.service"), "time");
    assert_eq!(cat("postgresql@15-main.service"), "service");
}

#[test]
fn the_sweep_renders_and_the_policy_allows_it() {
    let registry = crate::tools::Registry::builtin();
    let policy = crate::policy::Policy::load(false).unwrap();
    let mut next = 7;
    let base = crate::plan::baseline_calls(crate::plan::Category::Disk, &mut next);
    assert!(base
        .iter()
        .any(|c| c.tool == "disk_usage" && c.args == json!({})));
    let sweep = sweep_calls(&base, &mut next);
    assert!(!sweep
        .iter()
        .any(|c| c.tool == "disk_usage" && c.args == json!({})));
    assert_eq!(sweep[0].id, format!("T{}", 7 + base.len()));
    assert!(sweep.iter().any(|c| c.args == json!({"command": "nproc"})));
    // The general plan runs cpu_load, which already reports load and CPU count.
    let general = crate::plan::baseline_calls(crate::plan::Category::General, &mut 1);
    let general_sweep = sweep_calls(&general, &mut 1);
    assert!(!general_sweep.iter().any(|c| c.tool == "run_command"
        && matches!(c.args["command"].as_str(), Some("uptime" | "nproc"))));
    // Detectors' own run_command sweep calls stay.
    let own = detectors::sweep_calls();
    for (tool, args) in own.iter().filter(|(t, _)| *t == "run_command") {
        assert!(
            general_sweep
                .iter()
                .any(|c| c.tool == *tool && c.args == *args),
            "{args} is missing from the sweep"
        );
    }
    for c in &sweep {
        let tool = registry
            .get(&c.tool)
            .unwrap_or_else(|| panic!("{} is not a tool", c.tool));
        let steps = tool
            .render(&c.args, &crate::tools::HostFacts::default())
            .unwrap_or_else(|e| panic!("{} {}: {e}", c.tool, c.args));
        for s in &steps {
            for argv in s.all_argv() {
                assert!(
                    matches!(policy.check(argv), crate::policy::Decision::Allow { .. }),
                    "{argv:?} denied"
                );
            }
        }
    }
}

#[test]
fn runbook_section_must_match_the_finding() {
    let f = run(&[journal(NGINX_BIND)]);
    let port = f.iter().find(|x| x.kind == "port_conflict").unwrap();
    let hits = vec![
        (
            "nginx.md#Symptoms".to_string(),
            "Symptoms".to_string(),
            "- Nothing listens on :80/:443, or the port is taken by another process.\n".to_string(),
        ),
        (
            "disk-full.md#Database and application data".to_string(),
            "Database and application data".to_string(),
            "- Database WAL retained by replication slots.\n".to_string(),
        ),
        (
            "apache.md#Port already in use".to_string(),
            "Port already in use".to_string(),
            "`(98)Address already in use`: another process holds the port.\n\n1. `list_sockets` shows who holds it.\n2. Stop it or change `Listen`.\n".to_string(),
        ),
    ];
    let (cite, steps) = pick_runbook_section(port, &hits).unwrap();
    assert_eq!(cite, "apache.md#Port already in use");
    assert_eq!(steps.len(), 2);
    assert!(pick_runbook_section(port, &hits[..2]).is_none());
}

#[test]
fn every_detectors_journal_lines_are_in_the_sweep() {
    let mut next = 1;
    let sweep = sweep_calls(&[], &mut next);
    let journal = sweep
        .iter()
        .find(|c| c.tool == "read_journal")
        .expect("the sweep searches the journal");
    let grep = journal.args["grep"].as_str().unwrap();
    let alternatives: Vec<&str> = grep.split('|').collect();
    let mut declared = 0;
    for d in detectors::ALL {
        for sig in d.journal {
            declared += 1;
            // journalctl --grep is case-insensitive only for an all-lower-case pattern.
            assert_eq!(
                *sig,
                sig.to_lowercase(),
                "{sig}: write signatures in lower case"
            );
            regex::Regex::new(sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
            assert!(
                grep.contains(sig),
                "{sig} is declared by a detector but missing from the sweep"
            );
        }
    }
    // Nothing in the sweep that no detector declares (one source of truth).
    assert!(alternatives.len() >= declared);
    assert_eq!(grep, journal_signatures());
    // A journal line each family reads is found by the sweep's search.
    let sigs = regex::Regex::new(&format!("(?i){grep}")).unwrap();
    for line in [
        "nginx[1]: bind() to 0.0.0.0:80 failed (98: Address already in use)",
        "systemd[1]: app.service: Scheduled restart job, restart counter is at 5.",
        "kernel: Out of memory: Killed process 4242 (java)",
        "systemd[1]: app.service: A process of this unit has been killed by the OOM killer.",
        "kernel: EXT4-fs error (device sda1): ext4_find_entry: reading directory lblock 0",
        "kernel: ata1.00: failed command: READ FPDMA QUEUED",
        "sshd[9]: Failed publickey for root from 203.0.113.9 port 2222 ssh2",
        "app[3]: getaddrinfo ENOTFOUND db.internal",
        "chronyd[5]: Can't synchronise: no selectable sources",
        "kernel: traps: app[77] general protection fault ip:4005d0 sp:7ffd error:0",
    ] {
        assert!(sigs.is_match(line), "the sweep misses {line}");
    }
}
