//! Service detectors: bind conflicts (the service, the address and who holds the port),
//! failed and crash-looping systemd units, proxies that cannot reach their upstream.
use regex::Regex;
use std::collections::BTreeMap;

use super::{
    ev, from, ident, support, Block, Corpus, Detector, Finding, Groups, New, Severity, UNIT,
};

/// The `port_conflict` detector: the journal lines it recognises and the function that reads them.
pub(super) const PORT_CONFLICT: Detector = Detector {
    journal: &[r"address already in use"],
    sweep: &[],
    run: port_conflict,
};

/// The `units` detector: the journal lines it recognises and the function that reads them.
pub(super) const UNITS: Detector = Detector {
    journal: &[
        r"scheduled restart job",
        r"start request repeated",
        r"failed to start",
        r"failed with result",
    ],
    sweep: &[],
    run: units,
};

/// The `upstream` detector: the journal lines it recognises and the function that reads them.
pub(super) const UPSTREAM: Detector = Detector {
    journal: &[r"while connecting to upstream"],
    sweep: &[],
    run: upstream,
};

/// The category a unit's failure belongs to: resolvers are DNS, time daemons are time, network
/// managers are network; everything else is a service.
fn unit_category(unit: &str) -> &'static str {
    let name = unit.split('.').next().unwrap_or(unit);
    let name = name.split('@').next().unwrap_or(name);
    match name {
        "systemd-resolved" | "dnsmasq" | "unbound" | "named" | "bind9" | "nscd"
        | "pdns-recursor" => "dns",
        "chrony" | "chronyd" | "systemd-timesyncd" | "ntp" | "ntpd" | "ntpsec" | "openntpd" => {
            "time"
        }
        "networking" | "NetworkManager" | "systemd-networkd" | "wpa_supplicant" => "network",
        _ => "service",
    }
}

