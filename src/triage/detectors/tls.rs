//! TLS detector: expired and soon-expiring certificates in OpenSSL output and logs.
use super::{from, plural, Corpus, Detector, Finding, New, Severity};
use crate::triage::time::{epoch_secs, parse_openssl_date};

/// The `certificates` detector: the journal lines it recognises and the function that reads them.
pub(super) const CERTIFICATES: Detector = Detector {
    journal: &[
        r"certificate has expired",
        r"not yet valid",
        r"cert_has_expired",
        r"alert certificate expired",
        r"certificate expired on",
    ],
    sweep: &[],
    run: certificates,
};

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
    // Dates in openssl's output; TLS errors in the logs and in openssl's own verify output.
    for b in c
        .blocks
        .iter()
        .filter(|b| b.is_log() || from(b, &["openssl"]))
    {
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
            if let Some(m) = not_after.captures(line).filter(|_| !b.is_log()) {
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
