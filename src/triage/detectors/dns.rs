//! DNS detector: resolution failures in application logs and resolvers that do not answer.
use regex::Regex;

use super::{ev, from, plural, support, Block, Corpus, Detector, Finding, Groups, New, Severity};

/// Resolver clients whose output reports failed lookups.
const RESOLVERS: &[&str] = &[
    "dig",
    "host",
    "nslookup",
    "getent",
    "resolvectl",
    "drill",
    "delv",
];

/// The `dns` detector: the journal lines it recognises and the function that reads them.
pub(super) const DNS: Detector = Detector {
    journal: &[
        r"name resolution",
        r"temporary failure resolving",
        r"could not resolve",
        r"eai_again",
        r"no servers could be reached",
        r"communications error to",
        r"server misbehaving",
        r"lookup [^ ]+ on [^ ]+:53: ",
        r"could not contact dns servers",
        r"transient resolution failure",
        r"name or service not known",
        r"could not translate host name",
        r"no such host",
        r"host not found in upstream",
        r"enotfound",
        r"degraded feature set",
    ],
    sweep: &[],
    run: dns,
};

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
        let is_resolv = !b.is_log()
            && (b.path_arg().is_some_and(|p| p.ends_with("resolv.conf"))
                || b.command.contains("resolv.conf"));
        if !is_resolv {
            continue;
        }
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

    for b in c.blocks.iter().filter(|b| b.is_log() || from(b, RESOLVERS)) {
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
