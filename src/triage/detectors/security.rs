//! Security-layer detectors: AppArmor denials (`apparmor="DENIED"`; `ALLOWED` is complain mode
//! and not a denial), SELinux AVC denials (`avc:  denied { read } … permissive=0`; with
//! `permissive=1` nothing was blocked, so a warning only) and PAM account lockouts
//! (pam_faillock's `Consecutive login failures for user X account temporarily locked`,
//! pam_tally2/pam_tally's `user X (uid) tally N, deny M`), kept apart from internet noise: a
//! lockout names a real account, not a scanner guessing names.
use super::{plural, Corpus, Detector, Finding, Groups, New, Severity};

/// The `apparmor_denied` detector.
pub(super) const APPARMOR: Detector = Detector {
    journal: &[r#"apparmor="denied""#],
    sweep: &[],
    run: apparmor,
};

/// The `selinux_denied` detector.
pub(super) const SELINUX: Detector = Detector {
    journal: &[r"avc: +denied", r"selinux is preventing"],
    sweep: &[],
    run: selinux,
};

/// The `account_locked` detector.
pub(super) const FAILLOCK: Detector = Detector {
    journal: &[
        r"consecutive login failures for user",
        r"pam_tally2?\(",
        r"pam_faillock\(",
    ],
    sweep: &[],
    run: faillock,
};

fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next()
    } else {
        rest.split_whitespace().next()
    }
}

/// `apparmor="DENIED" operation="open" profile="/usr/sbin/mysqld" name="/data/mysql/" …`
fn apparmor(c: &Corpus, out: &mut Vec<Finding>) {
    let denied = re!(r#"apparmor="DENIED" operation="([^"]+)""#);
    for b in c.logs() {
        let mut g = Groups::default();
        let mut what: Vec<(String, String)> = Vec::new();
        for line in b.lines() {
            let Some(m) = denied.captures(line) else {
                continue;
            };
            let profile = field(line, "profile").unwrap_or("?").to_string();
            let target = field(line, "name")
                .map(str::to_string)
                .or_else(|| field(line, "capname").map(|c| format!("capability {c}")))
                .unwrap_or_else(|| m[1].to_string());
            let comm = field(line, "comm").unwrap_or("?");
            let mask = field(line, "denied_mask").unwrap_or("");
            let desc = format!(
                "{comm} {} {target}{}",
                &m[1],
                if mask.is_empty() {
                    String::new()
                } else {
                    format!(" ({mask})")
                }
            );
            if !what.iter().any(|(p, d)| *p == profile && *d == desc) {
                what.push((profile.clone(), desc));
            }
            g.add(&profile, line);
        }
        for (profile, lines) in g.iter() {
            let n = lines.len();
            let descs: Vec<&str> = what
                .iter()
                .filter(|(p, _)| p == profile)
                .take(3)
                .map(|(_, d)| d.as_str())
                .collect();
            out.push(
                New {
                    kind: "apparmor_denied",
                    category: "auth",
                    severity: Severity::Critical,
                    rank: 83,
                    subject: profile.clone(),
                    summary: format!(
                        "AppArmor profile {profile} denied access ({n} line{}): {}; the program gets \"Permission denied\" whatever the file modes say",
                        plural(n),
                        descs.join("; ")
                    ),
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("See every denial for the profile: `journalctl -k | grep 'apparmor=\"DENIED\"' | grep 'profile=\"{profile}\"'` (or `ausearch -m AVC`)"),
                        "If the access is legitimate (a moved data directory), allow it in the profile's local override (/etc/apparmor.d/local/…) and reload it with `apparmor_parser -r`; do not disable the profile".into(),
                        "If it is not legitimate, find out why the program reaches for that path".into(),
                    ],
                }
                .build(),
            );
        }
    }
}

