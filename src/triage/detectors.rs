//! The detectors. Each reads the corpus (every command's output, split into lines) and
//! returns findings; correlation across calls happens here (a bind error and the process
//! holding the port, a dead resolver and the `nameserver` line that names it).
//!
//! Patterns follow the lines real software prints: systemd, the kernel (OOM killer, ext4,
//! xfs, block layer, libata), nginx, PostgreSQL, Apache, Go and Node listeners, OpenSSH,
//! glibc/curl/dig resolvers, chrony, systemd-timesyncd, OpenSSL, `df`, `ss`, `netstat`, `ps`.
use std::collections::BTreeMap;

use regex::Regex;

use super::time::{epoch_secs, parse_openssl_date};
use super::{Block, Corpus, Finding, Severity, Supporting, MAX_EVIDENCE};

macro_rules! re {
    ($s:expr) => {{
        static R: std::sync::LazyLock<Regex> =
            std::sync::LazyLock::new(|| Regex::new($s).expect("detector regex is valid"));
        &*R
    }};
}

/// Longest evidence line kept (characters).
const MAX_LINE: usize = 400;

pub(crate) fn run_all(c: &Corpus) -> Vec<Finding> {
    let mut out = Vec::new();
    port_conflict(c, &mut out);
    units(c, &mut out);
    oom(c, &mut out);
    disk_space(c, &mut out);
    no_space(c, &mut out);
    readonly_fs(c, &mut out);
    io_errors(c, &mut out);
    auth_modes(c, &mut out);
    auth_failures(c, &mut out);
    dns(c, &mut out);
    certificates(c, &mut out);
    clock(c, &mut out);
    segfaults(c, &mut out);
    upstream(c, &mut out);
    load(c, &mut out);
    out
}

/// An evidence line: trimmed, bounded.
fn ev(line: &str) -> String {
    let t = line.trim();
    if t.chars().count() <= MAX_LINE {
        t.to_string()
    } else {
        let cut: String = t.chars().take(MAX_LINE).collect();
        format!("{cut}…")
    }
}

struct New<'a> {
    kind: &'static str,
    category: &'static str,
    severity: Severity,
    rank: u8,
    subject: String,
    summary: String,
    block: &'a Block<'a>,
    evidence: Vec<String>,
    actions: Vec<String>,
}

impl New<'_> {
    fn build(self) -> Finding {
        let mut evidence: Vec<String> = Vec::new();
        for e in self.evidence {
            let e = ev(&e);
            // The same message repeated (nginx retries a bind five times) is one piece of evidence.
            let dup = evidence.iter().any(|x| message_part(x) == message_part(&e));
            if !dup && evidence.len() < MAX_EVIDENCE {
                evidence.push(e);
            }
        }
        Finding {
            category: self.category.to_string(),
            severity: self.severity,
            kind: self.kind.to_string(),
            subject: self.subject,
            summary: self.summary,
            evidence,
            call_id: self.block.call_id.to_string(),
            tool: self.block.tool.to_string(),
            supporting: Vec::new(),
            actions: self.actions,
            rank: self.rank,
        }
    }
}

fn support(block: &Block, line: &str) -> Supporting {
    Supporting {
        line: ev(line),
        call_id: block.call_id.to_string(),
        tool: block.tool.to_string(),
    }
}

/// Lines grouped by subject within one block, in first-seen order.
#[derive(Default)]
struct Groups {
    order: Vec<String>,
    lines: BTreeMap<String, Vec<String>>,
}

impl Groups {
    fn add(&mut self, subject: &str, line: &str) {
        if !self.lines.contains_key(subject) {
            self.order.push(subject.to_string());
        }
        let v = self.lines.entry(subject.to_string()).or_default();
        if !v.iter().any(|l| l == line) {
            v.push(line.to_string());
        }
    }
    fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.order.iter().map(|s| (s, &self.lines[s]))
    }
}

/// A log line without its timestamp, host and pid: `nginx: nginx: [emerg] …` (the whole line
/// when it has no syslog prefix). Two lines with the same message part say the same thing.
fn message_part(line: &str) -> String {
    let stamp = re!(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+\S+\s+"
    );
    let pid = re!(r"^([^\s\[:]+)\[\d+\]:");
    let rest = match stamp.find(line) {
        Some(m) => &line[m.end()..],
        None => return line.to_string(),
    };
    pid.replace(rest, "$1:").into_owned()
}

