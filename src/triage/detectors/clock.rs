//! Time detector: clock not synchronised, NTP unreachable, clock skew.
use super::{from, Corpus, Detector, Finding, New, Severity};

/// Programs whose output states the clock's sync state.
const CLOCK_PROGRAMS: &[&str] = &[
    "timedatectl",
    "chronyc",
    "ntpq",
    "ntpstat",
    "ntpdate",
    "ntpdc",
];

/// The `clock` detector: the journal lines it recognises and the function that reads them.
pub(super) const CLOCK: Detector = Detector {
    journal: &[
        r"clock skew",
        r"krb5krb_ap_err_skew",
        r"can't synchronise",
        r"system clock wrong",
        r"timed out waiting for reply",
        r"no suitable source for synchronisation",
        r"no servers reachable",
    ],
    sweep: &[],
    run: clock,
};

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
    let skew_msg = re!(r"(?i)clock skew too great|clock skew detected|KRB5KRB_AP_ERR_SKEW");
    // Kerberos (MIT krb5, Heimdal, sssd, Samba) refusing tickets: KRB5KRB_AP_ERR_SKEW.
    let kerberos = re!(r"(?i)clock skew too great|KRB5KRB_AP_ERR_SKEW|krb5_get_init_creds.*skew");
    let synced = re!(r"System clock synchronized:\s*yes|Leap status\s*:\s*Normal");
    for b in c
        .blocks
        .iter()
        .filter(|b| b.is_log() || from(b, CLOCK_PROGRAMS))
    {
        let mut lines: Vec<String> = Vec::new();
        let mut is_unsynced = false;
        let mut cannot = false;
        let mut skew: f64 = 0.0;
        let mut skew_seen = false;
        let mut ok = false;
        let mut krb: Vec<String> = Vec::new();
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
                if b.is_log() && kerberos.is_match(line) {
                    krb.push(line.to_string());
                } else {
                    skew_seen = true;
                    lines.push(line.to_string());
                }
            }
        }
        if !krb.is_empty() {
            out.push(
                New {
                    kind: "kerberos_clock_skew",
                    category: "auth",
                    severity: Severity::Critical,
                    rank: 60,
                    subject: "kerberos".into(),
                    summary: format!(
                        "Kerberos authentication fails: \"Clock skew too great\" ({} line{})",
                        krb.len(),
                        super::plural(krb.len())
                    ),
                    block: b,
                    evidence: krb,
                    actions: vec![
                        "Compare this host's clock with the KDC's (`timedatectl`, `chronyc tracking`): Kerberos allows 5 minutes of skew".into(),
                        "Fix time sync first, then retry the login or `kinit`; restart sssd if it cached the failure".into(),
                    ],
                }
                .build(),
            );
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