/// `Address already in use`: the service, the address it wanted, and who holds the port.
fn port_conflict(c: &Corpus, out: &mut Vec<Finding>) {
    struct Listener<'a> {
        addr: String,
        port: u16,
        process: Option<(String, String)>,
        line: String,
        block: &'a Block<'a>,
    }
    let mut listeners: Vec<Listener> = Vec::new();
    let ss = re!(r"^(?:(?:tcp|udp)6?\s+)?LISTEN\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+(.*)$");
    let ss_users = re!(r#"users:\(\("([^"]+)",pid=(\d+)"#);
    let netstat = re!(r"^tcp6?\s+\d+\s+\d+\s+(\S+):(\d+)\s+\S+\s+LISTEN\s+(?:(\d+)/(\S+))?");
    let lsof = re!(r"^(\S+)\s+(\d+)\s+\S+\s+\S+\s+IPv[46]\s+.*\bTCP\s+(\S+):(\d+)\s+\(LISTEN\)");
    for b in c
        .blocks
        .iter()
        .filter(|b| from(b, &["ss", "netstat", "lsof"]))
    {
        for line in b.lines() {
            let t = line.trim_start();
            if let Some(m) = ss.captures(t) {
                let process = ss_users
                    .captures(&m[3])
                    .map(|u| (u[1].to_string(), u[2].to_string()));
                if let Ok(port) = m[2].parse() {
                    listeners.push(Listener {
                        addr: m[1].to_string(),
                        port,
                        process,
                        line: line.to_string(),
                        block: b,
                    });
                }
            } else if let Some(m) = netstat.captures(t) {
                if let Ok(port) = m[2].parse() {
                    let process = m.get(4).map(|n| (n.as_str().to_string(), m[3].to_string()));
                    listeners.push(Listener {
                        addr: m[1].to_string(),
                        port,
                        process,
                        line: line.to_string(),
                        block: b,
                    });
                }
            } else if let Some(m) = lsof.captures(t) {
                if let Ok(port) = m[4].parse() {
                    listeners.push(Listener {
                        addr: m[3].to_string(),
                        port,
                        process: Some((m[1].to_string(), m[2].to_string())),
                        line: line.to_string(),
                        block: b,
                    });
                }
            }
        }
    }

    // (regex, index of address group or 0, index of port group)
    let specific: [(&Regex, usize, usize); 6] = [
        (
            re!(r"bind\(\) to (\S+?):(\d+) failed \(98: Address already in use\)"),
            1,
            2,
        ),
        (
            re!(r"make_sock: could not bind to address (\S+?):(\d+)"),
            1,
            2,
        ),
        (
            re!(r"(?i)listen tcp[46]? (\S*?):(\d+): bind: address already in use"),
            1,
            2,
        ),
        (
            re!(r"EADDRINUSE: address already in use (\S*?):(\d+)"),
            1,
            2,
        ),
        (
            re!(r"Bind to port (\d+) on (\S+) failed: Address already in use"),
            2,
            1,
        ),
        (
            re!(r"(?i)listening socket (\S*?):(\d+): bind: Address already in use"),
            1,
            2,
        ),
    ];
    let pg_bind =
        re!(r#"could not bind IPv[46] (?:address|socket) "([^"]*)": Address already in use"#);
    let pg_hint = re!(r"Is another postmaster already running on port (\d+)");
    let any_port = re!(r"(?:port\s+|:)(\d{2,5})\b");

    for b in c.logs() {
        let lines: Vec<&str> = b.lines().collect();
        let pg_port = lines
            .iter()
            .find_map(|l| pg_hint.captures(l).map(|m| m[1].to_string()));
        let mut groups = Groups::default();
        let mut meta: BTreeMap<String, (String, Option<u16>, String)> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            if !line.to_ascii_lowercase().contains("address already in use") {
                continue;
            }
            let mut addr = String::new();
            let mut port: Option<u16> = None;
            for (r, ai, pi) in specific.iter() {
                if let Some(m) = r.captures(line) {
                    addr = m
                        .get(*ai)
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_default();
                    port = m[*pi].parse().ok();
                    break;
                }
            }
            let mut extra: Vec<&str> = Vec::new();
            if port.is_none() {
                if let Some(m) = pg_bind.captures(line) {
                    addr = m[1].to_string();
                    port = pg_port.as_deref().and_then(|p| p.parse().ok());
                    // The HINT line that names the port follows the bind error.
                    if let Some(h) = lines[i + 1..].iter().take(3).find(|l| pg_hint.is_match(l)) {
                        extra.push(h);
                    }
                }
            }
            if port.is_none() {
                port = any_port
                    .captures_iter(line)
                    .filter_map(|m| m[1].parse().ok())
                    .last();
            }
            let service = ident(line)
                .map(str::to_string)
                .or_else(|| {
                    line.trim_start()
                        .split(':')
                        .next()
                        .filter(|w| !w.contains(' ') && !w.is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "a service".to_string());
            let subject = match port {
                Some(p) => format!("port {p}"),
                None => format!("{service} bind"),
            };
            groups.add(&subject, line);
            for e in extra {
                groups.add(&subject, e);
            }
            meta.entry(subject).or_insert((service, port, addr));
        }
        for (subject, ev_lines) in groups.iter() {
            let (service, port, addr) = &meta[subject];
            let want = match port {
                Some(p) if addr.is_empty() => format!("port {p}"),
                Some(p) => format!("{addr}:{p}"),
                None => "its address".to_string(),
            };
            let holder = port.and_then(|p| {
                let mut cands: Vec<&Listener> = listeners.iter().filter(|l| l.port == p).collect();
                cands.sort_by_key(|l| l.process.is_none());
                cands.into_iter().next()
            });
            let (summary, mut actions) = match (holder, port) {
                (Some(l), Some(p)) => {
                    let who = match &l.process {
                        Some((name, pid)) => format!("{name} (pid {pid})"),
                        None => "another process".to_string(),
                    };
                    (
                        format!(
                            "{service} cannot bind {want} (Address already in use): {who} is listening on {}:{p}",
                            l.addr
                        ),
                        vec![
                            format!("Confirm who holds the port: `ss -ltnp 'sport = :{p}'`"),
                            format!(
                                "Stop or reconfigure {who}, or move {service} to a free port; then start {service} again (`systemctl restart {service}`)"
                            ),
                        ],
                    )
                }
                (_, Some(p)) => (
                    format!(
                        "{service} cannot bind {want} (Address already in use); the holder of port {p} was not in the collected output"
                    ),
                    vec![
                        format!("Find the process holding the port: `ss -ltnp 'sport = :{p}'`"),
                        format!("Stop it or move {service} to a free port, then restart {service}"),
                    ],
                ),
                _ => (
                    format!("{service} cannot bind its listening address (Address already in use)"),
                    vec![
                        "List listeners with `ss -ltnp` and find the one on the service's port".into(),
                    ],
                ),
            };
            actions.push(format!(
                "Check the listen directives of {service} for duplicates (two `listen` lines for the same port also cause this)"
            ));
            let mut f = New {
                kind: "port_conflict",
                category: "service",
                severity: Severity::Critical,
                rank: 90,
                subject: subject.clone(),
                summary,
                block: b,
                evidence: ev_lines.clone(),
                actions,
            }
            .build();
            if let Some(l) = holder {
                if l.block.call_id == b.call_id {
                    f.evidence.push(ev(&l.line));
                } else {
                    f.supporting.push(support(l.block, &l.line));
                }
            }
            out.push(f);
        }
    }
}

/// Failed units and units stuck in a restart loop (journal, `systemctl status`,
/// `systemctl --failed`).
fn units(c: &Corpus, out: &mut Vec<Finding>) {
    let restart = re!(&format!(
        r"({UNIT}): Scheduled restart job, restart counter is at (\d+)"
    ));
    let too_quick = re!(&format!(r"({UNIT}): Start request repeated too quickly"));
    let failed_result = re!(&format!(r"({UNIT}): Failed with result '([^']+)'"));
    let failed_start_unit = re!(&format!(r"Failed to start ({UNIT})"));
    let failed_start_desc = re!(r"Failed to start (.+?)\.?$");
    let main_exit = re!(&format!(
        r"({UNIT}): Main process exited, code=(\w+), status=(\S+)"
    ));
    let list_failed = re!(&format!(
        r"^\s*[●*x×]?\s*({UNIT})\s+loaded\s+failed\s+failed\b"
    ));
    let status_head = re!(&format!(r"^\s*[●×○↻*x]?\s*({UNIT})(?:\s+-\s|$)"));
    let active_failed = re!(r"^\s*Active:\s+failed\s+\(Result:\s*([^)]+)\)");
    let active_loop = re!(r"^\s*Active:\s+activating\s+\(auto-restart\)");

    for b in c
        .blocks
        .iter()
        .filter(|b| b.is_log() || from(b, &["systemctl"]))
    {
        let mut looping = Groups::default();
        let mut counters: BTreeMap<String, u64> = BTreeMap::new();
        let mut failed = Groups::default();
        let mut results: BTreeMap<String, String> = BTreeMap::new();
        let mut exits: Vec<(String, String)> = Vec::new();
        let mut current: Option<String> = None;
        for line in b.lines() {
            if let Some(m) = status_head.captures(line) {
                if !line.contains(": ") {
                    current = Some(m[1].to_string());
                }
            }
            if let Some(m) = restart.captures(line) {
                let n: u64 = m[2].parse().unwrap_or(0);
                let e = counters.entry(m[1].to_string()).or_insert(0);
                *e = (*e).max(n);
                looping.add(&m[1], line);
            } else if let Some(m) = too_quick.captures(line) {
                counters.entry(m[1].to_string()).or_insert(0);
                looping.add(&m[1], line);
                failed.add(&m[1], line);
            } else if let Some(m) = failed_result.captures(line) {
                results.insert(m[1].to_string(), m[2].to_string());
                failed.add(&m[1], line);
            } else if let Some(m) = failed_start_unit.captures(line) {
                failed.add(&m[1], line);
            } else if let Some(m) = failed_start_desc.captures(line) {
                if ident(line) == Some("systemd") || ident(line).is_none() {
                    failed.add(m[1].trim(), line);
                }
            } else if let Some(m) = list_failed.captures(line) {
                failed.add(&m[1], line);
            } else if let Some(m) = active_failed.captures(line) {
                if let Some(u) = &current {
                    results.insert(u.clone(), m[1].trim().to_string());
                    failed.add(u, line);
                }
            } else if active_loop.is_match(line) {
                if let Some(u) = &current {
                    counters.entry(u.clone()).or_insert(0);
                    looping.add(u, line);
                }
            } else if let Some(m) = main_exit.captures(line) {
                exits.push((m[1].to_string(), line.to_string()));
            }
        }
        for (unit, lines) in looping.iter() {
            let n = counters.get(unit).copied().unwrap_or(0);
            let repeated = lines
                .iter()
                .any(|l| too_quick.is_match(l) || active_loop.is_match(l));
            if n < 3 && !repeated {
                continue;
            }
            let mut evidence: Vec<String> = Vec::new();
            // The last restart line carries the highest counter; show it first.
            if let Some(l) = lines.iter().rev().find(|l| restart.is_match(l)) {
                evidence.push(l.clone());
            }
            evidence.extend(lines.iter().filter(|l| !restart.is_match(l)).cloned());
            evidence.extend(
                exits
                    .iter()
                    .filter(|(u, _)| u == unit)
                    .map(|(_, l)| l.clone())
                    .take(2),
            );
            let summary = if n > 0 {
                format!("{unit} is crash-looping: systemd has restarted it {n} times")
            } else {
                format!("{unit} is crash-looping: it keeps exiting and systemd keeps restarting it")
            };
            out.push(
                New {
                    kind: "unit_crash_loop",
                    category: unit_category(unit),
                    severity: Severity::Critical,
                    rank: 62,
                    subject: unit.clone(),
                    summary,
                    block: b,
                    evidence,
                    actions: vec![
                        format!("Read why it exits: `journalctl -u {unit} -n 100 --no-pager`"),
                        format!("Check the unit and its ExecStart: `systemctl cat {unit}`"),
                        format!(
                            "Fix the cause, then `systemctl reset-failed {unit}` and `systemctl restart {unit}`"
                        ),
                    ],
                }
                .build(),
            );
        }
        for (unit, lines) in failed.iter() {
            if looping.lines.contains_key(unit) && counters.get(unit).copied().unwrap_or(0) >= 3 {
                continue; // reported as a crash loop
            }
            let mut evidence = lines.clone();
            evidence.extend(
                exits
                    .iter()
                    .filter(|(u, _)| u == unit)
                    .map(|(_, l)| l.clone())
                    .take(2),
            );
            let why = results
                .get(unit)
                .map(|r| format!(" (result: {r})"))
                .unwrap_or_default();
            out.push(
                New {
                    kind: "unit_failed",
                    category: unit_category(unit),
                    severity: Severity::Critical,
                    rank: 50,
                    subject: unit.clone(),
                    summary: format!("{unit} failed{why}"),
                    block: b,
                    evidence,
                    actions: vec![
                        format!("Read its last messages: `journalctl -u {unit} -n 100 --no-pager`"),
                        format!("See its state and exit status: `systemctl status {unit}`"),
                    ],
                }
                .build(),
            );
        }
    }
}

/// A proxy cannot reach its upstream (nginx `connect() failed ... while connecting to upstream`).
fn upstream(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(
        r#"connect\(\) failed \((111: Connection refused|110: Connection timed out|113: No route to host)\) while connecting to upstream.*?upstream: "([^"]+)""#
    );
    for b in c.logs() {
        let mut g = Groups::default();
        let mut why: BTreeMap<String, String> = BTreeMap::new();
        for line in b.lines() {
            if let Some(m) = r.captures(line) {
                g.add(&m[2], line);
                why.entry(m[2].to_string()).or_insert(m[1].to_string());
            }
        }
        for (up, lines) in g.iter() {
            out.push(
                New {
                    kind: "upstream_unreachable",
                    category: "network",
                    severity: Severity::Critical,
                    rank: 58,
                    subject: up.clone(),
                    summary: format!("The proxy cannot reach its upstream {up} ({})", why[up]),
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("Check that the backend behind {up} runs and listens: `ss -ltnp`, `systemctl status <backend>`"),
                        "Read the backend's own log for why it is down".into(),
                    ],
                }
                .build(),
            );
        }
    }
}
