//! Tests for time and recovery: `when`, the current boot and the incident window, old entries
//! ranked below current ones, and current state that contradicts an old error.
use super::*;

const DF_OK: &str = "\
Filesystem     Type  Size  Used Avail Use% Mounted on
/dev/vda1      ext4   40G   16G   22G  41% /
/dev/vdb1      ext4  100G   41G   55G  41% /var
";

fn df(text: &str) -> ToolOutcome {
    outcome("T3", "disk_usage", "df -hT", text)
}

#[test]
fn an_old_no_space_with_room_now_is_history() {
    let log = "\
Oct 26 03:10:00 web01 rsyslogd[700]: file '/var/log/syslog': write error: No space left on device
Oct 26 03:10:01 web01 postgres[900]: FATAL:  could not write to file \"/var/lib/postgresql/15/main/pg_wal/xlogtemp.900\": No space left on device
Nov 25 11:00:00 web01 systemd[1]: Started session-42.scope - Session 42 of User alice.
";
    let outcomes = [journal(log), df(DF_OK)];
    let f = run(&outcomes);
    let n = only(&f, "no_space");
    assert_eq!(n.severity, Severity::Info);
    assert!(!n.current);
    assert_eq!(
        n.when,
        Some(time::epoch_secs(now()) - 30 * 86_400 - (8 * 3600 + 49 * 60 + 59))
    );
    assert!(n.summary.contains("30 days ago"), "{}", n.summary);
    assert!(
        n.summary.contains("recovered: /var is at 41% now (df)"),
        "{}",
        n.summary
    );
    let r = report("web01", "disk is filling up", "disk", &outcomes, &f);
    assert!(
        r.root_cause.starts_with("No fault found"),
        "{}",
        r.root_cause
    );
    assert!(r.root_cause.contains("recovered"), "{}", r.root_cause);
    assert_eq!(r.findings[0].when.as_deref(), Some("2026-10-26T03:10:01Z"));
    assert!(!r.findings[0].current);
}

#[test]
fn an_old_error_without_contradicting_state_drops_one_step() {
    // Nothing says the disk has room now (no df): an old error is a warning, not a root cause.
    let log = "Oct 26 03:10:00 web01 app[1]: write /data/x: No space left on device\n";
    let n = only(&run(&[journal(log)]), "no_space");
    assert_eq!(n.severity, Severity::Warning);
    assert!(!n.current);
    assert!(n.summary.ends_with("(30 days ago)"), "{}", n.summary);
}

#[test]
fn a_current_error_with_a_full_disk_is_the_root_cause() {
    let log = "Nov 25 11:59:00 db01 postgres[900]: FATAL:  could not write to file \"/data/pg/xlogtemp.900\": No space left on device\n";
    let f = run(&[journal(log), df(DF_FULL)]);
    assert_eq!(f[0].kind, "filesystem_full");
    let n = only(&f, "no_space");
    assert_eq!(n.severity, Severity::Critical);
    assert!(n.current);
    assert_eq!(n.when, Some(time::epoch_secs(now()) - 60));
    assert_eq!(n.caused_by.as_ref().unwrap().kind, "filesystem_full");
    // The df finding is the state now: no time.
    assert_eq!(f[0].when, None);
    assert!(f[0].current);
}

#[test]
fn earlier_boots_are_history() {
    // journalctl across boots prints a separator; the OOM kill is before the last one.
    let log = "\
-- Boot 1f0e9c7a4b2d4e6f8a0b1c2d3e4f5a6b --
Nov 25 09:00:00 app01 kernel: Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0
-- Boot 2a1f0d8b5c3e4f708192a3b4c5d6e7f8 --
Nov 25 09:30:00 app01 kernel: Linux version 6.1.0-27-amd64
";
    let o = only(&run(&[journal(log)]), "oom_kill");
    assert_eq!(o.severity, Severity::Info);
    assert!(!o.current);
    assert!(o.summary.contains("earlier boot"), "{}", o.summary);
    assert!(o.summary.contains("rebooted since"), "{}", o.summary);

    // The same line after the last separator is current.
    let log = "\
-- Boot 2a1f0d8b5c3e4f708192a3b4c5d6e7f8 --
Nov 25 11:00:00 app01 kernel: Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0
";
    let o = only(&run(&[journal(log)]), "oom_kill");
    assert_eq!(o.severity, Severity::Critical);
    assert!(o.current);

    // A boot time from uptime: a syslog line from before it is an earlier boot.
    let up = outcome(
        "T2",
        "run_command",
        "uptime",
        " 12:00:00 up  2:00,  1 user,  load average: 0.00, 0.00, 0.00\n",
    );
    let log = "Nov 25 08:00:00 app01 kernel: Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0\n";
    let o = only(&run(&[journal(log), up.clone()]), "oom_kill");
    assert_eq!(o.severity, Severity::Info, "{o:#?}");
    // dmesg's seconds since boot become a time with it.
    let dmesg = "[ 3600.123456] Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0\n";
    let o = only(
        &run(&[outcome("T1", "kernel_log", "dmesg", dmesg), up]),
        "oom_kill",
    );
    assert_eq!(o.when, Some(time::epoch_secs(now()) - 3600));
    assert!(o.current);
}

