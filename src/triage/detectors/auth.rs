//! Authentication detectors: sshd refusing keys for bad modes, failed logins counted by source.
use std::collections::BTreeMap;

use super::{from, plural, Corpus, Detector, Finding, Groups, New, Severity, MAX_EVIDENCE};

/// The `auth_modes` detector: the journal lines it recognises and the function that reads them.
pub(super) const AUTH_MODES: Detector = Detector {
    journal: &[r"authentication refused"],
    sweep: &[],
    run: auth_modes,
};

/// The `auth_failures` detector: the journal lines it recognises and the function that reads them.
pub(super) const AUTH_FAILURES: Detector = Detector {
    journal: &[
        r"failed (password|publickey|keyboard-interactive|none) for",
        r"invalid user",
        r"authentication failure",
        r"by authenticating user",
        r"maximum authentication attempts",
        r"more authentication failures",
        r"permission denied \(publickey",
    ],
    sweep: &[],
    run: auth_failures,
};

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
    // sshd's refusal in the logs; modes in `ls -l`/`stat` output (the list_dir tool runs ls).
    for b in c
        .blocks
        .iter()
        .filter(|b| b.is_log() || from(b, &["ls", "stat"]))
    {
        let mut g = Groups::default();
        let mut stat_path: Option<String> = None;
        for line in b.lines() {
            if b.is_log() {
                if let Some(m) = refused.captures(line) {
                    g.add(&m[1], line);
                }
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
    for b in c.logs() {
        let mut lines: Vec<String> = Vec::new();
        let mut sources: BTreeMap<String, usize> = BTreeMap::new();
        let mut count = 0usize;
        // Failures against real accounts (not `invalid user`, not a preauth probe): someone
        // guessing a real password, or a real user's key refused. Internet scanners probing
        // invented names are ordinary noise on any host that faces the internet.
        let mut targeted = 0usize;
        for line in b.lines() {
            if (failed.is_match(line) && !line.contains("for invalid user"))
                || (pam.is_match(line) && line.contains(" user="))
            {
                targeted += 1;
            }
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
                severity: if targeted >= 20 { Severity::Warning } else { Severity::Info },
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
