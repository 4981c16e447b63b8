//! Package manager detectors: an interrupted dpkg (`dpkg was interrupted, you must manually run
//! 'dpkg --configure -a'`), dpkg/apt locks held (`Could not get lock /var/lib/dpkg/lock-frontend.
//! It is held by process 1234 (unattended-upgr)`), packages left half-configured or half-installed
//! (`dpkg --audit`, `dpkg -l` status `iF`/`iU`/`iH`), and the rpm/yum/dnf equivalents (`can't
//! create transaction lock on /var/lib/rpm/.rpm.lock`, `Existing lock /var/run/yum.pid`, a
//! Berkeley DB rpmdb that needs a rebuild).
use super::{plural, support, Corpus, Detector, Finding, New, Severity};

/// The `package_manager_broken` detector.
pub(super) const PACKAGES: Detector = Detector {
    journal: &[
        r"dpkg was interrupted",
        r"could not get lock /var/lib/(dpkg|apt)",
        r"unable to acquire the dpkg frontend lock",
        r"dpkg: error processing",
        r"existing lock /var/run/yum\.pid",
        r"can't create transaction lock",
        r"rpmdb: .*(bdb\d+|thread died|panic)",
    ],
    sweep: &[("run_command", r#"{"command":"dpkg --audit"}"#)],
    run: packages,
};

fn packages(c: &Corpus, out: &mut Vec<Finding>) {
    let interrupted =
        re!(r"dpkg was interrupted, you must manually run '(?:sudo )?dpkg --configure -a'");
    let lock = re!(
        r"Could not get lock (/var/lib/(?:dpkg|apt)/\S+?)\.?(?: It is held by process (\d+) \(([^)]+)\)| - open)|Unable to acquire the dpkg frontend lock \((\S+)\)"
    );
    let error = re!(r"dpkg: error processing (?:package|archive) (\S+) \(--(\w+)\)");
    let rpm_lock = re!(
        r"can't create transaction lock on (\S+)|Existing lock (/var/run/yum\.pid): another copy is running as pid (\d+)"
    );
    let rpmdb = re!(
        r"rpmdb: (?:BDB\d+ )?.*(?:Thread died in Berkeley DB library|DB_RUNRECOVERY|PANIC)|error: cannot open Packages (?:index|database) in /var/lib/rpm"
    );

    // dpkg --audit and dpkg -l.
    let audit_head = re!(
        r"^The following packages (are only half configured|are only half installed|have been unpacked but not yet configured|are awaiting processing of triggers|are in a mess)"
    );
    let audit_pkg = re!(r"^ (\S+)\s+\S");
    let listed = re!(r"^([iuprh])([FUHWt])([R ]?)\s+(\S+)\s+(\S+)");
    // `dpkg -s PKG` (and the status file's own stanzas).
    let package = re!(r"^Package: (\S+)$");
    let status =
        re!(r"^Status: \S+ \S+ (half-configured|half-installed|unpacked|triggers-awaited)$");
    let mut half: Vec<(String, &super::Block, String)> = Vec::new();
    for b in c.by_program("dpkg").chain(c.by_program("dpkg-query")) {
        let mut in_audit = false;
        let mut name = String::new();
        for line in b.lines() {
            if let Some(m) = package.captures(line) {
                name = m[1].to_string();
                continue;
            }
            if status.is_match(line) {
                half.push((name.clone(), b, line.to_string()));
                continue;
            }
            if audit_head.is_match(line) {
                in_audit = true;
                half.push((String::new(), b, line.to_string()));
                continue;
            }
            if in_audit {
                if let Some(m) = audit_pkg.captures(line) {
                    half.push((m[1].to_string(), b, line.to_string()));
                    continue;
                }
                if !line.starts_with(' ')
                    && !line.contains("dpkg --configure")
                    && !line.starts_with("configuring")
                {
                    in_audit = false;
                }
            }
            if let Some(m) = listed.captures(line) {
                half.push((m[4].to_string(), b, line.to_string()));
            }
        }
    }

    let mut emitted = false;
    for b in c.logs() {
        let mut lines = Vec::new();
        let mut holders: Vec<String> = Vec::new();
        let mut pkgs: Vec<String> = Vec::new();
        let mut interrupted_seen = false;
        let mut rpm = false;
        for line in b.lines() {
            if interrupted.is_match(line) {
                interrupted_seen = true;
            } else if let Some(m) = lock.captures(line) {
                if let (Some(pid), Some(p)) = (m.get(2), m.get(3)) {
                    let h = format!("{} (pid {})", p.as_str(), pid.as_str());
                    if !holders.contains(&h) {
                        holders.push(h);
                    }
                }
            } else if let Some(m) = error.captures(line) {
                if !pkgs.contains(&m[1].to_string()) {
                    pkgs.push(m[1].to_string());
                }
            } else if let Some(m) = rpm_lock.captures(line) {
                rpm = true;
                if let Some(pid) = m.get(3) {
                    let h = format!("yum (pid {})", pid.as_str());
                    if !holders.contains(&h) {
                        holders.push(h);
                    }
                }
            } else if rpmdb.is_match(line) {
                rpm = true;
            } else {
                continue;
            }
            lines.push(line.to_string());
        }
        if lines.is_empty() {
            continue;
        }
        lines.sort_by_key(|l| !interrupted.is_match(l));
        let mut parts = Vec::new();
        if interrupted_seen {
            parts.push("dpkg was interrupted and its database is half-updated".to_string());
        }
        if !pkgs.is_empty() {
            parts.push(format!(
                "package{} failed to install or configure: {}",
                plural(pkgs.len()),
                pkgs.join(", ")
            ));
        }
        let locked = !holders.is_empty()
            || lines
                .iter()
                .any(|l| lock.is_match(l) || rpm_lock.is_match(l));
        if locked {
            parts.push(if holders.is_empty() {
                "the package database lock is held by another process".to_string()
            } else {
                format!("the package lock is held by {}", holders.join(", "))
            });
        }
        if rpm && parts.is_empty() {
            parts.push("the rpm database is damaged or locked".to_string());
        }
        let broken = interrupted_seen || !pkgs.is_empty() || !half.is_empty() || rpm;
        let mut f = finding(
            format!("The package manager cannot run: {}", parts.join("; ")),
            if broken {
                Severity::Critical
            } else {
                Severity::Warning
            },
            b,
            lines,
            !holders.is_empty(),
        );
        for (_, hb, hl) in half.iter().take(4) {
            f.supporting.push(support(hb, hl));
        }
        out.push(f);
        emitted = true;
    }
    if !emitted && !half.is_empty() {
        let names: Vec<&str> = half
            .iter()
            .map(|h| h.0.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        let b = half[0].1;
        out.push(finding(
            format!(
                "dpkg left package{} half-installed or half-configured: {}",
                plural(names.len()),
                if names.is_empty() {
                    "see dpkg --audit".to_string()
                } else {
                    names.join(", ")
                }
            ),
            Severity::Critical,
            b,
            half.iter().map(|h| h.2.clone()).collect(),
            false,
        ));
    }
}

fn finding<'a>(
    summary: String,
    severity: Severity,
    b: &'a super::Block<'a>,
    evidence: Vec<String>,
    held: bool,
) -> Finding {
    let mut actions = Vec::new();
    if held {
        actions.push("See whether the lock holder is still working (`ps -o pid,etime,args -p <pid>`; unattended-upgrades can take minutes): wait for it rather than killing it or deleting lock files".into());
    }
    actions.extend([
        "Finish the interrupted work: `dpkg --configure -a`, then `apt-get -f install` (rpm: `yum-complete-transaction` / `dnf history`; a damaged rpmdb: `rpm --rebuilddb`)".to_string(),
        "Read why it stopped: /var/log/apt/term.log, /var/log/dpkg.log (the package's maintainer script output), or `dpkg --audit`".into(),
    ]);
    New {
        kind: "package_manager_broken",
        category: "general",
        severity,
        rank: 79,
        subject: "packages".into(),
        summary,
        block: b,
        evidence,
        actions,
    }
    .build()
}
