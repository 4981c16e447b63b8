//! Tests for the tls detectors: certificate expiry.
use super::*;

#[test]
fn expired_and_expiring_certificates_from_openssl() {
    let expired = "subject=CN = shop.example.com\nnotBefore=Aug 20 00:00:00 2025 GMT\nnotAfter=Nov 18 23:59:59 2025 GMT\n";
    let f = run(&[outcome_args(
        "T5",
        "cert_info",
        json!({"path": "/etc/ssl/certs/shop.example.com.pem"}),
        "openssl x509 -noout -subject -dates -in /etc/ssl/certs/shop.example.com.pem",
        expired,
    )]);
    let c = only(&f, "certificate_expiry");
    assert_eq!(c.severity, Severity::Critical);
    assert!(
        c.summary.contains("/etc/ssl/certs/shop.example.com.pem"),
        "{}",
        c.summary
    );
    assert!(c.summary.contains("expired"), "{}", c.summary);
    assert!(c.evidence[0].starts_with("notAfter=Nov 18 23:59:59 2025 GMT"));

    // now() is 2026-11-25: 10 days left is a warning, 20 days is info, a year is nothing.
    let soon = "notAfter=Dec  5 12:00:00 2026 GMT\n";
    let f = run(&[outcome(
        "T6",
        "cert_info",
        "openssl x509 -noout -enddate -in a.pem",
        soon,
    )]);
    assert_eq!(only(&f, "certificate_expiry").severity, Severity::Warning);
    let later = "            Not After : Dec 15 12:00:00 2026 GMT\n";
    let f = run(&[outcome(
        "T7",
        "cert_info",
        "openssl x509 -noout -text -in b.pem",
        later,
    )]);
    assert_eq!(only(&f, "certificate_expiry").severity, Severity::Info);
    none(&run(&[outcome(
        "T8",
        "cert_info",
        "openssl x509 -noout -enddate",
        "notAfter=Dec 31 23:59:59 2099 GMT\n",
    )]));
}

#[test]
fn expiry_errors_in_logs() {
    let log = "\
Nov 25 10:00:00 app01 curl[900]: curl: (60) SSL certificate problem: certificate has expired
Nov 25 10:00:01 app01 api[901]: Get \"https://payments.example.com/v1\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-25T10:00:01Z is after 2025-11-18T23:59:59Z
Nov 25 10:00:02 web01 nginx[902]: 2026/11/25 10:00:02 [error] 902#902: *7 upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream
";
    let f = run(&[journal(log)]);
    let c = only(&f, "certificate_expiry");
    assert_eq!(c.evidence.len(), 3);
    none(&run(&[journal("Nov 25 10:00:00 web01 certbot[1]: Certificate not yet due for renewal\nCertificate will not expire\n")]));
}
