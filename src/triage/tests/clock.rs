//! Tests for the clock detectors: unsynchronised clocks and NTP.
use super::*;

#[test]
fn timedatectl_and_chrony_unsynchronised() {
    let td = "\
               Local time: Wed 2026-11-25 12:00:00 UTC
           Universal time: Wed 2026-11-25 12:00:00 UTC
                 RTC time: Wed 2026-11-25 11:12:13
                Time zone: Etc/UTC (UTC, +0000)
System clock synchronized: no
              NTP service: inactive
          RTC in local TZ: no
";
    let f = run(&[outcome("T1", "time_sync", "timedatectl status", td)]);
    let t = only(&f, "clock_unsynchronised");
    assert_eq!(t.category, "time");
    assert_eq!(t.severity, Severity::Critical);
    assert!(t
        .evidence
        .iter()
        .any(|e| e.contains("System clock synchronized: no")));

    let tracking = "\
Reference ID    : 00000000 ()
Stratum         : 0
System time     : 0.000000000 seconds fast of NTP time
Leap status     : Not synchronised
";
    let f = run(&[outcome("T2", "time_sync", "chronyc tracking", tracking)]);
    assert_eq!(only(&f, "clock_unsynchronised").severity, Severity::Warning);

    let log = "\
Nov 25 11:00:00 app01 chronyd[500]: Can't synchronise: no selectable sources
Nov 25 11:00:05 app01 chronyd[500]: System clock wrong by 3602.512345 seconds
Nov 25 11:00:09 app01 systemd-timesyncd[410]: Timed out waiting for reply from 192.0.2.123:123 (0.debian.pool.ntp.org).
";
    let f = run(&[journal(log)]);
    let t = only(&f, "clock_unsynchronised");
    assert_eq!(t.severity, Severity::Critical);
    assert!(t.summary.contains("3602.5 s"), "{}", t.summary);
}

#[test]
fn synchronised_clock_does_not_fire() {
    let td = "System clock synchronized: yes\n              NTP service: active\n";
    let tracking =
        "Leap status     : Normal\nSystem time     : 0.000012345 seconds slow of NTP time\n";
    let log = "\
Nov 25 11:00:00 app01 systemd-timesyncd[410]: Initial clock synchronization to Wed 2026-11-25 11:00:00.123456 UTC.
Nov 25 11:00:00 app01 systemd-timesyncd[410]: Contacted time server 192.0.2.123:123 (0.debian.pool.ntp.org).
Nov 25 11:00:00 app01 chronyd[500]: Selected source 192.0.2.10 (2.debian.pool.ntp.org)
Nov 25 11:00:01 app01 chronyd[500]: System clock wrong by 0.000812 seconds
";
    none(&run(&[
        outcome("T1", "time_sync", "timedatectl status", td),
        outcome("T2", "time_sync", "chronyc tracking", tracking),
        journal(log),
    ]));
}

#[test]
fn kerberos_skew_is_its_own_finding_caused_by_the_clock() {
    let log = "\
Nov 25 11:00:00 app01 sssd_be[811]: Failed to initialize credentials using keytab [MEMORY:/etc/krb5.keytab]: Clock skew too great. Unable to create GSSAPI-encrypted LDAP connection.
Nov 25 11:00:05 app01 kinit[900]: kinit: Clock skew too great while getting initial credentials
";
    let f = run(&[journal(log)]);
    let k = only(&f, "kerberos_clock_skew");
    assert_eq!(k.severity, Severity::Critical);
    assert_eq!(k.evidence.len(), 2);
    let td = "System clock synchronized: no\n              NTP service: inactive\n";
    let f = run(&[
        journal(log),
        outcome("T2", "time_sync", "timedatectl status", td),
    ]);
    assert_eq!(
        kinds(&f),
        vec!["clock_unsynchronised", "kerberos_clock_skew"]
    );
    assert_eq!(
        f[1].caused_by.as_ref().unwrap().kind,
        "clock_unsynchronised"
    );
    // A skew line in a config file is not a Kerberos failure.
    none(&run(&[outcome(
        "T3",
        "read_file",
        "cat /etc/krb5.conf",
        "# clockskew: fail with Clock skew too great beyond 300 s\n clockskew = 300\n",
    )]));
}
