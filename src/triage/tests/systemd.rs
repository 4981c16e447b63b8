//! Tests for the systemd detectors: dependency failures, start-limit hits, journal rate limits.
use super::*;

const REDIS_LIMIT: &str = "\
Nov 25 11:00:01 app01 systemd[1]: redis-server.service: Main process exited, code=exited, status=1/FAILURE
Nov 25 11:00:01 app01 systemd[1]: redis-server.service: Failed with result 'exit-code'.
Nov 25 11:00:01 app01 systemd[1]: redis-server.service: Scheduled restart job, restart counter is at 5.
Nov 25 11:00:01 app01 systemd[1]: redis-server.service: Start request repeated too quickly.
Nov 25 11:00:01 app01 systemd[1]: redis-server.service: Failed with result 'start-limit-hit'.
Nov 25 11:00:01 app01 systemd[1]: Failed to start redis-server.service - Advanced key-value store.
Nov 25 11:00:01 app01 systemd[1]: Dependency failed for queue-worker.service - Queue worker.
Nov 25 11:00:01 app01 systemd[1]: queue-worker.service: Job queue-worker.service/start failed with result 'dependency'.
";

#[test]
fn start_limit_and_the_dependency_it_took_down() {
    let f = run(&[journal(REDIS_LIMIT)]);
    let s = only(&f, "start_limit_hit");
    assert_eq!(s.subject, "redis-server.service");
    assert!(s.evidence[0].contains("Start request repeated too quickly"));
    assert!(
        s.evidence.iter().any(|e| e.contains("status=1/FAILURE")),
        "{:#?}",
        s.evidence
    );
    let d = only(&f, "dependency_failed");
    assert_eq!(d.subject, "queue-worker.service");
    assert!(
        d.summary.contains("failed first: redis-server.service"),
        "{}",
        d.summary
    );
    assert!(
        d.evidence[0].contains("Dependency failed for queue-worker.service"),
        "{:#?}",
        d.evidence
    );
    assert!(d
        .evidence
        .iter()
        .any(|e| e.contains("Failed to start redis-server.service")));
    // The start limit outranks the unit that merely depended on it.
    let pos = |k: &str| f.iter().position(|x| x.kind == k).unwrap();
    assert!(
        pos("start_limit_hit") < pos("dependency_failed"),
        "{:#?}",
        kinds(&f)
    );
}

#[test]
fn older_systemd_wording_and_systemctl_status() {
    // systemd 219-234 (CentOS 7): description only, and "for x.service".
    let log = "\
Nov 25 11:00:01 app01 systemd[1]: start request repeated too quickly for httpd.service
Nov 25 11:00:01 app01 systemd[1]: Failed to start The Apache HTTP Server.
Nov 25 11:00:01 app01 systemd[1]: Failed to mount /srv/data.
Nov 25 11:00:01 app01 systemd[1]: Dependency failed for Local File Systems.
";
    let f = run(&[journal(log)]);
    assert_eq!(only(&f, "start_limit_hit").subject, "httpd.service");
    let d = only(&f, "dependency_failed");
    assert_eq!(d.subject, "Local File Systems");
    assert!(d.summary.contains("/srv/data"), "{}", d.summary);

    let status = "\
× app.service - App
     Loaded: loaded (/etc/systemd/system/app.service; enabled; preset: enabled)
     Active: failed (Result: start-limit-hit) since Wed 2026-11-25 11:00:01 UTC; 2min ago
";
    let s = only(
        &run(&[outcome(
            "T3",
            "service_status",
            "systemctl status app --no-pager",
            status,
        )]),
        "start_limit_hit",
    );
    assert_eq!(s.subject, "app.service");
}

#[test]
fn systemd_look_alikes() {
    let log = "\
Nov 25 11:00:01 app01 systemd[1]: Starting queue-worker.service - Queue worker...
Nov 25 11:00:02 app01 systemd[1]: Started queue-worker.service - Queue worker.
Nov 25 11:00:03 app01 systemd[1]: app.service: Scheduled restart job, restart counter is at 1.
Nov 25 11:00:04 app01 app[900]: config: StartLimitBurst=5 StartLimitIntervalSec=10s (start-limit-hit after 5 failures)
Nov 25 11:00:05 app01 systemd-journald[312]: Journal started
Nov 25 11:00:05 app01 kernel: printk: 12 messages suppressed.
";
    let f = run(&[journal(log)]);
    for k in [
        "start_limit_hit",
        "dependency_failed",
        "journal_rate_limited",
    ] {
        assert!(!kinds(&f).contains(&k), "{k}: {f:#?}");
    }
    // A unit that is active now shows no start-limit result.
    let status = "● app.service - App\n     Active: active (running) since Wed 2026-11-25 11:00:01 UTC; 2min ago\n";
    none(&run(&[outcome(
        "T3",
        "service_status",
        "systemctl status app --no-pager",
        status,
    )]));
}

#[test]
fn journald_and_rsyslog_rate_limits_are_warnings() {
    let log = "\
Nov 25 11:00:01 app01 systemd-journald[312]: Suppressed 18211 messages from nginx.service
Nov 25 11:00:31 app01 systemd-journald[312]: Suppressed 920 messages from nginx.service
Nov 25 11:00:31 app01 systemd-journald[312]: Suppressed 4410 messages from /system.slice/api.service
Nov 25 11:00:32 app01 rsyslogd[700]: imjournal: 2345 messages lost due to rate-limiting (20000 allowed within 600 seconds)
";
    let f = run(&[journal(log)]);
    let n = f.iter().find(|x| x.subject == "nginx.service").unwrap();
    assert_eq!(n.kind, "journal_rate_limited");
    assert_eq!(n.severity, Severity::Warning);
    assert!(n.summary.contains("19131 messages"), "{}", n.summary);
    assert!(f.iter().any(|x| x.subject == "api.service"));
    assert!(f.iter().any(|x| x.subject == "rsyslog"));
    assert!(f.iter().all(|x| x.severity == Severity::Warning));
}