#[test]
fn a_failed_unit_that_is_active_now_is_history() {
    let log = "Nov 25 11:00:00 web01 systemd[1]: nginx.service: Failed with result 'exit-code'.\n";
    let status = "\
● nginx.service - A high performance web server and a reverse proxy server
     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)
     Active: active (running) since Wed 2026-11-25 11:05:00 UTC; 55min ago
";
    let f = run(&[
        journal(log),
        outcome("T2", "service_status", "systemctl status nginx", status),
    ]);
    let u = only(&f, "unit_failed");
    assert_eq!(u.severity, Severity::Info);
    assert!(
        u.summary.contains("nginx.service is active (running) now"),
        "{}",
        u.summary
    );
    // Without the status it stays a current failure.
    let u = only(&run(&[journal(log)]), "unit_failed");
    assert_eq!(u.severity, Severity::Critical);
    assert!(u.current);
}

#[test]
fn history_ranks_below_current_findings() {
    let log = "\
Oct 20 03:10:00 web01 kernel: Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0
Nov 25 11:00:00 web01 nginx[2231]: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
";
    let f = run(&[journal(log)]);
    assert_eq!(kinds(&f), vec!["port_conflict", "oom_kill"]);
    assert_eq!(f[1].severity, Severity::Warning);
    assert!(f[1].summary.contains("36 days ago"), "{}", f[1].summary);
}

#[test]
fn boot_ids_in_json_and_verbose_output() {
    let old = "{\"__REALTIME_TIMESTAMP\":\"1795597200000000\",\"_BOOT_ID\":\"1f0e9c7a4b2d4e6f8a0b1c2d3e4f5a6b\",\"MESSAGE\":\"Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0\"}";
    let new = "{\"__REALTIME_TIMESTAMP\":\"1795604400000000\",\"_BOOT_ID\":\"2a1f0d8b5c3e4f708192a3b4c5d6e7f8\",\"MESSAGE\":\"Linux version 6.1.0-27-amd64\"}";
    let o = only(&run(&[journal(&format!("{old}\n{new}\n"))]), "oom_kill");
    assert!(o.summary.contains("earlier boot"), "{o:#?}");
    assert_eq!(o.severity, Severity::Info);
    // The same entry in the current boot.
    let o = only(&run(&[journal(&format!("{new}\n{old}\n"))]), "oom_kill");
    assert_eq!(o.severity, Severity::Critical);

    let verbose = "\
Wed 2026-11-25 09:00:00.000000 UTC [s=1;i=2;b=1f0e9c7a4b2d4e6f8a0b1c2d3e4f5a6b;m=1;t=1;x=1]
    _BOOT_ID=1f0e9c7a4b2d4e6f8a0b1c2d3e4f5a6b
    MESSAGE=Out of memory: Killed process 811 (java) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0
Wed 2026-11-25 11:00:00.000000 UTC [s=1;i=3;b=2a1f0d8b5c3e4f708192a3b4c5d6e7f8;m=1;t=1;x=1]
    _BOOT_ID=2a1f0d8b5c3e4f708192a3b4c5d6e7f8
    MESSAGE=Linux version 6.1.0-27-amd64
";
    let o = only(&run(&[journal(verbose)]), "oom_kill");
    assert!(o.summary.contains("earlier boot"), "{}", o.summary);
}