/// The syslog identifier of a journal/syslog line (`nginx` in
/// `Nov 25 08:01:02 web01 nginx[1234]: …`), if the line has that shape.
pub(crate) fn ident(line: &str) -> Option<&str> {
    let r = re!(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+\S+\s+([^\s\[:]+)(?:\[\d+\])?:\s"
    );
    r.captures(line).map(|c| c.get(1).unwrap().as_str())
}

fn pct(s: &str) -> Option<u32> {
    s.strip_suffix('%')?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Services

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
    for b in &c.blocks {
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

    for b in &c.blocks {
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

const UNIT: &str = r"[\w@.:\\-]+\.(?:service|socket|mount|timer|path|target|swap|scope)";

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

    for b in &c.blocks {
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

/// Kernel OOM killer, memory-cgroup OOM, systemd-oomd.
fn oom(c: &Corpus, out: &mut Vec<Finding>) {
    let killed = re!(
        r"(?:Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): Kill(?:ed)? process (\d+) \(([^)]+)\)"
    );
    let oom_kill = re!(r"oom-kill:.*?\btask=([^,\s]+),pid=(\d+)");
    let invoked = re!(r"(\S+) invoked oom-killer: ");
    let unit_killed = re!(&format!(
        r"({UNIT}): A process of this unit has been killed by the OOM killer"
    ));
    let unit_result = re!(&format!(r"({UNIT}): Failed with result 'oom-kill'"));
    let oomd = re!(r"systemd-oomd\[\d+\]: Killed (\S+) due to (.+)$");
    let reaped = re!(r"oom_reaper: reaped process (\d+) \(([^)]+)\)");
    for b in &c.blocks {
        let mut victims: Vec<String> = Vec::new();
        let mut units: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut invokers: Vec<String> = Vec::new();
        for line in b.lines() {
            if let Some(m) = killed.captures(line) {
                let v = format!("{} (pid {})", &m[2], &m[1]);
                if !victims.contains(&v) {
                    victims.push(v);
                }
                lines.push(line.to_string());
            } else if let Some(m) = oom_kill.captures(line) {
                let v = format!("{} (pid {})", &m[1], &m[2]);
                if !victims.contains(&v) {
                    victims.push(v);
                }
                lines.push(line.to_string());
            } else if let Some(m) = unit_killed
                .captures(line)
                .or_else(|| unit_result.captures(line))
            {
                if !units.contains(&m[1].to_string()) {
                    units.push(m[1].to_string());
                }
                lines.push(line.to_string());
            } else if let Some(m) = oomd.captures(line) {
                units.push(m[1].to_string());
                lines.push(line.to_string());
            } else if let Some(m) = invoked.captures(line) {
                invokers.push(m[1].to_string());
                lines.push(line.to_string());
            } else if reaped.is_match(line) {
                lines.push(line.to_string());
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Lead with the kill lines; the "invoked" line is context.
        lines.sort_by_key(|l| !(killed.is_match(l) || unit_killed.is_match(l) || oomd.is_match(l)));
        let mut summary = if victims.is_empty() {
            "The OOM killer has been killing processes".to_string()
        } else {
            format!("The kernel OOM killer killed {}", victims.join(", "))
        };
        if !units.is_empty() {
            summary.push_str(&format!(" ({})", units.join(", ")));
        }
        let first = victims
            .first()
            .and_then(|v| v.split(' ').next())
            .unwrap_or("the process")
            .to_string();
        out.push(
            New {
                kind: "oom_kill",
                category: "memory",
                severity: Severity::Critical,
                rank: 86,
                subject: "oom".into(),
                summary,
                block: b,
                evidence: lines,
                actions: vec![
                    "See memory now and who uses it: `free -m`, `ps aux --sort=-rss | head`".into(),
                    "Read the full OOM report (task list, memory per cgroup): `journalctl -k | grep -A40 'invoked oom-killer'`".into(),
                    format!(
                        "Give {first} a memory limit it fits in (MemoryMax= in its unit, heap size) or add memory; look for a leak if its RSS keeps growing"
                    ),
                ],
            }
            .build(),
        );
    }
}

fn pseudo_mount(fstype: &str, source: &str, mount: &str) -> bool {
    const SKIP_TYPES: &[&str] = &["squashfs", "iso9660", "udf", "erofs", "cramfs", "romfs"];
    SKIP_TYPES.contains(&fstype)
        || mount.starts_with("/snap/")
        || mount.starts_with("/proc")
        || mount.starts_with("/sys")
        || mount.starts_with("/run/credentials")
        || (source.starts_with("/dev/loop") && mount.starts_with("/snap"))
}

/// `df` and `df -i`: full and nearly full filesystems, exhausted inode tables.
fn disk_space(c: &Corpus, out: &mut Vec<Finding>) {
    for b in &c.blocks {
        let lines: Vec<&str> = b.lines().collect();
        let mut i = 0usize;
        let mut header: Option<(bool, usize, Option<usize>, Option<usize>)> = None;
        for _ in 0..lines.len() {
            if i >= lines.len() {
                break;
            }
            let line = lines[i];
            i += 1;
            let toks: Vec<&str> = line.split_whitespace().collect();
            if line.contains("Mounted on") {
                let inode = toks.contains(&"IUse%");
                let idx = toks
                    .iter()
                    .position(|t| *t == "Use%" || *t == "IUse%" || *t == "Capacity");
                let avail = toks
                    .iter()
                    .position(|t| *t == "Avail" || *t == "Available" || *t == "IFree");
                let ty = toks.iter().position(|t| *t == "Type");
                header = idx.map(|p| (inode, p, avail, ty));
                continue;
            }
            let Some((inode, p, avail_idx, ty_idx)) = header else {
                continue;
            };
            let mut toks = toks;
            let mut shown = line.to_string();
            // df wraps a long device name onto its own line.
            if toks.len() == 1 && i < lines.len() && lines[i].starts_with(' ') {
                toks.extend(lines[i].split_whitespace());
                shown = format!("{} {}", line, lines[i].trim());
                i += 1;
            }
            if toks.len() <= p + 1 {
                continue;
            }
            let Some(used) = pct(toks[p]) else { continue };
            let source = toks[0];
            let mount = toks[p + 1..].join(" ");
            let fstype = ty_idx.and_then(|t| toks.get(t)).copied().unwrap_or("");
            if pseudo_mount(fstype, source, &mount) {
                continue;
            }
            let avail = avail_idx.and_then(|a| toks.get(a)).copied().unwrap_or("?");
            let zero = avail == "0" || avail == "0B" || avail == "0K";
            if inode {
                if used < 90 {
                    continue;
                }
                let crit = used >= 95 || zero;
                out.push(
                    New {
                        kind: "inode_exhaustion",
                        category: "disk",
                        severity: if crit { Severity::Critical } else { Severity::Warning },
                        rank: if crit { 89 } else { 35 },
                        subject: mount.clone(),
                        summary: format!(
                            "{mount} has used {used}% of its inodes ({avail} free): new files cannot be created{}",
                            if crit { "" } else { " soon" }
                        ),
                        block: b,
                        evidence: vec![shown],
                        actions: vec![
                            format!(
                                "Find the directories with the most files: `find {mount} -xdev -type d -size +1M` or `du --inodes -x {mount} | sort -n | tail`"
                            ),
                            "Remove or archive the small files (session files, mail queues, caches) that fill the inode table".into(),
                        ],
                    }
                    .build(),
                );
            } else {
                if used < 90 && !zero {
                    continue;
                }
                let crit = used >= 95 || zero;
                out.push(
                    New {
                        kind: if crit { "filesystem_full" } else { "filesystem_nearly_full" },
                        category: "disk",
                        severity: if crit { Severity::Critical } else { Severity::Warning },
                        rank: if crit { 87 } else { 30 },
                        subject: mount.clone(),
                        summary: if crit {
                            format!("Filesystem {mount} ({source}) is {used}% full, {avail} available")
                        } else {
                            format!("Filesystem {mount} ({source}) is nearly full: {used}% used, {avail} available")
                        },
                        block: b,
                        evidence: vec![shown],
                        actions: vec![
                            format!("Find what grew: `du -xh --max-depth=2 {mount} | sort -h | tail -20`"),
                            "Look for deleted files still held open: `lsof +L1`".into(),
                            "Free space (rotate/compress logs, remove old releases or dumps) or grow the filesystem".into(),
                        ],
                    }
                    .build(),
                );
            }
        }
    }
}

/// `No space left on device` wherever it is printed.
fn no_space(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(r"No space left on device|\bENOSPC\b");
    for b in &c.blocks {
        let lines: Vec<String> = b
            .lines()
            .filter(|l| r.is_match(l))
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            continue;
        }
        let n = lines.len();
        out.push(
            New {
                kind: "no_space",
                category: "disk",
                severity: Severity::Critical,
                rank: 80,
                subject: "enospc".into(),
                summary: format!(
                    "Writes are failing with \"No space left on device\" ({n} line{})",
                    plural(n)
                ),
                block: b,
                evidence: lines,
                actions: vec![
                    "Check both blocks and inodes of the filesystem written to: `df -h` and `df -i`".into(),
                    "Free space or inodes there, then restart what failed to write".into(),
                ],
            }
            .build(),
        );
    }
}

/// Read-only filesystems: kernel remounts and shutdowns, `Read-only file system` errors, and
/// real filesystems mounted `ro`.
fn readonly_fs(c: &Corpus, out: &mut Vec<Finding>) {
    let remount = re!(
        r"(EXT[234]-fs|BTRFS[^(]*) \(?(?:device )?([^):\s]+)\)?: .*(?:Remounting filesystem read-only|forced readonly)"
    );
    let xfs_down = re!(
        r"XFS \(([^)]+)\): .*(?:Shutting down filesystem|Filesystem has been shut down|Please unmount the filesystem)"
    );
    let erofs = re!(r"Read-only file system|\bEROFS\b");
    let mount_out = re!(r"^(\S+) on (\S+) type (\S+) \(([^)]*)\)$");
    let proc_mounts = re!(r"^(\S+) (/\S*) (\S+) (\S+) \d+ \d+$");
    let findmnt = re!(r"^[\s│├└─|`-]*(/\S*)\s+(\S+)\s+(\S+)\s+(\S+)$");
    const REAL: &[&str] = &[
        "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "vfat", "exfat", "ntfs",
        "ntfs3", "zfs",
    ];

    struct RoMount<'a> {
        source: String,
        mount: String,
        line: String,
        block: &'a Block<'a>,
    }
    let mut ro: Vec<RoMount> = Vec::new();
    let mut kernel: Vec<(String, String, &Block)> = Vec::new();
    let mut eroses: Vec<(String, &Block)> = Vec::new();
    for b in &c.blocks {
        for line in b.lines() {
            if let Some(m) = remount.captures(line) {
                kernel.push((m[2].to_string(), line.to_string(), b));
                continue;
            }
            if let Some(m) = xfs_down.captures(line) {
                kernel.push((m[1].to_string(), line.to_string(), b));
                continue;
            }
            if erofs.is_match(line) {
                eroses.push((line.to_string(), b));
                continue;
            }
            let parsed = mount_out
                .captures(line)
                .map(|m| {
                    (
                        m[1].to_string(),
                        m[2].to_string(),
                        m[3].to_string(),
                        m[4].to_string(),
                    )
                })
                .or_else(|| {
                    proc_mounts.captures(line).map(|m| {
                        (
                            m[1].to_string(),
                            m[2].to_string(),
                            m[3].to_string(),
                            m[4].to_string(),
                        )
                    })
                })
                .or_else(|| {
                    findmnt.captures(line).map(|m| {
                        (
                            m[2].to_string(),
                            m[1].to_string(),
                            m[3].to_string(),
                            m[4].to_string(),
                        )
                    })
                });
            if let Some((source, mount, fstype, opts)) = parsed {
                let is_ro = opts.split(',').any(|o| o == "ro");
                if is_ro
                    && source.starts_with("/dev/")
                    && REAL.contains(&fstype.as_str())
                    && !pseudo_mount(&fstype, &source, &mount)
                    && !ro.iter().any(|r| r.mount == mount)
                {
                    ro.push(RoMount {
                        source,
                        mount,
                        line: line.to_string(),
                        block: b,
                    });
                }
            }
        }
    }
    let dev_matches = |dev: &str, source: &str| {
        let base = source.rsplit('/').next().unwrap_or(source);
        base == dev || source == dev
    };
    let mut used_kernel = vec![false; kernel.len()];
    let mut used_erofs = vec![false; eroses.len()];
    for r in &ro {
        let mut f = New {
            kind: "readonly_filesystem",
            category: "disk",
            severity: Severity::Warning,
            rank: 86,
            subject: r.mount.clone(),
            summary: format!("{} ({}) is mounted read-only", r.mount, r.source),
            block: r.block,
            evidence: vec![r.line.clone()],
            actions: readonly_actions(&r.mount, &r.source),
        }
        .build();
        for (i, (dev, line, b)) in kernel.iter().enumerate() {
            if dev_matches(dev, &r.source) {
                used_kernel[i] = true;
                f.severity = Severity::Critical;
                f.summary = format!(
                    "The kernel remounted {} ({}) read-only after filesystem errors",
                    r.mount, r.source
                );
                f.supporting.push(support(b, line));
            }
        }
        let prefix = format!("{}/", r.mount.trim_end_matches('/'));
        for (i, (line, b)) in eroses.iter().enumerate() {
            if line.contains(&prefix) || line.contains(&format!("'{}'", r.mount)) {
                used_erofs[i] = true;
                f.severity = Severity::Critical;
                if f.supporting.len() < MAX_EVIDENCE {
                    f.supporting.push(support(b, line));
                }
            }
        }
        if f.severity == Severity::Critical && !f.summary.starts_with("The kernel") {
            f.summary = format!(
                "{} ({}) is mounted read-only and writes to it fail with \"Read-only file system\"",
                r.mount, r.source
            );
        }
        out.push(f);
    }
    let mut by_dev: Groups = Groups::default();
    let mut blocks: BTreeMap<String, &Block> = BTreeMap::new();
    for (i, (dev, line, b)) in kernel.iter().enumerate() {
        if !used_kernel[i] {
            by_dev.add(dev, line);
            blocks.entry(dev.clone()).or_insert(b);
        }
    }
    for (dev, lines) in by_dev.iter() {
        out.push(
            New {
                kind: "readonly_filesystem",
                category: "disk",
                severity: Severity::Critical,
                rank: 86,
                subject: dev.clone(),
                summary: format!("The kernel made the filesystem on {dev} read-only after errors"),
                block: blocks[dev],
                evidence: lines.clone(),
                actions: readonly_actions("the mount point", dev),
            }
            .build(),
        );
    }
    let rest: Vec<(String, &Block)> = eroses
        .iter()
        .enumerate()
        .filter(|(i, _)| !used_erofs[*i])
        .map(|(_, (l, b))| (l.clone(), *b))
        .collect();
    if let Some((_, b)) = rest.first() {
        let lines: Vec<String> = rest
            .iter()
            .filter(|(_, x)| x.call_id == b.call_id)
            .map(|(l, _)| l.clone())
            .collect();
        out.push(
            New {
                kind: "readonly_filesystem",
                category: "disk",
                severity: Severity::Critical,
                rank: 84,
                subject: "erofs".into(),
                summary: "Writes are failing with \"Read-only file system\"".into(),
                block: b,
                evidence: lines,
                actions: readonly_actions("the affected mount", "its device"),
            }
            .build(),
        );
    }
}

fn readonly_actions(mount: &str, dev: &str) -> Vec<String> {
    vec![
        format!("Read the kernel messages that explain it: `journalctl -k | grep -iE 'ext4|xfs|btrfs|I/O error'` (device {dev})"),
        "Check the disk's health (`smartctl -a`, the hypervisor/storage console) before anything else".into(),
        format!("Plan downtime: unmount {mount}, run fsck/xfs_repair, then remount read-write; restore from backup if the device is failing"),
    ]
}

/// Block-layer, libata, NVMe and filesystem I/O errors.
fn io_errors(c: &Corpus, out: &mut Vec<Finding>) {
    let pats: [&Regex; 9] = [
        re!(r"I/O error, dev ([\w-]+), sector"),
        re!(r"Buffer I/O error on dev(?:ice)? ([\w-]+)"),
        re!(r"critical (?:medium|target|nexus) error, dev ([\w-]+)"),
        re!(r"\b(ata\d+(?:\.\d+)?): (?:failed command|error: \{|status: \{ ?DRDY ERR)"),
        re!(
            r"\[(sd\w+)\] tag#\d+ (?:FAILED Result|Sense Key : (?:Medium|Hardware) Error|Add\. Sense: Unrecovered read error)"
        ),
        re!(r"\b(nvme\d+(?:n\d+)?): .*I/O (?:Cmd.*)?Error"),
        re!(r"EXT[234]-fs (?:warning|error) \(device ([\w-]+)\): .*I/O error"),
        re!(r"XFS \(([\w-]+)\): .*(?:metadata I/O error|log I/O error|I/O error)"),
        re!(r"BTRFS error \(device ([\w-]+)\).*(?:bdev .* errs|I/O error)"),
    ];
    let eio = re!(r"Input/output error");
    for b in &c.blocks {
        let mut g = Groups::default();
        for line in b.lines() {
            if let Some(m) = pats.iter().find_map(|r| r.captures(line)) {
                g.add(&m[1], line);
            } else if eio.is_match(line) {
                g.add("EIO", line);
            }
        }
        for (dev, lines) in g.iter() {
            let n = lines.len();
            let (sev, summary) = if dev == "EIO" {
                (
                    Severity::Warning,
                    format!(
                        "Reads or writes fail with \"Input/output error\" ({n} line{})",
                        plural(n)
                    ),
                )
            } else {
                (
                    Severity::Critical,
                    format!("The kernel reports I/O errors on {dev} ({n} line{}): the device or its path is failing", plural(n)),
                )
            };
            out.push(
                New {
                    kind: "io_error",
                    category: "disk",
                    severity: sev,
                    rank: match dev.as_str() {
                        "EIO" => 60,
                        d if d.starts_with("ata") => 83,
                        _ => 85,
                    },
                    subject: dev.clone(),
                    summary,
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("Check the device's health: `smartctl -a /dev/{dev}` (or the storage/hypervisor console for virtual disks)"),
                        "Read the surrounding kernel messages: `journalctl -k -p warning`".into(),
                        "Move the data off the device and replace it if errors continue; restore from backup if files are damaged".into(),
                    ],
                }
                .build(),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// sshd refusing keys because of ownership or modes; world/group-writable `.ssh` files in
/// `ls -l` or `stat` output.
fn auth_modes(c: &Corpus, out: &mut Vec<Finding>) {
    let refused =
        re!(r"Authentication refused: bad ownership or modes for (?:file|directory) (\S+)");
    let ls = re!(
        r"^([-d])([r-][w-][xsS-])([r-][w-][xsS-])([r-][w-][xtT-])[.+@]?\s+\d+\s+(\S+)\s+(\S+)\s+.*?\s(\S*(?:authorized_keys2?|\.ssh|id_(?:rsa|ecdsa|ed25519|dsa)))$"
    );
    let stat_file = re!(r"^\s*File: [‘'`]?([^’'`]+)[’'`]?$");
    let stat_access =
        re!(r"^\s*Access: \((\d{4})/([-d][rwxsStT-]{9})\)\s+Uid: \(\s*\d+/\s*(\S+)\)");
    for b in &c.blocks {
        let mut g = Groups::default();
        let mut stat_path: Option<String> = None;
        for line in b.lines() {
            if let Some(m) = refused.captures(line) {
                g.add(&m[1], line);
                continue;
            }
            if let Some(m) = ls.captures(line) {
                let (group, other) = (&m[3], &m[4]);
                if group.as_bytes()[1] == b'w' || other.as_bytes()[1] == b'w' {
                    let name = &m[7];
                    let path = if name.starts_with('/') {
                        name.to_string()
                    } else {
                        match b.path_arg() {
                            Some(dir) if name == "." => dir.to_string(),
                            Some(dir) if dir.ends_with(name) => dir.to_string(),
                            Some(dir) => format!("{}/{name}", dir.trim_end_matches('/')),
                            None => name.to_string(),
                        }
                    };
                    g.add(&path, line);
                }
                continue;
            }
            if let Some(m) = stat_file.captures(line) {
                stat_path = Some(m[1].to_string());
                continue;
            }
            if let (Some(m), Some(p)) = (stat_access.captures(line), stat_path.as_ref()) {
                let perms = m[2].as_bytes();
                let sensitive = p.contains("/.ssh") || p.ends_with("authorized_keys");
                if sensitive && (perms[5] == b'w' || perms[8] == b'w') {
                    g.add(p, &format!("{p}: {}", line.trim()));
                }
            }
        }
        for (path, lines) in g.iter() {
            let refused_seen = lines.iter().any(|l| refused.is_match(l));
            out.push(
                New {
                    kind: "auth_bad_modes",
                    category: "auth",
                    severity: if refused_seen { Severity::Critical } else { Severity::Warning },
                    rank: 82,
                    subject: path.clone(),
                    summary: if refused_seen {
                        format!("sshd refuses public-key logins: bad ownership or modes for {path}")
                    } else {
                        format!("{path} is writable by group or others; sshd (StrictModes) will refuse keys")
                    },
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("Inspect ownership and modes along the path: `namei -l {path}`"),
                        format!("Fix as the owner: `chmod go-w` on the home directory and `.ssh`, `chmod 600 {path}` (700 for `.ssh`), owned by the login user"),
                    ],
                }
                .build(),
            );
        }
    }
}

/// Failed SSH/PAM authentications, counted, with the busiest sources.
fn auth_failures(c: &Corpus, out: &mut Vec<Finding>) {
    let failed = re!(
        r"Failed (?:password|publickey|keyboard-interactive/pam|none) for (?:invalid user )?(\S+) from (\S+)"
    );
    let invalid = re!(r"Invalid user (\S*) from (\S+)");
    let pam = re!(r"pam_unix\(([^:]+):auth\): authentication failure;.*?(?:rhost=(\S*))?(?:\s|$)");
    let closed = re!(r"(?:Connection closed|Disconnected) by authenticating user (\S+) (\S+)");
    let other = re!(
        r"maximum authentication attempts exceeded|PAM \d+ more authentication failures|Permission denied \(publickey"
    );
    for b in &c.blocks {
        let mut lines: Vec<String> = Vec::new();
        let mut sources: BTreeMap<String, usize> = BTreeMap::new();
        let mut count = 0usize;
        for line in b.lines() {
            let src = if let Some(m) = failed.captures(line) {
                Some(m[2].to_string())
            } else if let Some(m) = invalid.captures(line) {
                Some(m[2].to_string())
            } else if let Some(m) = closed.captures(line) {
                Some(m[2].to_string())
            } else if let Some(m) = pam.captures(line) {
                Some(m.get(2).map(|x| x.as_str().to_string()).unwrap_or_default())
            } else if other.is_match(line) {
                Some(String::new())
            } else {
                None
            };
            if let Some(s) = src {
                count += 1;
                if !s.is_empty() {
                    *sources.entry(s).or_insert(0) += 1;
                }
                lines.push(line.to_string());
            }
        }
        if count == 0 {
            continue;
        }
        let mut top: Vec<(String, usize)> = sources.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let top_s: Vec<String> = top
            .iter()
            .take(3)
            .map(|(s, n)| format!("{s} ×{n}"))
            .collect();
        let summary = format!(
            "{count} failed authentication line{}{}",
            plural(count),
            if top_s.is_empty() {
                String::new()
            } else {
                format!(" (top sources: {})", top_s.join(", "))
            }
        );
        // Keep the most recent lines as evidence.
        let keep: Vec<String> = lines
            .iter()
            .rev()
            .take(MAX_EVIDENCE)
            .rev()
            .cloned()
            .collect();
        out.push(
            New {
                kind: "auth_failures",
                category: "auth",
                severity: if count >= 20 { Severity::Warning } else { Severity::Info },
                rank: 45,
                subject: "auth failures".into(),
                summary,
                block: b,
                evidence: keep,
                actions: vec![
                    "If these are your users: check the key they offer against authorized_keys and sshd's log at LogLevel VERBOSE".into(),
                    "If these are scanners: restrict sshd by source (firewall, AllowUsers/Match Address) or use fail2ban".into(),
                ],
            }
            .build(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// DNS, TLS, time

/// Name-resolution failures and resolvers that do not answer.
fn dns(c: &Corpus, out: &mut Vec<Finding>) {
    let hard: [&Regex; 9] = [
        re!(r"Temporary failure in name resolution"),
        re!(r"\bEAI_AGAIN\b"),
        re!(r";; connection timed out; no servers could be reached"),
        re!(r"\blookup \S+ on \S+: (?:server misbehaving|read udp .*i/o timeout|dial udp .*)"),
        re!(r"All attempts to contact name servers or networks failed"),
        re!(
            r"\bstatus: (?:SERVFAIL|REFUSED)\b|server can't find \S+: (?:SERVFAIL|REFUSED)|not found: \d\((?:SERVFAIL|REFUSED)\)"
        ),
        re!(r"could not contact DNS servers"),
        re!(r"Transient resolution failure"),
        re!(r"Temporary failure resolving '"),
    ];
    let soft: [&Regex; 6] = [
        re!(r"Name or service not known"),
        re!(r"Could not resolve host"),
        re!(r#"could not translate host name "[^"]+" to address"#),
        re!(r"\blookup \S+(?: on \S+)?: no such host"),
        re!(r#"host not found in upstream "[^"]+""#),
        re!(r"getaddrinfo ENOTFOUND"),
    ];
    let comm = re!(
        r";; communications error to ([0-9A-Fa-f.:]+)#53: (timed out|connection refused|host unreachable|network unreachable)"
    );
    let go_on = re!(
        r"\blookup \S+ on ([0-9A-Fa-f.:\[\]]+?):53: (?:read udp .*i/o timeout|dial udp .*|server misbehaving)"
    );
    let degraded =
        re!(r"Using degraded feature set \S+ instead of \S+ for DNS server ([0-9A-Fa-f.:]+)");
    let nameserver = re!(r"^\s*nameserver\s+(\S+)");

    let mut servers: Vec<(String, String, &Block)> = Vec::new();
    for b in &c.blocks {
        let is_resolv = b.path_arg().is_some_and(|p| p.ends_with("resolv.conf"))
            || b.command.contains("resolv.conf");
        let mut any_ns = false;
        for line in b.lines() {
            if let Some(m) = nameserver.captures(line) {
                any_ns = true;
                servers.push((m[1].to_string(), line.to_string(), b));
            }
        }
        if is_resolv && !any_ns && !b.text.trim().is_empty() && !b.text.contains("No such file") {
            out.push(
                New {
                    kind: "dns_no_nameserver",
                    category: "dns",
                    severity: Severity::Warning,
                    rank: 70,
                    subject: "resolv.conf".into(),
                    summary: "/etc/resolv.conf lists no nameserver: lookups go to 127.0.0.1, which usually has no resolver".into(),
                    block: b,
                    evidence: b.lines().take(4).map(str::to_string).collect(),
                    actions: vec!["Restore the nameserver lines (or fix what generates the file: NetworkManager, systemd-resolved, DHCP)".into()],
                }
                .build(),
            );
        }
    }

    for b in &c.blocks {
        let mut fail_lines: Vec<String> = Vec::new();
        let mut hard_n = 0usize;
        let mut dead: Groups = Groups::default();
        for line in b.lines() {
            if let Some(m) = comm.captures(line) {
                dead.add(m[1].trim_end_matches('.'), line);
                continue;
            }
            if let Some(m) = go_on.captures(line) {
                dead.add(m[1].trim_matches(|ch| ch == '[' || ch == ']'), line);
            }
            if let Some(m) = degraded.captures(line) {
                dead.add(m[1].trim_end_matches('.'), line);
                continue;
            }
            if hard.iter().any(|r| r.is_match(line)) {
                hard_n += 1;
                fail_lines.push(line.to_string());
            } else if soft.iter().any(|r| r.is_match(line)) {
                fail_lines.push(line.to_string());
            }
        }
        // Getent prints nothing and exits 2 when a name does not resolve.
        for (server, lines) in dead.iter() {
            let only_degraded = lines.iter().all(|l| degraded.is_match(l));
            let conf: Vec<&(String, String, &Block)> =
                servers.iter().filter(|(s, _, _)| s == server).collect();
            let mut f = New {
                kind: "dns_dead_resolver",
                category: "dns",
                severity: if only_degraded { Severity::Warning } else { Severity::Critical },
                rank: 78,
                subject: server.clone(),
                summary: if only_degraded {
                    format!("DNS server {server} misbehaves (systemd-resolved fell back to a degraded feature set)")
                } else {
                    format!("The resolver {server} does not answer DNS queries{}", if conf.is_empty() { "" } else { " (it is a nameserver in /etc/resolv.conf)" })
                },
                block: b,
                evidence: lines.clone(),
                actions: dns_actions(Some(server)),
            }
            .build();
            for (_, line, sb) in conf.into_iter().take(1) {
                if sb.call_id == b.call_id {
                    f.evidence.push(ev(line));
                } else {
                    f.supporting.push(support(sb, line));
                }
            }
            out.push(f);
        }
        if fail_lines.is_empty() {
            continue;
        }
        let n = fail_lines.len();
        let crit = hard_n > 0 || n >= 3;
        let no_servers = fail_lines
            .iter()
            .any(|l| l.contains("no servers could be reached"));
        let mut f = New {
            kind: "dns_failure",
            category: "dns",
            severity: if crit {
                Severity::Critical
            } else {
                Severity::Warning
            },
            rank: if crit { 76 } else { 40 },
            subject: "dns".into(),
            summary: if no_servers && !servers.is_empty() {
                let list: Vec<&str> = servers.iter().map(|(s, _, _)| s.as_str()).collect();
                format!(
                    "Name resolution fails: none of the configured resolvers ({}) answered",
                    list.join(", ")
                )
            } else {
                format!("Name resolution fails ({n} line{})", plural(n))
            },
            block: b,
            evidence: fail_lines,
            actions: dns_actions(None),
        }
        .build();
        if no_servers {
            for (_, line, sb) in servers.iter().take(2) {
                if sb.call_id != b.call_id {
                    f.supporting.push(support(sb, line));
                }
            }
        }
        out.push(f);
    }
}

fn dns_actions(server: Option<&str>) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(s) = server {
        v.push(format!(
            "Query the resolver directly: `dig @{s} example.com +time=2 +tries=1`"
        ));
        v.push(format!(
            "Check that {s} is up and reachable on port 53 (firewall, the resolver service itself)"
        ));
    } else {
        v.push(
            "Check which resolvers are configured: `cat /etc/resolv.conf`, `resolvectl status`"
                .into(),
        );
        v.push("Query each one directly: `dig @<nameserver> <name> +time=2 +tries=1`".into());
    }
    v.push(
        "Point /etc/resolv.conf (or the network config that writes it) at a working resolver"
            .into(),
    );
    v
}

/// Expired and soon-expiring certificates (OpenSSL output) and expiry errors in logs.
fn certificates(c: &Corpus, out: &mut Vec<Finding>) {
    let not_after = re!(r"^\s*(?:notAfter\s*=\s*|Not After\s*:\s*)(.+?)\s*$");
    let subject_l = re!(r"^\s*(?:subject\s*=\s*|Subject:\s*)(.+?)\s*$");
    let file_hdr = re!(r"(\S+\.(?:pem|crt|cer|cert))\b");
    let log = re!(
        r"(?i)certificate has expired|certificate is not yet valid|CERT_HAS_EXPIRED|alert certificate expired|certificate expired on"
    );
    let will_expire = re!(r"^Certificate will expire$");
    let now = epoch_secs(c.now);
    for b in &c.blocks {
        let subject = b.path_arg().map(str::to_string);
        let mut last_line_subject: Option<String> = None;
        let mut log_lines: Vec<String> = Vec::new();
        for line in b.lines() {
            if let Some(m) = subject_l.captures(line) {
                last_line_subject = Some(m[1].to_string());
                continue;
            }
            if subject.is_none() {
                if let Some(m) = file_hdr.captures(line) {
                    if !line.contains("notAfter") && !log.is_match(line) {
                        last_line_subject = Some(m[1].to_string());
                    }
                }
            }
            if let Some(m) = not_after.captures(line) {
                let Some(t) = parse_openssl_date(&m[1]) else {
                    continue;
                };
                let days = (t - now).div_euclid(86400);
                let who = subject
                    .clone()
                    .or_else(|| last_line_subject.clone())
                    .unwrap_or_else(|| "A certificate".to_string());
                let (sev, rank, summary) = if t <= now {
                    (
                        Severity::Critical,
                        81,
                        format!(
                            "Certificate {who} expired on {} ({} days ago)",
                            m[1].trim(),
                            -days
                        ),
                    )
                } else if days < 14 {
                    (
                        Severity::Warning,
                        55,
                        format!(
                            "Certificate {who} expires on {} (in {days} days)",
                            m[1].trim()
                        ),
                    )
                } else if days < 30 {
                    (
                        Severity::Info,
                        20,
                        format!(
                            "Certificate {who} expires on {} (in {days} days)",
                            m[1].trim()
                        ),
                    )
                } else {
                    continue;
                };
                let mut evidence = vec![line.to_string()];
                if let Some(s) = &last_line_subject {
                    if subject.is_some() {
                        evidence.push(format!("subject={s}"));
                    }
                }
                out.push(
                    New {
                        kind: "certificate_expiry",
                        category: "tls",
                        severity: sev,
                        rank,
                        subject: who.clone(),
                        summary,
                        block: b,
                        evidence,
                        actions: vec![
                            "Renew the certificate (certbot renew / your CA), install it with its full chain, and reload the service that serves it".into(),
                            format!("Verify what is served afterwards: `openssl s_client -connect HOST:443 -servername NAME </dev/null | openssl x509 -noout -enddate`"),
                        ],
                    }
                    .build(),
                );
                if subject.is_none() {
                    last_line_subject = None;
                }
                continue;
            }
            if log.is_match(line) || will_expire.is_match(line) {
                log_lines.push(line.to_string());
            }
        }
        if !log_lines.is_empty() {
            let n = log_lines.len();
            out.push(
                New {
                    kind: "certificate_expiry",
                    category: "tls",
                    severity: Severity::Critical,
                    rank: 79,
                    subject: "tls errors".into(),
                    summary: format!("TLS connections fail on an expired (or not yet valid) certificate ({n} line{})", plural(n)),
                    block: b,
                    evidence: log_lines,
                    actions: vec![
                        "Find which certificate: `openssl x509 -noout -subject -enddate -in <cert file>` for the files the service's config names".into(),
                        "Renew it and reload the service; if the clock is wrong (certificate 'not yet valid'), fix time sync first".into(),
                    ],
                }
                .build(),
            );
        }
    }
}

/// Clock not synchronised, NTP unreachable, clock skew.
fn clock(c: &Corpus, out: &mut Vec<Finding>) {
    let unsynced = re!(
        r"(?:System clock synchronized|NTP synchronized):\s*no\b|Leap status\s*:\s*Not synchronised|^unsynchronised\b"
    );
    let impossible = re!(
        r"NTP service:\s*inactive|Network time on:\s*no|Can't synchronise: no (?:selectable sources|majority)|No suitable source for synchronisation|Timed out waiting for reply from \S+|no servers reachable|506 Cannot talk to daemon|No association ID's returned"
    );
    let wrong_by = re!(r"System clock wrong by (-?[\d.]+) seconds");
    let tracking = re!(r"System time\s*:\s*([\d.]+) seconds (?:fast|slow) of NTP time");
    let skew_msg = re!(r"(?i)clock skew too great|clock skew detected|Clock skew detected");
    let synced = re!(r"System clock synchronized:\s*yes|Leap status\s*:\s*Normal");
    for b in &c.blocks {
        let mut lines: Vec<String> = Vec::new();
        let mut is_unsynced = false;
        let mut cannot = false;
        let mut skew: f64 = 0.0;
        let mut skew_seen = false;
        let mut ok = false;
        for line in b.lines() {
            if synced.is_match(line) {
                ok = true;
            }
            if unsynced.is_match(line) {
                is_unsynced = true;
                lines.push(line.to_string());
            } else if impossible.is_match(line) {
                cannot = true;
                lines.push(line.to_string());
            } else if let Some(m) = wrong_by.captures(line).or_else(|| tracking.captures(line)) {
                let s: f64 = m[1].parse::<f64>().unwrap_or(0.0).abs();
                if s >= 1.0 {
                    skew = skew.max(s);
                    lines.push(line.to_string());
                }
            } else if skew_msg.is_match(line) {
                skew_seen = true;
                lines.push(line.to_string());
            }
        }
        if lines.is_empty() || (ok && !is_unsynced && skew < 1.0 && !skew_seen && !cannot) {
            continue;
        }
        if ok && !is_unsynced && skew < 1.0 && !skew_seen {
            // synchronised now; transient timeouts to one server are not a finding
            continue;
        }
        let crit = skew >= 60.0 || (is_unsynced && cannot);
        let mut summary = if is_unsynced {
            "The system clock is not synchronised (NTP)".to_string()
        } else if skew >= 1.0 || skew_seen {
            "The system clock is off (clock skew)".to_string()
        } else {
            "NTP cannot reach a time source".to_string()
        };
        if skew >= 1.0 {
            summary.push_str(&format!(": off by {skew:.1} s"));
        }
        if cannot && is_unsynced {
            summary.push_str("; no time source is reachable or the NTP service is inactive");
        }
        out.push(
            New {
                kind: "clock_unsynchronised",
                category: "time",
                severity: if crit { Severity::Critical } else { Severity::Warning },
                rank: 70,
                subject: "clock".into(),
                summary,
                block: b,
                evidence: lines,
                actions: vec![
                    "See the sync state: `timedatectl status`, `chronyc tracking`, `chronyc sources -v`".into(),
                    "Make sure an NTP client runs (chronyd or systemd-timesyncd) and can reach its servers on UDP 123".into(),
                    "Once a source is reachable, step the clock (`chronyc makestep`) and watch it stay in sync".into(),
                ],
            }
            .build(),
        );
    }
}

/// Segfaults, general protection faults and core dumps.
fn segfaults(c: &Corpus, out: &mut Vec<Finding>) {
    let segv = re!(r"(\S+?)\[(\d+)\]: segfault at [0-9a-fA-F]+ ip");
    let traps = re!(
        r"traps: (\S+?)\[(\d+)\] (?:general protection(?: fault)?|trap (?:divide error|invalid opcode|int3|stack segment))"
    );
    let dumped =
        re!(r"Process (\d+) \(([^)]+)\) of user \d+ (?:dumped core|terminated abnormally)");
    let unit_dumped = re!(&format!(
        r"({UNIT}): Main process exited, code=dumped, status=\d+/(SEGV|ABRT|BUS|ILL|FPE|SYS|TRAP)"
    ));
    for b in &c.blocks {
        let mut g = Groups::default();
        for line in b.lines() {
            let name = if let Some(m) = segv.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = traps.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = dumped.captures(line) {
                Some(m[2].to_string())
            } else {
                unit_dumped
                    .captures(line)
                    .map(|m| m[1].trim_end_matches(".service").to_string())
            };
            if let Some(n) = name {
                g.add(&n, line);
            }
        }
        for (name, lines) in g.iter() {
            // One crash can show up as a kernel segfault line and a coredump line: count pids.
            let mut pids: Vec<String> = Vec::new();
            for l in lines {
                let pid = segv
                    .captures(l)
                    .map(|m| m[2].to_string())
                    .or_else(|| traps.captures(l).map(|m| m[2].to_string()))
                    .or_else(|| dumped.captures(l).map(|m| m[1].to_string()));
                if let Some(p) = pid {
                    if !pids.contains(&p) {
                        pids.push(p);
                    }
                }
            }
            let n = pids.len().max(1);
            out.push(
                New {
                    kind: "segfault",
                    category: "service",
                    severity: Severity::Critical,
                    rank: 72,
                    subject: name.clone(),
                    summary: format!("{name} crashed (segmentation fault / core dump, {n} time{})", plural(n)),
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("List and inspect its core dumps: `coredumpctl list {name}`, `coredumpctl info {name}`"),
                        "Check what changed (package upgrade, new build, library versions) and roll back or report the crash with the backtrace".into(),
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
    for b in &c.blocks {
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

/// Load average far above the CPU count, with the busiest processes.
fn load(c: &Corpus, out: &mut Vec<Finding>) {
    let la = re!(r"load average:\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)");
    let loadavg = re!(r"^([\d.]+) ([\d.]+) ([\d.]+) \d+/\d+ \d+$");
    let lscpu = re!(r"^CPU\(s\):\s+(\d+)$");
    let cpuinfo = re!(r"^processor\s*:\s*\d+$");
    let mut cpus: Option<u32> = None;
    let mut top: Vec<(f64, String, &Block)> = Vec::new();
    for b in &c.blocks {
        let cmd = b.command.trim_start_matches("sudo -n ");
        let text = b.text.trim();
        if (cmd.starts_with("nproc") || cmd.starts_with("getconf")) && text.parse::<u32>().is_ok() {
            cpus = text.parse().ok();
        }
        let mut procs = 0u32;
        let mut header: Option<(usize, usize)> = None;
        for line in b.lines() {
            if let Some(m) = lscpu.captures(line) {
                cpus = m[1].parse().ok();
            }
            if cpuinfo.is_match(line) {
                procs += 1;
            }
            let toks: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = toks.iter().position(|t| *t == "%CPU") {
                header = Some((i, toks.len()));
                continue;
            }
            if let Some((i, n)) = header {
                if toks.len() >= n.min(i + 2) {
                    if let Some(v) = toks.get(i).and_then(|t| t.parse::<f64>().ok()) {
                        top.push((v, line.to_string(), b));
                    }
                }
            }
        }
        if procs > 0 && cpus.is_none() {
            cpus = Some(procs);
        }
    }
    for b in &c.blocks {
        for line in b.lines() {
            let m = la.captures(line).or_else(|| loadavg.captures(line));
            let Some(m) = m else { continue };
            let l1: f64 = m[1].parse().unwrap_or(0.0);
            let l5: f64 = m[2].parse().unwrap_or(0.0);
            let (warn, crit) = match cpus {
                Some(n) => (2.0 * n as f64, 4.0 * n as f64),
                None => (16.0, 64.0),
            };
            let level = l1.max(l5.min(l1 * 1.5));
            if level < warn {
                continue;
            }
            top.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
            let mut f = New {
                kind: "high_load",
                category: "performance",
                severity: if level >= crit { Severity::Critical } else { Severity::Warning },
                rank: 40,
                subject: "load".into(),
                summary: match cpus {
                    Some(n) => format!("Load average {l1:.2} on {n} CPU{} ({:.1}× the CPU count)", plural(n as usize), l1 / n as f64),
                    None => format!("Load average {l1:.2} (CPU count unknown)"),
                },
                block: b,
                evidence: vec![line.to_string()],
                actions: vec![
                    "See what runs and what waits: `top -b -n1 | head -30`, `vmstat 1 5` (high `wa` means I/O wait, `r` above the CPU count means CPU saturation)".into(),
                    "Look at the top processes below; throttle, reschedule or stop what should not be running now".into(),
                ],
            }
            .build();
            let mut seen_pids: Vec<&str> = Vec::new();
            let busiest = top.iter().filter(|(_, pl, _)| {
                let pid = pl.split_whitespace().next().unwrap_or("");
                let fresh = !seen_pids.contains(&pid);
                seen_pids.push(pid);
                fresh
            });
            for (_, pl, pb) in busiest.take(3) {
                if pb.call_id == b.call_id {
                    f.evidence.push(ev(pl));
                } else {
                    f.supporting.push(support(pb, pl));
                }
            }
            out.push(f);
            return;
        }
    }
}

/// `"s"` unless there is exactly one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