/// `avc:  denied  { read } for  pid=… comm="httpd" name="…" scontext=… tcontext=… tclass=file permissive=0`
fn selinux(c: &Corpus, out: &mut Vec<Finding>) {
    let avc = re!(r"avc:\s+denied\s+\{\s*([^}]+?)\s*\}\s+for\s+(.*)$");
    let troubleshoot = re!(r"SELinux is preventing (\S+) from (\S+) access on the (\S+) (\S+?)\.");
    for b in c.logs() {
        // Per (comm, scontext type, tcontext type, class).
        let mut g = Groups::default();
        let mut enforcing: Vec<String> = Vec::new();
        let mut descs: Vec<(String, String)> = Vec::new();
        for line in b.lines() {
            if let Some(m) = avc.captures(line) {
                let rest = format!(" {}", &m[2]);
                let rest = rest.as_str();
                let comm = field(rest, "comm").unwrap_or("?").to_string();
                let ty = |k: &str| {
                    field(rest, k)
                        .and_then(|c| c.split(':').nth(2))
                        .unwrap_or("?")
                        .to_string()
                };
                let (s, t) = (ty("scontext"), ty("tcontext"));
                let class = field(rest, "tclass").unwrap_or("?").to_string();
                let target = field(rest, "name")
                    .or_else(|| field(rest, "dest"))
                    .or_else(|| field(rest, "path"))
                    .unwrap_or("")
                    .to_string();
                let key = format!("{comm} {s} -> {t}:{class}");
                let permissive = field(rest, "permissive") == Some("1");
                if !permissive && !enforcing.contains(&key) {
                    enforcing.push(key.clone());
                }
                let d = format!("{comm} ({s}) {{ {} }} on {class} {target} ({t})", &m[1]);
                if !descs.iter().any(|x| x.0 == key) {
                    descs.push((key.clone(), d));
                }
                g.add(&key, line);
            } else if let Some(m) = troubleshoot.captures(line) {
                let comm = m[1].rsplit('/').next().unwrap_or(&m[1]).to_string();
                // setroubleshoot's summary: attach to the denial of the same program.
                let key = g
                    .order
                    .iter()
                    .find(|k| k.starts_with(&format!("{comm} ")))
                    .cloned();
                if let Some(k) = key {
                    g.add(&k, line);
                }
            }
        }
        for (key, lines) in g.iter() {
            let n = lines.len();
            let enforced = enforcing.contains(key);
            let d = descs
                .iter()
                .find(|x| &x.0 == key)
                .map_or("", |x| x.1.as_str());
            out.push(
                New {
                    kind: "selinux_denied",
                    category: "auth",
                    severity: if enforced { Severity::Critical } else { Severity::Warning },
                    rank: if enforced { 83 } else { 40 },
                    subject: key.clone(),
                    summary: if enforced {
                        format!("SELinux denied {d} ({n} line{}): the access failed with \"Permission denied\"", plural(n))
                    } else {
                        format!("SELinux would deny {d} ({n} line{}), but the domain is permissive: nothing was blocked yet", plural(n))
                    },
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        "See the denials and why: `ausearch -m AVC -ts recent`, `sealert -a /var/log/audit/audit.log`".into(),
                        "A file with the wrong label (moved, not copied into place) needs `restorecon -Rv <path>`; a non-default path needs `semanage fcontext -a -t <type> '<path>(/.*)?'` then restorecon; a port needs `semanage port -a`; an optional behaviour a boolean (`getsebool -a | grep <domain>`)".into(),
                        "Do not `setenforce 0`: fix the label or policy; `audit2allow` only after the above do not apply".into(),
                    ],
                }
                .build(),
            );
        }
    }
}

/// PAM lockouts: pam_faillock and pam_tally2/pam_tally.
fn faillock(c: &Corpus, out: &mut Vec<Finding>) {
    let locked = re!(
        r"pam_faillock\((\S+?):\w+\): Consecutive login failures for user (\S+) account temporarily locked"
    );
    let tally = re!(r"pam_tally2?\((\S+?):\w+\): user (\S+) \((\d+)\) tally (\d+), deny (\d+)");
    let accepted = re!(r"Accepted \S+ for (\S+) from ");
    // Per user, across every log read (the call that shows the lock may not show the login
    // after it): service, lines with their blocks, and whether a later login succeeded.
    type User<'a> = (String, String, Vec<(&'a super::Block<'a>, &'a str)>, bool);
    let mut users: Vec<User> = Vec::new();
    for (b, line) in super::storage::all_logs_in_time_order(c) {
        let hit = if let Some(m) = locked.captures(line) {
            Some((m[2].to_string(), m[1].to_string()))
        } else if let Some(m) = tally.captures(line) {
            let (n, deny): (u32, u32) =
                (m[4].parse().unwrap_or(0), m[5].parse().unwrap_or(u32::MAX));
            (n >= deny).then(|| (m[2].to_string(), m[1].to_string()))
        } else if let Some(m) = accepted.captures(line) {
            if let Some(u) = users.iter_mut().find(|u| u.0 == m[1]) {
                u.3 = true;
                u.2.push((b, line));
            }
            None
        } else {
            None
        };
        let Some((user, service)) = hit else { continue };
        match users.iter_mut().find(|u| u.0 == user) {
            Some(u) => {
                u.2.push((b, line));
                u.3 = false;
            }
            None => users.push((user, service, vec![(b, line)], false)),
        }
    }
    for (user, service, lines, resolved) in users {
        let (severity, rank, summary) = if resolved {
            (
                    Severity::Info,
                    15,
                    format!("Account {user} was locked by PAM after failed logins ({service}) and has logged in since"),
                )
        } else {
            (
                    Severity::Critical,
                    82,
                    format!("Account {user} is locked by PAM after consecutive failed logins ({service}): even the right password is refused until the lock expires or is reset"),
                )
        };
        let (b, keep, supporting) = super::storage::split_evidence(&lines);
        let mut f = New {
                    kind: "account_locked",
                    category: "auth",
                    severity,
                    rank,
                    subject: user.clone(),
                    summary,
                    block: b,
                    evidence: keep,
                    actions: vec![
                        format!("See the failures and where they came from: `faillock --user {user}` (or `pam_tally2 --user {user}`), `journalctl -t sshd | grep {user}`"),
                        format!("If the failures are the user's own (a changed password, a script with an old one), fix that, then reset: `faillock --user {user} --reset`"),
                        "If they come from elsewhere, block the source (firewall, fail2ban) before resetting the lock".into(),
                    ],
                }
                .build();
        f.supporting = supporting;
        out.push(f);
    }
}
